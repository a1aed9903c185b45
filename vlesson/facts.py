"""One description of an engine: what vlesson reads about it, gathered once.

Every module that needs to know something about an engine (its model, dtype, context
length, KV cache, device, whether it is a shared server's) reads ``engine_facts(llm)``
instead of reaching into vLLM's internals. The facts are built once per engine: by
``get_llm`` for a local ``LLM``, by the web API for its ``AsyncLLM``, by ``RemoteLLM``
for a server; an engine built any other way gets them on first use. A test fake sets a
``facts`` attribute and needs nothing else of vLLM's.
"""

from __future__ import annotations

import dataclasses
import sys
import weakref
from typing import Any

from vlesson import models

UNKNOWN_DTYPE = "unknown: the server does not say"
"""A server's dtype in its cache key: vLLM's API does not report it (``/v1/models``,
``/version`` and ``/metrics`` do not carry it), so two starts of one server with
different dtypes share entries; the key says so instead of a silent None."""


@dataclasses.dataclass(frozen=True)
class EngineFacts:
    """What vlesson knows about one engine; None where that engine does not say."""

    model: str
    """The model as vlesson names it (``smollm2-135m-instruct``, a folder, a hub id)."""
    model_path: str | None = None
    """What vLLM loaded (the converted folder), or the served model's root."""
    tokenizer: str | None = None
    revision: str | None = None
    dtype: str | None = None
    """Weights' type, e.g. ``bfloat16`` (None on a server: the API does not say)."""
    quantization: str | None = None
    kv_cache_dtype: str | None = None
    max_model_len: int | None = None
    enforce_eager: bool | None = None
    gpu_memory_utilization: float | None = None
    kv_cache_bytes: int | None = None
    """The fixed KV-cache size asked for (``kv_cache_memory_bytes``), if any."""
    kv_cache_tokens: int | None = None
    """Tokens the KV cache holds (the start-up log's "KV cache size")."""
    max_concurrency: float | None = None
    """Requests of full context length that fit in the KV cache at once."""
    num_blocks: int | None = None
    block_size: int | None = None
    chunked_prefill: bool | None = None
    max_num_batched_tokens: int | None = None
    device: str = "cpu"
    """``cpu``, ``gpu`` or ``remote``."""
    server_url: str | None = None
    vllm_version: str | None = None
    """The engine's vLLM version (a server's from its ``/version``)."""
    load_seconds: float | None = None
    """Seconds the engine took to start (to connect, for a server)."""

    @property
    def is_remote(self) -> bool:
        """True for a shared server's engine (classroom mode)."""
        return self.device == "remote"

    @property
    def seeds_break_on_split_prompts(self) -> bool:
        """True for a CPU engine with chunked prefill: vLLM rewinds a seeded request's
        generator after a partial prompt step, which a CPU generator cannot do (vLLM
        crashes: "CPU Generator does not use offset")."""
        return self.device == "cpu" and bool(self.chunked_prefill)

    @property
    def fingerprint(self) -> dict[str, Any]:
        """The settings that decide outputs (the cache key's and run log's engine); a
        server's also name it (two servers of one model are not one engine)."""
        dtype = self.dtype
        if self.is_remote and dtype is None:
            dtype = UNKNOWN_DTYPE
        served = {"server": self.server_url} if self.is_remote else {}
        return {
            **served,
            "model": models.describe(self.model_path or self.model),
            "revision": self.revision,
            "tokenizer": models.describe(self.tokenizer) if self.tokenizer else None,
            "dtype": dtype,
            "quantization": self.quantization,
            "max_model_len": self.max_model_len,
            "kv_cache_dtype": self.kv_cache_dtype,
            # A server that does not say its version: the one generating here counts
            # (read when the key is made, vLLM loaded by then).
            "vllm": self.vllm_version or _loaded_vllm_version(),
        }

    def info(self) -> dict[str, Any]:
        """Return the effective configuration, for printing or logs (``engine_info``)."""
        info = {
            "model": self.model,
            "model_path": self.model_path,
            "tokenizer": self.tokenizer,
            "dtype": self.dtype,
            "max_model_len": self.max_model_len,
            "enforce_eager": self.enforce_eager,
            "gpu_memory_utilization": self.gpu_memory_utilization,
            "kv_cache_memory_bytes": self.kv_cache_bytes,
            "num_gpu_blocks": self.num_blocks,
            "block_size": self.block_size,
            "load_seconds": (
                None if self.load_seconds is None else round(self.load_seconds, 1)
            ),
            "device": self.device,
        }
        if self.is_remote:
            info["server"] = self.server_url
        return info


def from_vllm_config(
    config: Any, *, name: str | None = None, load_seconds: float | None = None
) -> EngineFacts:
    """Read the facts of an engine from its ``VllmConfig``."""
    from vllm.platforms import current_platform

    model, cache = config.model_config, config.cache_config
    tokens = getattr(cache, "kv_cache_size_tokens", None)
    concurrency = getattr(cache, "kv_cache_max_concurrency", None)
    if tokens is None or concurrency is None:  # releases before 0.32 do not store them
        tokens = (cache.num_gpu_blocks or 0) * cache.block_size
        concurrency = tokens / model.max_model_len
    return EngineFacts(
        model=models.describe(name or model.model),
        model_path=model.model,
        tokenizer=model.tokenizer,
        revision=model.revision,
        dtype=str(model.dtype).removeprefix("torch."),
        quantization=model.quantization,
        kv_cache_dtype=cache.cache_dtype,
        max_model_len=model.max_model_len,
        enforce_eager=model.enforce_eager,
        gpu_memory_utilization=cache.gpu_memory_utilization,
        kv_cache_bytes=cache.kv_cache_memory_bytes,
        kv_cache_tokens=int(tokens),
        max_concurrency=float(concurrency),
        num_blocks=cache.num_gpu_blocks,
        block_size=cache.block_size,
        chunked_prefill=config.scheduler_config.enable_chunked_prefill,
        max_num_batched_tokens=config.scheduler_config.max_num_batched_tokens,
        device="cpu" if current_platform.is_cpu() else "gpu",
        vllm_version=_loaded_vllm_version(),
        load_seconds=load_seconds,
    )


def _loaded_vllm_version() -> str | None:
    vllm = sys.modules.get("vllm")  # loaded wherever an engine exists; never import it
    return getattr(vllm, "__version__", None)


_known: weakref.WeakKeyDictionary[Any, EngineFacts] = weakref.WeakKeyDictionary()


def remember(engine: Any, facts: EngineFacts) -> EngineFacts:
    """Keep ``facts`` as the facts of ``engine`` (an ``LLM`` or ``AsyncLLM``)."""
    _known[engine] = facts
    return facts


def engine_facts(llm: Any) -> EngineFacts:
    """Return the facts of an engine: ``LLM``, ``AsyncLLM``, ``RemoteLLM``, or
    anything with a ``facts`` attribute (the web API's engine, a test's fake)."""
    own = getattr(llm, "facts", None)
    if isinstance(own, EngineFacts):
        return own
    try:
        return _known[llm]
    except (KeyError, TypeError):
        pass
    config = getattr(llm, "vllm_config", None)  # AsyncLLM
    if config is None:
        config = llm.llm_engine.vllm_config  # LLM
    return remember(llm, from_vllm_config(config))
