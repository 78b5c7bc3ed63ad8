"""Generation off the event loop: the model runs in threads of its own behind a bounded queue.

A request waiting for the model holds no server thread (it awaits an asyncio queue), so a busy model
can never starve ``/health`` or an open stream of the threads they need; a request past the queue's
bound is refused at once (:class:`Overloaded`, a 503); and a generation whose client has left is
cancelled, before it starts or at its next token, so the model is free again at once.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import BaseMessage

from apprentice.errors import ModelUnavailableError
from apprentice.serve.protocol import ChatRequest, Usage

__all__ = ["ClientGone", "Generation", "GenerationPool", "Job", "Overloaded"]

#: How often a request waiting for the model checks whether its client is still there.
POLL_S = 0.25
_END = object()


class Overloaded(Exception):
    """Every worker is busy and the queue is full: the request is refused, not parked."""


class ClientGone(Exception):
    """The client disconnected while its request waited; the generation has been cancelled."""


class Generation:
    """One completion: pieces travel from a worker thread to the event loop; usage is tallied on the way.

    A piece is text, or a tool call (:class:`apprentice.serve.step_reader.CallOut`). The other fields are
    written by the worker thread and read by the event loop only after the pieces that precede them.
    """

    def __init__(self, pool: GenerationPool, limit: int | None) -> None:
        self._pool = pool
        self._loop = asyncio.get_running_loop()
        self._events: asyncio.Queue[Any] = asyncio.Queue()
        self._done, self._checked = False, time.monotonic()
        self.cancelled = threading.Event()
        self.usage, self.limit = Usage(), limit
        #: what to run; dropped on cancel, so a cancelled request waiting in the executor's queue holds no
        #: body (a client that submits and leaves over and over must not grow memory)
        self.work: Job | None = None
        #: set by the job: ``finish_reason`` when it is not the token count's (``tool_calls``), and the id of
        #: the trace a strategy run left
        self.finish: str | None = None
        self.trace_id: str | None = None

    def cancel(self) -> None:
        """Stop this generation before it starts or at its next token; harmless once it has ended."""
        self._pool.cancel(self)

    async def next_piece(self, client_gone: Callable[[], Awaitable[bool]] | None = None) -> Any:
        """The next piece (text or a tool call), or None at the end; raises the model's error.

        Args:
            client_gone: polled every :data:`POLL_S` while waiting; when it says yes the generation
                is cancelled and :class:`ClientGone` raised.
        """
        while not self._done:
            if client_gone is not None and time.monotonic() - self._checked >= POLL_S:
                self._checked = time.monotonic()  # checked by the clock: pieces may never pause long enough
                if await client_gone():
                    self.cancel()
                    raise ClientGone
            try:
                item = await asyncio.wait_for(self._events.get(), POLL_S) if client_gone else \
                    await self._events.get()
            except TimeoutError:
                continue
            if item is _END:
                self._done = True
            elif isinstance(item, BaseException):
                self._done = True
                raise item
            else:
                return item
        return None

    @property
    def finish_reason(self) -> str:
        """The job's own reason if it set one, else ``length`` when the token cap was reached, else ``stop``."""
        if self.finish:
            return self.finish
        return "length" if self.limit and self.usage.completion_tokens >= self.limit else "stop"

    def put(self, item: Any) -> None:
        """Hand ``item`` (a piece, an error, the end) to the event loop; from any thread."""
        try:
            self._loop.call_soon_threadsafe(self._events.put_nowait, item)
        except RuntimeError:  # the loop has closed: the server is gone, nobody is listening
            self.cancelled.set()

    def tally(self, chunk: Any) -> bool:
        """Add one streamed chunk's token counts; whether it had any."""
        meta = getattr(chunk, "usage_metadata", None)
        if meta:
            self.usage.prompt_tokens += meta.get("input_tokens", 0)
            self.usage.completion_tokens += meta.get("output_tokens", 0)
        return bool(meta)


#: What a worker runs for one request: it puts the pieces on the generation as they come.
Job = Callable[[Generation], None]


