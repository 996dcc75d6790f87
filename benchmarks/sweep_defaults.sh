#!/usr/bin/env bash
# The small sweep behind ppo_dap.py's DAP defaults (README "Choosing the defaults"): Walker2d-v4,
# 40 PPO iterations (81,920 steps), seeds 1-2, two runs at a time. Each run's progress.csv lands in
# runs/sweep/{variant}/; summarise with `python benchmarks/summarise_sweep.py runs/sweep`.
# Historical: it uses --prior-anneal-frac, which stop 9 replaced by --prior-anneal-steps; to rerun it
# as it was, check out commit 41e5840 (the last commit before stop 9).
set -euo pipefail
cd "$(dirname "$0")/.."
# round 1: the imitation coefficient; round 2 (ROUND=2): around the best of round 1
if [ "${ROUND:-1}" = 1 ]; then
  variants=(
    "ppo|--imitation-coef 0"
    "im0.1|--imitation-coef 0.1"
    "im0.3|--imitation-coef 0.3"
    "im1.0|--imitation-coef 1.0"
  )
else
  variants=(
    "im3.0|--imitation-coef 3.0"
    "im1.0-frac0.6|--imitation-coef 1.0 --prior-anneal-frac 0.6"
    "im1.0-tau0.1|--imitation-coef 1.0 --energy-temperature 0.1"
  )
fi
jobs=()
for v in "${variants[@]}"; do
  name=${v%%|*}; flags=${v#*|}
  for seed in ${SEEDS:-1 2}; do
    mkdir -p "runs/sweep/$name"
    jobs+=("python ppo_dap.py --env-id Walker2d-v4 --total-timesteps 81920 --seed $seed --exp-name $name --runs-dir runs/sweep/$name $flags > runs/sweep/$name/seed$seed.log 2>&1")
  done
done
printf '%s\n' "${jobs[@]}" | xargs -P 2 -I{} bash -c '{}'
