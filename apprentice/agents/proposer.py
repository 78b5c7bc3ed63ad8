"""The proposer role: thought spaces for Tree-of-Thought and the prompts that propose next steps.

A thought space says what a search state is (a JSON-able dict), how the model is asked for next
steps, how a step is applied (``None`` when the task's rules reject it), when a state is terminal,
whether it is a verified solution, and what a programmatic value of it is. Game of 24 follows
princeton-nlp/tree-of-thought-llm (``a op b = c (left: ...)`` steps, checked exactly by the
task's :func:`~apprentice.tasks.apply_step`); every other task proposes free-text reasoning steps.
"""

from __future__ import annotations

import operator
import re
from abc import ABC, abstractmethod
from fractions import Fraction
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from apprentice.agents.verifier import arithmetic_errors
from apprentice.tasks import FINAL_ANSWER, apply_step, format_numbers, solve24

__all__ = ["Game24Space", "StepSpace", "ThoughtSpace", "propose_steps", "space_for"]

GAME24_PROPOSE = """Input: 2 8 8 14
Possible next steps:
2 + 8 = 10 (left: 8 10 14)
8 / 2 = 4 (left: 4 8 14)
14 + 2 = 16 (left: 8 8 16)
2 * 8 = 16 (left: 8 14 16)
8 - 2 = 6 (left: 6 8 14)
14 - 8 = 6 (left: 2 6 8)
14 / 2 = 7 (left: 7 8 8)
14 - 2 = 12 (left: 8 8 12)
Input: {numbers}
Possible next steps:
"""
STEP_SYSTEM = ("Solve the problem one step at a time. Write only the next step, on one line. When you "
               "know the answer, write 'Final Answer: <answer>'.{fmt}")
STEP_PROMPT = "Problem: {question}\n\nSteps so far:\n{steps}\n\nNext step:"

_OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
_NUM = r"\d+(?:\.\d+)?(?:/\d+)?"
_OPERATION = re.compile(rf"(?P<a>{_NUM})\s*(?P<op>[-+*/×x÷])\s*(?P<b>{_NUM})")
_INT = re.compile(r"\b\d+\b")


class ThoughtSpace(ABC):
    """Base of the search spaces; see the module docstring. Every method is pure except :meth:`propose`."""

    game24 = False

    def root(self, question: str) -> dict[str, Any]:
        return {"steps": []}

    @abstractmethod
    def propose_messages(self, question: str, state: dict[str, Any], answer_format: str = "") -> list[BaseMessage]:
        """The prompt asking for candidate next steps from ``state``."""

    def parse_proposals(self, text: str) -> list[str]:
        """Candidate step lines in a reply (blank and duplicate lines dropped)."""
        seen, steps = set(), []
        for line in (text or "").splitlines():
            line = line.strip().strip("-*•").strip()
            if line and line not in seen:
                seen.add(line)
                steps.append(line)
        return steps

    @abstractmethod
    def apply(self, state: dict[str, Any], step: str) -> dict[str, Any] | None:
        """The state after ``step`` (``None`` when the step is invalid here)."""

    @abstractmethod
    def terminal(self, state: dict[str, Any]) -> bool:
        """Whether no further step can follow ``state``."""

    def solved(self, state: dict[str, Any]) -> bool:
        """Whether the task's rules confirm ``state`` as a solution (never true where they cannot)."""
        return False

    def rule_value(self, state: dict[str, Any]) -> float | None:
        """A programmatic value in [0, 1] (``None``: the rules have nothing to say)."""
        return None

    def describe(self, state: dict[str, Any]) -> str:
        return "\n".join(state["steps"])

    def value_question(self, question: str, state: dict[str, Any]) -> str:
        """The problem as the evaluator sees it."""
        return question

    def key(self, state: dict[str, Any]) -> str:
        """Identity for dropping duplicate states."""
        return self.describe(state)

    def answer(self, state: dict[str, Any]) -> str:
        return self.describe(state) or "(no answer)"


