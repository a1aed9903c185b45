"""Benchmark the playground panel: streamed and cancellable, against today's panel.

Run under the shared engine lock:
    flock /tmp/vlesson-engine.lock python bench/playground_bench.py

Both panels run on the same warm engine, in an asyncio loop that stands in for the
kernel's: a value change is made from the loop, as a slider message would be, and the
panel's widget state is watched (widget messages are JSON-encoded, as a kernel does).
Prints, for the streaming panel and for today's (the panel before issue 17, loaded from
git into a temporary module):
1. the first token visible in the output widget after a value change (engine TTFT beside);
2. a drag across 10 values in 1 s: generations run to completion, and the time from the
   last value to the final text against TTFT + generation time of that value + 100 ms;
3. vlesson's own cost per streamed token (widget updates included) against the token time.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import comm

import vlesson as vl
from vlesson.playground import streaming

ROOT = Path(__file__).resolve().parents[1]
TODAY_PANEL = ("de4bfe0", "vlesson/lesson/widgets.py")
"""Today's panel: the structure branch's widgets.py, before issue 17 changed it."""
TODAY_SLIDERS = ("temperature", "top_p", "top_k", "max_tokens")
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


def load_today_panel() -> Any:
    """Import today's widgets.py from git as a module of its own."""
    ref, path = TODAY_PANEL
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{ref}:{path}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    folder = Path(tempfile.mkdtemp(prefix="vlesson-bench-"))
    (folder / "today_widgets.py").write_text(source)
    spec = importlib.util.spec_from_file_location(
        "today_widgets", folder / "today_widgets.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # It read sampling.SLIDERS, which now also has min_p and the penalties: give it
    # back its own four sliders.
    module.SLIDERS = TODAY_SLIDERS
    module.build_controls.__defaults__ = (TODAY_SLIDERS,)
    return module


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
        slider.value = value  # today's panel blocks here for the whole generation
        times.append(await observed - start)
        await settle(panel)
    return times


async def settle(panel: Any) -> None:
    """Let a streaming panel finish before the next measurement."""
    wait = getattr(panel, "wait", None)
    if wait is not None:
        await wait()


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
    stream = getattr(panel, "stream", None)  # today's panel has none: its one call
    last = stream.seconds if stream is not None else panel.generation.seconds
    return end - last_intended, finished() - before, last


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


def today_own_cost(llm: Any, panel: Any, max_tokens: int) -> dict[str, float]:
    """Today's panel: its refresh against the same vl.generate call alone."""
    params = {"temperature": 0.66, "max_tokens": max_tokens, "seed": 42}
    start = time.perf_counter()
    panel.controls["temperature"].value = 0.66
    refresh = time.perf_counter() - start
    params["logprobs"] = 20
    [gen] = vl.generate(llm, [PROMPT], params, use_tqdm=False)
    tokens = gen.num_tokens
    return {
        "tokens": tokens,
        "token ms": 1000 * gen.seconds / tokens,
        "own ms": 1000 * (refresh - gen.seconds) / tokens,
        "updates": 1,
    }


def main() -> None:
    """Measure both panels on one engine and print the figures side by side."""
    args = parse_args()
    comm.create_comm = JsonComm  # widgets encode their messages, as in a kernel
    llm = vl.get_llm()
    today = load_today_panel()
    new = vl.widgets.panel(llm, PROMPT, temperature=0.8, max_tokens=args.max_tokens)
    old = today.panel(llm, PROMPT, temperature=0.8, max_tokens=args.max_tokens)
    old_calls = {"n": 0}
    old.output.observe(
        lambda c: old_calls.__setitem__("n", old_calls["n"] + 1), "value"
    )

    ttft, whole = zip(*(engine_ttft(llm, args.max_tokens, i) for i in range(3)))
    print(
        f"engine: TTFT {1000 * statistics.median(ttft):.1f} ms, "
        f"{args.max_tokens} tokens in {statistics.median(whole):.2f} s (median of 3)"
    )

    rows = {}
    for name, panel in (("streaming", new), ("today", old)):
        firsts = asyncio.run(first_token(panel, args.repeats))
        rows[name] = {"first": statistics.median(firsts)}
    ended = streaming.streamer(llm).ended
    rows["streaming"]["drag"] = asyncio.run(drag(new, lambda: ended["finished"]))
    rows["today"]["drag"] = asyncio.run(drag(old, lambda: old_calls["n"]))
    rows["streaming"]["cost"] = own_cost(llm, new, args.max_tokens)
    rows["today"]["cost"] = today_own_cost(llm, old, args.max_tokens)
    report(rows)


def report(rows: dict) -> None:
    """Print the figures of both panels side by side."""
    print(f"\n{'':44} {'streaming':>12} {'today':>12}")
    first = [f"{1000 * rows[n]['first']:.0f} ms" for n in ("streaming", "today")]
    print(
        f"{'first token in the widget after a change':44} {first[0]:>12} {first[1]:>12}"
    )
    settle = [f"{rows[n]['drag'][0]:.2f} s" for n in ("streaming", "today")]
    runs = [str(rows[n]["drag"][1]) for n in ("streaming", "today")]
    print(
        f"{'drag, 10 values in 1 s: settled after last':44} {settle[0]:>12} {settle[1]:>12}"
    )
    budget = [f"{rows[n]['drag'][2] + 0.1:.2f} s" for n in ("streaming", "today")]
    print(
        f"{'  budget: TTFT + generation of it + 100 ms':44} {budget[0]:>12} {budget[1]:>12}"
    )
    print(f"{'  generations run to completion':44} {runs[0]:>12} {runs[1]:>12}")
    for key in ("token ms", "own ms", "yield ms", "updates"):
        cells = []
        for n in ("streaming", "today"):
            value = rows[n]["cost"].get(key)
            cells.append("-" if value is None else f"{value:.2f}")
        print(f"{'per token: ' + key:44} {cells[0]:>12} {cells[1]:>12}")
    for n in ("streaming", "today"):
        cost = rows[n]["cost"]
        share = 100 * cost["own ms"] / cost["token ms"]
        print(
            f"{n}: vlesson's own cost {share:.1f}% of the token time "
            f"({cost['tokens']} tokens, {cost['updates']} widget updates)"
        )


if __name__ == "__main__":
    sys.exit(main())
