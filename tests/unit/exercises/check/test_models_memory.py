"""Notebook 03's checks: reference answers pass, typical wrong answers get their hint,
stubs are "not attempted" (the engine: a fake here, the real one in the notebook)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.lesson_answers import (
    fractions_table,
    reference,
    request_output,
    says,
    source,
)
from vlesson.exercises.check import models_memory as checks
from vlesson.facts import EngineFacts

pytestmark = pytest.mark.usefixtures("scratch_progress")

NB = "03_models_memory_quantization"


SMOLLM2 = {
    "model_type": "llama",
    "architectures": ["LlamaForCausalLM"],
    "hidden_size": 576,
    "num_attention_heads": 9,
    "num_key_value_heads": 3,
    "num_hidden_layers": 30,
    "head_dim": 64,
    "intermediate_size": 1536,
    "vocab_size": 49152,
}


class FakeLLM:
    """SmolLM2's shape and KV cache (1 GiB bf16: 46,592 tokens); answers in 3 tokens
    unless min_tokens or ignore_eos keeps it going."""

    def __init__(self, folder):
        (folder / "config.json").write_text(json.dumps(SMOLLM2))
        self.facts = EngineFacts(
            model="fake",
            model_path=str(folder),
            dtype="bfloat16",
            kv_cache_bytes=1 << 30,
            kv_cache_tokens=46592,
            block_size=128,
        )

    def generate(self, prompts, params, use_tqdm=True):
        if not isinstance(params, list):
            params = [params] * len(prompts)
        return [self._one(p) for p in params]

    @staticmethod
    def _one(params):
        n = params.max_tokens if (params.min_tokens or params.ignore_eos) else 3
        reason = "length" if n == params.max_tokens else "stop"
        return request_output("", "", list(range(n)), reason)


# -- 2.5 ---------------------------------------------------------------------------------

FOCUSED_WRONG = {
    "no min_tokens": (
        "temperature=0.4, top_p=0.8, top_k=20, max_tokens=150",
        "max_tokens is only a ceiling",
    ),
    "greedy": (
        "temperature=0, top_k=20, max_tokens=150, min_tokens=150",
        "0 is greedy",
    ),
    "hot": (
        "temperature=1.0, top_p=0.8, top_k=20, max_tokens=150, min_tokens=150",
        "focused means low",
    ),
    "wide nucleus": (
        "temperature=0.4, top_k=20, max_tokens=150, min_tokens=150",
        "narrow nucleus",
    ),
    "no top_k": (
        "temperature=0.4, top_p=0.8, max_tokens=150, min_tokens=150",
        "top_k is 0",
    ),
    "150 as min only": (
        "temperature=0.4, top_p=0.8, top_k=20, min_tokens=150, max_tokens=200",
        "max_tokens is 200",
    ),
}


@pytest.mark.parametrize("name", FOCUSED_WRONG)
def test_focused_wrong_answers_get_their_hint(name, tmp_path):
    args, hint = FOCUSED_WRONG[name]
    ns = source(f"from vllm import SamplingParams\nfocused = SamplingParams({args})\n")
    says(checks.focused_params(ns["focused"], FakeLLM(tmp_path)), "wrong", hint)


def test_focused_a_dict_is_not_sampling_params(tmp_path):
    says(
        checks.focused_params({"temperature": 0.4}, FakeLLM(tmp_path)),
        "wrong",
        "build vLLM's SamplingParams",
    )


def test_focused_reference_passes_with_evidence(tmp_path):
    verdict = checks.focused_params(reference(NB, "2.5")["focused"], FakeLLM(tmp_path))
    says(verdict, "right", "every seed")
    assert list(verdict.evidence["num_tokens"]) == [150, 150, 150]
    says(checks.focused_params(..., FakeLLM(tmp_path)), "not attempted")


def test_focused_a_slow_generation_shows_its_time(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(checks, "STATUS_DELAY_S", 0.0)  # the fake is never slow
    checks.focused_params(reference(NB, "2.5")["focused"], FakeLLM(tmp_path))
    shown = capsys.readouterr().err
    assert "checking: generating 3 seeds x 150 tokens" in shown
    assert "checked: generated 3 seeds x 150 tokens in 00:00" in shown


# -- 2.6 ---------------------------------------------------------------------------------

KV_HEAD = "def kv_cache_tokens(config, dtype_bytes, cache_bytes, block_size):\n"
KV_WRONG = {
    "no key AND value": (
        (
            "    per = config.num_hidden_layers * config.num_key_value_heads"
            " * config.head_dim * dtype_bytes\n"
            "    return cache_bytes // (per * block_size) * block_size\n"
        ),
        "a key AND a value",
    ),
    "query heads": (
        (
            "    per = 2 * config.num_hidden_layers * config.num_attention_heads"
            " * config.head_dim * dtype_bytes\n"
            "    return cache_bytes // (per * block_size) * block_size\n"
        ),
        "grouped-query attention",
    ),
    "one layer": (
        (
            "    per = 2 * config.num_key_value_heads * config.head_dim * dtype_bytes\n"
            "    return cache_bytes // (per * block_size) * block_size\n"
        ),
        "every layer keeps its own",
    ),
    "head size derived": (
        (
            "    head = config.hidden_size // config.num_attention_heads\n"
            "    per = 2 * config.num_hidden_layers * config.num_key_value_heads"
            " * head * dtype_bytes\n"
            "    return cache_bytes // (per * block_size) * block_size\n"
        ),
        "head_dim",
    ),
    "no whole blocks": (
        (
            "    per = 2 * config.num_hidden_layers * config.num_key_value_heads"
            " * config.head_dim * dtype_bytes\n"
            "    return cache_bytes // per\n"
        ),
        "whole blocks",
    ),
    "hard-coded": ("    return 46592\n", "what does ONE token store"),
}


@pytest.mark.parametrize("name", KV_WRONG)
def test_kv_cache_wrong_answers_get_their_hint(name, tmp_path):
    body, hint = KV_WRONG[name]
    fn = source(KV_HEAD + body)["kv_cache_tokens"]
    says(checks.kv_cache_tokens(fn, FakeLLM(tmp_path)), "wrong", hint)


def test_kv_cache_reference_matches_the_engines_figure(tmp_path):
    fn = reference(NB, "2.6", **FRACTIONS_RUN)["kv_cache_tokens"]
    says(checks.kv_cache_tokens(fn, FakeLLM(tmp_path)), "right", "engine's own")
    stub = source(KV_HEAD + "    raise NotImplementedError\n")["kv_cache_tokens"]
    says(checks.kv_cache_tokens(stub, FakeLLM(tmp_path)), "not attempted")


# -- 2.6: reading compare_fractions' table -------------------------------------------

FRACTIONS = fractions_table()
FRACTIONS_RUN = {"fractions": FRACTIONS, "asked": (0.25, 0.35)}
"""What the notebook's cells before the answer made."""
READ = {
    "more_requests": 0.35,
    "max_concurrency": 6.56,
    "single_request_faster": False,
    "refused_first": 0.35,
}


