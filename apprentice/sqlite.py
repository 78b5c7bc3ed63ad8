"""Opening the home's SQLite files (traces.db, threads.db, memory.db, the chat's sessions): a damaged file, a
damaged write-ahead log, a folder one cannot write or a full disk is one :class:`StoreError` that names the file
and says what to do, never an internal error."""

from __future__ import annotations

import contextlib
import os
import shlex
import sqlite3
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from apprentice.config import data_path
from apprentice.errors import StoreError

__all__ = ["home_file", "connect_sqlite", "sqlite_errors", "sqlite_store_error", "set_up"]


_WAL_MAGIC = (0x377F0682, 0x377F0683)  # the low bit says which byte order the checksums use
_WAL_VERSION = 3007000


def home_file(name: str) -> Path:
    """``data_path(name)``; a home folder that cannot be made is a :class:`StoreError` naming it."""
    try:
        return data_path(name)
    except OSError as exc:
        where = exc.filename or os.environ.get("APPRENTICE_HOME") or "the apprentice home"
        why = "it is a file, not a folder" if isinstance(exc, FileExistsError) else exc.strerror or str(exc)
        raise StoreError(f"cannot use {where} as the apprentice home folder ({why}); "
                         "set APPRENTICE_HOME to a folder you can write") from exc


def connect_sqlite(path: Path, *, wal: bool = True, **kwargs: Any) -> sqlite3.Connection:
    """Open the SQLite file ``path`` (in WAL mode unless ``wal`` is false) for use from any thread.

    A damaged write-ahead log beside it, a damaged file, or a folder one cannot write is a
    :class:`StoreError` that names the file and says what to do; ``kwargs`` go to ``sqlite3.connect``.
    """
    _check_wal(path)
    with sqlite_errors(path):
        conn = sqlite3.connect(path, check_same_thread=False, **kwargs)
        try:
            if wal:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            else:
                conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # reads the header now
        except BaseException:
            conn.close()
            raise
    return conn


@contextlib.contextmanager
def sqlite_errors(path: Path) -> Iterator[None]:
    """Turn a SQLite failure on ``path`` that the user can act on into a :class:`StoreError` naming it
    (damaged, not writable, disk full, locked); any other one is a bug and passes unchanged."""
    try:
        yield
    except sqlite3.Error as exc:
        error = sqlite_store_error(Path(path), exc)
        if error is None:
            raise
        raise error from exc


def sqlite_store_error(path: Path, exc: sqlite3.Error) -> StoreError | None:
    """The :class:`StoreError` for a SQLite failure on ``path`` that the user can act on; None for a bug."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    detail = f"SQLite: {exc}"
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return StoreError(f"{path} is damaged and cannot be read ({detail}); to start a fresh one and keep "
                          f"this one, move it aside: {_move_aside(path)}")
    if path.is_dir():
        return StoreError(f"{path} is a folder, not a database file; move it aside: {_move_aside(path)}")
    if name.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_PERM", "SQLITE_AUTH")):
        if not path.parent.is_dir():
            what = f"the folder {path.parent} does not exist"
        elif path.exists() and not os.access(path, os.W_OK):
            what = "the file is read-only"
        else:
            what = f"the folder {path.parent} is not writable"
        return StoreError(f"cannot write {path}: {what} ({detail}); make it writable, or set "
                          "APPRENTICE_HOME to a folder you can write")
    if name.startswith("SQLITE_FULL"):
        return StoreError(f"cannot write {path}: the disk is full ({detail})")
    if name.startswith("SQLITE_IOERR"):
        return StoreError(f"cannot read or write {path}: the disk failed ({detail})")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return StoreError(f"{path} is locked by another process ({detail}); try again when it is done")
    return None


def _check_wal(path: Path) -> None:
    """Refuse a write-ahead log beside ``path`` that is not one: SQLite would ignore it without a word,
    and with it every change not yet merged into the database (``traces list`` said nothing at all)."""
    wal = path.with_name(path.name + "-wal")
    try:
        with wal.open("rb") as handle:
            header = handle.read(32)
    except OSError:  # none (the usual case), or unreadable: SQLite says which when it opens the file
        return
    if len(header) < 32 or _valid_wal_header(header):  # a header cut short by a crash: SQLite reads it as empty
        return
    raise StoreError(f"{wal} is damaged: it is not a SQLite write-ahead log, so the changes it held cannot be "
                     f"read; move it aside to open {path.name} without them: {_move_aside(wal)}")


def _valid_wal_header(header: bytes) -> bool:
    if len(header) < 32:
        return False
    magic, version = struct.unpack(">II", header[:8])
    if magic not in _WAL_MAGIC or version != _WAL_VERSION:
        return False
    words = struct.unpack((">" if magic & 1 else "<") + "6I", header[:24])
    s0 = s1 = 0
    for x0, x1 in zip(words[::2], words[1::2], strict=True):
        s0 = (s0 + x0 + s1) & 0xFFFFFFFF
        s1 = (s1 + x1 + s0) & 0xFFFFFFFF
    return (s0, s1) == struct.unpack(">II", header[24:32])


def _move_aside(path: Path) -> str:
    """The shell command that renames ``path`` (and a database's -wal and -shm files with it, so they stay
    a pair) to ``<name>.corrupt-<time>``."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    moves = [(path, path.with_name(f"{path.name}.corrupt-{stamp}"))]
    if not path.name.endswith("-wal"):
        moves += [(side, path.with_name(f"{path.name}.corrupt-{stamp}{suffix}"))
                  for suffix in ("-wal", "-shm") if (side := path.with_name(path.name + suffix)).exists()]
    return " && ".join(f"mv {shlex.quote(str(a))} {shlex.quote(str(b))}" for a, b in moves)


def set_up(store: Any, path: Path) -> Any:
    """Run a LangGraph saver's or store's ``setup()`` on ``path`` (its tables), closing its connection if that
    fails; SQLite failures the user can act on become a :class:`StoreError`. Returns ``store``."""
    try:
        with sqlite_errors(path):
            store.setup()
    except BaseException:
        store.conn.close()
        raise
    return store
