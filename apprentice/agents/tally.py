"""The harness's tally: after each calculator result, the question's numbers no calculator input has used yet.

After each result a student decides whether to go on, and that is where a small one fails most: it answers after
the first result of nearly every two-step problem. Trained to write such a tally itself (the dataset teacher's
``steps`` replays), the 135M student wrote its form and not its content: "still to use: none" in 254 of 255 runs,
listing numbers the question does not give (benchmarks/results/student/NOTES.md, session 47). With a ReAct prompt of
:data:`~apprentice.agents.react.TALLY_PROMPTS` the harness writes it instead, on the line after the observation::

    Observation: 21
    Not used yet: 13 and 40
    Thought:

so the student only reads it: it goes on with a number it still needs, or answers and says which are not needed.
The ReAct and LATS graphs write it as they run (:func:`observed`'s caller), harvest writes it into a trajectory
rebuilt from a trace (:func:`with_tally`): one function of the question and the scratchpad's text, so a student
trains on exactly what it will read.
"""

from __future__ import annotations

import re

from apprentice.agents.react import parse_react
from apprentice.agents.verifier import unused_in
from apprentice.tasks.extract import parse_number

__all__ = ["TALLY_PREFIX", "TALLY_TOOL", "calculator_calls", "calculator_inputs", "listed", "tally_note", "unused_after",
           "with_tally", "without_tally"]

#: How the tally's line starts (never a protocol keyword: the parser reads it as data).
TALLY_PREFIX = "Not used yet:"
#: The tool an observation step of the trace names when it is the harness's tally (shown with the run's steps, so a
#: person sees the line the student read; a trajectory rebuilt from the trace leaves it to :func:`with_tally`).
TALLY_TOOL = "tally"
#: one turn of a scratchpad: the model's text (its thought and action), then the observation's line
_TURN = re.compile(r"Thought:(?P<turn>.*?)\nObservation: ?(?P<observation>[^\n]*)", re.DOTALL)
_NOTE = re.compile(rf"^{re.escape(TALLY_PREFIX)}[^\n]*\n?", re.MULTILINE)
_OBSERVATION_LINE = re.compile(r"^Observation:[^\n]*$", re.MULTILINE)


def _calls(scratch: str) -> list[tuple[str | None, str]]:
    """Each turn of ``scratch`` as (its calculator input, or None for another tool or no action; the observation)."""
    calls = []
    for turn in _TURN.finditer(scratch):
        step = parse_react("Thought:" + turn.group("turn"), tools=["calculator"])
        given = step.tool_input if step.tool == "calculator" and step.final_answer is None else None
        calls.append((given, turn.group("observation").strip()))
    return calls


def _is_result(observation: str) -> bool:
    return not observation.lower().startswith("error") and parse_number(observation) is not None


def calculator_calls(scratch: str) -> list[tuple[str, str]]:
    """The calculator calls of a text-protocol scratchpad whose observation is a result (not a refusal), as (input,
    result)."""
    return [(given, seen) for given, seen in _calls(scratch) if given is not None and _is_result(seen)]


def calculator_inputs(scratch: str) -> list[str]:
    """The calculator inputs of a text-protocol scratchpad whose observation is a result (not a refusal)."""
    return [given for given, _ in calculator_calls(scratch)]


def tally_note(question: str, scratch: str) -> str | None:
    """The tally's line for a scratchpad that ends with an observation: the question's numbers (those written as
    words too: "five times" is 5) that no calculator input with a result has used (``Not used yet: 13 and 40``,
    ``Not used yet: none``); None when the last turn is not a calculator result (an error, another tool), where
    there is nothing new to count."""
    unused = unused_after(question, scratch)
    return None if unused is None else f"{TALLY_PREFIX} {listed(unused)}"


def unused_after(question: str, scratch: str) -> list[str] | None:
    """The numbers :func:`tally_note` lists (maybe none), or None when the last turn is not a calculator result."""
    calls = _calls(scratch)
    if not calls or calls[-1][0] is None or not _is_result(calls[-1][1]):
        return None
    return unused_in(question, calculator_inputs(scratch), words=True)


def listed(numbers: list[str]) -> str:
    """Numbers as a tally says them: "none", "13", "13 and 40", "7, 13 and 40"."""
    if not numbers:
        return "none"
    return numbers[0] if len(numbers) == 1 else ", ".join(numbers[:-1]) + " and " + numbers[-1]


def without_tally(text: str) -> str:
    """A trajectory with the tally's lines taken out."""
    return _NOTE.sub("", text)


def with_tally(question: str, trajectory: str) -> str:
    """A text-protocol trajectory (a rebuilt trace, a replay) with the tally's line after each calculator result,
    as the graph writes it at run time; lines already there are written again."""
    text, out, at = without_tally(trajectory), [], 0
    for line in _OBSERVATION_LINE.finditer(text):
        out.append(text[at:line.end()])
        at = line.end()
        if (note := tally_note(question, text[:line.end()])) is not None:
            out.append("\n" + note)
    out.append(text[at:])
    return "".join(out)
