"""vLLM's scheduler and paged KV cache, recorded step by step from the warm engine.

``record`` drives the engine one scheduler step at a time (vLLM's own
``LLMEngine.add_request`` and ``step``), letting requests arrive at the steps you
choose, and after each step reads what vLLM's scheduler did: the tokens it computed
for each request (a whole prompt, a chunk of one, or one decoded token) and the
physical KV-cache blocks each request holds (``KVCacheManager.get_block_ids``).
``Recording.timeline`` and ``Recording.block_table`` are its tables,
``draw_timeline`` and ``draw_block_table`` its pictures. A local engine only: a class
server's scheduler runs on another machine. Where vLLM runs the engine core in a child
process (a GPU), the scheduler is not an object here, so ``record`` replays the requests
in an engine of its own, in a process of its own, with the engine core inside it.
"""

from __future__ import annotations

import itertools
import os
import pickle
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from vlesson import child, engine, status
from vlesson.remote import RemoteUnsupportedError, local_only

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from vllm import SamplingParams

MAX_STEPS = 2_000
"""A recording stops here: it is meant for a few short requests."""
OWN_ENGINE_SECONDS = 900
"""The most a recording in an engine of its own may take, its start included."""

STATE_COLOURS = {"waiting": "#bdbdbd", "prefill": "#dd8452", "decode": "#4c72b0"}
_SHARED_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860")
_OWN_BLOCK = "#8c8c8c"
_recordings = itertools.count()


@dataclass
class Step:
    """What one scheduler step did."""

    computed: dict[str, int]
    """Request name -> tokens the step computed for it (prompt tokens, or 1 decoded)."""
    blocks: dict[str, list[int]]
    """Request name -> the physical KV-cache blocks it holds after the step."""
    finished: list[str]
    """The requests that finished at this step (their blocks are freed)."""


@dataclass
class Recording:
    """The scheduler steps of a few requests, and what each request was."""

    names: list[str]
    prompt_tokens: dict[str, int]
    arrivals: dict[str, int]
    block_size: int
    chunked_prefill: bool
    token_budget: int
    """The most tokens one step computes (``max_num_batched_tokens``)."""
    steps: list[Step] = field(default_factory=list)
    cached_tokens: dict[str, int] = field(default_factory=dict)
    """Prompt tokens each request found in the prefix cache (not computed again)."""
    texts: dict[str, str] = field(default_factory=dict)

    def timeline(self) -> pd.DataFrame:
        """One row per request: prompt and cached tokens, the steps it arrived at,
        was first scheduled at, produced its first token at and finished at, and how
        many steps its prompt took (more than one: a chunked prefill)."""
        rows = []
        for name in self.names:
            done = self.cached_tokens.get(name, 0)
            prefill_steps = 0
            first_scheduled = first_token = finished = None
            for index, step in enumerate(self.steps):
                tokens = step.computed.get(name, 0)
                if tokens and first_scheduled is None:
                    first_scheduled = index
                if tokens and done < self.prompt_tokens[name]:
                    prefill_steps += 1
                done += tokens
                if tokens and first_token is None and done >= self.prompt_tokens[name]:
                    first_token = index
                if name in step.finished:
                    finished = index
            rows.append(
                {
                    "request": name,
                    "prompt_tokens": self.prompt_tokens[name],
                    "cached_tokens": self.cached_tokens.get(name, 0),
                    "arrives": self.arrivals[name],
                    "first_scheduled": first_scheduled,
                    "first_token": first_token,
                    "finishes": finished,
                    "prefill_steps": prefill_steps,
                }
            )
        return pd.DataFrame(rows).astype(
            {"first_token": "Int64", "finishes": "Int64", "first_scheduled": "Int64"}
        )

    def block_table(self, step: int | None = None) -> pd.DataFrame:
        """One row per (request, logical block) at ``step`` (default: the step that
        holds the most blocks): the physical block behind it, the tokens it holds,
        and the other requests holding the same physical block (a shared prefix)."""
        if not self.steps:
            raise ValueError("the recording has no steps")
        if step is None:
            step = max(
                range(len(self.steps)),
                key=lambda i: sum(map(len, self.steps[i].blocks.values())),
            )
        if not 0 <= step < len(self.steps):
            raise ValueError(
                f"step {step} is not recorded: choose 0-{len(self.steps) - 1}"
            )
        held = self.steps[step].blocks
        owners: dict[int, list[str]] = {}
        for name, blocks in held.items():
            for block in blocks:
                owners.setdefault(block, []).append(name)
        size = self.block_size
        return pd.DataFrame(
            [
                {
                    "step": step,
                    "request": name,
                    "logical_block": logical,
                    "physical_block": block,
                    "tokens": f"{logical * size}-{(logical + 1) * size - 1}",
                    "shared_with": ", ".join(n for n in owners[block] if n != name),
                }
                for name, blocks in held.items()
                for logical, block in enumerate(blocks)
            ],
            columns=[
                "step",
                "request",
                "logical_block",
                "physical_block",
                "tokens",
                "shared_with",
            ],
        )