@pytest.mark.parametrize(
    ("change", "hint"),
    [
        ({"more_requests": 0.25}, "with 0.25 your table says max_concurrency 3.75"),
        ({"more_requests": 0.9}, "name one of the fractions of your table"),
        ({"max_concurrency": 53760}, "53,760 is the KV cache in tokens"),
        ({"max_concurrency": 3.75}, "read the row of 0.35"),
        ({"max_concurrency": "6.56"}, "read the row of 0.35"),
        ({"single_request_faster": True}, "they do not make one faster"),
        ({"refused_first": 0.25}, "which asks for more"),
        ({"more": 0.35}, "keys more_requests, max_concurrency"),
    ],
    ids=[
        "fewer",
        "not asked",
        "tokens",
        "other row",
        "a string",
        "faster",
        "safe",
        "keys",
    ],
)
def test_memory_fractions_wrong(change, hint):
    answers = {**READ, **change} if "more" not in change else change
    says(checks.memory_fractions(answers, FRACTIONS), "wrong", hint)


def test_memory_fractions_reference_stub_and_class_server():
    answers = reference(NB, "2.6", **FRACTIONS_RUN)["memory_answers"]
    says(checks.memory_fractions(answers, FRACTIONS), "right", "not a faster request")
    says(checks.memory_fractions(READ, FRACTIONS), "right")
    says(checks.memory_fractions(..., FRACTIONS), "not attempted")
    says(checks.memory_fractions(READ, None), "not attempted", "needs a local engine")


