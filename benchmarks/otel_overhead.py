"""What live OpenTelemetry export costs a run, side by side in one process (issue 37, part 3).

The same ReAct run (a zero-latency ScriptedChatModel: one calculator step, then the final answer; real
graph, SqliteSaver checkpoints and trace writes; 7 spans) is timed with (a) no endpoint set, (b)
APPRENTICE_OTLP_ENDPOINT at a real OTLP/HTTP receiver on 127.0.0.1 started here (the standard library's
HTTP server decoding each request with opentelemetry-proto, as tests/test_otel.py's does), and (c) the
endpoint at a closed port (a collector that is down). Variants run in interleaved blocks, their order
rotating each round. export_live reads the environment at each run and keeps one exporter per URL, so the
variable is switched in-process; each block ends with ``otel.shutdown_live()`` (what exit does: send what
is queued, then close), so no variant's exporter thread runs during another's block, and the next block
opens its exporter again on its first run. Three figures per variant, medians over blocks:

* per run: mean over a block's runs after its first (wall and CPU of the whole process: the exporter's
  batch thread included; the receiver's decoding, which a real collector does elsewhere, is taken out),
  and the CPU with the block's exit flush shared among its runs (the whole cost of exporting a run);
* first run: the first run of a block less that mean (a provider and exporter made; once per process);
* exit flush: ``shutdown_live()`` at the block's end, with the block's spans still queued (the batch
  processor sends every 5 s or 512 spans, and a block is shorter: its whole export is in this figure).

    .venv/bin/python benchmarks/otel_overhead.py [--runs 200] [--block 25] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import shlex
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from step_overhead import machine_info  # from this script's folder, first on sys.path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from otlp_receiver import OTLPReceiver  # noqa: E402 - the tests' OTLP/HTTP receiver, shared

from apprentice.backends import ScriptedChatModel
from apprentice.graphs import run_question
from apprentice.graphs.threads import open_checkpointer
from apprentice.traces import TraceStore, otel

SCRIPT = [" I multiply.\nAction: calculator\nAction Input: 12*7", " I am done.\nFinal Answer: 84"]
SPANS_PER_RUN = 7  # the run, reason / act / reason, two model calls, one tool call
VARIANTS = ("a: no endpoint", "b: live receiver", "c: collector down")


class Receiver(OTLPReceiver):
    """Counts the spans it decodes and the CPU it spends decoding them."""

    def __init__(self) -> None:
        self.spans = self.requests = 0
        self.cpu_s = 0.0
        self._lock = threading.Lock()
        super().__init__()
        self.url = self.traces_url

    def take(self, request, body: bytes, decode_cpu_s: float) -> None:
        self.count(sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans), decode_cpu_s)

    def count(self, spans: int, cpu_s: float) -> None:
        with self._lock:
            self.spans += spans
            self.requests += 1
            self.cpu_s += cpu_s



def closed_port_url() -> str:
    """A traces URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1/traces"


def one_run(store: TraceStore, saver) -> tuple[float, float]:
    """One scripted ReAct run: (wall seconds, process CPU seconds)."""
    model = ScriptedChatModel(script=list(SCRIPT))
    started, cpu = time.perf_counter(), time.process_time()
    result = run_question("What is 12 times 7?", model=model, tools=["calculator"], store=store, checkpointer=saver)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if result.answer != "84" or result.model_calls != 2:
        raise RuntimeError(f"unexpected run: {result.to_dict()}")
    return elapsed, cpu


@dataclass
class Figures:
    """One variant's blocks: per-run means after the first run, the first run's extra, the exit flush."""

    run_wall: list[float] = field(default_factory=list)
    run_cpu: list[float] = field(default_factory=list)
    open_wall: list[float] = field(default_factory=list)
    flush_wall: list[float] = field(default_factory=list)
    flush_cpu: list[float] = field(default_factory=list)
    receiver_cpu: list[float] = field(default_factory=list)  # per run, taken out of run_cpu and flush_cpu


def block(url: str | None, runs: int, store: TraceStore, saver, receiver: Receiver, figures: Figures) -> None:
    """``runs`` runs with APPRENTICE_OTLP_ENDPOINT at ``url`` (unset when None), then the exit flush."""
    if url is None:
        os.environ.pop("APPRENTICE_OTLP_ENDPOINT", None)
    else:
        os.environ["APPRENTICE_OTLP_ENDPOINT"] = url
    received_cpu = receiver.cpu_s
    timed = [one_run(store, saver) for _ in range(runs)]
    during_runs = receiver.cpu_s - received_cpu
    started, cpu = time.perf_counter(), time.process_time()
    otel.shutdown_live()
    flush_wall, flush_cpu = time.perf_counter() - started, time.process_time() - cpu
    in_flush = receiver.cpu_s - received_cpu - during_runs
    steady_wall = statistics.fmean(w for w, _ in timed[1:])
    figures.run_wall.append(steady_wall)
    figures.run_cpu.append(statistics.fmean(c for _, c in timed[1:]) - during_runs / runs)
    figures.open_wall.append(timed[0][0] - steady_wall)
    figures.flush_wall.append(flush_wall)
    figures.flush_cpu.append(flush_cpu - in_flush)
    figures.receiver_cpu.append((during_runs + in_flush) / runs)


