"""Where the stores live: ``APPRENTICE_DB`` is ``sqlite:///PATH`` (the default: ``traces.db``, ``threads.db`` and
``memory.db`` in the home) or ``postgresql://USER@HOST:PORT/DB`` (traces, threads and memory in one shared
database). A server that cannot be reached, a refused login or a missing database is one :class:`StoreError`
naming host and port, never the password (give it in ``PGPASSFILE`` or ``PGPASSWORD``, not in the URL)."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apprentice.errors import ApprenticeError, StoreError
from apprentice.secrets import redact

__all__ = ["StoreURL", "store_url", "db_errors", "pg_engine", "pg_pool", "pg_setup_lock", "close_pg"]

_SCHEMES = {"sqlite": "sqlite", "postgresql": "postgresql", "postgres": "postgresql",
            "postgresql+psycopg": "postgresql"}
_USAGE = "use sqlite:///PATH or postgresql://USER@HOST:PORT/DB"


@dataclass(frozen=True)
class StoreURL:
    """A parsed store URL: ``engine`` is ``sqlite`` or ``postgresql``; ``path`` is the SQLite trace file
    (threads and memory sit beside it), None for PostgreSQL."""

    engine: str
    path: Path | None = None
    host: str = "localhost"
    port: int = 5432
    user: str | None = None
    password: str | None = None
    database: str | None = None

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded default."""
        return self.engine == "sqlite"

    def beside(self, name: str) -> Path:
        """A SQLite store's sibling file (``threads.db``, ``memory.db``)."""
        assert self.path is not None, "only a SQLite store has files"
        return self.path.with_name(name)

    def public(self) -> str:
        """The URL without its password: what messages, logs and Ray workers get."""
        if self.is_sqlite:
            return f"sqlite:///{self.path}"
        user = f"{self.user}@" if self.user else ""
        return f"postgresql://{user}{self.host}:{self.port}/{self.database or ''}"

    def where(self) -> str:
        """``HOST:PORT/DB`` (PostgreSQL) or the file (SQLite), for one-line errors."""
        return str(self.path) if self.is_sqlite else f"{self.host}:{self.port}/{self.database or ''}"

    def conninfo(self) -> str:
        """The libpq connection string, password included when the URL had one (never printed)."""
        from sqlalchemy.engine import URL

        url = URL.create("postgresql", self.user, self.password, self.host, self.port, self.database)
        return url.render_as_string(hide_password=False)

    def __str__(self) -> str:
        return self.public()

    def __repr__(self) -> str:
        return f"StoreURL({self.public()!r})"


def store_url(value: str | os.PathLike | StoreURL | None = None) -> StoreURL:
    """Parse a store URL; a plain path is a SQLite trace file; None reads ``APPRENTICE_DB`` (default: the
    home's ``traces.db``). ``sqlite:///PATH`` names the trace file, or a folder that holds the three files.

    Raises:
        ApprenticeError: a URL of another kind, or one that does not parse.
    """
    if isinstance(value, StoreURL):
        return value
    if value is None:
        value = os.environ.get("APPRENTICE_DB") or None
        if value is None:
            return StoreURL("sqlite", _home_traces())
    text = os.fspath(value)
    if "://" not in text:
        return StoreURL("sqlite", _sqlite_file(text))
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(text)
        port = url.port
    except (ArgumentError, ValueError) as exc:
        raise ApprenticeError(f"cannot read the store URL {_hide(text)!r}; {_USAGE}") from exc
    engine = _SCHEMES.get(url.drivername)
    if engine is None:
        raise ApprenticeError(f"unknown store URL {_hide(text)!r}; {_USAGE}")
    if engine == "sqlite":
        return StoreURL("sqlite", _sqlite_file(url.database) if url.database else _home_traces())
    if not url.database:
        raise ApprenticeError(f"the store URL {_hide(text)!r} names no database; {_USAGE}")
    return StoreURL("postgresql", None, url.host or "localhost", port or 5432, url.username, url.password,
                    url.database)


def _home_traces() -> Path:
    from apprentice.sqlite import home_file

    return home_file("traces.db")


def _sqlite_file(text: str) -> Path:
    path = Path(text).expanduser()
    return path / "traces.db" if path.is_dir() else path


def _hide(text: str) -> str:
    """``text`` with the password of any URL in it masked (and every known secret)."""
    import re

    return redact(re.sub(r"(://[^:/@\s]*):[^@/\s]*@", r"\1:***@", text))


# -- PostgreSQL connections --------------------------------------------------------------------------

# psycopg's own warnings (a pool reconnecting, a connection discarded) would reach the terminal through logging's
# last resort: a failure the user can act on is reported once, as a StoreError; an application's handlers still see them
logging.getLogger("psycopg").addHandler(logging.NullHandler())

_ENGINES: dict[str, Any] = {}
_POOLS: dict[str, Any] = {}
_PG_LOCK = threading.Lock()
#: Connection settings for every PostgreSQL connection: a dead server is an error in seconds, not minutes.
_CONNECT = {"connect_timeout": 10, "application_name": "apprentice"}
#: Seconds a caller waits for a pooled connection before it checks that the server is there at all.
_PROBE_S = 1.0


def pg_engine(url: StoreURL) -> Any:
    """The process-wide SQLAlchemy engine of ``url`` (a pool of psycopg connections)."""
    from sqlalchemy import create_engine

    with _PG_LOCK:
        engine = _ENGINES.get(url.conninfo())
        if engine is None:
            engine = create_engine(url.conninfo().replace("postgresql://", "postgresql+psycopg://", 1),
                                   pool_size=4, max_overflow=28, hide_parameters=True,
                                   connect_args=dict(_CONNECT))
            _ENGINES[url.conninfo()] = engine
        return engine


