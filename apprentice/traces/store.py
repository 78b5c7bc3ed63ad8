"""The trace store: every run of every strategy, its steps and verdicts, in one SQLite file.

Writes are cheap (WAL, one short transaction per call) so a graph can record each step as it
happens; a run killed half-way still leaves its steps and a ``running`` status behind.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from apprentice.errors import ApprenticeError
from apprentice.secrets import redact, redact_obj
from apprentice.sqlite import connect_sqlite, home_file, sqlite_errors
from apprentice.traces.records import Run, Step

__all__ = ["TraceStore", "open_store", "close_store"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    thread_id TEXT,
    strategy TEXT NOT NULL,
    task TEXT,
    item_id TEXT,
    model TEXT NOT NULL,
    question TEXT NOT NULL,
    gold TEXT,
    answer TEXT,
    status TEXT NOT NULL DEFAULT 'running',
    error TEXT,
    started_at REAL NOT NULL,
    ended_at REAL,
    latency_s REAL,
    tokens_in INTEGER NOT NULL DEFAULT 0,
    tokens_out INTEGER NOT NULL DEFAULT 0,
    model_calls INTEGER NOT NULL DEFAULT 0,
    correct INTEGER,
    score REAL,
    checker TEXT,
    tree TEXT,
    meta TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS runs_filter ON runs (task, strategy, model, started_at);
CREATE INDEX IF NOT EXISTS runs_item ON runs (task, item_id);
CREATE TABLE IF NOT EXISTS steps (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    kind TEXT NOT NULL,
    node TEXT,
    thought TEXT,
    tool TEXT,
    tool_input TEXT,
    observation TEXT,
    raw TEXT,
    tokens_in INTEGER NOT NULL DEFAULT 0,
    tokens_out INTEGER NOT NULL DEFAULT 0,
    latency_s REAL NOT NULL DEFAULT 0,
    data TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS verdicts (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    verifier TEXT NOT NULL,
    correct INTEGER,
    score REAL,
    reason TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS verdicts_run ON verdicts (run_id);
"""

_RUN_FILTERS = {
    "task": "task = ?",
    "strategy": "strategy = ?",
    "model": "model = ?",
    "thread_id": "thread_id = ?",
    "item_id": "item_id = ?",
    "status": "status = ?",
    "since": "started_at >= ?",
    "until": "started_at < ?",
    "min_score": "score >= ?",
}


def _dumps(value: Any) -> str:
    return json.dumps(redact_obj(value), ensure_ascii=False, default=lambda v: redact(str(v)))


def _guarded(method: Callable) -> Callable:
    """Run a store method with SQLite failures the user can act on turned into a :class:`StoreError`."""
    @functools.wraps(method)
    def wrapper(self: TraceStore, *args: Any, **kwargs: Any) -> Any:
        with sqlite_errors(self.path):
            return method(self, *args, **kwargs)
    return wrapper


