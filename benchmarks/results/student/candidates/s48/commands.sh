#!/bin/bash
# Session 48 candidates (issue 38): the tally written by the harness (`--react-prompt tally`, `apprentice/agents/tally.py`)
# instead of the student. Every candidate continues from the shipped student on pools the dataset teacher builds in
# seconds (its `tally` replays). Run alone on the 2 cores, one after another. None ships.
set -euo pipefail
A=apprentice
export APPRENTICE_HOME=${APPRENTICE_HOME:-$(mktemp -d)}
D="$APPRENTICE_HOME/datasets"
S=benchmarks/results/student/candidates/s48
E() { $A eval --model "$1" --tools calculator --split test --no-progress --strategy react --workers 2 --task "${@:2}"; }
evaluate() { E "adapter:$1" svamp --report "OUT/$1/svamp"; E "adapter:$1" gsm8k --level 1 --report "OUT/$1/gsm8k-1"
             E "adapter:$1" gsm8k --level 2 --report "OUT/$1/gsm8k-2"; }
pool() { # NAME TASK [options]: a dataset-teacher round stopped once harvested, in the tally prompt's format
  $A distill --task "$2" "${@:3}" --rounds 1 --name "$1" --react-prompt tally --dpo-steps 200 --contrast-pairs 1 \
    --baseline-limit 0 --eval-sets svamp --stop-after harvest; }
pool svw svamp:800 --teacher dataset,tally                       # 720 train / 80 eval, 490 quantity pairs
pool gsw gsm8k:2068 --gsm8k-levels 1 2 --teacher dataset,tally   # 818 train / 91 eval
# C22: SFT, 200 steps, on both (GSM8K's step thoughts in the cue-word style), shuffled: 1,538 examples. As run, C22's
# pool came from the same pools made before f658a03 (the tally without number words: 315 of its examples went on by
# "earlier results remain to combine", 237 with words); C22b's and C23's from these.
python $S/cue_tally.py "$D/gsw-r1" "$D/svw-r1" "$D/s48ysft"
$A train sft --data "$D/s48ysft" --name s48-ysft200 --base student --max-steps 200 --seed 0
evaluate s48-ysft200   # SVAMP 64/200, one-step 1/55, two-step 23/456: reports in s48-ysft200-tally/. Its first
# evaluation (reports in s48-ysft200/) ran it without the tally, as the registry then named it `student` (mended in
# ef7597c; the record was set to tally by hand before the second): 33/200, 2/55, 12/456
# C22b: the same without the examples that go on by "earlier results remain to combine" (the line says none left but
# the replay goes on: a question's number used twice, a number of the worked solution's own): 1,301 examples
python -c "
import json, shutil, sys
from pathlib import Path
src, dst = Path(sys.argv[1]), Path(sys.argv[2]); dst.mkdir(exist_ok=True)
for split in ('train', 'eval'):
    rows = [l for l in (src / f'{split}.jsonl').read_text().splitlines()
            if 'earlier results remain' not in json.loads(l)['messages'][-1]['content']]
    (dst / f'{split}.jsonl').write_text(''.join(r + '\n' for r in rows))
shutil.copy(src / 'harvest.json', dst / 'harvest.json')
" "$D/s48ysft" "$D/s48ysft2"
$A train sft --data "$D/s48ysft2" --name s48-ysft2 --base student --max-steps 200 --seed 0
evaluate s48-ysft2     # SVAMP 62/200, one-step 3/55, two-step 28/456 (registered before ef7597c: record set by hand)
# C23: C22b + 200 DPO steps on pairs where only the line tells going on from answering: SVAMP's one-call replays
# whose line lists unneeded numbers against going on with one (311), GSM8K's two-call replays against stopping (575)
python $S/read_pairs.py "$D/svw-r1" "$D/s48ysft2" "$D/s48rdpo"
$A train dpo --data "$D/s48rdpo" --name s48-rdpo200 --base adapter:s48-ysft2 --max-steps 200 --sft-weight 1.0 --seed 0
evaluate s48-rdpo200   # SVAMP 52/200, one-step 2/55, two-step 21/456
for name in s48-ysft200 s48-ysft2 s48-rdpo200; do
  python benchmarks/ship_student.py $name --reports svamp=OUT/$name/svamp gsm8k:1=OUT/$name/gsm8k-1 \
    gsm8k:2=OUT/$name/gsm8k-2 || true   # exit 1: kept out
done
python $S/reading.py OUT/*/svamp OUT/*/gsm8k-2   # does the student go on where the line lists a number it needs?
python benchmarks/results/student/candidates/s47/going_on.py "$APPRENTICE_HOME" OUT/*/svamp OUT/*/gsm8k-1 OUT/*/gsm8k-2