# -- 2.1 ---------------------------------------------------------------------------------

TABLE = pd.DataFrame(
    {
        "model": ["smollm2-135m-instruct"] * 2 + ["gemma-3-270m"] * 2,
        "load_s": [9.0, 9.0, 14.0, 14.0],
        "gen_tok_s": [300.0, 300.0, 120.0, 120.0],
        "perplexity": [2.1, 2.3, 3.4, 3.6],
        "bits_per_byte": [1.2, 1.2, 0.9, 0.9],
    }
)
"""Gemma predicts text better (bits per byte), SmolLM2 has the lower perplexity."""


@pytest.mark.parametrize(
    ("predictions", "hint"),
    [
        (
            {"loads_slower": "smollm2-135m-instruct", "generates_faster": "x"},
            "name one of",
        ),
        (
            {
                "loads_slower": "smollm2-135m-instruct",
                "generates_faster": "smollm2-135m-instruct",
            },
            "gemma-3-270m loads slower",
        ),
        (
            {"loads_slower": "gemma-3-270m", "generates_faster": "gemma-3-270m"},
            "which model has fewer",
        ),
        ({"slower": "gemma-3-270m"}, "keys loads_slower, generates_faster"),
    ],
)
def test_model_predictions_wrong(predictions, hint):
    says(checks.model_predictions(predictions, TABLE), "wrong", hint)


def test_model_predictions_reference():
    predictions = reference(NB, "2.1", models=TABLE)["predictions"]
    says(checks.model_predictions(predictions, TABLE), "right")
    says(checks.model_predictions(..., TABLE), "not attempted")


def test_model_predictions_on_a_class_server_are_judged_by_size():
    """On a class server nothing is compared (the table is None): the two offline
    models' sizes decide, and the verdict says it was not measured."""
    predictions = reference(NB, "2.1", models=TABLE)["predictions"]
    says(checks.model_predictions(predictions, None), "right", "Judged by size")
    swapped = {
        "loads_slower": predictions["generates_faster"],
        "generates_faster": predictions["loads_slower"],
    }
    says(checks.model_predictions(swapped, None), "wrong", "more to read from disk")
    faster = {**predictions, "generates_faster": predictions["loads_slower"]}
    says(checks.model_predictions(faster, None), "wrong", "which model has fewer")
    named = {**predictions, "loads_slower": "facebook/opt-125m"}
    says(checks.model_predictions(named, None), "wrong", "name one of")


@pytest.mark.parametrize(
    ("better", "hint"),
    [
        ("smollm2-135m-instruct", "perplexity is per token of each model's own"),
        ("opt-125m", "name one of"),
    ],
    ids=["by perplexity", "not compared"],
)
def test_model_quality_wrong(better, hint):
    says(checks.model_quality(better, TABLE), "wrong", hint)


def test_model_quality_names_the_bits_when_perplexity_agrees():
    same = TABLE.assign(
        perplexity=[2.0, 2.0, 3.0, 3.0], bits_per_byte=[0.8] * 2 + [1.1] * 2
    )
    verdict = checks.model_quality("gemma-3-270m", same)
    says(
        verdict,
        "wrong",
        "bits_per_byte: gemma-3-270m 1.100, smollm2-135m-instruct 0.800",
    )


def test_model_quality_reference_stub_and_class_server():
    better = reference(NB, "2.1", models=TABLE)["better_model"]
    says(checks.model_quality(better, TABLE), "right", "0.900 bits per byte")
    says(checks.model_quality(..., TABLE), "not attempted")
    says(checks.model_quality(better, None), "not attempted", "local engine")


# -- 2.12 --------------------------------------------------------------------------------

