"""Steps per second, every run alone on the machine, one torch thread each.

Three measurements, each a table in {out_dir}/speed.md (the runs in {out_dir}/runs.csv):
  1. ours vs CleanRL: the PPO path of ppo_dap.py against CleanRL's ppo_continuous_action.py (fetched
     by the user as benchmarks/README.md says), in pairs run back to back, the order alternated;
  2. PPO-DAP vs PPO, in pairs the same way, for each of --dap-variants (e.g. each prior kind: ppo-dap,
     gmm-prior, gaussian-prior, knn-prior); the budget lies inside the DAP phase (50,000 steps), so this
     is the overhead while the prior acts, the worst case;
  3. vector envs: our PPO path with --num-envs N (steps per env 2048 / N, so the batch stays 2048).
A run's SPS is the last one it prints: steps over the seconds of its training loop (ours leaves
evaluation out; there is none here).

    python benchmarks/speed.py --cleanrl-script $CLEANRL/ppo_continuous_action.py \
        --cleanrl-python $CLEANRL_VENV/bin/python
"""

import csv
import os
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np
import tyro

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cleanrl_side_by_side import SPS_LINE  # noqa: E402
from compare import ROOT, bootstrap_ci, machine_description, read_csv, student_t_ci, variant_flags  # noqa: E402


@dataclass
class Args:
    env_ids: List[str] = field(default_factory=lambda: ["Walker2d-v4", "Hopper-v4"])
    """environments of measurements 1 and 2"""
    pairs: int = 3
    """pairs per environment in measurements 1 and 2 (seeds 1..pairs)"""
    total_timesteps: int = 20480
    """environment steps per run (10 PPO iterations)"""
    cleanrl_script: Optional[str] = None
    """CleanRL's ppo_continuous_action.py; without it measurement 1 is skipped"""
    cleanrl_python: str = sys.executable
    """the Python that runs CleanRL's script (it needs tensorboard, which ours does not)"""
    dap_variants: List[str] = field(default_factory=lambda: ["ppo-dap"])
    """measurement 2: these compare.py variants, each against PPO (none: skipped)"""
    priors_dir: Optional[str] = None
    """measurement 2: the variants' priors (compare.py's --priors-dir; default: the shipped priors/)"""
    vector_envs: List[int] = field(default_factory=lambda: [1, 2, 4])
    """measurement 3: the values of --num-envs (none: skipped)"""
    vector_env_id: str = "Hopper-v4"
    """environment of measurement 3"""
    out_dir: str = "benchmarks/results/speed"
    """where runs.csv and speed.md go"""


def run_ours(args: Args, env_id: str, seed: int, flags: str) -> float:
    """One ppo_dap.py run alone, one torch thread; returns its final SPS."""
    with tempfile.TemporaryDirectory() as runs_dir:
        cmd = [sys.executable, os.path.join(ROOT, "ppo_dap.py"), "--env-id", env_id, "--seed", str(seed),
               "--total-timesteps", str(args.total_timesteps), "--eval-episodes", "0", "--runs-dir", runs_dir,
               "--no-cuda", *shlex.split(flags)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=dict(os.environ, OMP_NUM_THREADS="1"))
        (run_dir,) = os.listdir(runs_dir)
        return float(read_csv(os.path.join(runs_dir, run_dir, "progress.csv"))[-1]["charts/SPS"])


def run_cleanrl(args: Args, env_id: str, seed: int) -> float:
    """One run of CleanRL's script alone, one torch thread; returns its final SPS."""
    with tempfile.TemporaryDirectory() as work_dir:  # it writes runs/ into its working folder
        cmd = [args.cleanrl_python, os.path.abspath(args.cleanrl_script), "--env-id", env_id, "--seed", str(seed),
               "--total-timesteps", str(args.total_timesteps), "--no-cuda"]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=work_dir,
                             env=dict(os.environ, OMP_NUM_THREADS="1")).stdout
    return float(SPS_LINE.findall(out)[-1])


