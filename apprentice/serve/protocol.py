"""The OpenAI chat-completions wire format: requests in, LangChain messages out, and the response,
chunk and error bodies that the official clients expect."""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ChatMessage", "ChatRequest", "StreamOptions", "Usage", "to_messages", "error_body",
           "completion_body", "chunk_body", "model_body", "new_id", "MAX_STOP"]

#: Stop sequences a request may give (OpenAI's limit).
MAX_STOP = 4


class ChatMessage(BaseModel):
    """One message of a request; unknown fields (``name``, ``tool_calls``...) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class StreamOptions(BaseModel):
    """``stream_options``: ``include_usage`` adds a last chunk carrying the token counts."""

    include_usage: bool = False


class ChatRequest(BaseModel):
    """``POST /v1/chat/completions``. Fields this server does not use (``top_p``, ``tools``,
    ``user``...) are accepted and ignored, as OpenAI-compatible servers commonly do."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    seed: int | None = None
    n: int = Field(default=1, ge=1, le=1)
    logprobs: bool | None = None
    top_logprobs: int | None = None

    def refusal(self) -> tuple[str, str] | None:
        """``(param, message)`` for a request OpenAI would answer with 400 that the schema lets through."""
        if self.stream_options is not None and not self.stream:
            return "stream_options", "The 'stream_options' parameter is only allowed when 'stream' is enabled."
        if isinstance(self.stop, list) and len(self.stop) > MAX_STOP:
            return "stop", f"'stop' takes at most {MAX_STOP} sequences, got {len(self.stop)}."
        if self.logprobs or self.top_logprobs is not None:
            return ("logprobs" if self.logprobs else "top_logprobs"), "logprobs are not supported by this server."
        return None

    def stop_list(self) -> list[str] | None:
        """``stop`` as a list (OpenAI allows one string or up to four)."""
        if self.stop is None:
            return None
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    def call_params(self) -> dict[str, Any]:
        """Per-call overrides for the chat model: only what the request set."""
        params: dict[str, Any] = {}
        if self.temperature is not None:
            params["temperature"] = self.temperature
        limit = self.max_completion_tokens or self.max_tokens
        if limit is not None:
            params["max_tokens"] = limit
        if self.seed is not None:
            params["seed"] = self.seed
        return params


class Usage(BaseModel):
    """Token counts of one completion."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    def body(self) -> dict[str, int]:
        """The ``usage`` object."""
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens}


def _text(message: ChatMessage) -> str:
    if message.content is None or isinstance(message.content, str):
        return message.content or ""
    parts = []
    for part in message.content:
        if part.get("type") != "text":
            raise ValueError(f"content part of type {part.get('type')!r} is not supported (text only)")
        parts.append(str(part.get("text", "")))
    return "".join(parts)


def to_messages(messages: list[ChatMessage]) -> list[BaseMessage]:
    """LangChain messages; a trailing assistant message is continued by local models (prefill)."""
    out: list[BaseMessage] = []
    for message in messages:
        text = _text(message)
        if message.role in ("system", "developer"):
            out.append(SystemMessage(text))
        elif message.role == "user":
            out.append(HumanMessage(text))
        elif message.role == "assistant":
            out.append(AIMessage(text))
        else:
            out.append(ToolMessage(text, tool_call_id=message.tool_call_id or "call"))
    return out


def new_id() -> str:
    """A completion id in OpenAI's style."""
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def error_body(message: str, *, kind: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict[str, Any]:
    """OpenAI's error shape: ``{"error": {"message", "type", "param", "code"}}``."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def model_body(name: str, created: int) -> dict[str, Any]:
    """OpenAI's model object, as ``GET /v1/models`` lists it and ``GET /v1/models/{id}`` returns it."""
    return {"id": name, "object": "model", "created": created, "owned_by": "apprentice"}


def completion_body(cid: str, model: str, text: str, finish: str, usage: Usage) -> dict[str, Any]:
    """A non-streaming ``chat.completion``."""
    return {
        "id": cid, "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None,
                     "finish_reason": finish}],
        "usage": usage.body(),
    }


def chunk_body(cid: str, model: str, delta: dict[str, Any] | None, finish: str | None = None,
               usage: Usage | None = None) -> dict[str, Any]:
    """One ``chat.completion.chunk``; with ``usage`` it is the final usage-only chunk (no choices)."""
    body: dict[str, Any] = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()),
                            "model": model}
    if usage is not None:
        body["choices"], body["usage"] = [], usage.body()
    else:
        body["choices"] = [{"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish}]
    return body
