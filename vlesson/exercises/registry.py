"""Every exercise and checkpoint of the lesson's sheet, in one registry.

Ids follow the sheet: "2.1" ... "2.15", "challenge", "bonus" (benchmarking) and
"self-1" ... "self-7" (the self-assessment list). Hints go from a nudge to the name of
the tool; none hands over the recipe (``vl.solution(id)`` does, on request).
"""

from __future__ import annotations

import dataclasses

LEVELS = {"beginner": "🟢", "intermediate": "🟡", "advanced": "🔴"}
"""The sheet's difficulty marks."""


@dataclasses.dataclass(frozen=True)
class Exercise:
    """One exercise or checkpoint of the sheet."""

    id: str
    """"2.7", "challenge", "bonus", "self-3"."""
    title: str
    notebook: str
    """The notebook's file name without ".ipynb", e.g. "01_parameters_and_cli"."""
    mark: str
    """The sheet's mark: 🟢 🟡 🔴, 🎯 for the challenge, 📊 the bonus, ✅ self-assessment."""
    hints: tuple[str, ...] = ()
    """Given one at a time by ``vl.hint(id)``."""


NB00, NB01, NB02 = "00_contents", "01_parameters_and_cli", "02_playground"
NB03, NB04 = "03_models_memory_quantization", "04_batch_sweep_log_cache"
NB05, NB06, NB07 = (
    "05_web_api",
    "06_smart_generator_and_benchmark",
    "07_self_assessment",
)
G, Y, R = LEVELS["beginner"], LEVELS["intermediate"], LEVELS["advanced"]

