"""Notebook 07's checkpoints: the source notebook's answers pass, typical wrong answers
get their specific hint (never a pass, never a traceback), stubs are "not attempted"."""

from __future__ import annotations

import shlex

import pytest

from tests.lesson_answers import learner, reference
from vlesson.exercises import check
from vlesson.facts import EngineFacts

pytestmark = pytest.mark.usefixtures("scratch_progress")

LOG = (
    "INFO 11-30 15:03:27 [model.py:2152] Using max model len 8192\n"
    "INFO 11-30 15:03:30 [default_loader.py:501] Loading weights took 1.16 seconds\n"
    "INFO 11-30 15:03:32 [kv_cache_utils.py:2327] CPU KV cache size: 46,592 tokens, "
    "Maximum concurrency for 8,192 tokens per request: 5.69x\n"
)
"""Lines as vLLM 0.32 (CPU) wrote them in a real start-up."""


class FakeLLM:
    """Engine stand-in with non-default defaults, a context length and a KV cache."""

    def __init__(self):
        self.facts = EngineFacts(
            model="fake",
            max_model_len=8192,
            kv_cache_tokens=46592,
            kv_cache_bytes=2**30,
            max_concurrency=5.6875,
        )

    def get_default_sampling_params(self):
        from vllm import SamplingParams

        return SamplingParams(temperature=0.6, top_p=0.9, top_k=40)


def right(verdict):
    assert verdict.status == "right", verdict
    return verdict.message


def wrong(verdict, hint):
    assert verdict.status == "wrong", verdict
    assert hint in verdict.message, verdict.message
    assert "Traceback" not in verdict.message


REF = {n: reference("07", f"self-{n}") for n in (1, 2, 3, 4, 5, 6, 7)}


# not attempted ------------------------------------------------------------------------


STUB = "def f(*args):\n    # YOUR CODE HERE\n    raise NotImplementedError\n"


@pytest.mark.parametrize(
    "call",
    [
        lambda f: check.command_line(...),
        lambda f: check.engine_args(f),
        lambda f: check.split_settings(f),
        lambda f: check.override_defaults(f, FakeLLM()),
        lambda f: check.focused_config(..., FakeLLM()),
        lambda f: check.diagnose(f, FakeLLM()),
        lambda f: check.engine_fix(..., ..., FakeLLM()),
        lambda f: check.read_log(f, LOG, FakeLLM()),
        lambda f: check.read_log(f, ..., FakeLLM()),
    ],
)
def test_untouched_skeletons_are_not_attempted(call):
    assert call(learner(STUB)["f"]).status == "not attempted"


# 1 -----------------------------------------------------------------------------------


def test_command_line_reference_passes_as_string_and_as_list():
    command = REF[1]["command"]
    assert "parser" in right(check.command_line(command))
    assert right(check.command_line(shlex.split(command)[2:]))
    assert right(check.command_line("!" + command))


TWO = "--prompt 'Once upon a time' --prompt 'In the future' --temperature 0.8"


@pytest.mark.parametrize(
    ("line", "hint"),
    [
        ("--prompt 'Once upon a time' --max-tokens 60 --dtype float32", "own --prompt"),
        ("--prompt Once upon a time --prompt 'In the future'", "the parser rejected"),
        (TWO + " --max-model-len 60 --dtype float32", "counts NEW tokens"),
        (TWO + " --max-tokens 60", "dtype is"),
        (TWO.replace("0.8", "8") + " --max-tokens 60 --dtype float32", "asks for 0.8"),
        ("--prompt x --temprature 0.8", "the parser rejected it"),
    ],
)
def test_command_line_wrong_answers_get_their_hint(line, hint):
    wrong(check.command_line(line), hint)


def test_command_line_of_the_wrong_type():
    wrong(check.command_line(60), "write the command as one string")


# 2 -----------------------------------------------------------------------------------


def test_engine_args_reference_passes():
    assert "EngineArgs" in right(check.engine_args(REF[2]["engine_args_from_cli"]))


