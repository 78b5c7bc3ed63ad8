"""Trace -> chat example, in exactly the format the student runs with at inference.

A ReAct run becomes [system, user, assistant(trajectory)] where the trajectory is the text
protocol with the real observations; at inference the harness writes the leading ``Thought:``
and every ``Observation: ...\\nThought:`` itself, so those spans are not learned (see
:func:`learned_spans`). A ToT run becomes its chosen path written out as an explanation; CoT,
IO, CoT-SC and verify runs become the answer text the model produced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from apprentice.agents.react import format_observation, text_protocol_messages
from apprentice.tools import get_tools
from apprentice.traces import Run

__all__ = ["ChatExample", "example_from_run", "learned_spans", "react_messages", "react_trajectory"]

_OBSERVATION_GAP = re.compile(r"(?<=\nObservation:)(.*?\nThought:)", re.DOTALL)


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


def learned_spans(text: str, protocol: str) -> list[tuple[int, int]]:
    """Character spans of an assistant text that the student must learn to write.

    For the ReAct protocol the harness supplies the leading ``Thought:`` (prefill) and each
    ``<observation>\\nThought:`` after an ``Observation:`` keyword, so those are left out; the
    model does learn to write ``\\nObservation:`` itself, since that is where it stops.
    """
    if protocol != "react":
        return [(0, len(text))]
    start = len("Thought:") if text.startswith("Thought:") else 0
    spans, cursor = [], start
    for gap in _OBSERVATION_GAP.finditer(text):
        spans.append((cursor, gap.start()))
        cursor = gap.end()
    spans.append((cursor, len(text)))
    return [(a, b) for a, b in spans if b > a]


def react_trajectory(run: Run) -> str | None:
    """The text-protocol trajectory of a ReAct run, rebuilt from its steps (None if unusable)."""
    parts: list[str] = []
    for step in run.steps:
        if step.kind == "llm" and step.node == "reason":
            if step.data.get("tool_calls"):
                return None  # native tool calls: not the text protocol
            parts.append(f"Thought: {(step.raw or '').strip()}\n")
        elif step.kind == "observation":
            parts.append(f"Observation: {format_observation(step.observation or '')}\n")
        elif step.kind == "error" and step.observation:
            parts.append(f"Observation: {step.observation}\n")
        elif step.kind == "answer" and step.data.get("forced"):
            return None  # the step limit forced the answer: not a trajectory to imitate
    if not parts or "Final Answer:" not in parts[-1]:
        return None
    return "".join(parts).rstrip("\n")


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
) -> ChatExample | None:
    """Turn one run into a chat example in its strategy's runtime format; None if it has none.

    Args:
        run: a full run (steps loaded).
        answer_format: the task's answer instruction, as the runtime prompt includes it.
        system: replace the system prompt (e.g. prompt erasure: a shorter one than the teacher's).
        tools: the tool names the student will be offered (default: those the run used, or
            the calculator).
        react_prompt: the ReAct system prompt the student will run with (``student``: prompt erasure).
    """
    question = run.meta.get("train_question") or run.question  # a rationalization hint is erased
    meta = {"run_id": run.id, "task": run.task, "item_id": run.item_id, "strategy": run.strategy,
            "model": run.model, "teacher": run.meta.get("teacher", "model"), "correct": run.correct,
            "score": run.score, "question": question, "answer": run.answer}
    if run.strategy == "react":
        trajectory = react_trajectory(run)
        if trajectory is None:
            return None
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
