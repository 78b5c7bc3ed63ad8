"""What GSM8K's calculator-step splits ask of a student that reads numbers off the question, and what it gets right.

    python benchmarks/gsm8k_reach.py [--level 1] [--data ../shared/data] [REPORT_DIR ...]

Sorts the test problems of ``gsm8k --level N`` (the yardstick split, as ``apprentice eval`` loads it) by the
calculations of their worked solution as the dataset teacher's replay reads them (``replay._gsm8k_steps``): each
``<<3*20=60>>`` annotation, and each calculation written out in the prose without one ("60 / 2 = 30 days": the
annotators leave many out, and the split counts annotations). Every number they use is the question's (in digits
or words), a unit constant or an earlier step's result (``replay.grounded_calls``, the rule the harvest holds
replays to), or some number was worked out in words ("3 and 1/2" -> 3.5, 2 feet -> 24 inches) or a step computes
nothing (``<<8=8>>``); and whether the last step's result is the answer (else the solution does not write a step
out). The grounded ones that give the answer are counted by how many operations they take in all: those are in
reach of a student that writes the question's numbers into calculator calls. GSM8K's "one-step" split is the
annotation count, not the problem's. For each eval report given (``apprentice eval --task gsm8k --level N
--report DIR``), the right answers in each class.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections import Counter
from pathlib import Path

from apprentice.errors import ApprenticeError
from apprentice.tasks.extract import numbers_match
from apprentice.tasks.gsm8k import GSM8KTask
from apprentice.training.replay import _gsm8k_steps, _operations, grounded_calls


def reach(question: str, solution: str, answer: str) -> str:
    """The problem's class: its calculations grounded and giving the answer (by how many operations), grounded
    but short of the answer (a step the solution does not write out), or not grounded."""
    steps = _gsm8k_steps(solution) or []
    if not steps or not grounded_calls(question, [(s.expression, s.result) for s in steps]):
        return "not grounded: a number worked out in words, or a step that computes nothing"
    if not numbers_match(steps[-1].result.replace(",", "").strip(" $"), answer):
        return "grounded, but the answer needs a step the solution does not write out"
    count = sum(len(_operations(ast.parse(s.expression.replace(",", ""), mode="eval").body)) for s in steps)
    return f"grounded, and {count} operation{'s give' if count != 1 else ' gives'} the answer"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", nargs="*", type=Path, help="eval report folders (report.json) of this split")
    parser.add_argument("--level", type=int, default=1)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    args = parser.parse_args(argv)
    try:
        items = GSM8KTask(level=args.level).load(args.data, split="test", seed=0)
        classes = {item.id: reach(item.question, item.meta["solution"], item.answer) for item in items}
        right: dict[str, Counter] = {}
        for folder in args.reports:
            report = json.loads((folder / "report.json").read_text())
            for cell, rows in report["items"].items():
                if not any(r["item_id"] in classes for r in rows):
                    raise ValueError(f"{folder}: no item of gsm8k --level {args.level}'s test split in its {cell}")
                right[f"{folder} ({cell})"] = Counter(classes[r["item_id"]] for r in rows
                                                     if r["correct"] and r["item_id"] in classes)
    except (OSError, ValueError, KeyError, ApprenticeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    totals = Counter(classes.values())
    print(f"gsm8k --level {args.level}, test split: {len(items)} problems")
    for name, n in sorted(totals.items(), key=lambda kv: (not kv[0].startswith("grounded, and"), kv[0])):
        print(f"  {n:4d} ({n / len(items):5.1%})  {name}")
    for label, counts in right.items():
        print(f"\n{label}: {sum(counts.values())} right")
        for name, n in sorted(counts.items()):
            print(f"  {n:4d} of {totals[name]:4d}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
