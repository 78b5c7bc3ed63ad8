"""An OpenAI-compatible chat-completions server over any model spec (``local``, ``local:PATH``,
``adapter:NAME``, ``openai:...``): ``POST /v1/chat/completions`` (plain and SSE streaming, ``usage``,
``stop``, ``temperature``, ``max_tokens``, ``stream_options.include_usage``, ``tools`` and
``tool_choice``), ``GET /v1/models``, ``GET /v1/models/{id}`` and ``GET /health`` (queue depth; 503
when the model is stalled).

Tools are offered to the model in the ReAct text protocol it was trained on and its ``Action:`` lines
come back as OpenAI ``tool_calls`` (:mod:`apprentice.serve.tool_protocol`). Besides the model itself
(``NAME``) every strategy is served as ``NAME+STRATEGY`` (``student+react``): the strategy's graph runs
here with the server's own tools, and the answer carries the run's trace id (``trace_id`` in the body,
``x-apprentice-trace-id`` in the headers).

Generation runs in threads of its own behind a bounded queue (:mod:`apprentice.serve.worker`): a
request waiting for the model holds no server thread, one past the queue gets a 503, and a client that
disconnects, before its first chunk or mid-stream, cancels its generation at once.

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

import contextlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Sequence
from functools import partial
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from langchain_core.language_models.chat_models import BaseChatModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from apprentice.backends.local import LocalChatModel
from apprentice.errors import ApprenticeError, ModelUnavailableError
from apprentice.graphs import STRATEGIES
from apprentice.models import load_chat_model, model_error, parse_spec, supports_grammar
from apprentice.serve.body_limit import BodyLimit
from apprentice.serve.formats import response_format_grammar
from apprentice.serve.jobs import BadRequest, NoToolCall, strategy_run, tool_step
from apprentice.serve.protocol import (
    ChatRequest,
    chunk_body,
    completion_body,
    error_body,
    model_body,
    new_id,
    to_messages,
)
from apprentice.serve.step_reader import CallOut
from apprentice.serve.worker import (
    ClientGone,
    Generation,
    GenerationPool,
    Job,
    Overloaded,
)

__all__ = ["SERVER_TOOLS", "TRACE_HEADER", "create_app", "served_name"]

#: The tools a strategy model runs with unless ``serve --tools`` says otherwise: the calculator only, since
#: web_search reaches out of the machine and remember/recall/retrieve read or write the server user's data.
SERVER_TOOLS = ("calculator",)
#: The response header that carries a strategy run's trace id.
TRACE_HEADER = "x-apprentice-trace-id"


def served_name(spec: str) -> str:
    """The model id clients ask for: ``local``, an adapter's name, a file's stem, a remote model's name."""
    parsed = parse_spec(spec)
    if parsed.kind == "local" and parsed.target:
        return parsed.target.rstrip("/").rsplit("/", 1)[-1].removesuffix(".gguf")
    return parsed.target or parsed.kind


def _error(status: int, message: str, headers: dict[str, str] | None = None, **kw: Any) -> JSONResponse:
    return JSONResponse(error_body(message, **kw), status_code=status, headers=headers)


def _model_failure(exc: Exception) -> JSONResponse:
    """A model error as an OpenAI-style response: 400 for a too-long prompt, 503/500 otherwise."""
    error = model_error(exc) or exc
    if isinstance(error, NoToolCall):
        return _error(500, str(error), kind="server_error", code="tool_call_failed")
    if isinstance(error, ModelUnavailableError) and "does not fit" in str(error):
        return _error(400, str(error), code="context_length_exceeded")
    if isinstance(error, ApprenticeError):
        return _error(503, str(error), kind="server_error", code="model_unavailable")
    return _error(500, f"the model failed: {type(exc).__name__}: {exc}", kind="server_error")


