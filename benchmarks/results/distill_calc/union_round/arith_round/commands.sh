#!/bin/bash
# Session 26 (2026-12-02, code at 4da33d0 / df62682; alone on the 2-core CPU): uni-r1 (union_round/) + one dataset
# round on the arith-heavy bootstrap pool, as one-r2 followed one-r1 (uar-r2); then react-sc with 10 samples, the
# vote weighted by the rules verifier, at the default temperature 0.7 and at 0.3; each run's curve over its
# first k samples (the first 5 of the 10 are the samples a 5-sample run draws: each is seeded by its index).
set -x
cd /work/main
export APPRENTICE_HOME=/tmp/d25   # where uni-r1 lives (union_round/commands.sh)
.venv/bin/apprentice distill --task arith:600,svamp:300 --levels 1 2 3 4 --arith-distractors 0.5 \
  --teacher dataset,equation --student adapter:uni-r1 --start-round 2 --rounds 1 --epochs 1 \
  --eval-sets arith:1 svamp arith:3 --baseline-limit 0 --learning-rate 5e-4 --react-prompt student \
  --name uar --report /tmp/d26/report
.venv/bin/apprentice eval --task svamp --split test --strategy react-sc --samples 10 --verifier rules \
  --model adapter:uar-r2 --tools calculator --report /tmp/d26/sc10v-uar-r2-svamp
.venv/bin/apprentice eval --task svamp --split test --strategy react-sc --samples 10 --verifier rules \
  --temperature 0.3 --model adapter:uar-r2 --tools calculator --report /tmp/d26/sc10v-t03-uar-r2-svamp
D=benchmarks/results/distill_calc/union_round/arith_round
cp -r /tmp/d26/report/. $D/ && cp /tmp/d25/datasets/uar-r2/README.md $D/round2-dataset-card.md
cp -r /tmp/d26/sc10v-uar-r2-svamp /tmp/d26/sc10v-t03-uar-r2-svamp $D/
cd benchmarks
../.venv/bin/python rerank_samples.py /tmp/d26/sc10v-uar-r2-svamp --home /tmp/d25 --out ../$D/samples-uar-r2-svamp.jsonl
../.venv/bin/python rerank_samples.py /tmp/d26/sc10v-t03-uar-r2-svamp --home /tmp/d25 --out ../$D/samples-t03-uar-r2-svamp.jsonl
../.venv/bin/python rerank_samples.py --from ../$D/samples-uar-r2-svamp.jsonl --curve > ../$D/curve-uar-r2-svamp.txt
../.venv/bin/python rerank_samples.py --from ../$D/samples-t03-uar-r2-svamp.jsonl --curve > ../$D/curve-t03-uar-r2-svamp.txt
cd ..
# against one-r2 (the same two pools, SVAMP first: one_round/) and uni-r1, and the greedy pass against the vote
for s in arith-1 svamp arith-3; do
  python benchmarks/item_flips.py benchmarks/results/distill_calc/one_round/round2-$s $D/round2-$s
  python benchmarks/item_flips.py benchmarks/results/distill_calc/union_round/round1-$s $D/round2-$s
done
python benchmarks/item_flips.py $D/round2-svamp $D/sc10v-uar-r2-svamp
python benchmarks/item_flips.py $D/round2-svamp $D/sc10v-t03-uar-r2-svamp
python benchmarks/item_flips.py $D/sc10v-uar-r2-svamp $D/sc10v-t03-uar-r2-svamp
# the rules verifier as rejection sampling (verify --inner react) on the same student, for the cost side by side
APPRENTICE_HOME=/tmp/d25 .venv/bin/apprentice eval --task svamp --split test --strategy verify --inner react \
  --verifier rules --model adapter:uar-r2 --tools calculator --report /tmp/d26/verify-uar-r2-svamp
cp -r /tmp/d26/verify-uar-r2-svamp $D/
python benchmarks/item_flips.py $D/round2-svamp $D/verify-uar-r2-svamp
python benchmarks/item_flips.py $D/verify-uar-r2-svamp $D/sc10v-uar-r2-svamp
