"""What differs between the vLLM releases vlesson supports (0.24 to the newest).

Everything else in vlesson imports these names from here, never the moving paths.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import sys
from collections.abc import Iterator
from typing import Any


def flexible_argument_parser() -> type:
    """Return vLLM's FlexibleArgumentParser (moved to vllm.utils.argparse_utils)."""
    try:
        from vllm.utils.argparse_utils import FlexibleArgumentParser
    except ImportError:  # older releases kept it in vllm.utils
        from vllm.utils import FlexibleArgumentParser
    return FlexibleArgumentParser


@contextlib.contextmanager
def stdout_with_fileno() -> Iterator[None]:
    """While an engine starts, make ``sys.stdout`` a real file if it is not one.

    vLLM 0.24's ``suppress_stdout()`` calls ``sys.stdout.fileno()`` while a GPU worker
    starts (newer releases use fd 1 directly). That raises where stdout is no file:
    ``redirect_stdout(StringIO())``, or a Jupyter kernel that does not capture fd output,
    which is every kernel started under pytest (nbval). The engine then fails with
    "generator didn't yield" or "Engine core initialization failed" (seen on an H100).
    """
    try:
        sys.stdout.fileno()
        has_fileno = True
    except (AttributeError, ValueError, io.UnsupportedOperation):
        has_fileno = False
    if has_fileno or sys.__stdout__ is None:  # a file already, or none to lend (pythonw)
        yield
        return
    with contextlib.redirect_stdout(sys.__stdout__):
        yield


def same_compile_key_in_every_process() -> None:
    """Give this process the inductor setting that vLLM's CPU platform exports for its
    workers (``TORCHINDUCTOR_CPP_DYNAMIC_THREADS=1``), so that vLLM's key for a saved
    compiled model is the same in every process.

    vLLM sets the variable while an engine starts, but torch reads it once, at import:
    the process that compiled keyed the model with ``cpp.dynamic_threads`` False, and a
    process started from it afterwards (a notebook's ``!vlesson generate``, ``make
    classroom-server`` from a test, ``vlesson compile``'s check) with True. That one
    found nothing under its key and compiled again (71 s on a 2-core EPYC). Compiling
    sets the value anyway (vLLM's ``inductor_compile_config``); only the key changes.
    """
    os.environ["TORCHINDUCTOR_CPP_DYNAMIC_THREADS"] = "1"
    from torch._inductor import config

    config.cpp.dynamic_threads = True


def load_aot_cache_on_cpu() -> None:
    """Let vLLM 0.32 load the compiled model it saved on a CPU (idempotent).

    After loading its ahead-of-time artifact, vLLM calls ``finalize_loading`` on the
    compiled function. On a CPU (Dynamo traced once, torch's own inductor backend) that is
    a plain function without one, so every load failed ("'function' object has no
    attribute 'finalize_loading'") and each compiled start traced and compiled again. The
    function needs no finalizing: give it a no-op, only where it has none.
    """
    import torch

    load = torch.compiler.load_compiled_function
    if getattr(load, "finalizes_plain_functions", False):
        return

    def load_compiled_function(*args, **kwargs):
        loaded = load(*args, **kwargs)
        compiled = getattr(getattr(loaded, "_artifacts", None), "compiled_fn", None)
        if compiled is not None and not hasattr(compiled, "finalize_loading"):
            compiled.finalize_loading = lambda vllm_config: None
        return loaded

    load_compiled_function.finalizes_plain_functions = True
    torch.compiler.load_compiled_function = load_compiled_function


WARM_UP_TOKENS = 16
"""Tokens in the forward pass of a brief warm-up (``briefly_warmed_up``)."""

_warm_up = {"brief": False}


def warm_up_briefly_on_cpu() -> None:
    """Install the brief warm-up that ``briefly_warmed_up`` turns on (idempotent).

    vLLM's CPU warm-up (compiled graphs only) runs one forward pass over
    ``max_num_batched_tokens`` tokens (8,192 with vlesson's defaults). A start that
    compiles should: torch tunes the graph for the sizes it first sees (compiled after 16
    tokens, a 64 x 64 batch ran 0.9x as fast, bench/cpu_knobs.py). A start that loads
    what vLLM saved compiles nothing, and that pass was 7.8-8.3 s of a start ready after
    18 s on a 2-core EPYC; 16 tokens load the same graph (ready after 11-13 s). The
    sampler's warm-up stays; multimodal and pooling models keep vLLM's own; a release
    without these methods is left alone.
    """
    try:
        from vllm.config import CompilationMode
        from vllm.v1.worker import cpu_model_runner
    except ImportError:
        return
    runner = cpu_model_runner.CPUModelRunner
    original = runner.warming_up_model
    settings = getattr(cpu_model_runner, "_set_global_compilation_settings", None)
    if getattr(original, "brief", False) or settings is None or not all(
        hasattr(runner, name) for name in ("_dummy_run", "_dummy_sampler_run")
    ):
        return

    def warming_up_model(self) -> None:
        if (not _warm_up["brief"]
                or self.vllm_config.compilation_config.mode == CompilationMode.NONE
                or getattr(self, "supports_mm_inputs", False)
                or getattr(self, "is_pooling_model", False)):
            original(self)
            return
        with settings(self.vllm_config):
            _, last_hidden_states = self._dummy_run(
                min(WARM_UP_TOKENS, self.max_num_tokens), is_profile=True
            )
            self._dummy_sampler_run(last_hidden_states)

    warming_up_model.brief = True
    runner.warming_up_model = warming_up_model


