"""Classroom mode without a server: request fields, grouping, response conversion,
model choice, the server command line, and the errors raised before any request.

The responses below are real answers of vLLM 0.32's server (trimmed), recorded once."""

from __future__ import annotations

import http.server
import itertools
import logging
import socket
import threading
import time

import pytest

import vlesson as vl
from vlesson import completions, engine, remote, settings
from vlesson.cli import generate as gen_cli
from vlesson.generate import from_request_output
from vlesson.serving import classroom

GREEDY_TWO_PROMPTS = {  # logprobs=0, return_token_ids, prompts [France, Hello]
    "id": "cmpl-928ed46c4b7f421d",
    "choices": [
        {
            "index": 1,
            "text": " Alex, and I'm",
            "finish_reason": "length",
            "stop_reason": None,
            "token_ids": [5325, 28, 284, 339, 5248],
            "prompt_token_ids": [19556, 28, 957, 1462, 314],
            "logprobs": {
                "tokens": [" Alex", ",", " and", " I", "'m"],
                "token_logprobs": [-2.0118, -1.3188, -0.3856, -0.0356, -0.6593],
                "top_logprobs": [
                    {" Alex": -2.0118},
                    {",": -1.3188},
                    {" and": -0.3856},
                    {" I": -0.0356},
                    {"'m": -0.6593},
                ],
            },
        },
        {
            "index": 0,
            "text": " Paris.\n\nThe",
            "finish_reason": "length",
            "stop_reason": None,
            "token_ids": [7042, 30, 198, 198, 504],
            "prompt_token_ids": [504, 3575, 282, 4649, 314],
            "logprobs": {
                "tokens": [" Paris", ".", "\n", "\n", "The"],
                "token_logprobs": [-0.2692, -0.3565, -0.9824, -0.8504, -2.0048],
                "top_logprobs": [
                    {" Paris": -0.2692},
                    {".": -0.3565},
                    {"\n": -0.9824},
                    {"\n": -0.8504},
                    {"The": -2.0048},
                ],
            },
        },
    ],
}
TOP3_AS_IDS = {  # logprobs=3, return_tokens_as_token_ids
    "id": "cmpl-9cdbd0a2e276a660",
    "choices": [
        {
            "index": 0,
            "text": " Paris.",
            "finish_reason": "length",
            "stop_reason": None,
            "token_ids": [7042, 30],
            "prompt_token_ids": [504, 3575, 282, 4649, 314],
            "logprobs": {
                "tokens": ["token_id:7042", "token_id:30"],
                "token_logprobs": [-0.2692, -0.3885],
                "top_logprobs": [
                    {
                        "token_id:7042": -0.2692,
                        "token_id:260": -2.7067,
                        "token_id:4528": -4.4567,
                    },
                    {
                        "token_id:30": -0.3885,
                        "token_id:28": -1.6385,
                        "token_id:284": -3.0135,
                    },
                ],
            },
        },
    ],
}
NAMES = {7042: " Paris", 260: " a", 4528: " the", 30: ".", 28: ",", 284: " and"}


def SamplingParams(**kwargs):
    """Build vLLM's SamplingParams; importing vLLM at collection time would start
    torch's threads before test_cache forks its worker processes."""
    from vllm import SamplingParams as real

    return real(**kwargs)


def job_for(params, prompts):
    return completions.plan_requests(
        prompts, [completions.request_fields(params)] * len(prompts)
    )[0]


def test_sampling_params_become_openai_arguments_and_vllm_extras():
    params = SamplingParams(
        temperature=0.7,
        top_p=0.9,
        top_k=20,
        max_tokens=32,
        seed=3,
        min_tokens=2,
        repetition_penalty=1.1,
        stop=["\n"],
        ignore_eos=True,
        logit_bias={5: -1.0},
    )
    standard, extra = job_for(params, ["x"]).split_fields()
    assert standard["temperature"] == 0.7 and standard["top_p"] == 0.9
    assert standard["max_tokens"] == 32 and standard["seed"] == 3
    assert standard["stop"] == ["\n"] and standard["logit_bias"] == {"5": -1.0}
    assert "logprobs" not in standard  # not asked: not sent
    assert extra["top_k"] == 20 and extra["min_tokens"] == 2
    assert extra["repetition_penalty"] == 1.1 and extra["ignore_eos"] is True
    assert extra["return_token_ids"] is True
    assert extra["return_tokens_as_token_ids"] is False
    top = completions.request_fields(SamplingParams(logprobs=5))
    assert top["logprobs"] == 5 and top["return_tokens_as_token_ids"] is True


def test_fields_a_request_cannot_carry_are_named():
    assert completions.unsupported_fields(SamplingParams(temperature=0.2)) == []
    assert completions.unsupported_fields(SamplingParams(prompt_logprobs=2)) == [
        "prompt_logprobs"
    ]


