#!/bin/bash
# The committed chain's rungs (benchmarks/distill_best.sh) from the shipped student, session 38 (issue 38):
# uar-r2 (an arith dataset round), uar-r3-dpo (a self-taught round), round 4's self-taught pool, and that pool for
# two epochs from uar-r3-dpo plus 80 DPO steps (uar-r4e2-dpo). Run alone on the 2 cores with the session's code
# (threads found at run time, the label head on SFT and DPO, the shared prefix, the self pass on 2 replicas).
set -euo pipefail
A=apprentice
COMMON=(--levels 1 2 3 4 --arith-distractors 0.5 --eval-sets svamp gsm8k:1 --baseline-limit 0
        --learning-rate 5e-4 --react-prompt student)
SELF=(--task svamp:600,arith:200 --teacher self --attempts 2 --rationalize dataset,equation
      --rounds 1 --max-steps 150 --dpo-steps 80)
# uar-r2: 24.0 min (beside this session's tests), SVAMP 30.5% (shipped 32.5%: 20 up, 24 down), GSM8K one-step 1/55
$A distill --task arith:600,svamp:300 --teacher dataset,equation --student student --start-round 2 --rounds 1 \
  --epochs 1 --name uar --report OUT/uar "${COMMON[@]}"
# uar-r3-dpo: 49.3 min (teacher pass 33.2 beside a benchmark), SVAMP 35.0% (25 up, 20 down), GSM8K one-step 3/55
$A distill "${SELF[@]}" --student adapter:uar-r2 --start-round 3 --name uar --report OUT/uar3 "${COMMON[@]}"
# round 4: its teacher pass and harvest only (the round was stopped when harvest.json appeared): the pool uar-r4
$A distill "${SELF[@]}" --student adapter:uar-r3-dpo --start-round 4 --name uar --report OUT/uar4 "${COMMON[@]}"
$A train sft --data "$APPRENTICE_HOME/datasets/uar-r4" --name uar-r4e2 --base adapter:uar-r3-dpo --epochs 2 \
  --learning-rate 5e-4 --seed 0
$A train dpo --data "$APPRENTICE_HOME/datasets/uar-r4" --name uar-r4e2-dpo --base adapter:uar-r4e2 --max-steps 80 \
  --sft-weight 1.0 --seed 0
E=($A eval --model adapter:uar-r4e2-dpo --tools calculator --split test --no-progress --strategy react --workers 2)
"${E[@]}" --task svamp --report OUT/e2/svamp
"${E[@]}" --task gsm8k --level 1 --report OUT/e2/gsm8k-1
# uar-r3-dpo: net +8 items, sign test p = 0.156: kept out
python benchmarks/ship_student.py uar-r3-dpo --reports svamp=OUT/uar3/round3-svamp gsm8k:1=OUT/uar3/round3-gsm8k-1
# uar-r4e2-dpo: SVAMP 46.0% (42 up, 15 down), GSM8K one-step 1/55 (1 up): ships (from a clone of apprentice), which
# writes the fp16 weights the `student` spec then loads
python benchmarks/ship_student.py uar-r4e2-dpo --reports svamp=OUT/e2/svamp gsm8k:1=OUT/e2/gsm8k-1 --ship
# the shipped fp16 weights themselves, through the `student` spec (a student is judged as it ships); the final
# ship command below takes these reports (shipped.json back at uni-r1 first), the fp32 ones are kept as fp32-*
S=($A eval --model student --tools calculator --split test --no-progress --strategy react --workers 2)
"${S[@]}" --task svamp --report OUT/shipped/svamp
"${S[@]}" --task gsm8k --level 1 --report OUT/shipped/gsm8k-1
"${S[@]}" --task gsm8k --level 2 --report OUT/shipped/gsm8k-2
git checkout benchmarks/results/student/shipped.json && rm -r benchmarks/results/student/uar-r4e2-dpo
B=benchmarks/results/student/uni-r1  # the base model's reports: the same 20 items of each set, as before
python benchmarks/ship_student.py uar-r4e2-dpo \
  --reports svamp=OUT/shipped/svamp gsm8k:1=OUT/shipped/gsm8k-1 gsm8k:2=OUT/shipped/gsm8k-2 \
  --base svamp=$B/base-svamp gsm8k:1=$B/base-gsm8k-1 gsm8k:2=$B/base-gsm8k-2 --commands commands.sh --ship \
  --note "The student column is the shipped fp16 weights themselves (the \`student\` spec); the fp32 adapter they were converted from: SVAMP 46.0% (92/200; 3 items up and 3 down against the fp16), GSM8K one-step 1/55 (fp32-svamp/, fp32-gsm8k-1/)."
