"""Chain-of-Verification (Dhuliawala et al., 2023): plan verification questions about a draft,
answer each independently of the draft, then judge the draft against those answers.

The questions are answered in fresh prompts that never show the draft (the "factored" variant),
so a mistake in the draft cannot leak into its own verification.
"""

from __future__ import annotations

import re

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

__all__ = ["cove_check", "plan_messages", "parse_questions", "answer_messages", "consistency_messages",
           "parse_consistency", "format_evidence"]

PLAN_PROMPT = (
    "Question: {question}\n\nDraft answer:\n{draft}\n\n"
    "Write up to {k} short questions that would check the facts and calculations in the draft, "
    "one per line, numbered 1., 2., ..."
)
ANSWER_SYSTEM = "Answer the question briefly and exactly."
CONSISTENCY_PROMPT = (
    "Question: {question}\n\nDraft answer:\n{draft}\n\nVerification questions and their answers:\n{evidence}\n\n"
    "Do the verification answers agree with the draft? Reply 'yes' or 'no', then one sentence why."
)
_NUMBERED = re.compile(r"^\s*(?:\d+[.)]|[-*•]|Q\d*[:.])\s*(.+)$")


def plan_messages(question: str, draft: str, k: int = 3) -> list[BaseMessage]:
    """Ask for up to ``k`` verification questions about ``draft``."""
    return [SystemMessage("You check answers by asking verification questions."),
            HumanMessage(PLAN_PROMPT.format(question=question, draft=draft.strip(), k=k))]


def parse_questions(text: str, k: int = 3) -> list[str]:
    """The verification questions in a plan: numbered or bulleted lines, else lines ending in '?'."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    found = [m.group(1).strip() for line in lines if (m := _NUMBERED.match(line))]
    if not found:
        found = [line for line in lines if line.endswith("?")]
    unique = list(dict.fromkeys(q for q in found if len(q) > 3))
    return unique[:k]


def answer_messages(question: str) -> list[BaseMessage]:
    """One verification question, asked on its own (the draft is not shown)."""
    return [SystemMessage(ANSWER_SYSTEM), HumanMessage(question)]


def format_evidence(pairs: list[tuple[str, str]]) -> str:
    """Verification (question, answer) pairs as numbered Q/A lines."""
    return "\n".join(f"Q{i}: {q}\nA{i}: {a.strip()}" for i, (q, a) in enumerate(pairs, start=1))


def consistency_messages(question: str, draft: str, evidence: str) -> list[BaseMessage]:
    """Ask whether the draft agrees with the independently answered verification questions."""
    return [SystemMessage("You compare a draft answer with verified facts."),
            HumanMessage(CONSISTENCY_PROMPT.format(question=question, draft=draft.strip(), evidence=evidence))]


def parse_consistency(text: str) -> bool | None:
    """``True`` for yes, ``False`` for no, ``None`` when the reply says neither first."""
    match = re.search(r"\b(yes|no|agree|disagree|consistent|inconsistent)\b", text or "", re.I)
    if match is None:
        return None
    return match.group(1).lower() in ("yes", "agree", "consistent")


def cove_check(ctx, question: str, draft: str, *, k: int = 3):
    """Run Chain-of-Verification on ``draft``: plan, answer independently, compare.

    Returns a :class:`~apprentice.agents.verifier.CheckResult` whose feedback is the evidence.
    """
    from apprentice.agents.verifier import CheckResult

    plan = ctx.call_model(plan_messages(question, draft, k), node="cove_plan", max_tokens=160).text
    questions = parse_questions(plan, k)
    if not questions:
        return CheckResult(None, None, "cove", "no verification questions could be read from the plan")
    pairs = [(q, ctx.call_model(answer_messages(q), node="cove_answer", max_tokens=64).text) for q in questions]
    evidence = format_evidence(pairs)
    reply = ctx.call_model(consistency_messages(question, draft, evidence), node="cove_check", max_tokens=64).text
    agrees = parse_consistency(reply)
    reason = " ".join(reply.split())[:200] or "no reply"
    feedback = f"Verification questions and independent answers:\n{evidence}"
    return CheckResult(agrees, None if agrees is None else float(agrees), "cove", reason,
                       "" if agrees else feedback)
