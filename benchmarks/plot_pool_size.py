"""Accuracy against pool size: eval reports of students trained on shares of one pool, as a plot and a table.

    python benchmarks/plot_pool_size.py --out PNG SHARE:PAIRS=REPORT_DIR [SHARE:PAIRS=REPORT_DIR ...]
        [--unit pairs] [--share-label "of the pool"] [--xlabel TEXT] [--title TEXT]

Each argument names a share of the pool (percent), its number of training pairs, and an ``apprentice eval
--report`` folder of a student trained on it (one per seed: repeat the share). Prints each share's seeds, their
mean and the Wilson interval of one seed's items around it, and writes the plot: every seed as a dot, the mean as a line.
Another count (``--unit "examples"``) and another share (``--share-label "generated"``: the pool's generated part)
plot other pool sizes the same way (session 52: SFT pools with more of the schema generator's problems).
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from item_flips import read_report  # benchmarks/, on the path above


def _point(text: str) -> tuple[int, int, Path]:
    try:
        head, folder = text.split("=", 1)
        share, pairs = head.split(":", 1)
        return int(share), int(pairs), Path(folder)
    except ValueError:
        raise SystemExit(f"error: {text!r} is not SHARE:PAIRS=REPORT_DIR") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("points", nargs="+", help="SHARE:PAIRS=REPORT_DIR, one per trained seed")
    parser.add_argument("--out", type=Path, required=True, help="the plot (PNG)")
    parser.add_argument("--title", default="SVAMP test accuracy against the DPO pool's size")
    parser.add_argument("--unit", default="pairs", help="what PAIRS counts (default: pairs)")
    parser.add_argument("--share-label", default="of the pool", help="what SHARE is a share of (default: of the pool)")
    parser.add_argument("--xlabel", default="DPO pairs in the pool (share of the whole)", help="the x axis' label")
    args = parser.parse_args(argv)

    from apprentice.eval import wilson_interval

    seeds: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for share, pairs, folder in map(_point, args.points):
        _, items = read_report(folder)  # one error line for a folder that is not an eval report
        seeds[(share, pairs)].append((sum(bool(row["correct"]) for row in items), len(items)))
    rows = []
    for (share, pairs), runs in sorted(seeds.items()):
        right, n = sum(r for r, _ in runs), sum(n for _, n in runs)
        # the seeds answer the same items: the interval is one seed's (its n items) around their mean
        low, high = wilson_interval(right / len(runs), n / len(runs))
        rows.append((share, pairs, [r / n for r, n in runs], right / n, low, high))
        print(f"{share:>3}% {args.share_label} ({pairs} {args.unit}): seeds {', '.join(f'{r}/{n}' for r, n in runs)}; "
              f"mean {right / n:.1%} (95% interval of {n // len(runs)} items {low:.1%}-{high:.1%})")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for _, pairs, each, _, _, _ in rows:
        ax.scatter([pairs] * len(each), [100 * a for a in each], color="tab:blue", alpha=0.6, s=25)
    ax.errorbar([r[1] for r in rows], [100 * r[3] for r in rows],
                yerr=[[100 * (r[3] - r[4]) for r in rows], [100 * (r[5] - r[3]) for r in rows]],
                color="tab:orange", marker="o", capsize=4, label="mean of the seeds (95% interval of one seed)")
    ax.set_xscale("log", base=2)
    ax.set_xticks([r[1] for r in rows], [f"{r[1]}\n({r[0]}%)" for r in rows])
    ax.set_xlabel(args.xlabel)
    ax.set_ylabel("accuracy (%)")
    ax.set_title(args.title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out)
    print(f"plot: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
