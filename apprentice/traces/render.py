"""Plain-text views of traces, shared by ``apprentice ask``, ``traces list`` and ``traces show``.

Every view redacts what it shows before shortening it (a cut secret would no longer match), so a trace
written before a key was set, or a step shown live before it is stored, prints no secret either.
"""

from __future__ import annotations

import datetime as dt
import json

from apprentice.secrets import redact_obj
from apprentice.traces.records import Run, Step

__all__ = ["format_step", "format_run", "format_table", "format_when"]

_WIDTH = 100


def _short(text: str | None, width: int = _WIDTH) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def format_when(ts: float | None) -> str:
    """Local time of an epoch timestamp, to the second."""
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def format_step(step: Step, *, full: bool = False) -> str | None:
    """One line (or block, with ``full``) for a step; None for steps not worth showing."""
    step = redact_obj(step)
    short = (lambda t: (t or "").strip()) if full else _short
    if step.kind == "thought":
        return f"  thought      {short(step.thought)}"
    if step.kind == "action":
        return f"  action       {step.tool}: {short(step.tool_input)}"
    if step.kind == "observation":
        return f"  observation  {short(step.observation)}"
    if step.kind == "error":
        return f"  error        {short(step.observation or step.raw)}"
    if step.kind == "answer":
        return f"  answer       {short(step.raw)}"
    if step.kind == "llm" and full:
        return (f"  llm          [{step.node}] {step.tokens_in} in / {step.tokens_out} out, "
                f"{step.latency_s:.2f} s\n" + "\n".join("      | " + ln for ln in (step.raw or "").splitlines()))
    if step.kind in ("vote", "verify", "propose", "value", "select", "summary"):
        detail = step.raw or step.observation or json.dumps(step.data, ensure_ascii=False)
        return f"  {step.kind:<12} {short(detail)}"
    return None


def format_run(run: Run, *, full: bool = False) -> str:
    """The whole of a run: header, steps, verdicts, search tree size."""
    run = redact_obj(run)
    lines = [
        f"run {run.id}  ({run.status})  {format_when(run.started_at)}",
        f"  strategy {run.strategy} · model {run.model} · thread {run.thread_id or '-'}"
        + (f" · task {run.task} item {run.item_id}" if run.task else ""),
        f"  question   {run.question if full else _short(run.question)}",
    ]
    lines += [text for step in run.steps if (text := format_step(step, full=full))]
    lines.append(f"  final      {run.answer if run.answer is not None else '-'}")
    if run.error:
        lines.append(f"  error      {run.error}")
    if run.gold is not None:
        lines.append(f"  gold       {run.gold}")
    for v in run.verdicts:
        mark = {True: "correct", False: "incorrect", None: "unknown"}[v.correct]
        lines.append(f"  verdict    {v.verifier}: {mark} (score {v.score}) {_short(v.reason, 70)}")
    if run.tree:
        lines.append(f"  tree       {len(run.tree.get('nodes', []))} nodes")
    latency = f"{run.latency_s:.2f} s" if run.latency_s is not None else "-"
    lines.append(f"  totals     {run.model_calls} model calls · {run.tokens_in} tokens in · "
                 f"{run.tokens_out} out · {latency}")
    return "\n".join(lines)


def format_table(runs: list[Run]) -> str:
    """One line per run, newest first, for ``traces list``."""
    if not runs:
        return "no traces match"
    runs = redact_obj(list(runs))
    head = f"{'id':<16}  {'started':<19}  {'strategy':<8}  {'task':<9}  {'model':<22}  {'status':<9}  {'ok':<3}  answer"
    rows = [head]
    for r in runs:
        ok = {True: "yes", False: "no", None: "-"}[r.correct]
        rows.append(
            f"{r.id:<16}  {format_when(r.started_at):<19}  {r.strategy:<8}  {(r.task or '-'):<9}  "
            f"{_short(r.model, 22):<22}  {r.status:<9}  {ok:<3}  {_short(r.answer, 40)}"
        )
    return "\n".join(rows)
