"""The course's GPU figures in one run (make gpu-check): vlesson on vLLM (CUDA) against
Hugging Face transformers on the same GPU, exercise 2.6 (memory fraction -> KV cache and
concurrency) and exercise 2.12 (dynamic fp8 against bf16: quality, speed, memory).

    python bench/gpu_figures.py [--batches 1 8 64 256] [--skip-hf] [--overhead-only]

``--overhead-only`` prints only vlesson against plain vLLM, and runs on a CPU too.
"""

from __future__ import annotations

import argparse
import os
import time

from vlesson.workflows import memory
from vlesson.workflows.bench import best_seconds

# apply_model ships a function to the engine's worker process (cloudpickle).
os.environ.setdefault("VLLM_ALLOW_INSECURE_SERIALIZATION", "1")

PASSAGE = (
    "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, "
    "France. It is named after the engineer Gustave Eiffel, whose company designed and "
    "built the tower from 1887 to 1889. Locally nicknamed the Iron Lady, it was "
    "constructed as the centrepiece of the 1889 World's Fair."
)
"""A fixed passage: the model's perplexity on it measures quality without sampling."""


def weights_gib(llm) -> float | None:
    """Return the bytes of the loaded weights (quantized weights count smaller)."""
    try:
        sizes = llm.apply_model(
            lambda m: sum(p.numel() * p.element_size() for p in m.parameters())
        )
        return sizes[0] / 2**30
    except AttributeError:  # older vLLM without apply_model
        return None


def perplexity(llm, text: str = PASSAGE) -> float:
    """Return the model's perplexity on ``text`` from vLLM's prompt log-probabilities."""
    import math

    from vllm import SamplingParams

    out = llm.generate([text], SamplingParams(max_tokens=1, prompt_logprobs=0),
                       use_tqdm=False)[0]
    logprobs = [
        step[token].logprob
        for token, step in zip(out.prompt_token_ids[1:], out.prompt_logprobs[1:])
    ]
    return math.exp(-sum(logprobs) / len(logprobs))


def throughput(llm, batch: int, tokens: int = 64) -> float:
    """Return generated tokens/s for ``batch`` prompts of ``tokens`` tokens each."""
    import vlesson as vl

    prompts = [f"Story {i}: once upon a time" for i in range(batch)]
    params = {"temperature": 0.8, "max_tokens": tokens, "seed": 0, "ignore_eos": True}
    seconds = best_seconds(lambda: vl.generate(llm, prompts, params, use_tqdm=False), 2)
    return batch * tokens / seconds


def ttft_ms(llm) -> float:
    """Return the time to the first token of a short prompt (a 1-token request)."""
    import vlesson as vl

    call = lambda: vl.generate(llm, "The capital of France is", {"max_tokens": 1},
                               use_tqdm=False)
    call()
    return best_seconds(call, 5) * 1000


def start(**engine_kwargs):
    """Start a fresh engine; return it with its load time."""
    import vlesson as vl

    vl.release()
    t = time.perf_counter()
    llm = vl.get_llm(**engine_kwargs)
    return llm, time.perf_counter() - t


def overhead_table(llm, rounds: int = 3) -> None:
    """vlesson's generate against plain ``LLM.generate`` on the same engine, batch 1 and
    64. vlesson asks vLLM for each chosen token's log-probability (``mean_logprob`` in
    sweeps, the run log and the smart generator), so plain vLLM runs twice, without and
    with ``logprobs=0``: vlesson's own cost is against the second, the logprobs' cost is
    vLLM's. The three run in turn, ``rounds`` times, and each keeps its fastest."""
    print("\n== vlesson against plain LLM.generate, same engine, interleaved ==")
    for label, batch, tokens in (("one stream, 128", 1, 128), ("batch 64 x 64", 64, 64)):
        rate = overhead_rates(llm, batch, tokens, rounds)
        print(f"{label}: plain {rate['plain']:9.1f} tok/s, with logprobs "
              f"{rate['plain+logprobs']:9.1f}, vlesson {rate['vlesson']:9.1f} -> vlesson's "
              f"own overhead {1 - rate['vlesson'] / rate['plain+logprobs']:+.1%}, "
              f"the logprobs' {1 - rate['plain+logprobs'] / rate['plain']:+.1%}")


def overhead_rates(llm, batch: int, tokens: int, rounds: int) -> dict[str, float]:
    """Return tok/s of plain vLLM, plain vLLM with logprobs and vlesson, interleaved."""
    from vllm import SamplingParams

    import vlesson as vl

    prompts = [f"Story {i}: once upon a time" for i in range(batch)]
    common = {"temperature": 0.8, "max_tokens": tokens, "seed": 0, "ignore_eos": True}
    calls = {
        "plain": lambda: llm.generate(prompts, SamplingParams(**common), use_tqdm=False),
        "plain+logprobs": lambda: llm.generate(
            prompts, SamplingParams(**common, logprobs=0), use_tqdm=False),
        "vlesson": lambda: vl.generate(llm, prompts, common, use_tqdm=False),
    }
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(rounds):
        for name, call in calls.items():
            best[name] = min(best[name], best_seconds(call, 1))
    return {name: batch * tokens / seconds for name, seconds in best.items()}


