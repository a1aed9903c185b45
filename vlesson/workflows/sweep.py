"""Parameter sweep (exercise 2.10): a grid of sampling settings for some prompts, all
in one batched call, scored with ``vlesson.workflows.metrics`` and ranked for a stated goal.

Every request of a sweep uses the same seed, so two combinations differ only by their
settings, never by luck of the draw.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vlesson.files import write_atomic
from vlesson.generate import generate
from vlesson.names import split_assignment
from vlesson.sampling import PARAMS, ParamError, make_sampling_params, validate
from vlesson.workflows.metrics import text_metrics

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from vllm import LLM

logger = logging.getLogger(__name__)

DEFAULT_GRID: dict[str, list[float]] = {
    "temperature": [0.3, 0.5, 0.7, 0.9, 1.1],
    "top_p": [0.7, 0.8, 0.9, 0.95, 0.99],
}
"""The exercise's 25 combinations."""

FILE_LABELS = {"temperature": "temp", "top_p": "topp"}
"""Short names in result file names, as the exercise writes them."""

METRICS = (
    "mean_logprob",
    "distinct_1",
    "distinct_2",
    "repetition",
    "non_word_share",
    "num_tokens",
    "chars",
)
HEATMAP_METRIC = "mean_logprob"
"""The heatmap's default: it moves with temperature and top_p at any length, where
distinct_2 of 32-token outputs is 1.00 in every cell."""
GOALS = {
    "diverse": "the highest distinct_2 among the coherent combinations",
    "coherent": "the highest mean_logprob (the model's own confidence in its text)",
}
MIN_MEAN_LOGPROB = -2.5
"""Coherent: the model gives its own tokens on average at least exp(-2.5) = 8%."""
MAX_REPETITION = 0.2
"""Coherent: at most a fifth of word trigrams repeat an earlier one."""


def combinations(
    grid: Mapping[str, Sequence[Any]] | None = None,
) -> list[dict[str, Any]]:
    """Return every combination of the grid (the first parameter varies slowest)."""
    grid = DEFAULT_GRID if grid is None else grid
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*grid.values())]


def check_grid(
    grid: Mapping[str, Sequence[Any]], base: Mapping[str, Any] | None = None
) -> None:
    """Raise ParamError for an empty axis or any combination the sampler would reject."""
    for name, values in grid.items():
        if not values:
            raise ParamError(
                f"the grid gives {name} no values - list at least one", param=name
            )
    for combo in combinations(grid):
        validate({**(base or {}), **combo})


def run(
    llm: LLM,
    prompts: str | Sequence[str],
    grid: Mapping[str, Sequence[Any]] | None = None,
    *,
    base: Mapping[str, Any] | None = None,
    seed: int = 0,
    use_tqdm: bool = True,
) -> pd.DataFrame:
    """Generate every (combination, prompt) pair in one call; return a tidy table.

    Args:
        grid: {parameter: values}; default ``DEFAULT_GRID`` (temperature x top_p).
        base: settings shared by every request, e.g. ``{"max_tokens": 32}``.
        seed: the seed of every request (reproducible, and fair between settings).
    """
    import pandas as pd

    grid = DEFAULT_GRID if grid is None else grid
    prompts = [prompts] if isinstance(prompts, str) else list(prompts)
    check_grid(grid, base)
    pairs = [(c, p) for c in combinations(grid) for p in prompts]
    params = [
        make_sampling_params(llm, {**(base or {}), **c, "seed": seed}) for c, _ in pairs
    ]
    gens = generate(llm, [p for _, p in pairs], params, use_tqdm=use_tqdm)
    rows = [
        {
            **combo,
            "prompt": gen.prompt,
            "seed": seed,
            "text": gen.text,
            "num_tokens": gen.num_tokens,
            "finish_reason": gen.finish_reason,
            "mean_logprob": gen.mean_logprob,
            **text_metrics(gen.text),
        }
        for (combo, _), gen in zip(pairs, gens)
    ]
    return pd.DataFrame(rows)


