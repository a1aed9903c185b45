"""2.9's script check (``vl.check.batch_script``): the reference script and the wrong
ones it catches. A small stand-in ``vlesson`` on PATH writes a manifest as ``vlesson
batch`` does (one file per prompt, done prompts skipped) without an engine; the real
command runs in notebook 04 and tests/integration/test_cli_batch.py."""

from __future__ import annotations

import json
import os
import sys
import textwrap

import pytest

from tests.lesson_answers import says, script
from vlesson.exercises.check import shell_scripts as checks

pytestmark = pytest.mark.usefixtures("scratch_progress")

FAKE_VLESSON = textwrap.dedent(
    f"""\
    #!{sys.executable}
    import argparse, hashlib, json, pathlib, sys
    parser = argparse.ArgumentParser()
    parser.add_argument("command")
    parser.add_argument("--prompts-file", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--max-tokens", type=int, default=16)
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = out / "manifest.jsonl"
    lines = pathlib.Path(args.prompts_file).read_text().splitlines()
    prompts = [p for p in lines if p and not p.startswith("#")]
    done = {{json.loads(r)["key"] for r in manifest.read_text().splitlines()}} \\
        if manifest.exists() else set()
    params = {{"temperature": args.temperature, "max_tokens": args.max_tokens}}
    for index, prompt in enumerate(prompts, 1):
        key = hashlib.sha256(json.dumps([prompt, params]).encode()).hexdigest()
        if key in done:
            continue
        name = f"{{index:05d}}-{{key[:12]}}.txt"
        (out / name).write_text(" a completion")
        row = {{"index": index, "key": key, "status": "ok", "prompt": prompt,
               "file": name, "params": params}}
        with manifest.open("a") as handle:
            handle.write(json.dumps(row) + "\\n")
    """
)
RIGHT = script("04", "2.9")
PROMPTS = ["The capital of France is", "Once upon a time"]


@pytest.fixture
def setup(tmp_path, monkeypatch):
    """A stand-in vlesson first on PATH, and a done batch folder made by it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "vlesson"
    fake.write_text(FAKE_VLESSON)
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("\n".join(PROMPTS) + "\n")
    done = tmp_path / "batch"
    os.system(
        f"vlesson batch --prompts-file {prompts} --out {done} "
        "--temperature 0 --max-tokens 16"
    )
    return tmp_path, done


def check(tmp_path, done, text):
    path = tmp_path / "batch_generate.sh"
    path.write_text(text)
    return checks.batch_script(path, done)


def test_the_reference_script_is_right(setup):
    tmp_path, done = setup
    says(check(tmp_path, done, RIGHT), "right", "one process for 3 prompts")
    assert len(list(done.iterdir())) == 3  # the learner's folder is left as it was


def test_the_stub_and_a_missing_script_are_not_attempted(setup):
    tmp_path, done = setup
    says(check(tmp_path, done, script("04", "2.9", learner=True)), "not attempted")
    missing = checks.batch_script(tmp_path / "nothing.sh", done)
    says(missing, "not attempted", "run the %%writefile cell")


HEAD = "#!/usr/bin/env bash\nset -euo pipefail\n"
USAGE = (
    'if [[ $# -lt 2 ]]; then echo "usage: PROMPTS_FILE OUT_DIR" >&2; exit 2; fi\n'
)
WRONG = {
    "no usage check": (
        HEAD + 'vlesson batch --prompts-file "$1" --out "$2" "${@:3}"\n',
        "exited with 1",
    ),
    "exit 1 on usage": (
        HEAD + USAGE.replace("exit 2", "exit 1")
        + 'vlesson batch --prompts-file "$1" --out "$2" "${@:3}"\n',
        "exit 2 (a usage error",
    ),
    "silent usage error": (
        HEAD + USAGE.replace('echo "usage: PROMPTS_FILE OUT_DIR" >&2; ', "")
        + 'vlesson batch --prompts-file "$1" --out "$2" "${@:3}"\n',
        "print a usage line",
    ),
    "one process per prompt": (
        HEAD + USAGE + 'out=$2; file=$1; shift 2\n'
        'while IFS= read -r prompt; do\n'
        '  printf "%s\\n" "$prompt" > "$out.one"\n'
        '  vlesson batch --prompts-file "$out.one" --out "$out" "$@"\n'
        'done < "$file"\n',
        "each loads the model again",
    ),
    "defaults win": (
        HEAD + USAGE
        + 'vlesson batch --prompts-file "$1" --out "$2" "${@:3}" --temperature 0.8\n',
        "win over your defaults",
    ),
    "starts afresh": (
        HEAD + USAGE
        + 'rm -rf "$2"\nvlesson batch --prompts-file "$1" --out "$2" "${@:3}"\n',
        "done files were removed",
    ),
    "another folder": (
        HEAD + USAGE
        + 'vlesson batch --prompts-file "$1" --out results "${@:3}"\n',
        "no output for the new prompt",
    ),
}


@pytest.mark.parametrize("name", WRONG)
def test_wrong_scripts_get_their_hint(setup, name, monkeypatch):
    tmp_path, done = setup
    monkeypatch.chdir(tmp_path)
    text, hint = WRONG[name]
    says(check(tmp_path, done, text), "wrong", hint)


def test_the_done_folder_is_read_from_its_manifest(setup):
    tmp_path, done = setup
    rows = [json.loads(r) for r in (done / "manifest.jsonl").read_text().splitlines()]
    assert [r["prompt"] for r in rows] == PROMPTS
    empty = tmp_path / "empty"
    empty.mkdir()
    says(check(tmp_path, empty, RIGHT), "not attempted", "holds no finished batch")
