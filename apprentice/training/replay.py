"""The dataset teacher: worked solutions replayed through the real ReAct graph and real tools.

GSM8K's ``<<48/2=24>>`` annotations, SVAMP's equations and the arith generator's steps become
calculator actions; each action's thought justifies the operation from the question's own
words (never a fixed template unrelated to the problem). The replay model reads the real
calculator observation back from its prompt, so the final answer is what the tool computed,
and the task's checker verifies it like any other run.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import BaseMessage

from apprentice.backends.scripted import ScriptedChatModel
from apprentice.tasks import Item

__all__ = ["ReplayStep", "worked_steps", "justify", "replay_model"]


@dataclass(frozen=True)
class ReplayStep:
    """One calculator action: why, and what to compute."""

    thought: str
    expression: str


_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_VERBS = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide"}
# Cue phrases that tie an operation to the wording, most specific first.
_CUES = {
    "-": ["how many more", "how much more", "more than", "fewer", "less than", "left", "remain", "remaining",
          "gave away", "gives away", "gave", "give", "lost", "loses", "spent", "spends", "ate", "eats", "sold",
          "used", "took", "takes away", "difference", "discount", "change", "older than", "taller than"],
    "/": ["equally", "shared", "split", "divided", "each bag", "each box", "each group", "per ", "average",
          "how many groups", "how many boxes", "how many bags", "each"],
    "*": ["times as many", "twice", "each", "every", "per ", "rows of", "groups of", "boxes of", "packs of", "weeks",
          "hours"],
    "+": ["in total", "altogether", "total", "combined", "in all", "together", "more", "gets", "got", "buys",
          "bought", "found", "finds", "received", "receives", "adds", "added", "both", "sum"],
}


def justify(question: str, op: str, a: str, b: str) -> str:
    """A thought that says why ``op`` applies, quoting the cue words of the question."""
    lower = question.lower()
    found = [(lower.find(cue), cue) for cue in _CUES.get(op, []) if cue in lower]
    verb = _VERBS.get(op, "compute")
    if found:
        cue = min(found)[1].strip()
        return f'The question says "{cue}", so I {verb}: {a} {op} {b}.'
    return f"To get the quantity asked for, I {verb} {a} and {b}."


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _binary_steps(node: ast.AST, question: str, out: list[ReplayStep]) -> float:
    """Post-order walk of an equation: one step per operation, innermost first."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left = _binary_steps(node.left, question, out)
        right = _binary_steps(node.right, question, out)
        op = _OPS[type(node.op)]
        a, b = _fmt(left), _fmt(right)
        out.append(ReplayStep(justify(question, op, a, b), f"{a} {op} {b}"))
        return {"+": left + right, "-": left - right, "*": left * right,
                "/": left / right if right else float("nan")}[op]
    raise ValueError("not a plain arithmetic equation")


def _equation_steps(equation: str, question: str) -> list[ReplayStep] | None:
    try:
        steps: list[ReplayStep] = []
        _binary_steps(ast.parse(equation.strip(), mode="eval").body, question, steps)
        return steps or None
    except (SyntaxError, ValueError, ZeroDivisionError):
        return None


_ANNOTATION = re.compile(r"<<([^=<>]+)=([^<>]+)>>")


def _gsm8k_steps(solution: str) -> list[ReplayStep] | None:
    """One step per ``<<expr=result>>``; the thought is its sentence with the result left out
    ("Natalia sold 48/2 clips in May, so I compute 48/2.")."""
    steps = []
    for line in solution.splitlines():
        for match in _ANNOTATION.finditer(line):
            expr, result = match.group(1).strip(), match.group(2).strip()
            before = _ANNOTATION.sub("", line[: match.start()]).rstrip(" =$")
            after = line[match.end():]
            if after.startswith(result):
                after = after[len(result):]
            after = _ANNOTATION.sub("", after).strip().rstrip(".")
            sentence = " ".join(p for p in (before.strip(), after) if p).strip(" ,")
            thought = f"{sentence}, so I compute {expr}." if sentence else f"Next I compute {expr}."
            steps.append(ReplayStep(thought, expr))
    return steps or None


def worked_steps(task: str, item: Item) -> list[ReplayStep] | None:
    """The calculator steps of an item's worked solution (None when it has none usable)."""
    meta = item.meta or {}
    if task == "arith" and meta.get("steps"):
        return [ReplayStep(s["reason"], f"{s['a']} {s['op']} {s['b']}") for s in meta["steps"]]
    if task == "gsm8k" and meta.get("solution"):
        return _gsm8k_steps(meta["solution"])
    if meta.get("equation"):
        return _equation_steps(meta["equation"], item.question)
    return None


_OBSERVATION = re.compile(r"^Observation:[ \t]*(.*)$", re.MULTILINE)


def _final_reply(messages: list[BaseMessage]) -> str:
    scratch = messages[-1].text if messages else ""
    found = _OBSERVATION.findall(scratch)
    value = found[-1].strip() if found else ""
    return f" The calculator gave {value}, which answers the question.\nFinal Answer: {value}"


def replay_model(steps: list[ReplayStep]) -> ScriptedChatModel:
    """A scripted model that performs ``steps`` in the text protocol, then answers with the last
    real observation."""
    script: list[Any] = [f" {s.thought}\nAction: calculator\nAction Input: {s.expression}" for s in steps]
    script.append(_final_reply)
    return ScriptedChatModel(script=script, spec="teacher:dataset")
