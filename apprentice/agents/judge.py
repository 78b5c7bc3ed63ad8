"""The judge role: an LLM grader that reads a question and a proposed answer and gives a verdict.

It must write ``Verdict: correct`` or ``Verdict: incorrect`` and a ``Reason:`` line; the parser is
forgiving (bare "correct"/"incorrect"/"yes"/"no" count) and a reply it cannot read is no verdict.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from apprentice.agents.verifier import CheckResult

__all__ = ["JUDGE_PROMPT", "JudgeTally", "judge_messages", "judge_runs", "llm_judge", "parse_judgement"]

JUDGE_SYSTEM = "You are a strict grader. You check whether an answer to a question is correct."
JUDGE_PROMPT = (
    "Question: {question}\n\nProposed answer:\n{draft}\n\n"
    "Is the proposed answer correct? Check each step. Reply in exactly this format:\n"
    "Verdict: correct or incorrect\nReason: one sentence"
)
_VERDICT = re.compile(r"verdict\s*[:\-]?\s*\**\s*(correct|incorrect|wrong|right|yes|no)\b", re.I)
_BARE = re.compile(r"\b(incorrect|correct|wrong)\b", re.I)
_REASON = re.compile(r"reason\s*[:\-]\s*(.+)", re.I)
_TRUE = {"correct", "right", "yes"}


def judge_messages(question: str, draft: str) -> list[BaseMessage]:
    """The grader prompt for one (question, draft) pair."""
    return [SystemMessage(JUDGE_SYSTEM), HumanMessage(JUDGE_PROMPT.format(question=question, draft=draft.strip()))]


def parse_judgement(text: str) -> CheckResult:
    """A structured verdict from the grader's reply; ``ok=None`` when it gave none."""
    text = text or ""
    match = _VERDICT.search(text) or _BARE.search(text)
    reason_match = _REASON.search(text)
    reason = reason_match.group(1).strip() if reason_match else " ".join(text.split())[:200]
    if match is None:
        return CheckResult(None, None, "llm-judge", f"unreadable verdict: {reason[:120]!r}")
    ok = match.group(1).lower() in _TRUE
    return CheckResult(ok, 1.0 if ok else 0.0, "llm-judge", reason or match.group(0),
                       "" if ok else f"A grader says the answer is wrong: {reason}")


@dataclass
class JudgeTally:
    """What :func:`judge_runs` did."""

    correct: int = 0
    incorrect: int = 0
    unreadable: int = 0
    skipped: int = 0  # judged before (by this judge) or without an answer

    def summary(self, spec: str) -> str:
        judged = self.correct + self.incorrect + self.unreadable
        return (f"judged {judged} runs with {spec}: {self.correct} correct, {self.incorrect} incorrect, "
                f"{self.unreadable} unreadable verdicts (recorded as none); {self.skipped} skipped")


def _draft(run: Any) -> str:
    """What the grader reads of a run: its tool work (each call and result), then its final answer."""
    lines = [f"- {s.tool}({s.tool_input}) -> {o.observation}" for s, o in zip(run.steps, run.steps[1:], strict=False)
             if s.kind == "action" and o.kind == "observation"]
    work = ("Work:\n" + "\n".join(lines) + "\n") if lines else ""
    return f"{work}Final Answer: {run.answer}"


def judge_runs(chat: Any, spec: str, store: Any, runs: Iterable[Any], *, redo: bool = False) -> JudgeTally:
    """Grade finished runs after the fact with ``chat`` (any model spec: a strong remote model, or a local one)
    and record each verdict beside its run as ``judge:SPEC`` (score 1/0, the grader's reason), which
    ``harvest --verdict-source judge`` selects on. A run this judge graded before is skipped unless ``redo``."""
    tally = JudgeTally()
    for summary in runs:
        run = store.get(summary.id)
        if run.answer is None or run.status != "ok" or (not redo and any(
                v.verifier == f"judge:{spec}" for v in run.verdicts)):
            tally.skipped += 1
            continue
        reply = chat.invoke(judge_messages(run.question, _draft(run)), max_tokens=80, temperature=0.0)
        result = parse_judgement(reply.text)
        if result.ok is None:
            tally.unreadable += 1
            continue
        tally.correct += result.ok
        tally.incorrect += not result.ok
        store.add_verdict(run.id, verifier=f"judge:{spec}", correct=result.ok, score=result.score,
                          reason=result.reason)
    return tally


def llm_judge(ctx, question: str, draft: str) -> CheckResult:
    """Ask the model in the seat to grade ``draft`` (greedy, short)."""
    reply = ctx.call_model(judge_messages(question, draft), node="judge", max_tokens=80, temperature=0.0)
    return parse_judgement(reply.text)
