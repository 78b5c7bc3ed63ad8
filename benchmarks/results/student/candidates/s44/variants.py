"""SVAMP train problems with new numbers: the same story and equation, each of its numbers replaced, the answer
computed from the equation (session 44, issue 38: consistency across variants of one problem).

    python variants.py OUT.jsonl [--items 400] [--per 2] [--seed 0] [--data ../shared/data]

Takes the first ITEMS problems of SVAMP's train split in the order a distill pool takes them (``svamp:ITEMS``,
seed 0), so the variants sit beside the same problems' own self-taught runs. A variant keeps every number's order
against the others (a story that "had 42 and has 19 left" still has more at the start), every number distinct,
and a positive answer, whole where the original's is; a problem whose numbers are not all whole, or that no draw
fits in 200 tries, makes none. Each row: id (``ORIGIN~vK``), question, answer, origin, equation, mapping (the
original number -> the variant's, as text).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from fractions import Fraction
from pathlib import Path

from apprentice.tasks import get_task
from apprentice.tasks.extract import format_number
from apprentice.tools import evaluate

_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.]*\d)")


def _draw(value: int, rng: random.Random) -> int:
    """A new whole number of about the same size (at least 2: 1 and 0 change what a story means)."""
    low, high = max(2, value // 2), max(value * 3 // 2 + 2, 4)
    return rng.randint(low, high)


def variant(question: str, equation: str, answer: str, rng: random.Random) -> tuple[str, str, str, dict] | None:
    """(question, equation, answer, mapping) with new numbers, or None when the problem cannot have them."""
    given = [match.group() for match in _NUMBER.finditer(question)]
    used = {format_number(Fraction(n)) for n in re.findall(r"\d+(?:\.\d+)?", equation)}
    if not given or any("." in n for n in given) or not used <= set(given):
        return None
    originals = sorted({int(n) for n in given})
    whole = Fraction(answer).denominator == 1
    for _ in range(200):
        new = {n: _draw(n, rng) for n in originals}
        values = [new[n] for n in originals]
        if len(set(values)) != len(values) or values != sorted(values):  # distinct, and in the same order
            continue
        plain = re.sub(r"\d+(?:\.\d+)?", lambda m: str(new[int(Fraction(m.group()))]), equation)
        try:
            result = Fraction(evaluate(plain))
        except Exception:  # noqa: BLE001 - a division by zero or the like: draw again
            continue
        if result <= 0 or (whole and result.denominator != 1) or result.denominator not in (1, 2, 4, 5, 10):
            continue
        text = _NUMBER.sub(lambda m: str(new[int(m.group())]), question)
        return text, plain, format_number(result), {str(n): str(new[n]) for n in originals}
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--items", type=int, default=400)
    parser.add_argument("--per", type=int, default=2, help="variants per problem")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[6] / "shared" / "data"))
    args = parser.parse_args(argv)
    items = get_task("svamp").load(args.data, split="train", seed=0)[: args.items]
    rng = random.Random(args.seed)
    rows = []
    for item in items:
        seen = {item.question}
        for k in range(1, args.per + 1):
            made = variant(item.question, item.meta["equation"], item.answer, rng)
            if made is None or made[0] in seen:
                continue
            seen.add(made[0])
            rows.append({"id": f"{item.id}~v{k}", "question": made[0], "answer": made[2], "origin": item.id,
                         "equation": made[1], "mapping": made[3]})
    args.out.write_text("".join(json.dumps(row) + "\n" for row in rows))
    print(f"{len(rows)} variants of {len({r['origin'] for r in rows})} of {len(items)} problems -> {args.out}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
