#!/bin/bash
# Session 45 candidates (issue 38): number variants at volume carry the round (all 800 SVAMP train problems, two
# variants each), then the same pool with a stronger anchor (beta) and a lower learning rate. Every candidate
# continues from the shipped student (`--base student`); run alone on the 2 cores, one after another. Reuses
# session 44's variants.py and consistency_pairs.py.
set -euo pipefail
A=apprentice
export APPRENTICE_HOME=${APPRENTICE_HOME:-$(mktemp -d)}
D="$APPRENTICE_HOME/datasets"
S=benchmarks/results/student/candidates/s44
E() { $A eval --model "$1" --tools calculator --split test --no-progress --strategy react --workers 2 --task "${@:2}"; }
evaluate() { E "adapter:$1" svamp --report "OUT/$1/svamp"; E "adapter:$1" gsm8k --level 1 --report "OUT/$1/gsm8k-1"
             E "adapter:$1" gsm8k --level 2 --report "OUT/$1/gsm8k-2"; }
self_pass() { # NAME TASK [options]: a self-taught pass of the shipped student, stopped once harvested
  $A distill --task "$2" "${@:3}" --teacher self --attempts 2 --student student --rounds 1 --name "$1" \
    --react-prompt student --baseline-limit 0 --eval-sets svamp --dpo-steps 200 --contrast-pairs 1 \
    --stop-after harvest; }

# the variants: all 800 SVAMP train problems of a distill pool's order, two each (1,582 of 798 problems; the first
# 795 are session 44's, whose 1,000 runs resume from the store); the student's pass over them (3,164 runs, 28 min
# for the 2,164 new: it solves 47.8%; 1,069 train / 115 eval examples, 1,248 pairs) and over the 800 originals
# (1,600 runs, 10 min for the 800 new: 52.1%), which the consistency groups need: 248 consistency pairs
python $S/variants.py OUT/variants.jsonl --items 800 --per 2
self_pass s45var jsonl --data OUT/variants.jsonl --answer-kind number --pool 1582 --rationalize none
self_pass s45orig svamp:800 --rationalize none
python $S/consistency_pairs.py OUT/variants.jsonl OUT/cons_pairs.jsonl
rm -rf "$D/s45vc" && cp -r "$D/s45var-r1" "$D/s45vc" && cat OUT/cons_pairs.jsonl >> "$D/s45vc/pairs.jsonl"

# C7: the 1,496 pairs, 280 steps (0.375 epoch at 2 pairs a step, as the shipped recipe's), 13 min
$A train dpo --data "$D/s45vc" --name s45-vc --base student --max-steps 280 --sft-weight 1.0 --seed 0
E adapter:s45-vc svamp --report OUT/s45-vc/svamp               # 99/200 (12 up, 18 down), 17 not the calculator's
E adapter:s45-vc gsm8k --level 1 --report OUT/s45-vc/gsm8k-1   # 1/55; two-step not run (SVAMP below 103)

# C8: C7 with a stronger anchor to the shipped student (beta 0.5)
$A train dpo --data "$D/s45vc" --name s45-b05 --base student --max-steps 280 --sft-weight 1.0 --seed 0 --beta 0.5
E adapter:s45-b05 svamp --report OUT/s45-b05/svamp               # 100/200 (12 up, 17 down), 10 not the calculator's
E adapter:s45-b05 gsm8k --level 1 --report OUT/s45-b05/gsm8k-1   # 1/55; two-step not run (SVAMP below 103)
# C9: C7 with a 5x lower learning rate
$A train dpo --data "$D/s45vc" --name s45-lr1 --base student --max-steps 280 --sft-weight 1.0 --seed 0 \
  --learning-rate 1e-5
evaluate s45-lr1             # SVAMP 103/200 (6 up, 8 down), one-step 1/55 (1 down), two-step 13/456 (2 up)
APPRENTICE_HOME=$APPRENTICE_HOME python benchmarks/ship_student.py s45-lr1 --reports svamp=OUT/s45-lr1/svamp \
  gsm8k:1=OUT/s45-lr1/gsm8k-1 gsm8k:2=OUT/s45-lr1/gsm8k-2   # net -1 (8 up, 9 down, p = 0.685): kept out
# the faithfulness column: answers that are not the calculator's last result
python benchmarks/svamp_types.py --home "$APPRENTICE_HOME" student adapter:s45-vc adapter:s45-b05 adapter:s45-lr1
# what GSM8K's step splits ask (benchmarks/results/student/gsm8k_reach.txt)
python benchmarks/gsm8k_reach.py benchmarks/results/student/uar-s-cdpo200/gsm8k-1 OUT/s45-lr1/gsm8k-1
