#!/usr/bin/env bash
# The behaviour runs behind the four dataset kinds (single, replay, mixed-quality, two-policies), for
# each ENV_ID, two runs at a time, resumable (a run whose rollout log exists is kept):
#   {env}_seed100_1m   plain PPO, seed 100, 1M steps: the converged policy, and its whole log
#   {env}_seed101_1m   plain PPO, seed 101, 1M steps: a second converged policy
#   {env}_seed100_300k plain PPO, seed 100, 300k steps: a policy part-way to converged, and its whole log
# Rollout logs go to $DATA_DIR (large, not in git; their sha256 are recorded in $OUT/sha256.txt), run
# folders (config, progress, episodes, the final actor in model.pt) to $OUT.
#   bash benchmarks/make_datasets.sh Walker2d-v4 Hopper-v4 HalfCheetah-v4
set -euo pipefail
cd "$(dirname "$0")/.."
export DATA_DIR=${DATA_DIR:-data/data_kinds} OUT=${OUT:-benchmarks/results/data_kinds/behaviour}
[ $# -gt 0 ] || { echo "usage: bash benchmarks/make_datasets.sh ENV_ID [ENV_ID ...]" >&2; exit 2; }
mkdir -p "$DATA_DIR" "$OUT"
behaviour() {  # ENV SEED STEPS NAME
  local log=$DATA_DIR/$1_$4.npz
  [ -f "$log" ] && { echo "$log exists, kept"; return 0; }
  rm -f "$DATA_DIR/$1_$4.partial.npz"  # an interrupted earlier call's log is incomplete
  OMP_NUM_THREADS=1 python ppo_dap.py --env-id "$1" --seed "$2" --total-timesteps "$3" --exp-name "$4" \
    --imitation-coef 0 --save-model --runs-dir "$OUT" --save-rollouts "$DATA_DIR/$1_$4.partial.npz" \
    > "$OUT/$1_$4.log" 2>&1
  mv "$DATA_DIR/$1_$4.partial.npz" "$log"
}
export -f behaviour
for env in "$@"; do
  printf '%s 100 1000000 seed100_1m\n%s 101 1000000 seed101_1m\n' "$env" "$env"
done > "$OUT/.jobs"
for env in "$@"; do printf '%s 100 300000 seed100_300k\n' "$env"; done >> "$OUT/.jobs"
xargs -P 2 -L 1 bash -c 'behaviour "$@"' _ < "$OUT/.jobs"
rm "$OUT/.jobs"
(cd "$DATA_DIR" && sha256sum ./*.npz) > "$OUT/sha256.txt"
