"""Per-step overhead of our ReAct graph (+ checkpoints + trace writes) against a bare LangGraph two-node loop
with the same engine's LangGraph saver that does nothing, side by side in one process, on SQLite (the home's
files) and on PostgreSQL (the shared store: our TraceStore and PostgresSaver in one database).

Ours: ``run_question`` with a zero-latency ScriptedChatModel that asks for the calculator N times
and then answers; one step = reason + act (two graph nodes, one model call, one tool call, four
trace rows, two checkpoints), the same two super-steps per step as the bare loop. The fake
model's own time is measured and shown apart, so "ours, net" is the cost of our code alone.
Runs are interleaved (ours, bare, ours, ... on SQLite, then the same on PostgreSQL, repeat); figures are medians.
Target: ours - bare <= 2 ms on either engine. CPU is this process's: the PostgreSQL server's own work shows in
wall time only.

The PostgreSQL server is started in a temp folder (fsync on, synchronous_commit=off: SQLite's WAL promise), unless
``--pg URL`` names one (its password in PGPASSFILE) or ``--no-pg`` leaves it out.

    .venv/bin/python benchmarks/step_overhead.py [--steps 200] [--repeats 5] [--profile] [--pg URL | --no-pg]
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import os
import platform
import pstats
import sqlite3
import statistics
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal, TypedDict

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph

from apprentice.backends import ScriptedChatModel
from apprentice.graphs import run_question
from apprentice.graphs.threads import open_checkpointer
from apprentice.traces import TraceStore

ROOT = Path(__file__).resolve().parents[1]

STEP = " Step {i}: add one more.\nAction: calculator\nAction Input: {i}+1"  # distinct: repeats are cut short
FINAL = " I am done.\nFinal Answer: 2"


class TimedScripted(ScriptedChatModel):
    """The scripted model, keeping the seconds spent inside it (to subtract from ours)."""

    spent_s: float = 0.0

    def _stream(self, *args, **kwargs):
        started = time.perf_counter()
        chunks = list(super()._stream(*args, **kwargs))
        self.spent_s += time.perf_counter() - started
        yield from chunks


def ours(n: int, store: TraceStore, saver: Any) -> tuple[float, float, float]:
    """Per step: (wall seconds, CPU seconds, seconds inside the fake model)."""
    model = TimedScripted(script=[STEP.format(i=i) for i in range(n)] + [FINAL])
    started, cpu = time.perf_counter(), time.process_time()
    result = run_question("Add one, many times.", model=model, tools=["calculator"], max_steps=n + 1,
                          store=store, checkpointer=saver)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if result.answer != "2" or result.model_calls != n + 1:
        raise RuntimeError(f"unexpected run: {result.to_dict()}")
    return elapsed / n, cpu / n, model.spent_s / n


class LoopState(TypedDict):
    n: int
    limit: int


def first(state: LoopState) -> dict:
    """Count one step."""
    return {"n": state["n"] + 1}


def second(state: LoopState) -> dict:
    """Do nothing."""
    return {}


def again(state: LoopState) -> Literal["first", "__end__"]:
    """Loop until the limit."""
    return "first" if state["n"] < state["limit"] else END


def bare_graph(saver: Any):
    """The baseline: two nodes in a loop, checkpointed, doing nothing."""
    graph = StateGraph(LoopState)
    graph.add_node("first", first)
    graph.add_node("second", second)
    graph.add_edge(START, "first")
    graph.add_edge("first", "second")
    graph.add_conditional_edges("second", again)
    return graph.compile(checkpointer=saver)


def bare(n: int, graph, thread: str) -> tuple[float, float]:
    """Per step of the bare loop: (wall seconds, CPU seconds)."""
    started, cpu = time.perf_counter(), time.process_time()
    graph.invoke({"n": 0, "limit": n}, {"configurable": {"thread_id": thread}, "recursion_limit": 2 * n + 10})
    return (time.perf_counter() - started) / n, (time.process_time() - cpu) / n


def machine_info() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    libs = " ".join(f"{n}={version(n)}" for n in ("langgraph", "langgraph-checkpoint-sqlite",
                                                  "langgraph-checkpoint-postgres", "psycopg", "langchain-core"))
    return (f"date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC} · host: {platform.node()} · "
            f"cpu cores: {os.cpu_count()} · load average (1/5/15 min): {load}\n"
            f"python {platform.python_version()} · sqlite {sqlite3.sqlite_version} · {libs}")


def profile(n: int, store: TraceStore, saver: Any, top: int = 30) -> str:
    """cProfile of one run of ours, by cumulative and by own time."""
    prof = cProfile.Profile()
    prof.enable()
    ours(n, store, saver)
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def _verdict(diff_ms: float) -> str:
    return "met" if diff_ms <= 2 else "MISSED"


class Rig:
    """One engine's pair: our store and checkpointer, and the bare loop on LangGraph's own saver."""

    def __init__(self, name: str, store: TraceStore, saver: Any, bare_saver: Any) -> None:
        self.name, self.store, self.saver = name, store, saver
        self.loop = bare_graph(bare_saver)
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.fake: list[float] = []
        self.base_wall: list[float] = []
        self.base_cpu: list[float] = []

    def measure(self, steps: int, repeat: int) -> None:
        for column, value in zip((self.wall, self.cpu, self.fake), ours(steps, self.store, self.saver), strict=True):
            column.append(value)
        bare_run = bare(steps, self.loop, f"bare-{self.name}-{repeat}")
        for column, value in zip((self.base_wall, self.base_cpu), bare_run, strict=True):
            column.append(value)

    def rows(self) -> dict[str, tuple[float, float]]:
        """Medians in ms per step: (wall, CPU) for each line of the table."""
        ms = lambda xs: statistics.median(xs) * 1000  # noqa: E731
        net_wall = [w - f for w, f in zip(self.wall, self.fake, strict=True)]
        net_cpu = [c - f for c, f in zip(self.cpu, self.fake, strict=True)]
        return {"ours": (ms(self.wall), ms(self.cpu)), "fake": (ms(self.fake), ms(self.fake)),
                "net": (ms(net_wall), ms(net_cpu)), "bare": (ms(self.base_wall), ms(self.base_cpu)),
                "diff": (ms(net_wall) - ms(self.base_wall), ms(net_cpu) - ms(self.base_cpu))}


def sqlite_rig(folder: Path) -> Rig:
    bare_saver = SqliteSaver(sqlite3.connect(folder / "bare.db", check_same_thread=False))
    bare_saver.conn.execute("PRAGMA journal_mode=WAL")
    bare_saver.conn.execute("PRAGMA synchronous=NORMAL")
    bare_saver.setup()
    return Rig("SQLite", TraceStore(folder / "traces.db"), open_checkpointer(folder / "threads.db"), bare_saver)


def postgres_rig(url: str) -> Rig:
    """Ours on ``url`` (traces and PostgresSaver checkpoints, one database); the bare loop on LangGraph's own
    PostgresSaver over a plain psycopg pool of a second database on the same server."""
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    from apprentice.db import store_url

    bare_url = store_url(url).conninfo().rsplit("/", 1)[0] + "/" + _bare_database(url)
    pool = ConnectionPool(bare_url, min_size=1, max_size=4, open=True,
                          kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row})
    bare_saver = PostgresSaver(pool)
    bare_saver.setup()
    return Rig("PostgreSQL", TraceStore(url), open_checkpointer(url), bare_saver)


def _bare_database(url: str) -> str:
    import psycopg

    from apprentice.db import store_url

    name = "step_overhead_bare"
    with psycopg.connect(store_url(url).conninfo(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    return name


def start_server() -> tuple[str, Any]:
    """A durable throwaway server (tests/pg_server.py) and a database on it; None when no binaries."""
    sys.path.insert(0, str(ROOT / "tests"))
    from pg_server import find_bindir, start_postgres

    bindir = find_bindir()
    if bindir is None:
        return "", None
    server = start_postgres(bindir, durable=True)
    os.environ["PGPASSFILE"] = str(server.passfile)
    return server.create_database("step_overhead"), server


def report(rigs: list[Rig], args: argparse.Namespace) -> str:
    width = 17
    head = "".join(f"{rig.name:>{width}}" for rig in rigs)
    sub = "".join(f"{'wall':>8} {'CPU':>8}" for _ in rigs)
    labels = {"ours": "ours (ReAct + checkpoints + trace writes)", "fake": "  of which inside the scripted fake model",
              "net": "  ours, net of the fake model", "bare": "bare LangGraph 2-node loop + its saver"}
    table = {rig.name: rig.rows() for rig in rigs}
    lines = [machine_info(),
             f"steps per run: {args.steps} tool-call steps (+1 final answer) · repeats: {args.repeats} "
             "(interleaved) · medians, ms per step", "", f"{'':45}{head}", f"{'':44} {sub}"]
    for key, label in labels.items():
        lines.append(f"{label:44} " + "".join(f"{table[r.name][key][0]:8.3f} {table[r.name][key][1]:8.3f}"
                                              for r in rigs))
    lines.append("")
    for rig in rigs:
        wall, cpu = table[rig.name]["diff"]
        lines.append(f"{rig.name}: difference (ours net - bare): wall {wall:.3f} ms ({_verdict(wall)}), "
                     f"CPU {cpu:.3f} ms ({_verdict(cpu)}) per step; target <= 2 ms")
    if len(rigs) == 2:
        ours_ratio = table["PostgreSQL"]["ours"][0] / table["SQLite"]["ours"][0]
        lines.append(f"PostgreSQL / SQLite, ours per step: wall {ours_ratio:.2f}x, CPU "
                     f"{table['PostgreSQL']['ours'][1] / table['SQLite']['ours'][1]:.2f}x (this process's CPU; "
                     "the server's is not in it)")
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        lines.append("(with a load average above the core count, wall time mostly measures waiting for a core: "
                     "trust CPU then)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of one run of ours (SQLite)")
    parser.add_argument("--pg", help="a PostgreSQL URL to use (its password in PGPASSFILE); default: start one")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    url, server = (args.pg, None) if args.pg or args.no_pg else start_server()
    if not url and not args.no_pg:
        print("no PostgreSQL binaries (initdb, pg_ctl): measuring SQLite only", file=sys.stderr)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["APPRENTICE_HOME"] = tmp
            rigs = [sqlite_rig(Path(tmp))] + ([postgres_rig(url)] if url else [])
            for rig in rigs:  # imports, compiled graphs, tables, connections
                ours(5, rig.store, rig.saver), bare(5, rig.loop, f"warm-up-{rig.name}")
            for i in range(args.repeats):
                for rig in rigs:
                    rig.measure(args.steps, i)
            text = report(rigs, args)
            print(text)
            if args.out:
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(text + "\n")
            if args.profile:
                print("\n" + profile(args.steps, rigs[0].store, rigs[0].saver))
            rigs[0].store.close()
    finally:
        if server is not None:
            from apprentice.db import close_pg

            close_pg()
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
