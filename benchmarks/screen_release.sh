#!/usr/bin/env bash
# The release screen (README "Releasing the prior"): Hopper-v4, the first 200 iterations (409,600
# steps) of the default 1M-step run, seeds 1-2, two runs at a time. The current default and PPO come
# from benchmarks/results/hopper_1m (same code path, bit-identical for those flags).
#   ROUND=1 bash benchmarks/screen_release.sh; then ROUND=2, then ROUND=3
#   python benchmarks/summarise_screen.py benchmarks/results/screen_hopper --baseline-dir benchmarks/results/hopper_1m
# (Some runs were stopped after iteration 200, coef0.1 at 411; the summary reads iterations 1-200.
# meanonly and coef0.3 were stopped as rejected at iterations 156 and 87; release-coef0.3 never ran.)
# The rounds ran at commits 65a6f5c (round 1), 46e840a (round 2) and 02e5668 (round 3), before
# --prior-anneal-frac became --prior-anneal-steps: check out that commit to rerun a round. At 1M steps
# --prior-anneal-frac 0.05 is 24.4 iterations (48,800 steps), about today's default --prior-anneal-steps 50000.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-benchmarks/results/screen_hopper}
if [ "${ROUND:-1}" = 1 ]; then
  variants=(
    "qfilter|--prior-filter q"
    "frac0.05|--prior-anneal-frac 0.05"
  )
elif [ "${ROUND}" = 2 ]; then  # round 2: the imitation collapsed the actor's std in round 1
  variants=(
    "coef0.1|--imitation-coef 0.1"
    "meanonly|--no-imitate-std"
  )
else  # round 3: release when the actor's return reaches the prior's data return
  variants=(
    "release|--prior-release return"
    "coef0.3|--imitation-coef 0.3"
    "release-coef0.3|--prior-release return --imitation-coef 0.3"
  )
fi
jobs=()
for v in "${variants[@]}"; do
  name=${v%%|*}; flags=${v#*|}
  for seed in ${SEEDS:-1 2}; do
    jobs+=("bash benchmarks/run_prefix.sh $out $name $seed ${STOP:-200} ${ENV_ID:-Hopper-v4} $flags")
  done
done
printf '%s\n' "${jobs[@]}" | xargs -P 2 -I{} bash -c '{}'
