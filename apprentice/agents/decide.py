"""The harness's decision after a calculator result: does the answer still need a number the calculator has not used?

A small student answers after the first result of nearly every two-step problem, and every lever that taught its
ReAct step to go on cost it the one-step problems it solved: deciding inside the step, "go on" was one switch, not a
reading of the question (benchmarks/results/student/NOTES.md, sessions 46-49). With ReAct's ``decide`` option the
decision leaves the step. After a calculator result whose tally (:mod:`apprentice.agents.tally`) lists numbers,
the harness asks a short question of its own (``ask``: :func:`decision_prompt`, answered ``yes`` or ``no`` under
:data:`DECISION_GRAMMAR`), or goes on while any number is listed (``listed``: the rule, a floor to compare with);
on "yes" the harness opens the next thought (:func:`go_on_opening`) and the step must be a calculator call that
computes (a grammar without ``Final Answer``), on "no" the step is the model's as before. The rest of the step is
what the student writes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from apprentice.agents.tally import listed

__all__ = ["DECIDE_TOOL", "DECISION_GRAMMAR", "DECISION_QUESTION", "GO_ON_OPENING", "decision_prompt", "go_on_opening",
           "parse_decision"]

#: The tool an observation step of the trace names when it is the harness's decision (shown with the run's steps;
#: a trajectory rebuilt from the trace leaves it out, as it does the tally's line).
DECIDE_TOOL = "decide"
DECISION_QUESTION = "Does the answer still need a number not used yet? Answer yes or no."
DECISION_GRAMMAR = 'root ::= "yes" | "no"\n'
#: How the harness opens the thought after deciding to go on (after ``Thought:``); the student's text follows on the
#: line. Its own shape, so a trajectory's loss can leave it out (the harness's words, as an observation is):
#: a student learns what to do after it, never to write it, so its own steps do not learn to go on.
GO_ON_OPENING = re.compile(r" \(go on: [^()\n]* not used yet\)")


def go_on_opening(unused: Sequence[str]) -> str:
    """The opening of the thought after a decision to go on: `` (go on: 13 and 40 not used yet)``."""
    return f" (go on: {listed(list(unused))} not used yet)"


def decision_prompt(question: str, calls: Sequence[tuple[str, str]], unused: Sequence[str]) -> str:
    """The decision's question (one user message): the problem, the calculator's work so far (``input = result``
    a line) and the tally of the numbers not used yet."""
    done = "\n".join(f"{given} = {result}" for given, result in calls)
    return f"{question}\n\nThe calculator worked out:\n{done}\nNot used yet: {listed(list(unused))}\n{DECISION_QUESTION}"


def parse_decision(text: str) -> bool | None:
    """True for a reply that says yes, False for no, None for anything else (an unconstrained model's ramble)."""
    word = text.strip().lower().split(maxsplit=1)
    word = word[0].strip(".,!:;\"'") if word else ""
    return True if word == "yes" else False if word == "no" else None
