"""Programmatic verifiers: the task's own rules, applied to a draft answer without any model call.

``game24``: the Game of 24 rules (the four numbers, once each, exactly 24). Every other task: the
draft must give an answer the task can extract, the task must find it plausible (a numeric word
problem's answer is not negative, has at most two decimals and is whole when the question asks how
many of something countable), and every ``expression = number``
claim in it must be right (evaluated exactly by the calculator). A draft that comes with tool work
(a ReAct run's steps) must also answer with a number the calculator returned: an answer the work
does not reach was copied or guessed. A numeric word problem's tool work should also use every number
the question gives; a draft that leaves one out (a dropped step) fails softly: score 0.5, below a hard
failure's 0.0, so a loop that must fall back on a rejected draft prefers it. The rule is soft because
some questions give a number the solution does not need. A chat question (no task) whose draft comes
with calculator work is held to the same soft rule and to a count being whole and not negative: the work shows it
is a numeric problem.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from apprentice.tasks.extract import (
    NUMBER_WORD,
    NUMBER_WORDS,
    answer_segments,
    extract_number,
    numbers_match,
    parse_number,
)
from apprentice.tasks.question_rules import not_a_count
from apprentice.tools import CalculatorError, evaluate
from apprentice.traces import Step

__all__ = ["CheckResult", "answer_not_computed", "arithmetic_errors", "calculator_calls", "calculator_results",
           "rules_check", "unreached_answer", "unused_in", "unused_numbers"]

_CLAIM = re.compile(r"(?P<lhs>[\d(][\d\s.+\-*/×x÷()]*[+\-*/×x÷][\d\s.+\-*/×x÷()]*\d\)?)"
                    r"\s*=\s*(?P<rhs>-?\d[\d,]*(?:\.\d+)?)")
_INT = re.compile(r"\b\d+\b")
#: A plain number, signs and fraction bars left to the expression ("36/4" is 36 and 4, "1,000" is 1000).
_PLAIN = re.compile(r"(?<![\d.])\d+(?:,\d{3})*(?:\.\d+)?")


@dataclass(frozen=True)
class CheckResult:
    """A verifier's verdict on a draft: ``ok`` (None: could not judge), a score and why."""

    ok: bool | None
    score: float | None
    verifier: str
    reason: str
    feedback: str = ""

    @property
    def mark(self) -> str:
        """The verdict in a word: accept, reject or no verdict."""
        return {True: "accept", False: "reject", None: "no verdict"}[self.ok]


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


def _plain_numbers(text: str) -> list[Fraction]:
    return [Fraction(m.group().replace(",", "")) for m in _PLAIN.finditer(text)]


#: A calculator input that is one number and nothing else: it computes nothing.
_BARE = re.compile(r"[\s(]*[-+]?\$?(?:\d[\d,]*)?\.?\d+[\s)]*")


def calculator_calls(steps: Iterable[Step]) -> list[tuple[str | None, str]]:
    """The calculator's calls in ``steps`` as (input, observation), in order; the input None for an observation
    whose action is not in ``steps``."""
    calls: list[tuple[str | None, str]] = []
    given: str | None = None
    for step in steps:
        if step.kind == "action" and step.tool == "calculator":
            given = str(step.tool_input or "")
        elif step.kind == "observation" and step.tool == "calculator":
            calls.append((given, step.observation or ""))
            given = None
    return calls


def _result(observation: str) -> Fraction | None:
    """The number a calculator observation gives (None for its error messages)."""
    if not observation or observation.lstrip().lower().startswith("error"):
        return None
    return parse_number(observation)


def calculator_results(steps: Iterable[Step]) -> list[Fraction]:
    """The numbers the calculator returned in ``steps``, in order (its error messages left out)."""
    return [value for _, seen in calculator_calls(steps) if (value := _result(seen)) is not None]


def _worked_out(steps: list[Step]) -> list[Fraction]:
    """The calculator's results of calls whose input computes something (not one bare number; a result whose
    call is not in ``steps`` counts)."""
    return [value for given, seen in calculator_calls(steps)
            if (given is None or not _BARE.fullmatch(given)) and (value := _result(seen)) is not None]


def unreached_answer(answer: Fraction | None, steps: Iterable[Step]) -> str | None:
    """Why the calculator work in ``steps`` does not reach ``answer``, or None when it does (or
    there is no calculator work to judge): every call failed, no result is the answer (sign
    included), or the answer is only a number the calculator was handed as it is (``calculator(35)``:
    a hinted answer copied through the calculator, or a guess). The verifier's rule and the harvest's
    filter."""
    steps = list(steps)
    results = calculator_results(steps)
    if not results:
        if any(s.kind == "observation" and s.tool == "calculator" for s in steps):
            return "every calculator call failed, so no result gives the answer"
        return None
    if answer is not None and not any(numbers_match(result, answer) for result in results):
        return f"answer {_show(answer)} is none of the calculator's results ({', '.join(_show(r) for r in results)})"
    if answer is not None and not any(numbers_match(result, answer) for result in _worked_out(steps)):
        return f"answer {_show(answer)} was handed to the calculator as it is, not worked out by it"
    return None


