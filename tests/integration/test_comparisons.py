"""Engine-switching comparisons (models, memory fractions, quantization).

They load other engines, which would release the session's `llm`, so they run once in
a subprocess that prints their tables as JSON."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vlesson.workflows import quantization

SCRIPT = r"""
import json
import vlesson as vl
from vlesson.workflows import compare, memory, quantization
out = {}
out["fractions"] = memory.compare_fractions((0.15, 0.25)).to_dict("records")
llm = vl.get_llm()
with memory.MemoryMonitor(interval=0.02) as mon:
    vl.generate(llm, vl.LESSON_PROMPTS * 4, {"max_tokens": 32}, use_tqdm=False)
out["monitor"] = mon.frame().to_dict("records")
out["quant"] = quantization.compare_quantization(
    {k: quantization.VARIANTS[k] for k in ("full precision", "gptq int4 (RTN, g64)")},
    max_tokens=16, batch_size=8).to_dict("records")
out["models"] = compare.compare_models(params={"max_tokens": 16}).to_dict("records")
out["int4_kernel"] = quantization.int4_kernel_available()
print("JSON" + json.dumps(out, default=str))
"""


@pytest.fixture(scope="module")
def tables():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith("JSON"))
    return json.loads(line[4:])


def test_a_larger_memory_fraction_gives_a_larger_kv_cache(tables):
    small, large = tables["fractions"]
    assert (small["gpu_memory_utilization"], large["gpu_memory_utilization"]) == (
        0.15,
        0.25,
    )
    assert small["kv_cache_memory_bytes"] is None  # the fraction decides, not 1 GiB
    assert large["num_blocks"] > small["num_blocks"] > 0
    assert large["kv_cache_tokens"] == large["num_blocks"] * large["block_size"]
    assert large["max_concurrency"] > small["max_concurrency"] > 1


def test_the_monitor_samples_while_generation_runs(tables):
    samples = tables["monitor"]
    assert len(samples) >= 3 and all(s["rss_mib"] > 100 for s in samples)


def test_gptq_int4_runs_and_costs_quality_or_says_why_not(tables):
    full, gptq = tables["quant"]
    assert gptq["quantization"] == "gptq" and full["agreement"] == 1.0
    assert gptq["checkpoint_mib"] < full["checkpoint_mib"] / 2
    if not tables["int4_kernel"]:  # an AVX2-only CPU: vLLM's CPU build has no W4A16
        assert gptq["example"] == quantization.NO_INT4_KERNEL
        return
    assert gptq["perplexity"] > full["perplexity"] > 1  # 4 bits lose some quality
    assert gptq["gen_tok_s"] > 0 and gptq["agreement"] < 1.0


def test_two_models_load_one_after_the_other(tables):
    rows = tables["models"]
    assert [r["model"] for r in rows[::4]] == ["smollm2-135m-instruct", "gemma-3-270m"]
    assert all(r["load_s"] > 0 and r["gen_tok_s"] > 0 for r in rows)
    gemma = [r for r in rows if r["model"] == "gemma-3-270m"]
    paris = next(r for r in gemma if r["prompt"] == "The capital of France is")
    assert (
        paris["num_tokens"] == 16 and "The The The" not in paris["text"]
    )  # <bos> kept
