"""`apprentice traces list | show ID | export [--otlp URL] [--run ID ...] | rate ID good|bad [--answer X] |
judge --judge-model SPEC | migrate --to URL`."""

from __future__ import annotations

import argparse
import json
import sys

from apprentice.cli import command, output_file
from apprentice.errors import ApprenticeError, DataError


def _trace_filters(args: argparse.Namespace) -> dict:
    from apprentice.traces.query import parse_since

    return {"task": args.task, "strategy": args.strategy, "model": args.model, "verdict": args.verdict,
            "since": parse_since(args.since) if args.since else None, "thread_id": args.thread}


def _cmd_traces(args: argparse.Namespace) -> int:
    from apprentice.traces import open_store
    from apprentice.traces.render import format_run, format_table

    if args.action == "migrate":
        return _migrate(args)
    store = open_store(args.db)
    if args.action == "show":
        if not args.id:
            raise ApprenticeError("traces show needs a run id (see: apprentice traces list)")
        run = store.get(args.id)
        print(json.dumps(run.to_dict(), ensure_ascii=False, indent=2) if args.json else format_run(run, full=args.full))
        return 0
    if args.action == "rate":
        return _rate(store, args)
    if args.action == "judge":
        return _judge(store, args)
    if args.judge_model or args.redo:
        raise ApprenticeError("--judge-model and --redo go with 'traces judge'")
    if args.rating or args.answer is not None:
        raise ApprenticeError("good/bad and --answer go with 'traces rate RUN_ID good|bad'")
    if args.action != "export" and (args.otlp is not None or args.run):
        raise ApprenticeError("--otlp and --run go with 'traces export'")
    filters = _trace_filters(args)
    if args.action == "list":
        runs = store.query(limit=args.limit, **filters)
        if args.json:
            print(json.dumps([r.to_dict(steps=False) for r in runs], ensure_ascii=False))
        else:
            print(format_table(runs))
        return 0
    return _export(store, args, filters)


def _export(store, args: argparse.Namespace, filters: dict) -> int:
    """Runs as JSON lines (stdout or ``--out``), or as OpenTelemetry traces to ``--otlp``."""
    if args.run and any(v is not None for v in filters.values()):
        raise ApprenticeError("--run names the runs to export; leave out --task, --strategy, --model, --thread, "
                              "--verdict and --since, or --run")
    if args.otlp is not None and args.out:
        raise ApprenticeError("give --out (a JSON lines file) or --otlp (a trace collector), not both")
    runs = [store.get(run_id) for run_id in args.run] if args.run else store.iter_runs(**filters)
    if args.otlp is not None:
        return _export_otlp(runs, args)
    try:
        out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    except OSError as exc:
        raise DataError(f"cannot write {args.out}: {exc.strerror or exc}") from exc
    count = 0
    try:
        for run in runs:
            out.write(json.dumps(run.to_dict(), ensure_ascii=False) + "\n")
            count += 1
    finally:
        if args.out:
            out.close()
    print(f"exported {count} traces" + (f" to {args.out}" if args.out else ""), file=sys.stderr)
    return 0


def _export_otlp(runs, args: argparse.Namespace) -> int:
    from apprentice.traces.otel import export_runs

    sent = export_runs(runs, args.otlp)
    if args.json:
        print(json.dumps({"runs": sent.runs, "spans": sent.spans, "url": sent.url}))
    else:
        print(f"exported {sent.runs} runs ({sent.spans} spans) to {sent.url}")
    return 0


def _rate(store, args: argparse.Namespace) -> int:
    """A person's verdict on a run, as the chat's rate key gives it; a corrected answer becomes the gold one."""
    if not args.id or args.rating not in ("good", "bad"):
        raise ApprenticeError("usage: apprentice traces rate RUN_ID good|bad [--answer X]")
    if args.answer is not None and not args.answer.strip():
        raise ApprenticeError("--answer is empty; give the right answer, or leave --answer out")
    run_id = store.rate(args.id, args.rating == "good", answer=args.answer)
    if args.json:
        print(json.dumps({"run_id": run_id, "rating": args.rating, "answer": args.answer}))
    else:
        print(f"rated run {run_id} {args.rating}" + (f"; gold answer set to {args.answer.strip()}"
                                                      if args.answer else ""))
    return 0


