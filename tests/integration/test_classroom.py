"""Classroom mode against a real vLLM server (the offline model, with an API key; one
per test session, conftest.py's ``server``): the remote path gives what the local engine
gives, in few requests, and every error a learner can hit says what is wrong.

Run under the engine lock: the server and the local engine both compute."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from class_server import KEY, ROOT, command_lines
from vllm import SamplingParams

import vlesson as vl
from vlesson import remote
from vlesson.cli import main as cli_main

GREEDY = {"temperature": 0, "max_tokens": 16}
NOTEBOOKS = {
    "07_self_assessment.ipynb": "the checkpoints",
    "02_playground.ipynb": "sliders and the next-token view",
    "03_models_memory_quantization.ipynb": "models and memory (what needs a local engine"
    " says so)",
    "04_batch_and_sweep.ipynb": "the scheduler, batch and sweep",
    "04b_run_log_and_cache.ipynb": "the run log and the result cache",
    "06_smart_generator_and_benchmark.ipynb": "the smart generator and the benchmark",
}
"""Run on the server, each with its learner's copy. `make test` runs the first (one to three
minutes each on a 2-core machine; the panel of 02 and the workflows of 03, 04, 04b and 06
have tests of their own on the server above); `make classroom-test` and the GPU session run
them all (VLESSON_CLASSROOM_NOTEBOOKS=all)."""
ON_THE_SERVER = list(NOTEBOOKS)[
    : None if os.environ.get("VLESSON_CLASSROOM_NOTEBOOKS") == "all" else 1
]


def test_make_classroom_server_tells_learners_the_address(server, server_log):
    shown = server_log.read_text()
    assert "vllm.entrypoints.openai.api_server" in shown
    assert f"export {remote.SERVER_ENV}={server}" in shown


def test_the_key_is_in_no_command_line_printed_or_in_the_process_list(
    server, server_log
):
    printed = [line for line in server_log.read_text().splitlines() if "api_server" in line]
    assert printed and all(KEY not in line for line in printed)
    assert any("api_server" in line for line in command_lines)
    assert all(KEY not in line for line in command_lines)


def test_the_servers_vllm_version_is_in_the_cache_key(remote_llm):
    import vllm

    assert remote_llm.facts.vllm_version == vllm.__version__
    assert remote_llm.facts.fingerprint["server"] == remote_llm.server


@pytest.fixture(scope="module")
def remote_llm(server):
    return remote.RemoteLLM(server, api_key=KEY)


EAGER_REFERENCE = """
import json, sys
import vlesson as vl
from vlesson.playground import widgets
prompts, greedy, prompt = json.loads(sys.argv[1])
llm = vl.get_llm(enforce_eager=True)
gens = vl.generate(llm, prompts, greedy, use_tqdm=False)
print("RESULT " + json.dumps({
    "greedy": [[g.text, g.token_ids, g.prompt_tokens, g.logprobs] for g in gens],
    "next_token": list(widgets.next_token(llm, prompt).logprobs)}))
