"""The same batch job on a Ray cluster: items spread over actors, each with its own model client.

The driver keeps the job's semantics: it reads the input, skips what the output already holds,
keeps at most ``concurrency`` items in flight (``ray.wait``), and writes every record itself,
exactly as the local path does. Actors run :func:`~apprentice.batch.worker.process_item`, so
records, retries and traces are identical. Workers write traces to the same ``APPRENTICE_HOME``
path (passed in the runtime environment); on a multi-node cluster that path is per node unless
it is on shared storage.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

from apprentice.batch.inputs import BatchItem, TaskConfig
from apprentice.batch.worker import WorkerConfig, process_item
from apprentice.config import home
from apprentice.errors import ApprenticeError

if TYPE_CHECKING:
    from apprentice.batch.job import BatchJob
    from apprentice.batch.output import OutputFile
    from apprentice.batch.progress import Tracker

__all__ = ["BatchActor", "run_on_ray", "ray_env"]

#: Environment variables the workers need to behave like the driver (never secrets: a cluster
#: node brings its own ``OPENAI_API_KEY``).
_PASSED_ENV = ("APPRENTICE_HOME", "APPRENTICE_THREADS", "APPRENTICE_DATA", "HF_HUB_OFFLINE",
               "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM")


class BatchActor:
    """A Ray worker: builds its model and task once, then runs items (threaded, ``max_concurrency``)."""

    def __init__(self, worker: WorkerConfig, inputs: TaskConfig) -> None:
        from apprentice.batch.job import load_batch_model

        self.worker = worker
        self.task = inputs.build()
        self.model = load_batch_model(worker.model_spec)

    def run(self, entry: BatchItem) -> dict[str, Any] | None:
        """One item to its output record."""
        return process_item(entry, model=self.model, task=self.task, config=self.worker)


def ray_env() -> dict[str, str]:
    """The runtime environment's variables: the data directory and offline switches."""
    env = {name: os.environ[name] for name in _PASSED_ENV if os.environ.get(name)}
    env["APPRENTICE_HOME"] = str(home())
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
    started = _connect(address, workers)
    try:
        per_actor = math.ceil(job.concurrency / workers)
        actor_class = ray.remote(BatchActor).options(
            num_cpus=1, max_concurrency=per_actor, scheduling_strategy="SPREAD",
        )
        actors = [actor_class.remote(job.worker, job.inputs) for _ in range(workers)]
        _drive(todo, actors, job.concurrency, out, tracker)
    except ray.exceptions.RayActorError as exc:
        raise ApprenticeError(f"a Ray worker died: {exc}") from exc
    finally:
        if started:
            ray.shutdown()


def _drive(todo: list[BatchItem], actors: list[Any], limit: int, out: OutputFile, tracker: Tracker) -> None:
    """Keep ``limit`` items in flight, on the least busy actor; write results as they finish."""
    import ray

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
            record = ray.get(ref)
            if record is not None:
                out.write(record)
                tracker.update(record)
