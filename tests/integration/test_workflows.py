"""Batch, sweep, run log and cache on the real engine (2-8 prompts, max_tokens 8)."""

from __future__ import annotations

import re
import warnings

import pytest

import vlesson as vl
from vlesson import cli, files
from vlesson.workflows import batch, runlog, sweep
from vlesson.workflows.cache import CacheWarning, ResultCache, engine_fingerprint

GREEDY = {"temperature": 0, "max_tokens": 8}
HOSTILE = [
    "../../etc/passwd",
    "a/b\\c \x00 nul",
    "word " * 9000,
    "The capital of France is",
]


def spy(monkeypatch, module, name="generate"):
    """Wrap module.NAME; return the list of prompt lists it was called with."""
    calls = []
    real = getattr(module, name)

    def recording(llm, prompts, params=None, **kwargs):
        calls.append(list(prompts))
        return real(llm, prompts, params, **kwargs)

    monkeypatch.setattr(module, name, recording)
    return calls


def test_batch_resumes_after_a_kill_and_keeps_hostile_prompts_inside(
    llm, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    calls = spy(monkeypatch, batch, "generate_each")  # batch saves each as it ends
    real = batch.generate_each

    def killed_on_second_call(*args, **kwargs):
        if len(calls) == 1:
            raise KeyboardInterrupt  # the run dies halfway
        return real(*args, **kwargs)

    monkeypatch.setattr(batch, "generate_each", killed_on_second_call)
    with pytest.raises(KeyboardInterrupt):
        batch.run(
            llm,
            HOSTILE + ["Once upon a time"],
            out,
            GREEDY,
            chunk_size=2,
            use_tqdm=False,
        )
    first = {
        r["file"]: (out / r["file"]).read_text()
        for r in batch.read_manifest(out)
        if r["status"] == "ok"
    }
    assert len(first) == 2 and not list(out.glob("*" + files.PARTIAL))

    monkeypatch.setattr(batch, "generate_each", real)
    report = batch.run(
        llm, HOSTILE + ["Once upon a time"], out, GREEDY, chunk_size=2, use_tqdm=False
    )
    assert (report.generated, report.skipped) == (2, 2)
    assert calls[-1] == ["The capital of France is", "Once upon a time"]
    assert [r["index"] for r in report.failed] == [3]
    assert "tokens, the model's context is" in report.failed[0]["error"]
    rows = [r for r in batch.read_manifest(out) if r["status"] == "ok"]
    assert sorted(r["index"] for r in rows) == [1, 2, 4, 5]
    assert all(re.fullmatch(r"\d{5}-[0-9a-f]{12}\.txt", r["file"]) for r in rows)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [r["file"] for r in rows] + [batch.MANIFEST]
    )
    assert {f: (out / f).read_text() for f in first} == first  # untouched by the resume
    paris = next(r for r in rows if r["prompt"] == "The capital of France is")
    assert "Paris" in (out / paris["file"]).read_text()
    assert all(
        r["num_tokens"] <= 8 and r["finish_reason"] in ("stop", "length") for r in rows
    )


def test_sweep_is_one_batched_call_reproducible_and_saved(llm, tmp_path, monkeypatch):
    calls = spy(monkeypatch, sweep)
    grid = {"temperature": [0.3, 1.1], "top_p": [0.7, 0.99]}
    prompts = ["The future of AI is", "Hello, my name is"]

    def run():
        return sweep.run(
            llm, prompts, grid, base={"max_tokens": 8}, seed=5, use_tqdm=False
        )

    table, again = run(), run()
    assert [len(c) for c in calls] == [8, 8]
    assert list(table["text"]) == list(again["text"])
    assert len(table) == 8 and set(table["temperature"]) == {0.3, 1.1}
    assert (table["num_tokens"] <= 8).all() and table["mean_logprob"].lt(0).all()
    best = sweep.recommend(table, "coherent")
    assert best.params["temperature"] in (0.3, 1.1) and best.metric == "mean_logprob"
    names = {p.name for p in sweep.save(table, tmp_path)}
    assert "results_temp0.3_topp0.99.txt" in names
    assert f"heatmap_{sweep.HEATMAP_METRIC}.png" in names


