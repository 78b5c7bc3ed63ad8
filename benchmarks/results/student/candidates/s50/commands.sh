#!/bin/bash
# Session 50 candidate (issue 38): the decision to go on taken out of the ReAct step (`--decide ask`). C26
# (`s50-go`): one SFT stage from the shipped student on go_on_pool.py's pool (the worked solutions of SVAMP train and
# GSM8K train levels 2-3 with every later step opened by the harness's "(go on: ... not used yet)", 1,200; the
# shipped recipe's round-5 pool, its one-call trajectories, 902; 2,500 decision questions, yes or no), evaluated
# with the harness asking it the decision. Run alone on the 2 cores in a home with the shipped student
# (`student-<version>`) and session 47's rebuilt round-5 pool `p47-r5` (candidates/s47/commands.sh).
set -euo pipefail
A=apprentice
export APPRENTICE_HOME=${APPRENTICE_HOME:-$(mktemp -d)}
D="$APPRENTICE_HOME/datasets"
S=benchmarks/results/student/candidates/s50
E() { $A eval --model "$1" --tools calculator --split test --no-progress --strategy react --workers 2 --task "${@:2}"; }
SHIPPED=$(ls "$APPRENTICE_HOME/adapters" | grep '^student-' | tail -1)

python $S/go_on_pool.py "$D/p47-r5" "$D/s50go"   # steps 1,200 (SVAMP 183), kept 902, decisions 1,250 + 1,250
$A train sft --data "$D/s50go" --name s50-go --base "adapter:$SHIPPED" --max-steps 300 --batch-size 8 \
  --max-length 512 --eval-steps 100 --learning-rate 1e-4 --seed 0   # 23 min alone
# the decision alone, on SVAMP test after the shipped student's first call (118 with a number unused): AUC 0.43
E "adapter:$SHIPPED" svamp --report OUT/shipped/svamp   # 105/200 (the probes read its runs from the store)
python $S/decision_probe.py s50-go OUT/shipped/svamp
python $S/minilm_probe.py OUT/shipped/svamp   # another reader: AUC 0.52
E adapter:s50-go svamp --decide ask --report OUT/s50-go-ask/svamp               # 59/200 (13 up, 59 down)
E adapter:s50-go gsm8k --level 1 --decide ask --report OUT/s50-go-ask/gsm8k-1   # 2/55 (2 up, 2 down)
E adapter:s50-go gsm8k --level 2 --decide ask --report OUT/s50-go-ask/gsm8k-2   # 38/456 (35 up, 8 down)
E adapter:s50-go svamp --report OUT/s50-go-self/svamp                           # 82/200, its own steps: no run goes on
python $S/decide_cells.py OUT/s50-go-ask/svamp OUT/s50-go-ask/gsm8k-2 OUT/s50-go-self/svamp
# net -19 (drops on svamp): kept out
python benchmarks/ship_student.py s50-go --reports svamp=OUT/s50-go-ask/svamp gsm8k:1=OUT/s50-go-ask/gsm8k-1 \
  gsm8k:2=OUT/s50-go-ask/gsm8k-2 || true
# the volume lever, the decision alone: 8,000 decisions (the schema generator's beside SVAMP's and GSM8K's), 400
# steps from the shipped student (19 min alone); AUC 0.64 on the same 118 test problems
(cd $S && python decision_pool.py "$D/s50dec2")
$A train sft --data "$D/s50dec2" --name s50-dec2 --base "adapter:$SHIPPED" --max-steps 400 --batch-size 8 \
  --max-length 320 --eval-steps 200 --seed 0
python $S/decision_probe.py s50-dec2 OUT/shipped/svamp
# the same pool once over (990 steps, 46 min alone): AUC 0.617
$A train sft --data "$D/s50dec2" --name s50-dec3 --base "adapter:$SHIPPED" --max-steps 990 --batch-size 8 \
  --max-length 320 --eval-steps 500 --seed 0
python $S/decision_probe.py s50-dec3 OUT/shipped/svamp
