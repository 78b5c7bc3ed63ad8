#!/bin/bash
# Session 41 candidates (issue 38): none ships. Run alone on the 2 cores, one after another, from a home holding
# session 39's and 40's adapters (uar-r4e2-dpo, uar-s-cdpo200 and its seeds -s1, -s2) and round 5's pool (uar-r5,
# uar-r5c); see ../s40/commands.sh and ../../uar-s-cdpo200/commands.sh. Every adapter is saved in fp16.
set -euo pipefail
A=apprentice
D="$APPRENTICE_HOME/datasets"
E() { $A eval --model "adapter:$1" --tools calculator --split test --no-progress --strategy react --workers 2 \
        --task "${@:2}"; }
evaluate() { E "$1" svamp --report "OUT/$1/svamp"; E "$1" gsm8k --level 1 --report "OUT/$1/gsm8k-1"; }
dpo() {  # the shipped recipe: 200 DPO steps from uar-r4e2-dpo
  $A train dpo --data "$D/$1" --name "$2" --base adapter:uar-r4e2-dpo --max-steps 200 --sft-weight 1.0 --seed "$3"
  evaluate "$2"
}
# operation contrast pairs added to the shipped student's pool (uar-r5 + the same 650 quantity pairs + 673 operation
# pairs: the confusable operation, + and -, * and /, with the thought's verb changed); `harvest --contrast-pairs 1
# --contrast-kinds quantity operation` makes the same pairs from a round's runs
cp -r "$D/uar-r5" "$D/uar-r5o"
python - "$D/uar-r5o" <<'PY'
import json, sys
from pathlib import Path
from apprentice.training.contrast import contrast_pairs
d = Path(sys.argv[1])
rows = [json.loads(l) for l in (d / "train.jsonl").read_text().splitlines() if l.strip()]
with open(d / "pairs.jsonl", "a") as fh:
    fh.writelines(json.dumps(p, ensure_ascii=False) + "\n"
                  for p in contrast_pairs(rows, per_example=1, seed=0, kinds=("quantity", "operation")))
PY
dpo uar-r5o uar-s-odpo200-s0 0   # SVAMP 50.0% (100/200)
dpo uar-r5o uar-s-odpo200-s1 1   # SVAMP 52.5% (105/200)
# uniform soups (the members' weights averaged): the shipped recipe's three seeds, the operation lever's two
python benchmarks/soup_adapters.py uar-soup-c3 uar-s-cdpo200 uar-s-cdpo200-s1 uar-s-cdpo200-s2
evaluate uar-soup-c3             # SVAMP 51.0% (102/200)
python benchmarks/soup_adapters.py uar-soup-o2 uar-s-odpo200-s0 uar-s-odpo200-s1
evaluate uar-soup-o2             # SVAMP 52.0% (104/200)
# the operation pairs balanced by direction (uar-r5ob: as many "+" rejected for a "-" chosen as "-" for "+", the
# same for * and /; 402 of the 673, drawn with random.Random(0)), beside the same 650 quantity pairs
cp -r "$D/uar-r5" "$D/uar-r5ob"
python - "$D/uar-r5ob" <<'PY'
import collections, json, random, re, sys
from pathlib import Path
from apprentice.training.contrast import contrast_pairs
d = Path(sys.argv[1])
rows = [json.loads(l) for l in (d / "train.jsonl").read_text().splitlines() if l.strip()]
quantity = contrast_pairs(rows, per_example=1, seed=0)
by = collections.defaultdict(list)
for p in contrast_pairs(rows, per_example=1, seed=0, kinds=("operation",)):
    ops = tuple(re.findall(r"[-+*/]", re.search(r"Action Input: (.*)", p[s][0]["content"]).group(1))[0]
                for s in ("chosen", "rejected"))
    by[ops].append(p)
