"""Check that a change kept the numbers: run ppo_dap.py from this checkout and from another one (e.g.
the commit before the speed changes) with the same flags and seeds, and compare every logged number
(progress.csv without the timing columns, episodes.csv) and the saved weights, exactly.

    git worktree add /tmp/before b9ed309
    python benchmarks/dev/same_numbers.py --code-dir /tmp/before --env-id Walker2d-v4 --seeds 1 2 3 4 5
    python benchmarks/dev/same_numbers.py --code-dir /tmp/before --env-id Hopper-v4 --seeds 1 2 --flags=""
(a --flags value that starts with "--" needs the `--flags="..."` form)
"""

import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import List

import numpy as np
import torch
import tyro

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from compare import ROOT, read_csv  # noqa: E402

TIMING = ("time/", "charts/SPS")  # columns that measure the machine, not the run


@dataclass
class Args:
    code_dir: str
    """the other checkout (its ppo_dap.py is run from there, with its own priors/)"""
    env_id: str = "Walker2d-v4"
    """the task"""
    seeds: List[int] = field(default_factory=lambda: [1, 2, 3, 4, 5])
    """seeds; each is run by both checkouts"""
    total_timesteps: int = 102400
    """environment steps per run"""
    flags: str = "--imitation-coef 0"
    """more ppo_dap.py flags for both (the default: the PPO path; "" for PPO-DAP with its defaults)"""
    jobs: int = 2
    """runs at a time"""


def run(code_dir: str, args: Args, seed: int, runs_dir: str) -> str:
    """One run of `code_dir`/ppo_dap.py; returns its run folder."""
    cmd = [sys.executable, os.path.join(code_dir, "ppo_dap.py"), "--env-id", args.env_id, "--seed", str(seed),
           "--total-timesteps", str(args.total_timesteps), "--runs-dir", runs_dir, "--save-model",
           "--eval-episodes", "1", "--no-cuda", *args.flags.split()]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=code_dir)
    (run_dir,) = os.listdir(runs_dir)
    return os.path.join(runs_dir, run_dir)


def same_rows(rows1: list, rows2: list) -> bool:
    """The same rows of logged numbers: equal as float32 in every column both logs have (older code
    may print float32 values with fewer digits, or lack a column added since; a column only one log
    has is not a difference in the numbers)."""
    if len(rows1) != len(rows2):
        return False
    as_number = lambda v: np.float32(v) if v not in ("", "nan") else v  # noqa: E731
    common = [k for k in rows1[0] if k in rows2[0]] if rows1 else []
    return all(as_number(a[k]) == as_number(b[k]) for a, b in zip(rows1, rows2) for k in common)


def logged(run_dir: str) -> tuple:
    progress = [{k: v for k, v in row.items() if not k.startswith(TIMING)}
                for row in read_csv(os.path.join(run_dir, "progress.csv"))]
    weights = torch.load(os.path.join(run_dir, "model.pt"), weights_only=False)["agent"]
    return progress, read_csv(os.path.join(run_dir, "episodes.csv")), weights


def main(args: Args) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        jobs = [(code, seed, os.path.join(tmp, f"{name}_{seed}"))
                for seed in args.seeds for name, code in (("this", ROOT), ("other", os.path.abspath(args.code_dir)))]
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            dirs = list(pool.map(lambda job: run(job[0], args, job[1], job[2]), jobs))
        same_all = True
        for i, seed in enumerate(args.seeds):
            (p1, e1, w1), (p2, e2, w2) = logged(dirs[2 * i]), logged(dirs[2 * i + 1])
            same = same_rows(p1, p2) and same_rows(e1, e2) and w1.keys() == w2.keys() and all(torch.equal(w1[k], w2[k]) for k in w1)
            same_all &= same
            print(f"{args.env_id} seed {seed}: {len(p1)} iterations, {len(e1)} episodes, final return "
                  f"{p1[-1]['charts/episodic_return']}: {'identical' if same else 'DIFFERENT'}", flush=True)
    print("all identical" if same_all else "some runs differ")
    return same_all


if __name__ == "__main__":
    sys.exit(0 if main(tyro.cli(Args)) else 1)
