"""Notebook 01's checks: the source notebook's answers pass, typical wrong answers get
their specific hint, untouched skeletons are "not attempted" and cost no engine work."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from tests.lesson_answers import learner, reference
from vlesson.exercises import check

pytestmark = pytest.mark.usefixtures("scratch_progress")


class FakeLLM:
    """Answers like the engine: each prompt 'naturally' ends after 50 tokens, and the
    model's log-probability per token falls with temperature."""

    def __init__(self):
        self.calls = 0

    def generate(self, prompts, params=None, use_tqdm=True):
        from vllm import SamplingParams

        self.calls += 1
        prompts = [prompts] if isinstance(prompts, str) else prompts
        if not isinstance(params, list):
            params = [params or SamplingParams()] * len(prompts)
        return [self._one(p, sp) for p, sp in zip(prompts, params)]

    @staticmethod
    def _one(prompt, sp):
        n = min(sp.max_tokens, 50)
        lp = -0.2 - 2.5 * sp.temperature
        steps = [{7: SimpleNamespace(logprob=lp)} for _ in range(n)]
        done = SimpleNamespace(
            text=" x" * n,
            token_ids=[7] * n,
            finish_reason="length" if n == sp.max_tokens else "stop",
            logprobs=steps if sp.logprobs is not None else None,
        )
        return SimpleNamespace(prompt=prompt, prompt_token_ids=[1, 2], outputs=[done])


def right(verdict):
    assert verdict.status == "right", verdict
    return verdict


def wrong(verdict, hint):
    assert verdict.status == "wrong", verdict
    assert hint in verdict.message, verdict.message
    assert "Traceback" not in verdict.message


REF = {n: reference("01", n) for n in ("2.3", "2.4", "2.7", "2.8", "2.15")}
STUB = "def f(*args):\n    # YOUR CODE HERE\n    raise NotImplementedError\n"


@pytest.mark.parametrize(
    "call",
    [
        lambda f, llm: check.help_answers(...),
        lambda f, llm: check.temperature_sweep(f, llm),
        lambda f, llm: check.length_runs(f, llm),
        lambda f, llm: check.load_config(f),
        lambda f, llm: check.prompt_option(f),
        lambda f, llm: check.validate_args(f),
    ],
)
def test_untouched_skeletons_are_not_attempted_and_generate_nothing(call):
    llm = FakeLLM()
    assert call(learner(STUB)["f"], llm).status == "not attempted"
    assert llm.calls == 0


def test_the_command_not_run_yet_is_not_attempted(tmp_path):
    verdict = check.generate_output(tmp_path / "out.jsonl", {})
    assert verdict.status == "not attempted" and "run your command" in verdict.message


# 2.2 ---------------------------------------------------------------------------------


def test_help_answers_reference_passes():
    from vllm.model_executor.layers.quantization import QUANTIZATION_METHODS

    answers = {"groups": 18, "gpu_memory_utilization": 0.92, "awq": True}
    assert "awq" in QUANTIZATION_METHODS
    assert "18 groups" in right(check.help_answers(answers)).message


@pytest.mark.parametrize(
    ("answers", "hint"),
    [
        ({"groups": 3, "gpu_memory_utilization": 0.92, "awq": True}, "Config Groups"),
        ({"groups": 18, "gpu_memory_utilization": 0.9, "awq": True}, "another version"),
        ({"groups": 18, "gpu_memory_utilization": 0.92, "awq": "yes"}, "True or False"),
        ({"groups": 18, "gpu_memory_utilization": 0.92}, "awq is None"),
        ([18, 0.92, True], "write a dict"),
    ],
)
def test_help_answers_wrong(answers, hint):
    wrong(check.help_answers(answers), hint)


# 2.3 ---------------------------------------------------------------------------------


def test_temperature_sweep_reference_passes_with_the_learners_figures():
    verdict = right(check.temperature_sweep(REF["2.3"]["temperature_sweep"], FakeLLM()))
    table = verdict.evidence
    assert list(table.index) == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert table.loc[2.0, "mean_logprob"] == pytest.approx(-5.2)


@pytest.mark.parametrize(
    ("guess", "said"),
    [
        (1.5, ("You guessed T=1.5; in your run the mean log-probability first falls "
         "below -3 (worse than a 1-in-20 guess per token) at T=1.5, as you guessed")),
        (1.0, "at T=1.5, later than you guessed"),
        (2, "at T=1.5, earlier than you guessed"),
    ],
)
def test_temperature_sweep_compares_the_guess_with_the_run(guess, said):
    fn = REF["2.3"]["temperature_sweep"]
    assert said in right(check.temperature_sweep(fn, FakeLLM(), guess=guess)).message


