#!/bin/bash
# The GSM8K round of session 35 (issue 38), from the shipped student; kept out: within noise (ship_student.py).
export APPRENTICE_THREADS=1 OMP_NUM_THREADS=1
apprentice distill --task svamp:400,gsm8k:600,arith:200 --gsm8k-levels 1 2 --teacher dataset,equation \
  --student student --start-round 2 --rounds 1 --epochs 1 --name gsmg --report OUT/gsmg \
  --levels 1 2 3 4 --arith-distractors 0.5 --eval-sets svamp gsm8k:1 --baseline-limit 0 \
  --learning-rate 5e-4 --react-prompt student
# the same sets under the step grammar (the default since this session)
apprentice eval --split test --strategy react --tools calculator --no-progress --task svamp --model adapter:gsmg-r2 \
  --report OUT/gsmg-r2-svamp
apprentice eval --split test --strategy react --tools calculator --no-progress --task gsm8k --level 1 \
  --model adapter:gsmg-r2 --report OUT/gsmg-r2-gsm8k-1
python benchmarks/ship_student.py gsmg-r2 --reports svamp=OUT/gsmg/round2-svamp gsm8k:1=OUT/gsmg/round2-gsm8k-1
