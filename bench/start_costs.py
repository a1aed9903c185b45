"""What one engine start costs a learner, side by side: import + ``get_llm``, the first
generate (8 tokens) and the next one, each row in a fresh interpreter; and where the
ready time goes: importing vlesson and vLLM (``import``), loading the weights, and the warm-up that
compiled graphs add (a forward pass over 16 dummy tokens, which also loads the compiled
model vLLM saved; vLLM's own runs ``max_num_batched_tokens``, a row of its own).

Rows: the venv as ``make setup`` leaves it (every ``.pyc`` compiled at install); the same
venv as if no ``.pyc`` existed (Python looks for them under an empty
``PYTHONPYCACHEPREFIX`` and writes none, as where ``PYTHONDONTWRITEBYTECODE`` is set);
``TORCHINDUCTOR_VEC_ISA_OK=1`` (torch trusts the CPU's flags instead of building and
loading a probe library per vector ISA before its first compile: vLLM compiles its
logprob-rank helper at the first generate); and compiled graphs (``enforce_eager=False``)
with vLLM's compile cache warm (a first start, not counted, fills a cache of its own).
Rows other than the compiled ones are eager (``VLESSON_COMPILE=0``).

    .venv/bin/python bench/start_costs.py [--rounds 2] [--skip-compile]
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import tempfile
import time

from workloads import (
    EAGER_UNLESS_ASKED,
    VLLM_WARM_UP,
    compile_cache_env,
    keep_vllms_warm_up_if_asked,
    medians,
    print_result,
    run_child,
    run_rounds,
)

GREEDY = {"max_tokens": 8, "temperature": 0}
COLUMNS = ["ready_s", "import_s", "load_model_s", "warm_up_s", "first_generate_s",
           "next_generate_s"]


def measure(engine_kwargs: dict) -> dict:
    """Runs in the child: the figures, in seconds."""
    start = time.perf_counter()
    import vlesson as vl

    phases = _time_engine_phases()  # imports vLLM, which vlesson itself imports lazily
    imported = time.perf_counter() - start
    llm = vl.get_llm(**engine_kwargs)
    ready = time.perf_counter() - start
    times = []
    for _ in range(2):
        t = time.perf_counter()
        vl.generate(llm, ["Hello"], GREEDY, use_tqdm=False)
        times.append(time.perf_counter() - t)
    return {"ready_s": ready, "import_s": imported, **phases,
            "first_generate_s": times[0], "next_generate_s": times[1]}


def _time_engine_phases() -> dict[str, float]:
    """Time vLLM's CPU model runner's weight loading and warm-up (0 when it skips it)
    into the dict returned, as the engine starts."""
    from vllm.v1.worker.cpu_model_runner import CPUModelRunner

    from vlesson.compat import warm_up_briefly_on_cpu

    warm_up_briefly_on_cpu()  # installed now, so that the timer wraps what runs

    phases = {"load_model_s": 0.0, "warm_up_s": 0.0}
    for method, key in (("load_model", "load_model_s"), ("warming_up_model", "warm_up_s")):
        original = getattr(CPUModelRunner, method)

        @functools.wraps(original)
        def timed(*args, _original=original, _key=key, **kwargs):
            t = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                phases[_key] += time.perf_counter() - t

        setattr(CPUModelRunner, method, timed)
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="runs per row (median)")
    parser.add_argument("--skip-compile", action="store_true",
                        help="leave out the compiled row (its first start compiles for minutes)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        keep_vllms_warm_up_if_asked()
        print_result(measure(json.loads(args.child)))
        return
    empty = tempfile.mkdtemp(prefix="no-pyc-")
    caches = tempfile.mkdtemp(prefix="vlesson-compile-")
    rows = {
        "compiled .pyc (make setup)": ({}, {}),
        "no .pyc": ({"PYTHONPYCACHEPREFIX": empty, "PYTHONDONTWRITEBYTECODE": "1"}, {}),
        "TORCHINDUCTOR_VEC_ISA_OK=1": ({"TORCHINDUCTOR_VEC_ISA_OK": "1"}, {}),
    }

    def run(name: str) -> dict | str:
        env, engine_kwargs = rows[name]
        return run_child(__file__, json.dumps(engine_kwargs), {**EAGER_UNLESS_ASKED, **env})

    if not args.skip_compile:
        compiled = "compiled graphs, cache warm"
        rows[compiled] = (compile_cache_env(caches), {"enforce_eager": False})
        rows[compiled + ", vLLM's warm-up"] = ({**compile_cache_env(caches), **VLLM_WARM_UP},
                                               {"enforce_eager": False})
        print("compiled graphs: a first start fills a compile cache of its own "
              "(1.5-3 minutes)", flush=True)
        first = run(compiled)
        print("compiled graphs, first start (fills the cache, not in the table): "
              + (f"ready {first['ready_s']:.1f} s" if isinstance(first, dict) else first))
    runs = run_rounds(list(rows), run, args.rounds, "engine starts")
    shutil.rmtree(caches, ignore_errors=True)
    print(f"{'row (median)':30} " + " ".join(f"{c.removesuffix('_s'):>14}" for c in COLUMNS))
    for name, results in runs.items():
        if results:
            med = medians(results, COLUMNS)
            print(f"{name:30} " + " ".join(f"{med[c]:14.2f}" for c in COLUMNS)
                  + f"  (n={len(results)})")


if __name__ == "__main__":
    main()
