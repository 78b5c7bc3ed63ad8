"""`apprentice eval`: run a strategy x model grid over a task and write report.json/.md/.png."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from apprentice.cli import FIELD_FLAGS, add_field_flags, command, field_options
from apprentice.errors import ApprenticeError

#: CLI flag -> strategy option name (None values are left out, so each strategy keeps its default).
_OPTION_FLAGS = ("samples", "temperature", "breadth", "depth", "proposals", "values_per_state", "value",
                 "method", "rounds", "verifier", "inner", "revise", "fewshot", "max_tokens", "questions",
                 "max_expansions")


def _cmd_eval(args: argparse.Namespace) -> int:
    from apprentice.eval import EvalConfig, run_eval
    from apprentice.eval.report import markdown_table

    options = {name: getattr(args, name) for name in _OPTION_FLAGS if getattr(args, name) is not None}
    config = EvalConfig(
        task=args.task, strategies=args.strategy, models=args.model, data=args.data, split=args.split,
        seed=args.seed, limit=args.limit, options=options,
        task_options=_task_options(args),
        report_dir=Path(args.report) if args.report else None,
        tools=[t for t in args.tools.split(",") if t] if args.tools is not None else ("calculator",),
        max_steps=args.max_steps, command="apprentice " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
    )
    report = run_eval(config, progress=not args.no_progress and not args.json)
    if args.json:
        print(json.dumps({"cells": [c.__dict__ for c in report.cells],
                          "files": {k: str(v) for k, v in report.files.items()}}, ensure_ascii=False))
    else:
        print(markdown_table(report.cells))
        print(f"\nreport: {report.files['md']}  ({report.files['json'].name}, {report.files['png'].name})")
    return 0


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
    p.add_argument("--level", type=int, help="arith: 1 one +/-, 2 one of +-*/, 3 two steps, 4 three or four; "
                                             "gsm8k: the calculator steps of the worked solution")
    p.add_argument("--distractors", type=float, help="arith: the share (0-1) of problems given one sentence with a "
                                                     "number the solution does not use")
    p.add_argument("--distractor-kind", choices=DISTRACTOR_KINDS,
                   help=f"arith, with --distractors: {DISTRACTOR_KINDS_HELP} (default: other)")
    add_field_flags(p)
    g = p.add_argument_group("strategy options (each strategy uses those it knows)")
    g.add_argument("--samples", type=int, help="cot-sc, react-sc: sampled chains or runs (default 5)")
    g.add_argument("--temperature", type=float,
                   help="sampling temperature (cot-sc, react-sc and verify's resamples default 0.7)")
    g.add_argument("--fewshot", type=int, help="io/cot/cot-sc: few-shot examples (default 2; 0 = zero-shot)")
    g.add_argument("--max-tokens", dest="max_tokens", type=int, help="tokens per model call")
    g.add_argument("--breadth", type=int, help="tot: states kept per level (default 2)")
    g.add_argument("--depth", type=int, help="tot: search depth (default 3)")
    g.add_argument("--proposals", type=int, help="tot: proposals per state (default 4)")
    g.add_argument("--values-per-state", dest="values_per_state", type=int, help="tot: value samples (default 1)")
    g.add_argument("--value", choices=["llm", "rules", "both"], help="tot: how states are valued")
    g.add_argument("--method", choices=["bfs", "dfs"], help="tot: breadth- or depth-first (default bfs)")
    g.add_argument("--max-expansions", dest="max_expansions", type=int, help="tot dfs: expansion budget")
    g.add_argument("--rounds", type=int, help="verify: revision rounds (default 2; 4 when resampling)")
    g.add_argument("--verifier", choices=["rules", "judge", "cove"],
                   help="verify: which verifier; cot-sc, react-sc: weight the vote by each sample's verdict")
    g.add_argument("--inner", choices=["cot", "io", "react"], help="verify: strategy of the first draft")
    g.add_argument("--revise", choices=["feedback", "resample"],
                   help="verify: rewrite a rejected draft from feedback, or sample a new one (default for react)")
    g.add_argument("--questions", type=int, help="verify cove: verification questions (default 3)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_eval)
