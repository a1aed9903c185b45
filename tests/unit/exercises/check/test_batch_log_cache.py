"""Notebooks 04 and 04b's checks: the source notebook's answers pass, typical wrong answers get
their specific hint (never a pass, never a traceback), stubs are "not attempted".

The engine here is a fake whose outputs depend on prompt and settings; the real engine
runs the same checks in tests/integration/test_lesson_checks_engine.py.
"""

from __future__ import annotations

import pytest

from tests.lesson_answers import (
    FakeEngine,
    reference,
    request_output,
    says,
    source,
    sweep_table,
)
from vlesson.exercises.check import batch_log_cache as checks
from vlesson.workflows import sweep as vl_sweep

pytestmark = pytest.mark.usefixtures("scratch_progress")

NB = "04_batch_and_sweep"
NB_LOG = "04b_run_log_and_cache"


class FakeLLM(FakeEngine):
    """Outputs that differ with the prompt and every setting: a mix-up shows."""

    def complete(self, prompt, sp, index):
        n = min(sp.max_tokens, 5)
        text = f" on {prompt[-6:]} t {sp.temperature} p {sp.top_p} s {sp.seed} ok"
        return request_output(prompt, text, list(range(n)))


# -- 2.9 ---------------------------------------------------------------------------------

BATCH_HEAD = """
from pathlib import Path
def batch_generate(llm, prompts_file, out_dir, params):
    lines = Path(prompts_file).read_text().splitlines()
    prompts = [l for l in lines if l.strip() and not l.startswith("#")]
    out = Path(out_dir); out.mkdir(parents=True, exist_ok=True)
"""
ONE_CALL_BY_NUMBER = """
    outputs = llm.generate(prompts, params)
    paths = []
    for i, o in enumerate(outputs):
        paths.append(out / f"{i}.txt"); paths[-1].write_text(o.outputs[0].text)
    return paths
"""

BATCH_WRONG = {
    "a call per prompt": (
        BATCH_HEAD
        + """
    paths = []
    for i, p in enumerate(prompts):
        o = llm.generate(p, params)[0]
        paths.append(out / f"{i}.txt"); paths[-1].write_text(o.outputs[0].text)
    return paths
""",
        "called 4 times for 4 prompts",
    ),
    "files named by prompt": (
        BATCH_HEAD
        + """
    outputs = llm.generate(prompts, params)
    paths = []
    for p, o in zip(prompts, outputs):
        paths.append(out / f"{p}.txt"); paths[-1].write_text(o.outputs[0].text)
    return paths
""",
        "written outside out_dir",
    ),
    "blank lines kept": (
        BATCH_HEAD.replace("l.strip() and ", "") + ONE_CALL_BY_NUMBER,
        "blank line was sent",
    ),
    "comments kept": (
        BATCH_HEAD.replace(' and not l.startswith("#")', "") + ONE_CALL_BY_NUMBER,
        "# comment",
    ),
    "readlines keeps newlines": (
        BATCH_HEAD.replace("read_text().splitlines()", "open().readlines()")
        + ONE_CALL_BY_NUMBER,
        "ends with '\\n'",
    ),
    "duplicates dropped": (
        BATCH_HEAD
        + "    prompts = list(dict.fromkeys(prompts))\n"
        + ONE_CALL_BY_NUMBER,
        "duplicates too",
    ),
    "nothing returned": (
        BATCH_HEAD + ONE_CALL_BY_NUMBER.replace("return paths", "return None"),
        "returned NoneType",
    ),
    "the prompt written, not the completion": (
        BATCH_HEAD + ONE_CALL_BY_NUMBER.replace("o.outputs[0].text", "o.prompt"),
        "does not hold that prompt's completion",
    ),
}


@pytest.mark.parametrize("name", BATCH_WRONG)
def test_batch_wrong_answers_get_their_hint(name):
    code, hint = BATCH_WRONG[name]
    says(checks.batch_files(source(code)["batch_generate"], FakeLLM()), "wrong", hint)


def test_batch_reference_and_stub():
    ns = reference(NB, "2.9")
    says(checks.batch_files(ns["batch_generate"], FakeLLM()), "right", "one generate")
    stub = source("def batch_generate(llm, f, o, p):\n    raise NotImplementedError\n")
    says(checks.batch_files(stub["batch_generate"], FakeLLM()), "not attempted")
    says(checks.batch_files(..., FakeLLM()), "not attempted")


# -- 2.10 --------------------------------------------------------------------------------

