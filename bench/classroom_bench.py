"""A class on one shared vLLM server: slider moves of many learners at once.

Prints, from one run against the same server: N simulated learners (threads, each its
own client) moving a slider at the same moment - one 32-token generation per move - and
the same moves done one after another; time per move at the 50th and 95th percentile.

    flock /tmp/vlesson-engine.lock .venv/bin/python bench/classroom_bench.py \
        [--learners 16] [--rounds 3] [--max-tokens 32] [--server URL --api-key KEY]

Without --server it starts the offline model's server (vlesson.serving.classroom) on a free port.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from collections.abc import Callable

PROMPTS = [
    "The capital of France is",
    "Once upon a time",
    "The future of AI is",
    "My favourite recipe is",
]


def make_move(llm, learner: int, max_tokens: int) -> Callable[[int], float]:
    """Return one learner's slider move: a temperature step, one generation, timed."""
    import vlesson as vl

    def move(step: int) -> float:
        temperature = round(0.2 + 0.1 * ((learner + step) % 10), 2)
        params = vl.make_sampling_params(
            llm,
            temperature=temperature,
            max_tokens=max_tokens,
            seed=learner,
            ignore_eos=True,  # every move generates exactly max_tokens
        )
        start = time.perf_counter()
        gens = vl.generate(llm, PROMPTS[learner % len(PROMPTS)], params, use_tqdm=False)
        assert gens[0].num_tokens == max_tokens
        return time.perf_counter() - start

    return move


def concurrent(
    moves: list[Callable[[int], float]], rounds: int
) -> tuple[list[float], float]:
    """Every learner moves at once, ``rounds`` times; return move times and wall time."""
    times: list[float] = []
    slowest = [0.0] * rounds
    lock = threading.Lock()
    barrier = threading.Barrier(len(moves))

    def learner(move: Callable[[int], float]) -> None:
        for step in range(rounds):
            barrier.wait()  # everyone lets go of the slider at the same moment
            seconds = move(step)
            with lock:
                times.append(seconds)
                slowest[step] = max(slowest[step], seconds)

    threads = [threading.Thread(target=learner, args=(m,)) for m in moves]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    print(
        "concurrent: slowest move per round " + ", ".join(f"{x:.2f}" for x in slowest)
    )
    return times, wall


def sequential(
    moves: list[Callable[[int], float]], rounds: int
) -> tuple[list[float], float]:
    """The same moves one after another; return move times and wall time."""
    start = time.perf_counter()
    times = [move(step) for step in range(rounds) for move in moves]
    return times, time.perf_counter() - start


def summary(name: str, times: list[float], wall: float, tokens: int) -> str:
    """Return one result line: p50/p95 per move, wall time, tokens/s."""
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    return (
        f"{name:>11} | {len(times):>5} | {cuts[49]:>8.2f} | {cuts[94]:>8.2f} | "
        f"{max(times):>8.2f} | {wall:>7.1f} | {tokens / wall:>7.1f}"
    )


def run(server: str, api_key: str | None, args: argparse.Namespace) -> None:
    """Measure both schedules against ``server`` and print the table."""
    from vlesson.remote import RemoteLLM

    # One client per learner, as on thirty laptops.
    clients = [RemoteLLM(server, api_key=api_key) for _ in range(args.learners)]
    moves = [make_move(c, i, args.max_tokens) for i, c in enumerate(clients)]
    concurrent(moves, 1)  # warm-up: the server's first batch of this size, not counted
    tokens = args.learners * args.rounds * args.max_tokens
    together = concurrent(moves, args.rounds)
    one_by_one = sequential(moves, args.rounds)
    print(
        f"server {server}; {args.learners} learners x {args.rounds} moves of "
        f"{args.max_tokens} tokens; load average after: "
        + ", ".join(f"{x:.2f}" for x in os.getloadavg())
        + " (other work on the machine skews the figures)"
    )
    print("   schedule | moves | p50 s/mv | p95 s/mv |  max s   |  wall s |   tok/s")
    print(summary("concurrent", *together, tokens))
    print(summary("sequential", *one_by_one, tokens))
    p50_ratio = statistics.median(together[0]) / statistics.median(one_by_one[0])
    print(
        f"wall time: concurrent / sequential = {together[1] / one_by_one[1]:.2f}; "
        f"p50 per move: concurrent / sequential = {p50_ratio:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--server", default=None, help="default: start one here")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("VLESSON_SERVER_API_KEY"),
        help="default $VLESSON_SERVER_API_KEY (better: a command line is public)",
    )
    args = parser.parse_args()
    if args.server:
        run(args.server, args.api_key, args)
        return
    from vlesson.serving import classroom

    start = time.perf_counter()
    with classroom.running_server() as server:
        print(f"server ready after {time.perf_counter() - start:.0f} s")
        run(server, None, args)


if __name__ == "__main__":
    main()
