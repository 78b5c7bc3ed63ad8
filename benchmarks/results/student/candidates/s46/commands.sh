#!/bin/bash
# Session 46 candidates (issue 38): DPO credited to what SFT learns (`--credit written`), and GSM8K replays read with
# the calculations their worked solutions write out in the prose (15c3933). Every candidate continues from the
# shipped student (`--base student`); run alone on the 2 cores, one after another. Pools of sessions 44-45 are
# rebuilt by their own commands.sh (s44self-r1: candidates/s44, s45vc: candidates/s45).
set -euo pipefail
A=apprentice
export APPRENTICE_HOME=${APPRENTICE_HOME:-$(mktemp -d)}
D="$APPRENTICE_HOME/datasets"
E() { $A eval --model "$1" --tools calculator --split test --no-progress --strategy react --workers 2 --task "${@:2}"; }
evaluate() { E "adapter:$1" svamp --report "OUT/$1/svamp"; E "adapter:$1" gsm8k --level 1 --report "OUT/$1/gsm8k-1"
             E "adapter:$1" gsm8k --level 2 --report "OUT/$1/gsm8k-2"; }

# C10: session 44's C1 (the shipped student's own pass, 346 pairs, 200 steps) with --credit written: the observations
# and the Thought: after them left out of DPO's log-probabilities on both sides, the rejected answer counted
$A train dpo --data "$D/s44self-r1" --name s46-wr200 --base student --max-steps 200 --sft-weight 1.0 --seed 0 \
  --credit written
E adapter:s46-wr200 svamp --report OUT/s46-wr200/svamp               # 98/200 (C1, all: 97; C5, action: 74)
E adapter:s46-wr200 gsm8k --level 1 --report OUT/s46-wr200/gsm8k-1   # 0/55; two-step not run (SVAMP below 103)
python benchmarks/svamp_types.py --home "$APPRENTICE_HOME" student adapter:s44-self200 adapter:s44-act200 \
  adapter:s46-wr200                                                   # not the calculator's: 3, 23, 0, 27

# the GSM8K train replays (levels 1-2) read with the prose steps: 803 train / 89 eval (session 43's gsmq: 694 / 77);
# built at 15c3933 (since 7cf003d a chain "2 + 3 = 5 + 4 = 9" is read link by link: one problem fewer replays)
$A distill --task gsm8k:2068 --gsm8k-levels 1 2 --teacher dataset,equation --rounds 1 --name gsmq2 \
  --react-prompt student --dpo-steps 200 --contrast-pairs 1 --baseline-limit 0 --eval-sets svamp --stop-after harvest
# C12: s45vc + those replays' quantity and partial pairs with the cue-word first thought (873): 2,369 pairs
python benchmarks/results/student/candidates/s43/cue_thoughts.py "$D/gsmq2-r1" "$D/s45vc" "$D/s46g"
$A train dpo --data "$D/s46g" --name s46-g --base student --max-steps 280 --sft-weight 1.0 --seed 0
evaluate s46-g   # SVAMP 86/200 (15 up, 34 down), one-step 2/55 (2 up, 2 down), two-step 30/456 (26 up, 7 down)
# C13, C14: the same pool, learning rate 1e-5 and 2e-5
$A train dpo --data "$D/s46g" --name s46-g-lr1 --base student --max-steps 280 --sft-weight 1.0 --seed 0 \
  --learning-rate 1e-5
evaluate s46-g-lr1   # SVAMP 106/200 (7 up, 6 down), one-step 2/55 (no flip), two-step 13/456 (5 up, 3 down)
$A train dpo --data "$D/s46g" --name s46-g-lr2 --base student --max-steps 280 --sft-weight 1.0 --seed 0 \
  --learning-rate 2e-5
evaluate s46-g-lr2   # SVAMP 91/200 (6 up, 20 down), one-step 3/55 (2 up, 1 down), two-step 18/456 (12 up, 5 down)
# C15: C13 at seed 1
$A train dpo --data "$D/s46g" --name s46-g-lr1-s1 --base student --max-steps 280 --sft-weight 1.0 --seed 1 \
  --learning-rate 1e-5
evaluate s46-g-lr1-s1   # SVAMP 102/200 (7 up, 10 down), one-step 1/55 (1 down), two-step 13/456 (5 up, 3 down)
# net +0 (drops on svamp); net +3, p = 0.33 (within noise); net -6 (drops on svamp); net -2 (not better)
for name in s46-g s46-g-lr1 s46-g-lr2 s46-g-lr1-s1; do
  python benchmarks/ship_student.py $name --reports svamp=OUT/$name/svamp gsm8k:1=OUT/$name/gsm8k-1 \
    gsm8k:2=OUT/$name/gsm8k-2 || true   # exit 1: kept out
done
python benchmarks/svamp_types.py --home "$APPRENTICE_HOME" adapter:s45-vc adapter:s46-g adapter:s46-g-lr1 adapter:s46-g-lr2 \
  adapter:s46-g-lr1-s1
python benchmarks/gsm8k_reach.py --level 2 benchmarks/results/student/uar-s-cdpo200/gsm8k-2 OUT/s46-g/gsm8k-2
