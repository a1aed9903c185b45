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
