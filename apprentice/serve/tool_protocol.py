"""OpenAI tool calling over the student's ReAct text protocol.

A request's functions become the tool list of the system prompt the student was trained on
(:func:`apprentice.agents.react.text_protocol_messages`: ``name: description`` lines); the turn so far
(the assistant's earlier tool calls and the client's tool results) becomes the scratchpad the model
continues, as ``Action:`` / ``Action Input:`` / ``Observation:`` lines. Going back, an ``Action Input``
becomes the call's JSON ``arguments``: for a function of one parameter the input is that parameter's
value; for several it must be a JSON object of them. This is how vLLM's and llama.cpp's servers treat
a model that writes tool calls in a format of its own: the chat template renders tools and results
into the prompt, and a parser reads the calls back out of the text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from apprentice.agents.react import format_observation, text_protocol_messages
from apprentice.serve.protocol import ChatMessage, ToolCall, ToolDef, message_text

__all__ = ["OfferedTool", "ToolSet", "text_protocol_prompt"]

#: JSON Schema types whose values an Action Input is read as JSON for.
_JSON_TYPES = {"integer": int, "number": (int, float), "boolean": bool, "array": list, "object": dict}


@dataclass(frozen=True)
class OfferedTool:
    """One function of the request, as the text protocol lists it (what the prompt reads of a tool:
    ``name`` and a one-line ``description``) and reads its input back."""

    name: str
    description: str
    parameters: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_def(cls, tool: ToolDef) -> OfferedTool:
        """The tool of one ``tools`` entry; a function of several parameters says its input is JSON."""
        function = tool.function
        lines = (function.description or "").strip().splitlines()
        line = lines[0].strip() if lines else f"the {function.name} function"
        params = list((function.parameters or {}).get("properties", {}))
        if len(params) > 1:
            line += f" (Action Input: a JSON object with {', '.join(json.dumps(p) for p in params)})"
        return cls(function.name, line, function.parameters or {})

    @property
    def _properties(self) -> dict[str, dict[str, Any]]:
        return self.parameters.get("properties", {})

    def arguments(self, text: str) -> dict[str, Any] | None:
        """The call's arguments from an ``Action Input``; None when they cannot be read (several
        parameters and an input that is not a JSON object of them)."""
        props = self._properties
        given = _json_object(text)
        if given and (not props or set(given) <= set(props)):
            return given
        if len(props) == 1:
            (name, schema), = props.items()
            return {name: _typed(text, schema)}
        return {} if not props else None

    def action_input(self, call: ToolCall) -> str:
        """The ``Action Input`` line of an earlier call: the one parameter's value, else the JSON."""
        try:
            args = json.loads(call.function.arguments or "{}")
        except ValueError:
            return call.function.arguments
        if isinstance(args, dict) and len(args) == 1 and len(self._properties) <= 1:
            (value,) = args.values()
            return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return json.dumps(args, ensure_ascii=False)


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _typed(text: str, schema: dict[str, Any]) -> Any:
    """``text`` as the parameter's JSON type when it reads as one (``"3"`` for an integer is 3), else as is."""
    kind = _JSON_TYPES.get(schema.get("type"))
    if kind is None:
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return text
    if isinstance(value, bool) and kind is not bool:
        return text
    return value if isinstance(value, kind) else text


class ToolSet:
    """The request's functions by name. The ReAct parser reads tool names without case, so lookups
    ignore case too (a request whose names differ only in case is refused before this)."""

    def __init__(self, tools: Sequence[ToolDef]) -> None:
        self.tools = [OfferedTool.from_def(t) for t in tools]
        self._by_name = {t.name.lower(): t for t in self.tools}

    @property
    def names(self) -> list[str]:
        """The names as the parser compares them (lower case)."""
        return list(self._by_name)

    def get(self, name: str) -> OfferedTool | None:
        """The tool called ``name`` (any case), or None."""
        return self._by_name.get(name.lower())

    def action_input(self, call: ToolCall) -> str:
        """An earlier call's input line; a function the request no longer offers is read as one of a
        single parameter when its arguments have one key."""
        tool = self.get(call.function.name) or OfferedTool(call.function.name, "")
        return tool.action_input(call)


def text_protocol_prompt(messages: Sequence[ChatMessage], tools: ToolSet, *, offered: bool = True,
                         react_prompt: str = "full") -> tuple[list[BaseMessage], str]:
    """The text-protocol prompt for the conversation's next step, and its scratchpad.

    The last user message is the question; the tool calls and results after it are the scratchpad; the
    earlier questions and answers are the history (earlier turns' tool traffic is left out, as the ReAct
    graph's threads keep only questions and answers); system and developer messages go after the
    protocol's own system prompt.

    Args:
        offered: list the tools in the system prompt (False: the model is told it has none).
        react_prompt: the model's ReAct system prompt (``full``, or ``student`` for a trained student).

    Raises:
        ValueError: no user message, or a tool call without its result (or a result of no call).
    """
    texts = [message_text(m) for m in messages]
    users = [i for i, m in enumerate(messages) if m.role == "user"]
    if not users:
        raise ValueError("messages: a request with tools needs a user message to answer")
    last = users[-1]
    instructions = "\n\n".join(t.strip() for m, t in zip(messages, texts, strict=True)
                               if m.role in ("system", "developer") and t.strip())
    history: list[BaseMessage] = []
    for message, text in zip(messages[:last], texts[:last], strict=True):
        if message.role == "user":
            history.append(HumanMessage(text))
        elif message.role == "assistant" and not message.tool_calls and text.strip():
            history.append(AIMessage(text))
    scratch = _scratchpad(messages[last + 1:], texts[last + 1:], tools)
    prompt = text_protocol_messages(question=texts[last], scratch=scratch, tools=tools.tools if offered else [],
                                    history=history, answer_format=instructions, prompt=react_prompt)
    return prompt, scratch


def _scratchpad(turn: Sequence[ChatMessage], texts: Sequence[str], tools: ToolSet) -> str:
    """This turn's steps as the model would have written them, each call followed by its result."""
    results = {m.tool_call_id: text for m, text in zip(turn, texts, strict=True) if m.role == "tool"}
    called = {c.id for m in turn for c in m.tool_calls or []}
    if None in results:
        raise ValueError("messages: a tool message needs the 'tool_call_id' of the call it answers")
    if stray := [i for i in results if i not in called]:
        raise ValueError(f"messages: the tool message with tool_call_id {stray[0]!r} answers no tool call")
    lines: list[str] = []
    for message, text in zip(turn, texts, strict=True):
        if message.role != "assistant":
            continue
        thought = text.strip()
        if not message.tool_calls:  # an answer already given this turn: the next step goes on after it
            lines.append(f"Thought: {thought}\n" if thought else "")
            continue
        for n, call in enumerate(message.tool_calls):
            if call.id not in results:
                raise ValueError(f"messages: the tool call {call.id!r} ({call.function.name}) has no tool "
                                 "message with its result")
            lead = f"Thought: {thought}" if n == 0 and thought else "Thought:"
            lines.append(f"{lead}\nAction: {call.function.name}\nAction Input: {tools.action_input(call)}\n"
                         f"Observation: {format_observation(results[call.id])}\n")
    return "".join(lines)
