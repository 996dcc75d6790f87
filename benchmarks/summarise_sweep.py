"""Summarise a sweep folder made by sweep_defaults.sh: AULC@40 and the last iteration's return for
every variant and seed, with each seed's AULC ratio to the `ppo` run of the same seed.

    python benchmarks/summarise_sweep.py runs/sweep
"""

import glob
import os
import sys

import numpy as np

from compare import aulc, read_csv


def main(folder: str) -> None:
    results = {}
    for path in sorted(glob.glob(os.path.join(folder, "*", "*", "progress.csv"))):
        variant = os.path.basename(os.path.dirname(os.path.dirname(path)))
        seed = int(os.path.basename(os.path.dirname(path)).split("__")[2])
        rows = read_csv(path)
        if len(rows) < 40:
            print(f"(still running: {path}, {len(rows)} iterations)")
            continue
        results.setdefault(variant, {})[seed] = (aulc(rows, 40), float(rows[-1]["charts/episodic_return"]))
    print("| variant | AULC@40 per seed | median AULC@40 | AULC ratio to ppo per seed | return at iteration 40 per seed |")
    print("| --- | --- | --- | --- | --- |")
    for variant, by_seed in results.items():
        seeds = sorted(by_seed)
        ratios = [by_seed[s][0] / results["ppo"][s][0] for s in seeds if s in results.get("ppo", {})]
        print(f"| {variant} | {' '.join(f'{by_seed[s][0]:.0f}' for s in seeds)} | "
              f"{np.median([by_seed[s][0] for s in seeds]):.0f} | {' '.join(f'{r:.2f}' for r in ratios)} | "
              f"{' '.join(f'{by_seed[s][1]:.0f}' for s in seeds)} |")


if __name__ == "__main__":
    main(sys.argv[1])
