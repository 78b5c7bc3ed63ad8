#!/bin/bash
# Session 29 (2026-12-03, code at 21a8b80 with benchmarks/distill_best.sh as committed beside these results): the
# first two steps of distill_best.sh from the embedded base model, stopped after uar-r2 to leave the session time
# for the test suite. Round 1 ran beside a few minutes of unit tests and a TUI check (53.3 min), round 2 alone
# (38.1 min). Both reproduce the committed reports item for item (item_flips: 0 up, 0 down on every set).
set -x
cd /work/main
rm -rf /tmp/distill-best
benchmarks/distill_best.sh        # killed once uar-r2's evals were written
D=benchmarks/results/distill_calc/rerun_best
mkdir -p $D && cp -r /tmp/distill-best/out/union/round1-* /tmp/distill-best/out/uar/round2-* $D/
for f in md json png; do
  cp /tmp/distill-best/out/union/report.$f $D/report-round1.$f; cp /tmp/distill-best/out/uar/report.$f $D/report-round2.$f
done
for s in arith-1 svamp arith-3; do
  python benchmarks/item_flips.py benchmarks/results/distill_calc/union_round/round1-$s $D/round1-$s
  python benchmarks/item_flips.py benchmarks/results/distill_calc/union_round/arith_round/round2-$s $D/round2-$s
done
