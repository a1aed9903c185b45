"""vlesson's vLLM engine against Hugging Face transformers on this CPU, same weights.

Prints one table from one run (each engine in its own child process, one after the other;
vLLM in eager mode and with vlesson's defaults, which are compiled graphs once ``vlesson
compile`` (``make model``) compiled them, else eager): ready time (import +
load), 64 prompts x 64 tokens batched tok/s, one stream of 128 tokens, time to first token
of a short prompt; then ratios, the memory-bandwidth bound of one fp32
stream, and the slider latency and vlesson's overhead over a bare ``llm.generate``.
llama.cpp joins (on F32 and on the original Q4_1 weights) when llama-cpp-python is installed.

    .venv/bin/python bench/cpu_engines.py [--engines vlesson-eager vlesson hf-fp32 llama-cpp ...]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time
from pathlib import Path

from workloads import BATCH_PROMPTS, SHORT_PROMPT, print_result, run_child, vllm_figures

from vlesson.workflows.bench import best_seconds


def run_vlesson(**engine_kwargs) -> dict:
    """vlesson's defaults: get_llm() exactly as a notebook calls it, with these changes
    (without them, compiled where ``vlesson compile`` compiled the default arguments)."""
    t = time.perf_counter()
    import vlesson as vl

    llm = vl.get_llm(**engine_kwargs)
    ready = time.perf_counter() - t
    info = vl.engine_info(llm)
    mode = "eager" if info["enforce_eager"] else "compiled"
    if "enforce_eager" not in engine_kwargs:
        mode += ", vlesson's default"
    return {
        "engine": f"vLLM ({mode}: " + info["dtype"] + ")",
        "ready_s": ready,
        **vllm_figures(vl, llm),
        **_slider_figures(vl, llm),
    }


def _slider_figures(vl, llm) -> dict:
    """Slider change -> new text (32 tokens), and vlesson's overhead over bare vLLM."""
    from vllm import SamplingParams

    params = {"temperature": 0.7, "max_tokens": 32, "seed": 1, "ignore_eos": True}
    bare_params = SamplingParams(**params)
    bare = best_seconds(lambda: llm.generate([SHORT_PROMPT], bare_params, use_tqdm=False), 5)
    ours = best_seconds(lambda: vl.generate(llm, SHORT_PROMPT, params, use_tqdm=False), 5)
    figures = {"bare_generate_ms": bare * 1000, "overhead_ms": (ours - bare) * 1000}
    try:
        from vlesson.playground import widgets
    except ImportError:
        return figures
    panel = widgets.panel(llm, prompt=SHORT_PROMPT)
    slider = panel.controls["temperature"]
    panel.controls["max_tokens"].value = 32

    def move():
        slider.value = 0.75 if slider.value != 0.75 else 0.7

    figures["slider_ms"] = best_seconds(move, 5) * 1000
    return figures


def run_hf(dtype: str) -> dict:
    """Hugging Face transformers on the same folder: padded batch generate, KV cache on."""
    t = time.perf_counter()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from vlesson import models

    folder = models.model_path()
    tok = AutoTokenizer.from_pretrained(folder, padding_side="left")
    tok.pad_token = tok.pad_token or tok.eos_token  # the GGUF tokenizer names none
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, dtype))
    model.eval()
    ready = time.perf_counter() - t

    def gen(prompts, new_tokens, sample):
        inputs = tok(prompts, return_tensors="pt", padding=True)
        with torch.inference_mode():
            model.generate(
                **inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                do_sample=sample, temperature=0.8 if sample else None,
                top_p=None, top_k=None, pad_token_id=tok.pad_token_id,
            )

    torch.manual_seed(0)
    gen(BATCH_PROMPTS[:4], 4, True)
    batch_s = best_seconds(lambda: gen(BATCH_PROMPTS, 64, True), 1)
    stream_s = best_seconds(lambda: gen(["Hello"], 128, False), 1)
    ttft = best_seconds(lambda: gen([SHORT_PROMPT], 1, False))
    return {
        "engine": f"HF transformers {dtype}", "ready_s": ready,
        "batch_tok_s": 64 * 64 / batch_s, "stream_tok_s": 128 / stream_s,
        "ttft_ms": ttft * 1000,
    }


def f32_gguf(source: Path) -> Path:
    """Write (once) ``source`` with every tensor dequantized to F32, beside it.

    vLLM and HF run the model dequantized from this same GGUF, so llama.cpp on the F32
    copy reads the same weights, as many bytes per token as the fp32 rows.
    """
    import gguf
    import numpy as np
    from gguf.quants import dequantize

    target = source.with_name(source.name.split(".")[0] + ".F32.gguf")
    if target.exists():
        return target
    reader = gguf.GGUFReader(source)
    arch = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    partial = target.with_name(target.name + ".partial")
    writer = gguf.GGUFWriter(partial, arch=arch)
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue  # the writer adds these itself
        kind = field.types[0]
        value = field.contents()
        if field.name == gguf.Keys.General.FILE_TYPE:
            value = gguf.LlamaFileType.ALL_F32
        sub_type = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, value, kind, sub_type=sub_type)
    for tensor in reader.tensors:
        weights = dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        writer.add_tensor(tensor.name, weights)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    partial.replace(target)
    return target


