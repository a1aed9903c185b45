"""Verdicts of the lesson's checks, and the ``@checkpoint`` decorator that grades.

A check answers exactly one of four things (``Verdict.status``):

- ``"not attempted"``: the skeleton is untouched. The build of the learner's notebooks
  replaces each solution region by a stub: ``NAME = ...`` at top level, ``raise
  NotImplementedError`` inside a function. A check receiving ``...`` or a function that
  raises ``NotImplementedError`` says so and does no engine work.
- ``"wrong"``: the one specific thing to look at (never the recipe). An exception raised
  by the learner's own code becomes such a hint naming the learner's line.
- ``"right"``: with one sentence of why it matters, and the exercise's discussion
  (the source's ``solution:ID`` Markdown cells) shown under it: passing teaches as
  much as ``vl.solution``, without counting as a revealed solution.
- ``"not checked"``: the class server did not answer (a ``RemoteError``): a server
  problem, not the learner's, so nothing is recorded and the check can be run again.

Every verdict is recorded in the learner's progress (``vlesson.exercises.progress``),
and kept in this kernel's log of verdicts: ``vl.check.verdicts()``.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import html
import importlib
import inspect
import io
import json
import linecache
import logging
import re
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from types import CodeType, FrameType, TracebackType
from typing import Any, Literal

from vlesson.exercises import build, progress, registry
from vlesson.remote import RemoteError

logger = logging.getLogger(__name__)

Status = Literal["not attempted", "wrong", "right", "not checked"]
STATUSES: tuple[str, ...] = ("not attempted", "wrong", "right", "not checked")

_PACKAGE_DIR = Path(__file__).resolve().parents[1]
_CELL_FILE = re.compile(r"ipykernel_\d+[/\\]\d+\.py$|^<ipython-input-")


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What a check says about one answer."""

    exercise: str
    """The exercise id of the sheet: "2.7", "self-3", "challenge"."""
    status: Status
    """"not attempted", "wrong", "right", or "not checked" (the server failed)."""
    message: str
    """What to look at (wrong), or why it matters (right)."""
    evidence: Any = dataclasses.field(default=None, compare=False)
    """Optional result to show under the verdict (a DataFrame), e.g. the learner's
    own measurements once the answer is right."""
    discussion: str = dataclasses.field(default="", compare=False)
    """Markdown shown under a right verdict: the exercise's discussion."""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def passed(self) -> bool:
        """True when the answer is right."""
        return self.status == "right"

    def __repr__(self) -> str:
        head = f"[{self.exercise}] {self.status}: {self.message}"
        return f"{head}\n\n{self.discussion}" if self.discussion else head

    def __str__(self) -> str:
        return repr(self)

    def __bool__(self) -> bool:
        return self.passed

    def _repr_html_(self) -> str:
        colour, icon = {
            "right": ("#1a7f37", "✅"),
            "wrong": ("#b35900", "✗"),
            "not attempted": ("#57606a", "…"),
            "not checked": ("#57606a", "⚠"),
        }[self.status]
        body = (
            f'<div style="border-left:4px solid {colour};'
            f'padding:4px 10px"><b>{icon} {html.escape(self.exercise)}: '
            f"{self.status}</b> - {html.escape(self.message)}</div>"
        )
        if self.evidence is not None and hasattr(self.evidence, "_repr_html_"):
            body += self.evidence._repr_html_()
        if self.discussion:
            import mistune

            body += (
                '<details open style="margin:4px 0 0 14px"><summary>Why it '
                f"matters</summary>{mistune.html(self.discussion)}</details>"
            )
        return body


class NotAttempted(Exception):
    """Raised by a check when the learner's work is not there yet (e.g. the file a
    command should have written)."""


_LOG: collections.deque[Verdict] = collections.deque(maxlen=1000)
_LESSON_CHECKS: dict[str, list[str]] = collections.defaultdict(list)
"""The names of each exercise's checks in ``vlesson.exercises.check``."""


def verdicts(*, clear: bool = False) -> list[Verdict]:
    """Return the verdicts the checks gave in this kernel, oldest first (the last
    1,000); ``clear=True`` also forgets them, so the next call shows only new ones."""
    given = list(_LOG)
    if clear:
        _LOG.clear()
    return given


def _not_attempted(exercise: str) -> Verdict:
    return Verdict(
        exercise,
        "not attempted",
        "the skeleton is still the stub: write your answer in the cell above, run "
        f'it, then this check again (stuck? vl.hint("{exercise}"))',
    )


