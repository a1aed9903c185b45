"""Checks of scripts the learner writes in bash: notebook 04's ``batch_generate.sh``
(the second part of 2.9), run for real (its own ``vlesson batch`` process)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from vlesson.exercises import build
from vlesson.exercises.grading import NotAttempted, checkpoint
from vlesson.workflows.batch import MANIFEST, read_manifest

__all__ = ["batch_script"]

NEW_PROMPT = "Hello, my name is"
"""The prompt the check adds to the done ones: the only one left to generate."""
COUNTED = ("vlesson", "python", "python3")
"""Commands the check counts (each start loads the model)."""
SCRIPT_SECONDS = 600


def _counting_path(folder: Path, log: Path) -> dict[str, str]:
    """An environment whose PATH starts with wrappers that note every start of
    ``vlesson`` or ``python`` in log, then run the real command."""
    folder.mkdir()
    for name in COUNTED:
        real = shutil.which(name)
        if real is None:
            continue
        wrapper = folder / name
        wrapper.write_text(
            "#!/usr/bin/env bash\n"
            f'echo "{name} $*" >> {shlex.quote(str(log))}\n'
            f'exec {shlex.quote(real)} "$@"\n'
        )
        wrapper.chmod(0o755)
    return {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


def _run(script: Path, args: list[str], env: dict[str, str]) -> Any:
    return subprocess.run(
        ["bash", str(script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=SCRIPT_SECONDS,
        check=False,
    )


def _started(log: Path) -> list[str]:
    """The commands the script started (each loads vLLM, most the model too)."""
    return log.read_text().splitlines() if log.exists() else []


def _tail(text: str) -> str:
    return " | ".join(text.strip().splitlines()[-3:]) or "(nothing)"


@checkpoint("2.9")
def batch_script(script: str | Path, done: str | Path) -> str:
    """Run the learner's ``batch_generate.sh``: without arguments, then on a copy of
    ``done`` (a finished ``vlesson batch`` folder) with its prompts and one more."""
    script, done = Path(script), Path(done)
    if not script.is_file():
        raise NotAttempted(f"{script} does not exist yet: run the %%writefile cell")
    if build.SCRIPT_STUB in script.read_text(encoding="utf-8"):
        raise NotAttempted("the script still ends with the stub's line")
    rows = [r for r in read_manifest(done) if r.get("status") == "ok"]
    if not rows:
        raise NotAttempted(f"{done} holds no finished batch: run the batch cell above")
    with tempfile.TemporaryDirectory(prefix="vlesson-2.9-") as tmp:
        root = Path(tmp)
        log = root / "started.log"
        env = _counting_path(root / "bin", log)
        _check_usage(script, env, log)
        out = root / "out"
        shutil.copytree(done, out)
        before = {r["file"]: (out / r["file"]).stat().st_mtime_ns for r in rows}
        prompts = root / "prompts.txt"
        lines = [r["prompt"] for r in sorted(rows, key=lambda r: r["index"])]
        prompts.write_text("\n".join([*lines, NEW_PROMPT]) + "\n", encoding="utf-8")
        params = rows[0]["params"]
        options = ["--temperature", str(params["temperature"]),
                   "--max-tokens", str(params["max_tokens"])]  # fmt: skip
        result = _run(script, [str(prompts), str(out), *options], env)
        assert result.returncode == 0, (
            f"bash {script.name} PROMPTS OUT --temperature ... exited with "
            f"{result.returncode}; its last words: {_tail(result.stderr)}"
        )
        _check_one_process(_started(log), len(lines) + 1)
        _check_outputs(out, lines, before, params)
    return (
        f"one process for {len(lines) + 1} prompts, the {len(lines)} done ones skipped "
        "and one file per prompt: the model loads once, vLLM batches every prompt, "
        "and a killed job resumes where it stopped - the sheet's loop would load the "
        "model once per prompt and start from scratch"
    )


def _check_usage(script: Path, env: dict[str, str], log: Path) -> None:
    result = _run(script, [], env)
    assert result.returncode == 2, (
        f"bash {script.name} without arguments exited with {result.returncode}: "
        "check that PROMPTS_FILE and OUT_DIR are given, and exit 2 (a usage error, "
        "as argparse does) before anything starts"
    )
    assert not _started(log), (
        f"without arguments your script still started {_started(log)[0]!r}: check "
        "the arguments first, so a typo costs nothing"
    )
    assert result.stderr.strip(), (
        "without arguments your script exits 2 but says nothing on stderr: print a "
        "usage line (>&2) so the user knows what to give"
    )


def _check_one_process(started: list[str], prompts: int) -> None:
    assert len(started) <= 1, (
        f"your script started {len(started)} commands for {prompts} "
        f"prompts ({started[0]!r}, ...): each loads the model again - give the whole "
        "prompts file to one `vlesson batch`"
    )


def _check_outputs(
    out: Path, prompts: list[str], before: dict[str, int], params: dict[str, Any]
) -> None:
    rows = [r for r in read_manifest(out) if r.get("status") == "ok"]
    new = [r for r in rows if r["prompt"] == NEW_PROMPT]
    assert new, (
        f"no output for the new prompt {NEW_PROMPT!r} in OUT_DIR's {MANIFEST}: pass "
        "the prompts file and OUT_DIR (your script's first two arguments) to "
        "`vlesson batch --prompts-file ... --out ...`"
    )
    asked = {k: new[0]["params"][k] for k in ("temperature", "max_tokens")}
    wanted = {k: params[k] for k in asked}
    assert asked == wanted, (
        f"the check asked for {wanted} and got {asked}: the options after OUT_DIR "
        'must reach `vlesson batch` ("$@" after shift 2) and win over your '
        "defaults (put the defaults first: the last value of an option wins)"
    )
    kept = [
        name for name, mtime in before.items()
        if (out / name).is_file() and (out / name).stat().st_mtime_ns == mtime
    ]  # fmt: skip
    assert len(kept) == len(before) and len(rows) == len(prompts) + 1, (
        f"{len(prompts)} prompts were done already, yet the manifest lists "
        f"{len(rows)} outputs and {len(before) - len(kept)} done files were removed "
        "or rewritten: run into the same OUT_DIR with the same settings, and "
        "`vlesson batch` skips what is done"
    )
    files = sorted(p.name for p in out.iterdir() if p.name != MANIFEST)
    assert len(files) == len(prompts) + 1, (
        f"OUT_DIR holds {len(files)} files for {len(prompts) + 1} prompts: one "
        "output per prompt, beside the manifest"
    )
