"""compare_quantization's engine settings: eager engines on a GPU, the CPU's own defaults
on a CPU, and a variant's own setting wins (no engine starts here)."""

from __future__ import annotations

import re

import pytest

from vlesson.workflows import quantization


class Started(Exception):
    """Raised by the fake get_llm: the arguments are all this test needs."""


@pytest.fixture
def started(monkeypatch):
    calls = []

    def fake_get_llm(model=None, **kwargs):
        calls.append(kwargs)
        raise Started

    monkeypatch.setattr(quantization, "get_llm", fake_get_llm)
    return calls


@pytest.mark.parametrize("cpu", [True, False], ids=["cpu", "gpu"])
def test_every_variant_is_eager_so_that_their_speeds_compare(monkeypatch, started, cpu):
    # a CPU's default engine may run compiled (vlesson.compiled): 1.2-1.5x for that alone
    monkeypatch.setattr(quantization, "is_cpu", lambda: cpu)
    with pytest.raises(Started):
        quantization.compare_quantization({"float32": {"dtype": "float32"}})
    assert started == [{"dtype": "float32", "enforce_eager": True}]


def test_a_variants_own_enforce_eager_wins(monkeypatch, started):
    with pytest.raises(Started):
        quantization.compare_quantization({"compiled": {"enforce_eager": False}})
    assert started == [{"enforce_eager": False}]


def test_gptq_packing_round_trips_within_half_a_step():
    import torch

    weight = torch.randn(192, 576)
    packed = quantization.pack_gptq(weight, 64)
    assert packed["qweight"].shape == (72, 192) and packed["scales"].shape == (9, 192)
    back = quantization.unpack_gptq(packed)
    step = packed["scales"].float()[packed["g_idx"].long()].t()
    assert ((back - weight).abs() <= step / 2 + 1e-3).all()
    with pytest.raises(ValueError, match="group_size"):
        quantization.pack_gptq(weight, 128)


def test_agreement_counts_equal_positions():
    assert quantization.agreement([[1, 2, 3]], [[1, 2, 3]]) == 1.0
    assert quantization.agreement([[1, 2, 3, 4]], [[1, 9, 3]]) == 0.5


@pytest.fixture
def probe_script(monkeypatch, tmp_path):
    """Replace the probe's child (which would start an engine) by a script of one line."""
    monkeypatch.setenv("VLESSON_HOME", str(tmp_path))

    def use(code: str) -> None:
        monkeypatch.setattr(quantization, "_PROBE", code)

    return use


@pytest.mark.parametrize(
    ("child", "why"),
    [
        ("print('PROBE_SECONDS 0.3')", ""),
        (
            "print('PROBE_SECONDS 31.0')",
            "its kernel took 31 s for 4 tokens on this CPU",
        ),
        (
            "raise SystemExit('no CPU kernel')",
            "it fails on this CPU (.*): no CPU kernel",
        ),
        ("import time; time.sleep(30)", "gave no 4 tokens within 2 s on this CPU"),
    ],
    ids=["fast", "slow", "fails", "hangs"],
)
def test_a_kernel_probe_says_why_a_variant_cannot_run_here(probe_script, child, why):
    probe_script(child)
    got = quantization.probe_kernel(None, {"quantization": "fp8"}, deadline=2)
    if why:
        assert got.startswith("not run: ")
        assert re.search(why, got), got
    else:
        assert got == ""


def test_a_kernel_probe_is_kept_per_cpu_and_variant(probe_script):
    probe_script("print('PROBE_SECONDS 31.0')")
    slow = quantization.probe_kernel(None, {"quantization": "fp8"})
    probe_script("raise SystemExit('the child must not run again')")
    assert quantization.probe_kernel(None, {"quantization": "fp8"}) == slow
    assert "must not run" in quantization.probe_kernel(None, {"quantization": "gptq"})
    probe_script("print('PROBE_SECONDS 0.2')")  # a failure is tried again next time
    assert quantization.probe_kernel(None, {"quantization": "gptq"}) == ""


class _Scored:
    """An engine that scores every prompt token after the first at 1/4 (2 bits), with
    a tokenizer of one token per word; ``bos`` starts the prompt with a special token."""

    def __init__(self, bos: bool):
        self.bos = bos
        self.words: dict[int, str] = {}

    def get_tokenizer(self):
        words = self.words

        class Tokenizer:
            all_special_ids = (0,)

            def decode(self, ids):
                return "".join(words[i] for i in ids)

        return Tokenizer()

    def generate(self, prompts, params, use_tqdm=True):
        import math
        from types import SimpleNamespace

        from vllm.logprobs import Logprob

        pieces = re.findall(r"\S+\s*", prompts[0])
        self.words.update({i + 1: w for i, w in enumerate(pieces)})
        ids = ([0] if self.bos else []) + [i + 1 for i in range(len(pieces))]
        steps = [None] + [{t: Logprob(math.log(0.25), 1, None)} for t in ids[1:]]
        return [SimpleNamespace(prompt_token_ids=ids, prompt_logprobs=steps)]


@pytest.mark.parametrize("bos", [True, False], ids=["a BOS token", "no BOS token"])
def test_bits_per_byte_counts_the_bytes_of_the_scored_tokens(bos, monkeypatch):
    from vllm import SamplingParams

    monkeypatch.setattr(
        quantization, "make_sampling_params", lambda llm, **kw: SamplingParams(**kw)
    )
    passage = "ab cd éf"  # 9 bytes in UTF-8; "ab " is 3 of them
    llm = _Scored(bos)
    scored_tokens, scored_bytes = (3, 9) if bos else (2, 6)
    got = quantization.passage_bits_per_byte(llm, passage)
    assert got == pytest.approx(2 * scored_tokens / scored_bytes)
    assert quantization.passage_perplexity(llm, passage) == pytest.approx(4.0)