def ms(seconds: list[float]) -> float:
    """The median, in milliseconds."""
    return statistics.median(seconds) * 1000


def _table(figures: dict[str, Figures], runs_per_block: int) -> list[str]:
    """One row a variant, overheads over (a)."""
    def shared(f: Figures) -> float:  # CPU per run with the block's exit flush shared among its runs
        return ms([c + fc / runs_per_block for c, fc in zip(f.run_cpu, f.flush_cpu, strict=True)])

    first = figures[VARIANTS[0]]
    base, base_cpu, base_all = ms(first.run_wall), ms(first.run_cpu), shared(first)
    rows = [(f"{'':20} {'wall/run':>9} {'CPU/run':>8} {'+wall':>7} {'x wall':>6} {'+CPU':>7} {'x CPU':>6} "
             f"{'+CPU all':>8} {'1st run+':>8} {'exit flush':>10} {'flush CPU':>9} {'rcv CPU/run':>11}")]
    for name, f in figures.items():
        wall, cpu = ms(f.run_wall), ms(f.run_cpu)
        rows.append(f"{name:20} {wall:9.3f} {cpu:8.3f} {wall - base:+7.3f} {wall / base:6.3f} {cpu - base_cpu:+7.3f} "
                    f"{cpu / base_cpu:6.3f} {shared(f) - base_all:+8.3f} {ms(f.open_wall):8.3f} "
                    f"{ms(f.flush_wall):10.3f} {ms(f.flush_cpu):9.3f} {ms(f.receiver_cpu):11.4f}")
    return rows


def report(figures: dict[str, Figures], args: argparse.Namespace, receiver: Receiver, sent: int) -> str:
    """The command, the machine, the table, what its columns mean and the spans the receiver got."""
    env = " ".join(f"{k}={os.environ[k]}" for k in ("OMP_NUM_THREADS", "APPRENTICE_THREADS") if k in os.environ)
    rounds = args.runs // args.block
    otel_libs = " ".join(f"{n}={version(n)}" for n in ("opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http"))
    loaded = os.getloadavg()[0] > (os.cpu_count() or 1)
    return "\n".join([
        f"$ {env} python {shlex.join(sys.argv)}".replace("$  ", "$ "),
        machine_info(), otel_libs,
        (f"runs per variant: {rounds * args.block} in {rounds} blocks of {args.block} (interleaved, order "
         f"rotating) · {SPANS_PER_RUN} spans a run · medians over blocks, ms"), "",
        *_table(figures, args.block), "",
        ("+wall, x wall, +CPU, x CPU: over (a), per run, in the run itself; +CPU all: the same with the block's "
         "exit flush shared among its runs (the whole export: encoding and sending included)"),
        ("1st run+: a block's first run less its per-run mean (for b and c it opens a provider and exporter, "
         "once per process; a's is the baseline: any block's first run is slower)"),
        (f"exit flush: otel.shutdown_live() with the block's {args.block * SPANS_PER_RUN} spans queued (what "
         "atexit does); rcv CPU/run: the receiver's decoding (same process), already taken out of CPU/run and "
         "flush CPU"),
        f"spans received by the receiver: {receiver.spans} of {sent} sent to it ({receiver.requests} requests)",
        ("(with a load average above the core count, wall time mostly measures waiting for a core: trust CPU "
         "then)" if loaded else ""),
    ]).rstrip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="runs per variant")
    parser.add_argument("--block", type=int, default=25, help="runs per block (at least 2)")
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    for name in (*otel.ENDPOINT_VARS, "OTEL_SDK_DISABLED", "OTEL_EXPORTER_OTLP_TIMEOUT",
                 "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"):
        os.environ.pop(name, None)
    receiver = Receiver()
    urls = dict(zip(VARIANTS, (None, receiver.url, closed_port_url()), strict=True))
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["APPRENTICE_HOME"] = tmp
        store = TraceStore(Path(tmp) / "traces.db")
        saver = open_checkpointer(Path(tmp) / "threads.db")
        for url in urls.values():  # warm-up: imports (the SDK among them), compiled graph, tables
            block(url, 3, store, saver, receiver, Figures())
        receiver.spans = receiver.requests = 0
        figures = {name: Figures() for name in VARIANTS}
        for i in range(args.runs // args.block):
            order = VARIANTS[i % 3:] + VARIANTS[:i % 3]
            for name in order:
                block(urls[name], args.block, store, saver, receiver, figures[name])
        text = report(figures, args, receiver, sent=(args.runs // args.block) * args.block * SPANS_PER_RUN)
        store.close()
    receiver.close()
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