def answer_not_computed(answer: str | None, steps: Iterable[Step]) -> str | None:
    """:func:`unreached_answer` for an answer as text (its final number): why the run's calculator work does not
    give it, or None. What harvest keeps out of every dataset, and what the chat and ``ask`` say under such an
    answer ("14 - 106" gives -92 and the model answers 92)."""
    return unreached_answer(parse_number(extract_number(answer)), steps)


def unused_numbers(question: str, steps: Iterable[Step]) -> list[Fraction]:
    """The question's numbers that no calculator input of ``steps`` uses; empty when the steps hold
    no calculator input. Numbers are read plainly ("3/4" is 3 and 4, as an expression writes them); a
    question's 25 counts as used by a 0.25 in the work (a percentage)."""
    inputs = [str(step.tool_input) for step in steps
              if step.kind == "action" and step.tool == "calculator" and step.tool_input is not None]
    return [Fraction(n) for n in unused_in(question, inputs)] if inputs else []


def unused_in(question: str, inputs: Iterable[str], *, words: bool = False) -> list[str]:
    """The question's numbers that none of ``inputs`` (calculator inputs) uses, each value once, in the question's
    order, as written there (thousands commas and trailing decimal zeros dropped: "$8.00" is 8); a question's 25
    counts as used by a 0.25 (a percentage). With ``words``, quantities written as words too ("five times" is 5)."""
    used = {value for text in inputs for value in _plain_numbers(text)}
    found = [(m.start(), m.group().replace(",", "")) for m in _PLAIN.finditer(question)]
    if words:
        found += [(m.start(), str(NUMBER_WORDS[m.group().lower()])) for m in NUMBER_WORD.finditer(question)]
    unused: dict[Fraction, str] = {}
    for _, written in sorted(found):
        value = Fraction(written)
        if value not in used and value / 100 not in used:
            unused.setdefault(value, written.rstrip("0").rstrip(".") if "." in written else written)
    return list(unused.values())


def _show(value: Any) -> str:
    value = Fraction(value)
    return str(value.numerator) if value.denominator == 1 else f"{float(value):.4g}"


def rules_check(task: Any, question: str, draft: str, steps: Iterable[Step] | None = None) -> CheckResult:
    """Check ``draft`` by the task's rules (see the module docstring); never calls a model.

    ``steps``: the tool work behind the draft, when it has any (a ReAct run's steps).
    """
    if getattr(task, "name", None) == "game24":
        from apprentice.tasks import check_expression

        numbers = [int(n) for n in _INT.findall(question.split("obtain")[0])][:4]
        ok, reason = check_expression(numbers, task.extract(draft))
        return CheckResult(ok, 1.0 if ok else 0.0, "game24-rules", reason,
                           "" if ok else f"{reason}. Use each of {' '.join(map(str, numbers))} once to make 24.")
    # without a task (a chat question): the final answer's text, else the whole draft
    answer = task.extract(draft) if task is not None else ((answer_segments(draft) or [draft])[0].strip() or None)
    if not answer:
        return CheckResult(False, 0.0, "rules", "no final answer found",
                           "The answer has no 'Final Answer:' line; end with one.")
    errors = arithmetic_errors(draft)
    if errors:
        return CheckResult(False, 0.0, "rules", f"wrong arithmetic: {'; '.join(errors)}",
                           "These calculations are wrong: " + "; ".join(errors))
    steps = list(steps or ())
    if hasattr(task, "implausible"):
        implausible = task.implausible(answer, question)
    else:  # a chat question with calculator work is a numeric problem: a count is still whole, not negative
        implausible = not_a_count(answer, question) if calculator_results(steps) else None
    if implausible:
        return CheckResult(False, 0.0, "rules", f"implausible answer: {implausible}",
                           f"The answer {implausible}; check which numbers and operations the question needs.")
    unreached = unreached_answer(parse_number(answer), steps)
    if unreached:
        return CheckResult(False, 0.0, "rules", unreached, f"The work does not reach the answer: {unreached}.")
    # unused_numbers finds nothing without calculator inputs, so a chat question without tool work passes
    unused = unused_numbers(question, steps) if task is None or getattr(task, "checker", "") == "numeric" else []
    if unused:
        shown = ", ".join(_show(n) for n in unused)
        return CheckResult(False, 0.5, "rules", f"the work never uses {shown} from the question",
                           f"The question also gives {shown}; check whether the solution needs it.")
    return CheckResult(True, 1.0, "rules", f"answer {answer!r} found and the arithmetic checks out")
