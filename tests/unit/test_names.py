"""Names: did-you-mean suggestions and splitting."""

from __future__ import annotations

import pytest

from vlesson import names


def test_names_suggest_and_split():
    assert names.did_you_mean("temprature", ["temperature", "top_p"]) == (
        "did you mean 'temperature'?"
    )
    assert names.did_you_mean("zzz", ["temperature"], "use temperature") == (
        "use temperature"
    )
    assert names.split_assignments(" a=1, b = 2 ,", "name=value") == [
        ("a", "1"),
        ("b", "2"),
    ]
    with pytest.raises(ValueError, match="'a' must look like name=value"):
        names.split_assignments("a", "name=value")
