"""The same batch job on a Ray cluster: items spread over actors, each with its own model client.

The driver keeps the job's semantics: it reads the input, skips what the output already holds,
keeps at most ``concurrency`` items in flight (``ray.wait``), and writes every record itself,
exactly as the local path does. Actors run :func:`~apprentice.batch.worker.process_item`, so
records, retries and traces are identical.

Traces reach the one store whatever node runs an item: with PostgreSQL (``APPRENTICE_DB``) the workers write to
it directly (the URL travels in the runtime environment without its password: a node finds that in
``PGPASSFILE`` or ``PGPASSWORD``, a local runtime inherits the driver's); with SQLite every worker keeps its runs in
a scratch file of its own and sends them back with each record, and the driver, the only writer, stores them
before the record. Run ids are fixed per item and attempt, so an item run again on resume leaves one trace.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from typing import TYPE_CHECKING, Any

from apprentice.batch.inputs import BatchItem, TaskConfig
from apprentice.batch.worker import WorkerConfig, load_batch_model, process_item
from apprentice.config import home
from apprentice.db import store_url
from apprentice.errors import ApprenticeError

if TYPE_CHECKING:
    from apprentice.batch.job import BatchJob
    from apprentice.batch.output import OutputFile
    from apprentice.batch.progress import Tracker

__all__ = ["BatchActor", "run_on_ray", "ray_env"]

#: Environment variables the workers need to behave like the driver (never secrets: a cluster
#: node brings its own ``OPENAI_API_KEY`` and database password; ``PGPASSFILE`` is only a path).
_PASSED_ENV = ("APPRENTICE_HOME", "APPRENTICE_THREADS", "APPRENTICE_DATA", "HF_HUB_OFFLINE",
               "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM", "PGPASSFILE")


class BatchActor:
    """A Ray worker: builds its model and task once, then runs items (threaded, ``max_concurrency``).

    With ``collect`` (the driver's store is SQLite) its traces, threads and memory go to a scratch folder of
    its own, and each item's runs go back to the driver with its record."""

    def __init__(self, worker: WorkerConfig, inputs: TaskConfig, collect: bool = False) -> None:
        self.worker = worker
        self.task = inputs.build()
        self.model = load_batch_model(worker.model_spec)
        self.store = None
        if collect:
            from apprentice.traces import open_store

            self.scratch = tempfile.mkdtemp(prefix="apprentice-worker-")
            os.environ["APPRENTICE_DB"] = f"sqlite:///{self.scratch}/traces.db"  # this actor's process only
            self.store = open_store()

    def run(self, entry: BatchItem) -> tuple[dict[str, Any] | None, list]:
        """One item to its output record, and its runs when they go back to the driver."""
        record = process_item(entry, model=self.model, task=self.task, config=self.worker, store=self.store)
        if self.store is None or entry.item is None:
            return record, []
        runs = [self.store.get(r.id) for r in self.store.query(item_id=entry.item.id, newest_first=False)]
        for run in runs:
            self.store.delete(run.id)
        return record, runs

    def close(self) -> None:
        """Remove the scratch store (the driver calls it when the job is done)."""
        if self.store is not None:
            self.store.close()
            shutil.rmtree(self.scratch, ignore_errors=True)


def ray_env() -> dict[str, str]:
    """The runtime environment's variables: the data directory, offline switches, and a PostgreSQL store's
    URL without its password."""
    env = {name: os.environ[name] for name in _PASSED_ENV if os.environ.get(name)}
    env["APPRENTICE_HOME"] = str(home())
    url = store_url()
    if not url.is_sqlite:
        env["APPRENTICE_DB"] = url.public()
    return env


def _connect(address: str | None, workers: int) -> bool:
    """Connect to ``address`` or start a local runtime; True when we started it (and must stop it)."""
    import ray

    if ray.is_initialized():
        return False
    runtime_env = {"env_vars": ray_env()}
    try:
        if address:
            ray.init(address=address, runtime_env=runtime_env, log_to_driver=False, configure_logging=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, runtime_env=runtime_env,
                     log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = address or "a local Ray runtime"
        raise ApprenticeError(f"cannot start Ray on {where}: {exc}") from exc
    return True


def run_on_ray(
    todo: list[BatchItem],
    job: BatchJob,
    *,
    out: OutputFile,
    tracker: Tracker,
    address: str | None = None,
    workers: int | None = None,
) -> None:
    """Run ``todo`` on Ray, writing each record to ``out`` as it comes back."""
    try:
        import ray
    except ImportError:
        raise ApprenticeError("--ray needs the ray package: pip install 'ray[default]'") from None

    workers = max(1, min(workers or 2, job.concurrency, len(todo)))
    url = store_url()
    if url.password and not address:  # a local runtime's workers inherit it; it never enters Ray's runtime env
        os.environ.setdefault("PGPASSWORD", url.password)
    started = _connect(address, workers)
    try:
        per_actor = math.ceil(job.concurrency / workers)
        actor_class = ray.remote(BatchActor).options(
            num_cpus=1, max_concurrency=per_actor, scheduling_strategy="SPREAD",
        )
        actors = [actor_class.remote(job.worker, job.inputs, url.is_sqlite) for _ in range(workers)]
        _drive(todo, actors, job.concurrency, out, tracker)
        ray.get([actor.close.remote() for actor in actors])
    except ray.exceptions.RayActorError as exc:
        raise ApprenticeError(f"a Ray worker died: {exc}") from exc
    finally:
        if started:
            ray.shutdown()


def _drive(todo: list[BatchItem], actors: list[Any], limit: int, out: OutputFile, tracker: Tracker) -> None:
    """Keep ``limit`` items in flight, on the least busy actor; write results as they finish (an item's runs
    sent back by its worker first: a crash between the two runs the item again, and its trace is replaced)."""
    import ray

    from apprentice.traces import open_store

    load = [0] * len(actors)
    in_flight: dict[Any, int] = {}
    queue = iter(todo)
    exhausted = False
    while in_flight or not exhausted:
        while not exhausted and len(in_flight) < limit:
            entry = next(queue, None)
            if entry is None:
                exhausted = True
                break
            slot = load.index(min(load))
            load[slot] += 1
            in_flight[actors[slot].run.remote(entry)] = slot
        if not in_flight:
            break
        ready, _ = ray.wait(list(in_flight), num_returns=1)
        for ref in ready:
            load[in_flight.pop(ref)] -= 1
            record, runs = ray.get(ref)
            if runs:
                open_store().put_runs(runs)
            if record is not None:
                out.write(record)
                tracker.update(record)
