"""Quiet by default in a notebook as on the command line (``engine.py``,
``generate.py``): vLLM's import-time warnings and torch's FutureWarnings stay out,
and a local engine's generate shows none of vLLM's progress bars."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

from vllm import SamplingParams

from vlesson.facts import EngineFacts
from vlesson.generate import generate


def _stderr_of(code: str) -> str:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
        env=env, check=False,
    ).stderr


def test_importing_vllm_after_vlesson_prints_no_triton_line():
    err = _stderr_of(
        "import vlesson.engine\nfrom vllm.triton_utils import importing\nprint('ok')"
    )
    assert "Triton is installed" not in err, err


def test_torchs_reduce_op_future_warning_is_not_shown():
    err = _stderr_of(
        "import warnings\nwarnings.simplefilter('default')\n"
        "import vlesson.engine\nimport torch.distributed as dist\n"
        "dist.reduce_op.SUM\n"
    )
    assert "reduce_op" not in err, err


class _Local:
    """A local engine that records what vLLM's generate is asked."""

    facts = EngineFacts(model="fake", device="cpu")
    llm_engine = object()

    def __init__(self):
        self.use_tqdm = []

    def get_default_sampling_params(self):
        return SamplingParams()

    def generate(self, prompts, params, use_tqdm=True):
        self.use_tqdm.append(use_tqdm)
        return [
            SimpleNamespace(
                prompt=p, prompt_token_ids=[1], outputs=[SimpleNamespace(
                    text="x", token_ids=[2], finish_reason="length",
                    cumulative_logprob=None, logprobs=None)],
            )
            for p in prompts
        ]


def test_vl_generate_shows_none_of_vllms_bars_on_a_local_engine():
    llm = _Local()
    generate(llm, ["a", "b"], {"max_tokens": 1})
    generate(llm, ["a"], {"max_tokens": 1}, use_tqdm=True)
    assert llm.use_tqdm == [False, False]
