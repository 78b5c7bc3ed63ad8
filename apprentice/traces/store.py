"""The trace store: every run of every strategy, its steps and verdicts, in SQLite (``traces.db`` in the home,
the default) or in a shared PostgreSQL database (``APPRENTICE_DB=postgresql://...``); the tables are defined
once, in :mod:`apprentice.traces.schema`.

Writes are cheap (SQLite: WAL, one short transaction per call) so a graph can record each step as it
happens; a run killed half-way still leaves its steps and a ``running`` status behind.
"""

from __future__ import annotations

import contextlib
import functools
import json
import operator
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.exc import IntegrityError

from apprentice.db import StoreURL, db_errors, pg_engine, pg_setup_lock, store_url
from apprentice.errors import ApprenticeError
from apprentice.secrets import redact, redact_obj
from apprentice.sqlite import connect_sqlite
from apprentice.traces.records import Run, Step
from apprentice.traces.schema import apply_schema, runs, steps, verdicts

__all__ = ["TraceStore", "open_store", "close_store"]

#: filter name -> (column, comparison)
_RUN_FILTERS = {
    "task": ("task", operator.eq),
    "strategy": ("strategy", operator.eq),
    "model": ("model", operator.eq),
    "thread_id": ("thread_id", operator.eq),
    "item_id": ("item_id", operator.eq),
    "status": ("status", operator.eq),
    "since": ("started_at", operator.ge),
    "until": ("started_at", operator.lt),
    "min_score": ("score", operator.ge),
}
_VERDICTS = {
    "correct": lambda: runs.c.correct == 1, "incorrect": lambda: runs.c.correct == 0,
    "checked": lambda: runs.c.correct.is_not(None), "unchecked": lambda: runs.c.correct.is_(None),
}


# The statements of the hot path (a run's start, steps, finish, verdicts), built once: building one per call costs
# SQLAlchemy more than SQLite takes to run it.
_ID = bindparam("run_key")
_INSERT_RUN, _INSERT_STEPS, _INSERT_VERDICT = runs.insert(), steps.insert(), verdicts.insert()
_DELETE_RUN = runs.delete().where(runs.c.id == _ID)
_UPDATE_RUN = runs.update().where(runs.c.id == _ID)
_RUN_START = select(runs.c.started_at, runs.c.meta).where(runs.c.id == _ID)
_TOTALS = select(func.coalesce(func.sum(steps.c.tokens_in), 0), func.coalesce(func.sum(steps.c.tokens_out), 0),
                 func.coalesce(func.sum(case((steps.c.kind == "llm", 1), else_=0)), 0)).where(steps.c.run_id == _ID)
_SET_VERDICT = runs.update().where(runs.c.id == _ID).values(
    correct=bindparam("v_correct"), score=bindparam("v_score"), checker=bindparam("v_checker"))


def _dumps(value: Any) -> str:
    return json.dumps(redact_obj(value), ensure_ascii=False, default=lambda v: redact(str(v)))


def _guarded(method: Callable) -> Callable:
    """Run a store method with database failures the user can act on turned into a :class:`StoreError`."""
    @functools.wraps(method)
    def wrapper(self: TraceStore, *args: Any, **kwargs: Any) -> Any:
        with db_errors(self.url):
            return method(self, *args, **kwargs)
    return wrapper


