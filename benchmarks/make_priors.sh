#!/usr/bin/env bash
# The whole offline stage for a list of tasks, in one command, resumable. For each ENV_ID:
#   1. unless its dataset exists: run the behaviour policy (plain PPO, seed 100, 300k steps) and log its
#      rollouts to $DATA_DIR/{env_id}_behaviour.npz (its final actor is saved and evaluated in $RUNS_DIR);
#   2. for each prior kind in $KINDS missing from $PRIORS_DIR: pretrain it on that dataset.
# Each stage writes under a temporary name first (the rollout log) or atomically (the prior), so an
# interrupted call leaves nothing a later call would take for finished: run it again to resume.
#   bash benchmarks/make_priors.sh Ant-v4 Swimmer-v4
#   KINDS="diffusion gaussian knn" bash benchmarks/make_priors.sh Hopper-v4    (the ablations' priors too)
# BEHAVIOUR_FLAGS and PRETRAIN_FLAGS replace or add flags of the two stages (the tests use tiny ones).
set -euo pipefail
cd "$(dirname "$0")/.."
data_dir=${DATA_DIR:-data} priors_dir=${PRIORS_DIR:-priors} runs_dir=${RUNS_DIR:-runs/behaviour}
[ $# -gt 0 ] || { echo "usage: bash benchmarks/make_priors.sh ENV_ID [ENV_ID ...]" >&2; exit 2; }
for env in "$@"; do
  missing=()
  for kind in ${KINDS:-diffusion}; do
    prior=$priors_dir/$env$([ "$kind" = diffusion ] || echo "-$kind").pt
    [ -f "$prior" ] && echo "$env: $prior exists, kept" || missing+=("$kind:$prior")
  done
  [ ${#missing[@]} -gt 0 ] || continue
  dataset=$data_dir/${env}_behaviour.npz
  if [ -f "$dataset" ]; then
    echo "$env: $dataset exists, kept"
  else
    partial=$data_dir/${env}_behaviour.partial.npz
    rm -f "$partial"  # an interrupted earlier call's log is incomplete
    python ppo_dap.py --env-id "$env" --seed 100 --exp-name behaviour --imitation-coef 0 --runs-dir "$runs_dir" --save-model \
      --total-timesteps 300000 ${BEHAVIOUR_FLAGS-} --save-rollouts "$partial"
    mv "$partial" "$dataset"
  fi
  for entry in "${missing[@]}"; do
    python pretrain_prior.py --dataset "$dataset" --env-id "$env" --prior-kind "${entry%%:*}" \
      --output "${entry#*:}" ${PRETRAIN_FLAGS-}
  done
done
