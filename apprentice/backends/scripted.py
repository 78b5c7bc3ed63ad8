"""A scripted chat model for tests and overhead benchmarks (STYLE rule 15).

It answers from a script, in order: a string, an ``AIMessage`` (e.g. with tool calls) or a
function of the prompt messages. It streams word by word, reports token usage, can sleep to
imitate latency, and can raise on chosen calls to imitate a failing server.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGenerationChunk
from pydantic import ConfigDict, Field, PrivateAttr

from apprentice.backends.streaming import StreamingChatModel, token_chunk, usage_chunk

__all__ = ["ScriptedChatModel", "Reply"]

Reply = str | AIMessage | Callable[[list[BaseMessage]], "str | AIMessage"] | BaseException


class ScriptedChatModel(StreamingChatModel):
    """Replies from ``script`` in order; ``cycle=True`` starts over when it runs out."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    script: list[Any] = Field(default_factory=list)
    cycle: bool = False
    latency_s: float = 0.0
    spec: str = "scripted"
    native_tools: bool = False
    prompts: list[list[BaseMessage]] = Field(default_factory=list)
    calls_kwargs: list[dict[str, Any]] = Field(default_factory=list)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _cursor: Iterator[Any] | None = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any):  # type: ignore[override]
        """Native tool calling, for tests of that protocol; the script supplies the calls."""
        if not self.native_tools:
            return super().bind_tools(tools, **kwargs)
        return self

    def _next(self, messages: list[BaseMessage]) -> AIMessage:
        with self._lock:
            if self._cursor is None:
                self._cursor = itertools.cycle(self.script) if self.cycle else iter(self.script)
            self.prompts.append(list(messages))
            try:
                reply = next(self._cursor)
            except StopIteration:
                raise RuntimeError("the scripted model ran out of replies") from None
        if isinstance(reply, BaseException):
            raise reply
        if callable(reply) and not isinstance(reply, AIMessage):
            reply = reply(messages)
        return reply if isinstance(reply, AIMessage) else AIMessage(str(reply))

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        self.calls_kwargs.append({"stop": stop, **kwargs})
        if self.latency_s:
            time.sleep(self.latency_s)
        reply = self._next(messages)
        text = reply.text
        for s in stop or []:
            if s in text:
                text = text[: text.index(s)]
        words = text.split(" ")
        for i, word in enumerate(words):
            piece = word if i == len(words) - 1 else word + " "
            if piece:
                yield token_chunk(piece, run_manager)
        yield usage_chunk(
            sum(len(m.text.split()) for m in messages), len(text.split()),
            tool_call_chunks=[{"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": i}
                              for i, c in enumerate(reply.tool_calls)])

