#!/bin/bash
# The shipped student uni-r1 (session 34, 2026-12-05): the first rung of benchmarks/distill_best.sh, judged on the
# human-written yardsticks. On the 2-core CPU: teacher pass 39 s, SFT 315 steps 44.8 min (1 torch thread beside
# other work), GGUF merge ~1 min, evaluations ~25 min.
set -euo pipefail
export APPRENTICE_HOME=${APPRENTICE_HOME:-~/.local/share/apprentice}
A=apprentice
# one dataset round from the base model over SVAMP's train split and arith problems (their worked solutions replayed
# through the real calculator, each as one justified calculator call); the round's own evaluation is below
$A distill --task svamp:800,arith:600 --levels 1 2 3 4 --arith-distractors 0.5 \
  --teacher dataset,equation --student local --rounds 1 --epochs 1 \
  --eval-sets svamp gsm8k:1 arith:1 arith:3 --baseline-limit 0 --learning-rate 5e-4 --react-prompt student \
  --name uni --report reports/uni
# the evaluations, as the round runs them (the same harness; in session 34 the round's own evaluation stopped on an
# import error after training, because the code on disk changed under the running process, so they ran like this)
E="$A eval --split test --strategy react --model adapter:uni-r1 --tools calculator --no-progress"
$E --task svamp --report reports/uni/round1-svamp
$E --task gsm8k --level 1 --report reports/uni/round1-gsm8k-1
$E --task gsm8k --level 2 --report reports/uni/round1-gsm8k-2
$E --task arith --level 1 --report reports/uni/round1-arith-1
$E --task arith --level 3 --report reports/uni/round1-arith-3
# the untrained base model through the same harness (the first 20 test items of each yardstick: ~1-2 min an item)
B="$A eval --split test --limit 20 --strategy react --model local --tools calculator --no-progress"
$B --task svamp --report reports/base-svamp
$B --task gsm8k --level 1 --report reports/base-gsm8k-1
$B --task gsm8k --level 2 --report reports/base-gsm8k-2
# compare with the shipped student on the yardsticks; ship it only when better (from a clone of apprentice)
python benchmarks/ship_student.py uni-r1 \
  --reports svamp=reports/uni/round1-svamp gsm8k:1=reports/uni/round1-gsm8k-1 gsm8k:2=reports/uni/round1-gsm8k-2 \
  --smoke arith:1=reports/uni/round1-arith-1 arith:3=reports/uni/round1-arith-3 \
  --base svamp=reports/base-svamp gsm8k:1=reports/base-gsm8k-1 gsm8k:2=reports/base-gsm8k-2 \
  --commands commands.sh --ship