def _judge(store, args: argparse.Namespace) -> int:
    """An LLM judge's verdict on finished runs (chosen by the filters), recorded beside each as judge:SPEC."""
    from apprentice.agents.judge import judge_runs
    from apprentice.models import load_chat_model

    if not args.judge_model:
        raise ApprenticeError("usage: apprentice traces judge --judge-model SPEC [--model M] [--task T] [--since 7d] "
                              "[--limit N] [--redo]")
    runs = store.query(limit=args.limit, **_trace_filters(args))
    tally = judge_runs(load_chat_model(args.judge_model), args.judge_model, store, runs, redo=args.redo)
    print(json.dumps(tally.__dict__) if args.json else tally.summary(args.judge_model))
    return 0


def _migrate(args: argparse.Namespace) -> int:
    """Copy a home's traces, ratings, threads and memories into a shared store; again copies nothing twice."""
    from apprentice.traces.migrate import migrate_home

    if not args.to:
        raise ApprenticeError("usage: apprentice traces migrate --to postgresql://USER@HOST:PORT/DB [--from PATH]")
    result = migrate_home(args.to, source=args.source, progress=lambda line: print(line, file=sys.stderr))
    print(json.dumps(result.__dict__) if args.json else result.summary())
    return 0


@command("traces")
def _traces_parser(sub) -> None:
    p = sub.add_parser("traces", help="list, show or export run traces")
    p.add_argument("action", choices=["list", "show", "export", "rate", "judge", "migrate"])
    p.add_argument("id", nargs="?", help="run id (or a unique prefix) for show and rate")
    p.add_argument("rating", nargs="?", choices=["good", "bad"], help="rate: the person's verdict on the run")
    p.add_argument("--answer", help="rate: the right answer (becomes the gold answer of the run's question)")
    p.add_argument("--task")
    p.add_argument("--strategy")
    p.add_argument("--model")
    p.add_argument("--thread")
    p.add_argument("--verdict", choices=["correct", "incorrect", "checked", "unchecked"])
    p.add_argument("--since", help="ISO date/time, or an age like 2h, 3d")
    p.add_argument("--limit", type=int, default=50, help="list at most N (default 50)")
    p.add_argument("--out", type=output_file, help="export to this file instead of stdout")
    p.add_argument("--otlp", metavar="URL",
                   help="export: send the runs as OpenTelemetry traces to this OTLP/HTTP endpoint instead (Phoenix: "
                        "http://127.0.0.1:6006/v1/traces; a collector's base URL gets /v1/traces)")
    p.add_argument("--run", action="append", default=[], metavar="RUN_ID",
                   help="export: this run (an id or a unique prefix), instead of the filters; repeatable")
    p.add_argument("--db", metavar="URL", help="the store (default APPRENTICE_DB, else the home's traces.db): "
                                              "sqlite:///PATH or postgresql://USER@HOST:PORT/DB")
    p.add_argument("--to", metavar="URL", help="migrate: the shared store to copy the home into "
                                              "(postgresql://USER@HOST:PORT/DB; the password in PGPASSFILE)")
    p.add_argument("--from", dest="source", metavar="PATH", help="migrate: the traces.db (or home folder) to copy "
                                                                 "(default: the home's)")
    p.add_argument("--judge-model", metavar="SPEC",
                   help="judge: the grader (any model spec, e.g. openai:gpt-4o-mini); its verdict on each run the "
                        "filters choose (at most --limit) is recorded as judge:SPEC, for harvest --verdict-source "
                        "judge")
    p.add_argument("--redo", action="store_true", help="judge: grade again runs this judge graded before")
    p.add_argument("--full", action="store_true", help="show: every model call's raw text")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_traces)
