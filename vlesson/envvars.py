"""Every environment variable vlesson reads, named once.

vLLM's own variables (``VLLM_*``) are set in ``vlesson.engine``.
"""

HOME = "VLESSON_HOME"
"""vlesson's per-user directory (converted models, caches, logs); default
``$XDG_CACHE_HOME/vlesson`` or ``~/.cache/vlesson``."""

SERVER = "VLESSON_SERVER"
"""A shared vLLM server's API, e.g. ``http://host:8000/v1``: classroom mode, no local
engine starts."""

SERVER_API_KEY = "VLESSON_SERVER_API_KEY"
"""The key the classroom server wants: what learners set, and what
``vlesson classroom-server`` hands vLLM in ``VLLM_API_KEY`` (never on a command line)."""

API_KEY = "VLESSON_API_KEY"
"""The key ``vlesson serve`` (vlesson's own web API) reads; unset means no key."""

TIMEOUT = "VLESSON_TIMEOUT"
"""Seconds one call to the classroom server may take, its retries included (default
120)."""

PROGRESS = "VLESSON_PROGRESS"
"""The learner's progress file (default ``VLESSON_HOME/progress.json``); tests point it
at a scratch file."""

GPU_MEMORY_UTILIZATION = "VLESSON_GPU_MEMORY_UTILIZATION"
"""The share of GPU memory each engine vlesson starts may take on a GPU (default 0.4);
lower it on a GPU that other work shares."""

COMPILE = "VLESSON_COMPILE"
"""``0``: engines on a CPU stay in eager mode even where ``vlesson compile`` compiled
their configuration (default: compiled there, eager elsewhere)."""

ALL = (HOME, SERVER, SERVER_API_KEY, API_KEY, TIMEOUT, PROGRESS, GPU_MEMORY_UTILIZATION,
       COMPILE)
