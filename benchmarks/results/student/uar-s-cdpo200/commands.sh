#!/bin/bash
# uar-s-cdpo200 (session 39, issue 38): the shipped student uar-r4e2-dpo, 200 DPO steps on round 5's self-taught pairs
# plus contrast pairs (one per verified one-action training example: the same trajectory with one number swapped for
# another of the question's, or a difference's or quotient's operands reversed). Run alone on the 2 cores.
set -euo pipefail
A=apprentice
COMMON=(--levels 1 2 3 4 --arith-distractors 0.5 --eval-sets svamp gsm8k:1 --baseline-limit 0
        --learning-rate 5e-4 --react-prompt student)
SELF=(--task svamp:600,arith:200 --teacher self --attempts 2 --rationalize dataset,equation
      --rounds 1 --max-steps 150 --dpo-steps 80)
# round 5's self-taught pass from the shipped student (1,858 runs, 254 resumed, 22 min on two llama.cpp replicas;
# 902 train / 95 eval examples, 410 pairs: the pool uar-r5); the round was stopped once harvest.json appeared
$A distill "${SELF[@]}" --student student --start-round 5 --name uar --report OUT/uar5 "${COMMON[@]}"
# the rung that gave 35 -> 46% last session, repeated: 2 epochs from the student (452 steps, 16.8 min) + 80 DPO
# steps (4.0 min): SVAMP 43.0% (86/200; 18 up, 24 down against the student), GSM8K one-step 1/55: kept out
$A train sft --data "$APPRENTICE_HOME/datasets/uar-r5" --name uar-r5e2 --base adapter:uar-r4e2-dpo --epochs 2 \
  --learning-rate 5e-4 --seed 0
$A train dpo --data "$APPRENTICE_HOME/datasets/uar-r5" --name uar-r5e2-dpo --base adapter:uar-r5e2 --max-steps 80 \
  --sft-weight 1.0 --seed 0
# the pool with one contrast pair per verified one-action training example (650 added: 1,060 pairs); the same
# as a round's harvest with --contrast-pairs 1 (apprentice/training/contrast.py)
cp -r "$APPRENTICE_HOME/datasets/uar-r5" "$APPRENTICE_HOME/datasets/uar-r5c"
python - "$APPRENTICE_HOME/datasets/uar-r5c" <<'PY'
import json, sys
from pathlib import Path
from apprentice.training.contrast import contrast_pairs
d = Path(sys.argv[1])
rows = [json.loads(l) for l in (d / "train.jsonl").read_text().splitlines() if l.strip()]
with open(d / "pairs.jsonl", "a") as fh:
    fh.writelines(json.dumps(p, ensure_ascii=False) + "\n" for p in contrast_pairs(rows, per_example=1, seed=0))
PY
# contrast DPO on the same SFT adapter: SVAMP 45.5% (91/200; 8 up, 3 down against uar-r5e2-dpo), GSM8K one-step 0/55
$A train dpo --data "$APPRENTICE_HOME/datasets/uar-r5c" --name uar-r5e2-cdpo --base adapter:uar-r5e2 --max-steps 80 \
  --sft-weight 1.0 --seed 0
# contrast DPO on the shipped student itself, 80 steps (4.2 min): uar-s-cdpo, SVAMP 50.0% (100/200) in fp32, but
# 46.5% (93/200) as it ships in fp16 (7 up, 6 down against the student; GSM8K one-step 1/55, two-step 8/456): kept
# out. Its fp32 and fp16 merged GGUFs differ in 0.02% of their bytes (Q8_0 roundings), which moved 9 SVAMP answers:
# since dec5c70 every adapter is saved in fp16, so a candidate's evaluation is its shipped form's
$A train dpo --data "$APPRENTICE_HOME/datasets/uar-r5c" --name uar-s-cdpo --base adapter:uar-r4e2-dpo --max-steps 80 \
  --sft-weight 1.0 --seed 0
# 200 steps (16.3 min beside an evaluation; 400 of the 1,060 pairs): uar-s-cdpo200. This session's code (before
# dec5c70) saved it in fp32: it was evaluated in its fp16 form, registered as uar-s-cdpo200-h by
# ship_student(...) + import_adapter(...) (its merged GGUF byte for byte the shipped student's); with the code
# now, the entry itself is fp16 and `--model adapter:uar-s-cdpo200` evaluates the same GGUF
$A train dpo --data "$APPRENTICE_HOME/datasets/uar-r5c" --name uar-s-cdpo200 --base adapter:uar-r4e2-dpo \
  --max-steps 200 --sft-weight 1.0 --seed 0
for name in uar-r5e2-dpo uar-r5e2-cdpo uar-s-cdpo uar-s-cdpo200; do
  E=($A eval --model adapter:$name --tools calculator --split test --no-progress --strategy react --workers 2)
  "${E[@]}" --task svamp --report OUT/$name/svamp
  "${E[@]}" --task gsm8k --level 1 --report OUT/$name/gsm8k-1
done
# uar-s-cdpo200: SVAMP 52.5% (105/200; 20 up, 7 down against the student), GSM8K one-step 2/55 (1 up): ships
python benchmarks/ship_student.py uar-s-cdpo200 --reports svamp=OUT/uar-s-cdpo200/svamp \
  gsm8k:1=OUT/uar-s-cdpo200/gsm8k-1 --ship
# the shipped weights through the `student` spec on a fresh APPRENTICE_HOME (the one-time merge included): the same
# answers as above, and GSM8K two-step; the final ship command takes these reports (shipped.json back first)
S=($A eval --model student --tools calculator --split test --no-progress --strategy react --workers 2)
"${S[@]}" --task svamp --report OUT/shipped/svamp
"${S[@]}" --task gsm8k --level 1 --report OUT/shipped/gsm8k-1
"${S[@]}" --task gsm8k --level 2 --report OUT/shipped/gsm8k-2
git checkout benchmarks/results/student/shipped.json && rm -r benchmarks/results/student/uar-s-cdpo200
B=benchmarks/results/student/uni-r1  # the base model's reports: the same 20 items of each set, as before
python benchmarks/ship_student.py uar-s-cdpo200 \
  --reports svamp=OUT/shipped/svamp gsm8k:1=OUT/shipped/gsm8k-1 gsm8k:2=OUT/shipped/gsm8k-2 \
  --base svamp=$B/base-svamp gsm8k:1=$B/base-gsm8k-1 gsm8k:2=$B/base-gsm8k-2 --commands commands.sh --ship \
  --note "NOTE"
