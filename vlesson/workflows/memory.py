"""Memory (exercise 2.6): what the memory fraction changes, and a live memory monitor.

On a GPU, ``gpu_memory_utilization`` is the share of GPU memory vLLM may take; what is
left after the weights becomes KV cache, which sets how many tokens (and so how many
requests at full context) fit at once. The CPU build reads the same fraction as a share
of the NUMA node's RAM; vlesson otherwise gives the CPU a fixed 1 GiB KV cache.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Self

from vlesson import engine, envvars
from vlesson.engine import get_llm
from vlesson.facts import engine_facts

if TYPE_CHECKING:
    import pandas as pd
    from vllm import LLM

MIB = 1 << 20


def rss_mib(pid: int | None = None) -> float:
    """Return the resident memory of a process (default: this one) in MiB."""
    import psutil

    return psutil.Process(pid or os.getpid()).memory_info().rss / MIB


def gpu_used_mib() -> float | None:
    """Return memory used on GPU 0 in MiB through NVML, or None without a GPU."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        return pynvml.nvmlDeviceGetMemoryInfo(handle).used / MIB
    except pynvml.NVMLError:  # no driver or no GPU: there is nothing to report
        return None


class MemoryMonitor:
    """Sample RAM (and GPU memory when present) in a background thread.

    Use as a context manager around work, e.g. ``with vl.memory.MemoryMonitor() as mon:
    vl.generate(...)``, then ``mon.frame()`` (a DataFrame) or ``mon.peak_rss_mib``.
    """

    def __init__(self, interval: float = 0.1, *, pid: int | None = None):
        self.interval = interval
        self.pid = pid or os.getpid()
        self.samples: list[dict[str, float | None]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start = 0.0
        self._gpu = gpu_used_mib() is not None

    def start(self) -> MemoryMonitor:
        """Start sampling (one sample at once, then every ``interval`` seconds)."""
        self._stop.clear()
        self._start = time.perf_counter()
        self._sample()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> MemoryMonitor:
        """Stop sampling and take one last sample."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        return self

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        self.samples.append(
            {
                "seconds": round(time.perf_counter() - self._start, 3),
                "rss_mib": round(rss_mib(self.pid), 1),
                "gpu_mib": gpu_used_mib() if self._gpu else None,
            }
        )

    @property
    def peak_rss_mib(self) -> float:
        """Highest resident memory seen, in MiB."""
        return max(s["rss_mib"] for s in self.samples)

    @property
    def peak_gpu_mib(self) -> float | None:
        """Highest GPU memory used seen, in MiB (None without a GPU)."""
        seen = [s["gpu_mib"] for s in self.samples if s["gpu_mib"] is not None]
        return max(seen) if seen else None

    def frame(self) -> pd.DataFrame:
        """Return the samples as a DataFrame (seconds, rss_mib, gpu_mib)."""
        import pandas as pd

        return pd.DataFrame(self.samples, columns=["seconds", "rss_mib", "gpu_mib"])


def kv_cache_report(llm: LLM) -> dict[str, Any]:
    """Return the KV-cache size and maximum concurrency this engine reported."""
    facts = engine_facts(llm)
    return {
        "gpu_memory_utilization": facts.gpu_memory_utilization,
        "kv_cache_memory_bytes": facts.kv_cache_bytes,
        "num_blocks": facts.num_blocks,
        "block_size": facts.block_size,
        "kv_cache_tokens": facts.kv_cache_tokens,
        "max_model_len": facts.max_model_len,
        "max_concurrency": round(facts.max_concurrency or 0.0, 2),
    }


def sheet_fractions() -> tuple[float, float]:
    """Return the two memory fractions exercise 2.6 compares on this machine.

    On a GPU the sheet's 0.5 and 0.9; on a GPU shared through
    ``$VLESSON_GPU_MEMORY_UTILIZATION``, half and all of that share. On a CPU 0.25 and
    0.35 of the RAM less what this process holds (0.9 would starve the machine; 0.15
    left 0.13 GiB, too little for one 8,192-token request in float32).
    """
    if engine.is_cpu():
        return (0.25, 0.35)
    if os.environ.get(envvars.GPU_MEMORY_UTILIZATION):
        share = engine.gpu_defaults()["gpu_memory_utilization"]
        return (share / 2, share)
    return (0.5, 0.9)


def compare_fractions(
    fractions: Sequence[float] = (0.05, 0.1),
    model: str | None = None,
    *,
    progress: bool = True,
    **engine_kwargs,
) -> pd.DataFrame:
    """Start one engine per memory fraction and tabulate what vLLM reports for each.

    Each start costs about 15 s; the last engine stays warm (``vl.release()`` frees it).
    ``progress`` shows a bar over the fractions.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    rows = []
    for fraction in tqdm(
        fractions, desc="fractions compared", unit="engine", disable=not progress
    ):
        llm = get_llm(model, gpu_memory_utilization=fraction, **engine_kwargs)
        rows.append({**kv_cache_report(llm), "rss_mib": round(rss_mib(), 1)})
    return pd.DataFrame(rows)
