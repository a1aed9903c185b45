"""Look inside a subcommand's parser: its option groups and defaults (exercise 2.2).

Answers come from the parser object itself, so they follow the installed vLLM.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence
from typing import Any

from vlesson.cli import COMMANDS, parse_args
from vlesson.compat import quantization_methods

__all__ = ["default", "groups", "parse", "parser_for", "quantization_methods"]


def parser_for(command: str = "generate") -> argparse.ArgumentParser:
    """Return the real parser of ``vlesson COMMAND`` (what ``--help`` prints)."""
    module = importlib.import_module(_module(command))
    return module.build_parser(f"vlesson {command}")


def _module(command: str) -> str:
    if command not in COMMANDS:
        raise ValueError(f"unknown command {command!r} - one of {', '.join(COMMANDS)}")
    return COMMANDS[command]


def parse(command: str, argv: Sequence[str]) -> argparse.Namespace:
    """Parse argv exactly as ``vlesson COMMAND`` does (``--config`` first)."""
    module = importlib.import_module(_module(command))
    return parse_args(module, module.build_parser(f"vlesson {command}"), argv)


def groups(parser: argparse.ArgumentParser) -> list[tuple[str, int]]:
    """Return (title, number of options) of each argument group that has options."""
    return [
        (group.title or "", len(group._group_actions))
        for group in parser._action_groups
        if group._group_actions
    ]


def default(parser: argparse.ArgumentParser, name: str) -> Any:
    """Return the default of an option, given as ``--gpu-memory-utilization`` or dest."""
    dest = name.lstrip("-").replace("-", "_")
    if all(action.dest != dest for action in parser._actions):
        raise ValueError(f"{parser.prog} has no option {name!r}")
    return parser.get_default(dest)
