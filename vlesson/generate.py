"""Generation: one batched ``llm.generate`` call in, a list of ``Generation`` out."""

from __future__ import annotations

import contextlib
import html
import logging
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vlesson import engine, status
from vlesson.compat import validation_errors
from vlesson.facts import engine_facts
from vlesson.sampling import ParamError, describe, make_sampling_params

if TYPE_CHECKING:
    from vllm import LLM, RequestOutput, SamplingParams

logger = logging.getLogger(__name__)

run_logger = logging.getLogger("vlesson.runs")
"""Every Generation is emitted here at INFO (``record.generation``); attach a run-log
handler from ``vlesson.workflows.runlog`` to keep them."""

LESSON_PROMPTS = [
    "Hello, my name is",
    "The president of the United States is",
    "The capital of France is",
    "The future of AI is",
]
"""The four prompts of the lesson's ``text_generation.py``."""

SLOW_CALL_S = 10.0
"""Seconds after which a local engine's ``generate`` shows a status line."""



@dataclass(frozen=True)
class Generation:
    """One completion, with vLLM's field names and what a lesson wants to look at."""

    prompt: str
    text: str
    token_ids: tuple[int, ...]
    finish_reason: str | None
    """``"stop"`` (end-of-sequence or a stop string) or ``"length"`` (max_tokens)."""
    prompt_tokens: int
    params: dict[str, Any]
    """The sampling parameters used (vLLM's names)."""
    seconds: float
    """Wall time of the whole batched call this completion was part of."""
    logprobs: tuple[float, ...] = field(default=(), repr=False)
    """The model's log-probability of each generated token (raw, before sampling)."""
    next_token_logprobs: dict[str, float] = field(default_factory=dict, repr=False)
    """The top candidates for the first generated token (token text -> raw logprob),
    when the request asked for ``logprobs`` > 0."""

    @property
    def num_tokens(self) -> int:
        """Number of generated tokens."""
        return len(self.token_ids)

    @property
    def mean_logprob(self) -> float | None:
        """Mean per-token log-probability: near 0 is fluent, very negative is noise."""
        return sum(self.logprobs) / len(self.logprobs) if self.logprobs else None

    @property
    def perplexity(self) -> float | None:
        """exp(-mean_logprob): how surprised the model is by its own output."""
        mean = self.mean_logprob
        return math.exp(-mean) if mean is not None else None

    def __repr__(self) -> str:
        return (
            f"Generation({self.prompt!r} -> {self.text!r}, {self.num_tokens} tokens, "
            f"finish_reason={self.finish_reason!r})"
        )

    def _repr_html_(self) -> str:
        settings = ", ".join(f"{k}={v}" for k, v in self.params.items() if v is not None)
        return (
            f"<div><b>{html.escape(self.prompt)}</b>{html.escape(self.text)}<br>"
            f"<small>{self.num_tokens} tokens, finish_reason={self.finish_reason}, "
            f"{html.escape(settings)}</small></div>"
        )

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (used by --output, the run log and the API)."""
        return {
            "prompt": self.prompt,
            "text": self.text,
            "num_tokens": self.num_tokens,
            "prompt_tokens": self.prompt_tokens,
            "finish_reason": self.finish_reason,
            "mean_logprob": self.mean_logprob,
            "seconds": round(self.seconds, 4),
            "params": self.params,
            "token_ids": list(self.token_ids),
        }


def generate(
    llm: LLM,
    prompts: str | Sequence[str],
    params: Any = None,
    *,
    use_tqdm: bool = True,
) -> list[Generation]:
    """Generate completions for all prompts in one batched call.

    Args:
        prompts: one prompt or a list; the result list has the same order.
        params: a SamplingParams, a mapping of overrides (``{"temperature": 0.5}``),
            one SamplingParams per prompt, or None for the model's defaults.
        use_tqdm: a progress bar for a shared server's requests; a local engine
            shows a status line with the time, once the call runs past
            ``SLOW_CALL_S`` (``generate_each`` has vlesson's own bar).
    """
    prompts = [prompts] if isinstance(prompts, str) else list(prompts)
    per_prompt = per_prompt_params(llm, params, len(prompts))
    _check_seeded_prompts_fit(llm, prompts, per_prompt)
    start = time.perf_counter()
    # vLLM's own "Rendering prompts" / "Processed prompts" bars stay off (quiet by
    # default); a shared server's client shows vlesson's own bar.
    local = hasattr(llm, "llm_engine")
    waiting = (
        status.elapsed(f"generating {len(prompts)} outputs",
                       f"{len(prompts)} outputs generated in", delay=SLOW_CALL_S)
        if use_tqdm and local else contextlib.nullcontext()
    )
    try:
        with waiting:
            outputs = llm.generate(prompts, per_prompt, use_tqdm=use_tqdm and not local)
    except validation_errors():  # vLLM refused a prompt: say which, if it is empty
        _check_prompts_have_tokens(llm, prompts)
        raise
    seconds = time.perf_counter() - start
    gens = [from_request_output(o, p, seconds) for o, p in zip(outputs, per_prompt)]
    for gen in gens:
        run_logger.info("generation", extra={"generation": gen, "llm": llm})
    return gens


def generate_each(
    llm: LLM,
    prompts: Sequence[str],
    params: Any = None,
    *,
    use_tqdm: bool = True,
) -> Iterator[tuple[int, Generation]]:
    """Generate like ``generate`` (one batch in the engine), yielding ``(index,
    Generation)`` as each request finishes, so a caller can save it at once.

    Uses vLLM's ``LLM.enqueue`` and the engine's ``step``; closing the iterator early
    (an interrupt) aborts what is still running. An engine without ``enqueue`` (a
    shared server's) yields its results once the whole call is done.
    """
    prompts = list(prompts)
    per_prompt = per_prompt_params(llm, params, len(prompts))
    if not hasattr(llm, "enqueue") or not hasattr(llm, "llm_engine"):
        yield from enumerate(generate(llm, prompts, per_prompt, use_tqdm=use_tqdm))
        return
    from tqdm import tqdm

    _check_seeded_prompts_fit(llm, prompts, per_prompt)
    start = time.perf_counter()
    try:
        ids = llm.enqueue(prompts, per_prompt, use_tqdm=False)
    except validation_errors():
        _check_prompts_have_tokens(llm, prompts)
        raise
    # vLLM adds a random suffix to the ids it returns; outputs carry the plain ones.
    index = {str(rid).partition("-")[0]: i for i, rid in enumerate(ids)}
    pending = set(index)
    bar = tqdm(total=len(ids), desc="Processed prompts", disable=not use_tqdm)
    try:
        while pending:
            for output in llm.llm_engine.step():
                rid = str(output.request_id).partition("-")[0]
                if not output.finished or rid not in pending:
                    continue
                pending.discard(rid)
                i = index[rid]
                seconds = time.perf_counter() - start
                gen = from_request_output(output, per_prompt[i], seconds)
                run_logger.info("generation", extra={"generation": gen, "llm": llm})
                yield i, gen
                bar.update(1)
    finally:
        bar.close()
        if pending:
            llm.llm_engine.abort_request(sorted(pending))


def per_prompt_params(llm: LLM, params: Any, count: int) -> list[SamplingParams]:
    """Return one SamplingParams per prompt, each asking for its tokens' logprobs.

    ``params`` is what ``generate`` takes: None, a mapping of overrides, one
    SamplingParams, or a sequence of ``count`` of them.
    """
    engine.check_running(llm)
    if params is None or isinstance(params, Mapping):
        params = make_sampling_params(llm, params)
    if isinstance(params, Sequence):
        if len(params) != count:
            raise ValueError(
                f"got {len(params)} SamplingParams for {count} prompts - pass one, or "
                "one per prompt"
            )
        return [_with_token_logprobs(p) for p in params]
    return [_with_token_logprobs(params)] * count


def _check_seeded_prompts_fit(
    llm: LLM, prompts: list[str], per_prompt: list[SamplingParams]
) -> None:
    """Refuse what would crash vLLM on a CPU: seeded requests whose prompts may be split
    over engine steps (see ``EngineFacts.seeds_break_on_split_prompts``). vlesson's CPU
    default is no chunked prefill, so only engines started with it get here."""
    if all(p.seed is None for p in per_prompt) or engine.is_remote(llm):
        return
    facts = engine_facts(llm)
    if not facts.seeds_break_on_split_prompts:
        return
    tokenizer = llm.get_tokenizer()
    total = sum(len(tokenizer.encode(prompt)) for prompt in prompts)
    budget = facts.max_num_batched_tokens
    if total > budget:
        raise ParamError(
            f"seed: these prompts hold {total} tokens, more than one engine step takes "
            f"(max_num_batched_tokens={budget}), and on a CPU vLLM cannot split a seeded "
            "request's prompt over steps. Leave out the seed, send fewer or shorter "
            "prompts, or start the engine without chunked prefill (vlesson's CPU "
            "default: drop --enable-chunked-prefill and --max-num-batched-tokens)",
            param="seed",
        )


def _check_prompts_have_tokens(llm: LLM, prompts: list[str]) -> None:
    """Raise a ParamError naming the first prompt the tokenizer keeps nothing of."""
    tokenizer = llm.get_tokenizer()
    for i, prompt in enumerate(prompts):
        if not tokenizer.encode(prompt, add_special_tokens=False):
            raise ParamError(
                f"prompt {i + 1} of {len(prompts)} ({prompt!r}) has no tokens: the "
                "tokenizer drops every character of it (control characters?) - send "
                "some text",
                param="prompt",
            )


def _with_token_logprobs(params: SamplingParams) -> SamplingParams:
    """Ask for the chosen token's log-probability (cheap) unless more was asked."""
    if params.logprobs is not None:
        return params
    params = params.clone()
    params.logprobs = 0
    return params


def from_request_output(
    output: RequestOutput, params: SamplingParams, seconds: float
) -> Generation:
    """Convert one vLLM RequestOutput (first completion) into a Generation."""
    completion = output.outputs[0]
    return Generation(
        prompt=output.prompt or "",
        text=completion.text,
        token_ids=tuple(completion.token_ids),
        finish_reason=completion.finish_reason,
        prompt_tokens=len(output.prompt_token_ids or ()),
        params=describe(params),
        seconds=seconds,
        logprobs=_chosen_logprobs(completion),
        next_token_logprobs=_first_step(completion),
    )


def _first_step(completion: Any) -> dict[str, float]:
    if not completion.logprobs or len(completion.logprobs[0]) < 2:
        return {}
    return candidates_from_step(completion.logprobs[0])


def _chosen_logprobs(completion: Any) -> tuple[float, ...]:
    if not completion.logprobs:
        return ()
    return tuple(
        step[token].logprob
        for token, step in zip(completion.token_ids, completion.logprobs)
        if token in step
    )


def candidates_from_step(step: Mapping[int, Any]) -> dict[str, float]:
    """Turn one step of vLLM logprobs ({token_id: Logprob}) into token -> logprob.

    When the sampled token is not among the top N, vLLM adds it (with its vocab rank,
    or none through a classroom server). It is left out: the candidates stay the top N
    that ``reshape`` assumes, with no token in the rest likelier than the last of them.
    """
    ranks = {token_id: getattr(info, "rank", None) for token_id, info in step.items()}
    ranked = any(rank is not None for rank in ranks.values())
    result: dict[str, float] = {}
    for token_id, info in step.items():
        rank = ranks[token_id]
        if ranked and (rank is None or rank > len(step)):  # sampled from further down
            continue
        token = (
            info.decoded_token if info.decoded_token is not None else f"<{token_id}>"
        )
        if token in result:  # two ids can decode alike; keep them apart
            token = f"{token}<{token_id}>"
        result[token] = info.logprob
    return result
