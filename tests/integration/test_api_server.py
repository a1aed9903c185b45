"""The web API over real HTTP: `vlesson serve` in a subprocess on a free loopback port.

One server (with an API key) is started for the whole module and shared by its tests.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

import vlesson as vl
from vlesson.serving import api

KEY = "integration-test-key"
LIMITS = [
    "--limit-max-prompts",
    "8",
    "--limit-max-tokens",
    "16",
    "--limit-max-prompt-chars",
    "1000",
]
GREEDY = {"temperature": 0, "max_tokens": 8}


@pytest.fixture(scope="module")
def server():
    with api.start_server(api_key=KEY, args=LIMITS) as running:
        yield running
        assert running.running(), running.log()  # whatever the tests did, it survived


@pytest.fixture(scope="module")
def client(server):
    with server.client() as http:
        yield http


def test_greedy_request_completes_paris(client):
    response = client.post(
        "/generate", json={"prompt": "The capital of France is", **GREEDY}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    (out,) = body["outputs"]
    assert "Paris" in out["text"]
    assert out["num_tokens"] == len(out["token_ids"]) <= 8
    assert out["finish_reason"] in {"stop", "length"} and out["prompt_tokens"] > 0
    assert 0 < out["first_token_seconds"] <= out["seconds"] <= body["seconds"]
    assert out["params"]["temperature"] == 0 and out["params"]["max_tokens"] == 8


def test_a_list_of_prompts_comes_back_in_order(client, example_prompts):
    response = client.post("/generate", json={"prompt": example_prompts, **GREEDY})
    outputs = response.json()["outputs"]
    assert [o["prompt"] for o in outputs] == example_prompts
    assert response.json()["num_tokens"] == sum(o["num_tokens"] for o in outputs)


def test_streaming_sends_tokens_then_the_same_completion(client):
    body = {"prompt": "The capital of France is", **GREEDY}
    whole = client.post("/generate", json=body).json()["outputs"][0]
    with client.stream("POST", "/generate", json={**body, "stream": True}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = re.findall(r"event: (\w+)\ndata: (.*)\n", response.read().decode())
    names = [name for name, _ in events]
    assert names == ["token"] * (len(names) - 1) + ["done"] and len(names) > 2
    pieces = "".join(json.loads(data)["text"] for name, data in events[:-1])
    done = json.loads(events[-1][1])
    assert pieces == done["text"] == whole["text"]
    assert done["token_ids"] == whole["token_ids"]


def test_streaming_with_a_multi_token_stop_string_never_sends_its_start(client):
    body = {"prompt": "The capital of France is", "temperature": 0, "max_tokens": 16}
    whole = client.post("/generate", json=body).json()["outputs"][0]["text"]
    cut = len(whole) // 3
    stop = whole[cut : cut + 12]  # several tokens of what greedy decoding writes
    with client.stream(
        "POST", "/generate", json={**body, "stop": [stop], "stream": True}
    ) as response:
        events = re.findall(r"event: (\w+)\ndata: (.*)\n", response.read().decode())
    pieces = "".join(json.loads(data)["text"] for name, data in events[:-1])
    done = json.loads(events[-1][1])
    assert done["finish_reason"] == "stop" and done["text"] == whole[:cut]
    assert pieces == done["text"], f"streamed {pieces!r}, stop string {stop!r}"


def test_a_client_that_leaves_aborts_its_generation(server):
    body = {"prompt": ["Tell me a story"] * 8, "max_tokens": 16, "min_tokens": 16}
    with server.client(timeout=0.05) as impatient, pytest.raises(httpx.ReadTimeout):
        impatient.post("/generate", json=body)
    for _ in range(100):
        if "client disconnected: 8 generation(s) aborted" in server.log():
            break
        asyncio.run(asyncio.sleep(0.1))
    assert "client disconnected: 8 generation(s) aborted" in server.log()


def test_bad_requests_get_422_naming_the_field(client):
    response = client.post("/generate", json={"prompt": "x", "top_p": 1.5})
    assert response.status_code == 422
    assert "top_p must be in (0, 1], got 1.5" in response.json()["detail"][0]["msg"]
    # A rule only the engine side knows: min_tokens above max_tokens.
    response = client.post(
        "/generate", json={"prompt": "x", "min_tokens": 9, "max_tokens": 4}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "min_tokens"


def test_a_prompt_the_tokenizer_keeps_nothing_of_gets_422(client):
    """Found by the fuzzing below: it was a 500. Which characters a tokenizer drops
    depends on its version (transformers 5.19 drops '\\x04', 5.17 keeps it), so the
    prompts come from the tokenizer this run has; one it keeps is answered."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(vl.models.resolve(vl.DEFAULT_MODEL))
    controls = [chr(c) for c in (*range(1, 32), 0x7F, 0xAD, 0x200B, 0xFEFF)]
    dropped = [c for c in controls if not tokenizer.encode(c, add_special_tokens=False)]
    kept = [c for c in controls if c not in dropped]
    for prompt in dropped[:2]:
        response = client.post("/generate", json={"prompt": ["Hi", prompt], **GREEDY})
        assert response.status_code == 422, (repr(prompt), response.text)
        assert response.json()["detail"][0]["loc"] == ["body", "prompt", 1]
        assert "has no tokens" in response.json()["detail"][0]["msg"]
    response = client.post("/generate", json={"prompt": kept[:2], **GREEDY})
    assert response.status_code == 200, response.text


def test_a_missing_or_wrong_key_gets_401(server):
    body = {"prompt": "The capital of France is", **GREEDY}
    for headers in ({}, {"Authorization": "Bearer not-the-key"}):
        assert (
            httpx.post(server.url + "/generate", json=body, headers=headers).status_code
            == 401
        )
        assert httpx.get(server.url + "/models", headers=headers).status_code == 401
    assert httpx.get(server.url + "/health").status_code == 200