async def _sse(generation: Generation, first: Any, cid: str, name: str,
               include_usage: bool) -> AsyncIterator[bytes]:
    extra = {"trace_id": generation.trace_id} if generation.trace_id else {}

    def event(body: dict[str, Any]) -> bytes:
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n".encode()

    yield event(chunk_body(cid, name, {"role": "assistant", "content": ""}, **extra))
    piece, calls = first, 0
    try:
        while piece is not None:
            if isinstance(piece, CallOut):  # OpenAI's shape: id, type and name first, then the arguments
                for delta in piece.deltas(calls):
                    yield event(chunk_body(cid, name, {"tool_calls": [delta]}, **extra))
                calls += 1
            else:
                yield event(chunk_body(cid, name, {"content": piece}, **extra))
            piece = await generation.next_piece()
    except Exception as exc:  # the response has started: the error goes in the stream
        failure = json.loads(_model_failure(exc).body)
        yield event(failure)
        yield b"data: [DONE]\n\n"
        return
    yield event(chunk_body(cid, name, {}, generation.finish_reason, **extra))
    if include_usage:
        yield event(chunk_body(cid, name, None, usage=generation.usage, **extra))
    yield b"data: [DONE]\n\n"


class _GenerationStream(StreamingResponse):
    """The SSE answer of one generation. However the response ends (finished, client gone, server
    stopping), the generation is cancelled, so nothing runs on for a reader who is not there."""

    def __init__(self, generation: Generation, first: Any, cid: str, name: str, include_usage: bool):
        super().__init__(_sse(generation, first, cid, name, include_usage), media_type="text/event-stream",
                         headers=_trace_header(generation))
        self.generation = generation

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.generation.cancel()


def _trace_header(generation: Generation) -> dict[str, str] | None:
    return {TRACE_HEADER: generation.trace_id} if generation.trace_id else None


def create_app(model: str | BaseChatModel, *, name: str | None = None, api_key: str | None = None,
               workers: int | None = None, max_queue: int = 64, max_body_bytes: int = 1 << 20,
               stall_s: float = 120.0, tools: Sequence[str] = SERVER_TOOLS) -> FastAPI:
    """The FastAPI app serving ``model`` (a spec, loaded now, or a ready chat model) as ``name``, and
    each strategy over it as ``name+STRATEGY``.

    Args:
        model: A model spec or a LangChain chat model.
        name: The model id clients use (default: from the spec, see :func:`served_name`).
        api_key: When set, every ``/v1`` request needs ``Authorization: Bearer <api_key>``.
        workers: Generations at once (default: 1 for a local model, which decodes one at a time; 8 else).
        max_queue: Requests that may wait for a worker; past that they are refused with 503.
        max_body_bytes: Largest request body accepted (413 past it, before the body is read).
        stall_s: ``/health`` says 503 ``stalled`` when a running generation is silent this long.
        tools: The tools strategy models run with (names from :data:`apprentice.tools.TOOL_NAMES`).
    """
    chat = load_chat_model(model) if isinstance(model, str) else model
    spec = model if isinstance(model, str) else getattr(model, "spec", None) or type(model).__name__
    name = name or (served_name(model) if isinstance(model, str) else str(spec))
    created = int(time.time())
    pool = GenerationPool(chat, workers=workers or (1 if isinstance(chat, LocalChatModel) else 8),
                          max_queue=max_queue, stall_s=stall_s)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            pool.shutdown()

    app = FastAPI(title="apprentice", summary=f"OpenAI-compatible endpoint for {spec}", lifespan=lifespan)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.state.served_name, app.state.pool = name, pool
    strategies = {f"{name}+{strategy}": strategy for strategy in STRATEGIES}
    _add_error_handlers(app)

    async def authorize(request: Request) -> None:  # async: nothing on the way in takes a worker thread
        if api_key is None:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), api_key.encode()):
            raise StarletteHTTPException(401, "Incorrect API key provided.")

    @app.get("/health")
    async def health() -> JSONResponse:
        status = pool.status()
        stalled = status.pop("stalled")
        return JSONResponse({"status": "stalled" if stalled else "ok", "model": name, **status},
                            status_code=503 if stalled else 200)

    @app.get("/v1/models", dependencies=[Depends(authorize)])
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [model_body(served, created) for served in (name, *strategies)]}

    @app.get("/v1/models/{model_id:path}", dependencies=[Depends(authorize)])
    async def retrieve_model(model_id: str):
        if model_id != name and model_id not in strategies:
            return _unknown_model(model_id, name)
        return model_body(model_id, created)

    @app.post("/v1/chat/completions", dependencies=[Depends(authorize)])
    async def chat_completions(body: ChatRequest, request: Request):
        strategy = strategies.get(body.model)
        if body.model != name and strategy is None:
            return _unknown_model(body.model, name)
        if refused := body.refusal():
            return _error(400, refused[1], param=refused[0])
        if strategy is None and body.strategy_options:
            return _error(400, f"strategy_options: only a strategy model (`{name}+react`...) takes options",
                          param="strategy_options")
        try:
            grammar = response_format_grammar(body.response_format)
        except ValueError as exc:
            return _error(400, str(exc), param="response_format")
        if grammar and (strategy is not None or body.tool_mode() != "none"):
            return _error(400, "response_format: json output applies to plain completions, not to tool calls "
                          "or a strategy model", param="response_format")
        if grammar and not supports_grammar(pool.chat):
            return _error(400, f"response_format: the served model `{name}` cannot constrain its output "
                          "(a llama.cpp model can: local, student, adapter:NAME)", param="response_format")
        try:
            if strategy is not None:
                job: Job = strategy_run(pool, body, strategy, spec=str(spec), tools=tools)
            elif body.tool_mode() != "none":
                job = tool_step(pool, body)
            else:
                job = partial(pool.complete, messages=to_messages(body.messages), request=body, grammar=grammar)
        except BadRequest as exc:
            return _error(400, str(exc), param=exc.param)
        except ValueError as exc:
            return _error(400, str(exc), param="messages")
        try:
            generation = pool.submit_job(job, body.max_completion_tokens or body.max_tokens)
        except Overloaded as exc:
            return _error(503, str(exc), headers={"Retry-After": "1"}, kind="server_error",
                          code="server_overloaded")
        return await _answer(generation, body, request)

    return app


