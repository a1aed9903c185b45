"""The parsers of the generating commands and their config files: the engine and
sampling option groups, ``--config`` files, and the split of parsed arguments into
engine and sampling parts. The CLI and the lesson's checkpoints read the same parsers
from here (self-assessment 1 grades a ``vlesson generate`` command line with the real
parser); what only the command line needs is in ``vlesson.cli.arguments``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vlesson import envvars, models
from vlesson.compat import (
    engine_option_names,
    flexible_argument_parser,
    sampling_field_names,
)
from vlesson.names import close_names
from vlesson.sampling import CLI_FLAGS, EXTRA_FIELDS, PARAMS


class UsageError(Exception):
    """Bad input on the command line or in a file; the CLI exits with code 2."""


SAMPLING_FLAGS = CLI_FLAGS
"""The sampling options every generating subcommand offers (from ``PARAMS``)."""


def generation_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """Return vLLM's parser with the engine, sampling, input and run-log groups that
    every generating subcommand shares; the caller adds its own groups."""
    parser = flexible_argument_parser()(prog=prog, description=description)
    add_engine_args(parser)
    add_sampling_args(parser)
    add_input_args(parser)
    add_log_args(parser)
    return parser


GENERATE_DESCRIPTION = """Generate completions with vLLM. Engine options (vLLM's EngineArgs) come in
their own groups, sampling options in "Sampling parameters". On a CPU vlesson adds: dtype
bfloat16 (native bf16 CPUs) or float32, --enforce-eager unless `vlesson compile` compiled
these engine arguments, and a 1 GiB KV cache unless --gpu-memory-utilization is given."""

GENERATE_OWN_OPTIONS = ("prompt", "prompts_file", "output", "log")
"""Options of ``vlesson generate`` that are neither engine nor sampling settings."""


def generate_parser(prog: str = "vlesson generate") -> argparse.ArgumentParser:
    """Return the parser of ``vlesson generate``: every EngineArgs option, then
    sampling, input and output."""
    parser = generation_parser(prog, GENERATE_DESCRIPTION)
    out = parser.add_argument_group("Output")
    out.add_argument(
        "--output", type=Path, default=None, metavar="FILE.jsonl",
        help="Also write one JSON object per completion to this file.",
    )
    return parser


def add_engine_args(parser: argparse.ArgumentParser) -> None:
    """Add every vLLM engine option (its own groups), defaulting to the offline model."""
    from vllm import EngineArgs

    EngineArgs.add_cli_args(parser)
    parser.set_defaults(model=models.DEFAULT_MODEL)
    group = parser.add_argument_group(
        "Classroom", "Use a shared vLLM server instead of a local engine; engine "
        "options then cannot be changed (the instructor sets them).",
    )
    group.add_argument(
        "--server", default=None, metavar="URL",
        help="The server's OpenAI-compatible API, e.g. http://host:8000/v1. "
        f"Default: ${envvars.SERVER}; neither means a local engine. Its key comes from "
        f"${envvars.SERVER_API_KEY}, never the command line.",
    )


def add_sampling_args(parser: argparse.ArgumentParser) -> None:
    """Add the "Sampling parameters" group; every option defaults to None (not given)."""
    group = parser.add_argument_group(
        "Sampling parameters",
        "Given values override the model's defaults (llm.get_default_sampling_params()).",
    )
    taken = {a.dest for a in parser._actions}
    for name in SAMPLING_FLAGS:
        if name in taken:  # --seed is already vLLM's engine seed; split_args shares it
            continue
        p = PARAMS[name]
        group.add_argument(
            "--" + name.replace("_", "-"), type=p.kind, default=None,
            help=f"{p.help} Range: {p.range_text()}.",
        )


def add_input_args(parser: argparse.ArgumentParser) -> None:
    """Add --prompt (repeatable), --prompts-file and --config."""
    group = parser.add_argument_group("Input")
    group.add_argument(
        "--prompt", action="append", default=None, metavar="TEXT",
        help="A prompt; repeat for several. Default: the lesson's four prompts.",
    )
    group.add_argument(
        "--prompts-file", type=Path, default=None, metavar="FILE",
        help="Read prompts from FILE, one per line (blank lines and # comments skipped).",
    )
    group.add_argument(
        "--config", type=Path, default=None, metavar="FILE",
        help="JSON or YAML file of defaults, keys as option names "
        '(e.g. {"temperature": 0.7, "max_tokens": 100}); the command line wins.',
    )


def add_log_args(parser: argparse.ArgumentParser) -> None:
    """Add --log FILE.jsonl|FILE.csv: append every generation to a run log (2.11)."""
    parser.add_argument_group("Run log").add_argument(
        "--log", type=Path, default=None, metavar="FILE.jsonl|FILE.csv",
        help="Append one row per generation (time, model, engine and sampling settings, "
        "tokens, seconds, tokens/s) to this file; load it with vl.runlog.load(FILE).",
    )


def parse_with_config(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> argparse.Namespace:
    """Parse argv; a --config file's values become parser defaults (exercise 2.7)."""
    argv = list(argv) if argv is not None else None
    config_path = _pop_config(argv) if argv is not None else None
    from_config = load_config(parser, config_path) if config_path else {}
    parser.set_defaults(**from_config)
    args = parser.parse_args(argv)
    args.config = config_path
    args.config_keys = sorted(from_config)
    args.command_line_keys = sorted(given_on_command_line(parser, argv))
    return args


def given_on_command_line(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> set[str]:
    """Return the options the command line sets, whatever their value.

    ``--no-enforce-eager`` equals vLLM's default, yet it asks to undo vlesson's CPU
    default: parsing once more with every default suppressed shows it was given.
    """
    saved = [(action, action.default) for action in parser._actions]
    saved_defaults, parser._defaults = parser._defaults, {}
    try:
        for action, _ in saved:
            action.default = argparse.SUPPRESS
        given, _ = parser.parse_known_args(argv)
    finally:
        for action, default in saved:
            action.default = default
        parser._defaults = saved_defaults
    return set(vars(given))


def _pop_config(argv: list[str]) -> Path | None:
    # vLLM's parser treats --config as its own YAML format; ours is read here instead.
    for i, arg in enumerate(argv):
        if arg == "--config":
            if i + 1 == len(argv):
                raise UsageError("--config needs a file name, e.g. --config config.json")
            path = argv[i + 1]
            del argv[i : i + 2]
            return Path(path)
        if arg.startswith("--config="):
            del argv[i]
            return Path(arg.split("=", 1)[1])
    return None


def load_config(parser: argparse.ArgumentParser, path: Path) -> dict[str, Any]:
    """Read a JSON/YAML config and check every key and value against the parser."""
    data = read_mapping(path)
    actions = {a.dest: a for a in parser._actions if a.dest != "help"}
    checked = {}
    for key, value in data.items():
        dest = str(key).replace("-", "_")
        if dest in EXTRA_FIELDS and dest not in actions:
            checked[dest] = _convert_extra(path, key, value)
            continue
        if dest not in actions or dest == "config":
            raise UsageError(_unknown_key(path, key, [a for a in actions if a != "config"]))
        checked[dest] = _convert(path, key, value, actions[dest])
    return checked


CONFIG_SAMPLING_KEYS = (*SAMPLING_FLAGS, *EXTRA_FIELDS)
"""The SamplingParams fields a config file may set."""


def _unknown_key(path: Path, key: Any, valid: Sequence[str]) -> str:
    """The message for a config key no option has: a suggestion from its own kind
    only (a sampling name never gets an engine option's, nor the reverse)."""
    dest = str(key).replace("-", "_")
    others = [n for n in valid if n not in CONFIG_SAMPLING_KEYS]
    close = close_names(dest, CONFIG_SAMPLING_KEYS, n=3)
    if dest in sampling_field_names():
        hint = (
            f"{key!r} is a SamplingParams field vlesson does not take from a config "
            "file."
        )
    elif close:
        hint = f"did you mean {', '.join(map(repr, close))}?"
    else:
        close = close_names(dest, others, n=3)
        hint = f"did you mean {', '.join(map(repr, close))}?" if close else ""
    valid_keys = (
        f"Valid keys: model, {', '.join(CONFIG_SAMPLING_KEYS)}, prompt, and every "
        "engine option of `vlesson generate --help` (written with _ or -)."
    )
    return " ".join(filter(None, [f"{path}: unknown key {key!r}.", hint, valid_keys]))


def check_config_keys(path: Path, values: dict[str, Any], own: Sequence[str]) -> None:
    """Refuse a config key that no option has, before vLLM is imported: engine
    options are read from vLLM's source (``compat.engine_option_names``)."""
    engine = engine_option_names()
    if not engine:
        return  # the full parse will tell
    valid = {*engine, *CONFIG_SAMPLING_KEYS, *own, "model", "server", "prompt",
             "prompts_file", "log"}
    for key, dest in ((k, str(k).replace("-", "_")) for k in list(values)):
        if dest not in valid:
            raise UsageError(_unknown_key(path, key, sorted(valid)))


def _convert_extra(path: Path, key: Any, value: Any) -> Any:
    """Check a SamplingParams field outside PARAMS by its type (vLLM checks the
    rest when it builds the SamplingParams)."""
    dest = str(key).replace("-", "_")
    if dest in ("ignore_eos", "skip_special_tokens") and isinstance(value, bool):
        return value
    if dest == "stop" and (isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(v, str) for v in value)
    )):
        return value
    if dest == "stop_token_ids" and isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        return value
    kinds = {"ignore_eos": "true or false", "skip_special_tokens": "true or false",
             "stop": "a string or a list of strings",
             "stop_token_ids": "a list of token ids (integers)"}
    raise UsageError(f"{path}: {key!r} must be {kinds[dest]}, got {value!r}")


