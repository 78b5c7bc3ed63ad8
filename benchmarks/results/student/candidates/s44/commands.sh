#!/bin/bash
# Session 44 candidates (issue 38): the shipped student's own self-taught pass as the chosen side (no gold replays),
# STaR's hint rationalization, and consistency across number variants of one problem. Every candidate continues
# from the shipped student (`--base student`); run alone on the 2 cores, one after another.
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
    --react-prompt student --baseline-limit 0 --eval-sets svamp --dpo-steps 200 --contrast-pairs 1 --stop-after harvest; }

# the pass: SVAMP train 400 + GSM8K train of 1-2 steps (349 + 400), two sampled attempts each (t = 0.7), no
# rationalization: 2,298 runs in 33 min; the student solves 397/800 SVAMP attempts and 33/1,498 GSM8K ones;
# 299 train / 33 eval examples (29 GSM8K), 346 pairs (101 verified-vs-failed, 18 of them GSM8K; 245 quantity)
self_pass s44self svamp:400,gsm8k:800 --gsm8k-levels 1 2 --rationalize none

# C1: 200 DPO steps (RPO 1.0) on that pool (2.3 epochs), 9 min
$A train dpo --data "$D/s44self-r1" --name s44-self200 --base student --max-steps 200 --sft-weight 1.0 --seed 0
evaluate s44-self200         # SVAMP 97/200 (8 up, 16 down), GSM8K one-step 1/55, two-step 12/456 (3 up, 2 down)

# C2 (not trained): the same pass with STaR's hint for the items no attempt solved (its attempts resume from the
# store: 887 hinted runs, 13 min). 130 hinted runs reach the gold answer, 15 pass the harvest of that time, and 10
# of the 12 GSM8K ones type the hint into the calculator ("128 / 1", "24 * 1", "4 - 2" for a hinted 2); with the
# rule that landed for it (a hinted run computes with the question's numbers only), 5 remain: the pool is C1's
self_pass s44hint svamp:400,gsm8k:800 --gsm8k-levels 1 2 --rationalize hint

# C3: C1's pool, 75 steps (under one epoch, as the shipped recipe's 200 steps of 1,060 pairs)
$A train dpo --data "$D/s44self-r1" --name s44-self75 --base student --max-steps 75 --sft-weight 1.0 --seed 0
E adapter:s44-self75 svamp --report OUT/s44-self75/svamp               # 102/200 (7 up, 10 down)
E adapter:s44-self75 gsm8k --level 1 --report OUT/s44-self75/gsm8k-1   # 1/55
E adapter:s44-self75 gsm8k --level 2 --report OUT/s44-self75/gsm8k-2   # 12/456 (5 up, 4 down): net -3, kept out

# C5: C1 with DPO's log-probabilities credited to the action (`--credit action`: no observation tokens, and nothing
# of the rejected side after its first observation)
$A train dpo --data "$D/s44self-r1" --name s44-act200 --base student --max-steps 200 --sft-weight 1.0 --seed 0 \
  --credit action
E adapter:s44-act200 svamp --report OUT/s44-act200/svamp                # 74/200 (4 up, 35 down), 0 unfaithful
E adapter:s44-act200 gsm8k --level 1 --report OUT/s44-act200/gsm8k-1    # 1/55

# C4: number variants of the 400 SVAMP problems C1's pass took (the same story and equation, new numbers that keep
# their order; 795 variants), the student's pass over 500 of them (1,000 runs, 14 min: 320 train / 31 eval, 377
# pairs), and consistency pairs (a variant or the original the student failed, against the trajectory it wrote for
# one it solved, its numbers carried over and recomputed: 83); with C1's pairs, 151 steps (0.375 epoch)
python $S/variants.py OUT/variants.jsonl --items 400 --per 2
self_pass s44var jsonl --data OUT/variants.jsonl --answer-kind number --pool 500 --rationalize none
python $S/consistency_pairs.py OUT/variants.jsonl OUT/cons_pairs.jsonl
rm -rf "$D/s44cons" && cp -r "$D/s44var-r1" "$D/s44cons"
cat "$D/s44self-r1/pairs.jsonl" OUT/cons_pairs.jsonl >> "$D/s44cons/pairs.jsonl"
$A train dpo --data "$D/s44cons" --name s44-cons --base student --max-steps 151 --sft-weight 1.0 --seed 0
evaluate s44-cons            # SVAMP 105/200 (9 up, 9 down), GSM8K one-step 0/55 (2 down), two-step 14/456 (5 up, 2 down)
APPRENTICE_HOME=$APPRENTICE_HOME python benchmarks/ship_student.py s44-cons --reports svamp=OUT/s44-cons/svamp \
  gsm8k:1=OUT/s44-cons/gsm8k-1 gsm8k:2=OUT/s44-cons/gsm8k-2   # net +1 (14 up, 13 down, p = 0.5): within noise, kept out
# C6: C4 without C1's pairs (the variants' 377 + the 83 consistency pairs), 86 steps (0.375 epoch)
rm -rf "$D/s44vc" && cp -r "$D/s44var-r1" "$D/s44vc" && cat OUT/cons_pairs.jsonl >> "$D/s44vc/pairs.jsonl"
$A train dpo --data "$D/s44vc" --name s44-vc --base student --max-steps 86 --sft-weight 1.0 --seed 0
evaluate s44-vc              # SVAMP 103/200 (10 up, 12 down), one-step 0/55, two-step 13/456: net -2, kept out
# the faithfulness column: answers that are not the calculator's last result
python benchmarks/svamp_types.py --home "$APPRENTICE_HOME" student adapter:s44-self200 adapter:s44-self75 \
  adapter:s44-act200 adapter:s44-cons adapter:s44-vc
