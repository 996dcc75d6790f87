#!/usr/bin/env bash
# The offline stage for a list of tasks, in one command, resumable. For each ENV_ID:
#   1. unless its log exists: the behaviour policy, plain PPO (seed 100, 1M steps), logs every transition
#      to $DATA_DIR/{env_id}_seed100_1m.npz (its final actor is saved and evaluated in $RUNS_DIR);
#   2. for each prior kind in $KINDS missing from $PRIORS_DIR: pretrain it on the episodes that end in the
#      log's last $LAST_STEPS (300,000) steps, those of the converged policy.
# Each stage writes under a temporary name first (the rollout log) or atomically (the prior), so an
# interrupted call leaves nothing a later call would take for finished: run it again to resume.
#   bash benchmarks/make_priors.sh Ant-v4 Swimmer-v4
#   KINDS="diffusion gmm gaussian knn" bash benchmarks/make_priors.sh Hopper-v4    (the ablations' priors too)
# BEHAVIOUR_FLAGS and PRETRAIN_FLAGS replace or add flags of the two stages (the tests use tiny ones).
set -euo pipefail
cd "$(dirname "$0")/.."
data_dir=${DATA_DIR:-data} priors_dir=${PRIORS_DIR:-priors} runs_dir=${RUNS_DIR:-runs/behaviour}
last_steps=${LAST_STEPS:-300000}
[ $# -gt 0 ] || { echo "usage: bash benchmarks/make_priors.sh ENV_ID [ENV_ID ...]" >&2; exit 2; }
for env in "$@"; do
  missing=()
  for kind in ${KINDS:-diffusion}; do
    prior=$priors_dir/$env$([ "$kind" = diffusion ] || echo "-$kind").pt
    [ -f "$prior" ] && echo "$env: $prior exists, kept" || missing+=("$kind:$prior")
  done
  [ ${#missing[@]} -gt 0 ] || continue
  log=$data_dir/${env}_seed100_1m.npz
  if [ -f "$log" ]; then
    echo "$env: $log exists, kept"
  else
    partial=$data_dir/${env}_seed100_1m.partial.npz
    rm -f "$partial"  # an interrupted earlier call's log is incomplete
    python ppo_dap.py --env-id "$env" --seed 100 --total-timesteps 1000000 --exp-name seed100_1m --imitation-coef 0 \
      --save-model --runs-dir "$runs_dir" ${BEHAVIOUR_FLAGS-} --save-rollouts "$partial"
    mv "$partial" "$log"
  fi
  for entry in "${missing[@]}"; do
    python pretrain_prior.py --dataset "$log" --env-id "$env" --last-steps "$last_steps" --prior-kind "${entry%%:*}" \
      --output "${entry#*:}" ${PRETRAIN_FLAGS-}
  done
done
