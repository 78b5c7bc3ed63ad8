"""Batch throughput on 3 local Ray nodes vs one node, in one run: the same ``batch --ray`` job (react strategy, real
ChatOpenAI client, the fake OpenAI teacher in a process of its own, the SQLite default with the driver the only
writer, or PostgreSQL with ``--pg``) on a cluster of one node with 3 CPUs and on one of three nodes with 1 CPU each,
3 actors either way; and on local threads for reference. Two teachers: zero latency (the job is CPU-bound: every
node shares this machine's cores) and a fixed latency per call (the job waits on the teacher: concurrency pays).

Reported per setup: items/s over the whole job (with the actors' start) and in the steady part (from the 10th to
the last result), and the ratio 3 nodes / 1 node; means of ``--rounds`` rounds whose order of setups alternates.
Nodes are started with ``ray start`` (tests/ray_cluster.py).

    python benchmarks/ray_cluster_scaling.py [--items 500] [--latency 0.5] [--concurrency 24] [--pg URL] \
        [--out benchmarks/results/ray_cluster_scaling.txt]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from ray_cluster import start_cluster  # noqa: E402


def _teacher(latency: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "fake_openai.py"), "--latency", str(latency)],
                            stdout=subprocess.PIPE, text=True)
    return proc, f"http://127.0.0.1:{int(proc.stdout.readline())}/v1"


def _job(work: Path, name: str, items: int, concurrency: int, url: str):
    from apprentice.batch import BatchJob, TaskConfig, WorkerConfig

    source = work / f"{name}.in.jsonl"
    source.write_text("".join(json.dumps({"id": f"{name}-{i}", "question": f"What is {i} + 1? ({name})",
                                          "answer": str(i + 1)}) + "\n" for i in range(items)), encoding="utf-8")
    return BatchJob(source, work / f"{name}.out.jsonl", TaskConfig(answer_kind="number"),
                    WorkerConfig(model_spec=f"openai:fake@{url}", tools=()), concurrency=concurrency)


def measure(job, address: str | None) -> tuple[float, float]:
    """(items/s over the whole job, items/s from the 10th result to the last); on Ray at ``address`` or threads."""
    from apprentice.batch import run_batch

    marks: list[tuple[float, int]] = []
    done = threading.Event()

    def watch() -> None:  # when each result landed, from the output file
        while not done.is_set():
            lines = job.output.read_bytes().count(b"\n") if job.output.exists() else 0
            marks.append((time.perf_counter(), lines))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    started = time.perf_counter()
    watcher.start()
    summary = run_batch(job, ray=address is not None, ray_address=address, ray_workers=3)
    ended = time.perf_counter()
    done.set()
    watcher.join()
    if summary.done != summary.total:
        raise SystemExit(f"{job.output}: {summary.failed} failed of {summary.total}")
    tenth = next(t for t, lines in marks if lines >= 10)
    return summary.done / (ended - started), (summary.done - 10) / (ended - tenth)


Results = dict[tuple[str, str], list[tuple[float, float]]]


def run(args: argparse.Namespace, work: Path) -> Results:
    """Every setup against every teacher, ``--rounds`` times; the clusters one after the other (they share the
    machine), their order alternating from round to round."""
    teachers = {"0 s": _teacher(0.0), f"{args.latency:g} s": _teacher(args.latency)}
    setups = {"1 node x 3 CPUs": (0, 3), "3 nodes x 1 CPU": (2, 1)}
    results: Results = {}
    token = work / "auth_token"  # one for both clusters: this process keeps the first token it used
    token.write_text(secrets.token_hex(32))
    token.chmod(0o600)
    os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token))
    try:
        for turn in range(args.rounds):
            for setup in list(setups)[:: 1 if turn % 2 == 0 else -1]:
                cluster = start_cluster(*setups[setup], token=token)
                try:
                    for name, (_, url) in teachers.items():
                        _measure(results, setup, name, _job(work, f"{turn}-{setup[0]}n-{name.split()[0]}",
                                                            args.items, args.concurrency, url), cluster.address)
                finally:
                    cluster.stop()
            for name, (_, url) in teachers.items():
                _measure(results, "threads (no Ray)", name,
                         _job(work, f"{turn}-t-{name.split()[0]}", args.items, args.concurrency, url), None)
    finally:
        for proc, _ in teachers.values():
            proc.terminate()
            proc.wait(timeout=10)
    return results


def _measure(results: Results, setup: str, teacher: str, job, address: str | None) -> None:
    rates = results.setdefault((setup, teacher), [])
    rates.append(measure(job, address))
    print(f"{setup:18} teacher {teacher:6} {rates[-1][0]:7.1f} items/s (steady {rates[-1][1]:.1f})",
          file=sys.stderr, flush=True)


def report(results: Results, args: argparse.Namespace) -> str:
    teachers = list(dict.fromkeys(name for _, name in results))
    lines = [
        f"$ python benchmarks/ray_cluster_scaling.py --items {args.items} --latency {args.latency:g} "
        f"--concurrency {args.concurrency} --rounds {args.rounds}" + (" --pg URL" if args.pg else ""),
        f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node()}: {os.cpu_count()} CPUs, load "
        f"average {os.getloadavg()[0]:.1f} at the end; {args.items} items a job, react, one teacher call an item, "
        f"3 Ray actors, store: {'PostgreSQL' if args.pg else 'SQLite (the driver the only writer)'}; means of "
        f"{args.rounds} rounds (the steady rate of each round in brackets)",
        "",
        "setup              | teacher latency | items/s, whole job | items/s, steady        | 3 nodes / 1 node",
        "-------------------|-----------------|--------------------|------------------------|-----------------",
    ]
    mean = {key: tuple(statistics.fmean(column) for column in zip(*rates, strict=True))
            for key, rates in results.items()}
    for setup in ("1 node x 3 CPUs", "3 nodes x 1 CPU", "threads (no Ray)"):
        for name in teachers:
            whole, steady = mean[setup, name]
            rounds = "/".join(f"{rate[1]:.0f}" for rate in results[setup, name])
            ratio = f"{steady / mean['1 node x 3 CPUs', name][1]:.2f}" if setup == "3 nodes x 1 CPU" else ""
            lines.append(f"{setup:18} | {name:>15} | {whole:18.1f} | {steady:6.1f} ({rounds:>13}) | {ratio}".rstrip())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.5, help="the slow teacher's seconds per call")
    parser.add_argument("--concurrency", type=int, default=24, help="items in flight (default 24)")
    parser.add_argument("--rounds", type=int, default=2, help="measurements of each setup (default 2)")
    parser.add_argument("--pg", help="a PostgreSQL URL for the store (its password in PGPASSFILE); default SQLite")
    parser.add_argument("--out", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["APPRENTICE_HOME"] = str(Path(tmp) / "home")
        if args.pg:
            os.environ["APPRENTICE_DB"] = args.pg
        text = report(run(args, Path(tmp)), args)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
