"""``vlesson generate``: the lesson's text_generation.py, made production-ready."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from vlesson.cli import common

DESCRIPTION = """Generate completions with vLLM. Engine options (vLLM's EngineArgs) come in
their own groups, sampling options in "Sampling parameters". On a CPU vlesson adds: dtype
bfloat16 (native bf16 CPUs) or float32, --enforce-eager, and a 1 GiB KV cache unless
--gpu-memory-utilization is given."""


def build_parser(prog: str = "vlesson generate") -> argparse.ArgumentParser:
    """Return the parser: every EngineArgs option, then sampling, input and output."""
    parser = common.generation_parser(prog, DESCRIPTION)
    out = parser.add_argument_group("Output")
    out.add_argument(
        "--output", type=Path, default=None, metavar="FILE.jsonl",
        help="Also write one JSON object per completion to this file.",
    )
    return parser


OWN_OPTIONS = ("prompt", "prompts_file", "output", "log")


def parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """Parse argv, reading --config first."""
    return common.parse_with_config(parser, argv)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Validate everything, start the engine, generate, print (and save) results."""
    import vlesson as vl

    prompts = common.collect_prompts(args)
    engine_args, overrides = common.split_args(parser, args, OWN_OPTIONS)
    vl.validate(overrides)  # before the engine: bad input costs nothing
    run_log = common.run_log(args)  # checks the --log file name now, attaches later
    llm = vl.get_llm(**engine_args)
    params = vl.make_sampling_params(llm, overrides)
    print_configuration(vl.engine_info(llm), vl.sampling.describe(params))
    with run_log:
        gens = vl.generate(llm, prompts, params)
    for gen in gens:
        print(f"\nPrompt: {gen.prompt!r}\nOutput: {gen.text!r}")
        print(f"  ({gen.num_tokens} tokens, finish_reason={gen.finish_reason})")
    if args.output is not None:
        write_jsonl(args.output, [g.as_dict() for g in gens])
        print(f"\nwrote {len(gens)} results to {args.output}")
    return 0


def print_configuration(engine: dict, sampling: dict) -> None:
    """Print the effective engine and sampling configuration, as the lesson does."""
    print("=" * 60)
    print("Configuration")
    for key in ("model", "tokenizer", "dtype", "gpu_memory_utilization",
                "kv_cache_memory_bytes", "max_model_len", "device"):
        print(f"  {key}: {engine.get(key)}")
    for key in ("temperature", "top_p", "top_k", "max_tokens", "min_tokens", "seed"):
        print(f"  {key}: {sampling.get(key)}")
    print("=" * 60)


def write_jsonl(path: Path, rows: list[dict]) -> None:
    """Write rows as JSON lines, atomically (a crash leaves the old file or none)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    partial.replace(path)
