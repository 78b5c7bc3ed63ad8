#!/bin/bash
# diagnostic: is SVAMP exposure-limited? every SVAMP train item's worked solution (the replays of rounds 1-6),
# one epoch of SFT on top of eqv-r6-dpo, then the three held-out sets
set -x
cd /work/main
export APPRENTICE_HOME=/tmp/d11
date
.venv/bin/apprentice harvest --out /tmp/d11/datasets/svamp-replays --task svamp --model teacher:dataset,equation \
  --react-prompt student --tools calculator --max-per-question 1 --eval-fraction 0.1 || exit 1
date
.venv/bin/apprentice train sft --data /tmp/d11/datasets/svamp-replays --name svr-a --base adapter:eqv-r6-dpo \
  --epochs 1 --learning-rate 5e-4 --export-gguf || exit 1
date
.venv/bin/apprentice eval --task svamp --split test --strategy react --model adapter:svr-a --tools calculator --report /tmp/d11/report-extra/svr-a-svamp
date
.venv/bin/apprentice eval --task arith --level 1 --split test --strategy react --model adapter:svr-a --tools calculator --report /tmp/d11/report-extra/svr-a-arith-1
.venv/bin/apprentice eval --task arith --level 3 --split test --strategy react --model adapter:svr-a --tools calculator --report /tmp/d11/report-extra/svr-a-arith-3
date
# round 7's SFT adapter (before its DPO step) on SVAMP, for the table in NOTES.md
.venv/bin/apprentice eval --task svamp --split test --strategy react --model adapter:eqv-r7 --tools calculator --report /tmp/d11/report-extra/eqv-r7-sft-svamp
# accuracy by SVAMP type, and the item-by-item flips between the students (svamp_types.txt)
.venv/bin/python benchmarks/svamp_types.py --home /tmp/d11 adapter:eqv-r6-dpo adapter:svr-a adapter:eqv-r7 adapter:eqv-r7-dpo
