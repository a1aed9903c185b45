"""vLLM's scheduler recorded on the real engine: in this process (vlesson's choice on a
CPU), and in an engine of its own, as ``record`` does where vLLM runs the engine core in
a child process (a GPU)."""

from __future__ import annotations

import uuid

from vllm import SamplingParams

from vlesson.workflows import machinery


def test_a_recording_in_its_own_engine_schedules_as_the_one_here(llm):
    # A prefix no earlier test used, so the warm engine's cache holds none of it.
    story = f"{uuid.uuid4()} " + " ".join(f"Fact {i}: rivers run." for i in range(40))
    prompts = [f"{story} What runs?", f"{story} Why?", "The capital of France is"]
    params = SamplingParams(temperature=0, max_tokens=3, ignore_eos=True)
    here = machinery.record(llm, prompts, params, arrive_at=[0, 1, 1])
    # Any engine_args record in an engine of its own, as on a GPU.
    own = machinery.record(
        llm, prompts, params, arrive_at=[0, 1, 1], engine_args={"enforce_eager": True}
    )
    assert own.timeline().equals(here.timeline()), (own.timeline(), here.timeline())
    assert here.timeline().set_index("request").loc["B", "cached_tokens"] > 0
    sharing = ["request", "logical_block", "shared_with"]
    assert own.block_table(1)[sharing].equals(here.block_table(1)[sharing])
    assert own.texts == here.texts
