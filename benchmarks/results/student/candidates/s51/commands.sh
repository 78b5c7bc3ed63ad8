#!/bin/bash
# Session 51 candidates (issue 38): session 50's next steps, one at a time. C27 (`s51-c`): one adapter for both seats
# of `--decide ask`, the continuations taught without their first steps (`learn: opened`), with a threshold on
# P(yes) (`--go-on-at`) chosen on a dev set before any yardstick. C28 (`s51-d`): the decisions alone, to see whether
# they leave the student's own steps as they were. Run alone on the 2 cores in a home with the shipped student
# (`student-<version>`, made by the first `--model student`); about 1 h 50 min alone.
set -euo pipefail
A=apprentice
export APPRENTICE_HOME=${APPRENTICE_HOME:-$(mktemp -d)}
D="$APPRENTICE_HOME/datasets"
S=benchmarks/results/student/candidates
E() { $A eval --model "$1" --tools calculator --no-progress --strategy react --workers 2 --task "${@:2}"; }

E student svamp --split train --limit 160 --report OUT/shipped/svamp-dev   # the dev set: 80/160 (2 min)
E student svamp --split test --report OUT/shipped/svamp                    # 105/200, the probes read its runs
SHIPPED=$(ls "$APPRENTICE_HOME/adapters" | grep '^student-' | tail -1)
(cd $S/s50 && python decision_pool.py "$D/s50dec2")                       # session 50's 8,000 decisions
python $S/s51/pool.py "$D/s50dec2" "$D/s51c"            # continuations 1,200 (SVAMP 150) + decisions 3,200
python $S/s51/pool.py "$D/s50dec2" "$D/s51d" --steps 0  # the same 3,200 decisions alone
# C27: 480 steps at 1e-4, batch 8 (38 min alone)
$A train sft --data "$D/s51c" --name s51-c --base "adapter:$SHIPPED" --max-steps 480 --batch-size 8 \
  --max-length 512 --eval-steps 240 --learning-rate 1e-4 --seed 0
python $S/s51/threshold.py s51-c OUT/shipped/svamp-dev   # dev AUC 0.624; no threshold reaches 80%: go_on_at=0.98
(cd $S/s50 && python decision_probe.py s51-c OUT/shipped/svamp)   # test AUC 0.591
E adapter:s51-c svamp --split test --decide ask --go-on-at 0.98 --report OUT/s51-c-at/svamp       # 83/200
E adapter:s51-c gsm8k --level 1 --split test --decide ask --go-on-at 0.98 --report OUT/s51-c-at/gsm8k-1  # 2/55
(cd $S/s50 && python decide_cells.py OUT/s51-c-at/svamp OUT/shipped/svamp)
# net -22 (11 up, 33 down on svamp, p = 0.0013): kept out; its GSM8K two-step evaluation was stopped
python benchmarks/ship_student.py s51-c --reports svamp=OUT/s51-c-at/svamp gsm8k:1=OUT/s51-c-at/gsm8k-1 || true
# C28: the decisions alone, 400 steps (19 min alone); its own steps with decide=self
$A train sft --data "$D/s51d" --name s51-d --base "adapter:$SHIPPED" --max-steps 400 --batch-size 8 \
  --max-length 320 --eval-steps 200 --seed 0
E adapter:s51-d svamp --split test --report OUT/s51-d-self/svamp   # 82/200 (8 up, 31 down against the shipped 105)
python $S/s51/threshold.py s51-d OUT/shipped/svamp-dev             # dev AUC 0.692; go_on_at=0.98 (11 of 14 right)
(cd $S/s50 && python decision_probe.py s51-d OUT/shipped/svamp)    # test AUC 0.644
(cd $S/s50 && python decide_cells.py OUT/s51-d-self/svamp)
