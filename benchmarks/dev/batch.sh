#!/usr/bin/env bash
# A resumable batch of compare.py calls, one (task, seed) per call, each call's folder ({out}/{env}_seed{seed},
# OUT relative to the repository root) git-committed as it ends, so an interrupted batch keeps what it
# finished: a folder in the last commit counts as finished and is kept on the next start, any other is made
# again. The other arguments go to every compare.py call.
#   bash benchmarks/dev/batch.sh benchmarks/results/X "6 7 8 9 10" "Walker2d-v4 Hopper-v4" --variants ppo ppo-dap
# With PER_SEED=1, one call per seed runs all the tasks (folder {out}/seed{seed}), so that a launcher with
# several CPUs is less often idle, waiting for one task's slowest run.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 3 ] || { echo "usage: bash benchmarks/dev/batch.sh OUT \"SEEDS\" \"ENV_IDS\" [compare.py flags]" >&2; exit 2; }
out=${1%/} seeds=$2 envs=$3
shift 3

call() {  # call FOLDER SEED ENV_ID... -- COMPARE_FLAGS...
  local dir=$1 seed=$2 env_ids=()
  shift 2
  while [ "$1" != -- ]; do env_ids+=("$1"); shift; done
  shift
  git cat-file -e "HEAD:$dir/runs.csv" 2> /dev/null && { echo "$dir committed, kept"; return; }
  rm -rf "$dir" && mkdir -p "$(dirname "$dir")"  # an interrupted or failed call's runs
  python benchmarks/compare.py --env-ids "${env_ids[@]}" --seeds "$seed" --out-dir "$dir" "$@" > "$dir.log" 2>&1 \
    || { cat "$dir.log"; exit 1; }
  mv "$dir.log" "$dir/compare.log"
  local committed=
  for try in 1 2 3 4 5; do  # the index may be busy for a moment
    git add "$dir" && git commit -q --only "$dir" -m "Runs: ${dir#benchmarks/results/}" \
      && committed=1 && break
    sleep 5
  done
  [ -n "$committed" ] || { echo "error: $dir finished but could not be committed; commit it by hand." >&2; exit 1; }
  echo "$dir committed"
}

for seed in $seeds; do
  if [ "${PER_SEED:-0}" = 1 ]; then
    call "$out/seed$seed" "$seed" $envs -- "$@"
  else
    for env in $envs; do call "$out/${env}_seed$seed" "$seed" "$env" -- "$@"; done
  fi
done
