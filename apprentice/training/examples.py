"""Trace -> chat example, in exactly the format the student runs with at inference.

A ReAct run becomes [system, user, assistant(trajectory)] where the trajectory is the text
protocol with the real observations; at inference the harness writes the leading ``Thought:``
and every ``Observation: ...\\nThought:`` itself, so those spans are not learned (see
:func:`learned_spans`). A run whose model called its tools natively (a remote teacher over the
OpenAI API) is written in the same text protocol, the model's own text as each thought: the student
never sees a JSON tool call it could not produce. A ToT run becomes its chosen path written out as an
explanation; CoT, IO, CoT-SC and verify runs become the answer text the model produced.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from apprentice.agents.react import (
    FORCE_ANSWER,
    TALLY_PROMPTS,
    format_observation,
    parse_react,
    text_protocol_messages,
)
from apprentice.agents.decide import DECIDE_TOOL, GO_ON_OPENING
from apprentice.agents.tally import TALLY_TOOL, with_tally
from apprentice.tools import get_tools
from apprentice.traces import Run

__all__ = ["LEARN_MODES", "ChatExample", "example_from_run", "learned_spans", "native_trajectory", "react_messages",
           "react_trajectory"]

#: what the harness writes between two steps: an observation (and the tally's line) up to ``Thought:``, and after it
#: the opening of a thought the harness decided goes on (:data:`~apprentice.agents.decide.GO_ON_OPENING`)
_OBSERVATION_GAP = re.compile(rf"(?<=\nObservation:)(.*?\nThought:(?:{GO_ON_OPENING.pattern})?)", re.DOTALL)
_THOUGHT_LABEL = re.compile(r"^\s*thought\s*:\s*", re.IGNORECASE)

#: The thought of a native tool call its model made without a word: what the call does, in the protocol's voice.
SILENT_THOUGHT = "I use the {tool} tool."
#: The thought before a native final answer that comes without any reasoning text.
FINAL_THOUGHT = "I now know the final answer."


@dataclass
class ChatExample:
    """One training conversation plus where it came from."""

    messages: list[dict[str, str]]
    protocol: str  # "react" (observations masked) or "plain"
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def completion(self) -> str:
        """The assistant's text (the last message)."""
        return self.messages[-1]["content"]

    def to_dict(self) -> dict[str, Any]:
        """OpenAI-style chat JSONL line with our metadata beside it."""
        return {"messages": self.messages, "protocol": self.protocol, "metadata": self.meta}


#: What of a trajectory an example teaches (a row's ``learn``): every span the student writes (``all``), or only
#: what it writes after the harness's first decision to go on (``opened``: a continuation example, whose earlier steps
#: are context, so a stage that teaches going on leaves the student's own first steps as they were).
LEARN_MODES = ("all", "opened")


def learned_spans(text: str, protocol: str, learn: str = "all") -> list[tuple[int, int]]:
    """Character spans of an assistant text that the student must learn to write.

    For the ReAct protocol the harness supplies the leading ``Thought:`` (prefill) and each
    ``<observation>\\nThought:`` after an ``Observation:`` keyword (with the opening of a thought it decided
    goes on), so those are left out; the model does learn to write ``\\nObservation:`` itself, since that is
    where it stops. With ``learn="opened"`` (:data:`LEARN_MODES`) only the spans after the first opening count
    (none in a text without one).
    """
    if learn not in LEARN_MODES:
        raise ValueError(f"learn must be one of {', '.join(LEARN_MODES)}, not {learn!r}")
    if learn == "opened":
        opened = next((gap.end() for gap in _OBSERVATION_GAP.finditer(text) if GO_ON_OPENING.search(gap[0])), None)
        return [] if opened is None or protocol != "react" else \
            [(max(a, opened), b) for a, b in learned_spans(text, protocol) if b > opened]
    if protocol != "react":
        return [(0, len(text))]
    start = len("Thought:") if text.startswith("Thought:") else 0
    spans, cursor = [], start
    for gap in _OBSERVATION_GAP.finditer(text):
        spans.append((cursor, gap.start()))
        cursor = gap.end()
    spans.append((cursor, len(text)))
    return [(a, b) for a, b in spans if b > a]


def react_trajectory(run: Run, *, forced: bool = False) -> str | None:
    """The text-protocol trajectory of a ReAct run, rebuilt from its steps (None if unusable).

    A run whose answer the step limit forced is no trajectory to imitate (None); with ``forced`` it is kept,
    ending in the forced answer as the model was prompted for it: the rejected side of a preference pair (a
    grammar-constrained student never writes an unreadable step, so its failures end this way)."""
    if any(step.kind == "llm" and step.data.get("tool_calls") for step in run.steps):
        return native_trajectory(run)
    parts: list[str] = []
    opening = ""  # the harness's words that open the thought after a decision to go on (``decide``)
    for step in run.steps:
        if step.kind == "llm" and step.node == "reason":
            parts.append(f"Thought: {(opening + (step.raw or '')).strip()}\n")
            opening = ""
        elif step.kind == "observation" and step.tool == DECIDE_TOOL:
            opening = step.data.get("opening", "")
        elif step.kind == "observation" and step.tool != TALLY_TOOL:  # the tally: with_tally writes it if asked
            parts.append(f"Observation: {format_observation(step.observation or '')}\n")
        elif step.kind == "error" and step.observation:
            parts.append(f"Observation: {step.observation}\n")
        elif step.kind == "answer" and step.data.get("forced"):
            if not forced or not parts:
                return None  # the step limit forced the answer: not a trajectory to imitate
            parts[-1] = f"Thought:{FORCE_ANSWER} {(step.raw or '').strip()}\n"
    if not parts or "Final Answer:" not in parts[-1]:
        return None
    return "".join(parts).rstrip("\n")