def test_models_names_the_one_model_and_the_limits(client):
    (card,) = client.get("/models").json()
    assert card["id"] == vl.DEFAULT_MODEL
    assert card["limits"] == {
        "max_prompts": 8,
        "max_prompt_chars": 1000,
        "max_tokens": 16,
        "max_body_bytes": 1 << 20,  # the HTTP layer's defaults
        "max_concurrent": 64,
        "body_seconds": 30,  # a slow body: 408 after it
    }


COUNTS = [f"{k}, {k + 1}, {k + 2}, {k + 3}," for k in range(2, 98, 3)]
"""32 greedy prompts with known answers: each continues with its own next number."""


def test_32_concurrent_requests_each_get_their_own_answer(client, server, llm):
    params = {"temperature": 0, "max_tokens": 4}
    direct = vl.generate(llm, COUNTS, params, use_tqdm=False)

    async def send_all():
        async with httpx.AsyncClient(
            base_url=server.url, headers=server.headers, timeout=300
        ) as http:
            return await asyncio.gather(
                *(http.post("/generate", json={"prompt": p, **params}) for p in COUNTS)
            )

    responses = asyncio.run(send_all())
    assert [r.status_code for r in responses] == [200] * 32
    outputs = [r.json()["outputs"][0] for r in responses]
    assert [o["prompt"] for o in outputs] == COUNTS  # none lost, none swapped
    for prompt, out, gen in zip(COUNTS, outputs, direct):
        expected = str(int(prompt.split(",")[-2]) + 1)
        assert gen.text.split(",")[0].strip() == expected, (prompt, gen.text)
        assert out["text"].split(",")[0].strip() == expected, (prompt, out["text"])
    assert client.get("/health").status_code == 200  # and it still answers


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_fuzzing_from_the_openapi_schema_finds_no_server_error(server, mode):
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} == {"/health", "/models", "/generate"}
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
        negative_data_rejection,
    ]
    for operation in operations:
        if mode == GenerationMode.NEGATIVE and operation.method.upper() != "POST":
            continue  # GET /health and /models take no input that could be wrong

        @given(case=operation.as_strategy(mode))
        # The same 15 cases every run keep CI reproducible. For a wider search, raise
        # max_examples and drop derandomize (1,300 random cases passed on 2026-11-27).
        @settings(
            max_examples=15,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case):
            case.call_and_validate(headers=server.headers, timeout=120, checks=checks)

        try:
            call()
        except BaseException as exc:
            exc.add_note(f"server output:\n{server.log()}")
            raise
    assert httpx.get(server.url + "/health").status_code == 200


def test_the_app_in_process_logs_each_generation_with_its_engine(tmp_path, llm):
    """Each generation reaches the run logger (source "api") and the run log, whose
    row reads the engine's facts. The API's engine is an AsyncLLM, which has no
    llm_engine: reading that failed inside logging (no row, only a traceback on
    stderr) until the facts were built once for every kind of engine. One app, one
    engine start for both."""
    from fastapi.testclient import TestClient

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    runs = logging.getLogger("vlesson.runs")
    runs.addHandler(handler)
    old_level = runs.level
    runs.setLevel(logging.INFO)  # setLevel, not .level =: it clears the level cache
    path = tmp_path / "api-runs.jsonl"
    prompts = ["The capital of France is", "1, 2, 3,"]
    app = api.create_app(kv_cache_memory_bytes=512 << 20)
    try:
        # `with` runs the lifespan: the engine loads
        with vl.runlog.logging_to(path), TestClient(app) as client:
            response = client.post("/generate", json={"prompt": prompts, **GREEDY})
    finally:
        runs.removeHandler(handler)
        runs.setLevel(old_level)
    assert response.status_code == 200, response.text
    gens = [r.generation for r in records]
    assert all(isinstance(g, vl.Generation) for g in gens) and len(gens) == 2
    assert {g.prompt for g in gens} == set(prompts)
    assert {r.source for r in records} == {"api"}
    assert [o["text"] for o in response.json()["outputs"]] == [
        next(g.text for g in gens if g.prompt == p) for p in prompts
    ]
    rows = vl.runlog.load(path)
    assert len(rows) == 2, "the API's generations did not reach the run log"
    local = vl.engine_info(llm)
    assert set(rows["model"]) == {vl.DEFAULT_MODEL}
    assert set(rows["dtype"]) == {local["dtype"]}
    assert set(rows["max_model_len"]) == {local["max_model_len"]}
    assert set(rows["device"]) == {local["device"]}
    assert set(rows["kv_cache_memory_bytes"]) == {512 << 20}
    assert rows["vllm"].notna().all()


@pytest.mark.skipif(
    not vl.engine.is_cpu(), reason="a GPU generator rewinds; seeds work"
)
def test_a_cpu_server_with_chunked_prefill_refuses_seeds_and_stays_up():
    from fastapi.testclient import TestClient

    app = api.create_app(kv_cache_memory_bytes=512 << 20, max_num_batched_tokens=64)
    long_prompt = "word " * 100  # over one step's 64 tokens: its prefill is split
    with TestClient(app) as client:
        seeded = client.post(
            "/generate", json={"prompt": long_prompt, "seed": 1, **GREEDY}
        )
        plain = client.post("/generate", json={"prompt": long_prompt, **GREEDY})
        health = client.get("/health")
    assert seeded.status_code == 422, seeded.text
    assert seeded.json()["detail"][0]["field"] == "seed"
    assert "restart the server without --max-num-batched-tokens" in seeded.text
    assert plain.status_code == 200, plain.text
    assert health.status_code == 200, health.text
