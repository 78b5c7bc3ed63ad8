"""Run one question through a strategy graph and leave its trace: the one entry point that the
CLI, the TUI, batch jobs, eval and distillation all call."""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel

from apprentice.agents.grammar import CONSTRAIN_MODES
from apprentice.errors import ApprenticeError, StoreError
from apprentice.graphs.context import EventSink, RunCancelled, RunContext
from apprentice.graphs.recording import TraceRecorder
from apprentice.graphs.registry import compiled_graph, strategy_config, turn_input
from apprentice.graphs.threads import open_checkpointer
from apprentice.models import load_chat_model, model_error, supports_grammar
from apprentice.secrets import redact, redact_obj
from apprentice.tools import ToolContext, get_tools
from apprentice.traces import TraceStore, open_store
from apprentice.traces.otel import export_live

__all__ = ["RunResult", "run_question", "DEFAULT_TOOLS"]

#: Tools a run may use unless told otherwise.
DEFAULT_TOOLS = ("calculator", "web_search", "retrieve", "remember", "recall")


@dataclass
class RunResult:
    """What a run produced; the full record is ``TraceStore.get(run_id)``."""

    run_id: str
    thread_id: str
    strategy: str
    model: str
    answer: str | None
    status: str
    error: str | None = None
    prediction: str | None = None
    correct: bool | None = None
    score: float | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    model_calls: int = 0
    latency_s: float = 0.0
    state: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The stable ``--json`` shape."""
        return {k: v for k, v in self.__dict__.items() if k != "state"}


def run_question(
    question: str,
    *,
    strategy: str = "react",
    model: str | BaseChatModel = "local",
    model_spec: str | None = None,
    task: Any = None,
    item: Any = None,
    thread_id: str | None = None,
    tools: Sequence[str] | None = None,
    tool_context: ToolContext | None = None,
    store: TraceStore | None = None,
    checkpointer: Any = None,
    sink: EventSink | None = None,
    cancel: threading.Event | None = None,
    options: dict[str, Any] | None = None,
    max_steps: int = 6,
    window: int = 8,
    summarize: bool = False,
    protocol: str = "auto",
    constrain: str = "auto",
    meta: dict[str, Any] | None = None,
    run_id: str | None = None,
) -> RunResult:
    """Answer ``question`` with ``strategy`` and record the run.

    Args:
        question: what to answer (already framed by the task, when there is one).
        strategy: a name from :data:`apprentice.graphs.STRATEGIES`.
        model: a model spec, or a ready chat model (then ``model_spec`` names it in traces).
        task: the task (answer format, extractor, checker); with ``item`` the answer is checked.
        item: the task item being solved (its gold answer and id go into the trace).
        thread_id: continue this conversation (a new thread id is made when None).
        tools: names of the tools the run may call (default :data:`DEFAULT_TOOLS`).
        sink: called with every step as it is recorded.
        cancel: set it to stop the run: at its next model or tool call, or the next super-step of its graph.
        options: the strategy's settings (``{"samples": 5}``; strings are converted), checked against its
            config class before any model loads: a name it does not take, or a value it cannot use, is
            an ApprenticeError that lists the valid ones.
        constrain: grammar-constrained decoding (:data:`apprentice.agents.grammar.CONSTRAIN_MODES`):
            ``auto`` is ``steps`` where the model's engine takes a grammar (llama.cpp), else ``off``;
            the run's meta records the mode that applied.
        run_id: the trace's id (default: a new one); a run already stored under it is replaced (a batch item
            run again after a crash leaves one trace, not two).

    Raises:
        ApprenticeError: bad input, or a model that cannot be reached; the run is still
            recorded, with status ``error``.
    """
    question = (question or "").strip()
    if not question:
        raise ApprenticeError("the question is empty")
    config = strategy_config(strategy, options)
    if constrain not in CONSTRAIN_MODES:
        raise ApprenticeError(f"unknown --constrain {constrain!r}; one of {', '.join(CONSTRAIN_MODES)}")
    chat = load_chat_model(model) if isinstance(model, str) else model
    constrain = ("steps" if constrain == "auto" else constrain) if supports_grammar(chat) else "off"
    if constrain != "off":
        meta = {**(meta or {}), "constrain": constrain}
    if getattr(task, "name", None) == "jsonl":  # a question file's answer instruction: harvest writes what was asked
        meta = {**(meta or {}), "answer_kind": task.kind}
    spec = model_spec or (model if isinstance(model, str) else getattr(model, "spec", type(model).__name__))
    allowed = {t.name: t for t in get_tools(DEFAULT_TOOLS if tools is None else tools, tool_context)}
    store = store if store is not None else open_store()
    saver = checkpointer if checkpointer is not None else _thread_saver(thread_id)
    thread_id = thread_id or uuid.uuid4().hex[:12]
    run_id = store.start_run(
        strategy=strategy, model=spec, question=question, thread_id=thread_id,
        task=getattr(task, "name", None), item_id=getattr(item, "id", None),
        gold=getattr(item, "answer", None), meta=meta, run_id=run_id,
    )
    halt = threading.Event()  # this run's own stop: its trace cannot be written (the caller's cancel may be shared)
    recorder = TraceRecorder(store, run_id, _redacting(sink), stop=halt)
    ctx = RunContext(
        model=chat, task=task, tools=allowed,
        max_steps=max_steps, window=window, summarize=summarize, protocol=protocol,
        constrain=constrain, config=config, cancelled=cancel or threading.Event(), halt=halt,
    )
    started = time.perf_counter()
    try:
        state = _drive(compiled_graph(strategy, saver), turn_input(strategy, question), thread_id, ctx, recorder)
        if recorder.failure is not None:  # the trace could not be written (or a step shown): the run's error
            raise recorder.failure
    except BaseException as exc:
        recorder.flush()
        error = model_error(exc) or exc
        status = "cancelled" if isinstance(exc, KeyboardInterrupt) else "error"
        store.finish_run(run_id, answer=None, status=status, error=f"{type(exc).__name__}: {exc}")
        export_live(store, run_id)
        if error is not exc:
            raise error from exc
        raise
    recorder.flush()
    cancelled = ctx.cancelled.is_set() and state.get("answer") is None
    answer = state.get("answer")
    store.finish_run(run_id, answer=answer, status="cancelled" if cancelled else "ok",
                     tree=state.get("tree"), meta=state.get("run_meta"))
    result = RunResult(  # what callers show or write (ask, chat, batch files, eval reports): redacted as the trace is
        run_id=run_id, thread_id=thread_id, strategy=strategy, model=spec,
        answer=None if answer is None else redact(str(answer)),
        status="cancelled" if cancelled else "ok", tokens_in=recorder.tokens_in,
        tokens_out=recorder.tokens_out, model_calls=recorder.calls,
        latency_s=time.perf_counter() - started, state=redact_obj(state),
    )
    agreement = (state.get("run_meta") or {}).get("agreement")
    if agreement is not None and answer is not None:  # a vote's own verdict: no gold answer needed
        store.add_verdict(run_id, verifier="vote", correct=None, score=float(agreement),
                          reason=f"the answer's share of the {state['run_meta'].get('samples', '?')} samples' vote")
    if task is not None and answer is not None:
        _check(result, store, task, item)
    export_live(store, run_id)  # the trace is complete: to an OTLP endpoint, if one is set
    return result


#: threads.db files already reported unusable by this process (one warning each, not one per batch item).
_WARNED: set[str] = set()


def _thread_saver(thread_id: str | None) -> Any:
    """The checkpointer of ``threads.db``. A run that continues no thread does without one when the file
    cannot be used (one warning line): only a run that names its thread needs it."""
    try:
        return open_checkpointer()
    except StoreError as exc:
        if thread_id is not None:
            raise
        if str(exc) not in _WARNED:
            _WARNED.add(str(exc))
            print(f"warning: this run is not saved as a thread: {exc}", file=sys.stderr, flush=True)
        return None


def _redacting(sink: EventSink | None) -> EventSink | None:
    """``sink`` fed redacted copies of the steps: what a terminal or the chat shows holds no secret."""
    if sink is None:
        return None

    def show(step: Any) -> None:
        sink(redact_obj(step))
    return show


def _drive(graph: Any, turn: dict[str, Any], thread_id: str, ctx: RunContext,
           recorder: TraceRecorder) -> dict[str, Any]:
    """Stream the graph to its end (or to a cancel) and return the final state.

    The trace is written from the graph's events: ``recorder`` is a callback of the run, so every step and
    verdict said by a node (or a sub-run inside one) reaches it, and what it holds is written after each
    super-step. A cancel stops the stream at the next super-step, or at the next model or tool call inside
    one (:class:`RunCancelled`); the state so far is returned.
    """
    limit = ctx.config.recursion_limit or max(8 * ctx.max_steps + 50, 200)
    config = {"configurable": {"thread_id": thread_id}, "recursion_limit": limit, "callbacks": [recorder]}
    state: dict[str, Any] = {}
    with suppress(RunCancelled):  # stopped at a call inside a node: the state so far is the run's
        for state in graph.stream(turn, config, context=ctx, stream_mode="values"):  # noqa: B007 - the last is kept
            recorder.flush(force=False)
            if ctx.cancelled.is_set() or ctx.halt.is_set():
                break
    return state


def _check(result: RunResult, store: TraceStore, task: Any, item: Any) -> None:
    """Extract the task's answer and, when the item has a gold answer, record the verdict."""
    result.prediction = task.extract(result.answer)
    if item is None or not task.can_check(item):
        return
    verdict = task.check(item, result.prediction)
    result.correct, result.score = verdict.correct, verdict.score
    store.add_verdict(result.run_id, verifier=verdict.checker, correct=verdict.correct,
                      score=verdict.score, reason=verdict.reason)
