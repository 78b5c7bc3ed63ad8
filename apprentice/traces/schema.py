"""The trace store's tables, defined once (SQLAlchemy Core) for SQLite and PostgreSQL, and versioned in
``apprentice_schema`` (one row per version applied).

The tables below are the newest layout: a new database is made from them at once. A database of an older version is
brought up by :data:`MIGRATIONS`, each step from the version before it, in order, all in the one transaction that
opens the store (a step that fails leaves the database as it was, and says which step); a database newer than this
code is refused. Version 1 is the layout that ``traces.db`` always had, so a file written before versioning
(version 0) gets what it lacks and its version. JSON columns (``meta``, ``tree``, ``data``) are text on both engines,
so a row reads back the same wherever it was written.

A new version: change the tables here, add ``N: _to_vN`` (a function of the open connection that turns a version
N-1 database into version N, with SQLAlchemy Core or SQL both engines take), and test it from a database of N-1.
"""

from __future__ import annotations

import time
from collections.abc import Callable
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

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "apply_schema", "metadata", "runs", "schema_table", "steps", "verdicts"]

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


def _to_v1(conn: Any) -> None:
    """Version 0 -> 1: a ``traces.db`` from before versioning gets any table or index it lacks."""
    metadata.create_all(conn, checkfirst=True)
    _add_missing_indexes(conn)


#: version -> the step that turns a database of the version before it into that one (run inside the transaction).
MIGRATIONS: dict[int, Callable[[Any], None]] = {1: _to_v1}

#: The layout this code reads and writes: the newest version with a migration.
SCHEMA_VERSION = max(MIGRATIONS)


def apply_schema(conn: Any, where: str) -> int:
    """Bring the database behind ``conn`` (in a transaction) to the newest version of :data:`MIGRATIONS`; returns
    the version it had (0: none yet, or a file from before versioning).

    Raises:
        StoreError: the database was written by a newer apprentice, or a step of its upgrade failed (nothing of
            the upgrade is kept: the caller's transaction rolls back).
    """
    newest = max(MIGRATIONS)
    found = _version(conn)
    if found == newest:
        return found
    if found > newest:
        raise StoreError(f"{where} holds traces of schema version {found}, newer than this apprentice reads "
                         f"({newest}); upgrade apprentice (pip install -U apprentice)")
    if found == 0 and not inspect(conn).has_table(runs.name):  # a new database: the newest layout at once
        metadata.create_all(conn)
        _record(conn, newest)
        return found
    for version in range(found + 1, newest + 1):
        try:
            MIGRATIONS[version](conn)
        except StoreError:
            raise
        except Exception as exc:
            reason = " ".join(str(exc).split())[:300] or type(exc).__name__
            raise StoreError(f"cannot upgrade the traces in {where} from schema version {version - 1} to {version} "
                             f"({reason}); nothing was changed: fix the cause and run again") from exc
        _record(conn, version)
    return found


def _record(conn: Any, version: int) -> None:
    if not inspect(conn).has_table(schema_table.name):
        schema_table.create(conn)
    conn.execute(schema_table.insert().values(version=version, applied_at=time.time()))


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
