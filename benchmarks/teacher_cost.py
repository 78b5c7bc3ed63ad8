"""A distillation round's self teacher on its own: solve rate, tokens and seconds per solved item, by set.

    python benchmarks/teacher_cost.py --home APPRENTICE_HOME --round N --model TEACHER_SPEC --arith-n N

Counts the teacher's own sampled attempts only (the replayed worked solutions that rationalize its
failures are scripted and cost no model call), split by pool level (arith) or task, so they sit beside
the student's held-out sets. "Solved" is attempts the gold check passed (with ``--attempts 1``, one
per item); the harvest is stricter (it also drops an answer no calculator result gives).

``--arith-n``: the size of each level's generated arith split in that run, ``max(per-level pool x last
round, 200)`` (e.g. 450 for ``arith:600`` over 4 levels, round 3); only needed for runs made before the
teacher's runs recorded their level.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", required=True, help="APPRENTICE_HOME of the run")
    parser.add_argument("--round", type=int, required=True)
    parser.add_argument("--model", required=True,
                        help="the teacher's model label, e.g. teacher:self:adapter:eqv-r2-dpo")
    parser.add_argument("--arith-n", type=int, default=200)
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 2, 3, 4])
    args = parser.parse_args(argv)
    from apprentice.tasks import get_task

    path = os.path.join(args.home, "traces.db")
    if not os.path.isfile(path):
        raise SystemExit(f"error: no trace store at {path}")
    level_of: dict[str, int] = {}
    for level in args.levels:
        for item in get_task("arith", level=level, n=args.arith_n, seed=0).load(split="train", seed=0):
            level_of.setdefault(item.id, level)
    totals: dict[str, list[float]] = {}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    for task, item_id, correct, tokens, seconds, meta in db.execute(
            "SELECT task, item_id, correct, tokens_in + tokens_out, latency_s, meta FROM runs WHERE model = ?",
            (args.model,)):
        meta = json.loads(meta)
        if meta.get("round") != args.round:
            continue
        key = f"arith:{meta.get('level') or level_of.get(item_id, '?')}" if task == "arith" else task
        row = totals.setdefault(key, [0, 0, 0, 0.0])
        row[0] += 1
        row[1] += int(bool(correct))
        row[2] += tokens
        row[3] += seconds or 0.0
    if not totals:
        raise SystemExit(f"error: no runs of {args.model} in round {args.round} in {path}")
    for key, (runs, solved, tokens, seconds) in sorted(totals.items()):
        print(f"{key}: {int(solved)}/{int(runs)} solved ({solved / runs:.1%}), "
              f"{tokens / max(1, solved):.0f} tokens and {seconds / max(1, solved):.2f} s per solved item")
    return 0


if __name__ == "__main__":
    sys.exit(main())