ENGINE_WRONG = {
    "namespace": (
        "def f(argv):\n    import argparse\n    return argparse.Namespace(model='x')\n",
        "not EngineArgs",
    ),
    "by hand": (
        (
            "def f(argv):\n    from vllm import EngineArgs\n"
            "    return EngineArgs(model=argv[1] if argv else 'x')\n"
        ),
        "--dtype is on that command line but did not reach dtype",
    ),
    "ignores argv": (
        (
            "def f(argv):\n    from vllm import EngineArgs\n"
            "    from vllm.utils.argparse_utils import FlexibleArgumentParser\n"
            "    p = FlexibleArgumentParser()\n    EngineArgs.add_cli_args(p)\n"
            "    return EngineArgs.from_cli_args(p.parse_args([]))\n"
        ),
        "the same EngineArgs whatever argv says",
    ),
    "a default set by hand": (
        (
            "def f(argv):\n    from vllm import EngineArgs\n"
            "    from vllm.utils.argparse_utils import FlexibleArgumentParser\n"
            "    p = FlexibleArgumentParser()\n    EngineArgs.add_cli_args(p)\n"
            "    p.set_defaults(max_num_seqs=4)\n"
            "    return EngineArgs.from_cli_args(p.parse_args(argv))\n"
        ),
        ("vLLM's default applies - let vLLM add its own options to the parser and "
        "read them back, instead of setting fields by hand"),
    ),
    "plain argparse": (
        (
            "def f(argv):\n    import argparse\n    p = argparse.ArgumentParser()\n"
            "    p.add_argument('--model')\n    return p.parse_args(argv)\n"
        ),
        "argparse exited - ",
    ),
    "forgot return": (
        "def f(argv):\n    from vllm import EngineArgs\n    EngineArgs()\n",
        "returned NoneType",
    ),
}


@pytest.mark.parametrize("name", ENGINE_WRONG)
def test_engine_args_wrong_answers_get_their_hint(name):
    source, hint = ENGINE_WRONG[name]
    wrong(check.engine_args(learner(source)["f"]), hint)


def test_engine_args_hint_for_ignored_argv_does_not_blame_hand_set_fields():
    verdict = check.engine_args(learner(ENGINE_WRONG["ignores argv"][0])["f"])
    assert "by hand" not in verdict.message


def test_engine_args_learner_typo_names_the_line():
    source = "def f(argv):\n    from vllm import EngineArgs\n    return EngineArg()\n"
    verdict = check.engine_args(learner(source, 5)["f"])
    wrong(verdict, "line 3")
    assert "NameError" in verdict.message and "`return EngineArg()`" in verdict.message


# 3 -----------------------------------------------------------------------------------


def test_split_settings_reference_passes_and_explains_seed():
    assert "--seed" in right(check.split_settings(REF[3]["split_settings"]))


@pytest.mark.parametrize(
    ("guess", "said"),
    [
        ("seed", "You guessed 'seed': right, both classes have it"),
        (None, "You guessed none; both classes have seed"),
        ("dtype", "You guessed 'dtype': only EngineArgs has it; both classes have seed"),
        ("top_p", "only SamplingParams has it"),
        ("colour", "neither class has it"),
    ],
)
def test_split_settings_compares_the_guess_with_both_classes(guess, said):
    assert said in right(check.split_settings(REF[3]["split_settings"], guess=guess))


def test_split_settings_guess_must_be_a_name():
    wrong(check.split_settings(REF[3]["split_settings"], guess=1), "a setting's name")


SPLIT_WRONG = {
    # the old reference answer: every key not of the engine goes to sampling
    "seed to one side": (
        (
            "import dataclasses\nfrom vllm import EngineArgs\n"
            "def f(s):\n    e = {x.name for x in dataclasses.fields(EngineArgs)}\n"
            "    return ({k: v for k, v in s.items() if k in e},\n"
            "            {k: v for k, v in s.items() if k not in e})\n"
        ),
        "'seed' went to one side only",
    ),
    "by a hand list": (
        (
            "def f(s):\n    eng = {'model', 'dtype', 'max_model_len', 'enforce_eager',"
            " 'max_tokens'}\n    return ({k: v for k, v in s.items() if k in eng},\n"
            "            {k: v for k, v in s.items() if k not in eng})\n"
        ),
        "'max_tokens' is in your engine dict",
    ),
    "loses keys": ("def f(s):\n    return {}, {'temperature': 0.7}\n", "keys lost"),
    "all to sampling": ("def f(s):\n    return {}, dict(s)\n", "configures the engine"),
    "one dict": ("def f(s):\n    return dict(s)\n", "return two dicts"),
}


@pytest.mark.parametrize("name", SPLIT_WRONG)
def test_split_settings_wrong_answers_get_their_hint(name):
    source, hint = SPLIT_WRONG[name]
    wrong(check.split_settings(learner(source)["f"]), hint)


# 4 -----------------------------------------------------------------------------------


def test_override_defaults_reference_passes():
    assert "generation_config" in right(
        check.override_defaults(REF[4]["override_defaults"], FakeLLM())
    )


