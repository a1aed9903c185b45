"""compare_quantization's engine settings: eager engines on a GPU, the CPU's own defaults
on a CPU, and a variant's own setting wins (no engine starts here)."""

from __future__ import annotations

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
def test_every_variant_is_eager_on_a_gpu_only(monkeypatch, started, cpu):
    monkeypatch.setattr(quantization, "is_cpu", lambda: cpu)
    with pytest.raises(Started):
        quantization.compare_quantization({"float32": {"dtype": "float32"}})
    expected = (
        {"dtype": "float32"} if cpu else {"dtype": "float32", "enforce_eager": True}
    )
    assert started == [expected]


def test_a_variants_own_enforce_eager_wins_on_a_gpu(monkeypatch, started):
    monkeypatch.setattr(quantization, "is_cpu", lambda: False)
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