SWEEP_HEAD = """
import itertools
from vllm import SamplingParams
def sweep(llm, prompt, temperatures, top_ps, *, max_tokens, seed):
"""
SWEEP_RIGHT = """
    grid = list(itertools.product(temperatures, top_ps))
    params = [SamplingParams(temperature=t, top_p=p, max_tokens=max_tokens, seed=seed)
              for t, p in grid]
    outputs = llm.generate([prompt] * len(grid), params)
    return [{"temperature": t, "top_p": p, "text": o.outputs[0].text}
            for (t, p), o in zip(grid, outputs)]
"""

SWEEP_WRONG = {
    "nested loop": (
        """
    rows = []
    for t in temperatures:
        for p in top_ps:
            sp = SamplingParams(temperature=t, top_p=p, max_tokens=max_tokens, seed=seed)
            o = llm.generate(prompt, sp)[0]
            rows.append({"temperature": t, "top_p": p, "text": o.outputs[0].text})
    return rows
""",
        "called 6 times for 6 settings",
    ),
    "one SamplingParams for all": (
        SWEEP_RIGHT.replace(
            "params = [SamplingParams(temperature=t, top_p=p, max_tokens=max_tokens, "
            "seed=seed)\n              for t, p in grid]",
            "params = SamplingParams(max_tokens=max_tokens, seed=seed)",
        ),
        "each setting needs its own",
    ),
    "zip instead of product": (
        SWEEP_RIGHT.replace(
            "itertools.product(temperatures, top_ps)", "zip(temperatures, top_ps)"
        ),
        "zip pairs them up",
    ),
    "no seed": (SWEEP_RIGHT.replace(", seed=seed)", ")"), "no seed"),
    "a seed per request": (
        SWEEP_RIGHT.replace(
            "seed=seed)\n              for t, p in grid]",
            "seed=i)\n              for i, (t, p) in enumerate(grid)]",
        ),
        "different seeds",
    ),
    "max_tokens forgotten": (
        SWEEP_RIGHT.replace("max_tokens=max_tokens, ", ""),
        "SamplingParams' own default is 16",
    ),
    "rows labelled in another order": (
        SWEEP_RIGHT.replace(
            "for (t, p), o in zip(grid, outputs)]",
            "for (p, t), o in zip(itertools.product(top_ps, temperatures), outputs)]",
        ),
        "holds the text of another setting",
    ),
    "texts only": (
        SWEEP_RIGHT.replace(
            'return [{"temperature": t, "top_p": p, "text": o.outputs[0].text}',
            "return [o.outputs[0].text",
        ),
        "give each row the keys",
    ),
}


@pytest.mark.parametrize("name", SWEEP_WRONG)
def test_sweep_wrong_answers_get_their_hint(name):
    body, hint = SWEEP_WRONG[name]
    fn = source(SWEEP_HEAD + body)["sweep"]
    says(checks.sweep(fn, FakeLLM()), "wrong", hint)


def test_sweep_reference_and_a_dataframe_pass():
    ns = reference(NB, "2.10", means=MEANS)
    says(checks.sweep(ns["sweep"], FakeLLM()), "right", "one call")
    frame = SWEEP_RIGHT.replace(
        "return [", "import pandas as pd\n    return pd.DataFrame(["
    )
    frame = frame.replace("zip(grid, outputs)]", "zip(grid, outputs)])")
    says(checks.sweep(source(SWEEP_HEAD + frame)["sweep"], FakeLLM()), "right")


# -- 2.10's pick: the best combination of the learner's own table -------------------

TABLE = sweep_table()
MEANS = vl_sweep.summary(TABLE)
"""0.7 / 0.95 is the most diverse coherent row; 1.1 is noise, 0.3 loops."""


def pick(table=TABLE, **choice):
    return checks.sweep_pick(choice, table)


@pytest.mark.parametrize(
    ("choice", "hint"),
    [
        ({"temperature": 1.1, "top_p": 0.95}, "mean_logprob -4.15, below -2.5"),
        ({"temperature": 0.3, "top_p": 0.8}, "repetition 0.40, above 0.2"),
        ({"temperature": 0.7, "top_p": 0.8}, "the highest distinct_2 wins"),
        ({"temperature": 0.6, "top_p": 0.95}, "not one of the combinations"),
        ({"temperature": "0.7", "top_p": 0.95}, "write the number from the table"),
    ],
    ids=["noise", "a loop", "less diverse", "not swept", "a string"],
)
def test_sweep_pick_wrong_answers_get_their_hint(choice, hint):
    says(pick(**choice), "wrong", hint)


def test_sweep_pick_needs_a_dict():
    verdict = checks.sweep_pick((0.7, 0.95), TABLE)
    says(verdict, "wrong", "a dict with the keys temperature and top_p")


def test_sweep_pick_explains_the_tie_break():
    tied = TABLE.assign(distinct_2=1.0)
    says(pick(tied, temperature=0.7, top_p=0.8), "wrong", "the tie goes to the boldest")
    says(pick(tied, temperature=0.7, top_p=0.95), "right", "broke the tie")


