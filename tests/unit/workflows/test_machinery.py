"""The scheduler recording's tables and drawings, on a hand-made recording (the
recording itself runs on the real engine: tests/integration/test_machinery.py)."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib
import pytest
from vllm import SamplingParams

from vlesson import engine, remote
from vlesson.workflows import machinery
from vlesson.workflows.machinery import Recording, Step

matplotlib.use("Agg")


def recording() -> Recording:
    """A and B share their first block (B found 4 tokens cached); C joins at step 2
    while A decodes; A finishes at step 2, B at 3, C at 4."""
    return Recording(
        names=["A", "B", "C"],
        prompt_tokens={"A": 6, "B": 6, "C": 3},
        arrivals={"A": 0, "B": 1, "C": 2},
        block_size=4,
        chunked_prefill=False,
        token_budget=8192,
        cached_tokens={"A": 0, "B": 4, "C": 0},
        steps=[
            Step({"A": 6}, {"A": [1, 2]}, []),
            Step({"A": 1, "B": 2}, {"A": [1, 2], "B": [1, 3]}, []),
            Step({"A": 1, "B": 1, "C": 3}, {"B": [1, 3], "C": [5]}, ["A"]),
            Step({"B": 1, "C": 1}, {"C": [5]}, ["B"]),
            Step({"C": 1}, {}, ["C"]),
        ],
    )


def test_the_timeline_counts_cached_tokens_toward_the_first_token():
    table = recording().timeline().set_index("request")
    assert table.loc["B", "first_token"] == 1  # 4 cached + 2 computed = its prompt
    assert table.loc["B", "prefill_steps"] == 1
    assert list(table["finishes"]) == [2, 3, 4]
    assert list(table["first_scheduled"]) == [0, 1, 2]


def test_a_prompt_over_several_steps_is_a_chunked_prefill():
    chunked = recording()
    chunked.steps[0] = Step({"A": 4}, {"A": [1]}, [])
    chunked.steps[1] = Step({"A": 2, "B": 2}, {"A": [1, 2], "B": [1, 3]}, [])
    table = chunked.timeline().set_index("request")
    assert table.loc["A", "prefill_steps"] == 2 and table.loc["A", "first_token"] == 1


def test_the_block_table_names_who_shares_a_physical_block():
    table = recording().block_table()  # step 1 holds the most blocks
    assert set(table["step"]) == {1}
    shared = table[table["physical_block"] == 1]
    assert sorted(shared["shared_with"]) == ["A", "B"]
    assert list(table[table["physical_block"] == 3]["shared_with"]) == [""]
    assert list(table[table["request"] == "B"]["tokens"]) == ["0-3", "4-7"]


def test_a_step_outside_the_recording_is_refused():
    with pytest.raises(ValueError, match="step 9 is not recorded: choose 0-4"):
        recording().block_table(9)


def test_the_drawings_have_a_box_per_request_step_and_block():
    timeline = machinery.draw_timeline(recording())
    # A: steps 0-2, B: 1-3, C: 2-4
    assert len(timeline.patches) == 9
    blocks = machinery.draw_block_table(recording(), step=1)
    assert len(blocks.patches) == 4
    labels = sorted(t.get_text() for t in blocks.texts)
    assert labels == ["block 1", "block 1", "block 2", "block 3"]


def test_an_empty_step_cannot_be_drawn():
    with pytest.raises(ValueError, match="no request holds a block"):
        machinery.draw_block_table(recording(), step=4)


def test_a_class_server_is_refused_with_the_reason():
    server = remote.RemoteLLM.__new__(remote.RemoteLLM)
    server.server = "http://class:8000/v1"
    with pytest.raises(remote.RemoteUnsupportedError, match="needs a local engine"):
        machinery.record(server, ["Hi"], SamplingParams(max_tokens=1))


def test_mismatched_arguments_are_named_before_anything_runs():
    with pytest.raises(ValueError, match="got 2 prompts, 1 arrival steps and 2 names"):
        machinery.record(object(), ["a", "b"], SamplingParams(), arrive_at=[0])


def test_an_engine_core_in_a_child_process_is_recorded_in_an_engine_of_its_own(
    monkeypatch,
):
    # vLLM's client of a child engine core has no ``engine_core`` of its own.
    llm = SimpleNamespace(llm_engine=SimpleNamespace(engine_core=SimpleNamespace()))
    asked = {}
    monkeypatch.setattr(engine, "built_with", lambda given: {"model": "m", "seen": given})
    monkeypatch.setattr(
        machinery, "_record_in_own_engine", lambda *a: asked.setdefault("args", a)
    )
    params = SamplingParams(max_tokens=2)
    machinery.record(llm, ["x", "y"], params, arrive_at=[0, 1])
    assert asked["args"] == (
        {"model": "m", "seen": llm}, ["x", "y"], params, [0, 1], ["A", "B"]
    )


def test_an_engine_vlesson_did_not_start_names_the_fix():
    with pytest.raises(ValueError, match=r"start it with vl.get_llm\(...\)"):
        engine.built_with(object())


@pytest.mark.parametrize(
    ("core_here", "async_scheduling", "readable"),
    [(True, False, True), (False, False, False), (True, True, False)],
)
def test_steps_are_read_here_only_from_a_synchronous_engine_core_in_this_process(
    core_here, async_scheduling, readable
):
    """On a GPU the engine core is in a child process, or (in this process) its
    asynchronous scheduling reports each step one step late: both record elsewhere."""
    core = SimpleNamespace(engine_core=object()) if core_here else SimpleNamespace()
    scheduler = SimpleNamespace(async_scheduling=async_scheduling)
    config = SimpleNamespace(scheduler_config=scheduler)
    llm = SimpleNamespace(llm_engine=SimpleNamespace(engine_core=core, vllm_config=config))
    assert machinery._steps_readable_here(llm) is readable
