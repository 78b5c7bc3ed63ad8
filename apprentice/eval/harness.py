"""The evaluation harness: run a (strategy x model) grid over a task's items and report it.

Every item runs through :func:`apprentice.graphs.run_question`, so each one leaves a trace; the
grid cell's key (task, item id, strategy, model, options hash) goes into the run's meta, and a
re-run skips items that already have a finished run with that key (resume). With ``workers`` > 1 the items run
on that many threads, each on its own llama.cpp context (a replica) where the model is one; the report is the
same, in the same order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import queue
import shlex
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apprentice.errors import ApprenticeError
from apprentice.eval.plot import plot_cells
from apprentice.eval.report import (
    CellStats,
    ItemResult,
    cell_stats,
    write_json,
    write_markdown,
)

__all__ = ["EvalConfig", "EvalReport", "cell_key", "options_hash", "progress_bar", "run_eval", "strategy_options",
           "write_report"]

#: Tools an eval run may call unless told otherwise (no network, no shared memory between items).
EVAL_TOOLS = ("calculator",)


@dataclass
class EvalConfig:
    """What to evaluate.

    Attributes:
        task: task name (``arith``, ``game24``, ``svamp``, ...).
        strategies: strategy names, each a column of the grid.
        models: model specs, each a row of the grid.
        data: data file or root (``None``: the task's default).
        split, seed, limit: item selection, as :meth:`apprentice.tasks.Task.load`.
        options: strategy options (samples, breadth, depth, rounds, verifier, ...), shared by all cells.
        task_options: options of the task itself (e.g. arith ``level``).
        report_dir: where report.json, report.md and report.png go.
        tools: tools the runs may call.
        max_steps: ReAct step limit.
        constrain: grammar-constrained decoding (``auto``, ``off``, ``steps``, ``answer``), as ``run_question``.
        command: the command line, for the report.
        workers: items run at once, on as many threads; a llama.cpp model gets one replica per worker, each with
            ``cpu_threads() // workers`` threads (at least one). Other models are shared by the workers.
    """

    task: str
    strategies: Sequence[str] = ("cot",)
    models: Sequence[str] = ("local",)
    data: str | None = None
    split: str | None = None
    seed: int = 0
    limit: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    task_options: dict[str, Any] = field(default_factory=dict)
    report_dir: Path | None = None
    tools: Sequence[str] = EVAL_TOOLS
    max_steps: int = 6
    constrain: str = "auto"
    command: str = ""
    workers: int = 1


#: One item of one cell to run: (model spec, strategy, item).
_Job = tuple[str, str, Any]


@dataclass
class EvalReport:
    """What an eval produced: one summary per cell, every item, and the files written."""

    cells: list[CellStats]
    items: dict[str, list[ItemResult]]
    files: dict[str, Path]
    header: dict[str, Any]


def strategy_options(strategy: str, options: dict[str, Any]) -> dict[str, Any]:
    """The part of ``options`` that ``strategy`` takes (its config class's fields), checked: only these reach
    its runs and enter its cells' resume keys.

    Raises:
        ApprenticeError: a value the strategy cannot use, or a name no strategy takes.
    """
    from apprentice.graphs.registry import options_for

    return options_for(strategy, options)


def options_hash(options: dict[str, Any], tools: Sequence[str], max_steps: int, constrain: str = "off") -> str:
    """A short stable hash of everything besides (task, item, strategy, model) that shapes a run (a run
    without a grammar hashes as runs did before grammars existed, so their results still resume)."""
    shaped = {"options": {k: v for k, v in options.items() if v is not None},
              "tools": sorted(tools), "max_steps": max_steps}
    if constrain != "off":
        shaped["constrain"] = constrain
    blob = json.dumps(shaped, sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:10]


def cell_key(task: str, item_id: str, strategy: str, model: str, opts_hash: str) -> str:
    """The resume key of one item of one grid cell. Its model is ``registry.versioned_spec``: the shipped student's
    version, an adapter's registration and prompt, so results of other weights under the same spec never resume."""
    from apprentice.training.registry import versioned_spec

    return f"{task}|{item_id}|{strategy}|{versioned_spec(model)}|{opts_hash}"


def run_eval(config: EvalConfig, *, progress: bool = True, models: dict[str, Any] | None = None) -> EvalReport:
    """Run the grid, write the report files and return the report.

    Args:
        config: the grid and its settings.
        progress: show a tqdm progress bar on stderr.
        models: ready chat models by spec (tests pass scripted ones); others are loaded by spec.

    Raises:
        ApprenticeError: unknown task, strategy or model, or data that cannot be read.
    """
    from apprentice.graphs import STRATEGIES
    from apprentice.tasks import get_task
    from apprentice.traces import open_store

    unknown = [s for s in config.strategies if s not in STRATEGIES]
    if unknown:
        raise ApprenticeError(f"unknown strategy {unknown[0]!r}; choose from: {', '.join(STRATEGIES)}")
    if config.workers < 1:
        raise ApprenticeError(f"workers must be at least 1, got {config.workers}")
    task = get_task(config.task, **config.task_options)
    items = task.load(config.data, limit=config.limit, split=config.split, seed=config.seed)
    hashes = {s: options_hash(strategy_options(s, config.options), config.tools, config.max_steps, config.constrain)
              for s in config.strategies}  # checks every strategy's options before any model loads
    max_tokens = int(config.options.get("max_tokens") or 256)
    chats = {spec: (models or {}).get(spec) or _load(spec, max_tokens) for spec in config.models}
    replicas = _replicas(chats, config.workers)
    store = open_store()
    opts_hash = options_hash(config.options, config.tools, config.max_steps, config.constrain)

    def run(job: _Job, worker: int, cancel: threading.Event | None) -> ItemResult:
        spec, strategy, item = job
        key = cell_key(task.name, item.id, strategy, spec, hashes[strategy])
        return (_resumed(store, task, item, strategy, spec, key)
                or _run_item(config, task, item, strategy, spec, replicas[spec][worker], store, key, cancel=cancel))

    jobs = [(spec, strategy, item) for spec in config.models for strategy in config.strategies for item in items]
    bar = progress_bar(len(jobs), progress)
    rows = _run_jobs(jobs, run, config.workers, bar)
    bar.close()
    results: dict[str, list[ItemResult]] = {}
    for (spec, strategy, _), row in zip(jobs, rows, strict=True):
        results.setdefault(f"{strategy} / {spec}", []).append(row)
    cells = [cell_stats(*name.split(" / ", 1), rows) for name, rows in results.items()]
    header = _header(config, task, opts_hash)
    files = write_report(config.report_dir or _default_dir(task.name), header, cells, results)
    return EvalReport(cells=cells, items=results, files=files, header=header)


def _replicas(chats: dict[str, Any], workers: int) -> dict[str, list[Any]]:
    """The chat model of each worker, by spec (llama.cpp models on a context of their own each)."""
    from apprentice.backends.llamacpp import replicas

    return {spec: replicas(chat, workers) for spec, chat in chats.items()}


def _run_jobs(jobs: list[_Job], run: Callable[[_Job, int, threading.Event | None], ItemResult], workers: int,
              bar: Any) -> list[ItemResult]:
    """Every job's row, in the jobs' order. One worker runs them here, one after the other; more run them on as
    many threads, each holding a worker number (its replicas) while it runs one. When a run raises, or on Ctrl-C,
    the jobs not started are dropped and the runs in flight stop at their next step before this raises."""
    if workers == 1:
        rows = []
        for job in jobs:
            bar.set_description(_label(job))
            rows.append(run(job, 0, None))
            bar.update(1)
        return rows
    free: queue.SimpleQueue[int] = queue.SimpleQueue()
    for worker in range(workers):
        free.put(worker)
    cancel = threading.Event()

    def one(job: _Job) -> ItemResult | None:
        if cancel.is_set():  # taken up as the pool shut down: not started, so no cancelled trace is left behind
            return None
        worker = free.get()
        try:
            return run(job, worker, cancel)
        except BaseException:
            cancel.set()  # now, before this thread takes up another job (the caller hears of it only later)
            raise
        finally:
            free.put(worker)

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="eval")
    try:
        futures = {pool.submit(one, job): job for job in jobs}
        for future in as_completed(futures):
            future.result()
            bar.set_description(_label(futures[future]))
            bar.update(1)
        return [future.result() for future in futures]
    finally:
        cancel.set()
        pool.shutdown(wait=True, cancel_futures=True)


def _label(job: _Job) -> str:
    spec, strategy, item = job
    return f"{strategy} {spec} {item.id}"[:40]


def _load(spec: str, max_tokens: int) -> Any:
    """Load a model by spec; ``max_tokens`` caps calls that set no limit of their own (ReAct)."""
    from apprentice.models import load_chat_model

    return load_chat_model(spec, max_tokens=max_tokens)


def progress_bar(total: int, enabled: bool | None, *, leave: bool = True):
    """A tqdm bar of items done of ``total`` on stderr; ``enabled`` None: shown only where stderr is a terminal
    (a log file or a pipe gets no bar lines)."""
    from tqdm import tqdm

    return tqdm(total=total, disable=None if enabled is None else not enabled, file=sys.stderr, unit="item",
                dynamic_ncols=True, leave=leave)


def _resumed(store, task: Any, item: Any, strategy: str, model: str, key: str) -> ItemResult | None:
    """The item's finished run from an earlier eval with the same cell key, if there is one; the question, the
    gold answer and the checker must match too (two question files of one's own may both number their items 1, 2,
    3..., and one file may be run again with another ``--answer-kind``)."""
    from apprentice.secrets import redact

    for run in store.query(task=task.name, item_id=item.id, strategy=strategy, model=model, status="ok"):
        gold = redact(str(item.answer)) if item.answer is not None else None  # the store keeps both redacted
        same = run.question == redact(item.question) and run.gold == gold and run.checker in (None, task.checker)
        if run.meta.get("eval_cell") == key and same:
            return ItemResult(item_id=item.id, run_id=run.id, status=run.status, correct=run.correct,
                              score=run.score, prediction=task.extract(run.answer) if run.answer else None,
                              tokens_in=run.tokens_in, tokens_out=run.tokens_out, model_calls=run.model_calls,
                              latency_s=run.latency_s or 0.0, resumed=True)
    return None


def _run_item(config: EvalConfig, task: Any, item: Any, strategy: str, spec: str, chat: Any, store: Any,
              key: str, meta: dict[str, Any] | None = None, *, cancel: threading.Event | None = None) -> ItemResult:
    """One item of one cell, traced with its resume ``key`` (and ``meta``); a failed run is an error row.
    Setting ``cancel`` stops the run at its next step."""
    from apprentice.graphs import run_question

    options = strategy_options(strategy, config.options)
    meta = {**(meta or {}), "eval_cell": key, "eval": {"strategy": strategy, "model": spec, "options": options}}
    try:
        result = run_question(item.question, strategy=strategy, model=chat, model_spec=spec, task=task, item=item,
                              tools=list(config.tools), store=store, options=options,
                              max_steps=config.max_steps, constrain=config.constrain, meta=meta, cancel=cancel)
    except ApprenticeError as exc:
        return ItemResult(item_id=item.id, run_id=None, status="error", correct=False, score=0.0, prediction=None,
                          tokens_in=0, tokens_out=0, model_calls=0, latency_s=0.0, error=str(exc))
    return ItemResult(item_id=item.id, run_id=result.run_id, status=result.status, correct=result.correct,
                      score=result.score, prediction=result.prediction, tokens_in=result.tokens_in,
                      tokens_out=result.tokens_out, model_calls=result.model_calls, latency_s=result.latency_s)


def _header(config: EvalConfig, task: Any, opts_hash: str) -> dict[str, Any]:
    level = getattr(task, "level", None)  # the level the task ran at, given or by default
    task_options = {"level": level, **config.task_options} if level is not None else dict(config.task_options)
    from apprentice.training.registry import versioned_spec

    return {"task": task.name, "strategies": list(config.strategies), "models": list(config.models),
            "model_versions": {spec: versioned_spec(spec) for spec in config.models},
            "data": config.data, "split": config.split, "seed": config.seed, "limit": config.limit,
            "options": {k: v for k, v in config.options.items() if v is not None},
            "task_options": task_options, "tools": list(config.tools), "options_hash": opts_hash,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "command": config.command or " ".join(shlex.quote(a) for a in sys.argv)}


def _default_dir(task: str) -> Path:
    from apprentice.config import data_path

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return data_path("reports") / f"eval-{task}-{stamp}"


def write_report(directory: Path, header: dict[str, Any], cells: list[CellStats],
                 items: dict[str, list[ItemResult]]) -> dict[str, Path]:
    """Write report.json, report.md and report.png into ``directory``; returns their paths."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ApprenticeError(f"cannot create report directory {directory}: {exc.strerror or exc}") from exc
    files = {"json": directory / "report.json", "md": directory / "report.md", "png": directory / "report.png"}
    plot_cells(cells, files["png"], f"{header['task']}: accuracy and time per item")
    write_json(files["json"], header, cells, items)
    write_markdown(files["md"], header, cells, items, files["png"].name)
    return files
