"""The trace store's tables, defined once (SQLAlchemy Core) for SQLite and PostgreSQL, and versioned: the first
use of a database makes what is missing and records the version in ``apprentice_schema``.

Version 1 is the layout that ``traces.db`` always had, so a file written before versioning (version 0) is
upgraded by recording the version. JSON columns (``meta``, ``tree``, ``data``) are text on both engines, so a
row reads back the same wherever it was written.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import (
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    inspect,
    select,
)

from apprentice.errors import StoreError

__all__ = ["SCHEMA_VERSION", "metadata", "runs", "steps", "verdicts", "schema_table", "apply_schema"]

#: The layout this code reads and writes.
SCHEMA_VERSION = 1

metadata = MetaData()

runs = Table(
    "runs", metadata,
    Column("id", Text, primary_key=True),
    Column("thread_id", Text),
    Column("strategy", Text, nullable=False),
    Column("task", Text),
    Column("item_id", Text),
    Column("model", Text, nullable=False),
    Column("question", Text, nullable=False),
    Column("gold", Text),
    Column("answer", Text),
    Column("status", Text, nullable=False, server_default="running"),
    Column("error", Text),
    Column("started_at", Double, nullable=False),
    Column("ended_at", Double),
    Column("latency_s", Double),
    Column("tokens_in", Integer, nullable=False, server_default="0"),
    Column("tokens_out", Integer, nullable=False, server_default="0"),
    Column("model_calls", Integer, nullable=False, server_default="0"),
    Column("correct", Integer),
    Column("score", Double),
    Column("checker", Text),
    Column("tree", Text),
    Column("meta", Text, nullable=False, server_default="{}"),
    Index("runs_filter", "task", "strategy", "model", "started_at"),
    Index("runs_item", "task", "item_id"),
)

steps = Table(
    "steps", metadata,
    Column("run_id", Text, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("idx", Integer, nullable=False),
    Column("kind", Text, nullable=False),
    Column("node", Text),
    Column("thought", Text),
    Column("tool", Text),
    Column("tool_input", Text),
    Column("observation", Text),
    Column("raw", Text),
    Column("tokens_in", Integer, nullable=False, server_default="0"),
    Column("tokens_out", Integer, nullable=False, server_default="0"),
    Column("latency_s", Double, nullable=False, server_default="0"),
    Column("data", Text, nullable=False, server_default="{}"),
    Column("created_at", Double, nullable=False),
    PrimaryKeyConstraint("run_id", "idx"),
)

verdicts = Table(
    "verdicts", metadata,
    Column("run_id", Text, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("verifier", Text, nullable=False),
    Column("correct", Integer),
    Column("score", Double),
    Column("reason", Text),
    Column("created_at", Double, nullable=False),
    Index("verdicts_run", "run_id"),
)

schema_table = Table(
    "apprentice_schema", metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", Double, nullable=False),
)


def apply_schema(conn: Any, where: str) -> int:
    """Bring the database behind ``conn`` (in a transaction) to :data:`SCHEMA_VERSION`; returns the version
    it had (0: none yet, or a file from before versioning).

    Raises:
        StoreError: the database was written by a newer apprentice.
    """
    found = _version(conn)
    if found == SCHEMA_VERSION:
        return found
    if found > SCHEMA_VERSION:
        raise StoreError(f"{where} holds traces of schema version {found}, newer than this apprentice reads "
                         f"({SCHEMA_VERSION}); upgrade apprentice (pip install -U apprentice)")
    metadata.create_all(conn, checkfirst=True)
    _add_missing_indexes(conn)
    conn.execute(schema_table.insert().values(version=SCHEMA_VERSION, applied_at=time.time()))
    return found


def _version(conn: Any) -> int:
    if not inspect(conn).has_table("apprentice_schema"):
        return 0
    return conn.execute(select(schema_table.c.version).order_by(schema_table.c.version.desc())).scalar() or 0


def _add_missing_indexes(conn: Any) -> None:
    """``create_all`` skips the indexes of a table that already exists; make any that is missing."""
    for table in (runs, verdicts):
        have = {index["name"] for index in inspect(conn).get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in have:
                index.create(conn)
