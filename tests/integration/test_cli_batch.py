"""`vlesson batch` and 2.9's batch_generate.sh (notebook 04's reference script) in
subprocesses: SIGKILL halfway, then resume."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.lesson_answers import script as reference_script

PROMPTS = [
    "Hello, my name is",
    "../../etc/passwd",
    "slash / and \x00 NUL",
    "x" * 3000,
    "The future of AI is",
    "Once upon a time",
    "The capital of France is",
    "In the future",
]
SETTINGS = ["--max-tokens", "16", "--seed", "3", "--chunk-size", "1"]


def ok_rows(out):
    path = out / "manifest.jsonl"
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().split("\n"):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return [r for r in rows if r.get("status") == "ok"]


def test_a_sigkilled_batch_resumes_without_loss(tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text(
        "# hostile lines too\n" + "\n".join(PROMPTS) + "\n", encoding="utf-8"
    )
    out = tmp_path / "out"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    batch_generate = tmp_path / "batch_generate.sh"
    batch_generate.write_text(reference_script("04", "2.9"))
    script = subprocess.Popen(
        ["bash", str(batch_generate), str(prompts), str(out), *SETTINGS],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300
    while (
        len(ok_rows(out)) < 2 and script.poll() is None and time.monotonic() < deadline
    ):
        time.sleep(0.02)
    script.send_signal(signal.SIGKILL)  # the script execs the one vlesson process
    script.wait()
    killed = ok_rows(out)
    assert 2 <= len(killed) < len(PROMPTS), script.stderr.read().decode()[-2000:]
    before = {r["file"]: (out / r["file"]).read_text() for r in killed}

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "vlesson",
            "batch",
            "--prompts-file",
            str(prompts),
            "--out",
            str(out),
            "--temperature",
            "0.8",
            *SETTINGS,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"{len(killed)} already done, 0 failed" in result.stdout
    rows = ok_rows(out)
    assert sorted(r["index"] for r in rows) == list(range(1, len(PROMPTS) + 1))
    assert [r["prompt"] for r in sorted(rows, key=lambda r: r["index"])] == PROMPTS
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [r["file"] for r in rows] + ["manifest.jsonl"]
    )
    assert {f: (out / f).read_text() for f in before} == before
    assert all(
        r["params"]["seed"] == 3 and r["params"]["temperature"] == 0.8 for r in rows
    )


def test_a_batch_saves_each_result_as_it_finishes(tmp_path):
    """Default chunk (all prompts in one engine call), two sequences at a time: the
    progress bar counts finished prompts; each one counted has its file and manifest
    row at once, so a SIGKILL halfway loses only what was in flight."""
    count = 10
    prompts = tmp_path / "prompts.txt"
    prompts.write_text(
        "\n".join(f"Write a long story number {i} about" for i in range(count)) + "\n"
    )
    out = tmp_path / "out"
    command = [
        str(Path(sys.executable).with_name("vlesson")), "batch",
        "--prompts-file", str(prompts), "--out", str(out),
        "--max-tokens", "48", "--min-tokens", "48", "--seed", "1",
        "--max-num-seqs", "2",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    shown, counted = b"", 0
    deadline = time.monotonic() + 300
    while counted < 3 and process.poll() is None and time.monotonic() < deadline:
        shown += os.read(process.stderr.fileno(), 4096)
        found = re.findall(rb"Processed prompts:[^\r\n]*?(\d+)/%d" % count, shown)
        counted = int(found[-1]) if found else 0
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert counted >= 3, shown.decode(errors="replace")[-2000:]
    rows = ok_rows(out)
    assert len(rows) >= counted, f"the bar said {counted} done, {len(rows)} saved"
    assert len(rows) < count, "the run ended before the kill: nothing was tested"
    assert all((out / r["file"]).is_file() for r in rows)
