"""Cache keys and the SQLite store, without an engine."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import warnings

import pytest

from vlesson.cli import main as cli_main
from vlesson.generate import Generation
from vlesson.workflows.cache import (
    CacheWarning,
    ResultCache,
    canonical_json,
    is_reproducible,
    make_request,
    request_key,
)

ENGINE = {
    "model": "smollm2-135m-instruct",
    "dtype": "float32",
    "quantization": None,
    "max_model_len": 8192,
    "vllm": "0.32.0",
}
PARAMS = {
    "temperature": 0.0,
    "top_p": 1.0,
    "top_k": 0,
    "max_tokens": 8,
    "seed": None,
    "min_tokens": 0,
    "stop": [],
    "presence_penalty": 0.0,
}


def key(engine=ENGINE, prompt="The capital of France is", params=PARAMS):
    return request_key(make_request(engine, prompt, params))


def gen(text="Paris.", prompt="The capital of France is"):
    return Generation(
        prompt=prompt,
        text=text,
        token_ids=(1, 2, 3),
        finish_reason="stop",
        prompt_tokens=5,
        params={"temperature": 0.0},
        seconds=0.5,
        logprobs=(-0.1, -0.2, -0.3),
    )


def test_key_ignores_key_order_and_int_float_spelling():
    reordered = dict(reversed(list(PARAMS.items())))
    assert list(reordered) != list(PARAMS)
    assert key(params=reordered) == key()
    assert key(engine=dict(reversed(list(ENGINE.items())))) == key()
    assert key(params={**PARAMS, "temperature": 0}) == key()  # 0 == 0.0 for the sampler
    assert (
        canonical_json({"b": 1, "a": [1.0, {"d": 2, "c": 3}]})
        == '{"a":[1,{"c":3,"d":2}],"b":1}'
    )


@pytest.mark.parametrize(
    "name, value",
    [
        ("temperature", 0.5),
        ("top_p", 0.9),
        ("top_k", 20),
        ("max_tokens", 9),
        ("seed", 0),
        ("min_tokens", 1),
        ("stop", ["."]),
        ("presence_penalty", 0.1),
    ],
)
def test_any_single_sampling_change_changes_the_key(name, value):
    assert key(params={**PARAMS, name: value}) != key()


@pytest.mark.parametrize(
    "name, value",
    [
        ("model", "gemma-3-270m"),
        ("dtype", "bfloat16"),
        ("quantization", "fp8"),
        ("max_model_len", 2048),
        ("vllm", "0.33.0"),
    ],
)
def test_any_output_deciding_engine_change_changes_the_key(name, value):
    assert key(engine={**ENGINE, name: value}) != key()


def test_prompt_changes_the_key_and_seeds_stay_exact():
    assert key(prompt="The capital of France is ") != key()
    big = 2**63 - 1
    assert key(params={**PARAMS, "seed": big}) != key(
        params={**PARAMS, "seed": big - 1}
    )


def test_only_greedy_or_seeded_requests_are_reproducible():
    assert is_reproducible({"temperature": 0.0})
    assert is_reproducible({"temperature": 0.8, "seed": 7})
    assert not is_reproducible({"temperature": 0.8, "seed": None})


def test_put_get_round_trip_and_stats(tmp_path):
    cache = ResultCache(tmp_path / "c.sqlite")
    request = make_request(ENGINE, "The capital of France is", PARAMS)
    assert cache.get(key(), request) is None
    cache.put(key(), request, gen())
    assert cache.get(key(), request) == gen()
    cache.record_totals(1, 1)
    stats = cache.stats()
    assert (stats["hits"], stats["misses"], stats["entries"]) == (1, 1, 1)
    assert stats["total_hits"] == 1 and stats["bytes"] > 0
    cache.clear()
    assert cache.stats()["entries"] == 0 and cache.get(key(), request) is None


def test_a_stored_row_for_another_request_is_never_served(tmp_path):
    cache = ResultCache(tmp_path / "c.sqlite")
    cache.put(key(), make_request(ENGINE, "other prompt", PARAMS), gen())
    assert (
        cache.get(key(), make_request(ENGINE, "The capital of France is", PARAMS))
        is None
    )


def test_a_corrupted_file_warns_and_misses_and_clear_recovers(tmp_path):
    path = tmp_path / "c.sqlite"
    ResultCache(path).record_totals(
        0, 0
    )  # a vlesson cache, then damaged past its header
    path.write_bytes(path.read_bytes()[:100] + b"this is not a database" * 100)
    cache = ResultCache(path)
    request = make_request(ENGINE, "p", PARAMS)
    with pytest.warns(CacheWarning, match="vlesson cache clear"):
        assert cache.get(key(), request) is None
    with pytest.warns(CacheWarning):
        cache.put(key(), request, gen())
    assert cache.misses == 1
    cache.clear()
    cache.put(key(), request, gen())
    assert cache.get(key(), request) == gen()


def test_a_locked_file_warns_instead_of_waiting_forever(tmp_path):
    path = tmp_path / "c.sqlite"
    cache = ResultCache(path, timeout=0.2)
    request = make_request(ENGINE, "p", PARAMS)
    cache.put(key(), request, gen())
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        assert cache.get(key(), request) == gen()  # WAL: reads pass a writer
        with pytest.warns(CacheWarning, match="could not be written"):
            cache.put(key(prompt="q"), make_request(ENGINE, "q", PARAMS), gen())
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert cache.get(key(prompt="q"), make_request(ENGINE, "q", PARAMS)) is None


def _write_and_read(path, worker):
    cache = ResultCache(path, timeout=30)
    wrong = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)  # a lost write fails the test
        for i in range(20):
            prompt = f"{worker}-{i}"
            request = make_request(ENGINE, prompt, PARAMS)
            cache.put(key(prompt=prompt), request, gen(prompt=prompt))
            if cache.get(key(prompt=prompt), request) != gen(prompt=prompt):
                wrong.append(prompt)
    return wrong


def test_concurrent_processes_write_and_read_without_loss(tmp_path):
    path = tmp_path / "c.sqlite"
    with multiprocessing.get_context("fork").Pool(4) as pool:
        results = pool.starmap(_write_and_read, [(path, w) for w in range(4)])
    assert results == [[], [], [], []]
    assert ResultCache(path).stats()["entries"] == 80


def test_cache_clear_refuses_a_file_that_is_not_a_vlesson_cache(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("a week of notes\n")
    assert cli_main(["cache", "clear", "--path", str(notes)]) == 2
    assert notes.read_text() == "a week of notes\n"
    assert "not a vlesson result cache" in capsys.readouterr().err


def test_cache_clear_leaves_another_programs_sqlite_database_alone(tmp_path):
    other = tmp_path / "shop.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE results (order_id INTEGER, total REAL)")
        conn.execute("INSERT INTO results VALUES (1, 9.5)")
    assert cli_main(["cache", "clear", "--path", str(other)]) == 2
    with sqlite3.connect(other) as conn:
        assert conn.execute("SELECT * FROM results").fetchall() == [(1, 9.5)]


def test_cache_clear_still_empties_and_deletes_a_damaged_vlesson_cache(tmp_path):
    path = tmp_path / "results.sqlite"
    ResultCache(path).record_totals(1, 2)
    assert ResultCache(path).stats()["total_misses"] == 2
    ResultCache(path).clear()
    assert ResultCache(path).stats()["total_misses"] == 0
    head = path.read_bytes()[:100]  # the header, the rest overwritten
    path.write_bytes(head + b"\xff" * 4000)
    assert cli_main(["cache", "clear", "--path", str(path)]) == 0
    assert not path.exists() or ResultCache(path).stats()["entries"] == 0


def test_a_memory_cache_returns_and_keeps_its_entries():
    done = {}

    def use():
        cache = ResultCache(":memory:")
        cache.record_totals(3, 4)
        done["stats"] = cache.stats()

    thread = threading.Thread(target=use, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "ResultCache(':memory:') never returned"
    assert done["stats"]["total_hits"] == 3


def test_cache_stats_on_a_damaged_file_is_one_clean_line(tmp_path, capsys):
    path = tmp_path / "results.sqlite"
    path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 84 + b"garbage" * 100)
    code = cli_main(["cache", "stats", "--path", str(path)])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1
    assert len(lines) == 1 and lines[0].startswith("vlesson cache: "), err
    assert "warning" not in err.lower(), err  # the error, not a warning beside it