class GenerationPool:
    """A few dedicated threads running generations, fed by a queue of bounded length.

    Args:
        chat: The model.
        workers: Generations at once (1 for a local model, which decodes one at a time anyway).
        max_queue: Generations that may wait for a worker; past that, :meth:`submit` refuses.
        stall_s: A running generation that produces nothing for this long is reported as stalled.
    """

    def __init__(self, chat: BaseChatModel, *, workers: int = 1, max_queue: int = 64,
                 stall_s: float = 120.0) -> None:
        self.chat, self.workers, self.max_queue, self.stall_s = chat, workers, max_queue, stall_s
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="apprentice-generate")
        self._lock = threading.Lock()
        self._waiting: set[Generation] = set()
        self._running: set[Generation] = set()
        self._progress = time.monotonic()

    def submit(self, messages: list[BaseMessage], request: ChatRequest) -> Generation:
        """Queue a plain completion of ``messages`` (call from the event loop).

        Raises:
            Overloaded: ``workers + max_queue`` generations are already running or waiting.
        """
        return self.submit_job(partial(self.complete, messages=messages, request=request),
                               request.max_completion_tokens or request.max_tokens)

    def submit_job(self, job: Job, limit: int | None = None) -> Generation:
        """Queue ``job`` (a tool step, a strategy run) under the same bound as completions.

        Raises:
            Overloaded: ``workers + max_queue`` generations are already running or waiting.
        """
        generation = Generation(self, limit)
        with self._lock:
            if len(self._waiting) + len(self._running) >= self.workers + self.max_queue:
                raise Overloaded(f"the server is busy ({len(self._running)} running, {len(self._waiting)} "
                                 "queued); retry shortly")
            self._waiting.add(generation)
        generation.work = job
        try:
            self._executor.submit(self._run, generation)
        except RuntimeError as exc:  # the pool is shutting down: no slot may stay taken
            with self._lock:
                self._waiting.discard(generation)
            raise Overloaded("the server is shutting down") from exc
        return generation

    def cancel(self, generation: Generation) -> None:
        """Cancel ``generation``; one still waiting leaves the queue at once."""
        generation.cancelled.set()
        with self._lock:
            if generation in self._waiting:
                generation.work = None
            self._waiting.discard(generation)

    def status(self) -> dict[str, Any]:
        """Queue depth and whether the model is stalled (running, yet silent for ``stall_s``)."""
        with self._lock:
            running, queued = len(self._running), len(self._waiting)
            silent = time.monotonic() - self._progress
        return {"running": running, "queued": queued, "workers": self.workers, "max_queue": self.max_queue,
                "stalled": bool(running) and silent > self.stall_s}

    def touch(self) -> None:
        """Note progress (a strategy run's step), so a long run that moves is not reported stalled."""
        self._progress = time.monotonic()

    def shutdown(self) -> None:
        """Cancel everything and let the threads end (each within a token)."""
        with self._lock:
            pending = [*self._waiting, *self._running]
        for generation in pending:
            self.cancel(generation)
            generation.put(ModelUnavailableError("the server is shutting down"))
        self._executor.shutdown(wait=False, cancel_futures=True)

    def complete(self, generation: Generation, *, messages: list[BaseMessage], request: ChatRequest,
                 grammar: str | None = None) -> None:
        """The plain job: a completion of ``messages``, its text passed on as it comes; ``grammar`` (the
        request's ``response_format``) shapes it."""
        params = {**request.call_params(), **({"grammar": grammar} if grammar else {})}
        for piece in self.stream(generation, messages, stop=request.stop_list(), params=params):
            generation.put(piece)

    def stream(self, generation: Generation, messages: list[BaseMessage], *, stop: list[str] | None,
               params: dict[str, Any]) -> Iterator[str]:
        """One model call for ``generation``, from a worker thread: its text pieces, tallied; it ends early
        (and frees the model) once the generation is cancelled."""
        text, reported = "", False
        stream = self.chat.stream(messages, stop=stop, **params)
        try:
            for chunk in stream:
                if generation.cancelled.is_set():
                    return
                self._progress = time.monotonic()
                reported = generation.tally(chunk) or reported
                if chunk.text:
                    text += chunk.text
                    yield chunk.text
        finally:
            close = getattr(stream, "close", None)
            if close is not None:  # here and now, so a local model's decode stops and frees its lock
                close()
        if not reported:  # a backend without usage: count what we can
            counter = getattr(self.chat, "count_tokens", None)
            generation.usage.completion_tokens += counter(text) if counter else len(text.split())

    def _run(self, generation: Generation) -> None:
        with self._lock:
            self._waiting.discard(generation)
            work, generation.work = generation.work, None
            if generation.cancelled.is_set() or work is None:
                generation.put(_END)
                return
            self._running.add(generation)
            self._progress = time.monotonic()
        try:
            work(generation)
        except Exception as exc:  # the model's error goes to the request, which answers with it
            generation.put(exc)
        finally:
            with self._lock:
                self._running.discard(generation)
            generation.put(_END)