def read_mapping(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"config file {path} cannot be read: {exc}") from None
    import yaml

    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"config file {path} is not valid JSON: {exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}"
        ) from None
    except yaml.YAMLError as exc:  # it carries its own position
        raise UsageError(f"config file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(
            f"config file {path} must hold an object of option names and values, "
            f'e.g. {{"temperature": 0.7}}; got {type(data).__name__}'
        )
    return data


def _convert(path: Path, key: str, value: Any, action: argparse.Action) -> Any:
    if action.dest == "prompt":
        value = [value] if isinstance(value, str) else value
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise UsageError(f"{path}: 'prompt' must be a string or a list of strings")
        return value
    if value is None or action.type is None or isinstance(value, (dict, list, bool)):
        return value
    try:
        converted = action.type(value) if isinstance(value, str) else value
        if action.type in (int, float) and not isinstance(converted, (int, float)):
            raise ValueError
        if action.type is int and isinstance(converted, float):
            if not converted.is_integer():
                raise ValueError
            converted = int(converted)
    except (ValueError, TypeError, argparse.ArgumentTypeError):
        kind = getattr(action.type, "__name__", "the option's type")
        raise UsageError(
            f"{path}: {key!r} must be {kind}, got {value!r}"
        ) from None
    if action.choices is not None and converted not in action.choices:
        raise UsageError(
            f"{path}: {key!r} must be one of {list(action.choices)}, got {value!r}"
        )
    return converted


