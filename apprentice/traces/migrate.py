"""Moving a home into a shared store (``apprentice traces migrate --to postgresql://...``): its traces with their
steps, verdicts and ratings, its conversation threads, and its long-term memories.

Running it twice copies nothing twice, and a crash half-way loses nothing: runs go over in batches, one
transaction each, and a run the target holds already is not copied again (it only gains the verdicts given since,
or is replaced if it was still running when first copied); checkpoints and memories are written under their own
ids, so writing one again changes nothing. Run it again after a crash and it finishes the job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from apprentice.db import StoreURL, store_url
from apprentice.errors import ApprenticeError
from apprentice.sqlite import home_file

__all__ = ["MigrationResult", "migrate_home"]


@dataclass
class MigrationResult:
    """What one migration found in the home and what it wrote to the target."""

    target: str
    runs_found: int = 0
    runs_copied: int = 0
    checkpoints: int = 0
    threads: int = 0
    memories: int = 0

    def summary(self) -> str:
        """One line for the terminal."""
        return (f"{self.runs_copied} of {self.runs_found} runs copied or brought up to date; {self.checkpoints} "
                f"checkpoints of {self.threads} threads and {self.memories} memories written (in place where the "
                f"target had them) -> {self.target}")


def migrate_home(
    target: str | StoreURL,
    *,
    source: str | Path | None = None,
    batch_size: int = 200,
    progress: Callable[[str], None] | None = None,
) -> MigrationResult:
    """Copy the SQLite stores of a home (``source``: its ``traces.db``, default the home's) into ``target``.

    Raises:
        ApprenticeError: the target is the source, or not a store URL.
        StoreError: either store cannot be read or written (one line, never the password).
    """
    src = StoreURL("sqlite", Path(source).expanduser()) if source else StoreURL("sqlite", home_file("traces.db"))
    if src.path.is_dir():
        src = StoreURL("sqlite", src.path / "traces.db")
    dst = store_url(target)
    if dst.is_sqlite and dst.path.resolve() == src.path.resolve():
        raise ApprenticeError(f"--to names the store being copied ({src.path}); give the target store's URL")
    result = MigrationResult(dst.public())
    say = progress or (lambda text: None)
    if src.path.exists():
        _copy_runs(src, dst, batch_size, result, say)
    if src.beside("threads.db").exists():
        _copy_threads(src.beside("threads.db"), dst, result, say)
        _copy_titles(src.beside("threads.db"), dst, say)
    if src.beside("memory.db").exists():
        _copy_memories(src.beside("memory.db"), dst, result, say)
    return result


def _copy_runs(src: StoreURL, dst: StoreURL, batch_size: int, result: MigrationResult,
               say: Callable[[str], None]) -> None:
    """Runs, oldest first, ``batch_size`` per transaction of the target."""
    from apprentice.traces.store import TraceStore

    source, target = TraceStore(src), TraceStore(dst)
    try:
        ids = [run.id for run in source.query(newest_first=False)]
        result.runs_found = len(ids)
        for start in range(0, len(ids), batch_size):
            batch = [source.get(run_id) for run_id in ids[start:start + batch_size]]
            result.runs_copied += len(target.put_runs(batch, existing="merge"))
            say(f"runs: {min(start + batch_size, len(ids))}/{len(ids)}")
    finally:
        source.close()
        target.close()


def _copy_threads(path: Path, dst: StoreURL, result: MigrationResult, say: Callable[[str], None]) -> None:
    """Every checkpoint of every thread, with its pending writes (upserts under the same ids)."""
    from apprentice.graphs.threads import close_checkpointer, open_checkpointer

    source = open_checkpointer(path)
    target = open_checkpointer(dst.path.with_name("threads.db") if dst.is_sqlite else dst.conninfo())
    threads: set[str] = set()
    try:
        for saved in source.list(None):
            here = saved.config["configurable"]
            parent = ((saved.parent_config or {}).get("configurable") or {}).get("checkpoint_id")
            config = {"configurable": {"thread_id": here["thread_id"], "checkpoint_ns": here.get("checkpoint_ns", ""),
                                       **({"checkpoint_id": parent} if parent else {})}}
            stored = target.put(config, saved.checkpoint, saved.metadata, saved.checkpoint["channel_versions"])
            by_task: dict[str, list] = {}
            for task_id, channel, value in saved.pending_writes or []:
                by_task.setdefault(task_id, []).append((channel, value))
            for task_id, writes in by_task.items():
                target.put_writes(stored, writes, task_id)
            threads.add(here["thread_id"])
            result.checkpoints += 1
    finally:
        close_checkpointer(path)
    result.threads = len(threads)
    say(f"threads: {result.checkpoints} checkpoints of {result.threads} threads")


def _copy_titles(path: Path, dst: StoreURL, say: Callable[[str], None]) -> None:
    """The chat's thread titles (its sidebar): each thread the target does not list yet."""
    from apprentice.tui.sessions import SessionStore

    source = SessionStore(path)
    target = SessionStore(dst.path.with_name("threads.db") if dst.is_sqlite else dst.conninfo())
    try:
        known = {s.id for s in target.list()}
        new = [s for s in source.list() if s.id not in known]
        for session in new:
            target.put(session)
    finally:
        source.close()
        target.close()
    say(f"chat titles: {len(new)} copied")


def _copy_memories(path: Path, dst: StoreURL, result: MigrationResult, say: Callable[[str], None]) -> None:
    """Every memory of every user, under its own key."""
    from apprentice.tools.memory import (
        MEMORY_NAMESPACE,
        close_memory_store,
        open_memory_store,
    )

    source = open_memory_store(path)
    target = open_memory_store(dst.path.with_name("memory.db") if dst.is_sqlite else dst.conninfo())
    try:
        for namespace in source.list_namespaces(prefix=(MEMORY_NAMESPACE,), limit=100_000):
            for item in source.search(namespace, limit=100_000):
                target.put(namespace, item.key, item.value)
                result.memories += 1
    finally:
        close_memory_store(path)
    say(f"memories: {result.memories}")
