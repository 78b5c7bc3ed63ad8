"""SVAMP accuracy by problem type, and item-by-item flips between students, from their eval runs.

    python benchmarks/svamp_types.py --home APPRENTICE_HOME adapter:A adapter:B [...] [--data SVAMP.json]

Reads each model's SVAMP eval runs (``apprentice eval --task svamp`` or a distillation round's eval;
``--select dev`` scoring runs are left out) of one strategy from the home's trace store: accuracy per SVAMP ``Type``
(Addition, Subtraction, Multiplication, Common-Division), the operator of the first calculator action on the
multiplication and division problems (which operation the student picks where the story has a rate), accuracy
on the problems that give a number the equation does not use against the others (and how many misses use such a
number in their first calculator input), the misses by what went wrong against the equation (the right operations
on other numbers, other operations on the right numbers, both, or neither: then the operands of a difference or a
quotient reversed, when swapping them gives the answer), how many misses answer a negative or fractional count
where the answer is whole, how many right answers are a negative result given without its sign (the thought
misreporting the calculator), how many answers are another number than the calculator's last result, then for each pair of models how many items only the first gets right and how many
only the second does (the discordant pairs a McNemar test reads).
A model run over the split more than once counts its latest run of each item.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import sys
from collections import defaultdict
from pathlib import Path

from item_flips import print_flips  # benchmarks/, on the path when run as a script

from apprentice.training.replay import _numbers  # the replay's reading of a text's numbers, 76.0 read as 76

#: Each eval run's item, verdict, first calculator input, answer and last calculator result.
_RUNS = """select item_id, correct,
             (select tool_input from steps where run_id = runs.id and kind = 'action' order by idx limit 1), answer,
             (select observation from steps where run_id = runs.id and kind = 'observation' order by idx desc limit 1)
           from runs where task = 'svamp' and model = ? and strategy = ?
           and json_extract(meta, '$.eval') is not null and json_extract(meta, '$.select_dev') is null
           order by started_at"""


def _operator(expression: str) -> str:
    """Which of multiply and divide a calculator input uses ("9 / 20" -> "/", both -> "*/"); "+/-" when
    it only adds or subtracts, "none" without an action."""
    found = [op for op in "*/" if op in expression]
    return "*/" if len(found) == 2 else found[0] if found else ("+/-" if expression else "none")


_OPERATOR = re.compile(r"(?<=[\d\s)])[-+*/](?=[\s\d(])")
_BINARY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([-/])\s*(\d+(?:\.\d+)?)\s*$")


def miss_class(expression: str, equation: str, answer: float) -> str:
    """What a missed item's first calculator input got wrong against SVAMP's equation: ``numbers`` (the
    equation's operations on other numbers), ``operation`` (other operations on the equation's numbers),
    ``both``, ``reversed`` (neither, and swapping a difference's or quotient's operands gives the answer), or
    ``neither``."""
    same_ops = sorted(_OPERATOR.findall(expression)) == sorted(_OPERATOR.findall(equation))
    same_numbers = sorted(_numbers(expression)) == sorted(_numbers(equation))
    if same_ops and same_numbers:
        binary = _BINARY.match(expression)
        if binary:
            a, op, b = float(binary.group(1)), binary.group(2), float(binary.group(3))
            swapped = b - a if op == "-" else (b / a if a else None)
            if swapped is not None and abs(swapped - answer) < 1e-6 * max(1.0, abs(answer)):
                return "reversed"
        return "neither"
    return "numbers" if same_ops else "operation" if same_numbers else "both"


def _impossible(prediction: str | None, answer: float) -> bool:
    """A negative or fractional count given where SVAMP's answer is a whole number."""
    try:
        value = float(prediction or "")
    except ValueError:
        return False
    return float(answer).is_integer() and (value < 0 or not value.is_integer())


def _unsigned(answer: str | None, observation: str | None) -> bool:
    """An answer that is the calculator's last (negative) result without its sign ("-92" observed, "92" given)."""
    try:
        value, seen = float(answer or ""), float(observation or "")
    except ValueError:
        return False
    return seen < 0 and abs(value + seen) < 1e-9


