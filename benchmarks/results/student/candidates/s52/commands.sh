#!/bin/bash
# Session 52 candidates (issue 38, item 3's volume lever): the schema generator at volume, accuracy against pool
# size on the human-written yardsticks. Session 41 measured pool size on the shipped student's DPO pairs (270 to
# 1,060: flat); session 36's one schema round replaced half of SVAMP's share. Here the bootstrap round that made
# uni-r1 (one dataset round from the base model, SVAMP train 800 + a generated pool, one epoch at 5e-4, the short
# prompt), with the generated part the schema generator's (levels 1-3) at two sizes: 600 (uni-r1's arith share) and
# 3,200 (5.3x). Same steps per example (one epoch), so the larger pool trains longer: volume is what it buys.
# Run alone on the 2 cores; 2 h 10 min (V2's SFT 44.6 min, V3's 35.1).
set -euo pipefail
A=apprentice
export APPRENTICE_HOME=${APPRENTICE_HOME:-$(mktemp -d)}
R=(--teacher dataset,equation --student local --rounds 1 --epochs 1 --eval-sets svamp gsm8k:1
   --baseline-limit 0 --learning-rate 5e-4 --react-prompt student)
# V1: SVAMP 800 + schema 600 (as uni-r1, schema for arith): 1,260 train examples, 315 steps; SVAMP 57/200,
# GSM8K-1 0/55
$A distill --task svamp:800,schema:600 "${R[@]}" --name s52v1 --report OUT/s52v1
# V2: SVAMP 800 + schema 3,200: 3,598 train examples, 900 steps; SVAMP 61/200, GSM8K-1 0/55
$A distill --task svamp:800,schema:3200 "${R[@]}" --name s52v2 --report OUT/s52v2
# V0: SVAMP 800 alone (the curve's first point): 720 train examples, 180 steps; SVAMP 48/200, GSM8K-1 1/55
$A distill --task svamp:800 "${R[@]}" --name s52v0 --report OUT/s52v0
# the curve, the flips (uni-r1: session 34's round with arith 600 in place of schema), the types, the pool's shapes
C=benchmarks/results/student/candidates/s52
python benchmarks/plot_pool_size.py --out $C/pool_size.png --unit "training examples" \
  --share-label "generated (schema)" \
  --xlabel "training examples: SVAMP's 720 + the schema generator's (their share)" \
  --title "One SFT round from the base model: SVAMP test against the pool's size" \
  0:720=OUT/s52v0/round1-svamp 43:1260=OUT/s52v1/round1-svamp 80:3598=OUT/s52v2/round1-svamp > $C/pool_size.txt
python benchmarks/svamp_types.py --home "$APPRENTICE_HOME" adapter:s52v0-r1 adapter:s52v1-r1 adapter:s52v2-r1 \
  > $C/svamp_types.txt
python benchmarks/pool_diversity.py --n 3200 --out $C/pool_diversity-3200.txt  # asking frames: 183 at 800, 266
# V3: SVAMP 800 + GSM8K train of every level (3,000 drawn; the grounded one-expression replays only, every number
# the question's), the human-written pool at the most this machine has of it: does GSM8K's own wording at volume
# move GSM8K one-step in a round from the base model? 1,842 grounded GSM8K replays, 2,378 train examples, 595 steps:
# SVAMP 65/200, GSM8K-1 6/55 (the first student past 4; V0 1: 5 up, 0 down, p = 0.063). Its first SFT stopped on
# its own harvest (a raw U+2028 in a GSM8K question; the loader mended in this session); the same command resumed
$A distill --task svamp:800,gsm8k:3000 "${R[@]}" --name s52v3 --report OUT/s52v3
python benchmarks/item_flips.py OUT/s52v0/round1-svamp OUT/s52v1/round1-svamp OUT/s52v2/round1-svamp \
  OUT/s52v3/round1-svamp benchmarks/results/student/uni-r1/svamp > $C/flips.txt   # V1 -> V2: 23 down, 27 up
python benchmarks/item_flips.py OUT/s52v0/round1-gsm8k-1 OUT/s52v3/round1-gsm8k-1 \
  benchmarks/results/student/uar-s-cdpo200/gsm8k-1 >> $C/flips.txt