rng = random.Random(0)
operation = []
for a, b in (("+", "-"), ("*", "/")):
    n = min(len(by[(a, b)]), len(by[(b, a)]))
    operation += rng.sample(by[(a, b)], n) + rng.sample(by[(b, a)], n)
with open(d / "pairs.jsonl", "a") as fh:
    fh.writelines(json.dumps(p, ensure_ascii=False) + "\n" for p in quantity + operation)
PY
dpo uar-r5ob uar-s-obdpo200-s0 0  # SVAMP 50.0% (100/200)
dpo uar-r5ob uar-s-obdpo200-s1 1  # SVAMP 47.5% (95/200)
# accuracy against pool size: the shipped pool (uar-r5c) cut by question to a quarter and a half (every example and
# pair of a kept question; the quarter inside the half; the held-out split as it was)
for share in 25 50; do
  mkdir -p "$D/uar-r5cp$share" && cp "$D/uar-r5c/eval.jsonl" "$D/uar-r5cp$share/"
  python - "$D/uar-r5c" "$D/uar-r5cp$share" "$share" <<'PY'
import json, random, sys
from pathlib import Path
src, out, share = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
rows = [json.loads(l) for l in (src / "train.jsonl").read_text().splitlines() if l.strip()]
questions = sorted({r["metadata"]["question"] for r in rows})
random.Random(0).shuffle(questions)
kept = set(questions[: len(questions) * share // 100])
pairs = [json.loads(l) for l in (src / "pairs.jsonl").read_text().splitlines() if l.strip()]
(out / "train.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows
                                         if r["metadata"]["question"] in kept))
(out / "pairs.jsonl").write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs
                                         if p["metadata"]["question"] in kept))
meta = json.loads((src / "harvest.json").read_text())
meta.update(train=sum(r["metadata"]["question"] in kept for r in rows),
            pairs=sum(p["metadata"]["question"] in kept for p in pairs))
(out / "harvest.json").write_text(json.dumps(meta))
PY
done
dpo uar-r5cp25 uar-s-p25-s0 0    # 180 of 720 questions, 223 examples, 270 pairs: SVAMP 49.0% (98/200)
dpo uar-r5cp25 uar-s-p25-s1 1    # SVAMP 49.5% (99/200)
dpo uar-r5cp50 uar-s-p50-s0 0    # 360 questions, 524 pairs: SVAMP 48.0% (96/200)
dpo uar-r5cp50 uar-s-p50-s1 1    # SVAMP 48.5% (97/200)
# miss classes and flips
python benchmarks/svamp_types.py --home "$APPRENTICE_HOME" adapter:uar-s-cdpo200-h adapter:uar-s-odpo200-s0 \
  adapter:uar-s-odpo200-s1 adapter:uar-soup-c3 adapter:uar-soup-o2 adapter:uar-s-obdpo200-s0 adapter:uar-s-obdpo200-s1 \
  adapter:uar-s-p25-s0 adapter:uar-s-p25-s1 adapter:uar-s-p50-s0 adapter:uar-s-p50-s1
# the shipped student in a chat thread: SVAMP test questions alone and as a thread's second turn
python benchmarks/student_followups.py --model adapter:uar-s-cdpo200-h --task svamp --limit 100
# the plot and its table (pool_size.png, pool_size.txt); the whole pool's seeds are session 39's and 40's reports
C=benchmarks/results/student/candidates
python benchmarks/plot_pool_size.py --out $C/s41/pool_size.png 25:270=$C/s41/uar-s-p25-s0/svamp \
  25:270=$C/s41/uar-s-p25-s1/svamp 50:524=$C/s41/uar-s-p50-s0/svamp 50:524=$C/s41/uar-s-p50-s1/svamp \
  100:1060=benchmarks/results/student/uar-s-cdpo200/svamp 100:1060=$C/s40/uar-s-cdpo200-s1/svamp \
  100:1060=$C/s40/uar-s-cdpo200-s2/svamp > $C/s41/pool_size.txt
