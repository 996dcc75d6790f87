"""Our PPO (ppo_dap.py with the DAP coefficients at zero) against CleanRL's ppo_continuous_action.py,
run side by side on this machine: same env ids, seeds and budget, same metrics.

CleanRL's script is not part of this project; get it yourself (see benchmarks/README.md) and pass its
path. It logs episodes to stdout as `global_step=..., episodic_return=...` and its speed as
`SPS: ...` after each iteration; ours writes episodes.csv and progress.csv. Both are reduced to the
same numbers: the mean return of the last 100 training episodes, AULC over the whole budget (mean
over iterations of the iteration's mean training return, compare.aulc) and the final SPS
(global step / seconds since the training loop started, as both scripts compute it). With `--jobs 1`
every run is alone on the machine, which is how SPS should be compared.

    python benchmarks/cleanrl_side_by_side.py --cleanrl-script /tmp/cleanrl/ppo_continuous_action.py \
        --env-ids Hopper-v4 Walker2d-v4 --seeds 1 2 3 --total-timesteps 102400
"""

import csv
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np
import tyro

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import ROOT, aulc, last_episodes_mean, machine_description, median_iqr, read_csv, variant_flags  # noqa: E402

EPISODE_LINE = re.compile(r"global_step=(\d+), episodic_return=\[?([-0-9.eE+]+)\]?")
SPS_LINE = re.compile(r"^SPS: (\d+)", re.MULTILINE)


@dataclass
class Args:
    cleanrl_script: Optional[str] = None
    """path of CleanRL's ppo_continuous_action.py (needed unless --pool-runs is given)"""
    cleanrl_python: str = sys.executable
    """the Python that runs CleanRL's script (it needs tensorboard, which ours does not)"""
    env_ids: List[str] = field(default_factory=lambda: ["Hopper-v4", "Walker2d-v4"])
    """environment ids"""
    seeds: List[int] = field(default_factory=lambda: [1, 2, 3])
    """seeds; each is run by both implementations"""
    total_timesteps: int = 102400
    """environment steps per run"""
    num_steps: int = 2048
    """steps per PPO iteration (both scripts' default); used to bin CleanRL's episodes by iteration"""
    jobs: int = 2
    """runs at a time; 1 for an SPS comparison"""
    cleanrl_threads: int = 0
    """torch threads of CleanRL's runs via OMP_NUM_THREADS (ours always uses 1); 0 = torch's default"""
    out_dir: str = "benchmarks/results/cleanrl_side_by_side"
    """where the logs and the table go"""
    pool_runs: List[str] = field(default_factory=list)
    """runs.csv files of earlier invocations: make one table over all their runs, run nothing"""


