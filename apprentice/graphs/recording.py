"""The trace of a run, written from what its graph says happened.

Nodes say what happened as LangChain custom events (:class:`apprentice.graphs.context.TraceEvents`); the runner
runs the graph with a :class:`TraceRecorder` among its callbacks, the one place that writes a run's steps and
verdicts to the store and shows steps to a live sink (the CLI's printer, the chat). Routers and nodes never touch
the store. (Callbacks rather than LangGraph's ``custom`` stream: a stream consumer gets events on another thread,
and that mode runs every node in a worker thread, ~0.8 ms a step more on this 2-core machine.)
"""

from __future__ import annotations

import threading
import time
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler

from apprentice.graphs.context import TRACE_EVENT, EventSink, VerdictEvent
from apprentice.traces import Step, TraceStore

__all__ = ["TraceRecorder"]

#: Unforced flushes happen at most this often (seconds).
FLUSH_EVERY_S = 0.25


class TraceRecorder(BaseCallbackHandler):
    """Listens to one run's events (a LangChain callback, called in the thread of the node that says them):
    steps reach the sink at once (live display) and the store in one transaction per graph super-step (the
    runner calls :meth:`flush` after each one, and before closing the run); verdicts go to the store as
    they come. Counts the run's model calls and tokens."""

    # only the custom events: every other callback (chains, model tokens) is not the trace's
    ignore_llm = ignore_chain = ignore_agent = ignore_retriever = ignore_chat_model = ignore_retry = True

    def __init__(self, store: TraceStore | None, run_id: str, sink: EventSink | None = None,
                 stop: threading.Event | None = None) -> None:
        """``stop`` is set when the trace cannot be written (the run's cancel event: the run stops at its next
        model or tool call, and the runner raises :attr:`failure`)."""
        super().__init__()
        self._lock = threading.Lock()
        self.stop = stop
        #: what went wrong writing the trace or showing a step (the first error), raised by the runner
        self.failure: Exception | None = None
        self.store = store
        self.run_id = run_id
        self.sink = sink
        self._pending: list[Step] = []
        self._flushed_at = 0.0
        self.tokens_in = 0
        self.tokens_out = 0
        self.calls = 0

    def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
        """A custom event of the graph run: the trace's own (:data:`TRACE_EVENT`) are taken."""
        if name != TRACE_EVENT or self.failure is not None:
            return
        try:
            self.handle(data)
        except Exception as exc:  # noqa: BLE001 - kept for the runner: LangChain would log it and go on
            self.failure = exc
            if self.stop is not None:
                self.stop.set()

    def handle(self, event: Any) -> None:
        """Take one event; what is not a step or a verdict is not the trace's."""
        if isinstance(event, Step):
            self._step(event)
        elif isinstance(event, VerdictEvent) and self.store is not None:
            self.store.add_verdict(self.run_id, verifier=event.verifier, correct=event.correct,
                                   score=event.score, reason=event.reason)

    def _step(self, step: Step) -> None:
        with self._lock:
            if step.kind == "llm":
                self.tokens_in += step.tokens_in
                self.tokens_out += step.tokens_out
                self.calls += 1
            if self.store is not None:
                self._pending.append(step)
        if self.sink is not None:
            self.sink(step)

    def flush(self, *, force: bool = True) -> None:
        """Write the steps received since the last flush.

        Unforced flushes happen at most every 0.25 s: with a real model every step takes longer than that
        and is still written as it happens; with a zero-latency one commits batch up.
        """
        with self._lock:
            now = time.monotonic()
            if not force and now - self._flushed_at < FLUSH_EVERY_S:
                return
            self._flushed_at = now
            pending, self._pending = self._pending, []
        if pending and self.store is not None:
            self.store.add_steps(self.run_id, pending)
