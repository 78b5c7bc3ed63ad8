"""Eval statistics and report files: Wilson intervals, a price table, ``report.json`` and ``report.md``."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from apprentice.secrets import redact_obj

__all__ = ["CellStats", "ItemResult", "PRICES", "cell_stats", "price_of", "wilson_interval", "write_json",
           "write_markdown"]

#: USD per 1M tokens (input, output) for known OpenAI model names; other models have no price.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-4": (30.00, 60.00),
    "gpt-3.5-turbo": (0.50, 1.50),
}


@dataclass
class ItemResult:
    """One item of one grid cell: its run (trace id) and what it cost."""

    item_id: str
    run_id: str | None
    status: str
    correct: bool | None
    score: float | None
    prediction: str | None
    tokens_in: int
    tokens_out: int
    model_calls: int
    latency_s: float
    resumed: bool = False
    error: str | None = None


@dataclass
class CellStats:
    """Summary of one (strategy, model) cell."""

    strategy: str
    model: str
    n: int
    correct: int
    accuracy: float
    ci_low: float
    ci_high: float
    tokens_in: float
    tokens_out: float
    seconds: float
    calls: float
    errors: int
    cost_usd: float | None
    resumed: int
    run_ids: list[str] = field(default_factory=list)


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score 95% interval of a proportion; (0, 0) for no trials."""
    if n <= 0:
        return 0.0, 0.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # the interval holds the proportion itself: rounding left 1.0 above the upper end at n = 4 or 10 (all right)
    return max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))


def price_of(model_spec: str) -> tuple[float, float] | None:
    """(input, output) USD per 1M tokens of ``openai:MODEL``; None for local or custom servers."""
    if not model_spec.startswith("openai:") or "@" in model_spec:
        return None
    name = model_spec.split(":", 1)[1]
    for known in sorted(PRICES, key=len, reverse=True):
        if name == known or name.startswith(known + "-20"):
            return PRICES[known]
    return None


def cell_stats(strategy: str, model: str, results: Sequence[ItemResult]) -> CellStats:
    """Accuracy with its Wilson interval, mean tokens, seconds and calls per item, total cost."""
    n = len(results)
    correct = sum(1 for r in results if r.correct)
    low, high = wilson_interval(correct, n)

    def mean(values: list[float]) -> float:
        return sum(values) / n if n else 0.0

    price = price_of(model)
    cost = None
    if price is not None:
        cost = sum(r.tokens_in * price[0] + r.tokens_out * price[1] for r in results) / 1e6
    return CellStats(
        strategy=strategy, model=model, n=n, correct=correct, accuracy=correct / n if n else 0.0,
        ci_low=low, ci_high=high, tokens_in=mean([r.tokens_in for r in results]),
        tokens_out=mean([r.tokens_out for r in results]), seconds=mean([r.latency_s for r in results]),
        calls=mean([r.model_calls for r in results]), errors=sum(1 for r in results if r.status != "ok"),
        cost_usd=cost, resumed=sum(1 for r in results if r.resumed),
        run_ids=[r.run_id for r in results if r.run_id],
    )


def write_json(path: Path, header: dict[str, Any], cells: Sequence[CellStats],
               items: dict[str, Sequence[ItemResult]]) -> None:
    """``report.json``: the run's settings, one summary per cell and every item with its run id; no secret
    (a key in the command line, a prediction or error that quoted one) is written."""
    data = redact_obj({**header, "cells": [asdict(c) for c in cells],
                       "items": {key: [asdict(r) for r in results] for key, results in items.items()}})
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def markdown_table(cells: Sequence[CellStats]) -> str:
    """The summary table, one row per (strategy, model) cell."""
    rows = ["| strategy | model | n | accuracy | 95% CI (Wilson) | tokens in / item | tokens out / item | "
            "calls / item | s / item | cost (USD) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for c in cells:
        cost = "-" if c.cost_usd is None else f"{c.cost_usd:.4f}"
        rows.append(f"| {c.strategy} | {c.model} | {c.n} | {_pct(c.accuracy)} ({c.correct}/{c.n}) | "
                    f"{_pct(c.ci_low)} - {_pct(c.ci_high)} | {c.tokens_in:.0f} | {c.tokens_out:.0f} | "
                    f"{c.calls:.1f} | {c.seconds:.1f} | {cost} |")
    return "\n".join(rows)


def write_markdown(path: Path, header: dict[str, Any], cells: Sequence[CellStats],
                   items: dict[str, Sequence[ItemResult]], plot_name: str | None) -> None:
    """``report.md``: settings, the summary table, the plot, and every item's trace id; secrets redacted."""
    header, cells, items = redact_obj((header, list(cells), {k: list(v) for k, v in items.items()}))
    task_options = {k: v for k, v in (header.get("task_options") or {}).items() if v is not None}
    title = header["task"] + "".join(f", {k} {v}" for k, v in task_options.items())
    lines = [f"# Eval: {title}", "", f"- command: `{header.get('command', '')}`",
             f"- data: {header.get('data') or '(task default)'}; split: {header.get('split')}; "
             f"seed: {header.get('seed')}; limit: {header.get('limit')}",
             f"- options: `{json.dumps(header.get('options', {}), sort_keys=True)}` "
             f"(hash {header.get('options_hash')})", f"- created: {header.get('created')}", "",
             markdown_table(cells), ""]
    if plot_name:
        lines += [f"![accuracy]({plot_name})", ""]
    lines += ["## Traces", "", "Open any run with `apprentice traces show RUN_ID`.", ""]
    for key, results in items.items():
        lines.append(f"### {key}")
        lines.append("")
        for r in results:
            mark = {True: "correct", False: "wrong", None: "unchecked"}[r.correct]
            extra = f" ({r.error})" if r.error else ""
            lines.append(f"- `{r.item_id}`: {mark}, prediction `{r.prediction}` - run `{r.run_id}`{extra}")
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