def _not_the_result(answer: str | None, observation: str | None) -> bool | None:
    """Whether an answer is another number than the calculator's last result, sign aside (the student not
    answering what its work gave: "400 / 40" -> 10, "Final Answer: 400"); None when either is no number."""
    try:
        value, seen = float(answer or ""), float(observation or "")
    except ValueError:
        return None
    return abs(abs(value) - abs(seen)) > 1e-6 * max(1.0, abs(seen))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="model specs as the eval recorded them, e.g. adapter:eqv-r7-dpo")
    parser.add_argument("--home", required=True, help="APPRENTICE_HOME whose trace store holds the eval runs")
    parser.add_argument("--strategy", default="react", help="the strategy the evals ran (default: react)")
    parser.add_argument("--data", type=Path, help="SVAMP.json (default: ../shared/data/arithmetic/SVAMP.json)",
                        default=Path(__file__).resolve().parents[2] / "shared/data/arithmetic/SVAMP.json")
    args = parser.parse_args(argv)
    try:
        rows = json.loads(args.data.read_text())
        types = {row["ID"]: row["Type"].replace("Divison", "Division") for row in rows}
        equations = {row["ID"]: (row["Equation"], float(row["Answer"])) for row in rows}
        # the numbers a problem gives that its equation does not use (SVAMP's added irrelevant numbers)
        unneeded = {row["ID"]: set(_numbers(f"{row['Body']} {row['Question']}")) - set(_numbers(row["Equation"]))
                    for row in rows}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"error: {args.data} is not SVAMP.json ({exc})") from None
    store = Path(os.path.expanduser(args.home)) / "traces.db"
    if not store.is_file():
        raise SystemExit(f"error: no trace store at {store}")
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    results: dict[str, dict[str, bool]] = {}
    first_inputs: dict[str, dict[str, str | None]] = {}
    predictions: dict[str, dict[str, str | None]] = {}
    unsigned: dict[str, int] = {}
    unfaithful: dict[str, int] = {}
    for model in args.models:
        rows = db.execute(_RUNS, (model, args.strategy)).fetchall()
        results[model] = {item: bool(ok) for item, ok, _, _, _ in rows}
        first_inputs[model] = {item: expression for item, _, expression, _, _ in rows}
        predictions[model] = {item: answer for item, _, _, answer, _ in rows}
        latest = {item: (ok, answer, seen) for item, ok, _, answer, seen in rows}  # as results: the latest run
        unsigned[model] = sum(bool(ok) and _unsigned(answer, seen) for ok, answer, seen in latest.values())
        unfaithful[model] = sum(bool(_not_the_result(answer, seen)) for _, answer, seen in latest.values())
        if not results[model]:
            raise SystemExit(f"error: no SVAMP {args.strategy} eval runs of {model} in {store}")
    for model, items in results.items():
        by_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for item, ok in items.items():
            by_type[types.get(item, "?")][0] += ok
            by_type[types.get(item, "?")][1] += 1
        right = sum(items.values())
        print(f"{model}: {right}/{len(items)} ({right / len(items):.1%}); "
              + ", ".join(f"{kind} {r}/{n}" for kind, (r, n) in sorted(by_type.items())))
        for kind in ("Multiplication", "Common-Division"):
            picked: dict[str, int] = defaultdict(int)
            for item, expression in first_inputs[model].items():
                if types.get(item) == kind:
                    picked[_operator(expression or "")] += 1
            print(f"  first operation on {kind}: " + ", ".join(f"{op} {n}" for op, n in sorted(picked.items())))
        extra = [item for item in items if unneeded.get(item)]
        took = sum(not items[item] and bool(set(_numbers(first_inputs[model][item] or "")) & unneeded[item])
                   for item in extra)
        print(f"  with an unneeded number: {sum(items[i] for i in extra)}/{len(extra)} right, {took} misses use it "
              f"first; without: {sum(items[i] for i in items if i not in extra)}/{len(items) - len(extra)} right")
        misses = [item for item, ok in items.items() if not ok and item in equations]
        classes: dict[str, int] = defaultdict(int)
        for item in misses:
            classes[miss_class(first_inputs[model][item] or "", *equations[item]) if first_inputs[model][item]
                    else "no action"] += 1
        print(f"  misses ({len(misses)}): " + ", ".join(f"{kind} {n}" for kind, n in sorted(classes.items()))
              + f"; a negative or fractional count answered: "
              f"{sum(_impossible(predictions[model][i], equations[i][1]) for i in misses)}")
        print(f"  right only by giving a negative result without its sign: {unsigned[model]}; answers that are not "
              f"the calculator's last result (sign aside): {unfaithful[model]}")
    print_flips(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
