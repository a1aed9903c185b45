"""The lesson's checks: ``vl.check.NAME(answer, ...)`` returns a ``Verdict``.

One module per notebook; each check is declared with ``@checkpoint("ID")`` (see
``vlesson.lesson.grading``) and named after what the learner wrote.
"""

from vlesson.lesson.check.batch_log_cache import *
from vlesson.lesson.check.models_memory import *
from vlesson.lesson.check.parameters import *
from vlesson.lesson.check.self_assessment import *
from vlesson.lesson.check.smart_bench import *
from vlesson.lesson.check.web_api import *
