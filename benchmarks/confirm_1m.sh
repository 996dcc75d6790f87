#!/usr/bin/env bash
# The release screen's candidate over the whole default 1M-step run (README "Releasing the prior"):
# PPO-DAP with FLAGS on ENV_IDS x SEEDS, one seed per run, two runs at a time, each evaluating
# deterministically every 5000 steps (eval.csv, the paper's ALC@40); and PPO's first 98 iterations
# (200,704 steps, enough for ALC@40) with the same evaluation. PPO's whole 1M-step runs on these seeds
# are in benchmarks/results/{hopper,walker}_1m (same code path, bit for bit).
#   NAME=ppo-dap bash benchmarks/confirm_1m.sh        (FLAGS="..." adds flags to the PPO-DAP runs)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-benchmarks/results/release_1m}
jobs=()
for env in ${ENV_IDS:-Hopper-v4 Walker2d-v4}; do
  for seed in ${SEEDS:-1 2}; do
    jobs+=("bash benchmarks/run_prefix.sh $out/$env ${NAME:?} $seed 9999 $env --eval-every 5000 --eval-episodes 5 ${FLAGS-}")
  done
done
for env in ${ENV_IDS:-Hopper-v4 Walker2d-v4}; do
  for seed in ${SEEDS:-1 2}; do
    jobs+=("bash benchmarks/run_prefix.sh $out/$env ppo-eval $seed 98 $env --eval-every 5000 --eval-episodes 5 --imitation-coef 0")
  done
done
printf '%s\n' "${jobs[@]}" | xargs -P 2 -I{} bash -c '{}'
