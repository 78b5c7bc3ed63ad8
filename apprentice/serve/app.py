"""An OpenAI-compatible chat-completions server over any model spec (``local``, ``local:PATH``,
``adapter:NAME``, ``openai:...``): ``POST /v1/chat/completions`` (plain and SSE streaming, ``usage``,
``stop``, ``temperature``, ``max_tokens``, ``stream_options.include_usage``) and ``GET /v1/models``.

Why our own app and not llama.cpp's server (``llama_cpp.server``) for GGUF specs: the student has
to be served exactly as it runs in-process, through :func:`apprentice.models.load_chat_model`, so
that a served ``adapter:NAME`` sees the same (sandboxed) chat template rendering, prefill and stop
handling as in ``ask``/``batch``/``eval``; llama.cpp's server formats chats its own way and cannot
serve HF folders or PEFT adapters. One app also gives one API-key check and one error shape for
every spec. (llama-cpp-python 0.3.36's own ``Jinja2ChatFormatter`` renders templates in an
``ImmutableSandboxedEnvironment`` too, so ``python -m llama_cpp.server`` remains a safe alternative
for plain GGUF files; see docs/batch_and_serve.md. On a GPU, serve the adapter with vLLM.)
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import BaseMessage
from starlette.exceptions import HTTPException as StarletteHTTPException

from apprentice.errors import ApprenticeError, ModelUnavailableError
from apprentice.models import load_chat_model, model_error, parse_spec
from apprentice.serve.protocol import (
    ChatRequest,
    Usage,
    chunk_body,
    completion_body,
    error_body,
    new_id,
    to_messages,
)

__all__ = ["create_app", "served_name"]


def served_name(spec: str) -> str:
    """The model id clients ask for: ``local``, an adapter's name, a file's stem, a remote model's name."""
    parsed = parse_spec(spec)
    if parsed.kind == "local" and parsed.target:
        return parsed.target.rstrip("/").rsplit("/", 1)[-1].removesuffix(".gguf")
    return parsed.target or parsed.kind


class _Generation:
    """One completion streamed from the chat model, tallying usage. The first piece is pulled at
    construction, so a failing model becomes an HTTP error before any response has started."""

    def __init__(self, chat: BaseChatModel, messages: list[BaseMessage], request: ChatRequest) -> None:
        self._chat = chat
        self._chunks = iter(chat.stream(messages, stop=request.stop_list(), **request.call_params()))
        self._limit = request.max_completion_tokens or request.max_tokens
        self.usage, self.text, self._reported = Usage(), "", False
        self._first = self._pull()

    def _pull(self) -> str | None:
        for chunk in self._chunks:
            meta = getattr(chunk, "usage_metadata", None)
            if meta:
                self._reported = True
                self.usage.prompt_tokens += meta.get("input_tokens", 0)
                self.usage.completion_tokens += meta.get("output_tokens", 0)
            if chunk.text:
                self.text += chunk.text
                return chunk.text
        return None

    def __iter__(self) -> Iterator[str]:
        piece = self._first
        while piece is not None:
            yield piece
            piece = self._pull()
        if not self._reported:  # a backend without usage: count what we can
            counter = getattr(self._chat, "count_tokens", None)
            self.usage.completion_tokens = counter(self.text) if counter else len(self.text.split())

    @property
    def finish_reason(self) -> str:
        """``length`` when the token cap was reached, else ``stop``."""
        return "length" if self._limit and self.usage.completion_tokens >= self._limit else "stop"


def _error(status: int, message: str, **kw: Any) -> JSONResponse:
    return JSONResponse(error_body(message, **kw), status_code=status)


def _model_failure(exc: Exception) -> JSONResponse:
    """A model error as an OpenAI-style response: 400 for a too-long prompt, 503/500 otherwise."""
    error = model_error(exc) or exc
    if isinstance(error, ModelUnavailableError) and "does not fit" in str(error):
        return _error(400, str(error), code="context_length_exceeded")
    if isinstance(error, ApprenticeError):
        return _error(503, str(error), kind="server_error", code="model_unavailable")
    return _error(500, f"the model failed: {type(exc).__name__}: {exc}", kind="server_error")


def _sse(generation: _Generation, cid: str, name: str, include_usage: bool) -> Iterator[bytes]:
    def event(body: dict[str, Any]) -> bytes:
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n".encode()

    yield event(chunk_body(cid, name, {"role": "assistant", "content": ""}))
    try:
        for piece in generation:
            yield event(chunk_body(cid, name, {"content": piece}))
    except Exception as exc:  # the response has started: the error goes in the stream
        failure = json.loads(_model_failure(exc).body)
        yield event(failure)
        yield b"data: [DONE]\n\n"
        return
    yield event(chunk_body(cid, name, {}, generation.finish_reason))
    if include_usage:
        yield event(chunk_body(cid, name, None, usage=generation.usage))
    yield b"data: [DONE]\n\n"


def create_app(model: str | BaseChatModel, *, name: str | None = None, api_key: str | None = None) -> FastAPI:
    """The FastAPI app serving ``model`` (a spec, loaded now, or a ready chat model) as ``name``.

    Args:
        model: A model spec or a LangChain chat model.
        name: The model id clients use (default: from the spec, see :func:`served_name`).
        api_key: When set, every ``/v1`` request needs ``Authorization: Bearer <api_key>``.
    """
    chat = load_chat_model(model) if isinstance(model, str) else model
    spec = model if isinstance(model, str) else getattr(model, "spec", None) or type(model).__name__
    name = name or (served_name(model) if isinstance(model, str) else str(spec))
    created = int(time.time())
    app = FastAPI(title="apprentice", summary=f"OpenAI-compatible endpoint for {spec}")
    app.state.served_name = name

    def authorize(request: Request) -> None:
        if api_key is None:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), api_key.encode()):
            raise StarletteHTTPException(401, "Incorrect API key provided.")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {401: "invalid_api_key", 404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        return _error(exc.status_code, str(exc.detail), code=code)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        param = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        return _error(400, f"{param or 'body'}: {first.get('msg', 'invalid request')}", param=param)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "model": name}

    @app.get("/v1/models", dependencies=[Depends(authorize)])
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": name, "object": "model", "created": created,
                                            "owned_by": "apprentice"}]}

    @app.post("/v1/chat/completions", dependencies=[Depends(authorize)])
    def chat_completions(request: ChatRequest):
        if request.model != name:
            return _error(404, f"The model `{request.model}` does not exist; this server serves `{name}`.",
                          param="model", code="model_not_found")
        try:
            messages = to_messages(request.messages)
        except ValueError as exc:
            return _error(400, str(exc), param="messages")
        try:
            generation = _Generation(chat, messages, request)
        except Exception as exc:  # the model failed before answering: an HTTP error
            return _model_failure(exc)
        cid = new_id()
        if request.stream:
            include = bool(request.stream_options and request.stream_options.include_usage)
            return StreamingResponse(_sse(generation, cid, name, include), media_type="text/event-stream")
        try:
            text = "".join(generation)
        except Exception as exc:
            return _model_failure(exc)
        return completion_body(cid, name, text, generation.finish_reason, generation.usage)

    return app