def pg_pool(url: StoreURL) -> Any:
    """The process-wide psycopg pool of ``url`` as LangGraph's PostgresSaver and PostgresStore want it
    (autocommit, dict rows, no prepared statements); the first connection is opened now, so a bad URL
    fails here."""
    from psycopg.rows import dict_row

    with _PG_LOCK:
        pool = _POOLS.get(url.conninfo())
        if pool is None:
            kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row, **_CONNECT}
            pool = _pool_class()(url.conninfo(), min_size=1, max_size=16, kwargs=kwargs, open=False, timeout=15)
            try:
                with db_errors(url):
                    pool.open(wait=True, timeout=15)
            except BaseException:
                pool.close()
                raise
            _POOLS[url.conninfo()] = pool
        return pool


def _pool_class() -> type:
    """psycopg's ConnectionPool, whose callers learn in seconds that the server is gone: the pool itself keeps them
    waiting its whole timeout while it reconnects in the background (a batch job whose server went away would
    stop minutes late). A caller that waited :data:`_PROBE_S` tries one connection of its own: its error is the
    answer when the server is down, else the caller waits on as before (the pool is only busy)."""
    import psycopg
    from psycopg_pool import ConnectionPool, PoolTimeout

    class FailFastPool(ConnectionPool):
        def getconn(self, timeout: float | None = None) -> Any:
            timeout = self.timeout if timeout is None else timeout
            try:
                return super().getconn(min(_PROBE_S, timeout))
            except PoolTimeout:
                if timeout <= _PROBE_S:
                    raise
            psycopg.connect(self.conninfo, **(self.kwargs or {})).close()
            return super().getconn(timeout - _PROBE_S)

    return FailFastPool


def close_pg(url: StoreURL | None = None) -> None:
    """Close the engines and pools of ``url`` (of every URL when None); the next use opens them again."""
    with _PG_LOCK:
        keys = [url.conninfo()] if url is not None else list({*_ENGINES, *_POOLS})
        engines = [_ENGINES.pop(k) for k in keys if k in _ENGINES]
        pools = [_POOLS.pop(k) for k in keys if k in _POOLS]
    for engine in engines:
        engine.dispose()
    for pool in pools:
        pool.close()


@contextlib.contextmanager
def pg_setup_lock(url: StoreURL, name: str) -> Iterator[None]:
    """Hold a PostgreSQL advisory lock named ``name`` while tables are made: two processes starting at once
    (Ray workers) would otherwise race on ``CREATE TABLE IF NOT EXISTS``."""
    import psycopg

    with db_errors(url), psycopg.connect(url.conninfo(), autocommit=True, **_CONNECT) as conn:
        key = zlib.crc32(name.encode())
        conn.execute("SELECT pg_advisory_lock(%s)", (key,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


# -- errors ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def db_errors(url: StoreURL) -> Iterator[None]:
    """Turn a database failure the user can act on into a :class:`StoreError` naming the store (SQLite: the
    file; PostgreSQL: host, port and database, never the password); any other one is a bug and passes."""
    try:
        yield
    except StoreError:
        raise
    except Exception as exc:
        error = store_error(url, exc)
        if error is None:
            raise
        raise error from exc


def store_error(url: StoreURL, exc: BaseException) -> StoreError | None:
    """The :class:`StoreError` for ``exc`` (a SQLAlchemy, psycopg or sqlite3 error), or None for a bug."""
    orig = getattr(exc, "orig", None) or exc
    if isinstance(orig, sqlite3.Error) and url.is_sqlite:
        from apprentice.sqlite import sqlite_store_error

        return sqlite_store_error(url.path, orig)
    try:
        import psycopg
        from psycopg_pool import PoolTimeout
    except ImportError:  # pragma: no cover - a dependency
        return None
    if isinstance(orig, PoolTimeout) or isinstance(exc, PoolTimeout):
        return _unreachable(url, "no connection within 15 s")
    if not isinstance(orig, psycopg.Error):
        return None
    return _pg_error(url, orig)


def _pg_error(url: StoreURL, exc: Any) -> StoreError | None:
    import psycopg

    state = getattr(exc, "sqlstate", None) or ""
    reason = _hide(" ".join(str(exc).split()) or type(exc).__name__)
    who = f"user {url.user}" if url.user else "the default user"
    if state in ("28P01", "28000") or "password authentication failed" in str(exc):
        return StoreError(f"PostgreSQL at {url.host}:{url.port} refused {who} ({reason}); put the right password "
                          "in PGPASSFILE or PGPASSWORD (never in the URL)")
    if state == "3D000" or f'database "{url.database}" does not exist' in str(exc):
        return StoreError(f"PostgreSQL at {url.host}:{url.port} has no database {url.database!r}; create it "
                          f"(createdb -h {url.host} -p {url.port} {url.database}) or fix APPRENTICE_DB")
    if state == "42501":
        return StoreError(f"PostgreSQL at {url.where()}: {who} may not do this ({reason}); grant it access")
    if state == "53100":
        return StoreError(f"PostgreSQL at {url.where()}: the server's disk is full ({reason})")
    if state.startswith(("08", "57P")) or isinstance(exc, psycopg.OperationalError) and not state:
        return _unreachable(url, reason)
    return None


def _unreachable(url: StoreURL, reason: str) -> StoreError:
    return StoreError(f"cannot reach the PostgreSQL server at {url.host}:{url.port} (database {url.database}): "
                      f"{reason}; check that it runs and that APPRENTICE_DB names it")
