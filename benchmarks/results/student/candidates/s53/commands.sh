#!/bin/bash
# Session 53 candidates (issue 38): the shipped chain's later rungs from session 52's V3 (SVAMP 800 + GSM8K train
# 3,000 of every level in one dataset round from the base model: SVAMP 65/200, GSM8K one-step 6/55, the first
# student past 4), with GSM8K's problems beside SVAMP's in every self-taught pass, so the one-step gain is carried
# into the rungs that took uni-r1 (65) to the shipped student (105). Run alone on the 2 cores, in the home that holds
# V3 (candidates/s52/commands.sh makes it: adapter s52v3-r1).
set -euo pipefail
A=apprentice
COMMON=(--eval-sets svamp gsm8k:1 --baseline-limit 0 --learning-rate 5e-4 --react-prompt student)
SELF=(--task svamp:600,gsm8k:600 --teacher self --attempts 2 --rationalize dataset,equation --rounds 1 --name s53
      --report OUT/s53)
# round 2, the chain's self-taught rung (uar-r3-dpo's recipe: 2 sampled attempts, failures rationalized by the
# dataset's grounded replays, SFT capped at 150 steps, 80 DPO steps), SVAMP 600 + GSM8K 600: 50.1 min (collect 30.2,
# SFT 8.3, DPO 7.6, evaluate 2.6); 998 examples, 866 pairs; SVAMP 76/200 (V3 65: 30 up, 19 down, p = 0.15), GSM8K
# one-step 2/55 (V3 6: 1 up, 5 down, p = 0.22)
$A distill "${SELF[@]}" --max-steps 150 --dpo-steps 80 --student adapter:s52v3-r1 --start-round 2 "${COMMON[@]}"
# round 3: the chain's r4e2 rung (two epochs on the round's own self-taught pool, from the last round's adapter) with
# the shipped rung's contrast DPO folded in (200 steps, one contrast pair per verified one-action example): 74.5 min
# (collect 26.5, SFT 464 steps 24.4 + eval loss 2.8, DPO 17.9, evaluate 2.3); 1,030 examples, 1,280 pairs; SVAMP
# 85/200 (round 2: 30 up, 21 down; V3: 35 up, 15 down, p = 0.0066; shipped 105: 12 up, 32 down, p = 0.0037), GSM8K
# one-step 7/55 (12.7%, the best yet; shipped 2: 7 up, 2 down, p = 0.18): net -15 by ship_student.py, kept out
$A distill "${SELF[@]}" --epochs 2 --dpo-steps 200 --contrast-pairs 1 --student adapter:s53-r2-dpo --start-round 3 \
  "${COMMON[@]}"
C=benchmarks/results/student/candidates/s53 S=benchmarks/results/student/uar-s-cdpo200
python benchmarks/item_flips.py OUT/s52v3/round1-svamp OUT/s53/round2-svamp OUT/s53/round3-svamp $S/svamp > $C/flips.txt
python benchmarks/item_flips.py OUT/s52v3/round1-gsm8k-1 OUT/s53/round2-gsm8k-1 OUT/s53/round3-gsm8k-1 $S/gsm8k-1 \
  >> $C/flips.txt
python benchmarks/ship_student.py s53-r3-dpo --reports svamp=OUT/s53/round3-svamp gsm8k:1=OUT/s53/round3-gsm8k-1
# next (a later sitting, the same home): round 4 from s53-r3-dpo, the same command with --start-round 4 and
# --student adapter:s53-r3-dpo (the shipped chain's r5 pass + contrast DPO rung)