class TraceStore:
    """A thread-safe handle on the trace store. SQLite: one connection, serialised by a lock; PostgreSQL: the
    process's pool of connections, writers in parallel.

    Args:
        path: a SQLite file, a store URL (``sqlite:///PATH``, ``postgresql://USER@HOST:PORT/DB``), or None for
            ``APPRENTICE_DB`` (default: ``traces.db`` in the home).
    """

    def __init__(self, path: str | Path | StoreURL | None = None) -> None:
        self.url = store_url(path)
        self.path = self.url.path  # the SQLite file; None on PostgreSQL
        self._db = self._conn = None
        if self.url.is_sqlite:
            self._db = connect_sqlite(self.path, isolation_level=None)
            self._engine = _sqlite_engine(self._db)
            self._conn = self._engine.connect()  # the one connection, for the store's life
            self._lock: Any = threading.Lock()
        else:
            self._engine = pg_engine(self.url)
            self._lock = contextlib.nullcontext()
        with db_errors(self.url):  # the message is made after the close: it lists the files left then
            try:
                self._set_up()
            except BaseException:
                self.close()
                raise

    def _set_up(self) -> None:
        if self._db is not None:
            self._db.execute("PRAGMA foreign_keys=ON")
            with self._session(write=True) as conn:
                apply_schema(conn, str(self.path))
            return
        with pg_setup_lock(self.url, "apprentice-traces-schema"), self._session(write=True) as conn:
            apply_schema(conn, f"the PostgreSQL database {self.url.where()}")

    def close(self) -> None:
        """Close the SQLite connection (a PostgreSQL pool is the process's: :func:`apprentice.db.close_pg`)."""
        if self._db is not None:
            with self._lock:
                self._conn.close()
                self._engine.dispose()
                self._db.close()

    @contextlib.contextmanager
    def _session(self, *, write: bool = False) -> Iterator[Any]:
        """A connection in one transaction, committed at the end and rolled back on any error. SQLite writes
        take the write lock at BEGIN (IMMEDIATE): a reader upgrading later could fail at once on a busy file."""
        with self._lock, (contextlib.nullcontext(self._conn) if self._conn is not None
                          else self._engine.connect()) as conn:
            if write and self._db is not None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    # -- writing -----------------------------------------------------------------------------

    @_guarded
    def start_run(
        self,
        *,
        strategy: str,
        model: str,
        question: str,
        thread_id: str | None = None,
        task: str | None = None,
        item_id: str | None = None,
        gold: str | None = None,
        meta: dict | None = None,
        run_id: str | None = None,
    ) -> str:
        """Open a run in status ``running`` and return its id. A run started again under an id given before (a
        resumed batch item's attempt) replaces the old one, steps and verdicts included."""
        row = {"id": run_id or uuid.uuid4().hex[:16], "thread_id": thread_id, "strategy": strategy, "task": task,
               "item_id": item_id, "model": redact(model), "question": redact(question), "gold": _red(gold),
               "started_at": time.time(), "meta": _dumps(meta or {})}
        with self._session(write=True) as conn:
            if run_id is not None:
                conn.execute(_DELETE_RUN, {"run_key": run_id})
            conn.execute(_INSERT_RUN, row)
        return row["id"]

    def add_step(self, run_id: str, step: Step) -> None:
        """Append one step; ``step.idx`` must be unique within the run."""
        self.add_steps(run_id, [step])

    @_guarded
    def add_steps(self, run_id: str, new: list[Step]) -> None:
        """Append several steps in one transaction (a graph node's worth)."""
        if not new:
            return
        with self._session(write=True) as conn:
            conn.execute(_INSERT_STEPS, [_step_row(run_id, s) for s in new])

    @_guarded
    def finish_run(
        self,
        run_id: str,
        *,
        answer: str | None,
        status: str = "ok",
        error: str | None = None,
        tree: dict | None = None,
        meta: dict | None = None,
    ) -> None:
        """Close a run: final answer, status, totals summed from its steps, and the search tree."""
        with self._session(write=True) as conn:
            tot = conn.execute(_TOTALS, {"run_key": run_id}).one()
            row = conn.execute(_RUN_START, {"run_key": run_id}).first()
            if row is None:
                raise ApprenticeError(f"no run {run_id!r} in {self.url.where()}")
            merged = {**json.loads(row.meta), **(meta or {})}
            now = time.time()
            conn.execute(_UPDATE_RUN, {
                "run_key": run_id, "answer": _red(answer), "status": status, "error": _red(error), "ended_at": now,
                "latency_s": now - row.started_at, "tokens_in": int(tot[0]), "tokens_out": int(tot[1]),
                "model_calls": int(tot[2]), "tree": _dumps(tree) if tree is not None else None, "meta": _dumps(merged)})

    @_guarded
    def add_verdict(
        self, run_id: str, *, verifier: str, correct: bool | None, score: float | None, reason: str = ""
    ) -> None:
        """Record a verdict; the run's own ``correct``/``score``/``checker`` follow the latest one."""
        flag = None if correct is None else int(bool(correct))
        try:
            with self._session(write=True) as conn:
                conn.execute(_INSERT_VERDICT, {"run_id": run_id, "verifier": verifier, "correct": flag, "score": score,
                                               "reason": _red(reason), "created_at": time.time()})
                conn.execute(_SET_VERDICT, {"run_key": run_id, "v_correct": flag, "v_score": score,
                                            "v_checker": verifier})
        except IntegrityError as exc:
            raise ApprenticeError(f"cannot record a verdict for run {run_id!r}: no such run") from exc

    @_guarded
    def rate(self, run_id: str, good: bool, *, answer: str | None = None) -> str:
        """A person's rating of a run (the chat's rate key, ``traces rate``): a ``human`` verdict, which becomes
        the run's own; a corrected ``answer`` becomes the run's gold answer, and that of the other runs of the
        same question and task that have none and are their thread's only turn (a follow-up means what its
        thread says). One transaction. Returns the run's full id (a unique prefix is enough)."""
        run = self.get(run_id)
        answer = (answer or "").strip() or None
        reason = f"rated {'good' if good else 'bad'} by a person" + (f"; the right answer is {answer}" if answer else "")
        flag, score = int(good), 1.0 if good else 0.0
        with self._session(write=True) as conn:
            conn.execute(verdicts.insert().values(run_id=run.id, verifier="human", correct=flag, score=score,
                                                  reason=_red(reason), created_at=time.time()))
            conn.execute(runs.update().where(runs.c.id == run.id).values(correct=flag, score=score, checker="human"))
            if answer:
                conn.execute(runs.update().where(_same_question(run.id)).values(gold=_red(answer)))
        return run.id

    @_guarded
    def delete(self, run_id: str) -> None:
        """Remove a run with its steps and verdicts."""
        with self._session(write=True) as conn:
            conn.execute(runs.delete().where(runs.c.id == run_id))

    @_guarded
    def put_runs(self, batch: list[Run], *, existing: str = "replace") -> list[str]:
        """Write whole runs, steps and verdicts with them, in one transaction, as they were recorded elsewhere (a
        Ray worker's runs sent back to the driver, a home's runs copied by ``traces migrate``).

        A run whose id is here already is replaced (``existing="replace"``), or merged (``"merge"``): it gains the
        verdicts it lacks (its own correct/score/checker/gold then follow the batch's), and is replaced only when
        it was still running here and is not any more. Returns the ids written or changed."""
        if not batch:
            return []
        with self._session(write=True) as conn:
            have = dict(conn.execute(select(runs.c.id, runs.c.status).where(runs.c.id.in_([r.id for r in batch]))).all())
            stale = set(have) if existing == "replace" else {
                r.id for r in batch if have.get(r.id) == "running" and r.status != "running"}
            if stale:
                conn.execute(runs.delete().where(runs.c.id.in_(stale)))
            todo = [r for r in batch if r.id not in have or r.id in stale]
            if todo:
                conn.execute(runs.insert(), [_run_row(r) for r in todo])
                step_rows = [_step_row(r.id, s) for r in todo for s in r.steps]
                if step_rows:
                    conn.execute(steps.insert(), step_rows)
                _insert_verdicts(conn, [(r, v) for r in todo for v in r.verdicts])
            merged = _merge_verdicts(conn, [r for r in batch if r.id in have and r.id not in stale])
        return [r.id for r in todo] + merged

    # -- reading -----------------------------------------------------------------------------

    @_guarded
    def get(self, run_id: str) -> Run:
        """Return one run with its steps and verdicts; a unique id prefix is enough."""
        if not run_id:
            raise ApprenticeError("no run id given")
        with self._session() as conn:
            rows = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().all()
            if not rows:  # a unique prefix; substr() compares literally (no LIKE wildcards)
                prefix = func.substr(runs.c.id, 1, len(run_id)) == run_id
                rows = conn.execute(select(runs).where(prefix).limit(2)).mappings().all()
            if len(rows) != 1:
                what = "no run" if not rows else "more than one run"
                raise ApprenticeError(f"{what} matches id {run_id!r}")
            row = rows[0]
            step_rows = conn.execute(select(steps).where(steps.c.run_id == row["id"]).order_by(steps.c.idx))
            verdict_rows = conn.execute(select(verdicts).where(verdicts.c.run_id == row["id"])
                                        .order_by(verdicts.c.created_at))
            return redact_obj(Run.from_rows(row, step_rows.mappings().all(), verdict_rows.mappings().all()))

    @_guarded
    def query(
        self,
        *,
        verdict: str | None = None,
        limit: int | None = None,
        with_steps: bool = False,
        newest_first: bool = True,
        **filters: Any,
    ) -> list[Run]:
        """Runs matching every filter given.

        Args:
            verdict: ``"correct"``, ``"incorrect"``, ``"checked"`` or ``"unchecked"``.
            limit: at most this many runs.
            with_steps: load each run's steps and verdicts too.
            newest_first: order by start time, newest first (else oldest first).
            **filters: any of task, strategy, model, thread_id, item_id, status, since, until
                (epoch seconds), min_score.
        """
        order = runs.c.started_at.desc() if newest_first else runs.c.started_at.asc()
        sql = select(runs).where(*self._where(verdict, filters)).order_by(order)
        if limit:
            sql = sql.limit(int(limit))
        with self._session() as conn:
            rows = conn.execute(sql).mappings().all()
        if with_steps:
            return [self.get(row["id"]) for row in rows]
        return [redact_obj(Run.from_rows(row, [], [])) for row in rows]

    @_guarded
    def count(self, *, verdict: str | None = None, **filters: Any) -> int:
        """How many runs match (same filters as :meth:`query`)."""
        with self._session() as conn:
            return conn.execute(select(func.count()).select_from(runs).where(*self._where(verdict, filters))).scalar()

    def iter_runs(self, *, verdict: str | None = None, **filters: Any) -> Iterator[Run]:
        """Yield full runs (steps and verdicts included), oldest first, one at a time."""
        for summary in self.query(verdict=verdict, newest_first=False, **filters):
            yield self.get(summary.id)

    @staticmethod
    def _where(verdict: str | None, filters: dict[str, Any]) -> list[Any]:
        clauses = []
        for key, value in filters.items():
            if value is None:
                continue
            if key not in _RUN_FILTERS:
                raise ApprenticeError(f"unknown trace filter {key!r}; choose from: {', '.join(_RUN_FILTERS)}")
            column, compare = _RUN_FILTERS[key]
            clauses.append(compare(runs.c[column], value))
        if verdict is not None and verdict not in _VERDICTS:
            raise ApprenticeError(f"unknown verdict filter {verdict!r}; use correct, incorrect, checked or unchecked")
        if verdict:
            clauses.append(_VERDICTS[verdict]())
        return clauses


