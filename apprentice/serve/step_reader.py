"""Reading one text-protocol step as the model writes it, for a client that waits for OpenAI's shapes.

Until the step shows what it is, nothing is sent: its thought belongs to a tool call (as the call's
content) or is dropped before a final answer. A ``Final Answer:`` is then sent as it comes, as plain
content; an ``Action:`` is read whole when the model stops (at ``Observation:``) and becomes one tool
call. Streamed or not, a request gets the same text: both are what this reader let through.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

# the ReAct parser's own patterns for where an action and a final answer start, so that a stream is
# split exactly where parse_react splits the whole step
from apprentice.agents.react import final_answer_start, parse_react
from apprentice.serve.protocol import new_call_id
from apprentice.serve.tool_protocol import ToolSet

__all__ = ["CallOut", "Step", "StepReader"]


@dataclass(frozen=True)
class CallOut:
    """A tool call for the client: OpenAI's ``tool_calls`` entry, whole or as stream deltas."""

    name: str
    arguments: dict[str, Any]
    id: str = field(default_factory=new_call_id)

    @property
    def arguments_json(self) -> str:
        """``arguments`` as OpenAI sends them: JSON text."""
        return json.dumps(self.arguments, ensure_ascii=False)

    def body(self) -> dict[str, Any]:
        """The ``message.tool_calls`` entry."""
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments_json}}

    def deltas(self, index: int) -> list[dict[str, Any]]:
        """The ``delta.tool_calls`` entries of a stream: id, type and name first, then the arguments."""
        return [{"index": index, "id": self.id, "type": "function", "function": {"name": self.name, "arguments": ""}},
                {"index": index, "function": {"arguments": self.arguments_json}}]


@dataclass(frozen=True)
class Step:
    """What one step came to.

    ``answer``: a final answer (``text`` is the answer; ``unsent`` the part not yet streamed);
    ``call``: a readable call of an offered tool (``text`` is the thought before it);
    ``text``: neither, or a step cut off by the token cap (``text`` is what the model wrote).
    """

    kind: Literal["answer", "call", "text"]
    text: str
    thought: str = ""
    unsent: str = ""
    call: CallOut | None = None


class StepReader:
    """Reads one step from its pieces.

    Args:
        tools: the request's functions.
        head: what the prompt already wrote of this step (``Thought:``, or a prefilled ``Action:``).
        stream_answer: send a final answer's text as it comes (False when an answer will not do, e.g.
            ``tool_choice: required``: the step is judged when it ends).
    """

    def __init__(self, tools: ToolSet, *, head: str = "Thought:", stream_answer: bool = True) -> None:
        self.tools, self.head, self.stream_answer = tools, head, stream_answer
        self.text = head
        self._answer_at: int | None = None
        self._sent = ""

    def feed(self, piece: str) -> str:
        """Take the next piece; the answer text to send now ("" while the step is undecided)."""
        self.text += piece
        if not self.stream_answer:
            return ""
        if self._answer_at is None:
            start = final_answer_start(self.text)
            # wait for the answer's first character: the marker's pattern also eats markup after the colon
            if start is None or not self.text[start:].strip():
                return ""
            self._answer_at = start
        return self._send(complete=False)

    def finish(self, *, capped: bool = False) -> Step:
        """The step, once the model has stopped; ``capped``: it stopped at the token cap."""
        written = self.text[len(self.head):].strip()
        if self._answer_at is not None:
            thought = parse_react(self.text[:self._answer_at]).thought
            unsent = self._send(complete=True)
            return Step("answer", self._sent, thought=thought, unsent=unsent)
        step = parse_react(self.text, tools=self.tools.names)
        if capped:  # half an action is no call
            return Step("text", written, thought=step.thought)
        if step.final_answer is not None:
            return Step("answer", step.final_answer, thought=step.thought, unsent=step.final_answer)
        tool = self.tools.get(step.tool or "")
        arguments = tool.arguments(step.tool_input) if tool and step.tool_input is not None else None
        if tool is None or arguments is None:
            return Step("text", written, thought=step.thought)
        return Step("call", step.thought, thought=step.thought, call=CallOut(tool.name, arguments))

    def _send(self, *, complete: bool) -> str:
        """The answer's next piece: its text after the marker up to a blank line (the parser's cut), less
        what may still turn out to be trailing space or closing markup."""
        answer = self.text[self._answer_at:].lstrip().split("\n\n")[0].rstrip()
        if complete:
            if answer.endswith("**") and answer.count("**") == 1:  # the marker took the opening '**'
                answer = answer[:-2].rstrip()
        else:
            answer = answer.rstrip("*").rstrip()
        if not answer.startswith(self._sent):
            return ""
        new, self._sent = answer[len(self._sent):], answer
        return new
