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

On a cluster every node keeps its own home. A node that dies takes its actors with it: their items go back to the
queue and run on the others (a new actor takes the dead one's place where the cluster has room), so the job goes on;
a store that fails stops it, with what it has written kept for a resume.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import shutil
import socket
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
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
#: node brings its own ``OPENAI_API_KEY`` and database password).
_PASSED_ENV = ("APPRENTICE_THREADS", "APPRENTICE_DATA", "HF_HUB_OFFLINE",
               "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM")
#: Paths on the driver's machine, passed to a local runtime only: a cluster's nodes keep their own.
_LOCAL_ENV = ("APPRENTICE_HOME", "PGPASSFILE")
#: How long the driver waits for a first actor to start before it gives up (a cluster without a free CPU).
_START_TIMEOUT_S = 300.0
#: How long a cluster's address gets to answer at all.
_REACH_TIMEOUT_S = 10.0
#: How long the actors get to remove their scratch stores at the end.
_CLOSE_TIMEOUT_S = 30.0
#: The name of an actor's scratch folder, before its process id.
_SCRATCH = "apprentice-worker-"


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

            _sweep_scratch()
            self.scratch = tempfile.mkdtemp(prefix=f"{_SCRATCH}{os.getpid()}-")
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


def _sweep_scratch() -> None:
    """Remove the scratch folders of actors that died without closing them (a killed driver's, a lost job's)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{_SCRATCH}*-*"):
        pid = folder.name[len(_SCRATCH):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def ray_env(cluster: bool = False) -> dict[str, str]:
    """The runtime environment's variables: the data directory, offline switches, and a PostgreSQL store's
    URL without its password. On a cluster (``cluster``) every node keeps its own home and password file (``~/.pgpass``
    or its ``PGPASSFILE``): the driver's are paths on the driver's machine."""
    names = _PASSED_ENV if cluster else _PASSED_ENV + _LOCAL_ENV
    env = {name: os.environ[name] for name in names if os.environ.get(name)}
    if not cluster:
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
    runtime_env = {"env_vars": ray_env(cluster=bool(address))}
    if address:
        _check_reachable(address)
    try:
        with _quiet_stderr():
            _init(ray, address, workers, runtime_env)
    except (ConnectionError, RuntimeError, ValueError, ray.exceptions.RayError) as exc:
        where = address or "a local Ray runtime"
        raise ApprenticeError(f"cannot start Ray on {where}: {_first_line(exc)}") from exc
    return True


def _check_reachable(address: str) -> None:
    """An address where nothing answers is one line within seconds (Ray itself retries it for minutes, silently)."""
    host, _, port = address.rpartition(":")
    if address == "auto" or "://" in address or not port.isdigit():
        return  # Ray finds the cluster, or says what is wrong with the address
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=_REACH_TIMEOUT_S).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ApprenticeError(f"cannot reach a Ray cluster at {address} ({reason}); start its head there "
                              f"(ray start --head --port {port}) or give --ray the head's address") from None


def _init(ray: Any, address: str | None, workers: int, runtime_env: dict[str, Any]) -> None:
    if address:
        ray.init(address=address, runtime_env=runtime_env, log_to_driver=False, configure_logging=False)
    else:
        ray.init(num_cpus=workers, include_dashboard=False, runtime_env=runtime_env, log_to_driver=False,
                 configure_logging=False)


def _log_path() -> Path:
    """``logs/ray.log`` in the home: what Ray writes while a job connects and runs, kept out of stdout and stderr."""
    path = home() / "logs" / "ray.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def _ray_log() -> Iterator[Any]:
    """The log (:func:`_log_path`) open for what Ray's driver prints or logs during a job (its logger's warnings,
    "listen_error_messages: ...", would otherwise reach stderr through Python's last resort)."""
    ray_logger = logging.getLogger("ray")
    with _log_path().open("a", encoding="utf-8") as log:
        handler, propagate = logging.StreamHandler(log), ray_logger.propagate
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        ray_logger.addHandler(handler)
        ray_logger.propagate = False
        try:
            yield log
        finally:
            ray_logger.removeHandler(handler)
            ray_logger.propagate = propagate


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Ray's C++ client writes every retry of a refused connection to file descriptor 2 itself (no logging setting
    reaches it before the connection): while connecting, that goes to the Ray log too; a failure is one line."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with _log_path().open("ab") as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def run_on_ray(
    todo: list[BatchItem],
    job: BatchJob,
    *,
    out: OutputFile,
    tracker: Tracker,
    address: str | None = None,
    workers: int | None = None,
) -> None:
    """Run ``todo`` on Ray, writing each record to ``out`` as it comes back.

    Raises:
        StoreError: the store failed under a worker or the driver (the job stops; what is written stays).
        ApprenticeError: Ray cannot start, or no worker is left to run the items.
    """
    try:
        import ray
    except ImportError:
        raise ApprenticeError("--ray needs the ray package: pip install 'ray[default]'") from None

    workers = max(1, min(workers or 2, job.concurrency, len(todo)))
    url = store_url()
    if url.password and not address:  # a local runtime's workers inherit it; it never enters Ray's runtime env
        os.environ.setdefault("PGPASSWORD", url.password)
    # Ray's driver prints the cluster's error messages ("The node with node id ... has been marked dead") to stdout
    # whatever log_to_driver says: stdout is the job's output (--json's summary) and stderr its one error line, so
    # they go to a log in the home (the job already recovers from what they report: a lost node's items run again)
    with _ray_log() as log, contextlib.redirect_stdout(log):
        started = _connect(address, workers)
        try:
            actor_class = ray.remote(BatchActor).options(
                num_cpus=1, max_concurrency=math.ceil(job.concurrency / workers), scheduling_strategy="SPREAD",
            )
            fleet = _Fleet(lambda: actor_class.remote(job.worker, job.inputs, url.is_sqlite), workers)
            try:
                _drive(todo, fleet, job.concurrency, out, tracker)
            finally:
                fleet.close()
        finally:
            if started:
                ray.shutdown()


