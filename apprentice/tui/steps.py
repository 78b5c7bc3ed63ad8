"""How a recorded step reads in the chat UI and in exported Markdown (pure functions)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["SHOWN_KINDS", "step_title", "step_body", "vote_lines", "tree_rows", "node_text"]

#: Step kinds shown under an answer (``llm`` calls are summed in the footer instead).
SHOWN_KINDS = ("thought", "action", "observation", "error", "vote", "verify", "propose", "value",
               "summary", "select", "answer")

_ICONS = {"thought": "…", "action": "→", "observation": "←", "error": "!", "vote": "#",
          "verify": "✓", "propose": "+", "value": "=", "summary": "~", "select": "^", "answer": "✓"}


def _one_line(text: str | None, width: int = 70) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def step_body(step: Any) -> str:
    """The full text of a step."""
    if step.kind == "thought":
        return step.thought or ""
    if step.kind == "action":
        return f"{step.tool}({step.tool_input or ''})"
    if step.kind in ("observation", "error"):
        return step.observation or step.raw or ""
    if step.kind == "vote":
        return "\n".join(vote_lines(step)) or (step.raw or "")
    if step.kind == "verify":
        reason = (step.data or {}).get("reason") or step.observation or step.raw or ""
        verdict = _verdict_word(step)
        return f"{verdict}\n{reason}".strip() if verdict else reason
    text = step.raw or step.observation or step.thought
    if text:
        return text
    return json.dumps(step.data, ensure_ascii=False) if step.data else ""


def _verdict(step: Any) -> bool | None:
    data = step.data or {}
    return data.get("verdict", data.get("correct", data.get("ok")))


def _verdict_word(step: Any) -> str:
    """accepted / rejected / rejected softly (a score between 0 and 1, e.g. a question number left out:
    it still counts that much in a weighted vote); empty without a verdict."""
    verdict, score = _verdict(step), (step.data or {}).get("score")
    if verdict is None:
        return ""
    if verdict:
        return "accepted"
    return f"rejected softly (score {score:g})" if isinstance(score, (int, float)) and 0 < score < 1 else "rejected"


def step_title(step: Any) -> str:
    """A one-line title: icon, kind and the start of the body (a verify step's icon is its verdict: ✓, ✗, or ?
    when the verifier could not judge). A step of one of several sampled runs (react-sc, cot-sc) says which:
    their steps arrive interleaved. A step a grammar shaped says ``constrained``."""
    label = {"action": f"tool call · {step.tool}"}.get(step.kind, step.kind)
    sample = (step.data or {}).get("sample")
    if isinstance(sample, int) and not isinstance(sample, bool):
        label = f"sample {sample + 1} · {label}"
    if (step.data or {}).get("constrained"):  # a grammar shaped this step (--constrain)
        label = f"{label} · constrained"
    icon = _ICONS.get(step.kind, "·")
    if step.kind == "verify":
        verdict = _verdict(step)
        icon = "?" if verdict is None else "✓" if verdict else "✗"
    body = step_body(step)
    if step.kind == "error" and body[:6].lower() == "error:":  # the model reads "Error: ..."; the title says it once
        body = body[6:].lstrip()
    return f"{icon} {label}: {_one_line(body)}"


def vote_lines(step: Any) -> list[str]:
    """A self-consistency vote as ``answer  count  bar`` lines, most votes first; a vote a verifier
    weighted also shows each answer's weight, and puts the most weight first."""
    data = step.data or {}
    votes = data.get("votes") or data.get("distribution") or data.get("counts")
    if isinstance(votes, list):
        counts: dict[str, int] = {}
        for v in votes:
            counts[str(v)] = counts.get(str(v), 0) + 1
        votes = counts
    if not isinstance(votes, dict):
        return []
    chosen = data.get("chosen", data.get("answer", data.get("winner")))
    weights = data.get("weights") if isinstance(data.get("weights"), dict) else {}
    rows = sorted(votes.items(), key=lambda kv: (-float(weights.get(kv[0], 0)), -float(kv[1] or 0)))
    total = sum(float(v or 0) for _, v in rows) or 1.0
    return [f"{'★' if str(k) == str(chosen) else ' '} {k:<20} {v:>3}"
            f"{f'  weight {float(weights.get(k, 0)):g}' if weights else ''}  {'█' * round(10 * float(v or 0) / total)}"
            for k, v in rows]


#: ToT node statuses that end a branch (shown struck out).
_DEAD = ("pruned", "invalid", "duplicate")


def node_text(node: dict) -> str:
    """What a search-tree node says: its state, else the step that led to it, else why it died."""
    for key in ("text", "thought", "step", "why"):
        if node.get(key):
            return " ".join(str(node[key]).split())
    return "(empty)"


def _node_id(node: dict) -> Any:
    return node.get("id", node.get("node_id"))


def tree_rows(tree: dict | None) -> list[tuple[int, dict, bool, bool]]:
    """A ToT search tree in depth-first order: (depth, node, pruned, chosen) rows.

    Defensive about the shape: nodes carry ``id`` and ``parent``; a node is pruned when its
    ``status`` says so or ``pruned`` is true; ``chosen`` lists the ids of the chosen path.
    """
    if not isinstance(tree, dict):
        return []
    nodes = [n for n in tree.get("nodes") or [] if isinstance(n, dict)]
    chosen = {str(c.get("id") if isinstance(c, dict) else c) for c in tree.get("chosen") or []}
    ids = {str(_node_id(n)) for n in nodes}
    children: dict[str | None, list[dict]] = {}
    for n in nodes:
        parent = n.get("parent")
        key = str(parent) if parent is not None and str(parent) in ids else None
        children.setdefault(key, []).append(n)
    rows: list[tuple[int, dict, bool, bool]] = []

    def walk(parent: str | None, depth: int) -> None:
        for n in children.get(parent, []):
            nid = str(_node_id(n))
            pruned = bool(n.get("pruned")) or str(n.get("status", "")).lower() in _DEAD
            rows.append((depth, n, pruned, nid in chosen or bool(n.get("chosen"))))
            if nid != parent:
                walk(nid, depth + 1)

    walk(None, 0)
    return rows
