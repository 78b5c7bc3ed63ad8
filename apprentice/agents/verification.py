"""Verifier dispatch: which verifier a run uses and how a draft is checked with it (the rules of the
task, an LLM judge, or Chain-of-Verification). The strategies that check drafts (``verify``, ``cot-sc``
and ``react-sc`` with a verifier) share it from here, below the graphs."""

from __future__ import annotations

from typing import Any

from apprentice.agents.cove import cove_check
from apprentice.agents.judge import llm_judge
from apprentice.agents.verifier import CheckResult, rules_check
from apprentice.traces import Step

__all__ = ["run_verifier", "verifier_name"]


def verifier_name(ctx: Any) -> str:
    """The configured verifier; ``rules`` needs a task, so without one the judge is the default."""
    return ctx.config.verifier or ("rules" if ctx.task is not None else "judge")


def run_verifier(ctx: Any, name: str, question: str, draft: str, steps: list[Step] | None = None) -> CheckResult:
    """Check ``draft`` (with its tool work ``steps``, if any) with verifier ``name``."""
    if name == "rules":
        return rules_check(ctx.task, question, draft, steps)
    if name == "judge":
        return llm_judge(ctx, question, draft)
    return cove_check(ctx, question, draft, k=ctx.config.questions)
