#!/usr/bin/env bash
# The online runs of the dataset-kind comparison, through batch.sh (one compare.py call per task and seed,
# each folder committed as it ends, so an interrupted batch resumes):
#   bash benchmarks/dev/data_kinds_online.sh "1 2 3 4 5" "Walker2d-v4 Hopper-v4 HalfCheetah-v4"
# 40 iterations, the four prior kinds on the four dataset kinds; PPO reads no prior, so its runs go with
# the single kind's and are the baseline of all four. The 1M-step comparison of one dataset kind:
#   KINDS=replay VARIANTS="ppo-dap gmm-prior" STEPS=1000000 EVAL_EVERY=0 SUFFIX=_1m \
#     bash benchmarks/dev/data_kinds_online.sh "1 2 3"          (folders data_kinds/replay_1m/...)
# Further arguments go to compare.py. The paper's ALC@40 needs 98 iterations evaluated every 5,000 steps; one
# call per seed on a local Ray instance (`ray start --head --num-cpus 2`) keeps both CPUs busy:
#   PER_SEED=1 STEPS=200704 SUFFIX=_200k bash benchmarks/dev/data_kinds_online.sh "1 2 3 4 5" \
#     "Walker2d-v4 Hopper-v4 HalfCheetah-v4" --launcher ray --ray-address auto   (data_kinds/single_200k/seed1, ...)
set -euo pipefail
cd "$(dirname "$0")/../.."
seeds=${1:-1 2 3 4 5} envs=${2:-Walker2d-v4 Hopper-v4 HalfCheetah-v4}
shift $(( $# < 2 ? $# : 2 ))
kinds=${KINDS:-single replay mixed-quality two-policies} steps=${STEPS:-81920} eval_every=${EVAL_EVERY:-5000}
out=benchmarks/results/data_kinds
for seed in $seeds; do
  for kind in $kinds; do
    variants=${VARIANTS:-ppo-dap gmm-prior gaussian-prior knn-prior}
    [ -z "${VARIANTS:-}" ] && [ "$kind" = single ] && variants="ppo $variants"
    bash benchmarks/dev/batch.sh "$out/$kind${SUFFIX:-}" "$seed" "$envs" --variants $variants \
      --total-timesteps "$steps" --eval-every "$eval_every" --priors-dir "$out/priors/$kind" "$@"
  done
done