"""


@pytest.fixture(scope="module")
def eager_local(example_prompts):
    """What a local engine with the class server's arguments gives (eager mode, as
    ``make classroom-server`` starts it; the session's engine runs compiled where
    ``make model`` compiled it, and compiled bf16 may pick another token on a near
    tie): the greedy generations and the next-token view's candidates."""
    import json

    arg = json.dumps([example_prompts, GREEDY, "The capital of France is"])
    done = subprocess.run([sys.executable, "-c", EAGER_REFERENCE, arg], capture_output=True,
                          text=True, timeout=600, check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line is not None, done.stderr[-2000:]
    return json.loads(line[len("RESULT "):])


def test_greedy_through_the_server_equals_the_local_engine(
    eager_local, remote_llm, example_prompts
):
    served = vl.generate(remote_llm, example_prompts, GREEDY, use_tqdm=False)
    local = eager_local["greedy"]
    assert [g.text for g in served] == [text for text, *_ in local]
    assert [list(g.token_ids) for g in served] == [ids for _, ids, *_ in local]
    assert [g.prompt_tokens for g in served] == [n for _, _, n, _ in local]
    assert "Paris" in served[2].text and served[2].finish_reason in ("stop", "length")
    for mine, (*_, theirs) in zip(served, local):
        assert list(mine.logprobs) == pytest.approx(theirs, abs=0.1)


def test_top_logprobs_give_the_next_token_view(llm, remote_llm):
    params = vl.make_sampling_params(llm, max_tokens=1, temperature=0, logprobs=5)
    local = llm.generate(["The capital of France is"], [params], use_tqdm=False)
    served = remote_llm.generate(["The capital of France is"], [params], use_tqdm=False)
    mine, theirs = served[0].outputs[0].logprobs[0], local[0].outputs[0].logprobs[0]
    assert list(mine) == list(theirs)  # the chosen token first, then by rank
    assert [p.decoded_token for p in mine.values()] == [
        p.decoded_token for p in theirs.values()
    ]
    assert [p.rank for p in mine.values()] == [p.rank for p in theirs.values()]
    assert mine[7042].decoded_token == " Paris"


def test_a_workload_goes_out_as_one_request_per_set_of_settings(
    remote_llm, example_prompts
):
    sent = []
    create = remote_llm.client.completions.create

    def recorder(**kwargs):
        sent.append(kwargs["prompt"])
        return create(**kwargs)

    remote_llm.client.completions.create = recorder
    try:
        same = vl.generate(
            remote_llm, example_prompts, {"max_tokens": 4, "seed": 1}, use_tqdm=False
        )
        two = [SamplingParams(max_tokens=4, temperature=t, seed=1) for t in (0.5, 1.0)]
        mixed = vl.generate(remote_llm, example_prompts, two * 2, use_tqdm=False)
    finally:
        del remote_llm.client.completions.create
    assert sent[0] == example_prompts and len(sent) == 3
    assert sorted(map(tuple, sent[1:])) == sorted(
        [tuple(example_prompts[0::2]), tuple(example_prompts[1::2])]
    )
    assert [g.prompt for g in mixed] == example_prompts  # back in the caller's order
    assert [g.params["temperature"] for g in mixed] == [0.5, 1.0, 0.5, 1.0]
    assert all(g.num_tokens == 4 for g in same + mixed)


def test_seeds_and_n_work_on_the_server(remote_llm):
    def run(seed):
        params = SamplingParams(temperature=1.0, max_tokens=12, seed=seed, n=2)
        return remote_llm.generate(["The future of AI is"], params, use_tqdm=False)[0]

    first, again, other = run(7), run(7), run(8)
    assert [o.token_ids for o in first.outputs] == [o.token_ids for o in again.outputs]
    assert [o.token_ids for o in first.outputs] != [o.token_ids for o in other.outputs]
    assert len(first.outputs) == 2


@pytest.fixture
def no_warm_engine(monkeypatch):
    """Let a test warm a remote engine without shutting the session's local one."""
    monkeypatch.setattr(vl.engine, "_warm", None)
    yield
    vl.release()


def test_get_llm_chooses_the_server_and_engine_info_says_so(
    server, monkeypatch, no_warm_engine
):
    monkeypatch.setenv(remote.SERVER_ENV, server)
    monkeypatch.setenv(remote.API_KEY_ENV, KEY)
    llm = vl.get_llm()
    assert vl.get_llm() is llm and vl.engine.is_remote(llm)
    info = vl.engine_info(llm)
    assert info["device"] == "remote" and info["server"] == server
    assert info["model"] == vl.DEFAULT_MODEL and info["max_model_len"] == 8192
    with pytest.raises(vl.ParamError, match="context length"):
        vl.make_sampling_params(llm, max_tokens=10**6)
    assert llm.get_tokenizer().encode("Paris", add_special_tokens=False) == [38634]


def test_the_cli_generates_on_the_server(server, capsys, monkeypatch, no_warm_engine):
    monkeypatch.setenv(remote.API_KEY_ENV, KEY)
    code = cli_main(
        [
            "generate",
            "--server",
            server,
            "--prompt",
            "The capital of France is",
            "--max-tokens",
            "8",
            "--temperature",
            "0",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "device: remote" in out and "Paris" in out
    code = cli_main(
        ["generate", "--server", server, "--dtype", "float32"]
    )
    assert code != 0
    assert "needs a local engine" in capsys.readouterr().err


def test_the_slider_panel_and_next_token_view_on_the_server(eager_local, remote_llm):
    widgets = pytest.importorskip("vlesson.playground.widgets")
    panel = widgets.panel(
        remote_llm, "The capital of France is", temperature=0.0, max_tokens=12
    )
    first = panel.generation
    assert panel.error is None and "Paris" in first.text
    panel.controls["max_tokens"].value = 4  # a learner moves a slider
    assert panel.generation.token_ids == first.token_ids[:4]
    assert "max_tokens=4" in panel.outputs["settings"].value
    panel.controls["seed"].value = "forty-two"
    assert "seed must be an integer" in panel.outputs["settings"].value
    served = widgets.next_token(remote_llm, "The capital of France is")
    # same candidates, same order as an engine with the server's arguments
    assert list(served.logprobs) == eager_local["next_token"]
    assert served.reshaped.candidates[0].token == " Paris"
    served.controls["top_k"].value = 1
    assert served.reshaped.kept == 1 and served.error is None


def test_a_sweep_on_the_server_is_one_seeded_request_per_setting(
    remote_llm, monkeypatch
):
    """Each setting is one request with the sweep's seed. The same text twice is not
    asserted: a server batches whatever arrives, and vLLM repeats a seeded request
    exactly only in the same batch (or with its batch-invariant kernels, which the CPU
    build lacks); on a bf16 server the second sweep parted at its 5th token."""
    from vlesson.workflows import sweep

    sent = []
    real = remote_llm._complete
    monkeypatch.setattr(
        remote_llm, "_complete", lambda job: sent.append(job) or real(job)
    )
    grid = {"temperature": [0.3, 1.1], "top_p": [0.7, 0.99]}
    prompts = ["The future of AI is", "Hello, my name is"]

    def run():
        return sweep.run(
            remote_llm, prompts, grid, base={"max_tokens": 8}, seed=5, use_tqdm=False
        )

    table, again = run(), run()
    assert [len(job.prompts) for job in sent] == [2] * 8  # 4 settings x 2 runs
    assert [job.fields["seed"] for job in sent] == [5] * 8
    settings = {(job.fields["temperature"], job.fields["top_p"]) for job in sent}
    assert len(settings) == 4
    for frame in (table, again):
        assert len(frame) == 8 and (frame["num_tokens"] <= 8).all()
    assert table["mean_logprob"].lt(0).all()  # logprobs came back through the API


def test_batch_sweep_and_run_log_commands_on_the_server(
    server, tmp_path, capsys, monkeypatch, no_warm_engine
):
    from vlesson.workflows import batch, runlog

    monkeypatch.setenv(remote.API_KEY_ENV, KEY)
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("The capital of France is\n" + "word " * 9000 + "\nHello\n")
    log = tmp_path / "runs.jsonl"
    remote_args = ["--server", server, "--max-tokens", "8"]
    code = cli_main(
        [
            "batch",
            "--prompts-file",
            str(prompts),
            "--out",
            str(tmp_path / "batch"),
            "--log",
            str(log),
            *remote_args,
        ]
    )
    assert code == 1  # one prompt could not be done; the others are
    rows = batch.read_manifest(tmp_path / "batch")
    # The server's tokenizer and context length caught the 9000-word prompt.
    assert [r["status"] for r in rows].count("error") == 1
    assert [r["status"] for r in rows].count("ok") == 2
    assert (
        cli_main(
            [
                "sweep",
                "--prompt",
                "The capital of France is",
                "--grid",
                "temperature=0.3,1.1",
                "--out",
                str(tmp_path / "sweep"),
                "--log",
                str(log),
                *remote_args,
            ]
        )
        == 0
    )
    assert "recommended for diverse" in capsys.readouterr().out
    assert (tmp_path / "sweep" / "results_temp1.1.txt").is_file()
    df = runlog.load(log)
    assert len(df) == 4 and (df["device"] == "remote").all()
    assert (df["model"] == vl.DEFAULT_MODEL).all() and (
        df["max_model_len"] == 8192
    ).all()


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ("path", "answered 404 Not Found .* usually ends in /v1"),
        ("model", "does not serve model 'facebook/opt-125m'; it serves 'smollm2"),
        ("no key", "wants an API key and none was given - set VLESSON_SERVER_API_KEY"),
        ("wrong key", "refused the API key 'wr...' - check VLESSON_SERVER_API_KEY"),
    ],
)
def test_learner_mistakes_get_clear_errors(server, monkeypatch, change, needle):
    monkeypatch.delenv(remote.API_KEY_ENV, raising=False)
    url, kwargs = server, {"api_key": KEY}
    if change == "path":
        url = server.removesuffix("/v1") + "/api"
    elif change == "model":
        kwargs["model"] = "facebook/opt-125m"
    elif change == "no key":
        kwargs = {}
    else:
        kwargs = {"api_key": "wrong-key"}
    with pytest.raises(vl.RemoteError, match=needle):
        remote.RemoteLLM(url, **kwargs)


def test_a_timeout_is_reported_within_the_calls_time_budget(server):
    slow = remote.RemoteLLM(server, api_key=KEY, timeout=2.0, attempts=3)
    start = time.monotonic()
    with pytest.raises(vl.RemoteError, match="did not answer within 2 s"):
        slow.generate(
            ["Tell me a long story."],
            SamplingParams(max_tokens=2000, ignore_eos=True),
            use_tqdm=False,
        )
    assert time.monotonic() - start < 2.0 + 2.0  # the budget plus one back-off


@pytest.mark.parametrize("name", ON_THE_SERVER)
def test_a_notebook_runs_end_to_end_on_the_server(server, server_log, name):
    notebook = ROOT / "notebooks" / name
    before = server_log.read_text().count("POST /v1/completions")
    env = {**os.environ, remote.SERVER_ENV: server, remote.API_KEY_ENV: KEY}
    # Shell cells run `!vlesson ...`: the venv's commands first, as `make test` does.
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env["PATH"]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--nbval-lax",
            "--nbval-current-env",
            "--nbval-cell-timeout=600",
            str(notebook),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    # Its generations went to the server, not to an engine of its own.
    assert server_log.read_text().count("POST /v1/completions") > before
