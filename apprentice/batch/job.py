"""A batch job: every line of a JSONL file through ``run_question``, with bounded concurrency, and
a resumable output file. ``run_batch`` is the one entry point (the CLI and the Ray path share it).

Concurrency: ``run_question`` is synchronous (a LangGraph sync graph streaming through blocking
model calls), so ``concurrency`` asyncio workers each hand one item at a time to a thread pool of
the same size. HTTP models are shared across threads (the OpenAI client is thread-safe); local
llama.cpp models serialise their calls with a lock; trace writes are serialised by the store.
"""

from __future__ import annotations

import asyncio
import fcntl
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel

from apprentice.batch.inputs import BatchItem, TaskConfig, read_items
from apprentice.batch.output import OutputFile, load_done
from apprentice.batch.progress import BatchSummary, Tracker
from apprentice.batch.worker import WorkerConfig, job_identity, load_batch_model, process_item
from apprentice.errors import ApprenticeError, DataError

__all__ = ["BatchJob", "run_batch", "load_batch_model", "pending_items"]


@dataclass(frozen=True)
class BatchJob:
    """Everything that defines a job; the same job started again resumes where it stopped (another model, weights,
    strategy or settings into the same output is one error line: its records name what made them).

    Attributes:
        input: The JSONL file of questions (only ever read).
        output: The JSONL file of results (appended to; repaired on resume).
        inputs: How lines become items (task, or field names).
        worker: Strategy, model spec, retries: what each item runs with.
        concurrency: How many items are in flight at once.
        progress: Show a progress bar on stderr.
    """

    input: Path
    output: Path
    inputs: TaskConfig = field(default_factory=TaskConfig)
    worker: WorkerConfig = field(default_factory=WorkerConfig)
    concurrency: int = 4
    progress: bool = False


def pending_items(job: BatchJob, task: Any) -> tuple[list[BatchItem], list[dict[str, Any]], int]:
    """(items still to run, ``ok`` records already in the output, number of input items)."""
    if job.concurrency < 1:
        raise ApprenticeError(f"--concurrency must be at least 1, got {job.concurrency}")
    if Path(job.input).resolve() == Path(job.output).resolve():
        raise ApprenticeError("--out must not be the input file (the input is never modified)")
    items = read_items(job.input, job.inputs, task)
    done = load_done(job.output)
    _check_same_job(job, [done[entry.id] for entry in items if entry.id in done])
    todo = [entry for entry in items if entry.id not in done]
    # records of ids the input no longer has are kept in the file but are not this job's progress
    return todo, [done[entry.id] for entry in items if entry.id in done], len(items)


def _check_same_job(job: BatchJob, done: list[dict[str, Any]]) -> None:
    """A resume goes on only with what wrote the input's finished records: results of another model (other weights
    under the same spec included), strategy or settings would stand beside this job's as if they were its own.
    Records that do not name their job (written before records did) are taken as this job's."""
    identity = job.worker.identity or job_identity(job.worker)
    for name, value in identity.items():
        other = [str(record[name]) for record in done if record.get(name) not in (None, value)]
        if other:
            raise ApprenticeError(
                f"{job.output} holds {len(other)} result(s) of another job ({name} {', '.join(sorted(set(other)))} "
                f"there, {value} here); write this job to another --out, or remove that file to run every item again")


def run_batch(
    job: BatchJob,
    *,
    model: BaseChatModel | None = None,
    ray: bool = False,
    ray_address: str | None = None,
    ray_workers: int | None = None,
) -> BatchSummary:
    """Run (or resume) ``job`` and return its summary.

    Args:
        job: The job.
        model: A ready chat model to share across threads (default: built from the job's spec).
            Not used on Ray, where every worker builds its own from the spec.
        ray: Run the items on a Ray cluster instead of local threads.
        ray_address: The cluster (``None`` starts a local Ray runtime).
        ray_workers: How many Ray actors (model clients) to start (default 2).

    Raises:
        ApprenticeError: Bad arguments, a malformed input file, or a model that cannot be loaded.
    """
    task = job.inputs.build()
    if job.worker.run_key is None:  # one trace per item and attempt, also when the job is resumed
        job = replace(job, worker=replace(job.worker, run_key=str(Path(job.output).resolve())))
    if job.worker.identity is None:  # every record names what made it, so a resume can tell
        job = replace(job, worker=replace(job.worker, identity=job_identity(job.worker)))
    with _exclusive(Path(job.output)):
        todo, done_before, total = pending_items(job, task)
        tracker = Tracker(total, done_before, output=str(job.output), show=job.progress)
        try:
            _execute(job, todo, task, tracker, model=model, ray=ray, ray_address=ray_address, ray_workers=ray_workers)
        finally:
            summary = tracker.close()
    return summary


@contextmanager
def _exclusive(output: Path) -> Iterator[None]:
    """One job per output file at a time (``OUT.jsonl.lock``; the OS drops it if the process dies)."""
    lock_path = output.with_name(output.name + ".lock")
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = lock_path.open("w")
    except OSError as exc:
        raise DataError(f"cannot write {output}: {exc.strerror or exc}") from exc
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ApprenticeError(f"another batch job is writing {output}; wait for it or stop it") from None
        try:
            yield
        finally:
            lock_path.unlink(missing_ok=True)


def _execute(job: BatchJob, todo: list[BatchItem], task: Any, tracker: Tracker, *, model: BaseChatModel | None,
             ray: bool, ray_address: str | None, ray_workers: int | None) -> None:
    with OutputFile(job.output) as out:
        if todo and ray:
            from apprentice.batch.ray_runner import run_on_ray

            run_on_ray(todo, job, out=out, tracker=tracker, address=ray_address, workers=ray_workers)
        elif todo:
            chat = model if model is not None else load_batch_model(job.worker.model_spec)
            asyncio.run(_run_threads(todo, job, chat, task, out, tracker))


async def _run_threads(
    todo: list[BatchItem], job: BatchJob, model: BaseChatModel, task: Any, out: OutputFile, tracker: Tracker
) -> None:
    """``concurrency`` workers pull items from one queue; records are written as each finishes."""
    loop = asyncio.get_running_loop()
    cancel = threading.Event()
    queue: Iterator[BatchItem] = iter(todo)
    run_one = partial(process_item, model=model, task=task, config=job.worker, cancel=cancel)

    async def worker() -> None:
        for entry in queue:  # one shared iterator: each item goes to exactly one worker
            record = await loop.run_in_executor(pool, partial(run_one, entry))
            if record is not None:
                out.write(record)
                tracker.update(record)

    workers = min(job.concurrency, len(todo))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="batch") as pool:
        try:
            await asyncio.gather(*(worker() for _ in range(workers)))
        finally:
            cancel.set()  # on Ctrl-C, runs still in flight stop at their next node
