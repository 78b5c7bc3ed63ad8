#!/bin/bash
# Session 49 candidates (issue 38). C24: the shipped recipe's own round (its self-taught pass under the tally prompt,
# contrast pairs, 200 DPO steps) from session 48's C22b (`s48-ysft2`). W1, W3: WiSE-FT, points on the line between the
# shipped student and a lever that moved GSM8K two-step (`benchmarks/soup_adapters.py --weights`; no training, the
# merged GGUF rebuilt in seconds). Run alone on the 2 cores, one after another, in a home that holds session 47's and
# 48's adapters (their commands.sh) and the shipped student (`student-c5bcbec911`, imported by `apprentice ask --model
# student` or any seat that names it; the registry name is `student-<version>`).
set -euo pipefail
A=apprentice
export APPRENTICE_HOME=${APPRENTICE_HOME:-$(mktemp -d)}
D="$APPRENTICE_HOME/datasets"
E() { $A eval --model "$1" --tools calculator --split test --no-progress --strategy react --workers 2 --task "${@:2}"; }
evaluate() { E "adapter:$1" svamp --report "OUT/$1/svamp"; E "adapter:$1" gsm8k --level 1 --report "OUT/$1/gsm8k-1"
             E "adapter:$1" gsm8k --level 2 --report "OUT/$1/gsm8k-2"; }
SHIPPED=$(ls "$APPRENTICE_HOME/adapters" | grep '^student-' | tail -1)

# C24: the self-taught pass of C22b under the tally prompt, as the shipped student's round-5 pass ran (two sampled
# attempts, dataset,tally rationalization of the misses, contrast pairs), then 200 DPO steps from C22b
$A distill --task svamp:600,arith:200 --teacher self --attempts 2 --rationalize dataset,tally \
  --rounds 1 --max-steps 150 --dpo-steps 200 --contrast-pairs 1 \
  --student adapter:s48-ysft2 --start-round 1 --name s49t --report OUT/s49t-r1 \
  --levels 1 2 3 4 --arith-distractors 0.5 --eval-sets svamp gsm8k:1 --baseline-limit 0 \
  --learning-rate 5e-4 --react-prompt tally --stop-after harvest
$A train dpo --data "$D/s49t-r1" --name s49-tdpo200 --base adapter:s48-ysft2 --max-steps 200 --sft-weight 1.0 --seed 0
evaluate s49-tdpo200   # SVAMP 94/200 (11 up, 22 down), one-step 0/55 (2 down), two-step 3/456 (2 up, 10 down)
# C25: C24's pool + C23's GSM8K pairs (two-call replays against stopping at the first result: 575) in the one DPO
# stage, 310 steps (as many of C24's own pairs seen as its 200 steps)
python -c "
import json, shutil, sys
from pathlib import Path
pool, extra, out = (Path(a) for a in sys.argv[1:4])
shutil.copytree(pool, out, ignore=shutil.ignore_patterns('hf', 'README.md'))
stopped = [l for l in (extra / 'pairs.jsonl').read_text().splitlines()
           if json.loads(l)['metadata'].get('contrast') == 'stopped']
with (out / 'pairs.jsonl').open('a') as f:
    f.write(''.join(l + '\\n' for l in stopped))
" "$D/s49t-r1" "$D/s48rdpo" "$D/s49mix"
$A train dpo --data "$D/s49mix" --name s49-mdpo310 --base adapter:s48-ysft2 --max-steps 310 --sft-weight 1.0 --seed 0
evaluate s49-mdpo310   # SVAMP 56/200 (7 up, 56 down), one-step 3/55 (3 up, 2 down), two-step 17/456 (15 up, 9 down)
# W1, W2: between the shipped student and P1 (session 47's p47-g360, its sibling from uar-r4e2-dpo)
python benchmarks/soup_adapters.py s49-w50 "$SHIPPED" p47-g360 --weights 0.5 0.5
evaluate s49-w50       # SVAMP 93/200 (8 up, 20 down), one-step 1/55 (1 down), two-step 13/456 (8 up, 6 down)
# (W2, the point at 0.75 shipped / 0.25 P1, was made and its evaluation stopped at W1's result: left to the next)
# W3: between the shipped student and C12 (session 46's s46-g, continued from it)
python benchmarks/soup_adapters.py s49-g50 "$SHIPPED" s46-g --weights 0.5 0.5
evaluate s49-g50       # SVAMP 100/200 (8 up, 13 down), one-step 1/55 (1 down), two-step 15/456 (8 up, 4 down)
# net -21 (drops on gsm8k:2), -42 (drops on svamp), -11 (drops on svamp), -2 (not better)
for name in s49-tdpo200 s49-mdpo310 s49-w50 s49-g50; do
  python benchmarks/ship_student.py $name --reports svamp=OUT/$name/svamp gsm8k:1=OUT/$name/gsm8k-1 \
    gsm8k:2=OUT/$name/gsm8k-2 || true   # exit 1: kept out
done
