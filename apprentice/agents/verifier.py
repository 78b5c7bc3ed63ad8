"""Programmatic verifiers: the task's own rules, applied to a draft answer without any model call.

``game24``: the Game of 24 rules (the four numbers, once each, exactly 24). Every other task: the
draft must give an answer the task can extract, and every ``expression = number`` claim in it must
be right (evaluated exactly by the calculator).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from apprentice.tools import CalculatorError, evaluate

__all__ = ["CheckResult", "arithmetic_errors", "rules_check"]

_CLAIM = re.compile(r"(?P<lhs>[\d(][\d\s.+\-*/×x÷()]*[+\-*/×x÷][\d\s.+\-*/×x÷()]*\d\)?)\s*=\s*(?P<rhs>-?\d[\d,]*(?:\.\d+)?)")
_INT = re.compile(r"\b\d+\b")


@dataclass(frozen=True)
class CheckResult:
    """A verifier's verdict on a draft: ``ok`` (None: could not judge), a score and why."""

    ok: bool | None
    score: float | None
    verifier: str
    reason: str
    feedback: str = ""


def arithmetic_errors(text: str) -> list[str]:
    """The ``a op b = c`` claims in ``text`` that are wrong, each as ``"lhs = rhs (really v)"``."""
    errors = []
    for match in _CLAIM.finditer(text or ""):
        lhs = match.group("lhs").replace("×", "*").replace("÷", "/").replace("x", "*")
        try:
            value = evaluate(lhs)
            stated = Fraction(match.group("rhs").replace(",", ""))
        except (CalculatorError, ValueError, ZeroDivisionError):
            continue
        if abs(Fraction(value) - stated) > Fraction(1, 100):
            errors.append(f"{lhs.strip()} = {match.group('rhs')} (really {_show(value)})")
    return errors


def _show(value: Any) -> str:
    value = Fraction(value)
    return str(value.numerator) if value.denominator == 1 else f"{float(value):.4g}"


def rules_check(task: Any, question: str, draft: str) -> CheckResult:
    """Check ``draft`` by the task's rules (see the module docstring); never calls a model."""
    if getattr(task, "name", None) == "game24":
        from apprentice.tasks import check_expression

        numbers = [int(n) for n in _INT.findall(question.split("obtain")[0])][:4]
        ok, reason = check_expression(numbers, task.extract(draft))
        return CheckResult(ok, 1.0 if ok else 0.0, "game24-rules", reason,
                           "" if ok else f"{reason}. Use each of {' '.join(map(str, numbers))} once to make 24.")
    answer = task.extract(draft) if task is not None else (draft.strip() or None)
    if not answer:
        return CheckResult(False, 0.0, "rules", "no final answer found",
                           "The answer has no 'Final Answer:' line; end with one.")
    errors = arithmetic_errors(draft)
    if errors:
        return CheckResult(False, 0.0, "rules", f"wrong arithmetic: {'; '.join(errors)}",
                           "These calculations are wrong: " + "; ".join(errors))
    return CheckResult(True, 1.0, "rules", f"answer {answer!r} found and the arithmetic checks out")
