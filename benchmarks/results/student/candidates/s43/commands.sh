#!/bin/bash
# Session 43 candidates (issue 38): none ships. The machine came back bare (no adapter of sessions 39-42, no pool),
# so every candidate continues from the shipped student itself (`--base student`), on pools the dataset teacher
# builds in seconds (gold replays, no student pass). Run alone on the 2 cores, one after another.
set -euo pipefail
A=apprentice
export APPRENTICE_HOME=${APPRENTICE_HOME:-$(mktemp -d)}
D="$APPRENTICE_HOME/datasets"
E() { $A eval --model "$1" --tools calculator --split test --no-progress --strategy react --workers 2 --task "${@:2}"; }
evaluate() { E "adapter:$1" svamp --report "OUT/$1/svamp"; E "adapter:$1" gsm8k --level 1 --report "OUT/$1/gsm8k-1"; }
pool() { # NAME TASK [options]: a dataset-teacher round stopped once harvested (distill --stop-after harvest)
  $A distill --task "$2" "${@:3}" --rounds 1 --name "$1" --react-prompt student --dpo-steps 200 --contrast-pairs 1 \
    --baseline-limit 0 --eval-sets svamp --stop-after harvest; }
pool svq svamp:800 --teacher dataset,equation                      # 720 train / 80 eval, 498 quantity pairs
pool gsmq gsm8k:2068 --gsm8k-levels 1 2 --teacher dataset,equation # 694 train / 77 eval, 72 quantity pairs
pool gsms gsm8k:2068 --gsm8k-levels 1 2 --teacher dataset,steps    # 704 train / 78 eval (steps style)
E student svamp --report OUT/shipped/svamp   # 105/200, the same 105 items as the committed report (0 flips)

# C1: SVAMP train's gold replays' quantity contrast pairs (every train question, not only those the student
# solved, as the shipped pool's were), 100 DPO steps from the shipped student
$A train dpo --data "$D/svq-r1" --name s43-svq100 --base student --max-steps 100 --sft-weight 1.0 --seed 0
evaluate s43-svq100          # SVAMP 104/200 (10 down, 9 up), GSM8K one-step 1/55

# C2: C1's pairs + the GSM8K replays' quantity and partial pairs (72 + 668), 100 steps
cp -r "$D/svq-r1" "$D/svg-r1"
python - "$D/gsmq-r1" "$D/svg-r1" <<'PY'
import json, sys
from pathlib import Path
from apprentice.training.contrast import contrast_pairs
src, out = Path(sys.argv[1]), Path(sys.argv[2])
rows = [json.loads(l) for l in (src / "train.jsonl").read_text().splitlines() if l.strip()]
with open(out / "pairs.jsonl", "a") as fh:
    fh.writelines(json.dumps(p, ensure_ascii=False) + "\n"
                  for p in contrast_pairs(rows, per_example=1, seed=0, kinds=("quantity", "partial")))
PY
$A train dpo --data "$D/svg-r1" --name s43-svg100 --base student --max-steps 100 --sft-weight 1.0 --seed 0
evaluate s43-svg100          # SVAMP 91/200 (21 down, 7 up), GSM8K one-step 1/55
E adapter:s43-svg100 gsm8k --level 2 --report OUT/s43-svg100/gsm8k-2   # 23/456 (shipped 11: 17 up, 5 down)

# C3: the GSM8K steps replays (two calculator calls) against the same trajectory stopped after its first
# observation, that result given as the answer (679 pairs), + C1's pairs; 100 steps
python benchmarks/results/student/candidates/s43/stopped_pairs.py "$D/gsms-r1" "$D/svq-r1" "$D/svs-r1"
$A train dpo --data "$D/svs-r1" --name s43-svs100 --base student --max-steps 100 --sft-weight 1.0 --seed 0
evaluate s43-svs100          # SVAMP 81/200 (30 down, 6 up), GSM8K one-step 1/55
E adapter:s43-svs100 gsm8k --level 2 --report OUT/s43-svs100/gsm8k-2
# (C3 was first registered with the full ReAct prompt, its dataset having no harvest.json, and evaluated so:
# SVAMP 79/200, GSM8K one-step 0/55, `s43-svs100-fullprompt/`; mended in 5ed68ed and 074c266, then evaluated as above)

# C4: SFT, 200 steps, on SVAMP's gold replays (720) + the GSM8K steps replays (704), shuffled
D2="$D/svst-r1"; mkdir -p "$D2"
cat "$D/svq-r1/train.jsonl" "$D/gsms-r1/train.jsonl" | python -c "
import random, sys; rows = sys.stdin.readlines(); random.Random(0).shuffle(rows); sys.stdout.write(''.join(rows))" \
  > "$D2/train.jsonl"
cat "$D/svq-r1/eval.jsonl" "$D/gsms-r1/eval.jsonl" > "$D2/eval.jsonl"
$A train sft --data "$D2" --name s43-sst200 --base student --max-steps 200 --seed 0
evaluate s43-sst200          # SVAMP 83/200, GSM8K one-step 0/55
E adapter:s43-sst200 gsm8k --level 2 --report OUT/s43-sst200/gsm8k-2   # 15/456

# C5: C2's pool as plain DPO (no NLL on the chosen side)
$A train dpo --data "$D/svg-r1" --name s43-svg100-d --base student --max-steps 100 --sft-weight 0 --seed 0
evaluate s43-svg100-d        # SVAMP 83/200, GSM8K one-step 2/55
E adapter:s43-svg100-d gsm8k --level 2 --report OUT/s43-svg100-d/gsm8k-2   # 20/456
E adapter:s43-svq100 gsm8k --level 2 --report OUT/s43-svq100/gsm8k-2       # C1: 13/456

# C6: C2 with the GSM8K replays' first thought in the student's cue-word style (replay.reason per operation)
python benchmarks/results/student/candidates/s43/cue_thoughts.py "$D/gsmq-r1" "$D/svq-r1" "$D/svc-r1"
$A train dpo --data "$D/svc-r1" --name s43-svc100 --base student --max-steps 100 --sft-weight 1.0 --seed 0
evaluate s43-svc100          # SVAMP 92/200, GSM8K one-step 2/55
E adapter:s43-svc100 gsm8k --level 2 --report OUT/s43-svc100/gsm8k-2       # 23/456