@pytest.mark.parametrize("guess", ["hot", True, None])
def test_temperature_sweep_guess_must_be_a_number(guess):
    verdict = check.temperature_sweep(REF["2.3"]["temperature_sweep"], FakeLLM(), guess)
    if guess is None:  # no guess given: nothing to compare
        assert "You guessed" not in right(verdict).message
    else:
        wrong(verdict, "write a temperature, a number such as 1.2")


def test_an_unwritten_guess_is_not_attempted_and_generates_nothing():
    llm = FakeLLM()
    verdict = check.temperature_sweep(REF["2.3"]["temperature_sweep"], llm, guess=...)
    assert verdict.status == "not attempted" and llm.calls == 0


SP = "from vllm import SamplingParams\n"
SWEEP_WRONG = {
    "one call per temperature": (
        SP + "def f(llm, prompts, temps):\n    out = []\n    for t in temps:\n"
        "        sp = SamplingParams(temperature=t, seed=0, max_tokens=48, logprobs=0)\n"
        "        out += llm.generate(prompts, sp)\n    return out\n",
        "called 5 times",
    ),
    "one SamplingParams for all": (
        SP + "def f(llm, prompts, temps):\n"
        "    sp = SamplingParams(temperature=temps[0], seed=0, max_tokens=48, logprobs=0)\n"
        "    return llm.generate(prompts * len(temps), sp)\n",
        "same SamplingParams object",
    ),
    "no seed": (
        SP + "def f(llm, prompts, temps):\n"
        "    r = [(p, SamplingParams(temperature=t, max_tokens=48, logprobs=0))"
        " for t in temps for p in prompts]\n"
        "    return llm.generate([p for p, _ in r], [s for _, s in r])\n",
        "has no seed",
    ),
    "no logprobs": (
        SP + "def f(llm, prompts, temps):\n"
        "    r = [(p, SamplingParams(temperature=t, seed=0, max_tokens=48))"
        " for t in temps for p in prompts]\n"
        "    return llm.generate([p for p, _ in r], [s for _, s in r])\n",
        "no log-probabilities",
    ),
    "max_tokens forgotten": (
        SP + "def f(llm, prompts, temps):\n"
        "    r = [(p, SamplingParams(temperature=t, seed=0, logprobs=0))"
        " for t in temps for p in prompts]\n"
        "    return llm.generate([p for p, _ in r], [s for _, s in r])\n",
        "max_tokens is 16",
    ),
    "only the first prompt": (
        SP + "def f(llm, prompts, temps):\n"
        "    sps = [SamplingParams(temperature=t, seed=0, max_tokens=48, logprobs=0)"
        " for t in temps]\n"
        "    return llm.generate([prompts[0]] * len(temps), sps)\n",
        "5 requests, but every prompt at every value is 20",
    ),
    "zip instead of product": (
        SP + "def f(llm, prompts, temps):\n"
        "    sps = [SamplingParams(temperature=t, seed=0, max_tokens=48, logprobs=0)"
        " for t in temps]\n"
        "    return llm.generate((prompts * 5)[:5], sps)\n",
        "5 requests",
    ),
    "does not return": (
        SP + "def f(llm, prompts, temps):\n"
        "    r = [(p, SamplingParams(temperature=t, seed=0, max_tokens=48, logprobs=0))"
        " for t in temps for p in prompts]\n"
        "    llm.generate([p for p, _ in r], [s for _, s in r])\n",
        "returned NoneType",
    ),
    "typo in a field": (
        SP + "def f(llm, prompts, temps):\n"
        "    sps = [SamplingParams(temprature=t) for t in temps]\n"
        "    return llm.generate(prompts, sps)\n",
        "line 3 (in <listcomp>)",
    ),
}


@pytest.mark.parametrize("name", SWEEP_WRONG)
def test_temperature_sweep_wrong(name):
    source, hint = SWEEP_WRONG[name]
    wrong(check.temperature_sweep(learner(source)["f"], FakeLLM()), hint)


# 2.4 ---------------------------------------------------------------------------------


def test_length_runs_reference_passes_and_shows_the_stops():
    verdict = right(check.length_runs(REF["2.4"]["length_runs"], FakeLLM()))
    assert (verdict.evidence["num_tokens"][500] == 50).all()
    assert (verdict.evidence["finish_reason"][500] == "stop").all()


@pytest.mark.parametrize(
    ("guess", "said"),
    [
        (True, ("You guessed True; not so: at max_tokens=500, 4 of 4 outputs stopped "
         "early (finish_reason 'stop', at 50, 50, 50, 50 tokens)")),
        (False, "You guessed False; right: at max_tokens=500, 4 of 4"),
    ],
)
def test_length_runs_compares_the_guess_with_the_run(guess, said):
    fn = REF["2.4"]["length_runs"]
    assert said in right(check.length_runs(fn, FakeLLM(), guess=guess)).message


