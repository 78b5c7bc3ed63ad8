"""Conversation threads: LangGraph checkpoints in ``threads.db`` (SqliteSaver), or in the shared PostgreSQL
database when ``APPRENTICE_DB`` names one (LangGraph's PostgresSaver).

Checkpoints are written through :class:`RedactingSerializer`, so no secret reaches the store (a graph's
live state keeps what the model wrote); a damaged or unwritable file, or a server that cannot be reached,
is a :class:`StoreError` naming it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver

from apprentice.db import StoreURL, db_errors, pg_pool, pg_setup_lock, store_url
from apprentice.secrets import redact_obj
from apprentice.sqlite import connect_sqlite, set_up, sqlite_errors

__all__ = ["RedactingSerializer", "ThreadSaver", "open_checkpointer", "close_checkpointer", "thread_messages",
           "delete_thread", "threads_location"]

_SAVERS: dict[Any, BaseCheckpointSaver] = {}
_LOCK = threading.Lock()


class RedactingSerializer(JsonPlusSerializer):
    """LangGraph's serializer, with every string of a checkpoint or pending write redacted first
    (message contents, tool-call arguments, search trees)."""

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        """Serialize a redacted copy of ``obj``: of a checkpoint, only its channel values (its ids, timestamps and
        channel versions are bookkeeping that a digit-only secret could otherwise garble); of a write, all of it."""
        if isinstance(obj, dict) and "channel_values" in obj and "channel_versions" in obj:
            return super().dumps_typed({**obj, "channel_values": redact_obj(obj["channel_values"])})
        return super().dumps_typed(redact_obj(obj))


class ThreadSaver(SqliteSaver):
    """A SqliteSaver over ``path`` that writes redacted checkpoints and reports SQLite failures the user
    can act on (a damaged file, a full disk) as a :class:`StoreError` naming the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(connect_sqlite(path), serde=RedactingSerializer())

    @contextmanager
    def cursor(self, transaction: bool = True) -> Iterator[Any]:
        """SqliteSaver's cursor; every checkpoint read and write goes through it."""
        with sqlite_errors(self.path), super().cursor(transaction) as cur:
            yield cur


def _postgres_saver(url: StoreURL) -> BaseCheckpointSaver:
    """LangGraph's PostgresSaver on the process's pool for ``url``, redacting, its tables made (once, under a
    lock: Ray workers start at once)."""
    from langgraph.checkpoint.postgres import PostgresSaver

    class PostgresThreadSaver(PostgresSaver):
        """A PostgresSaver whose failures the user can act on (server gone, login refused) are a StoreError."""

        @contextmanager
        def _cursor(self, *, pipeline: bool = False) -> Iterator[Any]:  # every read and write goes through it
            with db_errors(url), super()._cursor(pipeline=pipeline) as cur:
                yield cur

    saver = PostgresThreadSaver(pg_pool(url), serde=RedactingSerializer())
    with pg_setup_lock(url, "apprentice-checkpoints"):
        saver.setup()
    return saver


def threads_location(path: str | Path | None = None) -> Path | StoreURL:
    """Where threads are kept: the SQLite file ``path``, or for None (or a store URL) the one ``APPRENTICE_DB``
    says: ``threads.db`` beside the trace file, or the PostgreSQL database."""
    if path is not None and "://" not in str(path):
        return Path(path)
    url = store_url(path)
    return url.beside("threads.db") if url.is_sqlite else url


def open_checkpointer(path: str | Path | None = None) -> BaseCheckpointSaver:
    """The process-wide checkpointer for ``path`` (default: as ``APPRENTICE_DB`` says, ``home()/threads.db``
    unless it names a PostgreSQL database), set up.

    Raises:
        StoreError: the file (or its write-ahead log) is damaged, its folder cannot be written, or the
            PostgreSQL server cannot be reached.
    """
    where = threads_location(path)
    key = where if isinstance(where, Path) else where.conninfo()
    with _LOCK:
        if key not in _SAVERS or (isinstance(where, Path) and not where.exists()):
            _SAVERS[key] = set_up(ThreadSaver(where), where) if isinstance(where, Path) else _postgres_saver(where)
        return _SAVERS[key]


def close_checkpointer(path: str | Path | None = None) -> None:
    """Close the checkpointer of ``path`` if open (its log is merged into the file); the next
    :func:`open_checkpointer` opens it again. A PostgreSQL saver is dropped; its pool is the process's."""
    where = threads_location(path)
    with _LOCK:
        saver = _SAVERS.pop(where if isinstance(where, Path) else where.conninfo(), None)
    if isinstance(saver, ThreadSaver):
        saver.conn.close()


def thread_messages(thread_id: str, checkpointer: BaseCheckpointSaver | None = None) -> list:
    """The messages of a thread as last checkpointed ([] for a new thread)."""
    saver = checkpointer or open_checkpointer()
    state = saver.get_tuple({"configurable": {"thread_id": thread_id}})
    if state is None:
        return []
    return list(state.checkpoint.get("channel_values", {}).get("messages", []))


def delete_thread(thread_id: str, checkpointer: BaseCheckpointSaver | None = None) -> None:
    """Forget a thread's checkpoints."""
    (checkpointer or open_checkpointer()).delete_thread(thread_id)