def test_prompts_sharing_settings_go_in_one_request_in_order():
    hot = completions.request_fields(SamplingParams(temperature=1.0, seed=1))
    cold = completions.request_fields(SamplingParams(temperature=0.0))
    jobs = completions.plan_requests(list("abcde"), [hot, cold, hot, hot, cold])
    assert [(j.indices, j.prompts) for j in jobs] == [
        ((0, 2, 3), ("a", "c", "d")),
        ((1, 4), ("b", "e")),
    ]
    chunks = completions.plan_requests(list("abcde"), [hot] * 5, max_prompts=2)
    assert [j.indices for j in chunks] == [(0, 1), (2, 3), (4,)]


def test_a_response_becomes_vllm_request_outputs_and_generations():
    params = SamplingParams(temperature=0, max_tokens=5, logprobs=0)
    prompts = ["The capital of France is", "Hello, my name is"]
    outputs = completions.to_request_outputs(
        GREEDY_TWO_PROMPTS, job_for(params, prompts), {}
    )
    assert [o.prompt for o in outputs] == prompts  # sorted back by choice index
    gen = from_request_output(outputs[0], params, 1.0)
    assert gen.text == " Paris.\n\nThe" and gen.token_ids == (7042, 30, 198, 198, 504)
    assert gen.prompt_tokens == 5 and gen.finish_reason == "length"
    assert gen.logprobs == (-0.2692, -0.3565, -0.9824, -0.8504, -2.0048)
    assert outputs[0].outputs[0].logprobs[0][7042].decoded_token == " Paris"
    assert outputs[0].outputs[0].cumulative_logprob == pytest.approx(sum(gen.logprobs))


def test_top_logprobs_keep_ids_ranks_and_the_chosen_token_first():
    job = job_for(SamplingParams(temperature=0, max_tokens=2, logprobs=3), ["France"])
    assert completions.ids_to_name([job], [TOP3_AS_IDS]) == set(NAMES)
    steps = (
        completions.to_request_outputs(TOP3_AS_IDS, job, NAMES)[0].outputs[0].logprobs
    )
    first = steps[0]
    assert list(first) == [7042, 260, 4528]
    assert [first[t].rank for t in first] == [1, 2, 3]
    assert first[260].decoded_token == " a" and first[260].logprob == -2.7067
    # The sampled token outside the top k: vLLM adds it, and its rank is unknown.
    outside = {
        **TOP3_AS_IDS,
        "choices": [
            {
                **TOP3_AS_IDS["choices"][0],
                "logprobs": {
                    **TOP3_AS_IDS["choices"][0]["logprobs"],
                    "top_logprobs": [
                        {
                            "token_id:7042": -0.2692,
                            "token_id:260": -2.7,
                            "token_id:4528": -4.4,
                        },
                        {
                            "token_id:30": -5.0,
                            "token_id:28": -0.1,
                            "token_id:284": -0.2,
                            "token_id:5": -0.3,
                        },
                    ],
                },
            }
        ],
    }
    job2 = job_for(SamplingParams(temperature=1, max_tokens=2, logprobs=3), ["France"])
    second = completions.to_request_outputs(outside, job2, {**NAMES, 5: "&"})[0]
    step = second.outputs[0].logprobs[1]
    assert next(iter(step)) == 30 and step[30].rank is None
    assert [step[t].rank for t in (28, 284, 5)] == [1, 2, 3]


def test_a_short_response_is_an_error_not_a_silent_gap():
    job = job_for(SamplingParams(n=2, temperature=1), ["a", "b"])
    with pytest.raises(ValueError, match="returned 2 completions for 2 prompts x n=2"):
        completions.to_request_outputs(GREEDY_TWO_PROMPTS, job, {})


CARDS = [
    {
        "id": "smollm2-135m-instruct",
        "root": "/models/smollm2-135m-instruct",
        "parent": None,
        "max_model_len": 8192,
    },
    {"id": "my-lora", "root": "/adapters/lora", "parent": "smollm2-135m-instruct"},
]


def test_the_served_model_is_found_by_name_or_folder_and_listed_when_missing():
    assert (
        remote.pick_model(CARDS, None, "http://h/v1")["id"] == "smollm2-135m-instruct"
    )
    assert remote.pick_model(CARDS, "my-lora", "http://h/v1")["id"] == "my-lora"
    assert remote.pick_model(CARDS, "/models/smollm2-135m-instruct", "u")["id"] == (
        "smollm2-135m-instruct"
    )
    with pytest.raises(
        vl.RemoteUnsupportedError,
        match="does not serve model 'facebook/opt-125m'; it serves "
        "'smollm2-135m-instruct', 'my-lora'",
    ):
        remote.pick_model(CARDS, "facebook/opt-125m", "http://h/v1")
    with pytest.raises(vl.RemoteError, match="serves no model"):
        remote.pick_model([], None, "http://h/v1")


