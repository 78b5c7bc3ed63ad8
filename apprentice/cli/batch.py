"""`apprentice batch`: a JSONL file of questions through a strategy; resumable, on threads or on Ray."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from apprentice.cli import (
    add_constrain_flag,
    add_field_flags,
    add_option_flag,
    command,
    output_file,
    parse_options,
    positive_int,
)


def _cmd_batch(args: argparse.Namespace) -> int:
    from apprentice.batch import (
        BatchJob,
        RetryPolicy,
        TaskConfig,
        WorkerConfig,
        run_batch,
    )
    from apprentice.graphs.registry import strategy_config

    options = parse_options(args.option)
    strategy_config(args.strategy, options)  # a bad option is one error line, not the same failure on every item
    job = BatchJob(
        input=Path(args.input), output=Path(args.out),
        inputs=TaskConfig(task=args.task, question_field=args.question_field, answer_field=args.answer_field,
                          id_field=args.id_field, answer_kind=args.kind),
        worker=WorkerConfig(
            strategy=args.strategy, model_spec=args.model, max_steps=args.max_steps, protocol=args.protocol,
            constrain=args.constrain,
            tools=tuple(t for t in args.tools.split(",") if t) if args.tools is not None else None,
            options=options, retry=RetryPolicy(retries=args.retries),
            meta={"batch": Path(args.input).name},
        ),
        concurrency=args.concurrency, progress=not args.no_progress and not args.json,
    )
    try:
        summary = run_batch(job, ray=args.ray is not None, ray_address=args.ray or None,
                            ray_workers=args.ray_workers)
    except KeyboardInterrupt:
        print(f"\nstopped: finished items are in {args.out}; run the same command again to resume",
              file=sys.stderr)
        raise
    if args.json:
        print(json.dumps(summary.to_dict()))
    else:
        print(summary.format(), file=sys.stderr)
        if summary.remaining:
            print(f"{summary.remaining} item(s) not done: run the same command again to retry them",
                  file=sys.stderr)
    return 0 if not summary.remaining else 1


@command("batch")
def _batch_parser(sub) -> None:
    from apprentice.graphs import STRATEGIES
    from apprentice.tasks import TASK_NAMES

    p = sub.add_parser(
        "batch", help="run a JSONL file of questions (resumable; --ray to scale out)",
        description="Run every line of IN.jsonl through a strategy and append one result line per item "
                    "to OUT.jsonl. Killed and started again with the same arguments, it skips what is "
                    "done and retries what failed.",
    )
    p.add_argument("input", metavar="IN.jsonl", help="questions, one JSON object per line (never modified)")
    p.add_argument("--out", required=True, type=output_file, metavar="OUT.jsonl",
                   help="results (appended; resumed from)")
    p.add_argument("--task", choices=TASK_NAMES, help="read and check lines as this task does")
    add_field_flags(p)
    p.add_argument("--strategy", default="react", choices=list(STRATEGIES))
    p.add_argument("--model", default="local", help="model spec (default: local, the embedded model)")
    p.add_argument("--concurrency", type=int, default=4, help="items in flight at once (default 4)")
    p.add_argument("--retries", type=int, default=3, help="retries of transient model errors (default 3)")
    p.add_argument("--max-steps", type=positive_int, default=6, help="ReAct step limit (default 6)")
    add_constrain_flag(p)
    add_option_flag(p, " for every item")
    p.add_argument("--protocol", choices=["auto", "text", "native"], default="auto",
                   help="tool-call protocol (auto: native for OpenAI models, text otherwise)")
    p.add_argument("--tools", help="comma-separated allowed tools (default: all; '' for none)")
    p.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                   help="run on Ray: a cluster address, or none for a local Ray runtime")
    p.add_argument("--ray-workers", type=int, help="Ray actors, each with its own model client (default 2)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=_cmd_batch)
