"""Engine creation: vLLM's own EngineArgs with CPU-aware defaults, and one warm engine.

``get_llm()`` returns the same ``LLM`` for the same arguments, so notebook cells and
sliders never restart it; other arguments release the old engine before building anew.
It is also the one place that chooses a shared server instead (classroom mode:
``server=`` or ``$VLESSON_SERVER``), which returns a ``vlesson.remote.RemoteLLM``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import logging
import os
import time
import warnings
import weakref
from collections.abc import Collection, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from vlesson import compiled, envvars, facts, models, status
from vlesson.compat import (
    briefly_warmed_up,
    load_aot_cache_on_cpu,
    loaded_saved_compiled_model,
    same_compile_key_in_every_process,
    stdout_with_fileno,
)
from vlesson.names import did_you_mean
from vlesson.remote import (
    SERVER_ENV,
    RemoteLLM,
    RemoteUnsupportedError,
    local_only,
)

if TYPE_CHECKING:
    from vllm import LLM

logger = logging.getLogger(__name__)

QUIET_ENVIRONMENT = {
    # vLLM logs every start-up step at INFO, and on CPU repeats tuning WARNINGs
    # (LD_PRELOAD, thread binding) that a learner cannot act on; a lesson wants the
    # results. VLLM_LOGGING_LEVEL=INFO brings the full log back (notebook 07 reads it).
    "VLLM_LOGGING_LEVEL": "ERROR",
    # torch's C++ warnings, read when torch loads: on a CPU "NUMA binding: Using MEMBIND
    # policy ..." at every engine start.
    "TORCH_CPP_LOG_LEVEL": "ERROR",
}
"""Set unless already set: errors still show. ``vlesson ... --verbose`` lifts them."""
VERBOSE_ENVIRONMENT = {"VLLM_LOGGING_LEVEL": "INFO", "TORCH_CPP_LOG_LEVEL": "WARNING"}
for _name, _value in QUIET_ENVIRONMENT.items():
    os.environ.setdefault(_name, _value)
# torch warns when vLLM's engine start reads this deprecated name: nothing a learner
# can act on (a notebook shows FutureWarnings). --verbose shows it again.
warnings.filterwarnings(
    "ignore", message=r".*torch\.distributed\.reduce_op", category=FutureWarning
)


def _vllm_logger_level() -> None:
    """Give vLLM's logger the level of ``VLLM_LOGGING_LEVEL`` now: vLLM configures its
    loggers only when an engine starts, so what it logs while being imported (on a
    CPU, "Triton is installed, but doesn't include CPU backend") reached Python's
    last-resort handler, which prints every warning. A level already set stays."""
    vllm_logger = logging.getLogger("vllm")
    if vllm_logger.level == logging.NOTSET:
        level = os.environ.get("VLLM_LOGGING_LEVEL", "ERROR").upper()
        with contextlib.suppress(ValueError):
            vllm_logger.setLevel(level)


_vllm_logger_level()


def be_verbose() -> None:
    """Let vLLM's start-up log and torch's warnings through (``--verbose``); a level the
    user set stays."""
    for name, value in VERBOSE_ENVIRONMENT.items():
        if os.environ.get(name) == QUIET_ENVIRONMENT[name]:
            os.environ[name] = value
    if logging.getLogger("vllm").level == logging.ERROR:
        logging.getLogger("vllm").setLevel(logging.INFO)
    warnings.filterwarnings("default", message=r".*torch\.distributed\.reduce_op")

CPU_ENVIRONMENT = {
    # Engine core in this process, not a spawned child: ready after 9.9 s instead of
    # 25.0 s, 64x64 619 instead of 362 tok/s (bench/cpu_knobs.py), API server 487
    # instead of 322 tok/s (bench/api_bench.py), and scripts need no __main__ guard.
    # Set VLLM_ENABLE_V1_MULTIPROCESSING=1 to get the child process back.
    "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
}
"""Environment defaults for vLLM on a CPU (vLLM reads them when an engine starts)."""

KV_CACHE_BYTES = 1 << 30
"""KV cache on CPU: 1 GiB holds about 24,000 tokens of the default model in float32."""


def cpu_defaults() -> dict[str, Any]:
    """Return the engine defaults for a CPU-only machine; anything the caller passes wins.

    Figures: ``bench/cpu_knobs.py --rounds 2``, medians, 2-core EPYC with AVX512-BF16,
    SmolLM2-135M: defaults 9.9 s ready, 64x64 619 tok/s, one stream 41.6 tok/s, TTFT
    24 ms, a slider step (32 tokens after a 560-token prompt) 855 ms.
    """
    return {
        # Native bf16 (AVX512-BF16/AMX): float32 gave 0.66x the 64x64 throughput and 0.72x
        # the stream. Without it, fp32 was 2.5-6x faster than emulated bf16 (FACTS.md).
        "dtype": "bfloat16" if cpu_has_native_bf16() else "float32",
        # Eager, except where these arguments were compiled before (vlesson.compiled;
        # `vlesson compile`, which `make model` runs, compiles the notebooks' two).
        # Compiled graphs, bf16: 64x64 1.24-1.3x, one stream 1.3-1.5x (float32: 1.15x and
        # 1.2x; bench/cpu_knobs.py medians, bench/cpu_engines.py), ready about as soon
        # once vLLM saved the compiled model (compat.briefly_warmed_up), but after
        # 80-184 s the first time for each new set of engine arguments, and notebook 03
        # starts eight engines.
        "enforce_eager": True,
        # On CPU vLLM reads --gpu-memory-utilization as a share of the NUMA node's RAM,
        # minus what the process already uses: fragile across machines. A fixed KV cache
        # is not; it steps aside when the caller sets the fraction (exercise 2.6). 4 GiB
        # only added 4 s to the start.
        "kv_cache_memory_bytes": KV_CACHE_BYTES,
        # A chunked prefill rewinds a seeded request's generator, which a CPU generator
        # cannot do: a seeded batch over 4,096 prompt tokens failed with "CPU Generator
        # does not use offset". Unchunked, the token budget is max_model_len (8,192);
        # a budget of 1,024 or 16,384 moved no figure beyond noise (+-6%).
        "enable_chunked_prefill": False,
        # Kept at vLLM's defaults, each measured against the defaults above:
        # max_num_seqs 256 (16: 64x64 0.70x); block_size 128 (32 or 256: within noise);
        # prefix caching on (off: a slider step 1.42x slower); OpenMP binding "auto"
        # (nobind, or one core: within noise; torch uses both cores either way).
    }


def cpu_has_native_bf16() -> bool:
    """Return True when the CPU computes bf16 natively (AVX512-BF16 or AMX)."""
    try:
        with open("/proc/cpuinfo") as handle:
            flags = set(handle.read().split())
    except OSError:
        return False
    return bool(flags & {"avx512_bf16", "amx_bf16"})


@dataclasses.dataclass
class _Warm:
    key: str
    llm: LLM
    engine_args: dict[str, Any]
    load_seconds: float


_warm: _Warm | None = None
_released: weakref.WeakSet = weakref.WeakSet()
"""Engines ``release`` shut down (a learner's variable may still hold one)."""


class EngineReleasedError(RuntimeError):
    """An engine ``release`` shut down (``get_llm`` with other arguments) was used."""


def check_running(llm: Any) -> None:
    """Raise EngineReleasedError, saying what to do, when ``llm`` was shut down."""
    if llm in _released:
        raise EngineReleasedError(
            "this engine was shut down when vl.get_llm() started one with other "
            "arguments (one engine stays warm at a time): use the engine it returns, "
            "e.g. llm = vl.get_llm(...) again")


def is_cpu() -> bool:
    """Return True when vLLM runs on the CPU platform (no GPU)."""
    from vllm.platforms import current_platform

    return current_platform.is_cpu()


GPU_DEFAULTS: dict[str, Any] = {
    # vLLM's own defaults otherwise. Its 0.92 would let one engine take the whole GPU,
    # but a lesson runs two at once (a notebook's engine and a `!vlesson ...` command):
    # the second then fails with "Free memory on device ... less than desired" (seen
    # on an H100). 0.4 leaves room for both; 135M weights need well under 1 GiB.
    # $VLESSON_GPU_MEMORY_UTILIZATION changes it (a GPU that other work shares).
    "gpu_memory_utilization": 0.4,
}
"""Engine defaults applied on a GPU; anything the caller passes wins."""

GPU_ENVIRONMENT = {
    # vLLM forks its engine core on a GPU. A process that already ran torch on the CPU
    # (a notebook that wrote the GPTQ copy, measured memory, or a learner's own torch
    # cell) forks a child that never reports ready: notebook 03 hung for good on an
    # H200. A spawned child starts clean (bench/gpu_engine_start.py has the figures).
    "VLLM_WORKER_MULTIPROC_METHOD": "spawn",
}
"""Environment defaults for vLLM on a GPU; a value the user set wins."""


def gpu_defaults() -> dict[str, Any]:
    """Return the engine defaults for a GPU; anything the caller passes wins."""
    defaults = dict(GPU_DEFAULTS)
    fraction = os.environ.get(envvars.GPU_MEMORY_UTILIZATION)
    if fraction:
        try:
            defaults["gpu_memory_utilization"] = float(fraction)
        except ValueError:
            raise ValueError(
                f"{envvars.GPU_MEMORY_UTILIZATION} must be a number in (0, 1], got "
                f"{fraction!r} - try 0.2"
            ) from None
    return defaults


def engine_defaults(given: Collection[str] = ()) -> dict[str, Any]:
    """Return the defaults vlesson adds on this machine, less those that the engine
    arguments named in ``given`` take over."""
    defaults = cpu_defaults() if is_cpu() else gpu_defaults()
    if "gpu_memory_utilization" in given:  # the caller's fraction decides the KV cache
        defaults.pop("kv_cache_memory_bytes", None)
    if "max_num_batched_tokens" in given:  # a step budget below max_model_len needs
        defaults.pop("enable_chunked_prefill", None)  # chunks (vLLM refuses it otherwise)
    return defaults


def apply_environment() -> None:
    """Set vlesson's vLLM environment defaults for this machine (CPU or GPU)."""
    for name, value in (CPU_ENVIRONMENT if is_cpu() else GPU_ENVIRONMENT).items():
        os.environ.setdefault(name, value)
    if is_cpu():
        # Compiled graphs only (enforce_eager=False): a next start loads the model vLLM
        # saved, ready after 21 s where tracing it again took 32 s (bench/cpu_knobs.py,
        # both in one run; cpu_knobs_compile_caches.txt).
        load_aot_cache_on_cpu()
        same_compile_key_in_every_process()


def effective_engine_args(
    model: str | None = None, **engine_kwargs: Any
) -> dict[str, Any]:
    """Return the engine arguments ``get_llm`` would use: defaults, then the caller's.

    On a CPU the default is eager mode, except for arguments compiled here before
    (``vlesson compile``, or an engine started with ``enforce_eager=False``): those run
    compiled (``vlesson.compiled``)."""
    args = _asked_args(model, engine_kwargs)
    if "enforce_eager" not in _drop_none(engine_kwargs):
        args = _compiled_where_saved(args)
    return args


def child_process_engine_args(
    model: str | None = None, **engine_kwargs: Any
) -> dict[str, Any]:
    """Return the engine arguments for vLLM's asynchronous engine, whose core runs in a
    child process: eager on a CPU unless asked otherwise, since vlesson's step that lets a
    start load vLLM's saved compiled model does not reach that process (it would compile
    for a minute or more at every start)."""
    return _asked_args(model, engine_kwargs)


def _asked_args(model: str | None, engine_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Return vlesson's defaults, the model's, then the caller's arguments."""
    given = _drop_none(engine_kwargs)
    model = model or models.DEFAULT_MODEL
    args = {**engine_defaults(given), **models.engine_defaults(model), **given}
    args["model"] = model
    return args


def _compiled_where_saved(args: dict[str, Any]) -> dict[str, Any]:
    """Return ``args`` compiled (``enforce_eager=False``) where the eager default stands
    and these arguments were compiled here before."""
    if args.get("enforce_eager") and compiled.enabled() and compiled.is_compiled(args):
        return {**args, "enforce_eager": False}
    return args


def get_llm(
    model: str | None = None,
    *,
    server: str | None = None,
    api_key: str | None = None,
    **engine_kwargs: Any,
) -> LLM:
    """Return a warm vLLM engine for these arguments, building it only when needed.

    Args:
        model: a short offline name (default ``smollm2-135m-instruct``), a local
            folder, or a Hugging Face hub id such as ``facebook/opt-125m``.
        server: a shared vLLM server's API, e.g. ``http://host:8000/v1`` (default
            ``$VLESSON_SERVER``); then no local engine starts (classroom mode).
        api_key: that server's key (default ``$VLESSON_SERVER_API_KEY``).
        **engine_kwargs: any ``vllm.EngineArgs`` field, e.g. ``dtype="bfloat16"``.
    """
    global _warm
    server = server or os.environ.get(SERVER_ENV) or None
    if server:
        return _get_remote(server, model, api_key, engine_kwargs)
    # Keyed on what was asked, not on whether it runs compiled: an engine stays warm
    # while `vlesson compile` (or another process) marks or unmarks its arguments.
    key = json.dumps(_asked_args(model, engine_kwargs), sort_keys=True, default=str)
    if _warm is not None and _warm.key == key:
        return _warm.llm
    release()
    args = effective_engine_args(model, **engine_kwargs)
    llm, seconds = _build(args)
    _warm = _Warm(key, llm, args, seconds)
    return llm


def _get_remote(
    server: str, model: str | None, api_key: str | None, engine_kwargs: Mapping[str, Any]
) -> RemoteLLM:
    global _warm
    given = _drop_none(engine_kwargs)
    # --seed also seeds every request (cli.common.split_args), which a server honours;
    # the engine's own seed only shapes unseeded requests, never reproducible there.
    given.pop("seed", None)
    # Statistics asked for (notebooks 04 and 06): a server keeps its own, on its
    # /metrics page, which vl.scheduler reads; the request is met as it is.
    if given.get("disable_log_stats") is False:
        del given["disable_log_stats"]
    if given:
        names = ", ".join(f"{k}={v!r}" for k, v in given.items())
        raise RemoteUnsupportedError(local_only(f"Setting engine arguments ({names})",
                                                server))
    key = json.dumps({"server": server, "model": model, "api_key": api_key})
    if _warm is not None and _warm.key == key:
        return _warm.llm
    release()
    llm = RemoteLLM(server, model=model, api_key=api_key)
    _warm = _Warm(key, llm, {"model": llm.model_name, "server": llm.server},
                  llm.connect_seconds)
    return llm


def is_remote(llm: Any = None) -> bool:
    """Return True when ``llm`` (default: the warm one) is a shared server's."""
    if llm is None:
        llm = _warm.llm if _warm is not None else None
    return isinstance(llm, RemoteLLM)


def built_with(llm: Any) -> dict[str, Any]:
    """Return the engine arguments ``get_llm`` built ``llm`` with (the warm engine's)."""
    if _warm is None or _warm.llm is not llm:
        raise ValueError(
            "this engine is not the one vl.get_llm() keeps warm, so vlesson does not "
            "know its arguments - start it with vl.get_llm(...)"
        )
    return dict(_warm.engine_args)


def needs_local_engine(llm: Any, what: str) -> bool:
    """Return True when ``llm`` is a local engine; else print why ``what`` cannot run
    on the shared server and return False (a notebook cell then skips the step)."""
    if not is_remote(llm):
        return True
    print(local_only(what, llm.server))
    return False


@contextlib.contextmanager
def starting_engine(
    args: Mapping[str, Any], what: str, loads: bool | None = None
) -> Iterator[dict[str, Any]]:
    """Prepare a vLLM engine start: check the model is there, set vLLM's environment,
    and yield ``args`` with the model resolved to its folder, while stdout is a file.
    ``loads``: whether the start loads a saved compiled model (None: decide here)."""
    models.check_available(args["model"])
    resolved = {**args, "model": models.resolve(args["model"])}
    apply_environment()
    logger.info("starting %s: %s", what, args)
    # Compiled before: the start loads what vLLM saved, and needs no long warm-up.
    if loads is None:
        loads = is_cpu() and compiled.is_compiled(args)
    with stdout_with_fileno(), briefly_warmed_up() if loads else contextlib.nullcontext():
        yield resolved


def _build(args: Mapping[str, Any]) -> tuple[LLM, float]:
    from vllm import LLM, EngineArgs

    # Read once: the warm-up and the verdict after the start must agree, even if
    # another process marks or unmarks these arguments meanwhile.
    meant_to_load = is_cpu() and compiled.is_compiled(args)
    with starting_engine(args, "vLLM engine", meant_to_load) as resolved:
        _check_fields(resolved, {f.name for f in dataclasses.fields(EngineArgs)})
        name = _model_label(str(args["model"]))
        with status.elapsed(f"starting vLLM engine ({name})",
                            f"vLLM engine ({name}) ready in"):
            start = time.perf_counter()
            llm = LLM(**resolved)
    seconds = time.perf_counter() - start
    config = llm.llm_engine.vllm_config
    facts.remember(
        llm, facts.from_vllm_config(config, name=args["model"], load_seconds=seconds)
    )
    if not args.get("enforce_eager") and is_cpu():
        _note_compiled(args, llm, config.compilation_config.local_cache_dir,
                       meant_to_load)
    return llm, seconds


def _note_compiled(args: Mapping[str, Any], llm: LLM, saved_by_vllm: str | None,
                   meant_to_load: bool) -> None:
    """Mark these arguments compiled after a first compile. A start that was to load
    vLLM's saved model and compiled anew instead marks them eager, so that no later
    start waits minutes again (``vlesson compile --again`` tries once more)."""
    if not meant_to_load:
        compiled.remember(args, saved_by_vllm)
    elif loaded_saved_compiled_model(llm) is False:
        compiled.forget(args, "a start compiled it again instead of loading what vLLM "
                        "saved")
        logger.warning(
            "vLLM compiled this engine again instead of loading what it had saved; "
            "engines with these arguments start in eager mode from now on "
            "(`vlesson compile --again` tries once more)")


def _model_label(model: str) -> str:
    """Return how a status line names a model: a folder by its name, else as given."""
    return os.path.basename(model.rstrip("/")) if os.path.isabs(model) else model


def _check_fields(args: Mapping[str, Any], known: set[str]) -> None:
    for name in args:
        if name not in known:
            fix = did_you_mean(name, sorted(known), "see `vlesson generate --help`")
            raise TypeError(f"unknown engine argument {name!r} - {fix}")


def release() -> None:
    """Shut the warm engine down and free its memory (safe to call when none)."""
    global _warm
    if _warm is None:
        return
    llm, _warm = _warm.llm, None
    if is_remote(llm):
        llm.close()
        return
    _released.add(llm)
    shutdown = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
    if shutdown is not None and hasattr(shutdown, "shutdown"):
        shutdown.shutdown()
    del llm
    gc.collect()


def engine_info(llm: LLM | None = None) -> dict[str, Any]:
    """Return the effective configuration of an engine (default: the warm one), for
    printing or logs: ``engine_facts(llm).info()``."""
    target = llm if llm is not None else (_warm.llm if _warm is not None else None)
    if target is None:
        raise RuntimeError("no warm engine - call vl.get_llm() first")
    return facts.engine_facts(target).info()


def _drop_none(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if v is not None}
