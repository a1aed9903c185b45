"""nbval on the source notebooks: every lesson check must say "right" (a cell whose
check says anything else fails), and progress goes to a scratch file, not the
learner's. tests/integration/test_learner_notebooks.py runs the learner's copies with
"not attempted" instead."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from vlesson import envvars

os.environ.setdefault(envvars.EXPECT_CHECKS, "right")
os.environ.setdefault(
    envvars.PROGRESS, str(Path(tempfile.mkdtemp(prefix="vlesson-nbval-")) / "p.json")
)