class TraceStore:
    """A thread-safe handle on ``traces.db``; one connection, serialised by a lock."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else home_file("traces.db")
        self._db = connect_sqlite(self.path, isolation_level=None)
        self._lock = threading.Lock()
        self._db.row_factory = sqlite3.Row
        try:
            with sqlite_errors(self.path):
                self._db.execute("PRAGMA foreign_keys=ON")
                self._db.executescript(_SCHEMA)
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    def _write(self, sql: str, params: tuple | list) -> None:
        with self._lock:
            self._db.execute(sql, params)

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
        """Open a run in status ``running`` and return its id."""
        run_id = run_id or uuid.uuid4().hex[:16]
        self._write(
            "INSERT INTO runs (id, thread_id, strategy, task, item_id, model, question, gold,"
            " started_at, meta) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (run_id, thread_id, strategy, task, item_id, redact(model), redact(question), _red(gold),
             time.time(), _dumps(meta or {})),
        )
        return run_id

    def add_step(self, run_id: str, step: Step) -> None:
        """Append one step; ``step.idx`` must be unique within the run."""
        self.add_steps(run_id, [step])

    @_guarded
    def add_steps(self, run_id: str, steps: list[Step]) -> None:
        """Append several steps in one transaction (a graph node's worth)."""
        if not steps:
            return
        rows = [(run_id, s.idx, s.kind, s.node, _red(s.thought), _red(s.tool), _red(s.tool_input),
                 _red(s.observation), _red(s.raw), s.tokens_in, s.tokens_out, s.latency_s, _dumps(s.data),
                 s.created_at or time.time()) for s in steps]
        with self._lock, self._transaction():
            self._db.executemany(
                "INSERT INTO steps (run_id, idx, kind, node, thought, tool, tool_input, observation, raw,"
                " tokens_in, tokens_out, latency_s, data, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                rows)

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
        with self._lock:
            tot = self._db.execute(
                "SELECT COALESCE(SUM(tokens_in),0), COALESCE(SUM(tokens_out),0),"
                " COALESCE(SUM(kind = 'llm'),0) FROM steps WHERE run_id = ?", (run_id,)
            ).fetchone()
            row = self._db.execute("SELECT started_at, meta FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise ApprenticeError(f"no run {run_id!r} in {self.path}")
            merged = {**json.loads(row["meta"]), **(meta or {})}
            now = time.time()
            self._db.execute(
                "UPDATE runs SET answer = ?, status = ?, error = ?, ended_at = ?, latency_s = ?,"
                " tokens_in = ?, tokens_out = ?, model_calls = ?, tree = ?, meta = ? WHERE id = ?",
                (_red(answer), status, _red(error), now, now - row["started_at"], tot[0], tot[1],
                 tot[2], _dumps(tree) if tree is not None else None, _dumps(merged), run_id),
            )

    @_guarded
    def add_verdict(
        self, run_id: str, *, verifier: str, correct: bool | None, score: float | None, reason: str = ""
    ) -> None:
        """Record a verdict; the run's own ``correct``/``score``/``checker`` follow the latest one."""
        now = time.time()
        flag = None if correct is None else int(bool(correct))
        with self._lock:
            try:
                with self._transaction():
                    self._db.execute(
                        "INSERT INTO verdicts (run_id, verifier, correct, score, reason, created_at)"
                        " VALUES (?,?,?,?,?,?)", (run_id, verifier, flag, score, _red(reason), now),
                    )
                    self._db.execute(
                        "UPDATE runs SET correct = ?, score = ?, checker = ? WHERE id = ?",
                        (flag, score, verifier, run_id),
                    )
            except sqlite3.IntegrityError as exc:
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
        with self._lock, self._transaction():
            self._db.execute("INSERT INTO verdicts (run_id, verifier, correct, score, reason, created_at)"
                             " VALUES (?,?,?,?,?,?)", (run.id, "human", flag, score, _red(reason), time.time()))
            self._db.execute("UPDATE runs SET correct = ?, score = ?, checker = 'human' WHERE id = ?",
                             (flag, score, run.id))
            if answer:
                self._db.execute(
                    "UPDATE runs SET gold = ? WHERE id = ? OR (gold IS NULL AND question = (SELECT question FROM "
                    "runs WHERE id = ?) AND task IS (SELECT task FROM runs WHERE id = ?) AND (thread_id IS NULL OR "
                    "(SELECT COUNT(*) FROM runs AS turn WHERE turn.thread_id = runs.thread_id) = 1))",
                    (_red(answer), run.id, run.id, run.id))
        return run.id

    @contextlib.contextmanager
    def _transaction(self):
        """BEGIN ... COMMIT, rolled back on any error so the connection never stays mid-transaction."""
        self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @_guarded
    def delete(self, run_id: str) -> None:
        """Remove a run with its steps and verdicts."""
        self._write("DELETE FROM runs WHERE id = ?", (run_id,))

    # -- reading -----------------------------------------------------------------------------

    @_guarded
    def get(self, run_id: str) -> Run:
        """Return one run with its steps and verdicts; a unique id prefix is enough."""
        if not run_id:
            raise ApprenticeError("no run id given")
        with self._lock:
            rows = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchall()
            if not rows:  # a unique prefix; substr() compares literally (no LIKE wildcards)
                rows = self._db.execute(
                    "SELECT * FROM runs WHERE substr(id, 1, ?) = ? LIMIT 2", (len(run_id), run_id)
                ).fetchall()
            if len(rows) != 1:
                what = "no run" if not rows else "more than one run"
                raise ApprenticeError(f"{what} matches id {run_id!r}")
            row = rows[0]
            steps = self._db.execute(
                "SELECT * FROM steps WHERE run_id = ? ORDER BY idx", (row["id"],)
            ).fetchall()
            verdicts = self._db.execute(
                "SELECT * FROM verdicts WHERE run_id = ? ORDER BY created_at", (row["id"],)
            ).fetchall()
        return redact_obj(Run.from_rows(row, steps, verdicts))

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
        where, params = self._where(verdict, filters)
        sql = f"SELECT id FROM runs {where} ORDER BY started_at {'DESC' if newest_first else 'ASC'}"
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            ids = [r[0] for r in self._db.execute(sql, params).fetchall()]
        if with_steps:
            return [self.get(i) for i in ids]
        return self._summaries(ids)

    @_guarded
    def count(self, *, verdict: str | None = None, **filters: Any) -> int:
        """How many runs match (same filters as :meth:`query`)."""
        where, params = self._where(verdict, filters)
        with self._lock:
            return self._db.execute(f"SELECT COUNT(*) FROM runs {where}", params).fetchone()[0]

    def iter_runs(self, *, verdict: str | None = None, **filters: Any) -> Iterator[Run]:
        """Yield full runs (steps and verdicts included), oldest first, one at a time."""
        for summary in self.query(verdict=verdict, newest_first=False, **filters):
            yield self.get(summary.id)

    @_guarded
    def _summaries(self, ids: list[str]) -> list[Run]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = {r["id"]: r for r in self._db.execute(f"SELECT * FROM runs WHERE id IN ({marks})", ids)}
        return [redact_obj(Run.from_rows(rows[i], [], [])) for i in ids]

    @staticmethod
    def _where(verdict: str | None, filters: dict[str, Any]) -> tuple[str, list]:
        clauses, params = [], []
        for key, value in filters.items():
            if value is None:
                continue
            if key not in _RUN_FILTERS:
                raise ApprenticeError(f"unknown trace filter {key!r}; choose from: {', '.join(_RUN_FILTERS)}")
            clauses.append(_RUN_FILTERS[key])
            params.append(value)
        verdict_sql = {
            "correct": "correct = 1", "incorrect": "correct = 0",
            "checked": "correct IS NOT NULL", "unchecked": "correct IS NULL", None: None,
        }
        if verdict not in verdict_sql:
            raise ApprenticeError(f"unknown verdict filter {verdict!r}; use correct, incorrect, checked or unchecked")
        if verdict:
            clauses.append(verdict_sql[verdict])
        return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


def _red(text: str | None) -> str | None:
    return None if text is None else redact(str(text))


_STORES: dict[Path, TraceStore] = {}
_STORES_LOCK = threading.Lock()


def open_store(path: str | Path | None = None) -> TraceStore:
    """Return the process-wide store for ``path`` (default ``home()/traces.db``)."""
    key = Path(path) if path else home_file("traces.db")
    with _STORES_LOCK:
        if key not in _STORES or not key.exists():
            _STORES[key] = TraceStore(key)
        return _STORES[key]


def close_store(path: str | Path | None = None) -> None:
    """Close the process-wide store of ``path`` if open (its log is merged into the file); the next
    :func:`open_store` opens it again."""
    key = Path(path) if path else home_file("traces.db")
    with _STORES_LOCK:
        store = _STORES.pop(key, None)
    if store is not None:
        store.close()
