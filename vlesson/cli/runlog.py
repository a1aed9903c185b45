"""``--log FILE``: the run log every generating subcommand can write (exercise 2.11)."""

from __future__ import annotations

import argparse
import contextlib

from vlesson.settings import UsageError
from vlesson.workflows import runlog


def run_log_to(args: argparse.Namespace) -> contextlib.AbstractContextManager:
    """Return a context that logs every generation to --log's file (or does nothing).

    The file name is checked now, before any engine starts; the log attaches later.
    """
    if getattr(args, "log", None) is None:
        return contextlib.nullcontext()
    try:
        runlog.log_format(args.log)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    # propagate=False: the rows go to the file, not as INFO lines onto stderr.
    return runlog.logging_to(args.log, propagate=False)
