#!/bin/bash
# Session 47 candidates (issue 38). The shipped student's parent, `uar-r4e2-dpo`, is not rebuilt: it is the student
# shipped at 32ac7c7, taken from the repository's history and imported (seconds). From it, the shipped recipe's
# round-5 pool is rebuilt (the parent's self-taught pass + contrast pairs) and trained as shipped (P0, the control)
# and with GSM8K's pairs inside that one DPO stage (P1). C17 continues from the shipped student. Run alone on the
# 2 cores, one after another; the GSM8K pools (gsmq2-r1, gsms-r1) are built by candidates/s46 and s43's commands.sh.
set -euo pipefail
A=apprentice
export APPRENTICE_HOME=${APPRENTICE_HOME:-$(mktemp -d)}
D="$APPRENTICE_HOME/datasets"
E() { $A eval --model "$1" --tools calculator --split test --no-progress --strategy react --workers 2 --task "${@:2}"; }
evaluate() { E "adapter:$1" svamp --report "OUT/$1/svamp"; E "adapter:$1" gsm8k --level 1 --report "OUT/$1/gsm8k-1"
             E "adapter:$1" gsm8k --level 2 --report "OUT/$1/gsm8k-2"; }

# the parent from the repository's history (13 s, the merged GGUF rebuilt)
P=$(mktemp -d) && git archive 32ac7c7 apprentice/student | tar -x -C "$P"
$A adapters import "$P/apprentice/student"                    # registers uar-r4e2-dpo
# round 5's self-taught pass from it, as uar-s-cdpo200/commands.sh ran it (then from `student`, which was this
# adapter), with the contrast pairs made by the harvest (--contrast-pairs 1): 1,858 runs (212 resumed from the store), 20 min on two llama.cpp
# replicas; 902 train / 95 eval examples and 1,060 pairs, the counts of the shipped pool uar-r5c
$A distill --task svamp:600,arith:200 --teacher self --attempts 2 --rationalize dataset,equation \
  --rounds 1 --max-steps 150 --dpo-steps 200 --contrast-pairs 1 \
  --student adapter:uar-r4e2-dpo --start-round 5 --name p47 --report OUT/p47-r5 \
  --levels 1 2 3 4 --arith-distractors 0.5 --eval-sets svamp gsm8k:1 --baseline-limit 0 \
  --learning-rate 5e-4 --react-prompt student --stop-after harvest
# P1: + the GSM8K replays' quantity and partial pairs with the cue-word first thought (873; session 46's C12 share):
# 1,933 pairs, 360 steps (as many of the round's own pairs seen as 200 steps of them alone)
python benchmarks/results/student/candidates/s43/cue_thoughts.py "$D/gsmq2-r1" "$D/p47-r5" "$D/p47g"
$A train dpo --data "$D/p47g" --name p47-g360 --base adapter:uar-r4e2-dpo --max-steps 360 --sft-weight 1.0 --seed 0
evaluate p47-g360   # SVAMP 72/200 (13 up, 46 down), one-step 4/55 (4 up, 2 down), two-step 37/456 (33 up, 7 down)
# P0: the shipped recipe again on the rebuilt pool (200 steps, seed 0)
$A train dpo --data "$D/p47-r5" --name p47-c200 --base adapter:uar-r4e2-dpo --max-steps 200 --sft-weight 1.0 --seed 0
evaluate p47-c200   # SVAMP 100/200 (1 up, 6 down against the shipped student), one-step 3/55 (1 up), two-step 12/456 (1 up)
for name in p47-g360 p47-c200; do   # net -5 (drops on svamp); net -3 (not better)
  python benchmarks/ship_student.py $name --reports svamp=OUT/$name/svamp gsm8k:1=OUT/$name/gsm8k-1 \
    gsm8k:2=OUT/$name/gsm8k-2 || true   # exit 1: kept out
done
python benchmarks/svamp_types.py --home "$APPRENTICE_HOME" student adapter:p47-c200 adapter:p47-g360

# C17: session 43's C3 (GSM8K steps replays against the same run stopped after one step + SVAMP gold replays'
# quantity pairs, 100 steps from the shipped student) with every step's thought in the cue-word style: 679 pairs
python benchmarks/results/student/candidates/s47/cue_steps.py "$D/gsms-r1" "$D/svq-r1" "$D/s47cs"
$A train dpo --data "$D/s47cs" --name s47-cs100 --base student --max-steps 100 --sft-weight 1.0 --seed 0
evaluate s47-cs100  # SVAMP 75/200 (7 up, 37 down), one-step 1/55 (1 down), two-step 9/456 (5 up, 7 down); net -33
# C18: session 43's C4 (SFT, 200 steps, SVAMP gold replays + GSM8K steps replays, shuffled) with the cue-word thoughts
T=$(mktemp -d) && cp "$D/gsms-r1/eval.jsonl" "$T/train.jsonl"
python benchmarks/results/student/candidates/s47/cue_steps.py "$D/gsms-r1" "$D/svq-r1" /tmp/s47-unused "$T/train-cue.jsonl"
python benchmarks/results/student/candidates/s47/cue_steps.py "$T" "$D/svq-r1" /tmp/s47-unused "$T/eval-cue.jsonl"
D2="$D/s47sst"; mkdir -p "$D2"
cat "$D/svq-r1/train.jsonl" "$T/train-cue.jsonl" | python -c "
import random, sys; rows = sys.stdin.readlines(); random.Random(0).shuffle(rows); sys.stdout.write(''.join(rows))" \
  > "$D2/train.jsonl"
