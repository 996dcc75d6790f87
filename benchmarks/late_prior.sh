#!/usr/bin/env bash
# Does better data remove Hopper-v4's stall? (README "Releasing the prior", "A prior from better data")
# A prior pretrained on the last third of the Hopper-v4 behaviour log only (the episodes that start
# after transition 199,332: data return 706 against 403 for the whole log), then the first 100
# iterations of the default 1M-step command with it, seeds 3 and 1, one at a time.
#   bash benchmarks/late_prior.sh          (needs data/Hopper-v4_behaviour.npz, see README "The offline stage")
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-benchmarks/results/late_prior_hopper}
mkdir -p "$out"
python - "$out" <<'PY'
import sys
import numpy as np
d = dict(np.load("data/Hopper-v4_behaviour.npz"))
ends = np.nonzero(d["terminations"] | d["truncations"])[0]
start = ends[ends < len(d["rewards"]) * 2 // 3][-1] + 1  # the first episode that starts in the last third
per_step = ("observations", "actions", "rewards", "terminations", "truncations")
np.savez(f"{sys.argv[1]}/Hopper-v4_late.npz", **{k: v[start:] if k in per_step else v for k, v in d.items()})
PY
python pretrain_prior.py --dataset "$out/Hopper-v4_late.npz" --env-id Hopper-v4 --output "$out/Hopper-v4-late.pt"
rm "$out/Hopper-v4_late.npz"  # the data is rebuilt from the log; the prior (about 150 kB) is kept
for seed in 3 1; do
  bash benchmarks/run_prefix.sh "$out" late "$seed" 100 Hopper-v4 --prior-path "$out/Hopper-v4-late.pt"
done
