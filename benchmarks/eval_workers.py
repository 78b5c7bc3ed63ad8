"""`apprentice eval --workers N` against one worker, side by side in one run: the same eval, items/s and the ratio.

One worker decodes on one llama.cpp context with every idle core's threads (what `eval` did before workers); N
workers each decode on a replica of their own with ``cores // N`` threads. A 135M model's decode is too small
a matrix product to keep many threads busy, so N contexts of one thread should finish more items a second.
Both evals run the same items greedily, each into a fresh trace store (nothing resumes), after a warm-up item
of each (imports, graph compilation, the replicas' loading); the predictions are compared item by item.
Run it on an idle machine: other processes' load moves both numbers, and ``cpu_threads`` counts busy cores
out of the threads it gives (``APPRENTICE_THREADS`` pins the count, for the one worker's context too).

    .venv/bin/python benchmarks/eval_workers.py [--model student] [--task svamp --split test --limit 40]
        [--strategy react] [--tools calculator] [--workers CORES] [--out benchmarks/results/eval_workers.txt]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.decode_speed import machine_info  # noqa: E402


def contexts_used(spy: dict[int, int]) -> str:
    """``2 contexts x 1 thread``: the llama.cpp contexts the eval decoded on, by their thread counts."""
    counts = sorted(set(spy.values()))
    return f"{len(spy)} context{'s' if len(spy) != 1 else ''} x {'/'.join(map(str, counts)) or '-'} thread(s)"


def one_eval(args: argparse.Namespace, workers: int, limit: int, scratch: Path, name: str) -> tuple[float, dict]:
    """Seconds for the eval with ``workers`` (into a store of its own), and its rows and the contexts it used."""
    from apprentice.backends.llamacpp import LlamaCppChatModel
    from apprentice.eval import EvalConfig, run_eval

    (scratch / name).mkdir(parents=True)
    os.environ["APPRENTICE_DB"] = f"sqlite:///{scratch / name / 'traces.db'}"
    used: dict[int, int] = {}
    complete = LlamaCppChatModel._complete

    def spy(self, prompt, **kwargs):
        used[id(self.llm)] = self.llm.n_threads
        return complete(self, prompt, **kwargs)
    LlamaCppChatModel._complete = spy
    config = EvalConfig(task=args.task, strategies=[args.strategy], models=[args.model], split=args.split,
                        limit=limit, tools=[t for t in args.tools.split(",") if t], max_steps=args.max_steps,
                        report_dir=scratch / name / "report", workers=workers)
    try:
        started = time.perf_counter()
        report = run_eval(config, progress=False)
        seconds = time.perf_counter() - started
    finally:
        LlamaCppChatModel._complete = complete
    rows = next(iter(report.items.values()))
    return seconds, {"rows": rows, "contexts": contexts_used(used)}


def main(argv: list[str] | None = None) -> int:
    from apprentice.threads import cpu_threads, usable_cores

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="student", help="model spec (default: the shipped student)")
    parser.add_argument("--task", default="svamp")
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--strategy", default="react")
    parser.add_argument("--tools", default="calculator")
    parser.add_argument("--max-steps", type=int, default=6)
    parser.add_argument("--workers", type=int, default=usable_cores(), help="the workers set against one "
                                                                           "(default: the usable cores)")
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="apprentice-eval-workers-"))
    before = os.environ.get("APPRENTICE_DB")
    try:
        for workers in (1, args.workers):  # warm-up: one item each, its replicas loaded for the timed run
            one_eval(args, workers, 1, scratch, f"warm-{workers}")
        runs = {workers: one_eval(args, workers, args.limit, scratch, f"timed-{workers}")
                for workers in (1, args.workers)}
    finally:
        if before is None:
            os.environ.pop("APPRENTICE_DB", None)
        else:
            os.environ["APPRENTICE_DB"] = before
    lines = [machine_info(cpu_threads()),
             (f"eval: {args.model} on {args.task} (split {args.split}, {args.limit} items), {args.strategy}, "
              f"tools {args.tools}, max steps {args.max_steps}; usable cores {usable_cores()}"), "",
             "| workers | llama.cpp contexts | seconds | items/s | right |", "|---:|---|---:|---:|---:|"]
    for workers, (seconds, run) in runs.items():
        rows = run["rows"]
        lines.append(f"| {workers} | {run['contexts']} | {seconds:.1f} | {len(rows) / seconds:.3f} | "
                     f"{sum(bool(r.correct) for r in rows)}/{len(rows)} |")
    (one_s, one), (many_s, many) = runs[1], runs[args.workers]
    predicted = [[(r.item_id, r.status, r.prediction) for r in run["rows"]] for run in (one, many)]
    differ = [a[0] for a, b in zip(*predicted, strict=True) if a != b]
    lines += ["", f"items/s, {args.workers} workers / 1 worker: {one_s / many_s:.2f}x",
              f"predictions identical item by item: {not differ}"
              + (f" ({len(differ)} differ: {', '.join(differ[:10])})" if differ else ""),
              f"reports and traces: {scratch}"]
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