OVERRIDE_WRONG = {
    "in place": (
        (
            "def f(d, o):\n    for k, v in o.items():\n        if v is not None:\n"
            "            setattr(d, k, v)\n    return d\n"
        ),
        "the defaults object itself was changed",
    ),
    "sets None": (
        (
            "def f(d, o):\n    p = d.clone()\n    for k, v in o.items():\n"
            "        setattr(p, k, v)\n    return p\n"
        ),
        "None means 'not given'",
    ),
    "ignores the model's defaults": (
        (
            "from vllm import SamplingParams\n"
            "def f(d, o):\n"
            "    return SamplingParams(**{k: v for k, v in o.items() if v is not None})\n"
        ),
        "where did you start?",
    ),
    "returns a dict": (
        "def f(d, o):\n    return {k: v for k, v in o.items() if v is not None}\n",
        "return a SamplingParams",
    ),
}


@pytest.mark.parametrize("name", OVERRIDE_WRONG)
def test_override_defaults_wrong_answers_get_their_hint(name):
    source, hint = OVERRIDE_WRONG[name]
    wrong(check.override_defaults(learner(source)["f"], FakeLLM()), hint)


def test_override_defaults_says_the_made_up_defaults_are_a_test_models():
    class PlainLLM(FakeLLM):
        def get_default_sampling_params(self):
            from vllm import SamplingParams

            return SamplingParams()

    source, _ = OVERRIDE_WRONG["ignores the model's defaults"]
    verdict = check.override_defaults(learner(source)["f"], PlainLLM())
    wrong(verdict, "with a test model's defaults (made up by the check)")


def test_ignoring_defaults_fails_even_on_an_engine_with_plain_defaults():
    class PlainLLM(FakeLLM):
        def get_default_sampling_params(self):
            from vllm import SamplingParams

            return SamplingParams()

    source, hint = OVERRIDE_WRONG["ignores the model's defaults"]
    wrong(check.override_defaults(learner(source)["f"], PlainLLM()), hint)


# 5 (the generating part runs in tests/integration) ----------------------------------


@pytest.mark.parametrize(
    ("change", "hint"),
    [
        ({"temperature": 1.2}, "focused means low"),
        ({"temperature": 0}, "focused means low"),
        ({"top_k": 0}, "top_k is 0"),
        ({"top_k": None}, "top_k is None"),
        ({"top_p": 1.0}, "low top_p"),
        ({"max_tokens": 100}, "wants 150 tokens"),
        ({"min_tokens": None}, "max_tokens is only a ceiling"),
        ({"min_tokens": 10}, "min_tokens is 10"),
        ({"temprature": 0.4}, "does not load"),
    ],
)
def test_focused_config_wrong_values_fail_before_generating(change, hint):
    config = {**REF[5]["config"], **change}
    config = {k: v for k, v in config.items() if v is not None}
    wrong(check.focused_config(config, FakeLLM()), hint)


# 6 -----------------------------------------------------------------------------------


def test_diagnose_reference_passes():
    assert "7 configs" in right(check.diagnose(REF[6]["diagnose"], FakeLLM()))


DIAGNOSE_WRONG = {
    "lets the error escape": (
        "def f(llm, config):\n    vl.make_sampling_params(llm, config)\n",
        "instead of returning",
    ),
    "guesses the first key": (
        "def f(llm, config):\n    return next(iter(config))\n",
        "you returned 'temperature'",
    ),
    "own rules, misses the typo": (
        (
            "def f(llm, c):\n    if c.get('top_p', 1) > 1:\n        return 'top_p'\n"
            "    if c.get('temperature', 1) < 0:\n        return 'temperature'\n"
        ),
        "you returned None, but this engine's validation answers 'temprature'",
    ),
    "returns the message": (
        (
            "def f(llm, config):\n    try:\n        vl.make_sampling_params(llm, config)\n"
            "    except vl.ParamError as exc:\n        return str(exc)\n"
        ),
        "you returned 'top_p must be",
    ),
}


@pytest.mark.parametrize("name", DIAGNOSE_WRONG)
def test_diagnose_wrong_answers_get_their_hint_without_the_recipe(name):
    source, hint = DIAGNOSE_WRONG[name]
    verdict = check.diagnose(learner(source)["f"], FakeLLM())
    wrong(verdict, hint)
    assert "exc.param" not in verdict.message and "catch" not in verdict.message


def test_engine_fix_reference_passes():
    ref = REF[6]
    assert "fits" in right(check.engine_fix(ref["culprit"], ref["fix"], FakeLLM()))
    more = {"kv_cache_memory_bytes": 2**28}
    assert right(check.engine_fix("--kv-cache-memory-bytes", more, FakeLLM()))


@pytest.mark.parametrize(
    ("guess", "said"),
    [
        ("refuses to start", "You guessed 'refuses to start': right"),
        ("starts", "You guessed 'starts': it refused to start instead"),
        ("it breaks", "write one of 'starts', 'refuses to start'"),
    ],
)
def test_engine_fix_compares_the_guess_with_what_happened(guess, said):
    ref = REF[6]
    verdict = check.engine_fix(ref["culprit"], ref["fix"], FakeLLM(), guess=guess)
    assert said in verdict.message and verdict.passed == (guess != "it breaks")


