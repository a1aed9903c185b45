"""Benchmark the web API: concurrent vs sequential requests, and the server's overhead.

Run under the shared engine lock:
    flock /tmp/vlesson-engine.lock python bench/api_bench.py

Starts `vlesson serve` on a free loopback port, then prints:
1. N requests sent at once against the same N sent one after another (wall times and
   their ratio): the asynchronous engine batches requests that arrive together.
2. One request through HTTP against the same `vl.generate` call in this process
   (median of several, interleaved so that background load hits both alike).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx

import vlesson as vl


def parse_args() -> argparse.Namespace:
    """Parse the few knobs of this benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    return parser.parse_args()


def prompts(count: int) -> list[str]:
    """Return distinct prompts (each request is its own, as from separate clients)."""
    return [f"Write a short note about the number {i}." for i in range(count)]


def run_sequential(server: vl.api.Server, bodies: list[dict]) -> float:
    """Send the requests one after another; return the wall time."""
    with server.client() as client:
        start = time.perf_counter()
        for body in bodies:
            client.post("/generate", json=body).raise_for_status()
        return time.perf_counter() - start


def run_concurrent(server: vl.api.Server, bodies: list[dict]) -> float:
    """Send all requests at once; return the wall time."""

    async def send_all() -> float:
        async with httpx.AsyncClient(base_url=server.url, timeout=600) as client:
            start = time.perf_counter()
            responses = await asyncio.gather(
                *(client.post("/generate", json=body) for body in bodies)
            )
            seconds = time.perf_counter() - start
        for response in responses:
            response.raise_for_status()
        return seconds

    return asyncio.run(send_all())


def overhead(
    server: vl.api.Server, llm, params: dict, repeats: int
) -> tuple[float, float]:
    """Return the median seconds of one request via HTTP and via vl.generate."""
    prompt = "The capital of France is"
    via_http, direct = [], []
    with server.client() as client:
        for _ in range(repeats):
            start = time.perf_counter()
            client.post(
                "/generate", json={"prompt": prompt, **params}
            ).raise_for_status()
            via_http.append(time.perf_counter() - start)
            start = time.perf_counter()
            vl.generate(llm, prompt, params, use_tqdm=False)
            direct.append(time.perf_counter() - start)
    return statistics.median(via_http), statistics.median(direct)


def main() -> None:
    """Start the server, measure, print the figures."""
    args = parse_args()
    fixed = {
        "temperature": 0,
        "max_tokens": args.max_tokens,
        "min_tokens": args.max_tokens,
    }
    bodies = [{"prompt": p, **fixed} for p in prompts(args.requests)]
    tokens = args.requests * args.max_tokens
    limit = ["--limit-max-tokens", str(args.max_tokens)]
    with vl.api.start_server(args=limit) as server:
        print(f"server ready in {server.start_seconds:.1f} s at {server.url}")
        run_sequential(server, bodies[:2])  # warm-up: first requests are slower
        sequential = run_sequential(server, bodies)
        concurrent = run_concurrent(server, bodies)
        print(
            f"\n{args.requests} requests x {args.max_tokens} tokens (greedy, fixed length)"
        )
        print(f"  sequential: {sequential:6.2f} s  {tokens / sequential:6.1f} tok/s")
        print(f"  concurrent: {concurrent:6.2f} s  {tokens / concurrent:6.1f} tok/s")
        print(f"  ratio sequential/concurrent: {sequential / concurrent:.1f}x")

        llm = vl.get_llm()
        vl.generate(llm, "warm-up", {"max_tokens": 4}, use_tqdm=False)
        print(
            f"\none request, median of {args.repeats} (HTTP vs vl.generate in-process)"
        )
        for max_tokens in (1, args.max_tokens):
            params = {
                "temperature": 0,
                "max_tokens": max_tokens,
                "min_tokens": max_tokens,
            }
            http, direct = overhead(server, llm, params, args.repeats)
            print(
                f"  {max_tokens:3d} tokens: HTTP {http * 1000:7.1f} ms  direct "
                f"{direct * 1000:7.1f} ms  overhead {(http - direct) * 1000:+7.1f} ms "
                f"({http / direct:.2f}x)"
            )


if __name__ == "__main__":
    main()
