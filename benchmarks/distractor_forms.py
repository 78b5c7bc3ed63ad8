"""Accuracy of arith eval runs with unneeded numbers, by the form of the unneeded number, from their reports.

    python benchmarks/distractor_forms.py REPORT [REPORT ...]

Each argument is the folder (or ``report.json``) of an ``apprentice eval --task arith --distractors S`` run.
The problems are generated again from the report's task options, so each item is read with its unneeded
number and that number's form, which the generator records: another person's count of the problem's own
object or dollars, a second object in the opening sentence (both ``--distractor-kind same``), something the
problem does not name (the other kind), the subject's own count beside a question about a change (read apart
for + and -), or a second object the story changes (both ``story``). For each form: items right, and how many
misses answer one of the first step's two numbers plus or minus an unneeded one (the whole mistake on a one-step
problem; on longer ones it catches only that).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

from item_flips import read_report  # benchmarks/, on the path when run as a script

from apprentice.errors import ApprenticeError
from apprentice.tasks import get_task
from apprentice.tasks.arith import DISTRACTOR_FORMS


def forms(report: Path) -> dict[tuple[int, str], list[int]]:
    """Per form (its index in DISTRACTOR_FORMS, and the operation of a told-again problem, else ""): [items,
    right, misses that are a question number plus or minus the unneeded one]."""
    data, rows = read_report(report)
    options = data.get("task_options") or {}
    if data.get("task") != "arith" or not isinstance(options, dict) or not options.get("distractors"):
        raise SystemExit(f"error: {report}: this {data.get('task')} eval has no unneeded numbers "
                         "(apprentice eval --task arith --distractors S makes one)")
    try:
        task = get_task("arith", **options)
        items = {item.id: item for item in task.load(split=data.get("split"), seed=data.get("seed", 0))}
    except (TypeError, ApprenticeError) as exc:
        raise SystemExit(f"error: {report}: its arith options do not make a task ({exc})") from None
    out: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in rows:
        item = items[row["item_id"]]
        if "distractor" not in item.meta:
            continue
        added = Counter(re.findall(r"\d+", item.question)) - Counter(re.findall(r"\d+", item.meta["plain"]))
        extras = [int(n) for n in added]  # the unneeded numbers (a second object the story changes has two)
        first = item.meta["steps"][0]
        name = item.meta["distractor_form"]
        told = first["op"] if name == "the subject's own count" else ""  # told again: + and - read apart
        counts = out[DISTRACTOR_FORMS.index(name), told]
        counts[0] += 1
        counts[1] += bool(row["correct"])
        if not row["correct"]:
            given = (first["a"], first["b"])
            mixed = {str(n + e) for n in given for e in extras} | {str(abs(n - e)) for n in given for e in extras}
            counts[2] += str(row.get("prediction", "")).strip() in mixed
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", nargs="+", type=Path, help="arith eval report folders or their report.json")
    args = parser.parse_args(argv)
    for report in args.reports:
        counts = forms(report)
        parts = [f"{DISTRACTOR_FORMS[form]}{f', {told}' if told else ''} {right}/{n} right, {mixed} misses = a "
                 "question number +/- the unneeded one"
                 for (form, told), (n, right, mixed) in sorted(counts.items())]
        print(f"{report}: " + "; ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
