"""How vlesson's engine starts on a GPU after torch has run on the CPU (notebook 03's hang).

vLLM forks its engine core on a GPU by default. Each choice below runs in a fresh Python
process that first does torch CPU work (as writing the GPTQ copy, the memory monitor or a
learner's own torch cell do), then starts vlesson's engine and generates; a start that
does not finish within the deadline counts as hung. The in-process choice also starts a
second engine after releasing the first, as notebook 03's comparisons do.

    python bench/gpu_engine_start.py [--deadline 150] [--choices fork spawn in-process]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from vlesson.child import run_with_deadline

CHOICES = {
    "spawn": {"VLLM_WORKER_MULTIPROC_METHOD": "spawn"},
    "in-process": {"VLLM_ENABLE_V1_MULTIPROCESSING": "0"},
    "fork": {"VLLM_WORKER_MULTIPROC_METHOD": "fork"},
}
"""vLLM's environment for each way of starting the engine core."""

CHILD = r"""
import json, sys, time
import torch
x = torch.randn(1024, 1024)
for _ in range(20):
    x = torch.tanh(x @ x)  # torch's CPU thread pool is now up in this process
import vlesson as vl
from vlesson.workflows import memory
figures = {}
t = time.perf_counter()
llm = vl.get_llm()
figures["ready_s"] = time.perf_counter() - t
(gen,) = vl.generate(llm, ["The capital of France is"],
                     {"temperature": 0, "max_tokens": 8}, use_tqdm=False)
figures["text"] = gen.text
figures["gpu_used_mib"] = memory.gpu_used_mib()
if sys.argv[1] == "second":
    t = time.perf_counter()
    llm = vl.get_llm(gpu_memory_utilization=0.3)
    figures["second_ready_s"] = time.perf_counter() - t
    figures["second_gpu_used_mib"] = memory.gpu_used_mib()
print("FIGURES " + json.dumps(figures), flush=True)
"""


def run_choice(name: str, deadline: float, second: bool) -> dict:
    """Run one choice in a fresh process; return its figures or why it failed."""
    env = {**os.environ, **CHOICES[name]}
    start = time.perf_counter()
    argv = [sys.executable, "-c", CHILD, "second" if second else "one"]
    ran = run_with_deadline(argv, deadline, env)  # the engine core too is ended
    if ran is None:
        return {"result": f"hung: no engine after {deadline:.0f} s"}
    code, out = ran
    total = time.perf_counter() - start
    for line in out.splitlines():
        if line.startswith("FIGURES "):
            return {"result": "ok", "process_s": total, **json.loads(line[8:])}
    return {"result": f"failed (exit {code}): " + out.strip()[-300:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deadline", type=float, default=200)
    parser.add_argument("--choices", nargs="+", default=list(CHOICES), choices=CHOICES)
    args = parser.parse_args()
    print(f"{'choice':>11} {'result':>8} {'ready s':>8} {'2nd ready s':>12} "
          f"{'GPU MiB':>8} {'2nd GPU MiB':>12}  text")
    for name in args.choices:
        f = run_choice(name, args.deadline, second=name == "in-process")
        if f["result"] != "ok":
            print(f"{name:>11} {f['result']}")
            continue
        print(f"{name:>11} {'ok':>8} {f['ready_s']:8.1f} "
              f"{f.get('second_ready_s', float('nan')):12.1f} "
              f"{f['gpu_used_mib'] or float('nan'):8.0f} "
              f"{f.get('second_gpu_used_mib') or float('nan'):12.0f}  {f['text']!r}")


if __name__ == "__main__":
    main()