def _sqlite_engine(conn: Any) -> Any:
    """A SQLAlchemy engine over the one SQLite connection ``conn`` (autocommit at the driver: the store begins
    and commits its own transactions)."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import StaticPool

    return create_engine("sqlite://", creator=lambda: conn, poolclass=StaticPool, pool_reset_on_return=None)


def _same_question(run_id: str) -> Any:
    """The run ``run_id`` and the runs of its question and task with no gold answer that are their thread's only
    turn: the runs a person's corrected answer is the gold answer of."""
    source, turn = runs.alias("source"), runs.alias("turn")
    question = select(source.c.question).where(source.c.id == run_id).scalar_subquery()
    task = select(source.c.task).where(source.c.id == run_id).scalar_subquery()
    turns = select(func.count()).select_from(turn).where(turn.c.thread_id == runs.c.thread_id).scalar_subquery()
    only_turn = runs.c.thread_id.is_(None) | (turns == 1)
    return (runs.c.id == run_id) | (runs.c.gold.is_(None) & (runs.c.question == question)
                                    & runs.c.task.is_not_distinct_from(task) & only_turn)


def _insert_verdicts(conn: Any, pairs: list[tuple[Run, Any]]) -> None:
    if pairs:
        conn.execute(verdicts.insert(), [
            {"run_id": r.id, "verifier": v.verifier, "correct": None if v.correct is None else int(v.correct),
             "score": v.score, "reason": _red(v.reason), "created_at": v.created_at} for r, v in pairs])


