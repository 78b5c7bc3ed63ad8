"""Session 51: the threshold of ``--go-on-at`` (the candidate's P(yes) at which the harness goes on), chosen on a dev
set before any yardstick: the first 160 problems of SVAMP's train split (``--split train --limit 160``, left out of
the candidate's pool by pool.py), after the shipped student's first calculator call. The rule, fixed before the
candidate's probabilities were seen: the lowest threshold of session 50's list at which at least PRECISION of the
go-ons are ones the worked solution needs (the highest when none reaches it).

    APPRENTICE_HOME=HOME python threshold.py ADAPTER SHIPPED_DEV_REPORT_DIR [PRECISION]   # last line: go_on_at=T
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "s50"))
from decision_probe import THRESHOLDS, decisions, table  # noqa: E402


def main():
    adapter, report, precision = sys.argv[1], sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 0.8
    rows = decisions(adapter, report, split="train")
    ps, ys = [r["p"] for r in rows], [r["yes"] for r in rows]
    table(f"SVAMP train's first 160 (dev) after the shipped student's first call, {adapter}", ps, ys)
    chosen = THRESHOLDS[-1]
    for t in THRESHOLDS:
        went = [y for p, y in zip(ps, ys) if p >= t]
        if went and sum(went) / len(went) >= precision:
            chosen = t
            break
    print(f"go_on_at={chosen}")


if __name__ == "__main__":
    main()
