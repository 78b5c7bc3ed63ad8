#!/bin/bash
# Session 42 candidates (issue 38): none ships. Run alone on the 2 cores, one after another, from a home holding
# session 39's adapters (uar-r4e2-dpo, uar-s-cdpo200) and round 5's pools (uar-r5, uar-r5c); see ../s41/commands.sh.
set -euo pipefail
A=apprentice
H="$APPRENTICE_HOME"; D="$H/datasets"
E() { $A eval --model "adapter:$1" --tools calculator --split test --no-progress --strategy react --workers 2 \
        --task "${@:2}"; }
evaluate() { E "$1" svamp --report "OUT/$1/svamp"; E "$1" gsm8k --level 1 --report "OUT/$1/gsm8k-1"; }
# GSM8K train (1-2 calculator steps) as grounded one-expression replays, in a home of its own; the round is stopped
# once harvested (694 train / 77 eval examples, 72 quantity contrast pairs)
G=$(mktemp -d)
APPRENTICE_HOME=$G $A distill --task gsm8k:2068 --gsm8k-levels 1 2 --teacher dataset,equation --rounds 1 --name gsmq \
  --react-prompt student --dpo-steps 200 --contrast-pairs 1 --baseline-limit 0 --eval-sets svamp &
while [ ! -f "$G/datasets/gsmq-r1/harvest.json" ]; do sleep 5; done; sleep 10; kill %1
# the shipped pool + those replays' quantity and partial contrast pairs (72 + 668: one operation of the composed
# expression answered as if it were all); `harvest --contrast-pairs 1 --contrast-kinds quantity partial` makes the same
cp -r "$D/uar-r5c" "$D/uar-r5g"
python - "$G/datasets/gsmq-r1" "$D/uar-r5g" <<'PY'
import json, sys
from pathlib import Path
from apprentice.training.contrast import contrast_pairs
src, out = Path(sys.argv[1]), Path(sys.argv[2])
rows = [json.loads(l) for l in (src / "train.jsonl").read_text().splitlines() if l.strip()]
with open(out / "pairs.jsonl", "a") as fh:
    fh.writelines(json.dumps(p, ensure_ascii=False) + "\n"
                  for p in contrast_pairs(rows, per_example=1, seed=0, kinds=("quantity", "partial")))
PY
$A train dpo --data "$D/uar-r5g" --name uar-s-gdpo200-s0 --base adapter:uar-r4e2-dpo --max-steps 200 --sft-weight 1.0 --seed 0
evaluate uar-s-gdpo200-s0    # SVAMP 36.5% (73/200), GSM8K one-step 2/55
E uar-s-gdpo200-s0 gsm8k --level 2 --report OUT/uar-s-gdpo200-s0/gsm8k-2   # 6.8% (31/456; shipped 11/456)
# the shipped recipe over a whole epoch of its pool (530 steps: every one of the 1,060 pairs once) instead of 200
$A train dpo --data "$D/uar-r5c" --name uar-s-cdpo530 --base adapter:uar-r4e2-dpo --max-steps 530 --sft-weight 1.0 --seed 0
evaluate uar-s-cdpo530       # SVAMP 44.5% (89/200), GSM8K one-step 1/55
# the five adapters of session 40-41 continued from uar-r4e2-dpo for 200 steps, souped
python benchmarks/soup_adapters.py uar-soup-5 uar-s-cdpo200 uar-s-cdpo200-s1 uar-s-cdpo200-s2 uar-s-odpo200-s0 \
  uar-s-odpo200-s1
evaluate uar-soup-5           # SVAMP 53.5% (107/200), GSM8K one-step 1/55
# 300 steps
$A train dpo --data "$D/uar-r5c" --name uar-s-cdpo300 --base adapter:uar-r4e2-dpo --max-steps 300 --sft-weight 1.0 --seed 0
evaluate uar-s-cdpo300       # SVAMP 50.0% (100/200), GSM8K one-step 3/55
# the partial pairs balanced by 'extra' pairs (a number the question gives and the verified expression does not use,
# composed in by its own last operation): uar-r5c + the GSM8K replays' quantity, partial and extra pairs (72, 668, 53)
# + the shipped pool's own examples' extra pairs (418); `--contrast-kinds quantity partial extra` makes such pairs
cp -r "$D/uar-r5c" "$D/uar-r5x"
python - "$G/datasets/gsmq-r1" "$D/uar-r5" "$D/uar-r5x" <<'PY'
import json, sys
from pathlib import Path
from apprentice.training.contrast import contrast_pairs
gsm, own, out = (Path(a) for a in sys.argv[1:])
read = lambda d: [json.loads(l) for l in (d / "train.jsonl").read_text().splitlines() if l.strip()]
pairs = (contrast_pairs(read(gsm), per_example=1, seed=0, kinds=("quantity", "partial", "extra"))
         + contrast_pairs(read(own), per_example=1, seed=0, kinds=("extra",)))
with open(out / "pairs.jsonl", "a") as fh:
    fh.writelines(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs)
PY
$A train dpo --data "$D/uar-r5x" --name uar-s-xdpo200-s0 --base adapter:uar-r4e2-dpo --max-steps 200 --sft-weight 1.0 --seed 0
evaluate uar-s-xdpo200-s0    # SVAMP 43.0% (86/200), GSM8K one-step 0/55
E uar-s-xdpo200-s0 gsm8k --level 2 --report OUT/uar-s-xdpo200-s0/gsm8k-2   # 3.7% (17/456)
# a smaller GSM8K share: the shipped pool + the replays' 72 quantity pairs + half their partial pairs (334, Random(0))
cp -r "$D/uar-r5c" "$D/uar-r5h"
python - "$G/datasets/gsmq-r1" "$D/uar-r5h" <<'PY'
import json, random, sys
from pathlib import Path
from apprentice.training.contrast import contrast_pairs
gsm, out = Path(sys.argv[1]), Path(sys.argv[2])
rows = [json.loads(l) for l in (gsm / "train.jsonl").read_text().splitlines() if l.strip()]
pairs = contrast_pairs(rows, per_example=1, seed=0, kinds=("quantity", "partial"))
partial = [p for p in pairs if p["metadata"]["contrast"] == "partial"]
kept = [p for p in pairs if p["metadata"]["contrast"] == "quantity"] + random.Random(0).sample(partial, len(partial) // 2)
with open(out / "pairs.jsonl", "a") as fh:
    fh.writelines(json.dumps(p, ensure_ascii=False) + "\n" for p in kept)
PY
$A train dpo --data "$D/uar-r5h" --name uar-s-hdpo200-s0 --base adapter:uar-r4e2-dpo --max-steps 200 --sft-weight 1.0 --seed 0
evaluate uar-s-hdpo200-s0    # SVAMP 40.5% (81/200), GSM8K one-step 2/55
E uar-s-hdpo200-s0 gsm8k --level 2 --report OUT/uar-s-hdpo200-s0/gsm8k-2   # 5.9% (27/456)