def _merge_verdicts(conn: Any, present: list[Run]) -> list[str]:
    """Give each run of ``present`` (stored already) the verdicts of its copy that it lacks; the ids changed."""
    if not present:
        return []
    keys = select(verdicts.c.run_id, verdicts.c.verifier, verdicts.c.created_at)
    seen = set(conn.execute(keys.where(verdicts.c.run_id.in_([r.id for r in present]))).all())
    changed = []
    for run in present:
        missing = [v for v in run.verdicts if (run.id, v.verifier, v.created_at) not in seen]
        if missing:
            _insert_verdicts(conn, [(run, v) for v in missing])
            conn.execute(runs.update().where(runs.c.id == run.id).values(
                correct=None if run.correct is None else int(run.correct), score=run.score, checker=run.checker,
                gold=_red(run.gold)))
            changed.append(run.id)
    return changed


def _step_row(run_id: str, s: Step) -> dict[str, Any]:
    return {"run_id": run_id, "idx": s.idx, "kind": s.kind, "node": s.node, "thought": _red(s.thought),
            "tool": _red(s.tool), "tool_input": _red(s.tool_input), "observation": _red(s.observation),
            "raw": _red(s.raw), "tokens_in": s.tokens_in, "tokens_out": s.tokens_out, "latency_s": s.latency_s,
            "data": _dumps(s.data), "created_at": s.created_at or time.time()}


