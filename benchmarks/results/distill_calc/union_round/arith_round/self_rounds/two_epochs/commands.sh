#!/bin/bash
# Session 28 (2026-12-02, code at 2677013; alone on the 2-core CPU): round 4's own pool (/tmp/d25/datasets/uar-r4:
# 804 SFT train examples, 87 held out, 577 verified-vs-failed pairs, harvested by the round in ../commands.sh)
# trained for two epochs (402 steps) instead of the round's 150-step cap (0.75 epoch), from the same parent
# uar-r3-dpo with the same learning rate, then the same 80 RPO steps: an A/B against uar-r4-dpo where only the SFT
# length differs. `apprentice distill ... --epochs 2 --max-steps -1` runs the same thing as one round (~90 min).
set -x
cd /work/main
export APPRENTICE_HOME=/tmp/d25
.venv/bin/apprentice train sft --data /tmp/d25/datasets/uar-r4 --name uar-r4e2 --base adapter:uar-r3-dpo \
  --epochs 2 --learning-rate 5e-4 --seed 0                                                    # 48.5 min
.venv/bin/apprentice train dpo --data /tmp/d25/datasets/uar-r4 --name uar-r4e2-dpo --base adapter:uar-r4e2 \
  --max-steps 80 --sft-weight 1.0 --seed 0                                                    # 15.5 min
.venv/bin/apprentice eval --task svamp --split test --strategy react --model adapter:uar-r4e2-dpo --tools calculator --report /tmp/d28/e2-svamp
.venv/bin/apprentice eval --task arith --level 3 --split test --strategy react --model adapter:uar-r4e2-dpo --tools calculator --report /tmp/d28/e2-arith-3
.venv/bin/apprentice eval --task arith --level 1 --split test --strategy react --model adapter:uar-r4e2-dpo --tools calculator --report /tmp/d28/e2-arith-1
# the parent through the same CLI: all 200 runs resumed from the round's own eval (same harness, same options hash)
.venv/bin/apprentice eval --task svamp --split test --strategy react --model adapter:uar-r4-dpo --tools calculator --report /tmp/d28/r4-svamp-cli
.venv/bin/apprentice eval --task svamp --split test --strategy react-sc --samples 5 --verifier rules \
  --model adapter:uar-r4e2-dpo --tools calculator --report /tmp/d28/sc5v-uar-r4e2-dpo-svamp      # 16.8 min
D=benchmarks/results/distill_calc/union_round/arith_round/self_rounds
cp -r /tmp/d28/e2-svamp $D/two_epochs/round4e2-svamp; cp -r /tmp/d28/e2-arith-1 $D/two_epochs/round4e2-arith-1
cp -r /tmp/d28/e2-arith-3 $D/two_epochs/round4e2-arith-3; cp -r /tmp/d28/sc5v-uar-r4e2-dpo-svamp $D/two_epochs/
for s in svamp arith-1 arith-3; do python benchmarks/item_flips.py $D/round4-$s $D/two_epochs/round4e2-$s; done
python benchmarks/item_flips.py $D/two_epochs/round4e2-svamp $D/two_epochs/sc5v-uar-r4e2-dpo-svamp
python benchmarks/item_flips.py $D/sc5v-uar-r4-dpo-svamp $D/two_epochs/sc5v-uar-r4e2-dpo-svamp
python benchmarks/item_flips.py benchmarks/results/distill_calc/one_round/sc5v-one-r4-dpo-svamp $D/two_epochs/sc5v-uar-r4e2-dpo-svamp
python benchmarks/item_flips.py benchmarks/results/distill_calc/svamp_round3/level1_anchor/round3-svamp $D/two_epochs/round4e2-svamp
cd benchmarks
../.venv/bin/python rerank_samples.py /tmp/d28/sc5v-uar-r4e2-dpo-svamp --home /tmp/d25 --out ../$D/two_epochs/samples-uar-r4e2-dpo-svamp.jsonl
../.venv/bin/python rerank_samples.py --from ../$D/two_epochs/samples-uar-r4e2-dpo-svamp.jsonl --curve > ../$D/two_epochs/curve-uar-r4e2-dpo-svamp.txt
