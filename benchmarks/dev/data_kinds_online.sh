#!/usr/bin/env bash
# The online runs of the dataset-kind comparison, one (task, seed) at a time, each compare.py call's
# folder committed as it ends (so that an interrupted batch keeps what it finished):
#   bash benchmarks/dev/data_kinds_online.sh "1 2 3" "Walker2d-v4 Hopper-v4 HalfCheetah-v4"
# PPO reads no prior: its runs go with the single kind's and are the baseline of all four kinds.
set -euo pipefail
cd "$(dirname "$0")/../.."
seeds=${1:-1 2 3 4 5} envs=${2:-Walker2d-v4 Hopper-v4 HalfCheetah-v4}
out=benchmarks/results/data_kinds
for seed in $seeds; do
  for env in $envs; do
    for kind in single replay mixed-quality two-policies; do
      dir=$out/$kind/${env}_seed$seed
      [ -f "$dir/runs.csv" ] && { echo "$dir exists, kept"; continue; }
      variants="ppo-dap gmm-prior gaussian-prior knn-prior"
      [ "$kind" = single ] && variants="ppo $variants"
      rm -rf "$dir" && mkdir -p "$(dirname "$dir")"  # an interrupted call's partial runs
      python benchmarks/compare.py --env-ids "$env" --seeds "$seed" --variants $variants --eval-every 5000 \
        --priors-dir "$out/priors/$kind" --out-dir "$dir" > "$dir.log" 2>&1 || { cat "$dir.log"; exit 1; }
      mv "$dir.log" "$dir/compare.log"
      for try in 1 2 3 4 5; do  # the index may be busy for a moment
        git add "$dir" && git commit -q --only "$dir" -m "Dataset kinds, online: $kind, $env, seed $seed" && break
        sleep 5
      done
    done
  done
done