def _unknown_model(model_id: str, name: str) -> JSONResponse:
    base, plus, strategy = model_id.rpartition("+")
    if plus and base == name:
        message = (f"The model `{model_id}` does not exist: there is no strategy '{strategy}'; this server "
                   f"serves `{name}` and `{name}+STRATEGY` for STRATEGY in {', '.join(STRATEGIES)}.")
    else:
        message = f"The model `{model_id}` does not exist; this server serves `{name}` and `{name}+STRATEGY`."
    return _error(404, message, param="model", code="model_not_found")


async def _answer(generation: Generation, body: ChatRequest, request: Request):
    """Wait for the model (watching the client), then answer whole or as a stream."""
    streaming = False
    try:
        first = await generation.next_piece(request.is_disconnected)  # a failure here is an HTTP error
        cid = new_id()
        if body.stream:
            streaming = True
            include = bool(body.stream_options and body.stream_options.include_usage)
            return _GenerationStream(generation, first, cid, body.model, include)
        pieces, piece = [], first
        while piece is not None:
            pieces.append(piece)
            piece = await generation.next_piece(request.is_disconnected)
        calls = [p.body() for p in pieces if isinstance(p, CallOut)]
        text = "".join(p for p in pieces if isinstance(p, str))
        extra = {"trace_id": generation.trace_id} if generation.trace_id else {}
        content = text or (None if calls else "")  # OpenAI's content is null beside tool calls
        return JSONResponse(completion_body(cid, body.model, content, generation.finish_reason, generation.usage,
                                            calls, **extra), headers=_trace_header(generation))
    except ClientGone:  # nobody reads this; the status is for the access log
        return _error(499, "the client closed the request")
    except Exception as exc:
        return _model_failure(exc)
    finally:
        if not streaming:  # a stream's response cancels it when it ends
            generation.cancel()


def _add_error_handlers(app: FastAPI) -> None:
    """Every error in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {401: "invalid_api_key", 404: "not_found", 405: "method_not_allowed",
                413: "request_too_large"}.get(exc.status_code)
        return _error(exc.status_code, str(exc.detail), headers=exc.headers, code=code)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        if first.get("type") == "json_invalid":
            reason = (first.get("ctx") or {}).get("error", "not JSON")
            where = first.get("loc", ())[1:]
            return _error(400, f"invalid JSON body: {reason}" + (f" (at character {where[0]})" if where else ""))
        param = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        reason = str(first.get("msg", "invalid request")).removeprefix("Value error, ")  # our validators' own words
        return _error(400, f"{param or 'body'}: {reason}", param=param)
