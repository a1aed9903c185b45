"""vLLM's completions API in vLLM's own terms: SamplingParams -> request fields, and
the JSON response -> ``RequestOutput``/``CompletionOutput``/``Logprob``.

Pure functions (no network), used by ``vlesson.remote``; vLLM is imported only to
build its result types.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vlesson.sampling import DELIVERY_FIELDS, SERVER_SIDE_FIELDS

if TYPE_CHECKING:
    from vllm import CompletionOutput, RequestOutput, SamplingParams

STANDARD_FIELDS = (
    "max_tokens",
    "temperature",
    "top_p",
    "n",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "stop",
    "logprobs",
    "logit_bias",
)
"""SamplingParams fields that are also OpenAI completions arguments."""
VLLM_FIELDS = (
    "top_k",
    "min_p",
    "min_tokens",
    "repetition_penalty",
    "ignore_eos",
    "stop_token_ids",
    "skip_special_tokens",
    "spaces_between_special_tokens",
    "include_stop_str_in_output",
    "bad_words",
    "allowed_token_ids",
)
"""SamplingParams fields vLLM's server takes as extra fields of the request."""
NOT_SENT = (*DELIVERY_FIELDS, *SERVER_SIDE_FIELDS)
"""Fields about how the engine hands results over, not about what is generated."""
MAX_PROMPTS_PER_REQUEST = 32
"""Prompts per request: progress moves, and one timeout covers a bounded job."""
ID_PREFIX = "token_id:"
"""How the server writes a token with ``return_tokens_as_token_ids``."""