def run_llama_cpp(weights: str) -> dict:
    """llama.cpp (llama-cpp-python) on the offline model's GGUF: ``"f32"`` for the
    same weights as the other rows, ``"q4_1"`` for the original 4-bit file."""
    from vlesson import models

    gguf_file = models._find_gguf(models.OFFLINE_MODELS[models.DEFAULT_MODEL])
    if weights == "f32":
        gguf_file = f32_gguf(gguf_file)
    t = time.perf_counter()
    from llama_cpp import Llama

    cores = os.cpu_count()  # its default is half the cores; vLLM and torch use them all
    llm = Llama(model_path=str(gguf_file), n_ctx=512, n_threads=cores,
                n_threads_batch=cores, verbose=False)
    ready = time.perf_counter() - t
    no_eos = {llm.token_eos(): -1e9}  # 128 tokens, like ignore_eos in the other rows

    def stream():
        out = llm("Hello", max_tokens=128, temperature=0, logit_bias=no_eos)
        assert out["usage"]["completion_tokens"] == 128, out["usage"]

    stream_s = best_seconds(stream, 1)

    def first_token():
        llm.reset()  # else it reuses the cached prompt and measures nothing
        llm(SHORT_PROMPT, max_tokens=1, temperature=0)

    ttft = best_seconds(first_token)
    return {"engine": f"llama.cpp (GGUF {weights.upper()})", "ready_s": ready,
            "batch_tok_s": None, "stream_tok_s": 128 / stream_s, "ttft_ms": ttft * 1000}


RUNNERS = {
    "vlesson": run_vlesson,
    "vlesson-eager": lambda: run_vlesson(enforce_eager=True),
    # enforce_eager=False: its first start for a set of engine arguments compiles (1.5-3
    # minutes), later ones load what vLLM saved; run it twice to see both.
    "vlesson-compiled": lambda: run_vlesson(enforce_eager=False),
    "hf-fp32": lambda: run_hf("float32"),
    "hf-bf16": lambda: run_hf("bfloat16"),
    "llama-cpp": lambda: run_llama_cpp("f32"),
    "llama-cpp-q4_1": lambda: run_llama_cpp("q4_1"),
}


def bandwidth_bound() -> tuple[float, float]:
    """Return (GB/s of a large memory copy, tok/s bound for one fp32 stream)."""
    import numpy as np

    src = np.ones(256 * 2**20 // 8)  # 256 MiB
    dst = np.empty_like(src)
    seconds = best_seconds(lambda: np.copyto(dst, src), 5)
    gb_s = 2 * src.nbytes / seconds / 1e9  # read + write
    fp32_bytes = 134.5e6 * 4  # every weight is read once per decoded token
    return gb_s, gb_s * 1e9 / fp32_bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    engines = ["vlesson-eager", "vlesson", "hf-fp32", "hf-bf16"]
    if importlib.util.find_spec("llama_cpp"):  # optional: it compiles for minutes
        engines += ["llama-cpp", "llama-cpp-q4_1"]
    parser.add_argument("--engines", nargs="+", choices=RUNNERS, default=engines)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print_result(RUNNERS[args.child]())
        return
    rows = []
    for i, name in enumerate(args.engines):
        row = run_child(__file__, name)
        if isinstance(row, str):
            print(f"{name}: failed: {row}")
            continue
        start = args.engines[:i + 1].count(name)
        if start > 1:  # the same engine again: a later start (warm caches) is a row of its own
            row["engine"] += f", start {start}"
        rows.append(row)
    _print_table(rows)


def _print_table(rows: list[dict]) -> None:
    cols = ["ready_s", "batch_tok_s", "stream_tok_s", "ttft_ms"]
    print(f"{'engine':40} " + " ".join(f"{c:>13}" for c in cols))
    for row in rows:
        cells = [f"{row[c]:13.1f}" if row.get(c) is not None else f"{'-':>13}" for c in cols]
        print(f"{row['engine']:40} " + " ".join(cells))
    vllm_rows = [r for r in rows if r["engine"].startswith("vLLM")]
    ours = vllm_rows[0] if vllm_rows else None
    for row in vllm_rows:
        for other in rows:
            if other is row or (other is not ours and other["engine"].startswith("vLLM")):
                continue
            for c in ("batch_tok_s", "stream_tok_s"):
                if other.get(c):
                    print(f"{c}: {row['engine']} / {other['engine']} = "
                          f"{row[c] / other[c]:.2f}x")
    gb_s, bound = bandwidth_bound()
    print(f"memory bandwidth {gb_s:.1f} GB/s -> one fp32 stream <= {bound:.0f} tok/s "
          f"(bf16 weights halve the bytes: <= {2 * bound:.0f} tok/s)")
    for row in vllm_rows:
        figures = [f"{key} {row[key]:.1f}"
                   for key in ("slider_ms", "bare_generate_ms", "overhead_ms") if key in row]
        print(f"{row['engine']}: " + ", ".join(figures))


if __name__ == "__main__":
    main()
