"""The lesson's checks: ``vl.check.NAME(answer, ...)`` returns a ``Verdict``.

One module per notebook (04's bash script: shell_scripts); each check is declared with
``@checkpoint("ID")`` (see ``vlesson.exercises.grading``) and named after what the
learner wrote.
``vl.check.verdicts()`` lists the verdicts given in this kernel.
"""

from vlesson.exercises.check.batch_log_cache import *
from vlesson.exercises.check.benchmarking import *
from vlesson.exercises.check.models_memory import *
from vlesson.exercises.check.parameters import *
from vlesson.exercises.check.playground import *
from vlesson.exercises.check.scheduler import *
from vlesson.exercises.check.self_assessment import *
from vlesson.exercises.check.shell_scripts import *
from vlesson.exercises.check.smart_generator import *
from vlesson.exercises.check.web_api import *
from vlesson.exercises.grading import verdicts  # noqa: F401
