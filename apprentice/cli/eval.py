"""`apprentice eval`: run a strategy x model grid over a task and write report.json/.md/.png."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from apprentice.cli import (
    FIELD_FLAGS,
    add_constrain_flag,
    add_field_flags,
    command,
    field_options,
)
from apprentice.errors import ApprenticeError

#: Strategy options with a flag of their own (``--max-tokens`` sets ``max_tokens``); a flag left out is
#: left out of the options, so each strategy keeps its default. Type, choices and help come from the
#: strategies' config classes. (``seed`` is not one: ``--seed`` seeds the split.)
_OPTION_FLAGS = ("samples", "temperature", "fewshot", "max_tokens", "breadth", "depth", "proposals",
                 "values_per_state", "value", "method", "max_expansions", "rounds", "verifier", "inner", "revise",
                 "questions", "decide", "go_on_at")


def _cmd_eval(args: argparse.Namespace) -> int:
    from apprentice.eval import EvalConfig, run_eval
    from apprentice.eval.report import markdown_table

    if args.workers < 1:
        raise ApprenticeError(f"--workers must be at least 1, got {args.workers}")
    options = {name: getattr(args, name) for name in _OPTION_FLAGS if getattr(args, name) is not None}
    _check_options(options, args.strategy)
    config = EvalConfig(
        task=args.task, strategies=args.strategy, models=args.model, data=args.data, split=args.split,
        seed=args.seed, limit=args.limit, options=options,
        task_options=_task_options(args),
        report_dir=Path(args.report) if args.report else None,
        tools=[t for t in args.tools.split(",") if t] if args.tools is not None else ("calculator",),
        max_steps=args.max_steps, constrain=args.constrain, workers=args.workers,
        command="apprentice " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
    )
    report = run_eval(config, progress=not args.no_progress and not args.json)
    if args.json:
        print(json.dumps({"cells": [c.__dict__ for c in report.cells],
                          "files": {k: str(v) for k, v in report.files.items()}}, ensure_ascii=False))
    else:
        print(markdown_table(report.cells))
        print(f"\nreport: {report.files['md']}  ({report.files['json'].name}, {report.files['png'].name})")
    return 0


def _check_options(options: dict, strategies: list[str]) -> None:
    """Every strategy option given is taken by a strategy of the grid and has a value it can use, before
    any model loads; a flag that no strategy of the grid takes would change nothing, so it is an error."""
    from apprentice.graphs.registry import STRATEGIES, options_for

    for name in options:
        if not any(name in STRATEGIES[s].config.option_names() for s in strategies):
            takers = [s for s in STRATEGIES if name in STRATEGIES[s].config.option_names()]
            raise ApprenticeError(f"--{name.replace('_', '-')} is an option of {', '.join(takers)}, "
                                  f"not of {', '.join(strategies)}")
    for strategy in strategies:
        options_for(strategy, options)


def _add_option_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per :data:`_OPTION_FLAGS` entry, typed and explained by the config classes."""
    from apprentice.graphs.registry import STRATEGIES, option_help

    g = parser.add_argument_group("strategy options (each strategy uses those it takes)")
    for name in _OPTION_FLAGS:
        config = next(s.config for s in STRATEGIES.values() if name in s.config.option_names())
        kind, metadata, _ = config.option_spec(name)
        g.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind, choices=metadata.get("choices"),
                       help=option_help(name))


def _task_options(args: argparse.Namespace) -> dict:
    """The task's own options from the flags (get_task names any the task does not take); the field flags
    belong to ``--task jsonl`` alone."""
    options = {k: v for k, v in (("level", args.level), ("distractors", args.distractors),
                                 ("distractor_kind", args.distractor_kind)) if v is not None}
    fields = field_options(args)
    if args.task == "jsonl":
        return {**options, **fields}
    given = [flag for name, (flag, default, _) in FIELD_FLAGS.items() if fields[name] != default]
    if given:
        raise ApprenticeError(f"{', '.join(given)}: for a question file of your own (--task jsonl --data FILE)")
    return options


@command("eval")
def _eval_parser(sub) -> None:
    from apprentice.graphs import STRATEGIES
    from apprentice.tasks.arith import DISTRACTOR_KINDS, DISTRACTOR_KINDS_HELP

    p = sub.add_parser("eval", help="evaluate strategies x models on a task and write a report")
    p.add_argument("--task", required=True, help="task name (arith, game24, svamp, gsm8k, ...)")
    p.add_argument("--data", help="data file or folder (default: the task's file under the data root)")
    p.add_argument("--split", choices=["train", "test", "shuffle"], help="item split (default: file order)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split/shuffle (default 0)")
    p.add_argument("--limit", type=int, help="evaluate the first N items")
    p.add_argument("--strategy", nargs="+", default=["cot"], choices=list(STRATEGIES), help="strategies to compare")
    p.add_argument("--model", nargs="+", default=["local"], help="model specs to compare (default: local)")
    p.add_argument("--report", help="report directory (default: APPRENTICE_HOME/reports/eval-TASK-TIME)")
    p.add_argument("--tools", help="comma-separated tools runs may call (default: calculator)")
    p.add_argument("--max-steps", type=int, default=6, help="ReAct step limit (default 6)")
    p.add_argument("--workers", type=int, default=1,
                   help="items run at once (default 1); a llama.cpp model gets one replica per worker, each with "
                        "an equal share of the cores, and the report is the same as with one")
    add_constrain_flag(p)
    p.add_argument("--level", type=int, help="arith: 1 one +/-, 2 one of +-*/, 3 two steps, 4 three or four; "
                                             "schema: 1-3 operations; "
                                             "gsm8k: the calculator steps of the worked solution")
    p.add_argument("--distractors", type=float, help="arith: the share (0-1) of problems given one sentence with a "
                                                     "number the solution does not use")
    p.add_argument("--distractor-kind", choices=DISTRACTOR_KINDS,
                   help=f"arith, with --distractors: {DISTRACTOR_KINDS_HELP} (default: other)")
    add_field_flags(p)
    _add_option_flags(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_eval)