def test_length_runs_guess_must_be_true_or_false():
    verdict = check.length_runs(REF["2.4"]["length_runs"], FakeLLM(), guess="no")
    wrong(verdict, "write True or False")


LENGTH_WRONG = {
    "max_tokens forgotten": (
        SP + "def f(llm, prompts, limits):\n"
        "    r = [(p, SamplingParams(temperature=0)) for n in limits for p in prompts]\n"
        "    return llm.generate([p for p, _ in r], [s for _, s in r])\n",
        "16 is SamplingParams()'s own default",
    ),
    "sampled, not greedy": (
        SP + "def f(llm, prompts, limits):\n"
        "    r = [(p, SamplingParams(max_tokens=n)) for n in limits for p in prompts]\n"
        "    return llm.generate([p for p, _ in r], [s for _, s in r])\n",
        "which temperature makes the runs comparable",
    ),
    "one call per limit": (
        SP + "def f(llm, prompts, limits):\n"
        "    return [o for n in limits for o in llm.generate(prompts,"
        " SamplingParams(temperature=0, max_tokens=n))]\n",
        "called 3 times",
    ),
    "limits in min_tokens": (
        SP + "def f(llm, prompts, limits):\n"
        "    r = [(p, SamplingParams(temperature=0, min_tokens=n, max_tokens=500))"
        " for n in limits for p in prompts]\n"
        "    return llm.generate([p for p, _ in r], [s for _, s in r])\n",
        "each prompt once at each limit",
    ),
}


@pytest.mark.parametrize("name", LENGTH_WRONG)
def test_length_runs_wrong(name):
    source, hint = LENGTH_WRONG[name]
    wrong(check.length_runs(learner(source)["f"], FakeLLM()), hint)


# 2.7 ---------------------------------------------------------------------------------


def test_load_config_reference_passes():
    assert right(check.load_config(REF["2.7"]["load_config"]))


CONFIG_WRONG = {
    "returns the dict only": (
        "import json\ndef f(parser, path):\n    return json.load(open(path))\n",
        "should become the parser's defaults",
    ),
    "dashes in the keys": (
        (
            "import json\ndef f(parser, path):\n"
            "    c = json.load(open(path))\n"
            "    parser.set_defaults(**{'--' + k.replace('_', '-'): v for k, v in c.items()})\n"
        ),
        "should become the parser's defaults",
    ),
    "file values as arguments (file wins)": (
        (
            "import json\ndef f(parser, path):\n    c = json.load(open(path))\n"
            "    old = parser.parse_args\n"
            "    parser.parse_args = lambda argv=None: old(list(argv or []) + "
            "[x for k, v in c.items() for x in ('--' + k.replace('_', '-'), str(v))])\n"
        ),
        "the command line must win",
    ),
    "hard-coded sheet values": (
        (
            "def f(parser, path):\n    parser.set_defaults(model='facebook/opt-125m',"
            " temperature=0.7, top_p=0.95, max_tokens=100)\n"
        ),
        "the file says",
    ),
    "yaml module": (
        "def f(parser, path):\n    import json\n    parser.set_defaults(**json.loads(path))\n",
        "line 3 (in f)",
    ),
}


WRAPPERS = {
    "2.7 a call of vlesson's load_config": (
        check.load_config,
        ("def f(parser, path):\n"
        "    parser.set_defaults(**vl.settings.load_config(parser, path))\n"),
        "vlesson.settings.load_config",
    ),
    "2.7 a lambda around parse_with_config": (
        check.load_config,
        ("f = lambda parser, path: parser.set_defaults(**vars(\n"
        "    vl.settings.parse_with_config(parser, ['--config', path])))\n"),
        "vlesson.settings.parse_with_config",
    ),
    "2.15 a partial of vlesson's validate": (
        check.validate_args,
        "import functools\nf = functools.partial(vl.sampling.validate)\n",
        "vlesson.sampling.validate",
    ),
    "2.15 validate imported under another name": (
        check.validate_args,
        ("from vlesson.sampling import validate as mine\n"
        "def f(args):\n    mine(args)\n    return args\n"),
        "vlesson.sampling.validate",
    ),
}


@pytest.mark.parametrize("name", WRAPPERS)
def test_wrappers_of_vlessons_reference_code_are_refused(name):
    run, source, called = WRAPPERS[name]
    verdict = run(learner(source)["f"])
    wrong(verdict, f"calls vlesson's own {called}")
    assert not verdict.discussion


@pytest.mark.parametrize("name", CONFIG_WRONG)
def test_load_config_wrong(name):
    source, hint = CONFIG_WRONG[name]
    wrong(check.load_config(learner(source)["f"]), hint)