def checkpoint(
    exercise: str, *, refuse: tuple[str, ...] = ()
) -> Callable[[Callable[..., str]], Callable[..., Verdict]]:
    """Make a check function grade: it returns a ``Verdict``, records it, never raises.

    The decorated function receives the learner's answers, raises ``AssertionError``
    with a hint when one is wrong, and returns the "why it matters" sentence (or a
    ``(sentence, evidence)`` pair) when all is right. ``refuse``: vlesson's reference
    code for the exercise ("vlesson.settings.load_config"); a learner's function that
    calls it, however wrapped, is wrong.
    """
    registry.get(exercise)  # an unknown id fails at import, not in a lesson

    def decorate(fn: Callable[..., str]) -> Callable[..., Verdict]:
        if fn.__module__.startswith(f"{__package__}.check."):
            _LESSON_CHECKS[exercise].append(fn.__name__)

        @functools.wraps(fn)
        def check(*args: Any, **kwargs: Any) -> Verdict:
            with _refusing(refuse) as watch:
                verdict = grade(exercise, fn, *watch(args), **watch(kwargs))
            if watch.used and verdict.status != "not attempted":
                verdict = Verdict(exercise, "wrong", _wrapped_message(watch.used))
            if verdict.passed:
                said = discussion(exercise, check=fn.__name__)
                verdict = dataclasses.replace(verdict, discussion=said)
            try:
                checks = _checks_of(exercise, fn.__name__)
                progress.record(
                    exercise, verdict.status, check=fn.__name__, checks=checks
                )
            except OSError as exc:  # a full disk, a read-only home: still the verdict
                logger.warning("progress not recorded for %s: %s", exercise, exc)
            _LOG.append(verdict)
            return verdict

        check.exercise = exercise  # type: ignore[attr-defined]
        return check

    return decorate


def _checks_of(exercise: str, name: str) -> tuple[str, ...]:
    """Every lesson check of the exercise (it passes when all say right); just the
    one named for a check made elsewhere."""
    lesson = _LESSON_CHECKS.get(exercise, [])
    return tuple(lesson) if name in lesson else (name,)


