"""Batch throughput vs concurrency, and the per-item overhead of the graph and the trace store.

1. Scaling: ``run_batch`` (react strategy, real ChatOpenAI client, real trace store) against the
   scripted OpenAI-compatible server in a separate process with a fixed latency per call, at
   concurrency 1, 4, 16 and 64. Reported: items/s and the ratio to N x the single-stream rate
   (1.0 = perfect scaling; the goal is >= 0.8 at N=16).
2. Overhead: the same job with a zero-latency in-process scripted model, side by side with bare
   calls of that model: what the graph, the trace store, the checkpointer and the output file
   add per item.

    python benchmarks/batch_scaling.py [--latency 1.0] [--out benchmarks/results/batch_scaling.txt]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _items(path: Path, count: int, tag: str) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for i in range(count):
            handle.write(json.dumps({"id": f"{tag}-{i}", "question": f"What is {i} + 1? ({tag})",
                                     "answer": str(i + 1)}) + "\n")
    return path


def _start_server(latency: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "fake_openai.py"), "--latency", str(latency)],
                            stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}/v1"


def _job(work: Path, name: str, count: int, concurrency: int, spec: str):
    from apprentice.batch import BatchJob, TaskConfig, WorkerConfig

    source = _items(work / f"{name}.in.jsonl", count, name)
    return BatchJob(source, work / f"{name}.out.jsonl", TaskConfig(answer_kind="number"),
                    WorkerConfig(model_spec=spec, tools=()), concurrency=concurrency)


def scaling(work: Path, latency: float, levels: list[int]) -> list[str]:
    """Throughput at each concurrency level against the fixed-latency server."""
    from apprentice.batch import load_batch_model, run_batch

    proc, url = _start_server(latency)
    try:
        spec = f"openai:fake@{url}"
        model = load_batch_model(spec)
        run_batch(_job(work, "warmup", 4, 4, spec), model=model)  # imports, graph compile, connections
        lines, single = [], None
        for n in levels:
            count = max(8, 3 * n)
            summary = run_batch(_job(work, f"n{n}", count, n, spec), model=model)
            rate = summary.done / summary.elapsed_s
            single = single or rate
            ideal = n * single
            lines.append(f"  N={n:<3d} items={count:<4d} {summary.elapsed_s:7.2f} s  {rate:7.2f} items/s"
                         f"  ratio to N x single-stream: {rate / ideal:5.2f}  (failed {summary.failed})")
            print(lines[-1], flush=True)
        return lines
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def overhead(work: Path, count: int) -> list[str]:
    """Per-item cost of graph + trace store + output with a zero-latency model, beside bare model calls."""
    from langchain_core.messages import HumanMessage

    from apprentice.backends.scripted import ScriptedChatModel
    from apprentice.batch import run_batch

    model = ScriptedChatModel(script=[" Easy.\nFinal Answer: 1"], cycle=True)
    run_batch(_job(work, "ovh-warm", 5, 1, "scripted"), model=model)
    started = time.perf_counter()
    for i in range(count):
        list(model.stream([HumanMessage(f"What is {i} + 1?")]))
    bare = (time.perf_counter() - started) / count
    lines = [f"  bare scripted model call:                {bare * 1000:7.2f} ms/item"]
    for n in (1, 4):
        summary = run_batch(_job(work, f"ovh{n}", count, n, "scripted"), model=model)
        per = summary.elapsed_s / count
        lines.append(f"  batch, concurrency {n} (react graph, trace store, checkpointer, fsynced output):"
                     f" {per * 1000:7.2f} ms/item  -> overhead {(per - bare) * 1000:6.2f} ms/item")
    for line in lines:
        print(line, flush=True)
    return lines


def main() -> None:
    """Run both measurements and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per model call (default 1.0)")
    parser.add_argument("--levels", default="1,4,16,64")
    parser.add_argument("--overhead-items", type=int, default=100)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "batch_scaling.txt")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["APPRENTICE_HOME"] = str(Path(tmp) / "home")
        work = Path(tmp)
        header = [
            f"batch_scaling.py — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
            f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start",
            f"Scaling: react strategy, real ChatOpenAI client over HTTP, fake server latency {args.latency:.2f} s/call,"
            f" one model call per item",
        ]
        print("\n".join(header), flush=True)
        scale = scaling(work, args.latency, [int(n) for n in args.levels.split(",")])
        note = ["Overhead: zero-latency in-process scripted model"]
        print(note[0], flush=True)
        cost = overhead(work, args.overhead_items)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join([*header, *scale, *note, *cost]) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