def test_server_command_carries_vlesson_defaults_and_extra_flags_last(monkeypatch):
    monkeypatch.setattr(
        engine, "is_cpu", lambda: True
    )  # the CPU defaults, on any machine
    command = classroom.server_command(port=8123, extra=["--tensor-parallel-size", "2"])
    assert command[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert command[command.index("--served-model-name") + 1] == vl.DEFAULT_MODEL
    assert command[command.index("--port") + 1] == "8123"
    dtype = engine.engine_defaults()["dtype"]
    assert command[command.index("--dtype") + 1] == dtype  # same as a local engine
    assert "--enforce-eager" in command and "--kv-cache-memory-bytes" in command
    assert (
        "--no-enable-chunked-prefill" in command
    )  # a False default, said as vLLM says it
    assert command[-2:] == ["--tensor-parallel-size", "2"]
    fraction = classroom.server_command(extra=["--gpu-memory-utilization", "0.5"])
    assert "--kv-cache-memory-bytes" not in fraction
    budget = classroom.server_command(extra=["--max-num-batched-tokens=1024"])
    assert "--no-enable-chunked-prefill" not in budget  # vLLM needs chunks for it


def test_engine_arguments_on_a_server_say_they_need_a_local_engine(monkeypatch):
    monkeypatch.setenv(remote.SERVER_ENV, "http://127.0.0.1:9/v1")
    with pytest.raises(
        vl.RemoteUnsupportedError,
        match=r"Setting engine arguments \(gpu_memory_utilization=0.5\) "
        "needs a local engine: vlesson is using http://127.0.0.1:9/v1",
    ):
        vl.get_llm(gpu_memory_utilization=0.5, seed=7)  # seed: each request has it
    # Statistics on (notebooks 04, 06): the server has its own, so it is no refusal;
    # the call goes on to the server (none listens on port 9).
    with pytest.raises(vl.RemoteError, match="cannot reach the vLLM server") as raised:
        vl.get_llm(disable_log_stats=False)
    assert not isinstance(raised.value, vl.RemoteUnsupportedError)
    with pytest.raises(vl.RemoteError, match="must start with http:// or https://"):
        vl.get_llm(server="localhost:8000/v1")


def test_an_unreachable_server_is_named_after_bounded_retries(caplog):
    caplog.set_level(logging.INFO, "openai")
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(vl.RemoteError, match=f"cannot reach the vLLM server at {url}"):
        remote.RemoteLLM(url, attempts=2)
    # the openai client's own retry, once; its words change with its release:
    # "Retrying request to /models in 0.4 seconds" (openai 2.8, the GPU set-up),
    # "Retrying request in 0.4 seconds (retry 1 of 1)" (the CPU lock's)
    assert caplog.text.count("Retrying request") == 1, caplog.text


def test_cli_offers_server_and_hands_it_to_get_llm():
    parser = gen_cli.build_parser()
    args = gen_cli.parse(parser, ["--server", "http://h:8000/v1"])
    engine_args, _ = settings.split_args(parser, args, gen_cli.OWN_OPTIONS)
    assert engine_args == {"server": "http://h:8000/v1", "model": None}
    assert "Classroom" in [g.title for g in parser._action_groups]


def _serve(handler_cls):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_busy_server_is_retried_by_the_openai_client_honouring_retry_after():
    seen = []

    class Busy(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(time.monotonic())
            self.send_response(503)
            self.send_header("Retry-After", "1")  # the client honours 0 < s <= 60
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = _serve(Busy)
    try:
        url = f"http://127.0.0.1:{server.server_port}/v1"
        with pytest.raises(vl.RemoteError, match="HTTP 503"):
            remote.RemoteLLM(url, attempts=3, timeout=10)
    finally:
        server.shutdown()
    assert len(seen) == 3  # the first try and two retries
    # Retry-After: 1 s between tries (the client's own back-off would wait 0.5 s).
    assert all(later - earlier >= 0.9 for earlier, later in itertools.pairwise(seen)), seen


def test_one_call_is_bounded_in_total_time_not_per_try():
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        start = time.monotonic()
        with pytest.raises(vl.RemoteError, match="did not answer within 1 s"):
            remote.RemoteLLM(url, attempts=3, timeout=1.0)
        took = time.monotonic() - start
    # Tries of 1 s each would take 3 s and more. The 1 s budget plus, on openai 2.x (vLLM
    # 0.24's), the client's own back-off between tries that fail at once (0.5 + 1 s at most).
    assert took < 2.7, f"one call took {took:.1f} s with a 1 s budget"


def test_the_openai_client_does_the_retries():
    """A server that drops every connection sees the first try and two retries,
    counted where they arrive (not in vlesson's own message)."""
    accepted = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.settimeout(0.2)

        def drop() -> None:
            while not done.is_set():
                try:
                    connection, _ = listener.accept()
                except (TimeoutError, OSError):
                    continue
                accepted.append(time.monotonic())
                connection.close()

        done = threading.Event()
        thread = threading.Thread(target=drop, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        try:
            with pytest.raises(vl.RemoteError, match="3 tries"):
                remote.RemoteLLM(url, attempts=3, timeout=10)
        finally:
            done.set()
            thread.join(5)
    assert len(accepted) == 3


