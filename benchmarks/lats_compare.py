"""LATS beside tot, react-sc and verify: one model, one budget of model calls per item, on Game of 24 and on
the arithmetic set (issue 37, part 2).

    python benchmarks/lats_compare.py [--model local] [--limit 5] [--budget 10] [--report DIR]

Per set, a single greedy ReAct run goes first: its mean model calls per item, at least 2 (a run that uses a
tool takes two; sampled runs take more steps than greedy ones), prices a ReAct run (r).
Then every strategy gets settings that spend about ``--budget`` calls an item, and those that can check an
answer check it with the task's rules:

- lats: ``max_calls`` = budget (a hard cap, one call kept back for the answer), ``depth`` = ``--max-steps``;
- react-sc: budget // r sampled ReAct runs, the vote weighted by the rules verifier;
- verify: a greedy ReAct draft, then up to budget // r - 1 resampled ones until the rules accept one;
- tot: Game of 24 at its defaults (bfs, breadth 2, 4 proposals, depth 3, values by rules and the model:
  the task's rules prune most states, so it stays under the budget); other sets breadth 1, 2 proposals,
  depth 3 (at most 12 calls: its defaults would take about 40).

Each set's eval report (report.md/json/png, every run in the trace store of ``APPRENTICE_HOME``; a rerun
resumes finished items) goes under ``--report``; the table printed at the end gives accuracy with its Wilson
95% interval and the calls, tokens and seconds an item each strategy really spent.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

#: The sets: (name, task, its data file relative to the repository's ../shared/data, or None: the task's own).
SETS = {"game24": ("game24", "game24/24_dev.csv"), "arith": ("arith", None)}
STRATEGIES = ("react", "lats", "tot", "react-sc", "verify")
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def settings(strategy: str, task: str, budget: int, react_calls: int, max_steps: int) -> dict[str, Any]:
    """The options that give ``strategy`` about ``budget`` model calls an item on ``task`` (see the docstring)."""
    runs = max(1, budget // react_calls)
    if strategy == "lats":
        return {"max_calls": budget, "depth": max_steps}
    if strategy == "react-sc":
        return {"samples": runs, "verifier": "rules"}
    if strategy == "verify":
        return {"inner": "react", "revise": "resample", "rounds": runs - 1, "verifier": "rules"}
    if strategy == "tot":
        return {} if task == "game24" else {"breadth": 1, "proposals": 2, "depth": 3}
    return {}


def run_set(name: str, args: argparse.Namespace, chat: Any) -> list[tuple[str, dict[str, Any], Any]]:
    """Every strategy on one set: (strategy, its options, its cell's stats), and the set's report written."""
    from apprentice.eval import EvalConfig, run_eval, write_report

    task, data = SETS[name]
    data_path = str(SHARED_DATA / data) if data else None
    rows, cells, items, react_calls = [], [], {}, 2
    scratch = tempfile.TemporaryDirectory()  # each strategy's own report: only the set's joint one is kept
    for strategy in args.strategies:
        options = {"max_tokens": args.max_tokens,
                   **settings(strategy, task, args.budget, react_calls, args.max_steps)}
        config = EvalConfig(task=task, strategies=[strategy], models=[args.model], data=data_path,
                            limit=args.limit, options=options, max_steps=args.max_steps, constrain=args.constrain,
                            report_dir=Path(scratch.name) / strategy, command=_command())
        report = run_eval(config, progress=False, models={args.model: chat})
        cell = report.cells[0]
        if strategy == "react":
            react_calls = max(2, math.ceil(cell.calls))
        rows.append((strategy, options, cell))
        cells.append(cell)
        items.update(report.items)
        print(f"{name} {strategy}: {cell.correct}/{cell.n}, {cell.calls:.1f} calls/item", file=sys.stderr,
              flush=True)
    header = {**report.header, "strategies": list(args.strategies), "options": {s: o for s, o, _ in rows}}
    write_report(Path(args.report) / name, header, cells, items)
    scratch.cleanup()
    return rows


def table(name: str, rows: list[tuple[str, dict[str, Any], Any]]) -> str:
    """One set's results as a plain-text table."""
    head = f"{'strategy':<9} {'right':>9} {'Wilson 95%':>13} {'calls':>6} {'tok in':>7} {'tok out':>7} {'s':>6}"
    lines = [f"{name}: {rows[0][2].n} items", f"{head}  options"]
    for strategy, options, c in rows:
        shown = " ".join(f"{k}={v}" for k, v in options.items() if k != "max_tokens") or "defaults"
        lines.append(f"{strategy:<9} {c.correct:>3}/{c.n:<5} {100 * c.ci_low:>5.1f}-{100 * c.ci_high:<5.1f}% "
                     f"{c.calls:>6.1f} {c.tokens_in:>7.0f} {c.tokens_out:>7.0f} {c.seconds:>6.1f}  {shown}")
    return "\n".join(lines)


def _command() -> str:
    return "python benchmarks/lats_compare.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="local", help="model spec (default: the embedded model)")
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=list(STRATEGIES),
                        help="react first: its calls per item price a ReAct run for react-sc and verify")
    parser.add_argument("--limit", type=int, default=5, help="items per set")
    parser.add_argument("--budget", type=int, default=10, help="model calls an item")
    parser.add_argument("--max-steps", type=int, default=5, help="ReAct step limit, and lats' depth")
    parser.add_argument("--max-tokens", type=int, default=96, help="tokens per model call")
    parser.add_argument("--constrain", default="auto", choices=("auto", "off", "steps", "answer"),
                        help="grammar-constrained steps, as eval's (auto: where the engine takes a grammar)")
    parser.add_argument("--report", default="benchmarks/results/lats_compare", help="where the eval reports go")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    from apprentice.models import load_chat_model

    chat = load_chat_model(args.model, max_tokens=args.max_tokens)
    print(f"command: {_command()}")
    print(f"model: {args.model}; budget {args.budget} model calls an item; ReAct step limit / lats depth "
          f"{args.max_steps}; {args.max_tokens} tokens a call; --constrain {args.constrain}\n")
    for name in args.sets:
        print(table(name, run_set(name, args, chat)) + "\n", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
