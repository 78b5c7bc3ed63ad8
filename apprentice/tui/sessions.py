"""Thread titles and settings for the chat UI, beside LangGraph's checkpoints: in ``threads.db``, or in the
PostgreSQL database ``APPRENTICE_DB`` names (then every chat on that store lists the same threads).

The checkpointer keeps each thread's messages; this small table keeps what the sidebar shows
(title, model, strategy, when). Tables are made on first use, never at import time.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apprentice.secrets import redact

__all__ = ["Session", "SessionStore", "DEFAULT_TITLE"]

#: The title of a thread until its first question names it.
DEFAULT_TITLE = "New chat"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tui_sessions (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    model TEXT,
    strategy TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
)
"""


@dataclass
class Session:
    """One conversation thread as the sidebar lists it; ``id`` is the LangGraph thread id."""

    id: str
    title: str
    model: str | None
    strategy: str | None
    created: float
    updated: float


class SessionStore:
    """Thread metadata where the threads are (``threads.db`` beside the traces, ``path``, or the PostgreSQL
    database of ``APPRENTICE_DB``); safe to use from any thread."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = None if not path else str(path) if "://" in str(path) else Path(path)
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._pg_ready = False

    def _conn(self, path: Path) -> sqlite3.Connection:
        if self._db is None:
            from apprentice.sqlite import connect_sqlite, sqlite_errors

            db = connect_sqlite(path)  # a damaged threads.db is one error naming it, not an internal error
            with sqlite_errors(path):
                db.row_factory = sqlite3.Row
                db.execute(_SCHEMA)
                db.commit()
            self._db = db
        return self._db

    def _exec(self, sql: str, params: tuple = ()) -> list[Any]:
        from apprentice.graphs.threads import threads_location

        where = threads_location(self.path)
        if not isinstance(where, Path):
            return self._exec_pg(where, sql, params)
        from apprentice.sqlite import sqlite_errors

        with self._lock:
            db = self._conn(where)
            with sqlite_errors(where):
                rows = db.execute(sql, params).fetchall()
                db.commit()
            return rows

    def _exec_pg(self, url: Any, sql: str, params: tuple) -> list[dict[str, Any]]:
        """``sql`` on the PostgreSQL store (the threads' pool; the table made once per process)."""
        from psycopg.rows import dict_row

        from apprentice.db import db_errors, pg_pool

        with db_errors(url), pg_pool(url).connection() as conn:
            if not self._pg_ready:
                conn.execute(_SCHEMA.replace("REAL", "DOUBLE PRECISION"))  # PostgreSQL's REAL is 4 bytes
                self._pg_ready = True
            cursor = conn.cursor(row_factory=dict_row)
            cursor.execute(sql.replace("?", "%s"), params)
            return cursor.fetchall() if cursor.description else []

    def create(self, *, title: str = DEFAULT_TITLE, model: str | None = None,
               strategy: str | None = None, thread_id: str | None = None) -> Session:
        """Make a new thread and return it."""
        now = time.time()
        title = redact(title)  # thread titles are the user's first question: no secret is stored
        session = Session(thread_id or uuid.uuid4().hex[:12], title, model, strategy, now, now)
        self._exec("INSERT INTO tui_sessions VALUES (?, ?, ?, ?, ?, ?)",
                   (session.id, title, model, strategy, now, now))
        return session

    def put(self, session: Session) -> None:
        """Keep ``session`` as it is (its id, times and all): a copy from another store."""
        self._exec("INSERT INTO tui_sessions VALUES (?, ?, ?, ?, ?, ?)",
                   (session.id, redact(session.title), session.model, session.strategy, session.created,
                    session.updated))

    def list(self) -> list[Session]:
        """All threads, most recently used first."""
        rows = self._exec("SELECT * FROM tui_sessions ORDER BY updated DESC, created DESC")
        return [Session(**dict(r)) for r in rows]

    def get(self, thread_id: str) -> Session | None:
        """The thread ``thread_id``, or None."""
        rows = self._exec("SELECT * FROM tui_sessions WHERE id = ?", (thread_id,))
        return Session(**dict(rows[0])) if rows else None

    def update(self, thread_id: str, *, title: str | None = None, model: str | None = None,
               strategy: str | None = None) -> None:
        """Mark a thread used now, changing the fields given."""
        self._exec(
            "UPDATE tui_sessions SET title = COALESCE(?, title), model = COALESCE(?, model), "
            "strategy = COALESCE(?, strategy), updated = ? WHERE id = ?",
            (redact(title) if title else title, model, strategy, time.time(), thread_id),
        )

    def rename(self, thread_id: str, title: str) -> None:
        """Give a thread a new title (blank titles are refused by keeping the old one)."""
        if title.strip():
            self.update(thread_id, title=title.strip())

    def delete(self, thread_id: str) -> None:
        """Forget a thread: its row here and its LangGraph checkpoints."""
        from apprentice.graphs.threads import delete_thread, open_checkpointer

        self._exec("DELETE FROM tui_sessions WHERE id = ?", (thread_id,))
        delete_thread(thread_id, open_checkpointer(self.path))

    def close(self) -> None:
        """Close the connection (it reopens on next use)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
