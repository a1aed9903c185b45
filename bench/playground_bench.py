"""Benchmark the playground panel: streamed and cancellable.

Run under the shared engine lock:
    flock /tmp/vlesson-engine.lock python bench/playground_bench.py

Both panels run on the same warm engine, in an asyncio loop that stands in for the
kernel's: a value change is made from the loop, as a slider message would be, and the
panel's widget state is watched (widget messages are JSON-encoded, as a kernel does).
Prints (the panel before streaming, issue 17's baseline, is not in main's history: its
figures are in that issue's note):
1. the first token visible in the output widget after a value change (engine TTFT beside);
2. a drag across 10 values in 1 s: generations run to completion, and the time from the
   last value to the final text against TTFT + generation time of that value + 100 ms;
3. vlesson's own cost per streamed token (widget updates included) against the token time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from typing import Any

import comm

import vlesson as vl
from vlesson.playground import streaming

PROMPT = "The future of AI is"


class JsonComm(comm.DummyComm):
    """A widget comm that encodes each message, as ipykernel's session does."""

    def publish_msg(self, msg_type: str, data: Any = None, *args: Any, **kw: Any):
        json.dumps(data, default=str)


def parse_args() -> argparse.Namespace:
    """Parse the few knobs of this benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-tokens", type=int, default=48, help="the panel's")
    parser.add_argument("--repeats", type=int, default=5)
    return parser.parse_args()


def engine_ttft(llm: Any, max_tokens: int, seed: int) -> tuple[float, float]:
    """Return (time to first token, whole time) of one streamed request, no widget."""
    params = vl.make_sampling_params(
        llm, temperature=0.8, max_tokens=max_tokens, seed=seed, logprobs=20
    )
    stream = streaming.streamer(llm).start(PROMPT, params, background=False)
    return stream.first_token_at - stream.started, stream.seconds


async def watch(output: Any, done: Any, timeout: float = 60.0) -> float:
    """Wait until ``done(output.value)``; return when it first held."""
    deadline = time.perf_counter() + timeout
    while not done(output.value):
        if time.perf_counter() > deadline:
            raise TimeoutError("the panel did not show it")
        await asyncio.sleep(0.001)
    return time.perf_counter()


def shows_tokens(settings: str):
    """The output shows text for these settings (the first token, or all of it)."""
    return lambda html: settings in html and ("<span" in html or "tokens/s" in html)


def shows_final(settings: str):
    """The output shows the finished generation for these settings."""
    return lambda html: settings in html and "finish_reason=" in html


async def first_token(panel: Any, repeats: int) -> list[float]:
    """Seconds from a value change to its first token in the output widget."""
    times = []
    for i in range(repeats):
        value = round(0.5 + 0.05 * i, 2)
        slider = panel.controls["temperature"]
        observed = asyncio.ensure_future(
            watch(panel.output, shows_tokens(f"temperature={value:.2f}"))
        )
        await asyncio.sleep(0)
        start = time.perf_counter()
        slider.value = value
        times.append(await observed - start)
        await settle(panel)
    return times


async def settle(panel: Any) -> None:
    """Let the panel finish before the next measurement."""
    await panel.wait()


async def drag(panel: Any, finished: Any) -> tuple[float, int, float]:
    """Move temperature across 10 values in 1 s; return (settle time after the last
    value, generations run to completion, TTFT + generation time of the last value)."""
    loop = asyncio.get_running_loop()
    slider = panel.controls["temperature"]
    values = [round(1.0 + 0.05 * i, 2) for i in range(1, 11)]
    before = finished()
    start = time.perf_counter()
    for i, value in enumerate(values):
        loop.call_at(loop.time() + 0.1 * i, setattr, slider, "value", value)
    last_intended = start + 0.9
    end = await watch(panel.output, shows_final(f"temperature={values[-1]:.2f}"))
    await settle(panel)
    return end - last_intended, finished() - before, panel.stream.seconds


def own_cost(llm: Any, panel: Any, max_tokens: int) -> dict[str, float]:
    """Per streamed token: engine step time, vlesson's own time, yield time."""
    streamer = streaming.streamer(llm)

    async def one_run() -> None:
        panel.controls["temperature"].value = 0.66
        await panel.wait()

    steps, spent, yielded = (
        streamer.steps,
        streamer.step_seconds,
        streamer.yield_seconds,
    )
    start = time.perf_counter()
    asyncio.run(one_run())
    total = time.perf_counter() - start
    tokens = panel.generation.num_tokens
    step = (streamer.step_seconds - spent) / tokens
    pause = (streamer.yield_seconds - yielded) / tokens
    own = total / tokens - step - pause
    return {
        "tokens": tokens,
        "engine steps": streamer.steps - steps,
        "token ms": 1000 * step,
        "own ms": 1000 * own,
        "yield ms": 1000 * pause,
        "updates": panel.stream.updates,
    }


def main() -> None:
    """Measure the panel on one warm engine and print the figures."""
    args = parse_args()
    comm.create_comm = JsonComm  # widgets encode their messages, as in a kernel
    llm = vl.get_llm()
    panel = vl.widgets.panel(llm, PROMPT, temperature=0.8, max_tokens=args.max_tokens)

    ttft, whole = zip(*(engine_ttft(llm, args.max_tokens, i) for i in range(3)))
    print(
        f"engine: TTFT {1000 * statistics.median(ttft):.1f} ms, "
        f"{args.max_tokens} tokens in {statistics.median(whole):.2f} s (median of 3)"
    )
    first = statistics.median(asyncio.run(first_token(panel, args.repeats)))
    ended = streaming.streamer(llm).ended
    settled, runs, last = asyncio.run(drag(panel, lambda: ended["finished"]))
    cost = own_cost(llm, panel, args.max_tokens)
    print(f"first token in the widget after a change: {1000 * first:.0f} ms "
          f"(goal: within 100 ms)")
    print(f"drag, 10 values in 1 s: settled {settled:.2f} s after the last value "
          f"(budget: TTFT + its generation + 100 ms = {last + 0.1:.2f} s); "
          f"{runs} generations ran to completion")
    for key in ("token ms", "own ms", "yield ms", "updates"):
        print(f"per token: {key:10} {cost[key]:.2f}")
    print(f"vlesson's own cost: {100 * cost['own ms'] / cost['token ms']:.1f}% of the "
          f"token time ({cost['tokens']} tokens, {cost['engine steps']} engine steps)")


if __name__ == "__main__":
    sys.exit(main())
