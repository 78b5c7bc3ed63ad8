#!/bin/bash
# Session 40 candidates (issue 38): none ships. Run alone on the 2 cores, one after another, from a home holding
# session 39's adapters (uar-r4e2-dpo, uar-s-cdpo200) and round 5's pool (uar-r5); see its commands in
# ../../uar-s-cdpo200/commands.sh. Every adapter is saved in fp16, so each evaluation is its shipped form.
set -euo pipefail
A=apprentice
D="$APPRENTICE_HOME/datasets"
E() { $A eval --model "adapter:$1" --tools calculator --split test --no-progress --strategy react --workers 2 \
        --task "${@:2}"; }
evaluate() { E "$1" svamp --report "OUT/$1/svamp"; E "$1" gsm8k --level 1 --report "OUT/$1/gsm8k-1"; }
COMMON=(--levels 1 2 3 4 --arith-distractors 0.5 --eval-sets svamp gsm8k:1 --baseline-limit 0
        --learning-rate 5e-4 --react-prompt student)
# round 6 from the shipped student with contrast pairs (1,877 runs, 277 resumed, 21.5 min on two llama.cpp replicas;
# 870 train / 93 eval examples, 410 self-taught + 629 contrast pairs), stopped once harvest.json appeared, then 200
# DPO steps from the shipped student (9.3 min): uar-s6-cdpo200, SVAMP 46.0% (92/200; 8 up, 21 down), GSM8K-1 1/55
$A distill --task svamp:600,arith:200 --teacher self --attempts 2 --rationalize dataset,equation --rounds 1 \
  --max-steps 150 --dpo-steps 200 --contrast-pairs 1 --student student --start-round 6 --name uar \
  --report OUT/uar6 "${COMMON[@]}"
$A train dpo --data "$D/uar-r6" --name uar-s6-cdpo200 --base adapter:uar-s-cdpo200-h --max-steps 200 \
  --sft-weight 1.0 --seed 0
evaluate uar-s6-cdpo200
# round 5's pool with its contrast pairs read three ways (the same 650 draws as the shipped student's uar-r5c):
# signs=dropped (uar-r5e: a negative variant's answer without its sign, as the student misreports it) and
# signs=both (uar-r5f: both readings, 898 contrast pairs)
for signs in dropped:uar-r5e both:uar-r5f; do
  out="$D/${signs#*:}"; cp -r "$D/uar-r5" "$out"
  python - "$out" "${signs%%:*}" <<'PY'
import json, sys
from pathlib import Path
from apprentice.training.contrast import contrast_pairs
d = Path(sys.argv[1])
rows = [json.loads(l) for l in (d / "train.jsonl").read_text().splitlines() if l.strip()]
with open(d / "pairs.jsonl", "a") as fh:
    fh.writelines(json.dumps(p, ensure_ascii=False) + "\n"
                  for p in contrast_pairs(rows, per_example=1, seed=0, signs=sys.argv[2]))
PY
done
# the shipped recipe (200 DPO steps from uar-r4e2-dpo) on each, and on uar-r5c itself with other seeds
# uar-s-edpo200 (dropped, seed 0): 47.0%; uar-s-edpo200-s1 (seed 1): 47.0%; uar-s-fdpo200 (both): 47.5%;
# uar-s-cdpo200-s1 (the shipped recipe, seed 1): 48.5%; uar-s-cdpo200-s2 (seed 2): 49.5%
for run in uar-r5e:uar-s-edpo200:0 uar-r5e:uar-s-edpo200-s1:1 uar-r5f:uar-s-fdpo200:0 \
           uar-r5c:uar-s-cdpo200-s1:1 uar-r5c:uar-s-cdpo200-s2:2; do
  IFS=: read -r data name seed <<< "$run"
  $A train dpo --data "$D/$data" --name "$name" --base adapter:uar-r4e2-dpo --max-steps 200 --sft-weight 1.0 \
    --seed "$seed"
  evaluate "$name"
done
# miss classes, impossible answers and sign-dropped right answers, with item flips against the shipped student
python benchmarks/svamp_types.py --home "$APPRENTICE_HOME" adapter:uar-s-cdpo200-h adapter:uar-s6-cdpo200 \
  adapter:uar-s-edpo200 adapter:uar-s-edpo200-s1 adapter:uar-s-fdpo200 adapter:uar-s-cdpo200-s1 adapter:uar-s-cdpo200-s2
