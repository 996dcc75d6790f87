"""Learning curves: mean and interquartile band over seeds of each iteration's training return, one
panel per environment, one line per variant; with `--entropy`, a second row with the actor's entropy.
The iterations in which PPO-DAP's prior acted (its `dap/imitation_coef` above zero, in any seed) are
shaded. Runs come from compare.py output folders (their runs.csv) and/or `variant=glob` specs.

    python benchmarks/plot.py --results benchmarks/results/latest --output benchmarks/learning_curves.png
    python benchmarks/plot.py --runs "ppo=benchmarks/results/hopper_1m/seed*/runs/*/ppo/*" --entropy ...
"""

import csv
import glob
import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import List, Optional

import matplotlib
import numpy as np
import tyro

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@dataclass
class Args:
    results: List[str] = field(default_factory=list)
    """compare.py output folders (their runs.csv list the run folders)"""
    runs: List[str] = field(default_factory=list)
    """more runs as `variant=glob`, the glob matching run folders (named `{env_id}__{exp_name}__{seed}__{time}`)"""
    entropy: bool = False
    """add a row with the actor's entropy (losses/entropy) per iteration"""
    output: str = "benchmarks/learning_curves.png"
    """the PNG to write"""
    max_iterations: Optional[int] = None
    """plot only the first N iterations (default: all)"""


def read_progress(run_dir: str) -> list:
    with open(os.path.join(run_dir, "progress.csv")) as f:
        return list(csv.DictReader(f))


def curve(progress: list, key: str = "charts/episodic_return") -> tuple:
    """(global steps [iterations], `key` per iteration [iterations]) from a run's progress rows, carried
    forward over iterations without a value (an iteration in which no episode ended has no return)."""
    out, last = [], np.nan
    for r in progress:
        v = float(r.get(key) or "nan")
        last = v if not np.isnan(v) else last
        out.append(last)
    return np.array([int(r["global_step"]) for r in progress]), np.array(out)


def find_runs(args: Args) -> list:
    """(env_id, variant, run folder) for every run named by --results and --runs."""
    found = []
    for folder in args.results:
        with open(os.path.join(folder, "runs.csv")) as f:
            found += [(r["env_id"], r["variant"], r["run_dir"]) for r in csv.DictReader(f)]
    for spec in args.runs:
        variant, pattern = spec.split("=", 1)
        for run_dir in sorted(d for d in glob.glob(pattern) if os.path.isfile(os.path.join(d, "progress.csv"))):
            found.append((os.path.basename(run_dir).split("__")[0], variant, run_dir))  # {env_id}__{exp}__...
    if not found:
        raise SystemExit("error: no runs; give --results and/or --runs.")
    return found


def band(ax, seed_curves: list, label: str, max_iterations: Optional[int]):
    n = min(len(c[1]) for c in seed_curves)
    n = min(n, max_iterations) if max_iterations else n
    stacked = np.stack([c[1][:n] for c in seed_curves])
    x = seed_curves[0][0][:n]
    ax.plot(x, np.nanmean(stacked, 0), label=label)
    ax.fill_between(x, np.nanpercentile(stacked, 25, 0), np.nanpercentile(stacked, 75, 0), alpha=0.25)


def main(args: Args) -> None:
    curves = defaultdict(lambda: defaultdict(list))
    for env_id, variant, run_dir in find_runs(args):
        curves[env_id][variant].append(run_dir)
    rows = 2 if args.entropy else 1
    fig, axes = plt.subplots(rows, len(curves), figsize=(5 * len(curves), 3.8 * rows), squeeze=False)
    for col, (env_id, by_variant) in enumerate(curves.items()):
        active_until = 0  # the last step at which any PPO-DAP seed's prior acted
        for variant, run_dirs in by_variant.items():
            label = f"{variant} ({len(run_dirs)} seeds)"
            progress = [read_progress(d) for d in run_dirs]
            band(axes[0][col], [curve(p) for p in progress], label, args.max_iterations)
            if args.entropy:
                band(axes[1][col], [curve(p, "losses/entropy") for p in progress], label, args.max_iterations)
            for p in progress:
                steps, coef = curve(p, "dap/imitation_coef")
                if np.any(coef > 0):
                    active_until = max(active_until, steps[np.nonzero(coef > 0)[0][-1]])
        for row in range(rows):
            ax = axes[row][col]
            if active_until:
                ax.axvspan(0, active_until, color="grey", alpha=0.15, label="prior active (any seed)" if row == 0 else None)
            ax.set_xlabel("environment steps")
            ax.grid(alpha=0.3)
        axes[0][col].set_title(env_id)
        axes[0][col].set_ylabel("training episodic return")
        axes[0][col].legend(fontsize=8)
        if args.entropy:
            axes[1][col].set_ylabel("actor entropy (nats)")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    fig.savefig(args.output, dpi=110)
    print(f"saved {args.output}")


if __name__ == "__main__":
    main(tyro.cli(Args))