def paired(args: Args, kind: str, first, second) -> list:
    """Pairs of runs (first, second) for each env and seed, back to back, the order alternating."""
    rows = []
    for env_id in args.env_ids:
        for seed in range(1, args.pairs + 1):
            order = [("a", first), ("b", second)] if seed % 2 else [("b", second), ("a", first)]
            sps = {}
            for which, (name, fn) in order:
                sps[which] = fn(env_id, seed)
                rows.append({"kind": kind, "env_id": env_id, "seed": seed, "impl": name, "sps": sps[which]})
                print(f"{kind} {env_id} seed {seed} {name}: {sps[which]:.0f} SPS", flush=True)
    return rows


def ratio_table(rows: list, kind: str, numerator: str, denominator: str) -> list:
    lines = [f"| env | {numerator} SPS, median | {denominator} SPS, median | ratio per pair | mean ratio | "
             "bootstrap 95% | Student-t 95% |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for env_id in dict.fromkeys(r["env_id"] for r in rows if r["kind"] == kind):
        mine = {r["seed"]: r["sps"] for r in rows if (r["kind"], r["env_id"], r["impl"]) == (kind, env_id, numerator)}
        base = {r["seed"]: r["sps"] for r in rows if (r["kind"], r["env_id"], r["impl"]) == (kind, env_id, denominator)}
        ratios = np.array([mine[s] / base[s] for s in sorted(mine)])
        lo, hi = bootstrap_ci(ratios)  # nan below BOOTSTRAP_MIN_PAIRS pairs
        tlo, thi = student_t_ci(ratios)
        boot = "none (too few pairs)" if np.isnan(lo) else f"[{lo:.3f}, {hi:.3f}]"
        lines.append(f"| {env_id} | {np.median(list(mine.values())):.0f} | {np.median(list(base.values())):.0f} | "
                     f"{', '.join(f'{r:.3f}' for r in ratios)} | **{ratios.mean():.3f}** | {boot} | "
                     f"[{tlo:.3f}, {thi:.3f}] |")
    return lines


def main(args: Args) -> list:
    if args.cleanrl_script is not None and not os.path.isfile(args.cleanrl_script):
        raise SystemExit(f"error: --cleanrl-script {args.cleanrl_script} does not exist.")
    os.makedirs(args.out_dir, exist_ok=True)
    ppo = shlex.join(variant_flags("ppo", ""))
    rows = []
    md = ["# Steps per second", "", f"Machine: {machine_description()}. Every run alone, one torch thread, "
          f"{args.total_timesteps} steps; pairs run back to back with the order alternated.", ""]
    if args.cleanrl_script:
        rows += paired(args, "cleanrl", ("ours", lambda e, s: run_ours(args, e, s, ppo)),
                       ("cleanrl", lambda e, s: run_cleanrl(args, e, s)))
        md += ["## Our PPO path vs CleanRL's ppo_continuous_action.py", ""]
        md += ratio_table(rows, "cleanrl", "ours", "cleanrl") + [""]
    for variant in args.dap_variants:
        dap = lambda e, s, v=variant: run_ours(args, e, s, shlex.join(variant_flags(v, e, args.priors_dir)))  # noqa: E731
        kind = "dap" if variant == "ppo-dap" else variant
        rows += paired(args, kind, (variant, dap), ("ppo", lambda e, s: run_ours(args, e, s, ppo)))
        md += [f"## {variant} vs PPO, inside the DAP phase", ""]
        md += ratio_table(rows, kind, variant, "ppo") + [""]
    if args.vector_envs:
        md += [f"## Vector envs, {args.vector_env_id}, our PPO path (batch 2048 = N x steps per env)", "",
               "| N | SPS |", "| --- | --- |"]
        for n in args.vector_envs:
            flags = f"{ppo} --num-envs {n} --num-steps {2048 // n}"
            sps = run_ours(args, args.vector_env_id, 1, flags)
            rows.append({"kind": "vector", "env_id": args.vector_env_id, "seed": 1, "impl": f"sync-{n}", "sps": sps})
            print(f"vector N={n}: {sps:.0f} SPS", flush=True)
            md.append(f"| {n} | {sps:.0f} |")
    with open(os.path.join(args.out_dir, "runs.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["kind", "env_id", "seed", "impl", "sps"])
        writer.writeheader()
        writer.writerows(rows)
    with open(os.path.join(args.out_dir, "speed.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))
    return rows


if __name__ == "__main__":
    main(tyro.cli(Args))
