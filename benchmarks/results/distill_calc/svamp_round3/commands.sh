#!/bin/bash
# Round 3 on top of dis-r2-dpo (arith_distractors/, rounds 1-2): the whole SVAMP train split's worked solutions
# replayed, with a share of arith problems as an anchor, one epoch of SFT from the last adapter.
# svm-r3: arith levels 2-4 (80 each); svl-r3: levels 1-4 (80 each). Run alone on the 2-core CPU, 2026-11-29/30.
set -x
cd /work/main
export APPRENTICE_HOME=/tmp/d17   # the home of dis-r1 / dis-r2-dpo (arith_distractors/commands in NOTES.md)
.venv/bin/apprentice distill --task svamp:800,arith:240 --levels 2 3 4 --arith-distractors 0.5 \
  --teacher dataset,equation --student adapter:dis-r2-dpo --start-round 3 --rounds 1 --epochs 1 \
  --eval-sets arith:1 svamp arith:3 --baseline-limit 0 --learning-rate 5e-4 --react-prompt student \
  --name svm --report /tmp/d20/report
.venv/bin/apprentice distill --task svamp:800,arith:320 --levels 1 2 3 4 --arith-distractors 0.5 \
  --teacher dataset,equation --student adapter:dis-r2-dpo --start-round 3 --rounds 1 --epochs 1 \
  --eval-sets arith:1 svamp arith:3 --baseline-limit 0 --learning-rate 5e-4 --react-prompt student \
  --name svl --report /tmp/d20/report-l1
# voting on top of svm-r3 (5 sampled ReAct runs at temperature 0.7, majority vote)
.venv/bin/apprentice eval --task svamp --split test --strategy react-sc --samples 5 --model adapter:svm-r3 \
  --tools calculator --report /tmp/d20/sc5-svm-r3-svamp
python benchmarks/verify_gain.py /tmp/d20/report/round3-svamp /tmp/d20/sc5-svm-r3-svamp --home /tmp/d17
# by SVAMP type, and the flips against round 2's student
cd benchmarks && ../.venv/bin/python svamp_types.py --home /tmp/d17 adapter:dis-r2-dpo adapter:svm-r3 adapter:svl-r3 && cd ..
python benchmarks/item_flips.py /tmp/d17/report/round2-arith-1 /tmp/d20/report/round3-arith-1 /tmp/d20/report-l1/round3-arith-1
python benchmarks/item_flips.py /tmp/d17/report/round2-svamp /tmp/d20/report/round3-svamp /tmp/d20/report-l1/round3-svamp
python benchmarks/item_flips.py /tmp/d17/report/round2-arith-3 /tmp/d20/report/round3-arith-3 /tmp/d20/report-l1/round3-arith-3
# report.md / report.png here (svm-r3) and in level1_anchor/ (svl-r3) show rounds 1-2 and round 3 in one table.
# The loop writes them so when its --report folder already holds rounds 1-2 (a continued run keeps the earlier
# rounds of the folder's report.json): before each distill above,
#   mkdir -p /tmp/d20/report && cp benchmarks/results/distill_calc/arith_distractors/report.json /tmp/d20/report/
#   (and the same into /tmp/d20/report-l1 for svl-r3)
# The runs here started from empty folders; their round 3 was put beside rounds 1-2 afterwards with the loop's own
# write_report, the same rows, earlier_args and baseline as that continued run would carry.
