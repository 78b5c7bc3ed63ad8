"""What a verifier or a vote on top of a student changes, item by item: two eval reports of the same items.

    python benchmarks/verify_gain.py GREEDY_REPORT_DIR VERIFY_REPORT_DIR [--home APPRENTICE_HOME]

GREEDY is the student's single pass (e.g. a distillation round's ``roundN-SET`` eval), VERIFY the same
student under ``--strategy verify`` or ``--strategy react-sc`` on the same split. Prints both accuracies
and the flips (right -> wrong, wrong -> right). For verify runs: how each ended (accepted, or fell back
on a rejected draft), how many drafts it sampled, and why the verifier rejected the first draft. For
react-sc runs: how often the gold answer was among the sampled runs' answers (the most any vote or
verifier over those samples could get), and accuracy by how many votes the winner had; a react-sc run
with ``--verifier`` also gives the plain majority of the same samples, so the weighting's own gain is
measured on one set of samples. The runs are read from the trace store of the home that ran them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path

from item_flips import mcnemar_p, read_report  # benchmarks/, on the path when run as a script


def reason_kind(reason: str) -> str:
    for needle, kind in (("calculator's results", "answer is no calculator result"), ("negative", "negative answer"),
                         ("decimal", "more than two decimals"), ("never uses", "a question number left out"),
                         ("no final answer", "no final answer"), ("wrong arithmetic", "wrong arithmetic"),
                         ("calculator call failed", "every calculator call failed")):
        if needle in reason:
            return kind
    return reason[:60]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("greedy", type=Path)
    parser.add_argument("verify", type=Path)
    parser.add_argument("--home", help="APPRENTICE_HOME whose trace store holds the verify runs")
    args = parser.parse_args(argv)
    if args.home:
        os.environ["APPRENTICE_HOME"] = args.home
    from apprentice.config import data_path
    from apprentice.errors import ApprenticeError
    from apprentice.graphs.cot_sc import weighted
    from apprentice.tasks import get_task
    from apprentice.traces import open_store

    greedy, verify = ({row["item_id"]: row for row in read_report(path)[1]} for path in (args.greedy, args.verify))
    both = sorted(set(greedy) & set(verify))
    if not both:
        raise SystemExit("error: the two reports share no items")
    store = open_store(data_path("traces.db"))
    flips: Counter = Counter()
    ends: Counter = Counter()
    drafts: Counter = Counter()
    rejected: Counter = Counter()
    gold_sampled = 0
    by_share: dict[int, list[bool]] = {}
    weighing: Counter = Counter()  # (plain majority right, weighted winner right) on verifier-weighted votes
    hard_only = 0  # right when a soft rejection (score 0.5) counts as accepted, from the vote step's checks
    for item in both:
        flips[(bool(greedy[item]["correct"]), bool(verify[item]["correct"]))] += 1
        if not verify[item].get("run_id"):
            ends["error, no run"] += 1
            continue
        try:
            run = store.get(verify[item]["run_id"])
        except ApprenticeError as exc:  # the report was made under another home
            raise SystemExit(f"error: {exc} in {data_path('traces.db')}; give --home of the run that made "
                             f"{args.verify}") from None
        if "votes" in run.meta:  # react-sc / cot-sc: the vote's distribution over the samples' answers
            gold = get_task(run.task).normalize(run.gold)
            gold_sampled += gold in run.meta["votes"]
            winner_votes = run.meta["votes"].get(run.meta["winner"], 0)
            by_share.setdefault(winner_votes, []).append(bool(verify[item]["correct"]))
            if "weights" in run.meta:
                weighing[(run.meta["majority"] == gold, bool(verify[item]["correct"]))] += 1
                checks = next((s.data.get("checks") for s in run.steps if s.kind == "vote"), None) or []
                keys = [c["key"] for c in checks]
                winner, _ = weighted(keys, [1.0 if c["score"] == 0.5 else c["score"] for c in checks])
                hard_only += (winner or run.meta["majority"]) == gold  # no checks kept: the plain majority
            continue
        meta = run.meta.get("verify", {})
        ends["accepted" if meta.get("accepted") else
             "fell back on a rejected draft" if meta.get("fallback") else "ended on a rejected draft"] += 1
        drafts[meta.get("revisions", 0) + 1] += 1
        checks = [s.data for s in run.steps if s.kind == "verify"]
        if checks and checks[0].get("ok") is False:
            rejected[(reason_kind(checks[0].get("reason", "")), bool(greedy[item]["correct"]))] += 1
    n = len(both)
    g, v = sum(bool(greedy[i]["correct"]) for i in both), sum(bool(verify[i]["correct"]) for i in both)
    print(f"items {n}: greedy {g} ({g / n:.1%}), {'vote' if by_share else 'verify'} {v} ({v / n:.1%}), {v - g:+d}")
    print(f"flips: wrong->right {flips[(False, True)]}, right->wrong {flips[(True, False)]}, "
          f"right both {flips[(True, True)]}, wrong both {flips[(False, False)]} "
          f"(McNemar exact p = {mcnemar_p(flips[(False, True)], flips[(True, False)]):.3g})")
    if by_share:
        voted = sum(len(rows) for rows in by_share.values())
        print(f"vote runs {voted}: the gold answer among the samples' answers in {gold_sampled} "
              f"({gold_sampled / voted:.1%})")
        print("right / items by the winner's votes: " + ", ".join(
            f"{k}: {sum(by_share[k])}/{len(by_share[k])}" for k in sorted(by_share)))
    if weighing:
        plain = weighing[(True, True)] + weighing[(True, False)]
        print(f"the same samples' plain majority: {plain} right ({plain / sum(weighing.values()):.1%}); the "
              f"verdicts' weighting turned {weighing[(False, True)]} wrong->right, {weighing[(True, False)]} "
              f"right->wrong (p = {mcnemar_p(weighing[(False, True)], weighing[(True, False)]):.3g})")
        print(f"weighted with a soft rejection (a question number left out) counted as accepted: {hard_only} right "
              f"({hard_only / sum(weighing.values()):.1%})")
    if ends:
        print("verify runs: " + ", ".join(f"{k} {c}" for k, c in ends.most_common()))
        print("drafts per item: " + ", ".join(f"{k}: {drafts[k]}" for k in sorted(drafts)))
        print("first draft rejected (reason: on greedy-wrong / greedy-right items):")
        for kind in sorted({k for k, _ in rejected}):
            print(f"  {kind}: {rejected[(kind, False)]} / {rejected[(kind, True)]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