def test_sweep_pick_reference_and_stub():
    best = reference(NB, "2.10", means=MEANS)["best_diverse"]
    says(pick(**best), "right", "decided by distinct_2")
    stub = checks.sweep_pick(..., TABLE)
    says(stub, "not attempted")


# -- 2.11 --------------------------------------------------------------------------------

LOG_RIGHT = """
import json, time
from datetime import datetime, timezone
def log_outputs(path, outputs, params, seconds):
    with open(path, "a") as f:
        for o, p in zip(outputs, params):
            c = o.outputs[0]
            row = {"timestamp": datetime.now(timezone.utc).isoformat(), "prompt": o.prompt,
                   "temperature": p.temperature, "top_p": p.top_p,
                   "max_tokens": p.max_tokens, "seed": p.seed, "seconds": seconds,
                   "num_tokens": len(c.token_ids), "finish_reason": c.finish_reason}
            f.write(json.dumps(row) + "\\n")
"""
CSV_RIGHT = """
import csv, os, time
def log_outputs(path, outputs, params, seconds):
    new = not os.path.exists(path)
    with open(path, "a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(["timestamp", "prompt", "temperature", "top_p", "max_tokens",
                        "seed", "seconds", "num_tokens", "finish_reason"])
        for o, p in zip(outputs, params):
            c = o.outputs[0]
            w.writerow([time.time(), o.prompt, p.temperature, p.top_p, p.max_tokens,
                        p.seed, seconds, len(c.token_ids), c.finish_reason])
"""

LOG_WRONG = {
    "overwrites": (
        LOG_RIGHT.replace('open(path, "a")', 'open(path, "w")'),
        "appending",
    ),
    "first params for every row": (
        LOG_RIGHT.replace("zip(outputs, params)", "zip(outputs, [params[0]] * 3)"),
        "log each output's own SamplingParams",
    ),
    "characters counted": (
        LOG_RIGHT.replace("len(c.token_ids)", "len(c.text)"),
        "that counts characters",
    ),
    "words counted": (
        LOG_RIGHT.replace("len(c.token_ids)", "len(c.text.split())"),
        "that counts words",
    ),
    "no timestamp": (
        LOG_RIGHT.replace('"timestamp": datetime.now(timezone.utc).isoformat(), ', ""),
        "no 'timestamp' column",
    ),
    "ctime timestamp": (
        LOG_RIGHT.replace("datetime.now(timezone.utc).isoformat()", "time.ctime()"),
        "neither ISO 8601",
    ),
    "CSV header on every call": (
        CSV_RIGHT.replace("if new:", "if True:"),
        "header appears again",
    ),
    "the SamplingParams object dumped": (
        LOG_RIGHT.replace('"temperature": p.temperature', '"params": p'),
        "is not JSON serializable",
    ),
}


@pytest.mark.parametrize("name", LOG_WRONG)
def test_run_log_wrong_answers_get_their_hint(name):
    code, hint = LOG_WRONG[name]
    says(checks.run_log(source(code)["log_outputs"], FakeLLM()), "wrong", hint)


def test_the_learner_error_names_the_line():
    code, _ = LOG_WRONG["the SamplingParams object dumped"]
    verdict = checks.run_log(source(code)["log_outputs"], FakeLLM())
    assert "json.dumps(row)" in verdict.message


@pytest.mark.parametrize("code", [LOG_RIGHT, CSV_RIGHT], ids=["jsonl", "csv"])
def test_run_log_right_answers(code):
    says(checks.run_log(source(code)["log_outputs"], FakeLLM()), "right")


def test_run_log_reference():
    says(checks.run_log(reference(NB_LOG, "2.11")["log_outputs"], FakeLLM()), "right")


# -- 2.14 --------------------------------------------------------------------------------

