"""The grading interface: verdicts, @checkpoint, learner errors, progress, hints."""

from __future__ import annotations

import json

import pytest

import vlesson as vl
from tests.lesson_answers import run_cell
from vlesson.exercises import grading, hints, progress, registry
from vlesson.exercises.grading import Verdict, checkpoint

pytestmark = pytest.mark.usefixtures("scratch_progress")


def cell(source: str, number: int = 1) -> dict:
    """Run code as a notebook cell would (ipykernel's file name), return its names."""
    return run_cell(source, {}, number)


@checkpoint("2.8")
def double_check(fn):
    assert fn(2) == 4, f"fn(2) is {fn(2)!r}: double it"
    return "doubling works"


def test_verdict_is_frozen_with_both_reprs():
    v = Verdict("2.7", "right", "parser defaults come from the file")
    assert repr(v) == "[2.7] right: parser defaults come from the file"
    assert "2.7" in v._repr_html_() and v.passed and bool(v)
    with pytest.raises(AttributeError):
        v.status = "wrong"
    with pytest.raises(ValueError, match="status"):
        Verdict("2.7", "passed", "x")


def test_the_stub_value_is_not_attempted_and_records_nothing(scratch_progress):
    v = double_check(...)
    assert v.status == "not attempted" and 'vl.hint("2.8")' in v.message
    assert not scratch_progress.exists()


def test_a_stub_function_is_not_attempted():
    ns = cell("def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError\n")
    assert double_check(ns["f"]).status == "not attempted"


def test_right_and_wrong_answers_and_their_progress():
    wrong = double_check(cell("def f(x):\n    return x + 1\n")["f"])
    assert wrong.status == "wrong" and "fn(2) is 3: double it" in wrong.message
    assert progress.load()["2.8"]["state"] == "tried"
    right = double_check(cell("def f(x):\n    return 2 * x\n")["f"])
    assert right.status == "right" and right.message == "doubling works"
    assert progress.load()["2.8"]["state"] == "passed"


def test_a_server_that_does_not_answer_is_not_the_learners_fault(scratch_progress):
    # A check on a loaded class server timed out (notebook 07, self-5): a hint about
    # the learner's answer would have sent them looking for a mistake they never made.
    def f(x):
        raise vl.RemoteError("the vLLM server at http://class:8000/v1 did not answer")

    v = double_check(f)
    assert v.status == "not checked" and not v.passed
    assert "server problem, not yours" in v.message and "http://class:8000" in v.message
    assert not scratch_progress.exists()  # nothing recorded: run it again later
    assert "not checked" in v._repr_html_()


def test_a_learner_exception_names_the_learner_line_not_a_traceback():
    ns = cell("def f(x):\n    y = x * 2\n    return y / 0\n", number=7)
    v = double_check(ns["f"])
    assert v.status == "wrong"
    assert "line 3" in v.message and "`return y / 0`" in v.message
    assert "ZeroDivisionError" in v.message and "Traceback" not in v.message


def test_an_error_deep_in_a_library_names_the_learner_line_that_called_it():
    ns = cell("import json\n\ndef f(x):\n    return json.loads('{bad')\n")
    v = double_check(ns["f"])
    assert "line 4" in v.message and "json.loads" in v.message
    assert "JSONDecodeError" in v.message


def test_an_argparse_exit_in_learner_code_is_a_hint():
    src = (
        "import argparse\n\ndef f(x):\n    p = argparse.ArgumentParser()\n"
        "    return p.parse_args(['--nope'])\n"
    )
    v = double_check(cell(src)["f"])
    assert v.status == "wrong" and "line 5" in v.message
    assert "unrecognized arguments: --nope" in v.message


def test_vlesson_own_functions_are_refused():
    v = double_check(vl.sampling.validate)
    assert v.status == "wrong" and "vlesson's own function" in v.message


@checkpoint("2.7")
def triple_check(fn):
    assert fn(2) == 6, f"fn(2) is {fn(2)!r}: triple it"
    return "tripling works"