def _action_input(args: Any) -> str:
    """A native call's arguments as the text protocol's ``Action Input``: the value of a one-argument tool (the
    graph hands a text input to a tool's first argument), else the JSON object."""
    if isinstance(args, dict) and len(args) == 1:
        return str(next(iter(args.values())))
    return json.dumps(args, ensure_ascii=False) if isinstance(args, dict | list) else str(args)


def native_trajectory(run: Run) -> str | None:
    """A ReAct run made with native tool calls, written in the text protocol (None if unusable).

    Each tool call becomes ``Thought`` / ``Action`` / ``Action Input`` / ``Observation``, the thought being the
    text the model wrote beside the call (:data:`SILENT_THOUGHT` when it wrote none, or for the second call of
    one turn); the final reply becomes ``Thought`` / ``Final Answer``."""
    parts: list[str] = []
    calls: list[dict[str, Any]] = []  # the calls of the last model turn that still wait for their observation
    final = None
    for step in run.steps:
        if step.kind == "llm" and step.node == "reason":
            text = _THOUGHT_LABEL.sub("", (step.raw or "").strip(), count=1).strip()
            calls = list(step.data.get("tool_calls") or [])
            final = None if calls else text
            for number, call in enumerate(calls):
                # a protocol keyword at a line's start in the model's text would read as a step of its own
                thought = (format_observation(text) if number == 0 and text
                           else SILENT_THOUGHT.format(tool=call.get("name", "tool")))
                parts.append(f"Thought: {thought}\nAction: {call.get('name', '')}\n"
                             f"Action Input: {_action_input(call.get('args'))}\n")
        elif step.kind == "observation" and step.node == "act":
            if not calls:
                return None  # an observation of no call: not a trajectory this function understands
            calls.pop(0)
            parts.append(f"Observation: {format_observation(step.observation or '')}\n")
    if calls or not final:
        return None  # a call left without its result, or no final reply
    reply = parse_react(final)
    answer = reply.final_answer or final
    thought = reply.thought if reply.final_answer and reply.thought else FINAL_THOUGHT
    parts.append(f"Thought: {thought}\nFinal Answer: {answer}")
    return "".join(parts)


def react_messages(question: str, trajectory: str, tools: list[str], answer_format: str = "",
                   system: str | None = None, react_prompt: str = "full") -> list[dict[str, str]]:
    """[system, user, assistant] exactly as the ReAct graph prompts a first turn (with the
    ``react_prompt`` system prompt the student will run with)."""
    prompt = text_protocol_messages(question=question, scratch="", tools=get_tools(tools),
                                    answer_format=answer_format, prompt=react_prompt)
    return [{"role": "system", "content": system if system is not None else prompt[0].text},
            {"role": "user", "content": question},
            {"role": "assistant", "content": trajectory}]


def _tot_explanation(run: Run) -> str | None:
    tree = run.tree or {}
    nodes = {n.get("id"): n for n in tree.get("nodes", [])}
    chosen = [nodes[i] for i in tree.get("chosen", []) if i in nodes]
    lines = [str(n.get("text") or n.get("step") or "").strip() for n in chosen]
    lines = [ln for ln in lines if ln]
    if not lines or run.answer is None:
        return None
    body = "\n".join(f"Step {i}: {ln}" for i, ln in enumerate(lines, 1))
    return f"{body}\nFinal Answer: {run.answer}"


def _last_llm_text(run: Run, nodes: tuple[str, ...] | None = None) -> str | None:
    for step in reversed(run.steps):
        if step.kind == "llm" and (nodes is None or step.node in nodes) and (step.raw or "").strip():
            return step.raw.strip()
    return None


def example_from_run(
    run: Run,
    *,
    answer_format: str = "",
    system: str | None = None,
    tools: list[str] | None = None,
    react_prompt: str = "full",
    forced: bool = False,
) -> ChatExample | None:
    """Turn one run into a chat example in its strategy's runtime format; None if it has none.

    Args:
        run: a full run (steps loaded).
        answer_format: the task's answer instruction, as the runtime prompt includes it.
        system: replace the system prompt (e.g. prompt erasure: a shorter one than the teacher's).
        tools: the tool names the student will be offered (default: those the run used, or
            the calculator).
        react_prompt: the ReAct system prompt the student will run with (``student``: prompt erasure; ``tally``:
            the same, with the tally the harness writes after each calculator result).
        forced: keep a ReAct run whose answer the step limit forced (a rejected example, never one to learn).
    """
    question = run.meta.get("train_question") or run.question  # a rationalization hint is erased
    meta = {"run_id": run.id, "task": run.task, "item_id": run.item_id, "strategy": run.strategy,
            "model": run.model, "teacher": run.meta.get("teacher", "model"), "correct": run.correct,
            "score": run.score, "question": question, "answer": run.answer}
    if run.strategy == "react":
        trajectory = react_trajectory(run, forced=forced)
        if trajectory is None:
            return None
        if react_prompt in TALLY_PROMPTS:  # what the harness writes after each result, as the student will read it
            trajectory = with_tally(question, trajectory)
        used = sorted({s.tool for s in run.steps if s.kind == "action" and s.tool})
        names = tools or run.meta.get("tools") or used or ["calculator"]
        return ChatExample(react_messages(question, trajectory, names, answer_format, system, react_prompt),
                           "react", meta)
    if run.strategy == "tot":
        text = _tot_explanation(run)
    else:
        text = run.meta.get("chosen_text") or _last_llm_text(run)
    if not text:
        return None
    user = question if not answer_format else f"{question}\n\n{answer_format}"
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": user}, {"role": "assistant", "content": text}]
    return ChatExample(messages, "plain", meta)
