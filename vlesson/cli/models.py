"""``vlesson models`` and ``vlesson prepare-model``: the offline model registry."""

from __future__ import annotations

import argparse

from vlesson import models
from vlesson.settings import UsageError


def build_parser(prog: str) -> argparse.ArgumentParser:
    """Return the parser; prepare-model takes optional short names."""
    parser = argparse.ArgumentParser(prog=prog)
    if prog.endswith("prepare-model"):
        parser.add_argument(
            "names", nargs="*", metavar="NAME",
            help=f"offline models to prepare (default {models.DEFAULT_MODEL})",
        )
    return parser


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Prepare the named models, or list all of them."""
    if hasattr(args, "names"):
        names = args.names or [models.DEFAULT_MODEL]
        unknown = [n for n in names if not models.is_offline_name(n)]
        if unknown:
            known = ", ".join(models.OFFLINE_MODELS)
            raise UsageError(f"unknown offline model {unknown[0]!r}; known: {known}")
        for name in names:
            print(f"{name}: {models.prepare_model(name)}")
        return 0
    for spec in models.OFFLINE_MODELS.values():
        folder = models.models_dir() / spec.name
        state = "ready" if (folder / "vlesson-model.json").is_file() else "not prepared"
        print(f"{spec.name:28} {state:13} {spec.description}")
    return 0