def test_a_right_verdict_shows_the_discussion_without_revealing(scratch_progress):
    v = triple_check(cell("def f(x):\n    return 3 * x\n")["f"])
    assert v.discussion == grading.discussion("2.7") != ""
    assert "parser.set_defaults" in v.discussion  # 01's solution:2.7 cell
    assert v.discussion in repr(v) and "Why it matters" in v._repr_html_()
    assert progress.load()["2.7"]["state"] == "passed"  # not "solution revealed"
    wrong = triple_check(cell("def f(x):\n    return x\n")["f"])
    assert not wrong.discussion and "Why it matters" not in wrong._repr_html_()


def test_every_discussion_is_the_sources_solution_markdown():
    for ex in registry.exercises():
        shown = hints.solution(ex.id) if grading.discussion(ex.id) else ""
        for part in grading.discussion(ex.id).split("\n\n"):
            assert part in shown, (ex.id, part)


def test_the_verdicts_of_this_kernel_are_kept_in_order():
    grading.verdicts(clear=True)
    double_check(...)
    double_check(cell("def f(x):\n    return 2 * x\n")["f"])
    said = [v.status for v in vl.check.verdicts()]
    assert said == ["not attempted", "right"]
    assert [v.status for v in vl.check.verdicts(clear=True)] == said
    assert vl.check.verdicts() == []


def test_unknown_exercise_ids_fail_when_declared():
    with pytest.raises(KeyError, match="the sheet has"):
        checkpoint("2.99")


def test_progress_table_persists_and_shows_every_exercise(scratch_progress):
    double_check(cell("def f(x):\n    return 2 * x\n")["f"])
    hints.hint("2.3")
    on_disk = json.loads(scratch_progress.read_text())
    assert on_disk["exercises"]["2.8"]["state"] == "passed"
    table = vl.progress()  # a fresh read, as after a kernel restart
    assert len(table) == len(registry.exercises())
    assert table.loc["2.8", "status"] == "passed" and table.loc["2.8", "date"]
    assert table.loc["2.3", "status"] == "not attempted"
    assert table.loc["2.3", "hints"] == 1
    assert set(table.status) <= set(progress.STATES)


def test_a_damaged_progress_file_starts_afresh(scratch_progress):
    scratch_progress.write_text("{half")
    assert vl.progress().status.eq("not attempted").all()


def test_hints_come_one_at_a_time_then_point_to_the_solution():
    count = len(registry.get("2.7").hints)
    seen = [str(vl.hint("2.7")) for _ in range(count)]
    assert [f"Hint {n}/{count}" in s for n, s in enumerate(seen, 1)] == [True] * count
    assert len(set(seen)) == count
    assert "vl.solution('2.7')" in str(vl.hint("2.7"))


def test_solution_shows_the_source_notebooks_answer_and_records_it():
    shown = str(vl.solution("self-2"))
    assert "EngineArgs.from_cli_args" in shown and "BEGIN SOLUTION" not in shown
    assert progress.load()["self-2"]["state"] == "solution revealed"
    wrong = double_check(cell("def f(x):\n    return x\n")["f"])
    assert wrong.status == "wrong"


def test_the_package_ships_no_reference_answers():
    with pytest.raises(ImportError):
        import vlesson.exercises.solutions  # noqa: F401
    assert not hasattr(vl, "solutions")


def test_an_exercise_in_two_notebooks_shows_both_parts(scratch_progress):
    """2.15: validation in notebook 01, the retry in 05: one solution, one
    discussion."""
    assert registry.get("2.15").notebooks == ("01_parameters_and_cli", "05_web_api")
    shown = str(vl.solution("2.15"))
    assert "def validate_args" in shown and "def post_with_retry" in shown
    assert "`notebooks/01_parameters_and_cli.ipynb` and" in shown
    said = grading.discussion("2.15")
    assert "temperature` must be in [0, 2]" in said and "The retry is bounded" in said
    validation = grading.discussion("2.15", check="validate_args")
    assert "[0, 2]" in validation and "retry is bounded" not in validation  # no spoiler
    retry = grading.discussion("2.15", check="retrying_client")
    assert "retry is bounded" in retry and "[0, 2]" not in retry
