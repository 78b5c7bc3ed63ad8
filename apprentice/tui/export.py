"""A thread as Markdown: every question, the reasoning steps under it, and the answer."""

from __future__ import annotations

from pathlib import Path

from apprentice.secrets import redact
from apprentice.tui.steps import (
    SHOWN_KINDS,
    node_text,
    step_body,
    step_title,
    tree_rows,
)

__all__ = ["thread_markdown", "export_thread"]


def _run_markdown(run) -> list[str]:
    lines = [f"## {run.question}", "", f"*{run.strategy} · {run.model} · {run.status}*", ""]
    shown = [s for s in run.steps if s.kind in SHOWN_KINDS and s.kind != "answer"]
    if shown:
        lines += ["<details><summary>Reasoning steps</summary>", ""]
        for step in shown:
            lines.append(f"- **{step_title(step).split(':', 1)[0]}**")
            lines += ["", "  ```", *("  " + ln for ln in step_body(step).splitlines()), "  ```", ""]
        lines += ["</details>", ""]
    rows = tree_rows(run.tree)
    if rows:
        lines += ["Search tree:", "", "```"]
        for depth, node, pruned, chosen in rows:
            mark = "★" if chosen else ("✗" if pruned else "·")
            value = node.get("value", node.get("score"))
            lines.append(f"{'  ' * depth}{mark} {node_text(node)}" + (f"  [{value}]" if value is not None else ""))
        lines += ["```", ""]
    answer = run.answer if run.answer is not None else f"*({run.status}{': ' + run.error if run.error else ''})*"
    lines += ["**Answer:**", "", answer, ""]
    for v in run.verdicts:
        lines.append(f"> verdict ({v.verifier}): {v.correct} {v.reason}".rstrip())
    return lines


def thread_markdown(thread_id: str, title: str | None = None, store=None) -> str:
    """The thread ``thread_id`` as a Markdown document, oldest turn first, with no secret in it."""
    from apprentice.traces import open_store

    store = store or open_store()
    runs = store.query(thread_id=thread_id, with_steps=True, newest_first=False)
    lines = [f"# {title or 'Thread ' + thread_id}", "", f"thread `{thread_id}`", ""]
    for run in runs:
        lines += _run_markdown(run)
    return redact("\n".join(lines).rstrip() + "\n")


def export_thread(thread_id: str, title: str | None, folder: Path) -> Path:
    """Write the thread to ``folder/<title>-<id>.md`` and return the path."""
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in redact(title or "thread"))[:40].strip("-")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{safe or 'thread'}-{thread_id}.md"
    path.write_text(thread_markdown(thread_id, title), encoding="utf-8")
    return path
