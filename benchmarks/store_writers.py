"""Traces written per second by 1, 4 and 16 concurrent writers, SQLite (the home's traces.db) vs PostgreSQL.

Each writer is its own process with its own TraceStore, as Ray workers, a server and chat sessions are, and
writes whole traces for a fixed time: a run opened, 6 steps in 3 graph nodes' worth of transactions, the run
closed and a verdict added (5 transactions, what a 3-step ReAct run costs the store). SQLite runs in WAL with
synchronous=NORMAL; the PostgreSQL server (started here in a temp folder unless --pg names one) keeps fsync on
with synchronous_commit=off, the same promise: a power cut may lose the last commits, never corrupts.

    python benchmarks/store_writers.py [--seconds 4] [--pg postgresql://USER@HOST:PORT/DB] \
        [--out benchmarks/results/store_writers.txt]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WRITERS = (1, 4, 16)


def _one_trace(store, n: int, writer: int) -> None:
    from apprentice.traces import Step

    run_id = store.start_run(strategy="react", model="openai:teacher", question=f"What is {n} + {writer}?",
                             task="arith", item_id=f"w{writer}-{n}", meta={"writer": writer})
    for node in range(3):
        store.add_steps(run_id, [
            Step(idx=2 * node, kind="llm", node="reason", raw=f" I add.\nAction: calculator\nAction Input: {n} + 1",
                 tokens_in=120, tokens_out=18, latency_s=0.05),
            Step(idx=2 * node + 1, kind="observation", node="act", tool="calculator", observation=str(n + 1))])
    store.finish_run(run_id, answer=str(n + writer))
    store.add_verdict(run_id, verifier="numeric", correct=True, score=1.0)


def _writer(url: str, writer: int, ready, seconds: float, counts) -> None:
    from apprentice.traces.store import TraceStore

    store = TraceStore(url)
    ready.wait()
    begun = time.time()
    deadline, done = begun + seconds, 0
    while time.time() < deadline:
        _one_trace(store, done, writer)
        done += 1
    counts[writer] = (done, begun, time.time())
    store.close()


def measure(url: str, writers: int, seconds: float) -> float:
    """Traces per second of ``writers`` processes writing to ``url`` for ``seconds``."""
    from apprentice.traces.store import TraceStore

    TraceStore(url).close()  # the schema exists before the clock starts
    ctx = mp.get_context("spawn")
    ready, counts = ctx.Barrier(writers + 1), ctx.Manager().dict()
    procs = [ctx.Process(target=_writer, args=(url, w, ready, seconds, counts)) for w in range(writers)]
    for proc in procs:
        proc.start()
    ready.wait()  # every writer imported and connected: they start together
    for proc in procs:
        proc.join()
    if any(proc.exitcode for proc in procs) or len(counts) != writers:
        raise SystemExit(f"a writer failed on {url}")
    done, begun, ended = zip(*counts.values(), strict=True)
    return sum(done) / (max(ended) - min(begun))


def _postgres(url: str | None):
    """(url, server or None): the given URL, or a durable server started in a temp folder."""
    if url:
        return url, None
    sys.path.insert(0, str(ROOT / "tests"))
    from pg_server import find_bindir, start_postgres

    bindir = find_bindir()
    if bindir is None:
        raise SystemExit("no PostgreSQL binaries (initdb, pg_ctl); install postgresql or pass --pg URL")
    server = start_postgres(bindir, durable=True)
    os.environ["PGPASSFILE"] = str(server.passfile)
    return None, server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="how long each measurement writes")
    parser.add_argument("--pg", help="a PostgreSQL URL to use (its password in PGPASSFILE); default: start one")
    parser.add_argument("--out", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    pg, server = _postgres(args.pg)
    rates: dict[tuple[str, int], float] = {}
    try:
        for writers in WRITERS:
            with tempfile.TemporaryDirectory() as folder:
                rates["sqlite", writers] = measure(f"sqlite:///{folder}/traces.db", writers, args.seconds)
            url = server.create_database(f"w{writers}") if server else pg
            rates["postgresql", writers] = measure(url, writers, args.seconds)
            print(f"{writers:>2} writers: sqlite {rates['sqlite', writers]:8.1f}/s  "
                  f"postgresql {rates['postgresql', writers]:8.1f}/s", file=sys.stderr)
    finally:
        if server:
            server.stop()
    report = _report(rates, args)
    print(report)
    if args.out:
        args.out.write_text(report + "\n", encoding="utf-8")
    return 0


def _report(rates: dict[tuple[str, int], float], args: argparse.Namespace) -> str:
    lines = [
        (f"$ python benchmarks/store_writers.py --seconds {args.seconds:g}" + (" --pg URL" if args.pg else "")
         + (f" --out {args.out}" if args.out else "")),
        (f"# {platform.node()}: {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f} at the end: shared with "
         f"other jobs), Python {platform.python_version()}; one trace = 5 transactions (run, 3 step batches of 2, "
         "finish, verdict); writers are processes, each with its own store handle"),
        "",
        "writers | sqlite traces/s | postgresql traces/s | postgresql / sqlite | sqlite vs 1 writer | postgresql vs 1",
        "--------|-----------------|---------------------|---------------------|--------------------|----------------",
    ]
    for writers in WRITERS:
        lite, pg = rates["sqlite", writers], rates["postgresql", writers]
        lines.append(f"{writers:>7} | {lite:15.1f} | {pg:19.1f} | {pg / lite:19.2f} | "
                     f"{lite / rates['sqlite', 1]:18.2f} | {pg / rates['postgresql', 1]:15.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
