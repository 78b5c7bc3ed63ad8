"""Conversation threads: LangGraph checkpoints in ``threads.db`` (SqliteSaver).

Checkpoints are written through :class:`RedactingSerializer`, so no secret reaches the file (a graph's
live state keeps what the model wrote); a damaged or unwritable file is a :class:`StoreError` naming it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver

from apprentice.secrets import redact_obj
from apprentice.sqlite import connect_sqlite, home_file, set_up, sqlite_errors

__all__ = ["RedactingSerializer", "ThreadSaver", "open_checkpointer", "close_checkpointer", "thread_messages",
           "delete_thread"]

_SAVERS: dict[Path, ThreadSaver] = {}
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


def open_checkpointer(path: str | Path | None = None) -> ThreadSaver:
    """The process-wide checkpointer for ``path`` (default ``home()/threads.db``), set up.

    Raises:
        StoreError: the file (or its write-ahead log) is damaged, or its folder cannot be written.
    """
    key = Path(path) if path else home_file("threads.db")
    with _LOCK:
        if key not in _SAVERS or not key.exists():
            _SAVERS[key] = set_up(ThreadSaver(key), key)
        return _SAVERS[key]


def close_checkpointer(path: str | Path | None = None) -> None:
    """Close the checkpointer of ``path`` if open (its log is merged into the file); the next
    :func:`open_checkpointer` opens it again."""
    key = Path(path) if path else home_file("threads.db")
    with _LOCK:
        saver = _SAVERS.pop(key, None)
    if saver is not None:
        saver.conn.close()


def thread_messages(thread_id: str, checkpointer: SqliteSaver | None = None) -> list:
    """The messages of a thread as last checkpointed ([] for a new thread)."""
    saver = checkpointer or open_checkpointer()
    state = saver.get_tuple({"configurable": {"thread_id": thread_id}})
    if state is None:
        return []
    return list(state.checkpoint.get("channel_values", {}).get("messages", []))


def delete_thread(thread_id: str, checkpointer: SqliteSaver | None = None) -> None:
    """Forget a thread's checkpoints."""
    (checkpointer or open_checkpointer()).delete_thread(thread_id)
