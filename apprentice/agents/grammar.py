"""Grammars (llama.cpp's GBNF) that admit only well-formed output of our text protocols.

A small local model loses most of its ReAct runs to the format, not to the reasoning: a step without
its ``Action Input:`` line, a tool that does not exist, an expression the calculator cannot read. With
a grammar the sampler can only pick tokens that keep the step well formed, so every step parses:

- :func:`react_step_grammar`: what follows the prefilled ``Thought:`` of one ReAct turn: one thought
  line, then ``Action:`` (one of the run's tools) and ``Action Input:`` (for the calculator an
  expression its parser accepts), or ``Final Answer:`` in the task's answer format;
- :func:`answer_grammar`: a bare answer (the forced answer at the step limit);
- :func:`solver_grammar`: ``io`` / ``cot`` replies: reasoning lines (cot), then ``Final Answer: <answer>``.

The answer format is ``number`` for numeric tasks (``-12``, ``1,250``, ``3.5``) and free text otherwise.
Grammars are plain strings; the llama.cpp engine compiles them (``LlamaGrammar``), other engines say
they cannot (``supports_grammar``) and run unconstrained.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from apprentice.backends.local import LineFirst
from apprentice.tools.arithmetic import FUNCTIONS

__all__ = ["CONSTRAIN_MODES", "LineFirst", "answer_grammar", "answer_kind", "react_step_grammar", "solver_grammar"]

#: ``--constrain`` values: auto (steps where the engine can), off, steps (whole steps), answer (answers only).
CONSTRAIN_MODES = ("auto", "off", "steps", "answer")

#: Most reasoning lines of a constrained chain-of-thought reply before its final answer.
_COT_LINES = 16


def _literal(text: str) -> str:
    """A GBNF string literal (JSON's escapes are GBNF's)."""
    return json.dumps(text)


def _alternatives(words: Sequence[str]) -> str:
    return " | ".join(_literal(w) for w in words)


def _answer_rule(kind: str) -> str:
    if kind == "number":
        return f'answer ::= "-"? {_DIGITS} ("." [0-9]{{1,8}})?'
    return "answer ::= [^\\n]+"


#: A whole number: plain digits, or thousands groups ("1,250"); never a comma run such as "12,288,288,2".
_DIGITS = '([0-9]{1,15} | [0-9]{1,3} ("," [0-9]{3}){1,4})'

_CALCULATOR_RULES = r"""
expr ::= term (ws op ws term){0,24}
term ::= "-"? (num "%"? | "(" ws expr ws ")" | fn "(" ws expr (ws "," ws expr){0,7} ws ")")
op ::= "+" | "-" | "*" | "/" | "**" | "^" | "%"
num ::= DIGITS ("." [0-9]{1,12})?
ws ::= " "?
"""


def answer_kind(task: object) -> str:
    """``number`` for a numeric task (its checker compares numbers), else ``text``."""
    from apprentice.tasks.answers import NumericTask

    return "number" if isinstance(task, NumericTask) else "text"


def react_step_grammar(tools: Sequence[str], *, answer: str = "text", final: bool = True,
                       expressions: bool = True, opened: bool = False) -> LineFirst:
    """The continuation of ``Thought:`` in one ReAct turn: a thought line, then an action on one of
    ``tools`` (the calculator's input an expression it parses, any other tool's one line of text), or
    the final answer. Each branch ends with its newline, after which only end-of-turn is possible.

    ``final=False`` leaves only the actions (a call is required, and a calculator input must compute: one
    operator at least, where a bare number computes nothing); ``expressions=False`` takes every
    input as one line of text (a client's own tool that happens to be called calculator); ``opened``: the prompt
    opens the thought's line (the harness's words after ``Thought:``), so the rest of the line may be empty."""
    branches = [f'"Action: " {_literal(name)} "\\nAction Input: " '
                f'{"expr" if expressions and name == "calculator" else "text"} "\\n"' for name in tools]
    if not final and not branches:
        raise ValueError("a step that must call a tool needs at least one tool")
    ends = "(action | final)" if branches and final else "action" if branches else "final"
    rules = [
        'thought ::= " " [^\\n]+',
        'final ::= "Final Answer: " answer "\\n"?',
        _answer_rule(answer),
        "text ::= [^\\n]+",
    ]
    if branches:
        rules.append(f"action ::= {' | '.join(branches)}")
    if expressions and "calculator" in tools:
        calculator = _CALCULATOR_RULES.strip().replace("DIGITS", _DIGITS)
        rules.append(calculator if final else calculator.replace("{0,24}", "{1,24}"))  # a required call computes
        rules.append(f"fn ::= {_alternatives(sorted(FUNCTIONS))}")
    body = "\n".join(rules) + "\n"
    cont = f'root ::= [^\\n]* "\\n" {ends}\n' + body
    return LineFirst(full=cont if opened else f'root ::= thought "\\n" {ends}\n' + body, cont=cont)


def answer_grammar(*, answer: str = "text") -> str:
    """A bare answer after a prefilled ``Final Answer:``."""
    return f'root ::= " "? answer "\\n"?\n{_answer_rule(answer)}\n'


def solver_grammar(mode: str, *, answer: str = "text") -> str:
    """An ``io`` reply (one ``Final Answer:`` line) or a ``cot`` reply (up to a few reasoning lines, then
    ``Final Answer:``)."""
    lines = "" if mode == "io" else f'(line "\\n"){{0,{_COT_LINES}}} '
    rules = f'root ::= {lines}"Final Answer: " answer "\\n"?\n{_answer_rule(answer)}\n'
    return rules if mode == "io" else rules + "line ::= [^\\n]*\n"