@contextlib.contextmanager
def briefly_warmed_up() -> Iterator[None]:
    """Within: a compiled CPU engine that starts in this process warms up on 16 tokens
    (for a start that loads the model vLLM saved: ``warm_up_briefly_on_cpu``)."""
    warm_up_briefly_on_cpu()
    _warm_up["brief"] = True
    try:
        yield
    finally:
        _warm_up["brief"] = False


def loaded_saved_compiled_model(llm: Any) -> bool | None:
    """Return whether a compiled engine's start loaded the model vLLM had saved (False:
    it compiled anew); None where that cannot be told (no ahead-of-time cache in use,
    or a release without the flag)."""
    try:
        from vllm import envs

        if not envs.VLLM_USE_AOT_COMPILE:
            return None
        flags = llm.apply_model(lambda model: [
            module.was_aot_compile_fn_loaded_from_disk for module in model.modules()
            if hasattr(module, "was_aot_compile_fn_loaded_from_disk")])
    except Exception:  # noqa: BLE001 - any failure here only means "cannot tell"
        return None
    found = [flag for worker in flags for flag in worker]
    return any(found) if found else None


def validation_errors() -> tuple[type[BaseException], ...]:
    """Return the exception types SamplingParams raises for a bad value."""
    try:
        from vllm.exceptions import VLLMValidationError
    except ImportError:  # older releases raised plain ValueError
        return (ValueError,)
    return (ValueError, VLLMValidationError)


def engine_option_names() -> frozenset[str]:
    """Return EngineArgs' field names (every engine option's dest), read from vLLM's
    source without importing it (about 10 s): a config file's unknown key is refused at
    once. Empty when the source is not where it was (the full parse still checks)."""
    return _class_fields(("engine", "arg_utils.py"), "EngineArgs")


def sampling_field_names() -> frozenset[str]:
    """Return SamplingParams' field names, read from vLLM's source (see above)."""
    return _class_fields(("sampling_params.py",), "SamplingParams")


@functools.cache
def _class_fields(where: tuple[str, ...], name: str) -> frozenset[str]:
    import ast
    import importlib.util
    from pathlib import Path

    try:
        spec = importlib.util.find_spec("vllm")  # finds, does not import
        source = Path(spec.submodule_search_locations[0], *where)
        tree = ast.parse(source.read_text(encoding="utf-8"))
    except (AttributeError, ImportError, OSError, SyntaxError, TypeError, ValueError):
        return frozenset()
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return frozenset(
                item.target.id for item in node.body
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
            )
    return frozenset()


def request_validation_errors() -> tuple[type[BaseException], ...]:
    """Return the exception types vLLM's engine raises for a request it refuses (a
    client's mistake); any other error, a ValueError among them, is the server's."""
    try:
        from vllm.exceptions import VLLMValidationError
    except ImportError:  # older releases raised plain ValueError
        return (ValueError,)
    return (VLLMValidationError,)


def quantization_methods() -> list[str]:
    """Return the quantization methods this vLLM accepts for ``--quantization``."""
    from vllm.model_executor.layers.quantization import QUANTIZATION_METHODS

    return list(QUANTIZATION_METHODS)


def async_engine_class() -> type:
    """Return vLLM's asynchronous engine (AsyncLLM; AsyncLLMEngine before V1)."""
    try:
        from vllm.v1.engine.async_llm import AsyncLLM
    except ImportError:  # older releases exported only the V0 name
        from vllm import AsyncLLMEngine as AsyncLLM
    return AsyncLLM


async def render_prompt(engine, prompt: str):
    """Tokenize a text prompt for ``engine.generate`` (raw text where no renderer).

    vLLM 0.32 deprecates passing raw text to the asynchronous engine; its renderer
    tokenizes and checks the length against max_model_len (ValueError if too long).
    """
    renderer = getattr(engine, "renderer", None)
    try:  # the docstring of AsyncLLM.generate names vllm.inputs, which lacks it
        from vllm.renderers.inputs.preprocess import parse_model_prompt
    except ImportError:
        return prompt
    if renderer is None or not hasattr(renderer, "render_cmpl_async"):
        return prompt
    parsed = parse_model_prompt(engine.model_config, prompt)
    (rendered,) = await renderer.render_cmpl_async([parsed])
    return rendered