class Game24Space(ThoughtSpace):
    """Game of 24: a state is the numbers left, each with the expression that made it."""

    game24 = True

    def root(self, question: str) -> dict[str, Any]:
        numbers = [int(n) for n in _INT.findall(question.split("obtain")[0])][:4]
        return {"steps": [], "numbers": [str(n) for n in numbers], "exprs": [str(n) for n in numbers]}

    def propose_messages(self, question: str, state: dict[str, Any], answer_format: str = "") -> list[BaseMessage]:
        left = " ".join(state["numbers"])
        return [SystemMessage("You list possible next steps of the Game of 24, one per line."),
                HumanMessage(GAME24_PROPOSE.format(numbers=left))]

    def apply(self, state: dict[str, Any], step: str) -> dict[str, Any] | None:
        """Apply an ``a op b = c (left: ...)`` step; a wrong result or left-list is recomputed from
        the operation (the model proposes, exact arithmetic disposes); unknown operands reject it."""
        numbers = [Fraction(n) for n in state["numbers"]]
        match = _OPERATION.search(step.replace("×", "*").replace("÷", "/"))
        if match is None:
            return None
        op = {"x": "*"}.get(match.group("op"), match.group("op"))
        operation = f"{match.group('a')} {op} {match.group('b')}"
        if apply_step(numbers, step) is None and apply_step(numbers, operation) is None:
            return None
        pool = list(zip(numbers, state["exprs"], strict=True))
        first, second = _take(pool, match.group("a")), _take(pool, match.group("b"))
        if first is None or second is None or (op == "/" and second[0] == 0):
            return None
        value = _OPS[op](first[0], second[0])
        merged = sorted([*pool, (value, f"({first[1]} {op} {second[1]})")], key=lambda p: p[0])
        shown = f"{operation} = {format_numbers([value])} (left: {format_numbers([v for v, _ in merged])})"
        return {"steps": [*state["steps"], shown], "numbers": [str(v) for v, _ in merged],
                "exprs": [e for _, e in merged]}

    def terminal(self, state: dict[str, Any]) -> bool:
        return len(state["numbers"]) <= 1

    def solved(self, state: dict[str, Any]) -> bool:
        return len(state["numbers"]) == 1 and Fraction(state["numbers"][0]) == 24

    def rule_value(self, state: dict[str, Any]) -> float:
        """1.0 when the numbers left can still make 24 exactly (the task's solver says so), else 0."""
        return 1.0 if solve24([Fraction(n) for n in state["numbers"]]) else 0.0

    def value_question(self, question: str, state: dict[str, Any]) -> str:
        return f"can these numbers reach 24? {' '.join(state['numbers'])}"

    def describe(self, state: dict[str, Any]) -> str:
        lines = list(state["steps"]) or [f"(start: {' '.join(state['numbers'])})"]
        return "\n".join(lines)

    def key(self, state: dict[str, Any]) -> str:
        return " ".join(sorted(state["numbers"], key=Fraction))

    def answer(self, state: dict[str, Any]) -> str:
        if len(state["exprs"]) != 1:
            left = " ".join(state["numbers"])
            return "\n".join([*state["steps"], f"No solution found (left: {left})."])
        expression = state["exprs"][0]
        if expression.startswith("(") and expression.endswith(")"):
            expression = expression[1:-1]
        return "\n".join([*state["steps"], f"{FINAL_ANSWER} {expression} = 24"])


class StepSpace(ThoughtSpace):
    """Any other task: a state is the reasoning steps so far; a ``Final Answer:`` step ends it."""

    def propose_messages(self, question: str, state: dict[str, Any], answer_format: str = "") -> list[BaseMessage]:
        fmt = f" {answer_format}" if answer_format else ""
        steps = "\n".join(state["steps"]) or "(none yet)"
        return [SystemMessage(STEP_SYSTEM.format(fmt=fmt)),
                HumanMessage(STEP_PROMPT.format(question=question, steps=steps))]

    def parse_proposals(self, text: str) -> list[str]:
        """One step: the first line, joined with a ``Final Answer:`` line that follows within two lines."""
        lines = super().parse_proposals(text)[:3]
        for end, line in enumerate(lines):
            if FINAL_ANSWER.lower() in line.lower():
                return [" ".join(lines[: end + 1])]
        return lines[:1]

    def apply(self, state: dict[str, Any], step: str) -> dict[str, Any] | None:
        if not step.strip() or (state["steps"] and state["steps"][-1] == step):
            return None
        return {"steps": [*state["steps"], step.strip()]}

    def terminal(self, state: dict[str, Any]) -> bool:
        return bool(state["steps"]) and FINAL_ANSWER.lower() in state["steps"][-1].lower()

    def rule_value(self, state: dict[str, Any]) -> float | None:
        """0 when a step states wrong arithmetic (checked exactly by the calculator)."""
        return 0.0 if state["steps"] and arithmetic_errors(state["steps"][-1]) else None


def _take(pool: list[tuple[Fraction, str]], token: str) -> tuple[Fraction, str] | None:
    written = Fraction(token)
    for index, (value, _) in enumerate(pool):
        if value == written or ("." in token and abs(value - written) < Fraction(1, 100)):
            return pool.pop(index)
    return None


def space_for(task: Any) -> ThoughtSpace:
    """The thought space of ``task``: Game of 24's when it is game24, free steps otherwise."""
    return Game24Space() if getattr(task, "name", None) == "game24" else StepSpace()


def propose_steps(ctx: Any, space: ThoughtSpace, question: str, state: dict[str, Any], k: int,
                  *, max_tokens: int = 128, seed: int = 0) -> tuple[list[str], str]:
    """Ask the model for up to ``k`` next steps from ``state``; returns (steps, raw replies).

    Game of 24 lists several steps in one reply (as the reference does); free-step spaces draw
    ``k`` samples at temperature 0.7, one step each.
    """
    from apprentice.graphs.history import answer_format

    prompt = space.propose_messages(question, state, answer_format(ctx))
    if space.game24:
        text = ctx.call_model(prompt, node="propose", max_tokens=max_tokens, temperature=0.0).text
        return space.parse_proposals(text)[:k], text
    replies = [ctx.call_model(prompt, node="propose", max_tokens=max_tokens, temperature=0.7, seed=seed + i,
                              stop=["\n\n"]).text for i in range(k)]
    steps = [step for reply in replies for step in space.parse_proposals(reply)]
    return list(dict.fromkeys(steps)), "\n---\n".join(replies)
