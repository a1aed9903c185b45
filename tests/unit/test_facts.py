"""EngineFacts: frozen, its fingerprint and info; a server's facts name the server."""

from __future__ import annotations

import dataclasses

import pytest

from vlesson import facts
from vlesson.facts import EngineFacts, engine_facts


def test_a_servers_cache_key_names_the_server_and_an_unknown_dtype():
    one = EngineFacts(model="m", device="remote", server_url="http://a:8000/v1")
    two = EngineFacts(model="m", device="remote", server_url="http://b:8000/v1")
    assert one.fingerprint != two.fingerprint
    assert one.fingerprint["server"] == "http://a:8000/v1"
    assert one.fingerprint["dtype"] == facts.UNKNOWN_DTYPE
    local = EngineFacts(model="m", dtype="bfloat16")
    assert (
        "server" not in local.fingerprint and local.fingerprint["dtype"] == "bfloat16"
    )


def test_facts_are_frozen_and_give_fingerprint_and_info():
    facts = EngineFacts(
        model="m",
        model_path="m",
        tokenizer="m",
        dtype="float32",
        max_model_len=8192,
        device="remote",
        server_url="http://h/v1",
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        facts.dtype = "bfloat16"
    assert facts.is_remote and not facts.seeds_break_on_split_prompts
    assert facts.fingerprint["max_model_len"] == 8192
    assert facts.info()["server"] == "http://h/v1"
    fake = type("Fake", (), {"facts": facts})()
    assert engine_facts(fake) is facts
