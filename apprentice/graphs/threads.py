"""Conversation threads: LangGraph checkpoints in ``threads.db`` (SqliteSaver).

Checkpoints are written through :class:`RedactingSerializer`, so no secret reaches the file (a graph's
live state keeps what the model wrote).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver

from apprentice.config import data_path
from apprentice.secrets import redact_obj

__all__ = ["RedactingSerializer", "open_checkpointer", "close_checkpointer", "thread_messages", "delete_thread"]

_SAVERS: dict[Path, SqliteSaver] = {}
_LOCK = threading.Lock()


class RedactingSerializer(JsonPlusSerializer):
    """LangGraph's serializer, with every string of a checkpoint or pending write redacted first
    (message contents, tool-call arguments, search trees)."""

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        """Serialize a redacted copy of ``obj``."""
        return super().dumps_typed(redact_obj(obj))


def open_checkpointer(path: str | Path | None = None) -> SqliteSaver:
    """The process-wide SqliteSaver for ``path`` (default ``home()/threads.db``), writing redacted checkpoints."""
    key = Path(path) if path else data_path("threads.db")
    with _LOCK:
        if key not in _SAVERS or not key.exists():
            conn = sqlite3.connect(key, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            saver = SqliteSaver(conn, serde=RedactingSerializer())
            saver.setup()
            _SAVERS[key] = saver
        return _SAVERS[key]


def close_checkpointer(path: str | Path | None = None) -> None:
    """Close the checkpointer of ``path`` if open (its log is merged into the file); the next
    :func:`open_checkpointer` opens it again."""
    key = Path(path) if path else data_path("threads.db")
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
