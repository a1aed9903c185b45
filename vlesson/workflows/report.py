"""Markdown and plots for the smart generator: GitHub-clean tables, parsed back.

Pure: no engine. Table cells escape ``|``, turn newlines into ``<br>`` and HTML-escape
the text, so model output never breaks a table; :func:`parse_md_tables` undoes it.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vlesson.files import PARTIAL, atomic_path, write_atomic
from vlesson.workflows.smart import METRICS

if TYPE_CHECKING:
    import pandas as pd

    from vlesson.workflows.smart import SmartResult

PREVIEW_CHARS = 160
"""Characters of each output shown in the all-outputs table."""


def md_cell(value: Any) -> str:
    """Return a value as one GitHub-markdown table cell (pipes, newlines, HTML safe)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        value = f"{value:.4g}"
    text = html.escape(str(value).strip(), quote=False)
    text = text.replace("\\", "\\\\").replace("|", "\\|")
    return re.sub(r"\r?\n", "<br>", text)


def unescape_cell(cell: str) -> str:
    """Return the text a cell written by :func:`md_cell` stands for."""
    text = cell.strip().replace("<br>", "\n")
    text = re.sub(r"\\([\\|])", r"\1", text)
    return html.unescape(text)


def md_table(
    rows: Sequence[Mapping[str, Any]] | pd.DataFrame, columns: Sequence[str]
) -> str:
    """Return a GitHub-markdown table of the given columns."""
    if hasattr(rows, "to_dict"):
        rows = rows.to_dict("records")
    lines = ["| " + " | ".join(md_cell(c) for c in columns) + " |"]
    lines.append("|" + "|".join(" --- " for _ in columns) + "|")
    for row in rows:
        lines.append("| " + " | ".join(md_cell(row.get(c)) for c in columns) + " |")
    return "\n".join(lines)


def parse_md_tables(text: str) -> dict[str, list[dict[str, str]]]:
    """Return every table of a markdown text as rows of dicts, keyed by its heading."""
    tables: dict[str, list[dict[str, str]]] = {}
    heading, lines = "", text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        if line.startswith("|") and i + 1 < len(lines) and _is_rule(lines[i + 1]):
            header = _split_row(line)
            rows, i = [], i + 2
            while i < len(lines) and lines[i].startswith("|"):
                cells = _split_row(lines[i])
                if len(cells) != len(header):
                    raise ValueError(
                        f"line {i + 1}: {len(cells)} cells, header has {len(header)}"
                    )
                rows.append(dict(zip(header, cells)))
                i += 1
            tables[heading] = rows
            continue
        i += 1
    return tables


def _is_rule(line: str) -> bool:
    return bool(re.fullmatch(r"\|(\s*:?-{3,}:?\s*\|)+", line.strip()))


def _split_row(line: str) -> list[str]:
    inner = line.strip()[1:-1]
    return [unescape_cell(c) for c in re.split(r"(?<!\\)\|", inner)]


def fenced(text: str) -> str:
    """Return text in a code fence longer than any backtick run inside it."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def weights_formula(weights: Mapping[str, float]) -> str:
    """Return the ranking as a formula, e.g. ``0.4 coherence - 0.2 repetition``."""
    parts = []
    for name, w in weights.items():
        sign = "-" if w < 0 else "+"
        parts.append(f"{sign} {abs(w):g} {name}")
    return "score = " + " ".join(parts).removeprefix("+ ")


def smart_markdown(
    result: SmartResult, plot_name: str | None = None, *, best: int = 3
) -> str:
    """Return the whole results.md text of a smart-generator run."""
    table, when = result.table, datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    n_strategies = table["strategy"].nunique()
    out = [
        f"# Smart content: {md_cell(result.topic)}",
        "",
        (
            f"Model `{result.model}`; {len(table)} outputs ({n_strategies} strategies "
            f"x "
            f"{len(table) // max(n_strategies, 1)} variations) from one batched call; "
            f"max_tokens={result.max_tokens}, seeds {result.seed}..; {when}."
        ),
        "",
        "## Ranking",
        "",
        f"`{weights_formula(result.weights)}`",
        "",
        *[f"- **{name}**: {METRICS[name]}" for name in result.weights],
        "",
        "## Best outputs",
        "",
    ]
    for row in result.best(best).to_dict("records"):
        settings = _settings(row)
        out += [
            (
                f"### {row['rank']}. {row['strategy']} ({settings}), score "
                f"{row['score']:.3f}"
            ),
            "",
            fenced(row["text"]),
            "",
        ]
    strategy_cols = [
        "strategy",
        "temperature",
        "top_p",
        "top_k",
        "outputs",
        "mean_score",
        "best_score",
        *result.weights,
        "num_tokens",
    ]
    out += [
        "## Strategy comparison",
        "",
        md_table(result.by_strategy(), strategy_cols),
        "",
    ]
    out += [
        "## Summary statistics",
        "",
        md_table(result.summary(), ["metric", "mean", "std", "min", "max"]),
        "",
    ]
    if plot_name:
        out += ["## Parameter effects", "", f"![Parameter effects]({plot_name})", ""]
    preview = table.assign(text=table["text"].map(_preview))
    all_cols = [
        "rank",
        "strategy",
        "seed",
        "score",
        *result.weights,
        "perplexity",
        "num_tokens",
        "finish_reason",
        "text",
    ]
    out += ["## All outputs", "", md_table(preview, all_cols), ""]
    return "\n".join(out)


def _settings(row: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={row[k]:g}" for k in ("temperature", "top_p", "top_k"))


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 3] + "..."


def plot_parameter_effects(result: SmartResult, path: Path) -> Path:
    """Save a PNG: metrics against temperature, and mean score per strategy."""
    from matplotlib.figure import Figure

    table = result.table
    fig = Figure(figsize=(11, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    for name in ("coherence", "distinct_2", "repetition"):
        means = table.groupby("temperature")[name].mean()
        left.plot(means.index, means.values, marker="o", label=name)
        left.scatter(table["temperature"], table[name], s=10, alpha=0.3)
    left.set(
        xlabel="temperature", ylabel="metric (0-1)", title="Metrics vs temperature"
    )
    left.legend()
    by = result.by_strategy()
    spread = table.groupby("strategy")["score"].std().reindex(by["strategy"]).fillna(0)
    right.bar(by["strategy"], by["mean_score"], yerr=spread.values, capsize=4)
    right.set(ylabel="mean score", title="Score per strategy (error bar: std)")
    right.tick_params(axis="x", rotation=20)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def write_smart_report(result: SmartResult, output: Path) -> Path:
    """Write results.md and its plot (``<stem>_effects.png``) beside it, atomically."""
    output = Path(output)
    plot = output.with_name(f"{output.stem}_effects.png")
    with atomic_path(plot, PARTIAL + ".png") as partial_plot:
        plot_parameter_effects(result, partial_plot)
    write_atomic(output, smart_markdown(result, plot.name))
    return output
