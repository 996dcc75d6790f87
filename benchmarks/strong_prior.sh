#!/usr/bin/env bash
# Does a prior from a stronger behaviour policy help over the whole default 1M-step run? (README
# "A prior from a stronger behaviour policy"). The shipped priors come from the whole log of a
# 300k-step PPO run; late_prior.sh showed that the actor settles at the level of the behaviour it
# imitated. Here the behaviour is better than what PPO reaches early: for each ENV_ID
#   1. unless data/{env}_behaviour1m.npz exists: plain PPO, seed 100 (the shipped priors' behaviour
#      seed), for 1M steps, logging every transition;
#   2. for each prior kind in KINDS (default: diffusion), a prior pretrained (default pretraining flags)
#      on the episodes that start in the log's last 300,000 steps, written to $OUT/{env}-strong[-{kind}].pt;
#   3. the default 1M-step command with that prior (`--prior-path`), SEEDS one per run, two runs at a
#      time, evaluating every 5000 steps; PPO's 1M runs on these seeds are in benchmarks/results
#      (summarise_1m.py tabulates the two: these runs are the shipped priors' 1M runs).
#   ENV_IDS="Hopper-v4 HalfCheetah-v4" SEEDS="1 2 3" bash benchmarks/strong_prior.sh
#   KINDS="diffusion gaussian knn" SEEDS= bash benchmarks/strong_prior.sh     (the priors only, every kind)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-benchmarks/results/strong_prior_1m}
mkdir -p "$out"
jobs=()
for env in ${ENV_IDS:-Hopper-v4 HalfCheetah-v4}; do
  log=data/${env}_behaviour1m.npz
  if [ ! -f "$log" ]; then
    rm -f "data/${env}_behaviour1m.partial.npz"  # an interrupted earlier call's log is incomplete
    OMP_NUM_THREADS=1 python ppo_dap.py --env-id "$env" --seed 100 --exp-name behaviour1m --imitation-coef 0 \
      --runs-dir runs/behaviour --save-model --total-timesteps 1000000 --save-rollouts "data/${env}_behaviour1m.partial.npz"
    mv "data/${env}_behaviour1m.partial.npz" "$log"
  fi
  slice=$out/${env}_last300k.npz  # the training data of every prior kind below, built once
  for kind in ${KINDS:-diffusion}; do
    prior=$out/$env-strong$([ "$kind" = diffusion ] || echo "-$kind").pt
    [ -f "$prior" ] && continue
    [ -f "$slice" ] || python - "$log" "$slice" <<'PY'
import os
import sys
import numpy as np
d = dict(np.load(sys.argv[1]))
n = len(d["rewards"])
ends = np.nonzero(d["terminations"] | d["truncations"])[0]
start = ends[ends < n - 300_000][-1] + 1  # the first episode that starts in the last 300,000 steps
per_step = ("observations", "actions", "rewards", "terminations", "truncations")
partial = sys.argv[2][:-len(".npz")] + ".partial.npz"  # an interrupted call leaves no slice to be reused
np.savez(partial, **{k: v[start:] if k in per_step else v for k, v in d.items()})
os.replace(partial, sys.argv[2])
PY
    OMP_NUM_THREADS=1 python pretrain_prior.py --dataset "$slice" --env-id "$env" --prior-kind "$kind" \
      --output "$prior" > "${prior%.pt}-pretrain.log" 2>&1
  done
  rm -f "$slice"  # rebuilt from the log when needed; the priors are kept
  for seed in ${SEEDS-1 2 3}; do
    jobs+=("bash benchmarks/run_prefix.sh $out/$env strong-prior $seed 9999 $env --eval-every 5000 --eval-episodes 5 --prior-path $out/$env-strong.pt")
  done
done
[ ${#jobs[@]} -eq 0 ] || printf '%s\n' "${jobs[@]}" | xargs -P "${JOBS:-2}" -I{} bash -c '{}'
