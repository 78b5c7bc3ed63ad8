#!/bin/bash
# Session 27 (2026-12-02, code at a43b7e8 / a54220f (a TUI change; the distill path does not use it); alone on the
# 2-core CPU): two self-taught rounds on uar-r2 (arith_round/), as one-r3-dpo and one-r4-dpo were made from one-r2
# (one_round/), both with two sampled attempts an item (one-r3 had four), failures rationalized by worked
# solutions, SFT capped at 150 steps, RPO 80 steps; then react-sc x5 with the rules weighting the vote.
set -x
cd /work/main
export APPRENTICE_HOME=/tmp/d25   # where uar-r2 lives (arith_round/commands.sh)
.venv/bin/apprentice distill --task svamp:600,arith:200 --levels 1 2 3 4 --arith-distractors 0.5 \
  --teacher self --attempts 2 --rationalize dataset,equation --student adapter:uar-r2 \
  --start-round 3 --rounds 1 --max-steps 150 --dpo-steps 80 \
  --eval-sets arith:1 svamp arith:3 --baseline-limit 0 --learning-rate 5e-4 --react-prompt student \
  --name uar --report /tmp/d26/report
.venv/bin/apprentice distill --task svamp:600,arith:200 --levels 1 2 3 4 --arith-distractors 0.5 \
  --teacher self --attempts 2 --rationalize dataset,equation --student adapter:uar-r3-dpo \
  --start-round 4 --rounds 1 --max-steps 150 --dpo-steps 80 \
  --eval-sets arith:1 svamp arith:3 --baseline-limit 0 --learning-rate 5e-4 --react-prompt student \
  --name uar --report /tmp/d26/report
.venv/bin/apprentice eval --task svamp --split test --strategy react-sc --samples 5 --verifier rules \
  --model adapter:uar-r4-dpo --tools calculator --report /tmp/d27/sc5v-uar-r4-dpo-svamp
D=benchmarks/results/distill_calc/union_round/arith_round/self_rounds
A=benchmarks/results/distill_calc/union_round/arith_round
O=benchmarks/results/distill_calc/one_round
cp /tmp/d26/report/report.* $D/ && cp -r /tmp/d26/report/round3-* /tmp/d26/report/round4-* /tmp/d27/sc5v-uar-r4-dpo-svamp $D/
cp /tmp/d25/datasets/uar-r3/README.md $D/round3-dataset-card.md && cp /tmp/d25/datasets/uar-r4/README.md $D/round4-dataset-card.md
for s in arith-1 svamp arith-3; do
  python benchmarks/item_flips.py $A/round2-$s $D/round3-$s
  python benchmarks/item_flips.py $A/round2-$s $D/round4-$s
  python benchmarks/item_flips.py $O/round4-$s $D/round4-$s   # against the lost one-r4-dpo
done
python benchmarks/item_flips.py $D/round4-svamp $D/sc5v-uar-r4-dpo-svamp
python benchmarks/item_flips.py $O/sc5v-one-r4-dpo-svamp $D/sc5v-uar-r4-dpo-svamp
cd benchmarks
../.venv/bin/python rerank_samples.py /tmp/d27/sc5v-uar-r4-dpo-svamp --home /tmp/d25 --out ../$D/samples-uar-r4-dpo-svamp.jsonl
../.venv/bin/python rerank_samples.py --from ../$D/samples-uar-r4-dpo-svamp.jsonl --curve > ../$D/curve-uar-r4-dpo-svamp.txt
cd ..
