"""One item through ``run_question``, with retries for transient model errors: the unit of work that
the async runner and the Ray actors both execute, so both paths produce the same records."""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel

from apprentice.batch.inputs import BatchItem
from apprentice.errors import StoreError
from apprentice.models import load_chat_model
from apprentice.specs import parse_spec

__all__ = ["CLIENT_RETRIES", "RetryPolicy", "WorkerConfig", "is_transient", "job_identity", "load_batch_model",
           "process_item"]

_TRANSIENT_STATUS = {408, 409, 425, 429}


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt ``k`` waits up to ``base * 2**k`` (capped)."""

    retries: int = 3
    base_s: float = 0.5
    cap_s: float = 20.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        return random.uniform(0, min(self.cap_s, self.base_s * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class WorkerConfig:
    """What every item of a job shares (picklable, so Ray workers get the same settings)."""

    strategy: str = "react"
    model_spec: str = "local"
    max_steps: int = 6
    protocol: str = "auto"
    constrain: str = "auto"
    tools: tuple[str, ...] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    retry: RetryPolicy = RetryPolicy()
    meta: dict[str, Any] = field(default_factory=dict)
    #: names the job's traces: attempt ``k`` of item ``i`` is the run ``stable_id(run_key, i/k)``, so an item run
    #: again (the job resumed after a crash) replaces its trace instead of adding one (set by ``run_batch``)
    run_key: str | None = None
    #: what made each record (``job_identity``), written into it; a resume checks the output's records against it
    #: (set by ``run_batch``)
    identity: dict[str, str] | None = None


def job_identity(config: WorkerConfig) -> dict[str, str]:
    """What a record's answer depends on, as the output's ``model``, ``strategy`` and ``settings`` fields: the model
    spec with its weights' version (``registry.versioned_spec``: the shipped student's version, an adapter's
    registration and prompt), the strategy, and a hash of its options, tools, step limit, protocol and grammar."""
    from apprentice.training.registry import versioned_spec

    shaped = {"options": {k: v for k, v in config.options.items() if v is not None},
              "tools": sorted(config.tools) if config.tools is not None else None, "max_steps": config.max_steps,
              "protocol": config.protocol, "constrain": config.constrain}
    settings = hashlib.sha1(json.dumps(shaped, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return {"model": versioned_spec(config.model_spec), "strategy": config.strategy, "settings": settings}


#: Retries of one HTTP call by the OpenAI client itself (exponential backoff honouring ``Retry-After``).
CLIENT_RETRIES = 3


def load_batch_model(spec: str) -> BaseChatModel:
    """The chat model for a job. An OpenAI client retries each failed call itself (its backoff honours the
    server's ``Retry-After``), so a rate limit in the fifth call of a ReAct run repeats that call, not the
    four before it; the job's item retries (``--retries``) restart a run only once the client gave up."""
    if parse_spec(spec).kind == "openai":
        return load_chat_model(spec, max_retries=CLIENT_RETRIES)
    return load_chat_model(spec)


def is_transient(exc: BaseException) -> bool:
    """True for errors worth retrying: rate limits, 5xx, timeouts, dropped connections.

    ``run_question`` re-raises client errors as ``ModelUnavailableError`` ``from`` the original,
    so the whole ``__cause__``/``__context__`` chain is inspected.
    """
    import openai

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (openai.RateLimitError, openai.APIConnectionError,
                                openai.InternalServerError, TimeoutError, ConnectionError)):
            return True
        status = getattr(current, "status_code", None)
        if isinstance(status, int) and (status >= 500 or status in _TRANSIENT_STATUS):
            return True
        current = current.__cause__ or current.__context__
    return False


def process_item(
    entry: BatchItem,
    *,
    model: BaseChatModel,
    task: Any,
    config: WorkerConfig,
    cancel: threading.Event | None = None,
    store: Any = None,
) -> dict[str, Any] | None:
    """Run one item to an output record; ``None`` when ``cancel`` stopped it (it is not done).

    Every attempt leaves its own trace in the trace store (``store``, default the process's); the record names
    the last one.

    Raises:
        StoreError: the trace store (or the threads beside it) failed: no item can keep its trace, so the job stops.
    """
    from apprentice.graphs import run_question
    from apprentice.tasks.base import stable_id

    record = {**_base_record(entry), **(config.identity or {})}
    if entry.item is None:
        return {**record, "status": "invalid", "error": entry.error, "attempts": 0}
    started = time.perf_counter()
    attempt = 0
    while True:
        attempt += 1
        try:
            result = run_question(
                entry.item.question, strategy=config.strategy, model=model, model_spec=config.model_spec,
                task=task, item=entry.item, tools=config.tools, cancel=cancel, options=config.options,
                max_steps=config.max_steps, protocol=config.protocol, constrain=config.constrain,
                meta={**config.meta, "batch_line": entry.line}, store=store,
                run_id=stable_id("run", f"{config.run_key}/{entry.id}/{attempt}")[4:] if config.run_key else None,
            )
        except Exception as exc:  # per-item failures are recorded; the job goes on
            failure = _store_failure(exc, store)
            if failure is not None:  # ...but not without its traces: the job stops, and a resume finishes it
                raise failure from exc
            if cancel is not None and cancel.is_set():
                return None
            transient = is_transient(exc)
            if transient and attempt <= config.retry.retries:
                time.sleep(config.retry.delay(attempt))
                continue
            error = f"{type(exc).__name__}: {exc}"
            return {**record, "status": "error", "error": error, "attempts": attempt,
                    "latency_s": round(time.perf_counter() - started, 4)}
        break
    if result.status == "cancelled":
        return None
    return {
        **record, "answer": result.answer, "prediction": result.prediction, "correct": result.correct,
        "score": result.score, "status": result.status, "error": result.error, "run_id": result.run_id,
        "tokens_in": result.tokens_in, "tokens_out": result.tokens_out,
        "latency_s": round(time.perf_counter() - started, 4), "attempts": attempt,
    }


def _store_failure(exc: BaseException, store: Any) -> StoreError | None:
    """The store's failure behind ``exc`` (anywhere in its cause chain), as one line naming the store; None when
    the item failed for a reason of its own."""
    from apprentice.db import store_error, store_url

    url = store.url if store is not None else store_url()
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        failure = current if isinstance(current, StoreError) else store_error(url, current)
        if failure is not None:
            return failure
        current = current.__cause__ or current.__context__
    return None


def _base_record(entry: BatchItem) -> dict[str, Any]:
    item = entry.item
    return {"id": entry.id, "question": entry.question, "answer": None, "prediction": None,
            "gold": item.answer if item else None, "correct": None, "score": None, "status": "error",
            "error": None, "run_id": None, "tokens_in": 0, "tokens_out": 0, "latency_s": 0.0,
            "attempts": 0}
