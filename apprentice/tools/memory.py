"""Long-term memory: the remember / recall tools over LangGraph's ``SqliteStore`` with semantic search, or its
``PostgresStore`` in the shared database when ``APPRENTICE_DB`` names one.

Memories live in ``data_path("memory.db")`` (or PostgreSQL) under the namespace ``("memories", user_id)`` as
``{"text", "created_at"}`` and are found by meaning (MiniLM embeddings), not by keywords.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
import uuid
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.tools import BaseTool, StructuredTool
from langgraph.store.sqlite import SqliteStore
from pydantic import BaseModel, Field

from apprentice.db import StoreURL, db_errors, pg_pool, pg_setup_lock, store_url
from apprentice.embeddings import EMBEDDING_DIMS, get_embeddings
from apprentice.errors import StoreError
from apprentice.secrets import redact
from apprentice.sqlite import connect_sqlite, set_up, sqlite_errors
from apprentice.tools.errors import ToolInputError, format_tool_error

__all__ = [
    "MEMORY_NAMESPACE",
    "RecallInput",
    "RememberInput",
    "close_memory_store",
    "make_memory_tools",
    "memory_namespace",
    "open_memory_store",
    "recall",
    "remember",
]

MEMORY_NAMESPACE = "memories"
_MAX_MEMORY_CHARS = 2000

_REMEMBER_DESCRIPTION = (
    "Save one fact about the user or the task to long-term memory, to be recalled in later "
    "conversations. Input: the fact as one short sentence, e.g. 'The user's name is Ada.'"
)
_RECALL_DESCRIPTION = (
    "Look up long-term memory for facts saved in earlier conversations. Input: what you want to "
    "know, e.g. 'user's name' or 'favourite programming language'. Returns up to 3 memories with dates."
)


class RememberInput(BaseModel):
    """Arguments of the remember tool."""

    text: str = Field(description="The fact to remember, as one short sentence.")


class RecallInput(BaseModel):
    """Arguments of the recall tool."""

    query: str = Field(description="What to look up in long-term memory.")


# ---------------------------------------------------------------------- the store


def _blob_vector(blob: bytes | None) -> np.ndarray | None:
    return None if blob is None else np.frombuffer(blob, dtype=np.float32)


def _cosine_distance(a: bytes | None, b: bytes | None) -> float | None:
    x, y = _blob_vector(a), _blob_vector(b)
    if x is None or y is None:
        return None
    norms = float(np.linalg.norm(x) * np.linalg.norm(y))
    return 1.0 - float(x @ y) / norms if norms else 1.0


def _l2_distance(a: bytes | None, b: bytes | None) -> float | None:
    x, y = _blob_vector(a), _blob_vector(b)
    return None if x is None or y is None else float(np.linalg.norm(x - y))


def _l1_distance(a: bytes | None, b: bytes | None) -> float | None:
    x, y = _blob_vector(a), _blob_vector(b)
    return None if x is None or y is None else float(np.abs(x - y).sum())


class _PythonVectorConnection:
    """A sqlite3 connection for a Python built without loadable SQLite extensions.

    ``SqliteStore`` loads the sqlite-vec extension for its ``vec_distance_*`` SQL functions. Where
    ``sqlite3`` cannot load extensions (e.g. a pyenv build without ``--enable-loadable-sqlite-extensions``)
    the same functions are registered in Python and loading becomes a no-op; the rest is delegated.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        conn.create_function("vec_distance_cosine", 2, _cosine_distance, deterministic=True)
        conn.create_function("vec_distance_L2", 2, _l2_distance, deterministic=True)
        conn.create_function("vec_distance_L1", 2, _l1_distance, deterministic=True)
        self._conn = conn

    def enable_load_extension(self, enabled: bool) -> None:
        """No-op: the vector functions are already registered."""

    def load_extension(self, path: str, *args: Any, **kwargs: Any) -> None:
        """No-op: the vector functions are already registered."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def _connect(path: Path) -> Any:
    """Open ``path`` as ``SqliteStore`` expects (autocommit, shared across threads), with vectors."""
    conn = connect_sqlite(path, wal=False, isolation_level=None)
    try:
        import sqlite_vec

        conn.enable_load_extension(True)
        sqlite_vec.load(conn)
        conn.enable_load_extension(False)
        return conn
    except (ImportError, AttributeError, sqlite3.OperationalError):
        return _PythonVectorConnection(conn)


_STORES: dict[Any, Any] = {}
_STORES_LOCK = threading.Lock()
#: PostgreSQL recalls without pgvector rank this many of a user's latest memories by meaning in Python.
_RANKED = 200


def _location(path: str | Path | None) -> Path | StoreURL:
    """The SQLite file ``path``, or for None the store ``APPRENTICE_DB`` says (``memory.db`` beside the trace
    file, or the PostgreSQL database)."""
    if path is not None and "://" not in str(path):
        return Path(path).expanduser().resolve()
    url = store_url(path)
    return url.beside("memory.db").expanduser().resolve() if url.is_sqlite else url


def _errors(where: Path | StoreURL) -> contextlib.AbstractContextManager:
    return sqlite_errors(where) if isinstance(where, Path) else db_errors(where)


def open_memory_store(path: str | Path | None = None) -> Any:
    """Return the long-term store at ``path`` (default ``data_path("memory.db")``, or PostgreSQL as
    ``APPRENTICE_DB`` says), set up and cached.

    The store has a semantic index over the ``text`` field (MiniLM, 384 dims; on PostgreSQL where the server has
    pgvector); one store object is shared per path within a process.

    Raises:
        StoreError: the file is damaged, its folder cannot be made or written, or the server cannot be reached.
    """
    where = _location(path)
    key = where if isinstance(where, Path) else where.conninfo()
    with _STORES_LOCK:
        store = _STORES.get(key)
        if store is None:
            index = {"dims": EMBEDDING_DIMS, "embed": get_embeddings(), "fields": ["text"]}
            store = _STORES[key] = _open_sqlite(where, index) if isinstance(where, Path) else _open_postgres(where, index)
        return store


def _open_sqlite(resolved: Path, index: dict) -> SqliteStore:
    try:
        resolved.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot make the folder of {resolved} ({exc.strerror or exc})") from exc
    return set_up(SqliteStore(_connect(resolved), index=index), resolved)


def _open_postgres(url: StoreURL, index: dict) -> Any:
    """LangGraph's PostgresStore on the process's pool; its vector index only where the server has pgvector
    (else :func:`recall` ranks by meaning itself)."""
    from langgraph.store.postgres import PostgresStore

    pool = pg_pool(url)
    with db_errors(url), pool.connection() as conn:
        vectors = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone()
    store = PostgresStore(pool, index=index if vectors else None)
    with pg_setup_lock(url, "apprentice-memory"), db_errors(url):
        store.setup()
    return store


def close_memory_store(path: str | Path | None = None) -> None:
    """Close the cached store at ``path`` (if open); the next :func:`open_memory_store` reopens it."""
    where = _location(path)
    with _STORES_LOCK:
        store = _STORES.pop(where if isinstance(where, Path) else where.conninfo(), None)
    if isinstance(store, SqliteStore):
        store.conn.close()


# ---------------------------------------------------------------------- the tools


def memory_namespace(user_id: str = "default") -> tuple[str, str]:
    """The store namespace of a user's memories (store labels may not contain periods)."""
    label = re.sub(r"[.\s]+", "_", user_id.strip()) or "default"
    return (MEMORY_NAMESPACE, label)


