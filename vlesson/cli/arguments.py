"""What only the command line needs, besides its parsers (``vlesson.settings``): the
check of vlesson's own options before vLLM is imported, the refusal of a key on a
command line, the prompts from ``--prompt`` and ``--prompts-file``, and the parse of the
commands that take no ``--config``."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vlesson import envvars, models
from vlesson.generate import LESSON_PROMPTS
from vlesson.sampling import validate
from vlesson.settings import (
    SAMPLING_FLAGS,
    UsageError,
    check_config_keys,
    given_on_command_line,
    read_mapping,
)

KEY_FLAG = "--api-key"


def is_key_option(arg: str) -> bool:
    """Whether ``arg`` is a spelling of ``--api-key`` that vLLM's parser would take:
    dashes or underscores (``--api_key``), an abbreviation (``--api-ke``), with or
    without ``=VALUE``."""
    if not arg.startswith("--"):
        return False
    name = arg[2:].split("=", 1)[0].replace("_", "-").lower()
    return len(name) >= 2 and KEY_FLAG[2:].startswith(name)


def refuse_key_on_command_line(argv: Sequence[str]) -> None:
    """Refuse ``--api-key KEY`` in every spelling: every user of the machine reads
    command lines in the process list, so keys come from the environment."""
    for arg in argv:
        if is_key_option(arg):
            raise UsageError(
                f"{arg.split('=', 1)[0]} (that is {KEY_FLAG}) would show the key to "
                f"every user of this machine (the process list): leave it out and give "
                f"it in the environment, export {envvars.SERVER_API_KEY}=KEY (a class "
                f"server's key; `vlesson serve` reads its own from ${envvars.API_KEY})"
            )


def parse_command_line(
    parser: argparse.ArgumentParser, argv: Sequence[str]
) -> argparse.Namespace:
    """Parse argv without a --config file, noting which options it gives."""
    args = parser.parse_args(list(argv))
    args.config_keys = []
    args.command_line_keys = sorted(given_on_command_line(parser, list(argv)))
    return args


def read_prompts_file(path: Path) -> list[str]:
    """Read one prompt per line (UTF-8); skip blank lines and lines starting with #."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"prompts file {path} does not exist") from None
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"prompts file {path} is not UTF-8 text (byte {exc.start}): save it as UTF-8"
        ) from None
    except OSError as exc:
        raise UsageError(f"prompts file {path} cannot be read: {exc}") from None
    # Split on newlines only: splitlines() would also cut at \x0c, \x1c, \u2028...
    prompts = [
        line.strip()
        for line in text.split("\n")
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not prompts:
        raise UsageError(f"prompts file {path} holds no prompts (one per line)")
    return prompts


def collect_prompts(args: argparse.Namespace) -> list[str]:
    """Return --prompt values, then --prompts-file lines; the lesson's four if neither."""
    prompts = list(args.prompt or [])
    check_prompts(prompts)
    if args.prompts_file is not None:
        prompts += read_prompts_file(args.prompts_file)
    return prompts or list(LESSON_PROMPTS)


def check_prompts(prompts: Sequence[str]) -> None:
    """Refuse an empty --prompt (or only spaces) before any engine work."""
    for number, prompt in enumerate(prompts, 1):
        if not prompt.strip():
            raise UsageError(
                f"prompt {number} is empty - give it some text, e.g. --prompt "
                "'The capital of France is' (or leave --prompt out for the lesson's "
                "four prompts)"
            )


def check_before_engine(argv: Sequence[str], own: Sequence[str] = ()) -> None:
    """Check vlesson's own options - sampling values, prompts, the --config file, a
    model name - with a small parser, before vLLM is imported (about 8 s): a mistake
    in them comes back at once. The full parse still follows; engine options are
    vLLM's and are checked there."""
    known = _early_parser().parse_known_args(list(argv))[0]
    values = {}
    if known.config is not None:
        config = read_mapping(known.config)
        values = {str(k).replace("-", "_"): v for k, v in config.items()}
        check_prompts(
            [values["prompt"]]
            if isinstance(values.get("prompt"), str)
            else [p for p in values.get("prompt") or [] if isinstance(p, str)]
        )
        check_config_keys(known.config, config, own)
    for name in SAMPLING_FLAGS:
        given = getattr(known, name)
        if given is not None:
            values[name] = _number(given)
    model = known.model or values.get("model")
    local = not (known.server or values.get("server") or os.environ.get(envvars.SERVER))
    # The context length a local engine will have, where it is known without vLLM.
    length = _number(known.max_model_len or str(values.get("max_model_len") or ""))
    if not isinstance(length, int):
        length = models.context_length(str(model) if model else None) if local else None
    validate(
        {k: v for k, v in values.items() if k in SAMPLING_FLAGS},
        max_model_len=length,
    )
    check_prompts(known.prompt or [])
    if known.prompts_file is not None:
        read_prompts_file(known.prompts_file)
    if model and local:
        models.check_available(str(model))


def _early_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    for name in SAMPLING_FLAGS:
        parser.add_argument("--" + name.replace("_", "-"), dest=name)
    parser.add_argument("--prompt", action="append")
    parser.add_argument("--prompts-file", type=Path)
    parser.add_argument("--config", type=Path)
    parser.add_argument("--model")
    parser.add_argument("--server")
    parser.add_argument("--max-model-len", "--max_model_len", dest="max_model_len")
    return parser


def _number(text: str) -> Any:
    """A number from the command line; text that is none stays text (the full parse
    names it)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