QUANT_WRONG = {
    "a key vLLM does not read": (
        (
            "import json\ndef quantization_of(d):\n"
            "    return json.load(open(f'{d}/config.json')).get('quantization')\n"
        ),
        "look in the folder's config.json",
    ),
    "the whole config": (
        (
            "import json\ndef quantization_of(d):\n"
            "    return json.load(open(f'{d}/config.json')).get('quantization_config')\n"
        ),
        "return the method's name",
    ),
    "full precision raises": (
        (
            "import json\ndef quantization_of(d):\n"
            "    return json.load(open(f'{d}/config.json'))['quantization_config']"
            "['quant_method']\n"
        ),
        "raised KeyError: 'quantization_config'",
    ),
    "the dtype taken for a method": (
        (
            "import json\ndef quantization_of(d):\n"
            "    c = json.load(open(f'{d}/config.json'))\n"
            "    return c.get('quantization_config', {}).get('quant_method', c['torch_dtype'])\n"
        ),
        "without a quantization config is full precision",
    ),
}


@pytest.mark.parametrize("name", QUANT_WRONG)
def test_quantization_wrong_answers_get_their_hint(name):
    code, hint = QUANT_WRONG[name]
    says(checks.quantization_of(source(code)["quantization_of"]), "wrong", hint)


def test_quantization_reference_and_stub():
    fn = reference(NB, "2.12", quant=QUANT)["quantization_of"]
    says(checks.quantization_of(fn), "right")
    stub = source("def quantization_of(d):\n    raise NotImplementedError\n")
    says(checks.quantization_of(stub["quantization_of"]), "not attempted")


def test_quantization_of_reads_an_older_checkpoints_quantize_config():
    only_config = (
        "import json\ndef quantization_of(d):\n"
        "    q = json.load(open(f'{d}/config.json')).get('quantization_config')\n"
        "    return q['quant_method'] if q else None\n"
    )
    verdict = checks.quantization_of(source(only_config)["quantization_of"])
    says(verdict, "wrong", "older checkpoints keep it in quantize_config.json")


# -- 2.12: reading compare_quantization's table ---------------------------------------

NAN = float("nan")
QUANT = pd.DataFrame(
    {
        "variant": ["full precision", "fp8_per_channel", "gptq int4 (RTN, g64)"],
        "quantization": ["none", "fp8_per_channel", "gptq"],
        "perplexity": [9.1, 9.4, 12.0],
        "gen_tok_s": [410.0, 150.0, 430.0],
        "checkpoint_mib": [258.0, 258.0, 112.0],
        "example": ["Paris.", "Paris.", "Paris, the"],
    }
)
QUANT_READ = {
    "smallest": "gptq int4 (RTN, g64)",
    "fastest": "gptq int4 (RTN, g64)",
    "best_quantized_quality": "fp8_per_channel",
}


@pytest.mark.parametrize(
    ("change", "hint"),
    [
        ({"smallest": "fp8_per_channel"}, "converts them while loading (online)"),
        ({"smallest": "full precision"}, "full precision has 258.0, gptq int4"),
        ({"fastest": "full precision"}, "gen_tok_s: full precision has 410.0"),
        ({"best_quantized_quality": "full precision"}, "the reference the others"),
        ({"best_quantized_quality": "gptq int4 (RTN, g64)"}, "lower perplexity"),
        ({"fastest": "gptq"}, "name a variant of your table"),
    ],
    ids=["online", "full", "slower", "the reference", "worse", "not a variant"],
)
def test_quantization_table_wrong(change, hint):
    says(checks.quantization_table({**QUANT_READ, **change}, QUANT), "wrong", hint)


def test_quantization_table_with_a_variant_that_did_not_run():
    no_kernel = QUANT.copy()
    no_kernel.loc[2, ["perplexity", "gen_tok_s"]] = NAN
    no_kernel.loc[2, "example"] = "not run: no 4-bit kernel on this CPU"
    verdict = checks.quantization_table(QUANT_READ, no_kernel)
    says(verdict, "wrong", "did not run here: not run: no 4-bit kernel")
    fastest = {**QUANT_READ, "fastest": "full precision"}
    says(checks.quantization_table(fastest, no_kernel), "right")
    ns = reference(NB, "2.12", quant=no_kernel)
    says(checks.quantization_table(ns["quant_answers"], no_kernel), "right")


def test_quantization_table_reference_stub_and_class_server():
    ns = reference(NB, "2.12", quant=QUANT)
    assert ns["quant_answers"] == QUANT_READ
    says(checks.quantization_table(ns["quant_answers"], QUANT), "right", "fastest")
    says(checks.quantization_table(..., QUANT), "not attempted")
    says(checks.quantization_table(QUANT_READ, None), "not attempted", "local engine")