def split_args(
    parser: argparse.ArgumentParser, args: argparse.Namespace, own: Sequence[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split parsed args into (engine args the user changed, sampling overrides).

    Like the lesson's script, sampling options are popped first; of the engine options
    only those the user set (on the command line or in --config) or that differ from
    vLLM's defaults are kept, so vlesson's CPU defaults apply to the rest.
    """
    values = dict(vars(args))
    from_config = set(values.pop("config_keys", ()))
    from_command_line = set(values.pop("command_line_keys", ()))
    for name in (*own, "config"):
        values.pop(name, None)

    def given(name: str) -> bool:
        return (name in from_config or name in from_command_line
                or values[name] != parser.get_default(name))

    sampling = {n: values.pop(n) for n in SAMPLING_FLAGS if n in values and n != "seed"}
    # SamplingParams fields only a config file sets (ignore_eos, stop...).
    sampling.update({n: values.pop(n) for n in EXTRA_FIELDS if n in values})
    # --seed is vLLM's engine seed; when the user sets it, it also seeds each request.
    if "seed" in values and given("seed"):
        sampling["seed"] = values["seed"]
    # Not given: None, i.e. the default offline model here or a server's own model.
    model = values["model"] if given("model") else None
    del values["model"]
    engine = {k: v for k, v in values.items() if given(k)}
    engine["model"] = model
    return engine, sampling