EXERCISES: tuple[Exercise, ...] = (
    Exercise(
        "2.1",
        "Run with different models",
        NB03,
        G,
        (
            (
                "Engine arguments are fixed when the engine starts: a second model is a second "
                "engine. Which EngineArgs field names the model?"
            ),
            "Time the load and the generation separately: they answer different questions.",
            (
                "Compare the two models' sizes: weights and vocabulary "
                "(vl.models.describe, or config.json)."
            ),
        ),
    ),
    Exercise(
        "2.2",
        "Use the help system",
        NB01,
        G,
        (
            (
                "The help is printed by an argparse parser: each titled block of options is "
                "one argument group."
            ),
            (
                "Count the group titles in `vlesson generate --help`, and read the default "
                "printed beside --gpu-memory-utilization on YOUR vLLM (the sheet's may be old)."
            ),
            (
                "The quantization choices are listed in the --quantization line; is 'awq' "
                "among them?"
            ),
        ),
    ),
    Exercise(
        "2.3",
        "Experiment with temperature",
        NB01,
        G,
        (
            (
                "llm.generate takes a list of prompts and a list of SamplingParams of the same "
                "length: one entry per (prompt, temperature) pair."
            ),
            (
                "Without a seed, every run samples differently; SamplingParams has a field for "
                "that."
            ),
            (
                "To judge 'nonsensical' with numbers, ask for the chosen tokens' "
                "log-probabilities (SamplingParams(logprobs=...))."
            ),
        ),
    ),
    Exercise(
        "2.4",
        "Adjust max tokens",
        NB01,
        G,
        (
            (
                "Look at finish_reason of each output: 'length' and 'stop' mean different "
                "things."
            ),
            (
                "SamplingParams() has its own max_tokens default; print SamplingParams() and "
                "look."
            ),
        ),
    ),
    Exercise(
        "2.5",
        "Combine multiple arguments",
        NB03,
        Y,
        (
            "max_tokens is a ceiling, not a target: what else could end the output first?",
            "SamplingParams has a field that forbids stopping before a number of tokens.",
        ),
    ),
    Exercise(
        "2.6",
        "GPU memory management",
        NB03,
        Y,
        (
            "The fraction is of the device's total memory, per engine.",
            "For the KV-cache sum: what does ONE token leave behind, in ONE layer?",
            (
                "Look at num_key_value_heads as well as num_attention_heads, and at "
                "head_dim; then round down to whole blocks."
            ),
        ),
    ),
    Exercise(
        "2.7",
        "Create a configuration file",
        NB01,
        Y,
        (
            (
                "The file's values should become defaults, and the command line should still "
                "win over them."
            ),
            (
                "argparse parsers have a method that changes defaults after the options are "
                "added; call it before parse_args."
            ),
            (
                "json.load gives a dict whose keys are the options' dest names (top_p, not "
                "--top-p)."
            ),
        ),
    ),
    Exercise(
        "2.8",
        "Add custom prompts argument",
        NB01,
        Y,
        (
            "One option given several times should collect a list.",
            "argparse's `action=` decides what happens each time an option appears.",
        ),
    ),
    Exercise(
        "2.9",
        "Build a batch processing script",
        NB04,
        R,
        (
            "Starting one process per prompt loads the model once per prompt.",
            (
                "Read every prompt first: llm.generate takes a list and returns the "
                "outputs in the same order."
            ),
            (
                "A prompt is data: a file name made from it can point anywhere, and two "
                "equal prompts would share one file. What else identifies a line?"
            ),
        ),
    ),
    Exercise(
        "2.10",
        "Parameter sweep",
        NB04,
        R,
        (
            "25 settings are 25 SamplingParams: one llm.generate call can take them all.",
            "itertools has a function for 'every x with every y'.",
            (
                "llm.generate pairs prompts and SamplingParams by position, so the "
                "prompt list must be as long as the params list."
            ),
            "One seed for every request makes two rows differ only by their settings.",
        ),
    ),
    Exercise(
        "2.11",
        "Add logging",
        NB04,
        R,
        (
            "One row per generation, written as it happens: JSON lines or CSV.",
            "Open the file so that a second call adds rows instead of replacing them.",
            (
                "A RequestOutput's completion is its .outputs[0]; the model counts "
                "tokens, not characters."
            ),
        ),
    ),
    Exercise(
        "2.12",
        "Compare quantization methods",
        NB03,
        R,
        (
            "vLLM reads the quantization method from the checkpoint's own config.",
            (
                "Open a checkpoint folder's config.json: which key would a quantization "
                "tool add?"
            ),
        ),
    ),
    Exercise(
        "2.13",
        "Build a simple web API",
        NB05,
        R,
        (
            "Build the engine once, outside the request handler.",
            "Check the request before the engine runs; a bad field is the client's 422.",
            (
                "Values the request leaves out: start from the model's own defaults "
                "(the LLM object can give them)."
            ),
        ),
    ),
    Exercise(
        "2.14",
        "Implement result caching",
        NB04,
        R,
        (
            "A key must change whenever anything that changes the output changes.",
            "str(dict) depends on key order; hash a canonical form instead.",
            (
                "The key names a file: hashlib's digests are short and the same in "
                "every Python process."
            ),
            "A miss is normal, not an error: look before you read.",
        ),
    ),
    Exercise(
        "2.15",
        "Add validation and error handling",
        NB01,
        R,
        (
            (
                "Check each value against the range vLLM allows; the message should name the "
                "parameter, the range and the value received."
            ),
            (
                "A wrong parameter fails the same way every time: only transient failures are "
                "worth a retry."
            ),
            "Unknown keys are errors too: compare them with the fields SamplingParams has.",
        ),
    ),
    Exercise(
        "challenge",
        "Smart content generator",
        NB06,
        "🎯",
        (
            "Generate every variation in one batched call, then score them.",
            (
                "Variation i of every strategy uses the same seed, so strategies are compared "
                "on the same draws."
            ),
            (
                "For the weights: which metric is high for pure symbol noise, and which "
                "one punishes it?"
            ),
        ),
    ),
    Exercise(
        "bonus",
        "Performance benchmarking",
        NB06,
        "📊",
        (
            "Time to first token and tokens per second answer different questions.",
            "A batch's throughput is all its generated tokens over the batch's time.",
            "Each RequestOutput carries vLLM's own timings when statistics are on.",
        ),
    ),
    Exercise(
        "self-1",
        "Use command-line arguments effectively",
        NB07,
        "✅",
        (
            "Each prompt needs its own --prompt, quoted when it has spaces.",
            "Which option counts NEW tokens, and which one the whole context?",
            "The weights' type is an engine option.",
        ),
    ),
    Exercise(
        "self-2",
        "Understand what EngineArgs provides",
        NB07,
        "✅",
        (
            "vLLM can add all of its engine options to a parser for you.",
            "EngineArgs has a classmethod that reads a parsed Namespace.",
        ),
    ),
    Exercise(
        "self-3",
        "Separate sampling params from engine args",
        NB07,
        "✅",
        (
            "EngineArgs is a dataclass: its field names are the engine's settings.",
            (
                "Some names exist on both sides: think about which side each value must "
                "reach."
            ),
        ),
    ),
    Exercise(
        "self-4",
        "Override default parameters selectively",
        NB07,
        "✅",
        (
            "Start from the model's defaults, not from SamplingParams().",
            "None means 'not given'. And do not change the object you were handed.",
        ),
    ),
    Exercise(
        "self-5",
        "Create reusable, configurable scripts",
        NB07,
        "✅",
        (
            "'Exactly' 150 tokens: what could end the output before the limit?",
            (
                "'Focused' means a low temperature and a narrow nucleus; 'top-k sampling' "
                "needs a top_k."
            ),
        ),
    ),
    Exercise(
        "self-6",
        "Debug configuration issues",
        NB07,
        "✅",
        (
            "Let the code that really validates do the work, and look at what it raises.",
            (
                "Some mistakes are only found when the engine starts: ask it, with a small "
                "test, and read the error it gives."
            ),
        ),
    ),
    Exercise(
        "self-7",
        "Read and understand vLLM logs",
        NB07,
        "✅",
        (
            "vLLM writes big numbers with thousands separators.",
            "Regular expressions with a group per number are the usual tool.",
            "The log line's level and source file are written before the message.",
        ),
    ),
)

_BY_ID = {e.id: e for e in EXERCISES}


def get(exercise: str) -> Exercise:
    """Return the exercise with this id; KeyError naming the known ids if none."""
    try:
        return _BY_ID[exercise]
    except KeyError:
        known = ", ".join(_BY_ID)
        raise KeyError(f"no exercise {exercise!r}; the sheet has: {known}") from None
