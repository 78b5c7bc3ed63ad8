#!/bin/bash
# the rounds of benchmarks/results/round_time.txt (session 37, 2026-12-06): the uni-r1 recipe from the base model
# with the faster-round defaults (LoRA dropout 0, the label head on a CPU, eval loss on 48, --eval-workers per idle
# core, threads found at run time: no APPRENTICE_THREADS), run from a checkout with PYTHONPATH set to it
set -euo pipefail
A=apprentice
COMMON=(--task svamp:800,arith:600 --levels 1 2 3 4 --arith-distractors 0.5 --teacher dataset,equation
        --student local --rounds 1 --epochs 1 --eval-sets svamp gsm8k:1 --baseline-limit 0 --learning-rate 5e-4
        --react-prompt student)
# fast: before the label head (8a27d32's parent), its first 185 steps beside another round; fast2: alone, 23.1 min
$A distill "${COMMON[@]}" --name fast2 --report reports/fast2
# fast3 (session 38, alone): the shared prefix once per batch, the eval loss through the label head: 18.5 min,
# SVAMP 31.0% (62/200; fast2 63/200: 3 items down, 2 up, McNemar p = 1)
$A distill "${COMMON[@]}" --name fast3 --report reports/fast3
# f200: the same cut to 200 SFT steps: 17.0 min, SVAMP 23.5% (kept at 315)
$A distill "${COMMON[@]}" --max-steps 200 --name f200 --report reports/f200
python benchmarks/round_time.py --data "$APPRENTICE_HOME/datasets/fast2-r1" --steps 6 --report reports/fast2
python benchmarks/round_time.py --data "$APPRENTICE_HOME/datasets/fast3-r1" --steps 6 --report reports/fast3
