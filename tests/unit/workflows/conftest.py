"""A smart generator's result, made without an engine, for the smart and report
tests."""

from __future__ import annotations

import pytest

from vlesson.generate import Generation
from vlesson.workflows import smart


def _gen(text, logprob, n_tokens=10, temperature=0.7):
    params = {"temperature": temperature, "top_p": 0.9, "top_k": 0, "seed": 1}
    return Generation(
        "p",
        text,
        tuple(range(n_tokens)),
        "length",
        5,
        params,
        1.0,
        (logprob,) * n_tokens,
    )


@pytest.fixture
def result():
    texts = [
        ("focused", "Solar power | wind power\nand <b>hydro</b> grow `fast`.", -0.5),
        ("focused", "Solar solar solar solar solar solar.", -0.2),
        ("wild", "zq ## 42 %% blarg ```", -4.0),
        ("wild", "Energy storage changes\r\nthe grid \\ markets.", -1.5),
    ]
    rows = [
        smart._row(name, i, _gen(text, lp), 20)
        for i, (name, text, lp) in enumerate(texts)
    ]
    table = smart._ranked(rows, smart.WEIGHTS)
    return smart.SmartResult(
        "Future | energy", "prompt", table, dict(smart.WEIGHTS), 20, 0, "test-model"
    )