# 2.8 ---------------------------------------------------------------------------------


def test_prompt_option_reference_passes():
    assert right(check.prompt_option(REF["2.8"]["add_prompt_option"]))


PROMPT_WRONG = {
    "store keeps the last": (
        "def f(parser):\n    parser.add_argument('--prompt')\n",
        "each --prompt should add one prompt to a list",
    ),
    "nargs='+'": (
        "def f(parser):\n    parser.add_argument('--prompt', nargs='+')\n",
        "each --prompt should add one prompt to a list",
    ),
    "default list": (
        (
            "def f(parser):\n"
            "    parser.add_argument('--prompt', action='append', default=['Hello'])\n"
        ),
        "each --prompt should add one prompt to a list",
    ),
    "option named --prompts": (
        "def f(parser):\n    parser.add_argument('--prompts', action='append')\n",
        "gives prompt=None",
    ),
    "two options named --prompt": (
        (
            "def f(parser):\n    parser.add_argument('--prompt', action='append')\n"
            "    parser.add_argument('--prompt')\n"
        ),
        "line 3 (in f)",
    ),
}


@pytest.mark.parametrize("name", PROMPT_WRONG)
def test_prompt_option_wrong(name):
    source, hint = PROMPT_WRONG[name]
    wrong(check.prompt_option(learner(source)["f"]), hint)


CONFIG = {"temperature": 0.7, "top_p": 0.95, "max_tokens": 40}


def rows(path, prompts, temperature=0.7):
    lines = [
        {
            "prompt": p,
            "num_tokens": 12,
            "params": {"temperature": temperature, "top_p": 0.95},
        }
        for p in prompts
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    return path


def test_generate_output_right_and_wrong(tmp_path):
    two = ["Once upon a time", "In the future"]
    assert right(check.generate_output(rows(tmp_path / "a.jsonl", two), CONFIG))
    unquoted = ["Once", "In the future"]
    wrong(check.generate_output(rows(tmp_path / "b.jsonl", unquoted), CONFIG), "quoted")
    no_config = rows(tmp_path / "c.jsonl", two, temperature=1.0)
    wrong(check.generate_output(no_config, CONFIG), "was the config file passed")


# 2.15 --------------------------------------------------------------------------------


def test_validate_args_reference_passes():
    assert right(check.validate_args(REF["2.15"]["validate_args"]))


V = "import warnings\ndef f(args):\n"
VALIDATE_WRONG = {
    "the sheet's example only": (
        V + "    if args.get('temperature') and args['temperature'] < 0:\n"
        "        raise ValueError('Temperature must be non-negative')\n"
        "    if args.get('max_tokens') and args['max_tokens'] > 4096:\n"
        "        print('WARNING: max_tokens is very high, may be slow')\n"
        "    return args\n",
        "name the parameter (temperature)",
    ),
    "ranges but no typos": (
        V + "    t, p = args.get('temperature', 1), args.get('top_p', 1)\n"
        "    if t < 0: raise ValueError(f'temperature must be >= 0, got {t}')\n"
        "    if not 0 < p <= 1: raise ValueError(f'top_p must be in (0, 1], got {p}')\n"
        "    k = args.get('top_k', 0)\n"
        "    if k < -1: raise ValueError(f'top_k must be >= -1, got {k}')\n"
        "    m = args.get('max_tokens', 16)\n"
        "    if m < 1: raise ValueError(f'max_tokens must be >= 1, got {m}')\n"
        "    return args\n",
        "{'temprature': 0.7} passed your function, but vLLM refuses it",
    ),
    "too strict: top_k 0 refused": (
        V + "    if args.get('top_k') is not None and args['top_k'] < 1:\n"
        "        raise ValueError(f\"top_k must be >= 1, got {args['top_k']}\")\n"
        "    return args\n",
        "passed your function, but vLLM refuses it",
    ),
    "no warning": (
        V + "    from vllm import SamplingParams\n    SamplingParams(**args)\n"
        "    return args\n",
        "passed silently",
    ),
    "max_tokens 5000 refused": (
        V + "    from vllm import SamplingParams\n"
        "    if args.get('max_tokens', 0) > 4096: raise ValueError('max_tokens too high')\n"
        "    SamplingParams(**args)\n    return args\n",
        "it is allowed, only slow",
    ),
    "returns nothing": (
        V + "    from vllm import SamplingParams\n    SamplingParams(**args)\n",
        "return the settings unchanged",
    ),
}


@pytest.mark.parametrize("name", VALIDATE_WRONG)
def test_validate_args_wrong(name):
    source, hint = VALIDATE_WRONG[name]
    wrong(check.validate_args(learner(source)["f"]), hint)
