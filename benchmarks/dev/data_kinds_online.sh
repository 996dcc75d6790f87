#!/usr/bin/env bash
# The online runs of the dataset-kind comparison, one (task, seed) at a time, each compare.py call's
# folder committed as it ends (so that an interrupted batch keeps what it finished; a committed folder
# is finished and kept on the next start, any other is made again):
#   bash benchmarks/dev/data_kinds_online.sh "1 2 3 4 5" "Walker2d-v4 Hopper-v4 HalfCheetah-v4"
# 40 iterations, the four prior kinds on the four dataset kinds; PPO reads no prior, so its runs go with
# the single kind's and are the baseline of all four. The 1M-step comparison of one dataset kind:
#   KINDS=replay VARIANTS="ppo-dap gmm-prior" STEPS=1000000 EVAL_EVERY=0 SUFFIX=_1m \
#     bash benchmarks/dev/data_kinds_online.sh "1 2 3"          (folders data_kinds/replay_1m/...)
set -euo pipefail
cd "$(dirname "$0")/../.."
seeds=${1:-1 2 3 4 5} envs=${2:-Walker2d-v4 Hopper-v4 HalfCheetah-v4}
kinds=${KINDS:-single replay mixed-quality two-policies} steps=${STEPS:-81920} eval_every=${EVAL_EVERY:-5000}
out=benchmarks/results/data_kinds
for seed in $seeds; do
  for env in $envs; do
    for kind in $kinds; do
      dir=$out/$kind${SUFFIX:-}/${env}_seed$seed
      git ls-files --error-unmatch "$dir/runs.csv" > /dev/null 2>&1 && { echo "$dir committed, kept"; continue; }
      variants=${VARIANTS:-ppo-dap gmm-prior gaussian-prior knn-prior}
      [ -z "${VARIANTS:-}" ] && [ "$kind" = single ] && variants="ppo $variants"
      rm -rf "$dir" && mkdir -p "$(dirname "$dir")"  # an interrupted or failed call's runs
      python benchmarks/compare.py --env-ids "$env" --seeds "$seed" --variants $variants --total-timesteps "$steps" \
        --eval-every "$eval_every" --priors-dir "$out/priors/$kind" --out-dir "$dir" > "$dir.log" 2>&1 \
        || { cat "$dir.log"; exit 1; }
      mv "$dir.log" "$dir/compare.log"
      for try in 1 2 3 4 5; do  # the index may be busy for a moment
        git add "$dir" && git commit -q --only "$dir" -m "Dataset kinds, online: $kind${SUFFIX:-}, $env, seed $seed" && break
        sleep 5
      done
    done
  done
done