def _run_row(r: Run) -> dict[str, Any]:
    texts = {name: _red(getattr(r, name)) for name in ("model", "question", "gold", "answer", "error")}
    return {**texts, "id": r.id, "thread_id": r.thread_id, "strategy": r.strategy, "task": r.task,
            "item_id": r.item_id, "status": r.status, "started_at": r.started_at, "ended_at": r.ended_at,
            "latency_s": r.latency_s, "tokens_in": r.tokens_in, "tokens_out": r.tokens_out,
            "model_calls": r.model_calls, "correct": None if r.correct is None else int(r.correct), "score": r.score,
            "checker": r.checker, "tree": _dumps(r.tree) if r.tree is not None else None, "meta": _dumps(r.meta)}


def _red(text: str | None) -> str | None:
    return None if text is None else redact(str(text))


_STORES: dict[Any, TraceStore] = {}
_STORES_LOCK = threading.Lock()


def _key(url: StoreURL) -> Any:
    return url.path if url.is_sqlite else url.conninfo()


def open_store(path: str | Path | StoreURL | None = None) -> TraceStore:
    """Return the process-wide store for ``path`` (a file or store URL; default ``APPRENTICE_DB``, else
    ``home()/traces.db``)."""
    url = store_url(path)
    with _STORES_LOCK:
        store = _STORES.get(_key(url))
        if store is None or (url.is_sqlite and not url.path.exists()):
            store = _STORES[_key(url)] = TraceStore(url)
        return store


def close_store(path: str | Path | StoreURL | None = None) -> None:
    """Close the process-wide store of ``path`` if open (SQLite: its log is merged into the file); the next
    :func:`open_store` opens it again."""
    url = store_url(path)
    with _STORES_LOCK:
        store = _STORES.pop(_key(url), None)
    if store is not None:
        store.close()