@dataclass(frozen=True)
class Job:
    """One completions request: prompts that share every request field."""

    indices: tuple[int, ...]
    """Where each prompt sits in the caller's list."""
    prompts: tuple[str, ...]
    fields: Mapping[str, Any]

    def split_fields(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Return (OpenAI arguments, vLLM extras for ``extra_body``)."""
        standard = {k: v for k, v in self.fields.items() if k in STANDARD_FIELDS}
        extra = {k: v for k, v in self.fields.items() if k not in STANDARD_FIELDS}
        return standard, extra

    @property
    def tokens_as_ids(self) -> bool:
        """True when the response names tokens ``token_id:N`` (top-k logprobs)."""
        return bool(self.fields.get("return_tokens_as_token_ids"))


def request_fields(params: SamplingParams) -> dict[str, Any]:
    """Return the completions request fields that reproduce ``params`` on a server."""
    fields: dict[str, Any] = {}
    for name in (*STANDARD_FIELDS, *VLLM_FIELDS):
        value = getattr(params, name)
        if value is None and name not in ("max_tokens",):
            continue
        fields[name] = list(value) if isinstance(value, (list, tuple, set)) else value
    if "logit_bias" in fields:  # JSON keys are strings
        fields["logit_bias"] = {str(k): v for k, v in fields["logit_bias"].items()}
    fields["return_token_ids"] = True
    # Top-k alternatives keep their ids only when the server names tokens by id.
    fields["return_tokens_as_token_ids"] = bool(params.logprobs)
    return fields


def unsupported_fields(params: SamplingParams) -> list[str]:
    """Return the fields set away from their default that a request cannot carry."""
    from vllm import SamplingParams

    default = SamplingParams()
    sent = {*STANDARD_FIELDS, *VLLM_FIELDS, *NOT_SENT}
    return [
        name
        for name in params.__struct_fields__
        if not name.startswith("_")
        and name not in sent
        and getattr(params, name) != getattr(default, name)
    ]


def plan_requests(
    prompts: Sequence[str],
    fields: Sequence[Mapping[str, Any]],
    max_prompts: int = MAX_PROMPTS_PER_REQUEST,
) -> list[Job]:
    """Group prompts with identical fields into as few requests as possible."""
    groups: dict[str, list[int]] = {}
    for index, one in enumerate(fields):
        groups.setdefault(json.dumps(one, sort_keys=True, default=str), []).append(
            index
        )
    jobs = []
    for indices in groups.values():
        for start in range(0, len(indices), max_prompts):
            chunk = tuple(indices[start : start + max_prompts])
            jobs.append(Job(chunk, tuple(prompts[i] for i in chunk), fields[chunk[0]]))
    return jobs


def ids_to_name(
    jobs: Iterable[Job], responses: Iterable[Mapping[str, Any]]
) -> set[int]:
    """Return every token id whose text the responses gave only as ``token_id:N``."""
    ids: set[int] = set()
    for job, response in zip(jobs, responses):
        if not job.tokens_as_ids:
            continue
        for choice in response["choices"]:
            ids.update(choice["token_ids"])
            for step in (choice.get("logprobs") or {}).get("top_logprobs") or ():
                ids.update(_token_id(key) for key in step or ())
    return ids


def to_request_outputs(
    response: Mapping[str, Any], job: Job, names: Mapping[int, str]
) -> list[RequestOutput]:
    """Return one ``RequestOutput`` per prompt of ``job``, in the job's order."""
    from vllm import RequestOutput

    n = job.fields.get("n", 1)
    choices = sorted(response["choices"], key=lambda c: c["index"])
    if len(choices) != n * len(job.prompts):
        raise ValueError(
            f"the server returned {len(choices)} completions for {len(job.prompts)} "
            f"prompts x n={n}"
        )
    outputs = []
    for k, prompt in enumerate(job.prompts):
        mine = choices[k * n : (k + 1) * n]
        outputs.append(
            RequestOutput(
                request_id=f"{response.get('id', 'remote')}-{k}",
                prompt=prompt,
                prompt_token_ids=mine[0].get("prompt_token_ids"),
                prompt_logprobs=None,
                outputs=[_completion(j, c, job, names) for j, c in enumerate(mine)],
                finished=True,
            )
        )
    return outputs


def _completion(
    index: int, choice: Mapping[str, Any], job: Job, names: Mapping[int, str]
) -> CompletionOutput:
    from vllm import CompletionOutput

    token_ids = list(choice["token_ids"])
    logprobs = choice.get("logprobs")
    steps = _steps(logprobs, token_ids, job, names) if logprobs else None
    cumulative = None
    if steps is not None:
        cumulative = sum(step[t].logprob for t, step in zip(token_ids, steps))
    return CompletionOutput(
        index=index,
        text=choice["text"],
        token_ids=token_ids,
        cumulative_logprob=cumulative,
        logprobs=steps,
        finish_reason=choice.get("finish_reason"),
        stop_reason=choice.get("stop_reason"),
    )


def _steps(
    logprobs: Mapping[str, Any],
    token_ids: list[int],
    job: Job,
    names: Mapping[int, str],
) -> list[dict[int, Any]] | None:
    """Rebuild vLLM's per-token ``{token_id: Logprob}``: the chosen token first, then
    the top-k by rank (rank None where the API hides it)."""
    from vllm.logprobs import Logprob

    chosen_logprobs = logprobs.get("token_logprobs") or []
    if len(chosen_logprobs) != len(token_ids) or None in chosen_logprobs:
        return None
    top_k = job.fields.get("logprobs") or 0
    tops = logprobs.get("top_logprobs") or []
    steps = []
    for i, token in enumerate(token_ids):
        top = (tops[i] if i < len(tops) else None) or {}
        ranked = sorted(
            ((_token_id(k), v) for k, v in top.items()) if job.tokens_as_ids else (),
            key=lambda kv: -kv[1],
        )
        if len(ranked) > top_k:  # the chosen token fell outside the top k
            ranked = [kv for kv in ranked if kv[0] != token]
        rank = {t: r for r, (t, _) in enumerate(ranked, 1)}
        decoded = names.get(token) if job.tokens_as_ids else logprobs["tokens"][i]
        step = {token: Logprob(chosen_logprobs[i], rank.get(token), decoded)}
        for t, value in ranked:
            step.setdefault(t, Logprob(value, rank[t], names.get(t)))
        steps.append(step)
    return steps


def _token_id(key: str) -> int:
    return int(key.removeprefix(ID_PREFIX))
