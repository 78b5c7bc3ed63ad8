"""Plain records of a run: (step, inputs, outputs) made explicit, as DSPy's bootstrap traces are."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Step", "Verdict", "Run", "STEP_KINDS", "VERDICT_SOURCES", "GOLD_CHECKERS", "verdict_source"]

#: What a step can be. ``llm`` is one model call (raw text, tokens, latency); the others are
#: what the graph made of it or did next.
STEP_KINDS = (
    "llm", "thought", "action", "observation", "answer", "error",
    "vote", "verify", "propose", "value", "select", "summary",
)


@dataclass
class Step:
    """One step of a run, in order (``idx``)."""

    idx: int
    kind: str
    node: str | None = None
    thought: str | None = None
    tool: str | None = None
    tool_input: str | None = None
    observation: str | None = None
    raw: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    latency_s: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, empty fields left out."""
        return {k: v for k, v in asdict(self).items() if v not in (None, {}, "")}


@dataclass
class Verdict:
    """A check of a run's answer by one verifier."""

    verifier: str
    correct: bool | None
    score: float | None
    reason: str = ""
    created_at: float = 0.0


#: Where a verdict comes from, as ``harvest --verdict-source`` selects it: a task's checker against the gold
#: answer, the agreement of a self-consistency vote, an LLM judge (or chain of verification), the programmatic
#: rules verifier, or a person's rating (chat, ``traces rate``).
VERDICT_SOURCES = ("gold", "vote", "judge", "rules", "human")


#: The task checkers that judge an answer against its gold answer.
GOLD_CHECKERS = ("numeric", "game24-rules", "em-f1", "label")


def verdict_source(verifier: str) -> str | None:
    """The source of a verdict recorded under ``verifier`` (``verify:rules`` -> rules, ``numeric`` -> gold);
    None for a verifier of no known source (it is trusted by no selection)."""
    name = verifier.removeprefix("verify:")
    if name in ("judge", "cove") or name.startswith("judge:"):  # judge:SPEC: traces judge, after the fact
        return "judge"
    if name in ("vote", "rules", "human"):
        return name
    return "gold" if name in GOLD_CHECKERS else None


@dataclass
class Run:
    """A whole run: what was asked, of which model and strategy, what happened, what came out."""

    id: str
    strategy: str
    model: str
    question: str
    status: str
    started_at: float
    thread_id: str | None = None
    task: str | None = None
    item_id: str | None = None
    gold: str | None = None
    answer: str | None = None
    error: str | None = None
    ended_at: float | None = None
    latency_s: float | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    model_calls: int = 0
    correct: bool | None = None
    score: float | None = None
    checker: str | None = None
    tree: dict | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)

    @classmethod
    def from_rows(
        cls, row: sqlite3.Row, steps: list[sqlite3.Row], verdicts: list[sqlite3.Row]
    ) -> Run:
        """Build a run from its database rows."""
        data = dict(row)
        data["meta"] = json.loads(data.get("meta") or "{}")
        data["tree"] = json.loads(data["tree"]) if data.get("tree") else None
        data["correct"] = None if data.get("correct") is None else bool(data["correct"])
        run = cls(**data)
        for s in steps:
            sd = dict(s)
            sd.pop("run_id")
            sd["data"] = json.loads(sd.get("data") or "{}")
            run.steps.append(Step(**sd))
        for v in verdicts:
            vd = dict(v)
            vd.pop("run_id")
            vd["correct"] = None if vd["correct"] is None else bool(vd["correct"])
            run.verdicts.append(Verdict(**vd))
        return run

    def verdict_from(self, source: str) -> Verdict | None:
        """The latest verdict from ``source`` (one of :data:`VERDICT_SOURCES`), if any."""
        found = [v for v in self.verdicts if verdict_source(v.verifier) == source]
        return max(found, key=lambda v: v.created_at) if found else None

    def to_dict(self, *, steps: bool = True) -> dict[str, Any]:
        """A JSON-ready dict (the ``traces export`` line format)."""
        out = asdict(self)
        out["steps"] = [s.to_dict() for s in self.steps] if steps else []
        if not steps:
            out.pop("steps")
        return out