KEY_WRONG = {
    "the sheet's str(dict) key": (
        (
            "import hashlib\ndef get_cache_key(prompt, params):\n"
            "    return hashlib.md5(f'{prompt}{params}'.encode()).hexdigest()\n"
        ),
        "another order gave another key",
    ),
    "Python's hash()": (
        (
            "import json\ndef get_cache_key(prompt, params):\n"
            "    return str(hash(prompt + json.dumps(params, sort_keys=True)))\n"
        ),
        "PYTHONHASHSEED",
    ),
    "the prompt only": (
        (
            "import hashlib\ndef get_cache_key(prompt, params):\n"
            "    return hashlib.sha256(prompt.encode()).hexdigest()\n"
        ),
        "temperature=0.8 gave the same key",
    ),
    "the parameters only": (
        (
            "import hashlib, json\ndef get_cache_key(prompt, params):\n"
            "    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()\n"
        ),
        "another prompt, the same key",
    ),
    "unhashed canonical JSON": (
        (
            "import json\ndef get_cache_key(prompt, params):\n"
            "    return json.dumps([prompt, params], sort_keys=True)\n"
        ),
        "the key names a file",
    ),
    "bytes digest": (
        (
            "import hashlib, json\ndef get_cache_key(prompt, params):\n"
            "    return hashlib.sha256(json.dumps([prompt, params], sort_keys=True)"
            ".encode()).digest()\n"
        ),
        "the key is bytes",
    ),
    "a lambda around vlesson's request_key": (
        ("get_cache_key = lambda prompt, params: vl.cache.request_key(\n"
        "    {'prompt': prompt, **params})\n"),
        "calls vlesson's own vlesson.workflows.cache.request_key",
    ),
    "a call of vlesson's canonical_json": (
        (
            "import hashlib\ndef get_cache_key(prompt, params):\n"
            "    text = vl.cache.canonical_json([prompt, params])\n"
            "    return hashlib.sha256(text.encode()).hexdigest()\n"
        ),
        "calls vlesson's own vlesson.workflows.cache.canonical_json",
    ),
    "a random key": (
        "import uuid\ndef get_cache_key(prompt, params):\n    return uuid.uuid4().hex\n",
        "the same request gave two keys",
    ),
    "the model left out": (
        (
            "import hashlib, json\ndef get_cache_key(prompt, params):\n"
            "    p = {k: v for k, v in params.items() if k != 'model'}\n"
            "    return hashlib.sha256(json.dumps([prompt, p], sort_keys=True).encode())"
            ".hexdigest()\n"
        ),
        "model='gemma-3-270m' gave the same key",
    ),
}


@pytest.mark.parametrize("name", KEY_WRONG)
def test_cache_key_wrong_answers_get_their_hint(name):
    code, hint = KEY_WRONG[name]
    says(checks.cache_key(source(code)["get_cache_key"]), "wrong", hint)


STORE_RIGHT = """
import json
from pathlib import Path
def cache_result(key, result):
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    (CACHE_DIR / f"{key}.json").write_text(json.dumps(result))
def get_cached_result(key):
    path = CACHE_DIR / f"{key}.json"
    return json.loads(path.read_text()) if path.exists() else None
"""

STORE_WRONG = {
    "in memory only": (
        (
            "MEMORY = {}\ndef cache_result(key, result):\n    MEMORY[key] = result\n"
            "def get_cached_result(key):\n    return MEMORY.get(key)\n"
        ),
        "wrote nothing into",
    ),
    "memory in front of the files": (
        STORE_RIGHT
        + "MEMORY = {}\n_write = cache_result\ndef cache_result(key, result):\n"
        "    MEMORY[key] = result\n    _write(key, result)\n"
        "def get_cached_result(key):\n    return MEMORY.get(key)\n",
        "after its file was deleted",
    ),
    "a miss raises": (
        STORE_RIGHT.replace(" if path.exists() else None", ""),
        "raised FileNotFoundError",
    ),
    "str(result) stored": (
        STORE_RIGHT.replace("json.dumps(result)", "str(result)").replace(
            "json.loads(path.read_text())", "path.read_text()"
        ),
        "store JSON",
    ),
    "a miss gives {}": (
        STORE_RIGHT.replace("else None", "else {}"),
        "a miss returns None",
    ),
}


@pytest.mark.parametrize("name", STORE_WRONG)
def test_result_cache_wrong_answers_get_their_hint(name, tmp_path):
    code, hint = STORE_WRONG[name]
    ns = source(code)
    ns["CACHE_DIR"] = tmp_path / "cache"
    verdict = checks.result_cache(
        ns["cache_result"], ns["get_cached_result"], tmp_path / "cache"
    )
    says(verdict, "wrong", hint)


def test_cache_reference_answers_pass(tmp_path):
    ns = reference(NB_LOG, "2.14")
    ns["CACHE_DIR"] = tmp_path / "cache"
    says(checks.cache_key(ns["get_cache_key"]), "right", "whatever the order")
    verdict = checks.result_cache(
        ns["cache_result"], ns["get_cached_result"], ns["CACHE_DIR"]
    )
    says(verdict, "right", "survive a restart")


def test_cache_stubs_are_not_attempted(tmp_path):
    ns = source(
        "def get_cache_key(prompt, params):\n    raise NotImplementedError\n"
        "def cache_result(key, result):\n    raise NotImplementedError\n"
        "def get_cached_result(key):\n    raise NotImplementedError\n"
    )
    says(checks.cache_key(ns["get_cache_key"]), "not attempted")
    verdict = checks.result_cache(ns["cache_result"], ns["get_cached_result"], tmp_path)
    says(verdict, "not attempted")