@pytest.mark.parametrize(
    ("culprit", "fix", "hint"),
    [
        ("max_tokens", {"max_model_len": 1024}, "which two numbers"),
        ("max_model_len", {"max_model_len": 4096}, "does not fit"),
        ("max_model_len", {"kv_cache_memory_bytes": 64 * 2**20}, "does not fit"),
        ("max_model_len", {"max_num_seqs": 1}, "would not make this engine start"),
        ("max_model_len", {}, "fix is empty"),
        ("max_model_len", {"max_model_len": 16}, "no fix"),
    ],
)
def test_engine_fix_wrong_answers_get_their_hint(culprit, fix, hint):
    wrong(check.engine_fix(culprit, fix, FakeLLM()), hint)


# 7 -----------------------------------------------------------------------------------


def test_read_log_reference_passes_on_three_lines():
    message = right(check.read_log(REF[7]["read_start_up"], LOG, FakeLLM()))
    assert "46,592 tokens" in message and "1.16 s" in message


def test_read_log_takes_ipythons_list_of_lines():
    assert right(check.read_log(REF[7]["read_start_up"], LOG.splitlines(), FakeLLM()))


ALL_FOUR = (
    "'max_model_len': 8192, 'weights_seconds': 1.16, 'kv_cache_tokens': 46592,"
    " 'max_concurrency': 5.69"
)
READ_WRONG = {
    "commas kept": (
        (
            "import re\ndef f(text):\n"
            "    size = re.search(r'KV cache size: ([\\d,]+)', text).group(1)\n"
            "    return {'kv_cache_tokens': int(size)}\n"
        ),
        "line 4 (in f): `return {'kv_cache_tokens': int(size)}` raised ValueError",
    ),
    "hard-coded": (
        "def f(text):\n    return {" + ALL_FOUR + "}\n",
        "but it should be 2048: read it from the text you are given, not from one log",
    ),
    "a number cut at a separator": (
        (
            "import re\ndef f(text):\n    n = re.search(r'size: (\\d+)', text).group(1)\n"
            "    c = re.search(r': ([\\d.]+)x', text).group(1)\n"
            "    m = re.search(r'len (\\d+)', text).group(1)\n"
            "    return {'kv_cache_tokens': int(n), 'max_concurrency': float(c),"
            " 'max_model_len': int(m), 'weights_seconds': float(\n"
            "        re.search(r'took ([\\d.]+)', text).group(1))}\n"
        ),
        "your number stops at one of them",
    ),
    "strings": (
        (
            "import re\ndef f(text):\n    return {k: re.search(p, text).group(1) for k, p in"
            " [('max_model_len', r'len (\\d+)'), ('kv_cache_tokens', r'size: ([\\d,]+)'),"
            " ('max_concurrency', r': ([\\d.]+)x'),"
            " ('weights_seconds', r'took ([\\d.]+) sec')]}\n"
        ),
        "as a number (not a string)",
    ),
    "kv line only": (
        (
            "import re\ndef f(text):\n    n = re.search(r'size: ([\\d,]+)', text).group(1)\n"
            "    c = re.search(r': ([\\d.]+)x', text).group(1)\n"
            "    return {'kv_cache_tokens': int(n.replace(',', '')),"
            " 'max_concurrency': float(c)}\n"
        ),
        "max_model_len is None",
    ),
    "concurrency's 8,192 for the context": (
        (
            "import re\ndef f(text):\n"
            "    nums = [float(x.replace(',', '')) for x in re.findall(r'[\\d][\\d,.]*', "
            "text.split('size:')[1])]\n"
            "    return {'max_model_len': int(nums[1]), 'kv_cache_tokens': int(nums[0]),"
            " 'max_concurrency': nums[2], 'weights_seconds': 1.16}\n"
        ),
        "weights_seconds is 1.16, but it should be 0.42",
    ),
}


@pytest.mark.parametrize("name", READ_WRONG)
def test_read_log_wrong_answers_get_their_hint(name):
    source, hint = READ_WRONG[name]
    wrong(check.read_log(learner(source)["f"], LOG, FakeLLM()), hint)


def test_read_log_hard_coded_figures_are_not_blamed_on_separators():
    verdict = check.read_log(learner(READ_WRONG["hard-coded"][0])["f"], LOG, FakeLLM())
    assert "separator" not in verdict.message


def test_read_log_without_the_line_says_what_is_missing():
    verdict = check.read_log(REF[7]["read_start_up"], "WARNING nothing here", FakeLLM())
    wrong(verdict, "INFO")
