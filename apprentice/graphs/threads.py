"""Conversation threads: LangGraph checkpoints in ``threads.db`` (SqliteSaver)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from langgraph.checkpoint.sqlite import SqliteSaver

from apprentice.config import data_path

__all__ = ["open_checkpointer", "thread_messages", "delete_thread"]

_SAVERS: dict[Path, SqliteSaver] = {}
_LOCK = threading.Lock()


def open_checkpointer(path: str | Path | None = None) -> SqliteSaver:
    """The process-wide SqliteSaver for ``path`` (default ``home()/threads.db``)."""
    key = Path(path) if path else data_path("threads.db")
    with _LOCK:
        if key not in _SAVERS or not key.exists():
            conn = sqlite3.connect(key, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            saver = SqliteSaver(conn)
            saver.setup()
            _SAVERS[key] = saver
        return _SAVERS[key]


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
