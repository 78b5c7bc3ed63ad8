#!/bin/bash
# The whole chain, from the embedded base model, to the best SVAMP student so far (uar-r4e2-dpo: 98.5% on
# arith:1, 43.5% on SVAMP single pass, 72.0% on arith:3; 48.0% on SVAMP with react-sc x5 weighted by the rules
# verifier). The same commands as the committed commands.sh files, one after another:
#   union_round/commands.sh (uni-r1) -> union_round/arith_round/commands.sh (uar-r2)
#   -> union_round/arith_round/self_rounds/commands.sh (uar-r3-dpo, uar-r4-dpo and round 4's pool)
#   -> union_round/arith_round/self_rounds/two_epochs/commands.sh (uar-r4e2-dpo, its evals)
# About 5.5 hours alone on a 2-core CPU (57 + 38 + 55 + 57 + 64 min of rounds and training, 25 min of evals).
# Each step is skipped when its adapter (or eval report) already exists, so a killed run goes on where it
# stopped: run the script again. Training resumes from its last checkpoint inside a step as well.
#
#   benchmarks/distill_best.sh                 # adapters in /tmp/distill-best, reports in /tmp/distill-best/out
#   APPRENTICE_HOME=DIR OUT=DIR benchmarks/distill_best.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export APPRENTICE_HOME="${APPRENTICE_HOME:-/tmp/distill-best}"
OUT="${OUT:-$APPRENTICE_HOME/out}"
A=.venv/bin/apprentice
test -x "$A" || { echo "error: $A not found: run 'make install' first" >&2; exit 2; }
mkdir -p "$OUT"

have() { "$A" adapters show "$1" > /dev/null 2>&1; }
# a distill round is done when its adapter is registered and its last held-out eval is written (a kill between the
# two would otherwise leave the round out of the report for good)
round_done() { have "$1" && test -f "$OUT/$2/round$3-arith-3/report.json"; }
# the options of every round, as the committed runs had them
COMMON=(--levels 1 2 3 4 --arith-distractors 0.5 --eval-sets arith:1 svamp arith:3 --baseline-limit 0
        --learning-rate 5e-4 --react-prompt student)
SELF=(--task svamp:600,arith:200 --teacher self --attempts 2 --rationalize dataset,equation
      --rounds 1 --max-steps 150 --dpo-steps 80)

round_done uni-r1 union 1 || "$A" distill --task svamp:800,arith:600 --teacher dataset,equation --student local \
  --rounds 1 --epochs 1 --name uni --report "$OUT/union" "${COMMON[@]}"
round_done uar-r2 uar 2 || "$A" distill --task arith:600,svamp:300 --teacher dataset,equation --student adapter:uni-r1 \
  --start-round 2 --rounds 1 --epochs 1 --name uar --report "$OUT/uar" "${COMMON[@]}"
round_done uar-r3-dpo uar 3 || "$A" distill "${SELF[@]}" --student adapter:uar-r2 --start-round 3 --name uar \
  --report "$OUT/uar" "${COMMON[@]}"
# round 4 harvests the pool the best student is trained on (datasets/uar-r4); its own 150-step student is uar-r4-dpo
round_done uar-r4-dpo uar 4 || "$A" distill "${SELF[@]}" --student adapter:uar-r3-dpo --start-round 4 --name uar \
  --report "$OUT/uar" "${COMMON[@]}"
have uar-r4e2 || "$A" train sft --data "$APPRENTICE_HOME/datasets/uar-r4" --name uar-r4e2 \
  --base adapter:uar-r3-dpo --epochs 2 --learning-rate 5e-4 --seed 0
have uar-r4e2-dpo || "$A" train dpo --data "$APPRENTICE_HOME/datasets/uar-r4" --name uar-r4e2-dpo \
  --base adapter:uar-r4e2 --max-steps 80 --sft-weight 1.0 --seed 0

evaluate() {  # NAME then the eval options; an existing report is kept (and its runs resume anyway)
  local name=$1; shift
  test -f "$OUT/$name/report.json" || "$A" eval --model adapter:uar-r4e2-dpo --tools calculator --split test \
    --no-progress --report "$OUT/$name" "$@"
}
evaluate best-arith-1 --task arith --level 1 --strategy react
evaluate best-svamp --task svamp --strategy react
evaluate best-arith-3 --task arith --level 3 --strategy react
evaluate best-sc5v-svamp --task svamp --strategy react-sc --samples 5 --verifier rules

for name in best-arith-1 best-svamp best-arith-3 best-sc5v-svamp; do
  grep -m1 '^| [a-z-]* | adapter:' "$OUT/$name/report.md" | cut -d'|' -f2,3,5 | sed "s/^/$name:/"
done
