#!/usr/bin/env bash
# Run the default 1M-step command with extra flags and stop it after STOP iterations, so that the
# first STOP iterations are exactly those of a full default run (same learning-rate and DAP
# schedules), at a fraction of the cost. Used by the release screen (README "Releasing the prior").
#   bash benchmarks/run_prefix.sh OUT_DIR NAME SEED STOP ENV_ID [ppo_dap.py flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
out=$1 name=$2 seed=$3 stop=$4 env=$5; shift 5
mkdir -p "$out/$name"
log="$out/$name/seed$seed.log"
OMP_NUM_THREADS=1 python ppo_dap.py --env-id "$env" --seed "$seed" --exp-name "$name" \
  --runs-dir "$out/$name" --total-timesteps 1000000 "$@" >"$log" 2>&1 &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
  if grep -qE "^iter $stop( |/)" "$log"; then kill -TERM "$pid"; fi
  sleep 5
done
wait "$pid" || true
echo "done $name seed $seed: $(grep -c '^iter ' "$log") iterations"