def record(
    llm: Any,
    prompts: Sequence[str],
    params: SamplingParams,
    *,
    arrive_at: Sequence[int] | None = None,
    names: Sequence[str] | None = None,
    engine_args: dict[str, Any] | None = None,
) -> Recording:
    """Run ``prompts`` through ``llm``'s scheduler one step at a time and record each
    step; request ``i`` arrives just before step ``arrive_at[i]`` (default: all at 0)
    and is called ``names[i]`` (default: A, B, C, ...). ``engine_args`` (e.g. a
    smaller ``max_num_batched_tokens``) record in an engine of its own: ``llm``'s
    arguments with these over them.

    Raises RemoteUnsupportedError on a class server (its scheduler is not here).
    """
    if engine.is_remote(llm):
        raise RemoteUnsupportedError(local_only("Recording the scheduler", llm.server))
    arrive_at = list(arrive_at) if arrive_at is not None else [0] * len(prompts)
    names = (
        list(names) if names is not None else [chr(65 + i) for i in range(len(prompts))]
    )
    if not len(arrive_at) == len(names) == len(prompts):
        raise ValueError(
            f"got {len(prompts)} prompts, {len(arrive_at)} arrival steps and "
            f"{len(names)} names - give one of each per prompt"
        )
    if len(set(names)) != len(names) or min(arrive_at, default=0) < 0:
        raise ValueError("names must differ from each other and arrival steps be >= 0")
    if engine_args is not None or not _steps_readable_here(llm):
        return _record_in_own_engine(
            {**engine.built_with(llm), **(engine_args or {})},
            list(prompts), params, arrive_at, names,
        )  # fmt: skip
    llm_engine = llm.llm_engine
    if llm_engine.has_unfinished_requests():
        raise RuntimeError(
            "the engine is still busy with other requests - let them finish (or "
            "restart the kernel) before recording"
        )
    scheduler = llm_engine.engine_core.engine_core.scheduler
    tokenizer = llm.get_tokenizer()
    recording = Recording(
        names=names,
        prompt_tokens={n: len(tokenizer.encode(p)) for n, p in zip(names, prompts)},
        arrivals=dict(zip(names, arrive_at)),
        block_size=scheduler.cache_config.block_size,
        chunked_prefill=bool(scheduler.scheduler_config.enable_chunked_prefill),
        token_budget=scheduler.scheduler_config.max_num_batched_tokens,
    )
    ids: dict[str, str] = {}  # vLLM's request id -> name
    outputs_seen: list[Any] = []
    schedule = scheduler.schedule

    def schedule_and_keep(*args: Any, **kwargs: Any) -> Any:
        outputs_seen.append(schedule(*args, **kwargs))
        return outputs_seen[-1]

    run = next(_recordings)
    scheduler.schedule = schedule_and_keep  # this instance only, restored below
    try:
        while (
            len(set(ids.values())) < len(names) or llm_engine.has_unfinished_requests()
        ):
            if len(recording.steps) >= MAX_STEPS:
                raise RuntimeError(
                    f"the recording ran past {MAX_STEPS} steps - ask for fewer tokens"
                )
            for name, prompt, at in zip(names, prompts, arrive_at):
                if at <= len(recording.steps) and name not in ids.values():
                    given = f"vlesson-record-{run}-{name}"
                    # vLLM 0.32 returns its own id (with a suffix), 0.24 nothing.
                    ids[llm_engine.add_request(given, prompt, params) or given] = name
                    ids[given] = name  # outputs carry the id given
            outputs_seen.clear()
            recording.steps.append(
                _step(llm_engine.step(), outputs_seen, ids, scheduler, recording)
            )
    finally:
        scheduler.schedule = schedule
        if llm_engine.has_unfinished_requests():  # interrupted: do not leave them
            done = {name for step in recording.steps for name in step.finished}
            llm_engine.abort_request(
                [f"vlesson-record-{run}-{n}" for n in set(ids.values()) - done]
            )
    return recording