def grid_names(table: pd.DataFrame) -> list[str]:
    """Return the swept parameters of a sweep table (the columns before ``prompt``)."""
    columns = list(table.columns)
    return columns[: columns.index("prompt")]


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Return the mean of each metric per combination (over prompts)."""
    return table.groupby(grid_names(table))[list(METRICS)].mean().reset_index()


@dataclass(frozen=True)
class Recommendation:
    """The best combination for a goal, and why."""

    params: dict[str, Any]
    goal: str
    metric: str
    """The metric that decided."""
    value: float
    reason: str
    coherent: dict[str, float] = field(default_factory=dict)
    """The bounds of a coherent row: ``min_mean_logprob`` and ``max_repetition``."""

    def __str__(self) -> str:
        return self.reason


def recommend(
    table: pd.DataFrame,
    goal: str = "diverse",
    *,
    min_mean_logprob: float = MIN_MEAN_LOGPROB,
    max_repetition: float = MAX_REPETITION,
) -> Recommendation:
    """Pick the combination that best meets ``goal`` ("diverse" or "coherent")."""
    if goal not in GOALS:
        raise ValueError(f"unknown goal {goal!r} - choose one of {', '.join(GOALS)}")
    means = summary(table)
    names = grid_names(table)
    bounds = {"min_mean_logprob": min_mean_logprob, "max_repetition": max_repetition}
    if goal == "coherent":
        best = means.sort_values("mean_logprob", ascending=False).iloc[0]
        return _recommendation(best, names, goal, "mean_logprob", "highest", bounds)
    coherent = means[
        (means["mean_logprob"] >= min_mean_logprob)
        & (means["repetition"] <= max_repetition)
    ]
    if coherent.empty:
        best = means.sort_values("mean_logprob", ascending=False).iloc[0]
        return _recommendation(
            best,
            names,
            goal,
            "mean_logprob",
            f"no combination is coherent (mean_logprob >= {min_mean_logprob}, "
            f"repetition <= {max_repetition}); the most coherent has the highest",
            bounds,
        )
    # Ties on distinct_2 (short outputs often all score 1.0): the bolder one wins.
    best = coherent.sort_values(
        ["distinct_2", "mean_logprob"], ascending=[False, True]
    ).iloc[0]
    ties = int((coherent["distinct_2"] == best["distinct_2"]).sum())
    why = (
        f"of the {len(coherent)} coherent combinations (mean_logprob >= "
        f"{min_mean_logprob}, repetition <= {max_repetition}) this has the highest"
    )
    tie = f"; {ties} share it, so the lowest mean_logprob (the boldest) broke the tie"
    return _recommendation(
        best, names, goal, "distinct_2", why, bounds, tie if ties > 1 else ""
    )


def _recommendation(
    best: Any,
    names: list[str],
    goal: str,
    metric: str,
    why: str,
    bounds: dict[str, float],
    tie: str = "",
) -> Recommendation:
    params = {n: _plain(best[n]) for n in names}
    value = float(best[metric])
    settings = ", ".join(f"{k}={v}" for k, v in params.items())
    reason = (
        f"{goal}: {settings} - {why} {metric} ({value:.3f}){tie}; decided by {metric}"
    )
    return Recommendation(params, goal, metric, value, reason, bounds)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value  # numpy -> Python


def heatmap(
    table: pd.DataFrame, metric: str = HEATMAP_METRIC, *, ax: Axes | None = None
) -> Axes:
    """Draw the mean of ``metric`` over a two-parameter grid; return the Axes."""
    import numpy as np

    names = grid_names(table)
    if len(names) != 2:
        raise ValueError(f"a heatmap needs a grid of two parameters, got {names}")
    if metric not in METRICS:
        raise ValueError(
            f"unknown metric {metric!r} - choose one of {', '.join(METRICS)}"
        )
    pivot = summary(table).pivot(index=names[0], columns=names[1], values=metric)
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.figure(figsize=(6, 4.5)).add_subplot()
    image = ax.imshow(pivot.to_numpy(), cmap="viridis", aspect="auto", origin="lower")
    ax.set_xticks(range(len(pivot.columns)), [f"{v:g}" for v in pivot.columns])
    ax.set_yticks(range(len(pivot.index)), [f"{v:g}" for v in pivot.index])
    ax.set_xlabel(names[1])
    ax.set_ylabel(names[0])
    ax.set_title(f"mean {metric}")
    for (y, x), value in np.ndenumerate(pivot.to_numpy()):
        ax.text(
            x, y, f"{value:.2f}", ha="center", va="center", color="white", fontsize=8
        )
    ax.figure.colorbar(image, ax=ax)
    return ax


def file_name(combo: Mapping[str, Any]) -> str:
    """Return ``results_temp{t}_topp{p}.txt`` (other parameters by their own name)."""
    parts = [f"{FILE_LABELS.get(k, k)}{v:g}" for k, v in combo.items()]
    return "results_" + "_".join(parts) + ".txt"


def save(
    table: pd.DataFrame, out_dir: str | Path, *, metric: str = HEATMAP_METRIC
) -> list[Path]:
    """Write one text file per combination, ``sweep.csv``, and the heatmap; return them."""
    from matplotlib.figure import Figure

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = grid_names(table)
    written = []
    for values, group in table.groupby(names, sort=False):
        combo = dict(zip(names, values if isinstance(values, tuple) else (values,)))
        text = "".join(
            f"Prompt: {r.prompt}\nOutput: {r.text}\n\n" for r in group.itertuples()
        )
        written.append(out / file_name(combo))
        write_atomic(written[-1], text)
    written.append(out / "sweep.csv")
    write_atomic(written[-1], table.to_csv(index=False))
    if len(names) == 2:
        figure = Figure(figsize=(6, 4.5))
        heatmap(table, metric, ax=figure.add_subplot())
        written.append(out / f"heatmap_{metric}.png")
        figure.savefig(written[-1], dpi=100, bbox_inches="tight")
    return written


def parse_grid(specs: Sequence[str]) -> dict[str, list[Any]]:
    """Parse ``NAME=V1,V2,...`` specs (e.g. ``top_p=0.8,0.9``) into a grid."""
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        try:  # NAME=V1,V2: one assignment, its value a list
            name, values = split_assignment(spec, "NAME=V1,V2")
        except ValueError:
            name, values = spec.strip(), ""
        name = name.replace("-", "_")
        if name not in PARAMS or not values:
            raise ParamError(
                f"bad grid {spec!r}: write NAME=V1,V2 with NAME one of "
                f"{', '.join(PARAMS)}, e.g. temperature=0.3,0.7",
                param=name or "grid",
                value=spec,
            )
        try:
            grid[name] = [PARAMS[name].kind(float(v)) for v in values.split(",")]
        except ValueError:
            raise ParamError(
                f"bad grid {spec!r}: values must be numbers separated by commas",
                param=name,
                value=spec,
            ) from None
    return grid
