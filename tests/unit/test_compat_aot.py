"""compat.load_aot_cache_on_cpu: vLLM 0.32 can load the compiled model it saved on a CPU."""

from __future__ import annotations

import types

import pytest
import torch

from vlesson.compat import load_aot_cache_on_cpu


def _loaded(compiled_fn) -> types.SimpleNamespace:
    """What torch.compiler.load_compiled_function returns, as far as vLLM reads it."""
    return types.SimpleNamespace(_artifacts=types.SimpleNamespace(compiled_fn=compiled_fn))


@pytest.fixture
def torch_loads(monkeypatch):
    """torch's loader returning whatever the test puts in ``box[0]``; restored after."""
    box = []
    monkeypatch.setattr(torch.compiler, "load_compiled_function", lambda *a, **k: box[0])
    return box


def _vllm_finalizes(loaded) -> None:
    """What vLLM 0.32 does after loading (vllm/compilation/decorators.py)."""
    loaded._artifacts.compiled_fn.finalize_loading(object())


def test_a_plain_compiled_function_gets_a_no_op_finalize(torch_loads):
    def compiled(x):  # a CPU's artifact: torch's inductor function, no vLLM wrapper
        return x + 1

    torch_loads.append(_loaded(compiled))
    with pytest.raises(AttributeError, match="finalize_loading"):
        _vllm_finalizes(torch.compiler.load_compiled_function(None))  # vLLM 0.32 as is
    load_aot_cache_on_cpu()
    loaded = torch.compiler.load_compiled_function(None)
    _vllm_finalizes(loaded)
    assert loaded._artifacts.compiled_fn(1) == 2  # the function itself is untouched


def test_vllms_own_finalize_is_kept_and_the_fix_wraps_once(torch_loads):
    calls = []
    compiled = types.SimpleNamespace(finalize_loading=calls.append)
    torch_loads.append(_loaded(compiled))
    load_aot_cache_on_cpu()
    wrapped = torch.compiler.load_compiled_function
    load_aot_cache_on_cpu()
    assert torch.compiler.load_compiled_function is wrapped
    _vllm_finalizes(torch.compiler.load_compiled_function(None))
    assert len(calls) == 1


def test_something_without_artifacts_passes_through(torch_loads):
    torch_loads.append("not a compiled function")
    load_aot_cache_on_cpu()
    assert torch.compiler.load_compiled_function(None) == "not a compiled function"


def test_a_process_started_from_this_one_keys_compiled_models_alike(monkeypatch):
    """vLLM exports TORCHINDUCTOR_CPP_DYNAMIC_THREADS=1 while an engine starts; torch
    reads it at import, so a child's key for the saved model differed from ours."""
    import subprocess
    import sys

    from torch._inductor import config

    from vlesson.compat import same_compile_key_in_every_process

    monkeypatch.setattr(config.cpp, "dynamic_threads", False)  # a fresh process's
    monkeypatch.setenv("TORCHINDUCTOR_CPP_DYNAMIC_THREADS", "1")  # what vLLM exports
    same_compile_key_in_every_process()
    read = ("from torch._inductor import config; "
            "print(config.save_config_portable()['cpp.dynamic_threads'])")
    child = subprocess.run([sys.executable, "-c", read],
                           capture_output=True, text=True, check=True)
    assert config.save_config_portable()["cpp.dynamic_threads"] is True
    assert child.stdout.strip() == "True"
