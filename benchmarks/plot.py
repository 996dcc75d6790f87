"""Learning curves from a compare.py output folder: mean and interquartile band over seeds of each
iteration's training return, one panel per environment, one line per variant; saved as PNG.

    python benchmarks/plot.py --results benchmarks/results/latest --output benchmarks/learning_curves.png
"""

import csv
import os
from collections import defaultdict
from dataclasses import dataclass
from typing import Optional

import matplotlib
import numpy as np
import tyro

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@dataclass
class Args:
    results: str = "benchmarks/results/latest"
    """a compare.py output folder (its runs.csv lists the run folders)"""
    output: str = "benchmarks/learning_curves.png"
    """the PNG to write"""
    max_iterations: Optional[int] = None
    """plot only the first N iterations (default: all)"""


def curve(run_dir: str) -> tuple:
    """(global steps [iterations], training return per iteration [iterations]), the return carried
    forward over iterations in which no episode ended."""
    with open(os.path.join(run_dir, "progress.csv")) as f:
        rows = list(csv.DictReader(f))
    out, last = [], np.nan
    for r in rows:
        v = float(r["charts/episodic_return"] or "nan")
        last = v if not np.isnan(v) else last
        out.append(last)
    return np.array([int(r["global_step"]) for r in rows]), np.array(out)


def main(args: Args) -> None:
    with open(os.path.join(args.results, "runs.csv")) as f:
        runs = list(csv.DictReader(f))
    curves = defaultdict(lambda: defaultdict(list))
    for r in runs:
        curves[r["env_id"]][r["variant"]].append(curve(r["run_dir"]))
    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 3.8), squeeze=False)
    for ax, (env_id, by_variant) in zip(axes[0], curves.items()):
        for variant, seed_curves in by_variant.items():
            n = min(len(c[1]) for c in seed_curves)
            if args.max_iterations:
                n = min(n, args.max_iterations)
            stacked = np.stack([c[1][:n] for c in seed_curves])
            x = seed_curves[0][0][:n]
            ax.plot(x, np.nanmean(stacked, 0), label=f"{variant} ({len(seed_curves)} seeds)")
            ax.fill_between(x, np.nanpercentile(stacked, 25, 0), np.nanpercentile(stacked, 75, 0), alpha=0.25)
        ax.set_title(env_id)
        ax.set_xlabel("environment steps")
        ax.set_ylabel("training episodic return")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    fig.savefig(args.output, dpi=110)
    print(f"saved {args.output}")


if __name__ == "__main__":
    main(tyro.cli(Args))
