"""What one engine start costs a learner, side by side: import + ``get_llm``, the first
generate (8 tokens) and the next one, each row in a fresh interpreter.

Rows: the venv as ``make setup`` leaves it (every ``.pyc`` compiled at install); the same
venv as if no ``.pyc`` existed (Python looks for them under an empty
``PYTHONPYCACHEPREFIX`` and writes none, as where ``PYTHONDONTWRITEBYTECODE`` is set);
and ``TORCHINDUCTOR_VEC_ISA_OK=1`` (torch trusts the CPU's flags instead of building and
loading a probe library per vector ISA before its first compile: vLLM compiles its
logprob-rank helper at the first generate).

    .venv/bin/python bench/start_costs.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from workloads import medians, print_result, run_child, run_rounds

GREEDY = {"max_tokens": 8, "temperature": 0}


def measure() -> dict:
    """Runs in the child: the three figures, in seconds."""
    start = time.perf_counter()
    import vlesson as vl

    llm = vl.get_llm()
    ready = time.perf_counter() - start
    times = []
    for _ in range(2):
        start = time.perf_counter()
        vl.generate(llm, ["Hello"], GREEDY, use_tqdm=False)
        times.append(time.perf_counter() - start)
    return {"ready_s": ready, "first_generate_s": times[0], "next_generate_s": times[1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="runs per row (median)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print_result(measure())
        return
    empty = tempfile.mkdtemp(prefix="no-pyc-")
    rows = {
        "compiled .pyc (make setup)": {},
        "no .pyc": {"PYTHONPYCACHEPREFIX": empty, "PYTHONDONTWRITEBYTECODE": "1"},
        "TORCHINDUCTOR_VEC_ISA_OK=1": {"TORCHINDUCTOR_VEC_ISA_OK": "1"},
    }
    runs = run_rounds(list(rows), lambda name: run_child(__file__, "1", rows[name]),
                      args.rounds, "engine starts")
    columns = ["ready_s", "first_generate_s", "next_generate_s"]
    print(f"{'row (median)':32} {'ready_s':>8} {'first_gen_s':>12} {'next_gen_s':>11}")
    for name, results in runs.items():
        if not results:
            continue
        med = medians(results, columns)
        print(f"{name:32} {med['ready_s']:8.1f} {med['first_generate_s']:12.2f}"
              f" {med['next_generate_s']:11.2f}  (n={len(results)})")


if __name__ == "__main__":
    main()
