"""Item-by-item flips between eval runs of the same held-out split, read from their ``report.json`` files.

    python benchmarks/item_flips.py REPORT_A REPORT_B [...] [--column NAME]

Each argument is an eval report folder (or its ``report.json``), e.g. a distillation round's ``round1-svamp``.
For each pair: how many items only the first gets right and how many only the second does (the discordant
pairs a McNemar test reads) and that test's exact two-sided p. ``--column`` picks the strategy/model column of a
report that has several (default: its only one).
"""

from __future__ import annotations

import argparse
import json
import sys
from itertools import combinations
from math import comb
from pathlib import Path
from typing import Any


def mcnemar_p(only_a: int, only_b: int) -> float:
    """McNemar's exact test on the discordant items: the two-sided binomial p of a split this uneven or more
    when each discordant item is a fair coin (1.0 with none)."""
    n = only_a + only_b
    tail = sum(comb(n, k) for k in range(min(only_a, only_b) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def print_flips(results: dict[str, dict[str, bool]]) -> None:
    """Print, for each pair of named result sets (item id -> correct), the items only one of them gets right."""
    for a, b in combinations(results, 2):
        shared = results[a].keys() & results[b].keys()
        only_a = sum(results[a][i] and not results[b][i] for i in shared)
        only_b = sum(results[b][i] and not results[a][i] for i in shared)
        print(f"{a} vs {b}: {len(shared)} shared items, right only in {a} {only_a}, only in {b} {only_b} "
              f"(McNemar exact p = {mcnemar_p(only_a, only_b):.3g})")


def read_report(path: Path, column: str | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """An eval report from its folder or its ``report.json``: the report and the item rows (each with its
    ``item_id`` and ``correct``) of one strategy / model column, ``column`` or the report's only one."""
    file = path / "report.json" if path.is_dir() else path
    try:
        report = json.loads(file.read_text())
        columns = report["items"]
        if column is None and len(columns) != 1:
            raise SystemExit(f"error: {file} has columns {sorted(columns)}; pick one with --column")
        rows = columns[column] if column is not None else next(iter(columns.values()))
        for row in rows:
            row["item_id"], row["correct"]  # noqa: B018 - shape check
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"error: {file} is not an eval report ({exc!r})") from None
    return report, rows


def _load(path: Path, column: str | None) -> dict[str, bool]:
    return {row["item_id"]: bool(row["correct"]) for row in read_report(path, column)[1]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", nargs="+", type=Path, help="eval report folders or their report.json")
    parser.add_argument("--column", help="the report column, e.g. 'react / adapter:ep2-r1' (default: the only one)")
    args = parser.parse_args(argv)
    if len(args.reports) < 2:
        parser.error("give at least two reports")
    print_flips({str(path): _load(path, args.column) for path in args.reports})
    return 0


if __name__ == "__main__":
    sys.exit(main())
