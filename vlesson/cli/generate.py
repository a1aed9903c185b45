"""``vlesson generate``: the lesson's text_generation.py, made production-ready."""

from __future__ import annotations

import argparse

from vlesson import engine, files, settings
from vlesson.cli import arguments
from vlesson.cli.runlog import run_log_to
from vlesson.generate import generate
from vlesson.sampling import CLI_FLAGS, describe, make_sampling_params

DESCRIPTION = settings.GENERATE_DESCRIPTION
OWN_OPTIONS = settings.GENERATE_OWN_OPTIONS
build_parser = settings.generate_parser
parse = settings.parse_with_config


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Start the engine, generate, print (and save) results. The sampling values were
    checked before vLLM was imported (``arguments.check_before_engine``); vLLM's own
    check follows when the SamplingParams are built."""
    prompts = arguments.collect_prompts(args)
    engine_args, overrides = settings.split_args(parser, args, OWN_OPTIONS)
    run_log = run_log_to(args)  # checks the --log file name now, attaches later
    llm = engine.get_llm(**engine_args)
    params = make_sampling_params(llm, overrides)
    print_configuration(engine.engine_info(llm), describe(params))
    with run_log:
        gens = generate(llm, prompts, params)
    for one in gens:
        print(f"\nPrompt: {one.prompt!r}\nOutput: {one.text!r}")
        print(f"  ({one.num_tokens} tokens, finish_reason={one.finish_reason})")
    if args.output is not None:
        files.write_jsonl(args.output, [g.as_dict() for g in gens])
        print(f"\nwrote {len(gens)} results to {args.output}")
    return 0


def kv_cache_text(engine: dict) -> str:
    """Say what sized the KV cache and how many tokens it holds: a fixed size makes
    gpu_memory_utilization unused (it is not shown then)."""
    blocks, block_size = engine.get("num_gpu_blocks"), engine.get("block_size")
    tokens = f", {blocks * block_size:,} tokens" if blocks and block_size else ""
    fixed = engine.get("kv_cache_memory_bytes")
    if fixed:
        return f"{fixed / (1 << 30):.1f} GiB (kv_cache_memory_bytes){tokens}"
    fraction = engine.get("gpu_memory_utilization")
    if fraction is not None:
        return f"gpu_memory_utilization {fraction}{tokens}"
    return "set by the server" if engine.get("device") == "remote" else "unknown"


def print_configuration(engine: dict, sampling: dict) -> None:
    """Print the effective engine and sampling configuration, as the lesson does."""
    print("=" * 60)
    print("Configuration")
    for key in ("model", "tokenizer", "dtype"):
        print(f"  {key}: {engine.get(key)}")
    print(f"  kv_cache: {kv_cache_text(engine)}")
    for key in ("max_model_len", "device"):
        print(f"  {key}: {engine.get(key)}")
    for key in CLI_FLAGS:
        print(f"  {key}: {sampling.get(key)}")
    print("=" * 60)