def test_sweep_and_generate_commands_write_the_run_log(llm, tmp_path, capsys):
    log = tmp_path / "runs.jsonl"
    argv = [
        "sweep",
        "--prompt",
        "The capital of France is",
        "--grid",
        "temperature=0.3,1.1",
        "--grid",
        "top_p=0.9",
        "--max-tokens",
        "8",
        "--out",
        str(tmp_path / "sweep"),
        "--log",
        str(log),
    ]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "recommended for diverse" in out and "decided by" in out
    assert (tmp_path / "sweep" / "results_temp1.1_topp0.9.txt").is_file()
    assert (
        cli.main(["generate", "--prompt", "Hi", "--max-tokens", "8", "--log", str(log)])
        == 0
    )
    df = runlog.load(log)
    assert len(df) == 3 and set(df["model"]) == {vl.DEFAULT_MODEL}
    assert list(df["temperature"][:2]) == [0.3, 1.1] and list(df["seed"][:2]) == [0, 0]


def test_run_log_records_engine_and_timing_from_plain_generate(llm, tmp_path):
    with runlog.logging_to(tmp_path / "runs.csv"):
        gens = vl.generate(
            llm, ["Hello, my name is", "The future of AI is"], GREEDY, use_tqdm=False
        )
    df = runlog.load(tmp_path / "runs.csv")
    info = vl.engine_info(llm)
    assert list(df["completion_tokens"]) == [g.num_tokens for g in gens]
    assert (df["dtype"] == info["dtype"]).all() and (df["max_model_len"] > 0).all()
    assert (df["enforce_eager"] == info["enforce_eager"]).all()
    assert (df["tokens_per_s"] > 0).all()
    assert list(df["prompt_tokens"]) == [g.prompt_tokens for g in gens]


def test_cache_hits_after_key_reorder_and_misses_on_any_single_change(
    llm, tmp_path, monkeypatch
):
    calls = spy(monkeypatch, vl.cache)
    cache = ResultCache(tmp_path / "c.sqlite")
    prompt = "The capital of France is"
    base = {
        "temperature": 0.8,
        "top_p": 0.95,
        "top_k": 50,
        "max_tokens": 8,
        "seed": 1,
        "min_tokens": 0,
        "presence_penalty": 0.0,
        "frequency_penalty": 0.0,
        "repetition_penalty": 1.0,
        "min_p": 0.0,
    }
    changes = {
        "temperature": 0.7,
        "top_p": 0.9,
        "top_k": 40,
        "max_tokens": 7,
        "seed": 2,
        "min_tokens": 1,
        "presence_penalty": 0.1,
        "frequency_penalty": 0.1,
        "repetition_penalty": 1.1,
        "min_p": 0.05,
    }
    variants = [base] + [{**base, k: v} for k, v in changes.items()]
    params = [vl.make_sampling_params(llm, v) for v in variants]
    first = vl.cached_generate(
        llm, [prompt] * len(params), params, cache=cache, use_tqdm=False
    )
    assert (cache.hits, cache.misses) == (0, 11) and len(calls[-1]) == 11

    reordered = dict(reversed(list(base.items())))
    hit = vl.cached_generate(llm, prompt, reordered, cache=cache, use_tqdm=False)[0]
    assert (cache.hits, len(calls)) == (1, 1)
    assert hit.token_ids == first[0].token_ids and hit.text == first[0].text
    assert cache.stats()["entries"] == 11
    assert (
        engine_fingerprint(llm)["max_model_len"]
        == llm.llm_engine.model_config.max_model_len
    )


def test_cache_serves_only_reproducible_requests_and_survives_damage(
    llm, tmp_path, monkeypatch
):
    calls = spy(monkeypatch, vl.cache)
    path = tmp_path / "c.sqlite"
    cache = ResultCache(path)
    unseeded = {"temperature": 0.8, "max_tokens": 8}
    for _ in range(2):
        vl.cached_generate(llm, "Hello", unseeded, cache=cache, use_tqdm=False)
    assert (cache.bypassed, cache.hits, len(calls)) == (2, 0, 2)
    vl.cached_generate(
        llm, "Hello", unseeded, cache=cache, allow_unseeded=True, use_tqdm=False
    )
    vl.cached_generate(
        llm, "Hello", unseeded, cache=cache, allow_unseeded=True, use_tqdm=False
    )
    assert (cache.hits, len(calls)) == (1, 3)

    fresh = vl.generate(llm, "The capital of France is", GREEDY, use_tqdm=False)[0]
    path.write_bytes(b"garbage" * 1000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = vl.cached_generate(
            llm, ["The capital of France is"] * 2, GREEDY, cache=cache, use_tqdm=False
        )
    assert any(issubclass(w.category, CacheWarning) for w in caught)
    assert [g.token_ids for g in got] == [fresh.token_ids] * 2
    assert len(calls[-1]) == 1  # the repeated request was generated once