def cleanrl_progress(log_text: str, num_steps: int) -> tuple:
    """CleanRL's stdout -> (progress rows in our progress.csv form, episode rows, final SPS)."""
    episodes = [{"global_step": int(s), "episodic_return": float(r)} for s, r in EPISODE_LINE.findall(log_text)]
    sps = [int(s) for s in SPS_LINE.findall(log_text)]
    by_iteration = {}
    for e in episodes:
        by_iteration.setdefault((e["global_step"] - 1) // num_steps + 1, []).append(e["episodic_return"])
    progress = [
        {"iteration": str(i), "charts/episodic_return": str(np.mean(by_iteration[i])) if i in by_iteration else "nan"}
        for i in range(1, len(sps) + 1)
    ]
    return progress, episodes, (sps[-1] if sps else float("nan"))


def run_ours(args: Args, env_id: str, seed: int) -> dict:
    runs_dir = os.path.join(args.out_dir, "ours", env_id)
    cmd = [sys.executable, os.path.join(ROOT, "ppo_dap.py"), "--env-id", env_id, "--seed", str(seed),
           "--total-timesteps", str(args.total_timesteps), "--eval-episodes", "0", "--runs-dir", runs_dir,
           "--exp-name", f"ppo_s{seed}", *variant_flags("ppo", env_id)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    run_dir = os.path.join(runs_dir, next(d for d in os.listdir(runs_dir) if f"__ppo_s{seed}__" in d))
    progress = read_csv(os.path.join(run_dir, "progress.csv"))
    episodes = read_csv(os.path.join(run_dir, "episodes.csv"))
    return {"impl": "ours", "env_id": env_id, "seed": seed, "progress": progress, "episodes": episodes,
            "sps": int(progress[-1]["charts/SPS"])}


def run_cleanrl(args: Args, env_id: str, seed: int) -> dict:
    work_dir = os.path.abspath(os.path.join(args.out_dir, "cleanrl", env_id))
    os.makedirs(work_dir, exist_ok=True)
    log_path = os.path.join(work_dir, f"seed{seed}.log")
    cmd = [args.cleanrl_python, os.path.abspath(args.cleanrl_script), "--env-id", env_id, "--seed", str(seed),
           "--total-timesteps", str(args.total_timesteps), "--no-cuda"]
    env = dict(os.environ, **({"OMP_NUM_THREADS": str(args.cleanrl_threads)} if args.cleanrl_threads else {}))
    with open(log_path, "w") as log:
        subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT, cwd=work_dir, env=env)
    with open(log_path) as f:
        progress, episodes, sps = cleanrl_progress(f.read(), args.num_steps)
    return {"impl": "cleanrl", "env_id": env_id, "seed": seed, "progress": progress, "episodes": episodes,
            "sps": sps}


def permutation_pvalue(a, b, num_resamples: int = 100000, seed: int = 0) -> float:
    """Two-sided permutation test of equal means for two independent samples (seeded Monte Carlo).
    Independent, not paired: the two scripts' trajectories part within the first few episodes."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    pooled, observed = np.concatenate([a, b]), abs(a.mean() - b.mean())
    rng = np.random.default_rng(seed)
    perms = np.argsort(rng.random((num_resamples, len(pooled))), axis=1)
    shuffled = pooled[perms]
    diffs = np.abs(shuffled[:, : len(a)].mean(axis=1) - shuffled[:, len(a):].mean(axis=1))
    return float((diffs >= observed - 1e-12).mean())


def write_table(rows: list, out_dir: str, title: str, setting: str) -> None:
    """results.md: per env and implementation the median [IQR] of each metric, with a permutation
    p-value for ours vs CleanRL's mean final return and AULC."""
    aulc_key = next(k for k in rows[0] if k.startswith("aulc"))
    lines = [f"# {title}", "", f"Machine: {machine_description()}. {setting}", "",
             f"| env | implementation | seeds | final return (last 100 ep.) | {aulc_key.replace('aulc', 'AULC@')} | SPS "
             "| per seed (final return) |", "| --- | --- | --- | --- | --- | --- | --- |"]
    tests = []
    for env_id in dict.fromkeys(r["env_id"] for r in rows):
        by_impl = {impl: sorted((r for r in rows if r["env_id"] == env_id and r["impl"] == impl),
                                key=lambda r: int(r["seed"])) for impl in ("ours", "cleanrl")}
        for impl, sel in by_impl.items():
            cells = []
            for key in ("final_return", aulc_key, "sps"):
                med, q25, q75 = median_iqr([float(r[key]) for r in sel])
                cells.append(f"{med:.0f} [{q25:.0f}, {q75:.0f}]")
            per_seed = ", ".join(f"{float(r['final_return']):.0f}" for r in sel)
            lines.append(f"| {env_id} | {impl} | {len(sel)} | {' | '.join(cells)} | {per_seed} |")
        for key in ("final_return", aulc_key):
            ours, theirs = ([float(r[key]) for r in by_impl[i]] for i in ("ours", "cleanrl"))
            tests.append(f"- {env_id}, {key}: mean ours {np.mean(ours):.0f}, CleanRL {np.mean(theirs):.0f}, "
                         f"permutation p = {permutation_pvalue(ours, theirs):.2f}")
    lines += ["", "Cells: median [25th, 75th percentile] over seeds. Equal means, two-sided:", "", *tests]
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(args: Args) -> list:
    os.makedirs(args.out_dir, exist_ok=True)
    if args.pool_runs:  # no new runs: one table over earlier runs.csv files
        rows = [r for path in args.pool_runs for r in read_csv(path)]
        write_table(rows, args.out_dir, "Our PPO vs CleanRL's ppo_continuous_action.py, pooled",
                    f"Runs from {', '.join(args.pool_runs)}.")
        return rows
    if args.cleanrl_script is None or not os.path.isfile(args.cleanrl_script):
        raise SystemExit(f"error: --cleanrl-script {args.cleanrl_script} does not exist.")
    # Alternate the two implementations so that, with two jobs, each CleanRL run has one of ours beside it.
    jobs = [(fn, env_id, seed) for env_id in args.env_ids for seed in args.seeds for fn in (run_cleanrl, run_ours)]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        runs = list(pool.map(lambda job: job[0](args, job[1], job[2]), jobs))

    num_iterations = args.total_timesteps // args.num_steps
    rows = []
    for run in runs:
        rows.append({"impl": run["impl"], "env_id": run["env_id"], "seed": run["seed"],
                     "final_return": last_episodes_mean(run["episodes"]),
                     f"aulc{num_iterations}": aulc(run["progress"], num_iterations), "sps": run["sps"]})
    with open(os.path.join(args.out_dir, "runs.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    write_table(rows, args.out_dir, f"Our PPO vs CleanRL's ppo_continuous_action.py, {args.total_timesteps} steps",
                f"Runs at a time: {args.jobs}. CleanRL's torch threads: {args.cleanrl_threads or 'default'} (ours: 1).")
    return rows


if __name__ == "__main__":
    main(tyro.cli(Args))
