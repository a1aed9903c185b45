"""nbval runs each source notebook paired with its learner's copy, in one kernel: the
plugin ``tests/nbpairing.py`` says how, and a check that says the wrong thing fails a
cell (``pytest --nbval-lax --nbval-current-env notebooks/``)."""

from tests.nbpairing import pytest_collect_file  # noqa: F401