def _steps_readable_here(llm: Any) -> bool:
    """Whether ``llm``'s scheduler is in this process and each ``step()`` returns the
    outputs of that step. Not so with the engine core in a child process (vlesson's
    choice on a GPU, engine.py: vLLM's client then has no ``engine_core``), nor with
    asynchronous scheduling (a GPU's default: ``step()`` returns the step before's)."""
    engine_here = llm.llm_engine
    in_process = hasattr(engine_here.engine_core, "engine_core")
    return in_process and not engine_here.vllm_config.scheduler_config.async_scheduling


def _record_in_own_engine(
    engine_args: dict[str, Any],
    prompts: list[str],
    params: SamplingParams,
    arrive_at: list[int],
    names: list[str],
) -> Recording:
    """Record in a fresh process whose engine (the same arguments, no CUDA graphs: a
    faster start, the same scheduling) runs its core in that process, with asynchronous
    scheduling off: there every step is readable (``_steps_readable_here``)."""
    with tempfile.TemporaryDirectory(prefix="vlesson-record-") as folder:
        job, result = os.path.join(folder, "job.pkl"), os.path.join(folder, "rec.pkl")
        with open(job, "wb") as file:
            args = {**engine_args, "enforce_eager": True, "async_scheduling": False}
            pickle.dump((args, prompts, params, arrive_at, names), file)
        with status.elapsed("recording in an engine of its own", "recorded in"):
            ran = child.run_with_deadline(
                [sys.executable, "-c", _JOB, job, result],
                OWN_ENGINE_SECONDS,
                {**os.environ, "VLLM_ENABLE_V1_MULTIPROCESSING": "0"},
            )
        if ran is None:
            raise RuntimeError(
                f"the recording's own engine gave no result within "
                f"{OWN_ENGINE_SECONDS} s - ask for fewer requests or tokens"
            )
        code, out = ran
        if code != 0:
            last = "\n".join(out.strip().splitlines()[-15:])
            raise RuntimeError(
                f"the recording's own engine failed (exit code {code}):\n{last}"
            )
        with open(result, "rb") as file:
            return pickle.load(file)


_JOB = (
    "import sys; from vlesson.workflows.machinery import _run_job; "
    "_run_job(*sys.argv[1:])"
)


def _run_job(job: str, result: str) -> None:
    """The recording process's work: read the job, record, write the recording."""
    with open(job, "rb") as file:
        args, prompts, params, arrive_at, names = pickle.load(file)
    llm = engine.get_llm(**args)
    recording = record(llm, prompts, params, arrive_at=arrive_at, names=names)
    with open(result, "wb") as file:
        pickle.dump(recording, file)


def _step(
    outputs: list[Any],
    scheduled: list[Any],
    ids: dict[str, str],
    scheduler: Any,
    recording: Recording,
) -> Step:
    """Read one step: what the scheduler computed, the blocks held, who finished."""
    computed: dict[str, int] = {}
    for output in scheduled:
        for request_id, tokens in output.num_scheduled_tokens.items():
            if request_id in ids:
                computed[ids[request_id]] = computed.get(ids[request_id], 0) + tokens
    blocks = {}
    for request_id, request in scheduler.requests.items():
        name = ids.get(request_id)
        if name is None:
            continue
        blocks[name] = list(scheduler.kv_cache_manager.get_block_ids(request_id)[0])
        if name in computed and name not in recording.cached_tokens:
            # After its first step a request has computed what it found cached plus
            # what this step computed for it.
            recording.cached_tokens[name] = request.num_computed_tokens - computed[name]
    finished = []
    for output in outputs:
        if output.finished and output.request_id in ids:
            finished.append(ids[output.request_id])
            recording.texts[ids[output.request_id]] = output.outputs[0].text
    return Step(computed, blocks, finished)