def speed_table(batches: list[int]) -> dict:
    """vlesson's defaults on this GPU: load, TTFT, tok/s per batch size."""
    llm, load = start()
    print(f"\n== vLLM with vlesson's defaults on this machine: {load:.1f} s to load ==")
    print(f"time to first token: {ttft_ms(llm):.1f} ms")
    figures = {}
    for batch in batches:
        figures[batch] = throughput(llm, batch)
        print(f"batch {batch:4d} x 64 tokens: {figures[batch]:10.1f} tok/s")
    figures["stream128"] = throughput(llm, 1, 128)
    print(f"one stream, 128 tokens: {figures['stream128']:.1f} tok/s")
    overhead_table(llm)
    return figures


def hf_table(vllm_figures: dict) -> None:
    """Hugging Face transformers (bf16, same GPU, same weights) for comparison."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import vlesson as vl
    from vlesson import models

    vl.release()
    folder = models.model_path()
    tok = AutoTokenizer.from_pretrained(folder, padding_side="left")
    tok.pad_token = tok.pad_token or tok.eos_token  # the GGUF tokenizer names none
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16).cuda()

    def gen(prompts, n):
        inputs = tok(prompts, return_tensors="pt", padding=True).to("cuda")
        with torch.inference_mode():
            model.generate(**inputs, max_new_tokens=n, min_new_tokens=n, do_sample=True,
                           temperature=0.8, top_p=None, top_k=None,
                           pad_token_id=tok.pad_token_id)
        torch.cuda.synchronize()

    gen(["warm up"], 4)
    prompts = [f"Story {i}: once upon a time" for i in range(64)]
    batch = 64 * 64 / best_seconds(lambda: gen(prompts, 64), 2)
    stream = 128 / best_seconds(lambda: gen(["Story 0: once upon a time"], 128), 2)
    print("\n== Hugging Face transformers bf16, same GPU ==")
    print(f"batch 64 x 64: {batch:.1f} tok/s -> vLLM is {vllm_figures[64] / batch:.1f}x")
    print(f"one stream 128: {stream:.1f} tok/s -> vLLM is "
          f"{vllm_figures['stream128'] / stream:.1f}x")


def memory_table(fractions: tuple[float, ...] = (0.5, 0.9)) -> None:
    """Exercise 2.6: what gpu_memory_utilization changes."""
    from vlesson.facts import engine_facts

    print("\n== Exercise 2.6: gpu_memory_utilization ==")
    print(f"{'fraction':>8} {'KV tokens':>12} {'max concurrency @ctx':>21} "
          f"{'GPU used GiB':>13} {'64x64 tok/s':>12}")
    for fraction in fractions:
        llm, _ = start(gpu_memory_utilization=fraction)
        facts = engine_facts(llm)
        tokens, concurrency = facts.kv_cache_tokens, facts.max_concurrency
        used_mib = memory.gpu_used_mib()
        used = used_mib / 1024 if used_mib is not None else None
        print(f"{fraction:8.2f} {tokens:12,d} {concurrency:21.1f} "
              f"{used if used is not None else float('nan'):13.1f} "
              f"{throughput(llm, 64):12.1f}")


def quantization_table() -> None:
    """Exercise 2.12: vLLM's dynamic fp8 (no calibration, no download) against bf16."""
    import vlesson as vl

    print("\n== Exercise 2.12: quantization ==")
    print(f"{'method':>10} {'perplexity':>11} {'greedy agreement':>17} "
          f"{'64x64 tok/s':>12} {'weights GiB':>12}")
    reference = None
    for method in (None, "fp8"):
        llm, _ = start(quantization=method)
        greedy = vl.generate(llm, vl.LESSON_PROMPTS, {"temperature": 0, "max_tokens": 32},
                             use_tqdm=False)
        ids = [g.token_ids for g in greedy]
        reference = reference or ids
        same = sum(a == b for r, i in zip(reference, ids) for a, b in zip(r, i))
        agreement = same / sum(len(r) for r in reference)
        weights = weights_gib(llm)
        print(f"{method or 'bf16':>10} {perplexity(llm):11.2f} {agreement:17.1%} "
              f"{throughput(llm, 64):12.1f} "
              f"{weights if weights is not None else float('nan'):12.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 64, 256],
                        help="batch sizes (64 is always measured: HF compares to it)")
    parser.add_argument("--skip-hf", action="store_true")
    parser.add_argument("--overhead-only", action="store_true",
                        help="only vlesson against plain LLM.generate (any device)")
    args = parser.parse_args()
    if args.overhead_only:
        llm, load = start()
        print(f"engine ready in {load:.1f} s")
        overhead_table(llm)
        return
    figures = speed_table(sorted({*args.batches, 64}))
    memory_table()
    quantization_table()
    if not args.skip_hf:
        hf_table(figures)


if __name__ == "__main__":
    main()
