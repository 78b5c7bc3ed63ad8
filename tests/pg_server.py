"""A throwaway PostgreSQL server for tests and benchmarks: ``initdb`` and ``pg_ctl`` in a temporary folder, on a
loopback port, with a random password that clients read from a ``PGPASSFILE``. The server refuses to run as root,
so under root it runs as ``nobody`` (through ``runuser``)."""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PostgresServer", "find_bindir", "serve_for_tests", "start_postgres"]

USER = "apprentice"


def find_bindir() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: on PATH, else Debian's ``/usr/lib/postgresql/N/bin``."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


@dataclass
class PostgresServer:
    """A running server: ``url(db)`` names a database on it (no password: that is in ``passfile``)."""

    folder: Path
    bindir: Path
    port: int
    password: str
    passfile: Path
    as_user: list[str]
    options: str = ""

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Make the database ``name`` and return its URL."""
        import psycopg

        env = {"PGPASSFILE": str(self.passfile)}
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={USER} dbname=postgres "
                             f"passfile={env['PGPASSFILE']}", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def start(self) -> None:
        """Start the server (again, after :meth:`halt`: same port, same data)."""
        subprocess.run([*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.folder / "data"), "-o",
                        self.options, "-l", str(self.folder / "log"), "-w", "-t", "60", "start"],
                       check=True, capture_output=True)

    def halt(self) -> None:
        """Stop the server as an administrator would (``pg_ctl stop -m fast``: sessions are cut), keeping its data."""
        subprocess.run([*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast",
                        "stop"], check=False, capture_output=True)

    def stop(self) -> None:
        """Stop the server and remove everything it had."""
        self.halt()
        shutil.rmtree(self.folder, ignore_errors=True)
        shutil.rmtree(self.passfile.parent, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_postgres(bindir: Path, *, durable: bool = False) -> PostgresServer:
    """Start a server; ``durable`` keeps fsync on (benchmarks), else it is off (tests are throwaway). Commits do not
    wait for their fsync (``synchronous_commit=off``): the promise of SQLite's WAL with synchronous=NORMAL."""
    folder = Path(tempfile.mkdtemp(prefix="apprentice-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "nobody")
        as_user = ["runuser", "-u", "nobody", "--"]
    password = secrets.token_urlsafe(18)
    pwfile = folder / "pw"
    pwfile.write_text(password + "\n")
    if as_user:
        shutil.chown(pwfile, "nobody")
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(folder / "data"), "-U", USER, f"--pwfile={pwfile}",
                    "-A", "scram-sha-256", "--no-sync", "-E", "UTF8"], check=True, capture_output=True)
    pwfile.unlink()
    port = _free_port()
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=200 -c synchronous_commit=off"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    passfile = Path(tempfile.mkdtemp(prefix="apprentice-pgpass-")) / "pgpass"
    passfile.write_text(f"127.0.0.1:{port}:*:{USER}:{password}\n")
    passfile.chmod(0o600)
    server = PostgresServer(folder, bindir, port, password, passfile, as_user, options)
    server.start()
    return server


def serve_for_tests() -> Iterator[PostgresServer]:
    """The body of a session fixture: a server for the tests, stopped after them. Without PostgreSQL binaries the
    tests skip, saying so, and fail under CI (``CI`` set), which must run them."""
    import pytest

    from apprentice.db import close_pg

    bindir = find_bindir()
    if bindir is None:
        message = "no PostgreSQL server binaries (initdb, pg_ctl): install the postgresql package"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must run these tests)")
        pytest.skip(message)
    server = start_postgres(bindir)
    yield server
    close_pg()
    server.stop()
