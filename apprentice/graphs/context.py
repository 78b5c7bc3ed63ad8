"""What every strategy graph gets at run time: the model, the allowed tools, and where to say what happened.

Graphs receive a :class:`RunContext` as LangGraph's run-scoped ``context`` (``Runtime[RunContext]``),
so nodes stay plain module-level functions. Nodes say what happened (a thought, a model call, a tool call, a
verdict) through :class:`TraceEvents`, as LangChain custom events to the run's callbacks; they write nothing.
The runner runs the graph with its recorder among the callbacks, and it writes the trace
(:mod:`apprentice.graphs.recording`).
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

from langchain_core.callbacks import CallbackManager, dispatch_custom_event
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.runnables.config import var_child_runnable_config
from langchain_core.tools import BaseTool

from apprentice.errors import ApprenticeError
from apprentice.graphs.config import StrategyConfig
from apprentice.traces import Step

__all__ = ["EventSink", "RunCancelled", "RunContext", "TraceEvents", "VerdictEvent", "collect"]


def collect(old: list | None, new: list | None) -> list:
    """State reducer of fanned-in results (samples, checks): append; ``None`` starts over (a new turn)."""
    return [] if new is None else [*(old or []), *new]


class RunCancelled(ApprenticeError):
    """Raised in a node, at its next model or tool call, once the run's ``cancelled`` event is set: the
    graph stops there and the runner records the run as ``cancelled`` (routers never look at the event)."""


#: Called with each step as it is recorded (the CLI prints it, the TUI shows it).
EventSink = Callable[[Step], None]

#: The open :meth:`TraceEvents.capture` blocks of this context, each (events, their steps, the tags it puts
#: into their data). A context variable, so a capture sees only what its own branch records: LangGraph
#: runs each ``Send`` branch and each node in a copy of the context it was started from.
_TAPS: ContextVar[tuple[tuple[TraceEvents, list[Step], dict[str, Any]], ...]] = ContextVar(
    "apprentice_taps", default=())


@dataclass(frozen=True)
class VerdictEvent:
    """A node's check of the run's answer (a verifier's verdict), for the trace's verdicts."""

    verifier: str
    correct: bool | None
    score: float | None
    reason: str = ""


class TraceEvents:
    """How a run's nodes say what happened: each step (and verdict) goes out as a LangChain custom event
    (:data:`TRACE_EVENT`) to the callbacks of the graph run, from whatever node, branch or sub-run made it.
    The graph holds no store: the runner passes a :class:`apprentice.graphs.recording.TraceRecorder` as a
    callback, and it writes the trace. A graph run some other way (``graph.invoke`` in a test) says the
    same things to no one, or to whatever callback it is given.

    Steps are numbered here, in the order they are said, and handed to the callbacks under the same lock, so
    they get them in that order: a live display of samples side by side waits its turn, which costs nothing
    next to a model call. What the nodes themselves read back is kept here as well: the steps of a
    :meth:`capture` block (a verifier reads a sub-run's tool work) and the model calls made so far (a
    search's budget).
    """

    def __init__(self) -> None:
        self._counter = itertools.count()
        self._lock = threading.Lock()
        self.calls = 0

    def record(self, kind: str, **fields: Any) -> Step:
        """Say that a step of ``kind`` (with these :class:`Step` fields) happened; returns it."""
        with self._lock:
            step = Step(idx=next(self._counter), kind=kind, **fields)
            for events, tap, tags in _TAPS.get():
                if events is self:
                    step.data = {**step.data, **tags} if tags else step.data  # a caller's dict stays as it was
                    tap.append(step)
            if kind == "llm":
                self.calls += 1
            _emit(step)
        return step

    def verdict(self, *, verifier: str, correct: bool | None, score: float | None, reason: str = "") -> None:
        """Say that a verifier checked the run's answer."""
        _emit(VerdictEvent(verifier, correct, score, reason))

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


#: The name of the LangChain custom events that carry a run's steps and verdicts.
TRACE_EVENT = "apprentice.trace"


def _emit(event: Step | VerdictEvent) -> None:
    """Dispatch ``event`` to the running graph's callbacks (LangChain's custom events: the node's own thread,
    so it arrives in order and before the node goes on); outside a graph run it goes nowhere. What a callback
    raises is the node's error."""
    config = var_child_runnable_config.get()
    if not config:  # not inside a graph run (or any runnable)
        return
    manager = config.get("callbacks")
    if isinstance(manager, CallbackManager) and manager.parent_run_id is not None:
        # inside a node the run's manager is at hand: what dispatch_custom_event would build again (~70 us)
        manager.on_custom_event(TRACE_EVENT, event, run_id=manager.parent_run_id)
    else:
        dispatch_custom_event(TRACE_EVENT, event)


@dataclass
class RunContext:
    """Run-scoped dependencies of a strategy graph.

    Attributes:
        model: the chat model in the seat.
        events: where nodes say what happened (steps, verdicts); the runner records them.
        tools: the run's allowed tools by name; nothing outside this set can be called.
        task: the task whose answer format, extractor and checker apply (may be None).
        max_steps: ReAct step limit; other strategies read their own knobs from ``config``.
        window: how many past messages of a thread go into the prompt.
        summarize: fold messages that leave the window into a running summary.
        config: the strategy's checked options (samples, breadth, depth, rounds, ...): an instance of
            its ``Strategy.config`` class, made by :func:`apprentice.graphs.registry.strategy_config`.
        constrain: grammar-constrained decoding: ``steps`` (whole ReAct steps and solver replies),
            ``answer`` (answers only) or ``off``; resolved by the runner (``auto`` never reaches a graph).
        cancelled: set to stop the run: the next model or tool call raises :class:`RunCancelled`.
        halt: set by the runner when the run cannot go on (its trace cannot be written); stops it as a cancel.
    """

    model: BaseChatModel
    events: TraceEvents = field(default_factory=TraceEvents)
    tools: dict[str, BaseTool] = field(default_factory=dict)
    task: Any = None
    max_steps: int = 6
    window: int = 8
    summarize: bool = False
    protocol: str = "auto"
    constrain: str = "off"
    config: StrategyConfig = field(default_factory=StrategyConfig)
    cancelled: threading.Event = field(default_factory=threading.Event)
    halt: threading.Event = field(default_factory=threading.Event)

    def record(self, kind: str, **fields: Any) -> Step:
        """Say that a step of ``kind`` happened (:meth:`TraceEvents.record`)."""
        return self.events.record(kind, **fields)

    def check_cancelled(self) -> None:
        """Raise :class:`RunCancelled` when the run has been cancelled (before each model and tool call)."""
        if self.cancelled.is_set() or self.halt.is_set():
            raise RunCancelled("the run was cancelled")

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
        self.check_cancelled()
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
        self.events.record(
            "llm", node=node, raw=message.text, tokens_in=usage.get("input_tokens", 0),
            tokens_out=usage.get("output_tokens", 0), latency_s=latency, data=data,
        )
        return message

    def score_choices(self, messages: Sequence[BaseMessage], choices: Sequence[str], *, node: str) -> dict[str, float]:
        """The run's model's probability of each of ``choices`` as its reply to ``messages`` (an engine that gives
        token scores: ``choice_probabilities``), recorded as a model call whose text is the likeliest choice."""
        self.check_cancelled()
        started = time.perf_counter()
        probabilities = self.model.choice_probabilities(list(messages), choices)
        latency = time.perf_counter() - started
        data: dict[str, Any] = {"probabilities": probabilities}
        if hasattr(self.model, "count_tokens") and hasattr(self.model, "render"):
            tokens_in = self.model.count_tokens(self.model.render(list(messages)))
        else:  # an engine that cannot count: estimate, say so (as call_model does)
            tokens_in, data["tokens_estimated"] = _estimate(" ".join(m.text for m in messages)), True
        self.events.record("llm", node=node, raw=max(probabilities, key=probabilities.get), tokens_in=tokens_in,
                           tokens_out=0, latency_s=latency, data=data)
        return probabilities

    def can_score(self) -> bool:
        """Whether the run's model gives token scores (:meth:`score_choices`)."""
        return bool(getattr(self.model, "supports_scores", False))

    def can_constrain(self, chat: BaseChatModel | None = None) -> bool:
        """Whether a grammar reaches ``chat`` (the run's model by default): its engine must support one."""
        from apprentice.models import supports_grammar

        return supports_grammar(chat or self.model)

    def grammar_for(self, what: str) -> bool:
        """Whether this run constrains ``what`` (``steps`` or ``answer``): ``steps`` constrains both."""
        return self.constrain == "steps" or (self.constrain == "answer" and what == "answer")


def _estimate(text: str) -> int:
    return max(1, round(len(text) / 4)) if text else 0