def grade(exercise: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Verdict:
    """Run one check function on the learner's answers and turn the outcome into a
    Verdict (see ``checkpoint``)."""
    answers = [*args, *kwargs.values()]
    if any(a is ... for a in answers):
        return _not_attempted(exercise)
    reference = _reference_answer(answers)
    if reference:
        return Verdict(exercise, "wrong", reference)
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            result = fn(*args, **kwargs)
    except SystemExit as exc:  # argparse in the learner's code: say what it printed
        said = (err.getvalue().strip().splitlines() or [f"exit code {exc.code}"])[-1]
        where = learner_error(exc).split(" raised ")[0]
        return Verdict(exercise, "wrong", f"{where}: argparse exited - {said}")
    except NotAttempted as exc:
        verdict = _not_attempted(exercise)
        return dataclasses.replace(verdict, message=f"{exc} - {verdict.message}")
    except NotImplementedError as exc:
        if _learner_frames(exc.__traceback__):
            return _not_attempted(exercise)
        return Verdict(
            exercise, "wrong", f"the check could not use your answer: {exc!r}"
        )
    except AssertionError as exc:
        if not _learner_frames(exc.__traceback__):
            return Verdict(exercise, "wrong", str(exc) or "not right yet")
        return Verdict(exercise, "wrong", learner_error(exc))
    except RemoteError as exc:  # the shared server, whoever called it
        return Verdict(
            exercise,
            "not checked",
            f"the class server did not answer, so your answer was not judged (a server "
            f"problem, not yours): {exc} - run this check again in a minute",
        )
    except Exception as exc:  # noqa: BLE001 - the learner's code, or their answer
        if _learner_frames(exc.__traceback__):
            return Verdict(exercise, "wrong", learner_error(exc))
        return Verdict(
            exercise,
            "wrong",
            f"the check could not use your answer: {type(exc).__name__}: {exc}",
        )
    finally:
        sys.stderr.write(err.getvalue())
    message, evidence = result if isinstance(result, tuple) else (result, None)
    return Verdict(exercise, "right", message, evidence)


def _reference_answer(answers: list[Any]) -> str:
    """Say so when an answer is one of vlesson's own functions passed back in."""
    for answer in answers:
        module = getattr(answer, "__module__", None) or ""
        if callable(answer) and module.split(".")[0] == "vlesson":
            return (
                f"{getattr(answer, '__name__', answer)} is vlesson's own function, "
                "not yours: write your function in the answer cell"
            )
    return ""


def discussion(exercise: str, *, check: str = "") -> str:
    """Return the exercise's discussion: its sources' ``solution:ID`` Markdown cells;
    with ``check``, the part after that check's call (all of it if no notebook calls
    the check)."""
    sources = []
    for name in registry.get(exercise).notebooks:
        path = build.source_dir() / f"{name}.ipynb"
        try:
            sources.append(json.loads(path.read_text(encoding="utf-8")))
        except OSError as exc:  # a checkout without its notebooks: still the verdict
            logger.warning("no discussion for %s: %s", exercise, exc)
    call = f"{build.CHECK_CALL}{check}("
    if not any(call in build.cell_text(c) for s in sources for c in s["cells"]):
        check = ""
    parts = [build.discussion_parts(s, exercise, check=check) for s in sources]
    return "\n\n".join(p for found in parts for p in found)


class _Watch:
    """Wraps the learner's functions so that calls into the refused code, made
    while one of them runs, are noted (``used``): the check's own calls are not."""

    def __init__(self, codes: dict[CodeType, str]) -> None:
        self.codes, self.used = codes, []

    def __call__(self, answers: Any) -> Any:
        if not self.codes:
            return answers
        if isinstance(answers, dict):
            return {k: self._wrap(v) for k, v in answers.items()}
        return tuple(self._wrap(a) for a in answers)

    def _wrap(self, answer: Any) -> Any:
        if not callable(answer) or isinstance(answer, type):
            return answer

        @functools.wraps(answer)
        def watched(*args: Any, **kwargs: Any) -> Any:
            before = sys.getprofile()
            sys.setprofile(self._profile)
            try:
                return answer(*args, **kwargs)
            finally:
                sys.setprofile(before)

        return watched

    def _profile(self, frame: FrameType, event: str, _arg: Any) -> None:
        name = self.codes.get(frame.f_code) if event == "call" else None
        if name and name not in self.used:
            self.used.append(name)


@contextlib.contextmanager
def _refusing(names: tuple[str, ...]) -> Iterator[_Watch]:
    """Yield a ``_Watch`` of the reference functions named (dotted paths)."""
    codes = {}
    for name in names:
        module, _, attr = name.rpartition(".")
        fn = inspect.unwrap(getattr(importlib.import_module(module), attr))
        codes[fn.__code__] = name
    yield _Watch(codes)


def _wrapped_message(used: list[str]) -> str:
    return (
        f"your answer calls vlesson's own {', '.join(used)}: that is the lesson's "
        "reference code for this exercise, not yours - write it yourself (with the "
        "standard library and vLLM)"
    )


def _is_learner_file(filename: str) -> bool:
    if _CELL_FILE.search(filename):
        return True
    if filename.startswith("<"):
        return filename in ("<string>", "<stdin>")
    path = Path(filename).resolve()
    if path.is_relative_to(_PACKAGE_DIR):
        return False
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    return not any(path.is_relative_to(Path(p).resolve()) for p in prefixes)


def _learner_frames(tb: TracebackType | None) -> list[traceback.FrameSummary]:
    frames = traceback.extract_tb(tb)
    return [f for f in frames if _is_learner_file(f.filename)]


def _cell_name(filename: str) -> str:
    """ "Cell In[5]" for a notebook cell (as IPython names it), else the file's name."""
    shell = sys.modules.get("IPython") and _ipython()
    number = None
    if shell is not None:
        number = getattr(shell.compile, "_filename_map", {}).get(filename)
    if number is not None:
        return f"your cell In[{number}]"
    if _CELL_FILE.search(filename):
        return "your cell"
    return Path(filename).name


def _ipython() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return None
    return get_ipython()


def learner_error(exc: BaseException) -> str:
    """A hint naming the learner's line that raised ``exc`` (no traceback)."""
    frames = _learner_frames(exc.__traceback__)
    what = f"{type(exc).__name__}: {exc}".rstrip(": ")
    if not frames:
        return f"your code raised {what}"
    frame = frames[-1]  # the deepest line of the learner's own code
    line = (frame.line or linecache.getline(frame.filename, frame.lineno)).strip()
    where = f"{_cell_name(frame.filename)}, line {frame.lineno}"
    return f"{where} (in {frame.name}): `{line}` raised {what}"