class _Fleet:
    """The job's actors. An actor takes items once it is up; one that dies after that (its node went away) is
    replaced once, wherever the cluster has room; one that dies starting (a model that cannot load) is not."""

    def __init__(self, start: Callable[[], Any], size: int) -> None:
        self._start = start
        self.actors: list[Any] = []  # up and taking items
        self.load: dict[Any, int] = {}
        self.starting: dict[Any, Any] = {}  # readiness ref -> actor
        self.replacements = size
        self.cause = ""  # why the last actor died
        for _ in range(size):
            self._launch()

    def _launch(self) -> None:
        actor = self._start()
        self.starting[actor.__ray_ready__.remote()] = actor

    def up(self, ref: Any) -> None:
        """A readiness ref resolved: the actor takes items, or it died starting."""
        import ray

        actor = self.starting.pop(ref)
        try:
            ray.get(ref)
        except ray.exceptions.RayActorError as exc:
            self.cause = _first_line(exc)
            return
        self.actors.append(actor)
        self.load[actor] = 0

    def least_busy(self) -> Any:
        return min(self.actors, key=self.load.__getitem__)

    def lost(self, actor: Any, exc: BaseException) -> None:
        """``actor`` died while running items: drop it (once) and start another in its place."""
        if actor not in self.load:
            return
        self.actors.remove(actor)
        del self.load[actor]
        self.cause = _first_line(exc)
        if self.replacements > 0:
            self.replacements -= 1
            self._launch()

    def close(self) -> None:
        """Let the live actors remove their scratch stores (a dead node's scratch went with it)."""
        import ray

        refs = [actor.close.remote() for actor in self.actors]
        ray.wait(refs, num_returns=len(refs), timeout=_CLOSE_TIMEOUT_S)


def _drive(todo: list[BatchItem], fleet: _Fleet, limit: int, out: OutputFile, tracker: Tracker) -> None:
    """Keep ``limit`` items in flight, on the least busy actor that is up; write results as they finish (an
    item's runs sent back by its worker first: a crash between the two runs the item again, and its trace is
    replaced). An item whose actor died goes back to the queue."""
    import ray

    queue = deque(todo)
    in_flight: dict[Any, tuple[Any, BatchItem]] = {}
    while queue or in_flight:
        while queue and fleet.actors and len(in_flight) < limit:
            entry, actor = queue.popleft(), fleet.least_busy()
            fleet.load[actor] += 1
            in_flight[actor.run.remote(entry)] = (actor, entry)
        waiting = [*in_flight, *fleet.starting]
        if not waiting:
            raise ApprenticeError(f"no Ray worker is left ({fleet.cause or 'none started'}); {tracker.summary.done} "
                                  "items are done: run the same command again to resume")
        ready, _ = ray.wait(waiting, num_returns=1, timeout=_START_TIMEOUT_S)
        if not ready:
            if not in_flight and not fleet.actors:
                raise ApprenticeError(f"no Ray worker started within {_START_TIMEOUT_S:.0f} s: the cluster has no "
                                      "free CPU for one (each takes 1), or its nodes cannot start them")
            continue
        ref = ready[0]
        if ref in fleet.starting:
            fleet.up(ref)
            continue
        actor, entry = in_flight.pop(ref)
        if actor in fleet.load:
            fleet.load[actor] -= 1
        try:
            record, runs = ray.get(ref)
        except ray.exceptions.RayActorError as exc:
            fleet.lost(actor, exc)
            queue.appendleft(entry)
            continue
        except ray.exceptions.RayTaskError as exc:  # a failing store stops the job, as on threads
            if isinstance(exc.cause, ApprenticeError):
                raise exc.cause from None
            raise
        _keep(record, runs, out, tracker)


def _keep(record: dict[str, Any] | None, runs: list, out: OutputFile, tracker: Tracker) -> None:
    from apprentice.traces import open_store

    if runs:
        open_store().put_runs(runs)
    if record is not None:
        out.write(record)
        tracker.update(record)


def _first_line(exc: BaseException) -> str:
    """Ray's messages run to many lines; an error line takes the first that says something, and the cause at the
    root of it (a refused token behind 'Failed to connect', often quoted inside a traceback in the message)."""
    def first(error: BaseException) -> str:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        quoted = [m.group(1) for m in map(_QUOTED_ERROR.match, lines) if m]  # a traceback's last line, if any
        return ((quoted or lines)[-1 if quoted else 0] if lines else type(error).__name__)[:200]

    root = exc
    while root.__cause__ is not None and root.__cause__ is not root:
        root = root.__cause__
    return first(exc) if root is exc or first(root) in first(exc) else f"{first(exc)} ({first(root)})"


#: The last line of a formatted traceback: ``module.SomeError: message``.
_QUOTED_ERROR = re.compile(r"^(?:[\w.]+\.)?(\w+(?:Error|Exception): .+)$")
