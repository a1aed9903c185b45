"""The memory monitor samples in the background."""

from __future__ import annotations

import mmap
import time

from vlesson.workflows import memory


def test_memory_monitor_samples_in_the_background():
    with memory.MemoryMonitor(interval=0.01) as monitor:
        # Fresh pages straight from the kernel: a malloc'd block could reuse memory the
        # process already holds (after an engine ran in it) and leave RSS unchanged.
        block = mmap.mmap(-1, 64 << 20)
        for page in range(0, len(block), mmap.PAGESIZE):
            block[page] = 1
        time.sleep(0.1)
    frame = monitor.frame()
    assert len(frame) >= 3 and list(frame.columns) == ["seconds", "rss_mib", "gpu_mib"]
    assert frame["seconds"].is_monotonic_increasing
    assert monitor.peak_rss_mib >= frame["rss_mib"].iloc[0] + 50
    assert monitor.peak_gpu_mib is None or monitor.peak_gpu_mib > 0
    block.close()


def test_compare_fractions_counts_its_engines_unless_told_not_to(monkeypatch, capsys):
    started = []
    monkeypatch.setattr(memory, "get_llm",
                        lambda model, **kwargs: started.append(kwargs) or object())
    monkeypatch.setattr(memory, "kv_cache_report", lambda llm: {"num_blocks": 1})
    memory.compare_fractions((0.25, 0.35))
    bar = capsys.readouterr().err
    assert "fractions compared" in bar and "2/2" in bar
    memory.compare_fractions((0.25,), progress=False)
    assert capsys.readouterr().err == ""
    assert [s["gpu_memory_utilization"] for s in started] == [0.25, 0.35, 0.25]
