#!/bin/bash
# Session 25 (2026-12-02, code at eab7d59): the adapters of one_round/ were lost with /tmp. One dataset round
# from the base model over the union of one-r1's and one-r2's pools (uni-r1), then a self-taught round with two
# attempts per item as one_round's round 4 (uni-r2-dpo). Run on the 2-core CPU, alone but for a few minutes of
# unit tests (see NOTES).
set -x
cd /work/main
export APPRENTICE_HOME=/tmp/d25
.venv/bin/apprentice distill --task svamp:800,arith:600 --levels 1 2 3 4 --arith-distractors 0.5 \
  --teacher dataset,equation --student local --rounds 1 --epochs 1 \
  --eval-sets arith:1 svamp arith:3 --baseline-limit 0 --learning-rate 5e-4 --react-prompt student \
  --name uni --report /tmp/d25/report
.venv/bin/apprentice distill --task svamp:600,arith:200 --levels 1 2 3 4 --arith-distractors 0.5 \
  --teacher self --attempts 2 --rationalize dataset,equation --student adapter:uni-r1 \
  --start-round 2 --rounds 1 --max-steps 150 --dpo-steps 80 \
  --eval-sets arith:1 svamp arith:3 --baseline-limit 0 --learning-rate 5e-4 --react-prompt student \
  --name uni --report /tmp/d25/report
cp -r /tmp/d25/report/. benchmarks/results/distill_calc/union_round/
# against one_round's students (committed eval reports)
for s in svamp arith-1 arith-3; do
  python benchmarks/item_flips.py benchmarks/results/distill_calc/one_round/round2-$s benchmarks/results/distill_calc/union_round/round1-$s
  python benchmarks/item_flips.py benchmarks/results/distill_calc/union_round/round1-$s benchmarks/results/distill_calc/union_round/round2-$s
  python benchmarks/item_flips.py benchmarks/results/distill_calc/one_round/round4-$s benchmarks/results/distill_calc/union_round/round2-$s
done
# the student to another machine (no GGUF in the export; weights stay out of the repository)
APPRENTICE_HOME=/tmp/d25 .venv/bin/apprentice adapters export uni-r1 --out /tmp/d25/export-uni-r1
# on the other machine: the tokenizer and the merged GGUF come back from the embedded base
APPRENTICE_HOME=/tmp/nu .venv/bin/apprentice adapters import /tmp/d25/export-uni-r1
APPRENTICE_HOME=/tmp/nu .venv/bin/apprentice chat --model adapter:uni-r1 --strategy react-sc --option verifier=rules