def remember(text: str, *, user_id: str = "default", path: str | Path | None = None) -> str:
    """Store ``text`` as a memory of ``user_id``; secrets are redacted before anything is written.

    Raises:
        ToolInputError: empty or overlong text.
    """
    text = redact(" ".join(text.split()))
    if not text:
        raise ToolInputError("nothing to remember: the text is empty")
    if len(text) > _MAX_MEMORY_CHARS:
        raise ToolInputError(f"a memory is at most {_MAX_MEMORY_CHARS} characters; save one short fact")
    created_at = datetime.now(UTC).isoformat(timespec="seconds")
    store = open_memory_store(path)
    with _errors(_location(path)):
        store.put(memory_namespace(user_id), uuid.uuid4().hex, {"text": text, "created_at": created_at})
    return f"remembered: {text}"


def recall(query: str, *, user_id: str = "default", path: str | Path | None = None, k: int = 3) -> str:
    """Return the ``k`` memories of ``user_id`` closest in meaning to ``query``, with their dates.

    An empty query lists the most recent memories. Returns ``"no memories yet"`` when there are none.
    """
    store = open_memory_store(path)
    with _errors(_location(path)):
        if query.strip() and getattr(store, "index_config", None) is None:  # PostgreSQL without pgvector
            items = _by_meaning(store.search(memory_namespace(user_id), limit=_RANKED), query, k)
        else:
            items = store.search(memory_namespace(user_id), query=query.strip() or None, limit=k)
    if not items:
        return "no memories yet"
    lines = [
        f"{number}. ({str(item.value.get('created_at', ''))[:10]}) {item.value.get('text', '')}"
        for number, item in enumerate(items, start=1)
    ]
    return redact("\n".join(lines))


def _by_meaning(items: list, query: str, k: int) -> list:
    """The ``k`` of ``items`` closest in meaning to ``query`` (cosine of their MiniLM embeddings)."""
    if not items:
        return []
    embed = get_embeddings()
    vectors = np.asarray(embed.embed_documents([str(item.value.get("text", "")) for item in items]))
    target = np.asarray(embed.embed_query(query))
    scores = vectors @ target / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(target) + 1e-9)
    return [items[i] for i in np.argsort(-scores)[:k]]


def make_memory_tools(user_id: str = "default", path: str | Path | None = None) -> list[BaseTool]:
    """The ``remember`` and ``recall`` tools for one user."""
    return [
        StructuredTool.from_function(
            func=partial(remember, user_id=user_id, path=path),
            name="remember",
            description=_REMEMBER_DESCRIPTION,
            args_schema=RememberInput,
            handle_tool_error=format_tool_error,
        ),
        StructuredTool.from_function(
            func=partial(recall, user_id=user_id, path=path),
            name="recall",
            description=_RECALL_DESCRIPTION,
            args_schema=RecallInput,
            handle_tool_error=format_tool_error,
        ),
    ]