cat "$D/svq-r1/eval.jsonl" "$T/eval-cue.jsonl" > "$D2/eval.jsonl"
$A train sft --data "$D2" --name s47-sst200 --base student --max-steps 200 --seed 0
evaluate s47-sst200  # SVAMP 96/200 (15 up, 24 down), one-step 0/55 (2 down), two-step 8/456 (5 up, 8 down); net -14
# C19: C17 with SVAMP's side in the steps style (the tally before each answer): SVAMP's steps replays' quantity pairs
# (490; built before 6abc76b, so 25 rejected sides had the variant's result written into the tally's list) + C17's 679
$A distill --task svamp:800 --teacher dataset,steps --rounds 1 --name svt47 --react-prompt student --dpo-steps 200 \
  --contrast-pairs 1 --baseline-limit 0 --eval-sets svamp --stop-after harvest
python benchmarks/results/student/candidates/s47/cue_steps.py "$D/gsms-r1" "$D/svt47-r1" "$D/s47tally"
$A train dpo --data "$D/s47tally" --name s47-tally100 --base student --max-steps 100 --sft-weight 1.0 --seed 0
E adapter:s47-tally100 gsm8k --level 1 --report OUT/s47-tally100/gsm8k-1   # 0/55 (2 down)
E adapter:s47-tally100 svamp --report OUT/s47-tally100/svamp       # 54/200 (3 up, 54 down); two-step not run
for name in s47-cs100 s47-sst200; do   # net -33 (drops on svamp); net -14 (not better)
  python benchmarks/ship_student.py $name --reports svamp=OUT/$name/svamp gsm8k:1=OUT/$name/gsm8k-1 \
    gsm8k:2=OUT/$name/gsm8k-2 || true   # exit 1: kept out
done
python benchmarks/ship_student.py s47-tally100 --reports svamp=OUT/s47-tally100/svamp \
  gsm8k:1=OUT/s47-tally100/gsm8k-1 || true   # net -53, drops on svamp
python benchmarks/svamp_types.py --home "$APPRENTICE_HOME" adapter:s47-cs100 adapter:s47-sst200 adapter:s47-tally100

# C20: SFT, 200 steps, on SVAMP's steps replays (the tally before every answer; its contrast pairs rebuilt after
# 6abc76b: svt47f) + the GSM8K steps replays with cue-word thoughts; C21: C19's pairs (fixed) on top, 100 DPO steps
cp -r "$D/svt47-r1" "$D/svt47f" && python -c "
import json, sys
from pathlib import Path
from apprentice.training.contrast import contrast_pairs
d = Path(sys.argv[1]); rows = [json.loads(l) for l in (d / 'train.jsonl').read_text().splitlines() if l.strip()]
(d / 'pairs.jsonl').write_text(''.join(json.dumps(p, ensure_ascii=False) + '\n' for p in contrast_pairs(rows, per_example=1, seed=0)))
" "$D/svt47f"   # 490 pairs, 25 of them differ from svt47-r1's (the tally's list)
T=$(mktemp -d) && cp "$D/gsms-r1/eval.jsonl" "$T/train.jsonl"
python benchmarks/results/student/candidates/s47/cue_steps.py "$D/gsms-r1" "$D/svt47f" "$D/s47tally2" "$T/train-cue.jsonl"
python benchmarks/results/student/candidates/s47/cue_steps.py "$T" "$D/svt47f" /tmp/s47-unused "$T/eval-cue.jsonl"
D2="$D/s47tsft"; mkdir -p "$D2"
cat "$D/svt47f/train.jsonl" "$T/train-cue.jsonl" | python -c "
import random, sys; rows = sys.stdin.readlines(); random.Random(0).shuffle(rows); sys.stdout.write(''.join(rows))" \
  > "$D2/train.jsonl"
cat "$D/svt47f/eval.jsonl" "$T/eval-cue.jsonl" > "$D2/eval.jsonl"
cp "$D/svt47f/harvest.json" "$D2/"
$A train sft --data "$D2" --name s47-tsft200 --base student --max-steps 200 --seed 0
E adapter:s47-tsft200 gsm8k --level 1 --report OUT/s47-tsft200/gsm8k-1   # 0/55 (2 down); the tally in 55/55, "none"
E adapter:s47-tsft200 svamp --report OUT/s47-tsft200/svamp       # 66/200 (12 up, 51 down); the tally in 199/200
$A train dpo --data "$D/s47tally2" --name s47-tdpo100 --base adapter:s47-tsft200 --max-steps 100 --sft-weight 1.0 --seed 0
E adapter:s47-tdpo100 gsm8k --level 1 --report OUT/s47-tdpo100/gsm8k-1   # 0/55 (2 down); goes on in 16, by 'earlier results remain to combine'
E adapter:s47-tdpo100 svamp --report OUT/s47-tdpo100/svamp       # 67/200 (12 up, 50 down); two-step not run for C20, C21
python benchmarks/results/student/candidates/s47/going_on.py "$APPRENTICE_HOME" OUT/*/svamp OUT/*/gsm8k-1 OUT/*/gsm8k-2   # the "going on" column
