"""Per-step overhead of our ReAct graph (+ SqliteSaver checkpoints + trace writes) against a bare
LangGraph two-node loop with SqliteSaver that does nothing, side by side in one process.

Ours: ``run_question`` with a zero-latency ScriptedChatModel that asks for the calculator N times
and then answers; one step = reason + act (two graph nodes, one model call, one tool call, four
trace rows, two checkpoints), the same two super-steps per step as the bare loop. The fake
model's own time is measured and shown apart, so "ours, net" is the cost of our code alone.
Runs are interleaved (ours, bare, ours, ...); figures are medians. Target: ours - bare <= 2 ms.

    .venv/bin/python benchmarks/step_overhead.py [--steps 200] [--repeats 5] [--profile]
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
from typing import Literal, TypedDict

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph

from apprentice.backends import ScriptedChatModel
from apprentice.graphs import run_question
from apprentice.graphs.threads import open_checkpointer
from apprentice.traces import TraceStore

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


def ours(n: int, store: TraceStore, saver: SqliteSaver) -> tuple[float, float, float]:
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


def bare_graph(saver: SqliteSaver):
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
    libs = " ".join(f"{n}={version(n)}" for n in ("langgraph", "langgraph-checkpoint-sqlite", "langchain-core"))
    return (f"date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC} · host: {platform.node()} · "
            f"cpu cores: {os.cpu_count()} · load average (1/5/15 min): {load}\n"
            f"python {platform.python_version()} · sqlite {sqlite3.sqlite_version} · {libs}")


def profile(n: int, store: TraceStore, saver: SqliteSaver, top: int = 30) -> str:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of one run of ours")
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["APPRENTICE_HOME"] = tmp
        store = TraceStore(Path(tmp) / "traces.db")
        saver = open_checkpointer(Path(tmp) / "threads.db")
        bare_saver = SqliteSaver(sqlite3.connect(Path(tmp) / "bare.db", check_same_thread=False))
        bare_saver.conn.execute("PRAGMA journal_mode=WAL")
        bare_saver.conn.execute("PRAGMA synchronous=NORMAL")
        bare_saver.setup()
        loop = bare_graph(bare_saver)
        ours(5, store, saver), bare(5, loop, "warm-up")  # imports, compiled graphs, tables
        wall, cpu, fake, base_wall, base_cpu = [], [], [], [], []
        for i in range(args.repeats):
            for column, value in zip((wall, cpu, fake), ours(args.steps, store, saver), strict=True):
                column.append(value)
            for column, value in zip((base_wall, base_cpu), bare(args.steps, loop, f"bare-{i}"), strict=True):
                column.append(value)
        ms = lambda xs: statistics.median(xs) * 1000  # noqa: E731
        net_wall = [w - f for w, f in zip(wall, fake, strict=True)]
        net_cpu = [c - f for c, f in zip(cpu, fake, strict=True)]
        diff_wall, diff_cpu = ms(net_wall) - ms(base_wall), ms(net_cpu) - ms(base_cpu)
        lines = [
            machine_info(),
            f"steps per run: {args.steps} tool-call steps (+1 final answer) · repeats: {args.repeats} "
            "(interleaved) · medians, ms per step", "",
            f"{'':44} {'wall':>8} {'CPU':>8}",
            f"{'ours (ReAct + SqliteSaver + trace writes)':44} {ms(wall):8.3f} {ms(cpu):8.3f}",
            f"{'  of which inside the scripted fake model':44} {ms(fake):8.3f} {ms(fake):8.3f}",
            f"{'  ours, net of the fake model':44} {ms(net_wall):8.3f} {ms(net_cpu):8.3f}",
            f"{'bare LangGraph 2-node loop + SqliteSaver':44} {ms(base_wall):8.3f} {ms(base_cpu):8.3f}", "",
            f"difference (ours net - bare): wall {diff_wall:.3f} ms ({_verdict(diff_wall)}), "
            f"CPU {diff_cpu:.3f} ms ({_verdict(diff_cpu)}) per step; target <= 2 ms",
            "(with a load average above the core count, wall time mostly measures waiting for a core: "
            "trust CPU then)" if os.getloadavg()[0] > (os.cpu_count() or 1) else "",
        ]
        report = "\n".join(lines)
        print(report)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(report + "\n")
        if args.profile:
            print("\n" + profile(args.steps, store, saver))
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
