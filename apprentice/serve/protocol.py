"""The OpenAI chat-completions wire format: requests in (tools and tool choice included), LangChain
messages out, and the response, chunk and error bodies that the official clients expect."""

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
from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "MAX_STOP",
    "ChatMessage",
    "ChatRequest",
    "FunctionDef",
    "NamedChoice",
    "StreamOptions",
    "ToolCall",
    "ToolDef",
    "Usage",
    "chunk_body",
    "completion_body",
    "error_body",
    "message_text",
    "model_body",
    "new_call_id",
    "new_id",
    "to_messages",
]

#: Stop sequences a request may give (OpenAI's limit).
MAX_STOP = 4


class FunctionDef(BaseModel):
    """``tools[].function``: a name OpenAI would accept, a description, and a JSON Schema of type object."""

    model_config = ConfigDict(extra="allow")  # ``strict`` and the like: accepted, not enforced

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None

    @field_validator("parameters")
    @classmethod
    def _object_schema(cls, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        if schema is None:
            return None
        if schema.get("type", "object") != "object":
            raise ValueError(f"must be a JSON Schema of type 'object', not {schema.get('type')!r}")
        properties = schema.get("properties", {})
        if not isinstance(properties, dict) or not all(isinstance(p, dict) for p in properties.values()):
            raise ValueError("'properties' must map each parameter name to a JSON Schema object")
        return schema


class ToolDef(BaseModel):
    """One entry of ``tools``: only ``function`` tools exist in the chat-completions API."""

    type: Literal["function"]
    function: FunctionDef


class _CalledFunction(BaseModel):
    name: str
    arguments: str = ""


class ToolCall(BaseModel):
    """One entry of an assistant message's ``tool_calls`` (``arguments`` is JSON text, as OpenAI sends it)."""

    model_config = ConfigDict(extra="allow")

    id: str
    type: Literal["function"] = "function"
    function: _CalledFunction


class NamedChoice(BaseModel):
    """``tool_choice`` naming the function that must be called."""

    type: Literal["function"]
    function: _CalledFunction


class ChatMessage(BaseModel):
    """One message of a request; unknown fields (``name``...) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    tool_calls: list[ToolCall] | None = None


class StreamOptions(BaseModel):
    """``stream_options``: ``include_usage`` adds a last chunk carrying the token counts."""

    include_usage: bool = False


class ChatRequest(BaseModel):
    """``POST /v1/chat/completions``. Fields this server does not use (``top_p``, ``user``...) are
    accepted and ignored, as OpenAI-compatible servers commonly do."""

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
    tools: list[ToolDef] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedChoice | None = None
    parallel_tool_calls: bool | None = None  # accepted; a text-protocol step calls one tool at a time
    #: json_object / json_schema: a grammar for plain completions of a llama.cpp model (serve/formats.py)
    response_format: dict[str, Any] | None = None
    #: options of a strategy model (``student+react``), as ``ask --option`` takes them
    strategy_options: dict[str, Any] | None = None

    @field_validator("tool_choice", mode="before")
    @classmethod
    def _choice(cls, value: Any) -> Any:
        """One plain message for anything but OpenAI's forms (pydantic would list each union member)."""
        if value is None or value in ("none", "auto", "required") or isinstance(value, NamedChoice):
            return value
        if isinstance(value, dict) and value.get("type") == "function" and \
                isinstance((value.get("function") or {}).get("name"), str):
            return value
        raise ValueError("must be 'none', 'auto', 'required' or {\"type\": \"function\", \"function\": "
                         "{\"name\": NAME}}")

    def refusal(self) -> tuple[str, str] | None:
        """``(param, message)`` for a request OpenAI would answer with 400 that the schema lets through."""
        if self.stream_options is not None and not self.stream:
            return "stream_options", "The 'stream_options' parameter is only allowed when 'stream' is enabled."
        if isinstance(self.stop, list) and len(self.stop) > MAX_STOP:
            return "stop", f"'stop' takes at most {MAX_STOP} sequences, got {len(self.stop)}."
        if self.logprobs or self.top_logprobs is not None:
            return ("logprobs" if self.logprobs else "top_logprobs"), "logprobs are not supported by this server."
        return self._tool_refusal()

    def _tool_refusal(self) -> tuple[str, str] | None:
        names = [t.function.name for t in self.tools or []]
        lowered: dict[str, str] = {}
        for name in names:
            twin = lowered.get(name.lower())
            if twin == name:
                return "tools", f"tools: the function '{name}' is defined twice."
            if twin is not None:
                return "tools", (f"tools: '{twin}' and '{name}' differ only in case, which the text protocol "
                                 "the model writes cannot tell apart.")
            lowered[name.lower()] = name
        if self.tool_choice == "required" or isinstance(self.tool_choice, NamedChoice):
            if not names:
                return "tool_choice", "tool_choice requires 'tools': there is no function to call."
            wanted = self.forced_function()
            if wanted is not None and wanted not in names:
                return "tool_choice", f"tool_choice names the function '{wanted}', which is not in 'tools'."
        return None

    def forced_function(self) -> str | None:
        """The function a named ``tool_choice`` requires, else None."""
        return self.tool_choice.function.name if isinstance(self.tool_choice, NamedChoice) else None

    def tool_mode(self) -> str:
        """How to treat ``tools``: ``none`` (answer in text, the plain path), ``auto``, ``required`` or
        ``function`` (a named function). Without tools it is ``none``; OpenAI's default with tools is ``auto``."""
        if not self.tools or self.tool_choice == "none":
            return "none"
        if self.forced_function() is not None:
            return "function"
        return self.tool_choice or "auto"

    def stop_list(self) -> list[str] | None:
        """``stop`` as a list (OpenAI allows one string or up to four)."""
        if self.stop is None:
            return None
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    def call_params(self) -> dict[str, Any]:
        """Per-call overrides for the chat model: only what the request set. Every generation, plain or
        tool step, takes its parameters from here."""
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


def message_text(message: ChatMessage) -> str:
    """A message's text (content parts joined).

    Raises:
        ValueError: a content part that is not text.
    """
    if message.content is None or isinstance(message.content, str):
        return message.content or ""
    parts = []
    for part in message.content:
        if part.get("type") != "text":
            raise ValueError(f"content part of type {part.get('type')!r} is not supported (text only)")
        parts.append(str(part.get("text", "")))
    return "".join(parts)


def to_messages(messages: list[ChatMessage]) -> list[BaseMessage]:
    """LangChain messages for a plain completion; a trailing assistant message is continued by local
    models (prefill). An assistant's tool calls are written out as the text protocol's Action lines, so
    a model answering without tools can still read what was called (local models show a tool result as
    an ``Observation:``)."""
    out: list[BaseMessage] = []
    for message in messages:
        text = message_text(message)
        if message.role in ("system", "developer"):
            out.append(SystemMessage(text))
        elif message.role == "user":
            out.append(HumanMessage(text))
        elif message.role == "assistant":
            actions = [f"Action: {c.function.name}\nAction Input: {c.function.arguments}"
                       for c in message.tool_calls or []]
            out.append(AIMessage("\n".join(filter(None, [text.strip() if actions else text, *actions]))))
        else:
            out.append(ToolMessage(text, tool_call_id=message.tool_call_id or "call"))
    return out


def new_id() -> str:
    """A completion id in OpenAI's style."""
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def new_call_id() -> str:
    """A tool call id in OpenAI's style."""
    return f"call_{uuid.uuid4().hex[:24]}"


def error_body(message: str, *, kind: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict[str, Any]:
    """OpenAI's error shape: ``{"error": {"message", "type", "param", "code"}}``."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def model_body(name: str, created: int) -> dict[str, Any]:
    """OpenAI's model object, as ``GET /v1/models`` lists it and ``GET /v1/models/{id}`` returns it."""
    return {"id": name, "object": "model", "created": created, "owned_by": "apprentice"}


def completion_body(cid: str, model: str, text: str | None, finish: str, usage: Usage,
                    tool_calls: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    """A non-streaming ``chat.completion``; ``extra`` top-level fields (``trace_id``) go beside OpenAI's."""
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": cid, "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": usage.body(), **extra,
    }


def chunk_body(cid: str, model: str, delta: dict[str, Any] | None, finish: str | None = None,
               usage: Usage | None = None, **extra: Any) -> dict[str, Any]:
    """One ``chat.completion.chunk``; with ``usage`` it is the final usage-only chunk (no choices)."""
    body: dict[str, Any] = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()),
                            "model": model, **extra}
    if usage is not None:
        body["choices"], body["usage"] = [], usage.body()
    else:
        body["choices"] = [{"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish}]
    return body