def draw_timeline(recording: Recording, ax: Axes | None = None) -> Axes:
    """One row per request, one column per scheduler step: waiting (arrived, not
    scheduled), prefill (its prompt computed), decode (one token a step); the number
    in a cell is the tokens that step computed for the request."""
    steps, names = len(recording.steps), recording.names
    if ax is None:
        import matplotlib.pyplot as plt

        size = (min(2 + 0.55 * steps, 16), 1 + 0.5 * len(names))
        ax = plt.figure(figsize=size).add_subplot()
    table = recording.timeline().set_index("request")
    shown = set()
    for row, name in enumerate(names):
        first_token, finishes = (
            table.loc[name, "first_token"],
            table.loc[name, "finishes"],
        )
        end = steps - 1 if pd.isna(finishes) else finishes
        for index in range(recording.arrivals[name], end + 1):
            tokens = recording.steps[index].computed.get(name, 0)
            if not tokens:
                state = "waiting"
            elif pd.isna(first_token) or index <= first_token:
                state = "prefill"
            else:
                state = "decode"
            shown.add(state)
            ax.add_patch(_box(index, row, STATE_COLOURS[state]))
            if tokens:
                ax.text(
                    index + 0.5,
                    row + 0.5,
                    str(tokens),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white",
                )
    ax.set_xlim(0, steps)
    ax.set_ylim(len(names), 0)
    ax.set_xticks([i + 0.5 for i in range(steps)], range(steps))
    ax.set_yticks([r + 0.5 for r in range(len(names))], names)
    ax.set_xlabel("scheduler step (the number: tokens computed for the request)")
    chunked = ", a prompt over several steps (chunked prefill)"
    ax.set_title(
        "continuous batching: requests join and leave the running batch"
        + (chunked if (table["prefill_steps"] > 1).any() else "")
    )
    ax.legend(
        handles=[
            _box(0, 0, c, label=s) for s, c in STATE_COLOURS.items() if s in shown
        ],
        loc="upper left",
        bbox_to_anchor=(1.01, 1),
        fontsize=8,
    )
    return ax


def draw_block_table(
    recording: Recording, step: int | None = None, ax: Axes | None = None
) -> Axes:
    """Each request's logical blocks, left to right, with the physical block behind
    each; a physical block several requests hold (a shared prefix) has one colour in
    every row it is in, a block of one request alone is grey."""
    table = recording.block_table(step)
    if table.empty:
        raise ValueError("no request holds a block at that step - choose another")
    requests = list(dict.fromkeys(table["request"]))
    width = int(table["logical_block"].max()) + 1
    if ax is None:
        import matplotlib.pyplot as plt

        size = (min(2 + 1.5 * width, 16), 1 + 0.6 * len(requests))
        ax = plt.figure(figsize=size).add_subplot()
    colours: dict[int, str] = {}
    for row in table.itertuples():
        if row.shared_with and row.physical_block not in colours:
            colours[row.physical_block] = _SHARED_COLOURS[len(colours) % 6]
        y = requests.index(row.request)
        ax.add_patch(
            _box(row.logical_block, y, colours.get(row.physical_block, _OWN_BLOCK))
        )
        ax.text(
            row.logical_block + 0.5,
            y + 0.5,
            f"block {row.physical_block}",
            ha="center",
            va="center",
            color="white",
            fontsize=9 if width <= 6 else 6,
        )
    size = recording.block_size
    ax.set_xlim(0, width)
    ax.set_ylim(len(requests), 0)
    ax.set_xticks(
        [b + 0.5 for b in range(width)],
        [f"tokens {b * size}-{(b + 1) * size - 1}" for b in range(width)],
        rotation=0 if width <= 6 else 90,  # a GPU's 16-token blocks: many columns
    )
    ax.set_yticks([r + 0.5 for r in range(len(requests))], requests)
    ax.set_title(
        f"block table at step {table['step'].iloc[0]}: each request's logical "
        "blocks -> physical blocks (coloured: shared)"
    )
    return ax


def _box(x: float, y: float, colour: str, label: str | None = None) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x + 0.05, y + 0.08), 0.9, 0.84, color=colour, label=label)
