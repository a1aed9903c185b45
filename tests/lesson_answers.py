"""Reference answers taken from the source notebooks' solution regions, run as the
learner's cells would be (so checks see learner code, not vlesson's)."""

from __future__ import annotations

import json
import linecache
import textwrap
from pathlib import Path
from typing import Any

from vlesson.exercises import build

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def run_cell(source: str, namespace: dict[str, Any], number: int = 1) -> dict[str, Any]:
    """Run code as ipykernel runs a cell (its file name), in namespace."""
    filename = f"/tmp/ipykernel_4242/{9000 + number}.py"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - a cell
    return namespace


def reference(notebook: str, exercise: str, **given: Any) -> dict[str, Any]:
    """Run the source cells holding an exercise's solution regions; return the names.
    ``given`` are names that earlier cells of the notebook would have made (a table
    the answer reads)."""
    import vlesson as vl

    nb = json.loads(build.find_source(notebook, NOTEBOOKS).read_text())
    namespace: dict[str, Any] = {"vl": vl, **given}
    # what earlier cells of the notebook imported
    run_cell(
        "import json\nimport warnings\n\nfrom vllm import SamplingParams", namespace, 0
    )
    for number, cell in enumerate(nb["cells"]):
        text = "".join(cell["source"])
        if cell["cell_type"] == "code" and any(
            r[0] == exercise for r in build.regions(text)
        ):
            kept = "\n".join(ln for ln in text.splitlines() if not build._is_marker(ln))
            if not kept.lstrip().startswith(("!", "%")) and "= !" not in kept:
                run_cell(kept, namespace, number)  # IPython-only cells: skipped
    return namespace


def script(notebook: str, exercise: str, *, learner: bool = False) -> str:
    """The script an exercise's ``%%writefile`` cell writes: the reference (markers
    out), or with ``learner`` the learner's copy (the stub)."""
    nb = json.loads(build.find_source(notebook, NOTEBOOKS).read_text())
    for cell in nb["cells"]:
        text = build.cell_text(cell)
        if text.startswith(build.WRITEFILE) and any(
            r[0] == exercise for r in build.regions(text)
        ):
            text = build.clear_solutions(text) if learner else text
            body = text.splitlines()[1:]
            return "\n".join(ln for ln in body if not build._is_marker(ln)) + "\n"
    raise LookupError(f"no %%writefile cell of {exercise} in {notebook}")


def source(code: str) -> dict[str, Any]:
    """Run an indented code block (a test's triple-quoted answer) as a learner's cell."""
    return learner(textwrap.dedent(code))


def says(verdict: Any, status: str, words: str = "") -> None:
    """Assert a check's verdict: its status, words in its message, no traceback."""
    assert verdict.status == status, verdict
    assert words in verdict.message, verdict
    assert "Traceback" not in verdict.message


def learner(source: str, number: int = 1) -> dict[str, Any]:
    """Run a wrong answer as a learner's cell."""
    import vlesson as vl

    return run_cell(source, {"vl": vl}, number)


def request_output(
    prompt: str,
    text: str,
    token_ids: list[int],
    finish_reason: str = "length",
    *,
    prompt_token_ids: list[int] | None = None,
    first_token_latency: float | None = None,
    cumulative_logprob: float | None = None,
) -> Any:
    """vLLM's own ``RequestOutput`` of one finished completion, for the fake engines
    of the checks' unit tests."""
    from vllm.outputs import CompletionOutput, RequestOutput
    from vllm.v1.metrics.stats import RequestStateStats

    completion = CompletionOutput(
        0, text, list(token_ids), cumulative_logprob, None, finish_reason=finish_reason
    )
    metrics = None
    if first_token_latency is not None:
        metrics = RequestStateStats(first_token_latency=first_token_latency)
    return RequestOutput(
        "fake", prompt, prompt_token_ids, None, [completion], True, metrics=metrics
    )


class FakeEngine:
    """``LLM.generate``'s calling conventions (one prompt or a list; one SamplingParams,
    none, or one per prompt) over ``complete``: a fake engine for the checks' unit
    tests defines what one request returns."""

    def generate(self, prompts, sampling_params=None, use_tqdm=True, **kwargs):
        from vllm import SamplingParams

        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        params = sampling_params or SamplingParams()
        if not isinstance(params, list):
            params = [params] * len(prompts)
        pairs = enumerate(zip(prompts, params, strict=True))
        return [self.complete(prompt, sp, i) for i, (prompt, sp) in pairs]

    def complete(self, prompt: str, params: Any, index: int) -> Any:
        """Return the ``RequestOutput`` of one request (the index-th of the call)."""
        raise NotImplementedError


def sweep_table() -> Any:
    """A made-up sweep table (two prompts): low temperatures confident but loopy, 1.1
    diverse noise, 0.7 the sweet spot."""
    import pandas as pd

    rows = []
    for t in (0.3, 0.7, 1.1):
        for p in (0.8, 0.95):
            for prompt in ("a", "b"):
                rows.append(
                    {
                        "temperature": t,
                        "top_p": p,
                        "prompt": prompt,
                        "seed": 0,
                        "text": "x",
                        "num_tokens": 8,
                        "finish_reason": "length",
                        "mean_logprob": {0.3: -0.5, 0.7: -1.5, 1.1: -4.0}[t]
                        - (p - 0.8),
                        "chars": 10,
                        "words": 5,
                        "distinct_1": 0.9,
                        "distinct_2": {0.3: 0.5, 0.7: 0.8, 1.1: 1.0}[t]
                        + (p - 0.8) / 10,
                        "repetition": {0.3: 0.4, 0.7: 0.1, 1.1: 0.0}[t],
                        "non_word_share": 0.0,
                    }
                )
    return pd.DataFrame(rows)


def fractions_table() -> Any:
    """A made-up ``vl.memory.compare_fractions`` table of a CPU (0.25 and 0.35)."""
    import pandas as pd

    return pd.DataFrame(
        {
            "gpu_memory_utilization": [0.25, 0.35],
            "kv_cache_memory_bytes": [None, None],
            "num_blocks": [240, 420],
            "block_size": [128, 128],
            "kv_cache_tokens": [30720, 53760],
            "max_model_len": [8192, 8192],
            "max_concurrency": [3.75, 6.56],
            "rss_mib": [2100.0, 2100.0],
        }
    )
