"""What every strategy graph gets at run time: the model, the allowed tools, and the trace recorder.

Graphs receive a :class:`RunContext` as LangGraph's run-scoped ``context`` (``Runtime[RunContext]``),
so nodes stay plain module-level functions and the recorder is the one place that writes steps.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.tools import BaseTool

from apprentice.graphs.config import StrategyConfig
from apprentice.traces import Step, TraceStore

__all__ = ["EventSink", "Recorder", "RunContext", "collect"]


def collect(old: list | None, new: list | None) -> list:
    """State reducer of fanned-in results (samples, checks): append; ``None`` starts over (a new turn)."""
    return [] if new is None else [*(old or []), *new]

#: Called with each step as it is recorded (the CLI prints it, the TUI shows it).
EventSink = Callable[[Step], None]

#: The open :meth:`Recorder.capture` blocks of this context, each (recorder, its steps, the tags it puts
#: into their data). A context variable, so a capture sees only what its own branch records: LangGraph
#: runs each ``Send`` branch and each node in a copy of the context it was started from.
_TAPS: ContextVar[tuple[tuple[Recorder, list[Step], dict[str, Any]], ...]] = ContextVar("apprentice_taps", default=())


class Recorder:
    """Writes the steps of one run to the trace store, in order, from any thread.

    Steps reach the sink at once (live display) and the store in one transaction per graph
    super-step: the runner calls :meth:`flush` after each one, and before closing the run.
    """

    def __init__(self, store: TraceStore | None, run_id: str, sink: EventSink | None = None) -> None:
        self.store = store
        self.run_id = run_id
        self.sink = sink
        self._counter = itertools.count()
        self._lock = threading.Lock()
        self._pending: list[Step] = []
        self._flushed_at = 0.0
        self.tokens_in = 0
        self.tokens_out = 0
        self.calls = 0

    def record(self, kind: str, **fields: Any) -> Step:
        """Append a step of ``kind`` with the given :class:`Step` fields; returns it."""
        with self._lock:
            step = Step(idx=next(self._counter), kind=kind, **fields)
            for recorder, tap, tags in _TAPS.get():
                if recorder is self:
                    step.data = {**step.data, **tags} if tags else step.data  # a caller's dict stays as it was
                    tap.append(step)
            if kind == "llm":
                self.tokens_in += step.tokens_in
                self.tokens_out += step.tokens_out
                self.calls += 1
            if self.store is not None:
                self._pending.append(step)
        if self.sink is not None:
            self.sink(step)
        return step

    @contextmanager
    def capture(self, **tags: Any) -> Iterator[list[Step]]:
        """Collect the steps recorded inside the ``with`` block, by this thread of work only: a sub-run
        that runs beside others (react-sc's samples) gets its own tool work, for a verifier to read.
        ``tags`` go into each such step's ``data`` (``sample=2``), so the stored trace keeps which
        sub-run wrote it."""
        steps: list[Step] = []
        token = _TAPS.set((*_TAPS.get(), (self, steps, tags)))
        try:
            yield steps
        finally:
            _TAPS.reset(token)

    def flush(self, *, force: bool = True) -> None:
        """Write the steps recorded since the last flush.

        Unforced flushes happen at most every 0.25 s: with a real model every step takes longer
        than that and is still written as it happens; with a zero-latency one commits batch up.
        """
        with self._lock:
            now = time.monotonic()
            if not force and now - self._flushed_at < 0.25:
                return
            self._flushed_at = now
            pending, self._pending = self._pending, []
        if pending and self.store is not None:
            self.store.add_steps(self.run_id, pending)


@dataclass
class RunContext:
    """Run-scoped dependencies of a strategy graph.

    Attributes:
        model: the chat model in the seat.
        recorder: writes this run's steps.
        tools: the run's allowed tools by name; nothing outside this set can be called.
        task: the task whose answer format, extractor and checker apply (may be None).
        max_steps: ReAct step limit; other strategies read their own knobs from ``config``.
        window: how many past messages of a thread go into the prompt.
        summarize: fold messages that leave the window into a running summary.
        config: the strategy's checked options (samples, breadth, depth, rounds, ...): an instance of
            its ``Strategy.config`` class, made by :func:`apprentice.graphs.registry.strategy_config`.
        constrain: grammar-constrained decoding: ``steps`` (whole ReAct steps and solver replies),
            ``answer`` (answers only) or ``off``; resolved by the runner (``auto`` never reaches a graph).
        cancelled: set to stop the run at the next node boundary.
    """

    model: BaseChatModel
    recorder: Recorder
    tools: dict[str, BaseTool] = field(default_factory=dict)
    task: Any = None
    max_steps: int = 6
    window: int = 8
    summarize: bool = False
    protocol: str = "auto"
    constrain: str = "off"
    config: StrategyConfig = field(default_factory=StrategyConfig)
    cancelled: threading.Event = field(default_factory=threading.Event)

    def call_model(
        self,
        messages: Sequence[BaseMessage],
        *,
        node: str,
        stop: list[str] | None = None,
        model: BaseChatModel | None = None,
        grammar: str | None = None,
        **params: Any,
    ) -> AIMessage:
        """Call the model (streamed, so tokens reach LangGraph's ``messages`` stream) and record it.

        ``params`` go to the model call (``temperature``, ``max_tokens``, ``seed``). ``grammar`` (GBNF,
        :mod:`apprentice.agents.grammar`) constrains the reply where the model's engine can; the
        recorded call says whether it was.
        """
        chat = model or self.model
        constrained = bool(grammar) and self.can_constrain(chat)
        if constrained:
            params["grammar"] = grammar
        started = time.perf_counter()
        merged: AIMessageChunk | None = None
        for chunk in chat.stream(list(messages), stop=stop, **params):
            merged = chunk if merged is None else merged + chunk
        latency = time.perf_counter() - started
        message = AIMessage(
            content=merged.content if merged else "",
            tool_calls=merged.tool_calls if merged else [],
            usage_metadata=merged.usage_metadata if merged else None,
            id=merged.id if merged else None,
        )
        usage = message.usage_metadata or {}
        data: dict[str, Any] = {"tool_calls": message.tool_calls} if message.tool_calls else {}
        if constrained:
            data["constrained"] = True
        if not usage:  # a server that streams no usage: estimate (~4 characters a token), say so
            usage = {"input_tokens": _estimate(" ".join(m.text for m in messages)),
                     "output_tokens": _estimate(message.text)}
            data["tokens_estimated"] = True
        self.recorder.record(
            "llm", node=node, raw=message.text, tokens_in=usage.get("input_tokens", 0),
            tokens_out=usage.get("output_tokens", 0), latency_s=latency, data=data,
        )
        return message


    def can_constrain(self, chat: BaseChatModel | None = None) -> bool:
        """Whether a grammar reaches ``chat`` (the run's model by default): its engine must support one."""
        from apprentice.models import supports_grammar

        return supports_grammar(chat or self.model)

    def grammar_for(self, what: str) -> bool:
        """Whether this run constrains ``what`` (``steps`` or ``answer``): ``steps`` constrains both."""
        return self.constrain == "steps" or (self.constrain == "answer" and what == "answer")


def _estimate(text: str) -> int:
    return max(1, round(len(text) / 4)) if text else 0
