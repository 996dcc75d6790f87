"""PPO-DAP vs PPO side by side: run ppo_dap.py for env ids x seeds x variants, then tabulate.

Each run is its own process (`jobs` at a time), or with `--launcher ray` a Ray task on a local Ray
instance or a cluster; runs are ordered so that the variants of one (env, seed) run in the same
batch, side by side (on a cluster they may run on different machines). Per (env, variant) it reports the median and
interquartile range over seeds of AULC@40, the final return (mean of the last 100 training episodes),
the deterministic evaluation return, the training loop's wall-clock time, the whole process's
wall-clock time (start-up and evaluation included) and peak resident memory, and, for every variant
against `ppo`, the ratio of the means over the same seeds with a bootstrap 95% interval. Tables go to
`{out_dir}/results.md` and `{out_dir}/results.csv`; the raw per-run numbers to `{out_dir}/runs.csv`.
A run that fails is listed under the tables, and the call then ends with status 1.

    python benchmarks/compare.py --env-ids Walker2d-v4 Hopper-v4 --seeds 1 2 3 4 5

Runs made by separate invocations (say one seed at a time) are tabulated together with
`--pool-runs a/runs.csv b/runs.csv --out-dir c`.
"""

import csv
import dataclasses
import glob
import importlib.util
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import List, Literal, Optional

import numpy as np
import torch
import tyro

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from pretrain_prior import PRIOR_KINDS, PRIORS_DIR, prior_file  # noqa: E402

# Variants are plain flag sets of ppo_dap.py. `variant_flags` fills in {env_id}, and {diffusion}, {gmm},
# {gaussian}, {knn} with that kind's prior in --priors-dir (pretrain_prior.prior_file's layout).
VARIANTS = {
    "ppo": "--imitation-coef 0 --kl-coef 0",
    "ppo-dap": "--prior-path {diffusion}",
    "frozen-prior": "--prior-path {diffusion} --peft none",
    "no-reweighting": "--prior-path {diffusion} --num-proposals 1",
    "kl": "--prior-path {diffusion} --kl-coef 0.01",
    "guidance": "--prior-path {diffusion} --guidance-scale 1.0",
    "gmm-prior": "--prior-path {gmm}",  # a mixture of Gaussians: several modes, no diffusion
    "gaussian-prior": "--prior-path {gaussian}",  # the ablation: same pipeline, a Gaussian prior
    "knn-prior": "--prior-path {knn} --peft none",  # retrieval in place of the DDPM (nothing to adapt)
    "rpo": "--imitation-coef 0 --kl-coef 0 --rpo-alpha 0.5",  # CleanRL's RPO, the on-policy baseline it recommends
    "rpo-dap": "--prior-path {diffusion} --rpo-alpha 0.5",
}


def variant_flags(variant: str, env_id: str, priors_dir: Optional[str] = None) -> list:
    """ppo_dap.py's flags of one variant on one task, its priors read from `priors_dir` (default: the
    repository's priors/, named relative to the working folder)."""
    priors_dir = priors_dir or os.path.relpath(PRIORS_DIR)
    priors = {kind: prior_file(priors_dir, env_id, kind) for kind in PRIOR_KINDS}
    return shlex.split(VARIANTS[variant].format(env_id=env_id, **priors))


@dataclass
class Args:
    env_ids: List[str] = field(default_factory=lambda: ["Walker2d-v4"])
    """environments to compare on (the DAP variants need their priors in --priors-dir)"""
    seeds: List[int] = field(default_factory=lambda: [1, 2, 3, 4, 5])
    """seeds; every variant runs on every seed"""
    variants: List[str] = field(default_factory=lambda: ["ppo", "ppo-dap"])
    """variant names (keys of VARIANTS); `ppo` is the baseline of the ratios"""
    total_timesteps: int = 81920
    """environment steps per run (81,920 = 40 PPO iterations of 2048 steps)"""
    eval_episodes: int = 10
    """deterministic evaluation episodes of each run's saved actor"""
    jobs: int = 2
    """runs at a time (2 on the 2-core CPU machine); with --launcher ray, the CPUs of the local Ray instance"""
    launcher: Literal["local", "ray"] = "local"
    """`local`: a process pool on this machine; `ray`: one Ray task with one CPU per run, on a local Ray
    instance or the cluster at --ray-address (needs `pip install -r requirements-bench.txt`)"""
    ray_address: Optional[str] = None
    """with --launcher ray: the address of a running Ray cluster (`ray start --head` prints it; `auto` finds a
    cluster started on this machine); without it a local Ray instance with --jobs CPUs is started"""
    ray_retries: int = 2
    """with --launcher ray: how often a run whose worker died is started again (Ray's max_retries)"""
    priors_dir: Optional[str] = None
    """the DAP variants' priors: {env_id}.pt (the DDPM), {env_id}-gmm.pt, -gaussian.pt, -knn.pt (default: the
    shipped priors/; e.g. a dataset kind's folder of benchmarks/results/data_kinds/priors)"""
    out_dir: str = "benchmarks/results/latest"
    """where the runs and the tables go"""
    extra_flags: str = ""
    """flags added to every run (e.g. `--cuda` or, for a smoke test, `--num-steps 256`)"""
    aulc_iterations: int = 40
    """the N of AULC@N (runs with fewer iterations give AULC over those they have, named so)"""
    pool_runs: List[str] = field(default_factory=list)
    """runs.csv files of earlier invocations (e.g. one per seed): tabulate all their runs together, run nothing"""
    pool_seeds: List[int] = field(default_factory=list)
    """with --pool-runs: tabulate only the runs of these seeds (default: every seed in the files)"""
    eval_every: int = 0
    """with N > 0, each run evaluates deterministically every N steps (eval.csv) and the tables add the paper's ALC@40 (the paper: 5000, with --total-timesteps of at least 200704 to reach epoch 40)"""
    alc_epochs: int = 40
    """the N of the paper's ALC@N (epochs of --eval-every steps); runs that evaluated fewer epochs give ALC over those they have, named so"""


# ---------------------------------------------------------------------------------------------------
# Metrics (pure functions of the files a run writes)


def read_csv(path: str) -> list:
    with open(path) as f:
        return list(csv.DictReader(f))


def aulc(progress: list, num_iterations: int = 40) -> float:
    """Area under the learning curve: the mean over iterations 1..N of the iteration's mean training
    episodic return (METHOD.md section 4). An iteration in which no episode ended carries the last
    value forward; iterations before the first finished episode are left out."""
    rows = [r for r in progress if int(r["iteration"]) <= num_iterations]
    if len(rows) < num_iterations:
        raise ValueError(f"AULC@{num_iterations} needs {num_iterations} iterations, the run has {len(rows)}")
    values, last = [], None
    for r in rows:
        value = float(r["charts/episodic_return"]) if r["charts/episodic_return"] not in ("", "nan") else np.nan
        last = value if not np.isnan(value) else last
        if last is not None:
            values.append(last)
    return float(np.mean(values)) if values else float("nan")


def alc(eval_rows: list, num_epochs: int = 40) -> float:
    """The paper's ALC@N: the trapezoid area under the deterministic-evaluation return over epochs
    0..N of eval.csv (one row per epoch, as `ppo_dap.py --eval-every` writes them)."""
    by_epoch = {int(r["epoch"]): float(r["mean_return"]) for r in eval_rows}
    missing = [e for e in range(num_epochs + 1) if e not in by_epoch]
    if missing:
        raise ValueError(f"ALC@{num_epochs} needs evaluations at epochs 0..{num_epochs}; missing {missing[:5]}")
    y = np.array([by_epoch[e] for e in range(num_epochs + 1)])
    return float(((y[:-1] + y[1:]) / 2).sum())


def last_episodes_mean(episodes: list, n: int = 100) -> float:
    """Mean return of the last n training episodes (CleanRL's final-return convention)."""
    returns = [float(e["episodic_return"]) for e in episodes[-n:]]
    return float(np.mean(returns)) if returns else float("nan")


def median_iqr(values) -> tuple:
    """(median, 25th percentile, 75th percentile)."""
    v = np.asarray(values, dtype=float)
    return float(np.median(v)), float(np.percentile(v, 25)), float(np.percentile(v, 75))


def paired(treatment: dict, baseline: dict) -> tuple:
    """(treatment values, baseline values) over the seeds both have, sorted by seed: two arrays of shape (n,)."""
    seeds = sorted(set(treatment) & set(baseline))
    return np.array([treatment[s] for s in seeds], dtype=float), np.array([baseline[s] for s in seeds], dtype=float)


# two-sided 95% quantiles of Student's t for 1..30 degrees of freedom (beyond: the normal's 1.96)
T_975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042]


def student_t_ci(values) -> tuple:
    """The paper's interval: mean +- t_{0.975, n-1} * sd / sqrt(n) over the seeds (nan for n < 2)."""
    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return float("nan"), float("nan")
    half = (T_975[len(v) - 2] if len(v) - 1 <= len(T_975) else 1.96) * v.std(ddof=1) / np.sqrt(len(v))
    return float(v.mean() - half), float(v.mean() + half)


def wilcoxon_p(differences) -> float:
    """The paper's test: exact two-sided p-value of the Wilcoxon signed-rank test on paired differences
    (zeros dropped, ties given average ranks), by enumerating every sign pattern (n <= 20)."""
    d = np.asarray([x for x in differences if x != 0], dtype=float)
    n = len(d)
    if n == 0:
        return 1.0
    order = np.argsort(np.abs(d))
    ranks = np.empty(n)
    sorted_abs = np.abs(d)[order]
    i = 0
    while i < n:  # average ranks over ties
        j = i
        while j + 1 < n and sorted_abs[j + 1] == sorted_abs[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    observed = ranks[d > 0].sum()
    signs = (np.arange(2**n)[:, None] >> np.arange(n)) & 1
    stats = signs @ ranks
    centre = ranks.sum() / 2
    return float(np.mean(np.abs(stats - centre) >= abs(observed - centre) - 1e-9))


BOOTSTRAP_MIN_PAIRS = 5  # with fewer seed pairs a percentile bootstrap spans little more than the per-seed
#   values (3 pairs have 10 distinct resamples), which is no 95% interval: the bootstrap intervals are nan there


def ratio_of_means_ci(treatment, baseline, num_resamples: int = 10000, seed: int = 0) -> tuple:
    """Percentile-bootstrap 95% interval of mean(treatment) / mean(baseline), resampling the seed pairs
    (each seed's two values stay together); the baseline values must be positive. nan for fewer than
    BOOTSTRAP_MIN_PAIRS pairs."""
    t, b = np.asarray(treatment, dtype=float), np.asarray(baseline, dtype=float)
    if len(t) < BOOTSTRAP_MIN_PAIRS:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(t), size=(num_resamples, len(t)))
    ratios = t[idx].mean(axis=1) / b[idx].mean(axis=1)
    return float(np.percentile(ratios, 2.5)), float(np.percentile(ratios, 97.5))


def bootstrap_ci(values, num_resamples: int = 10000, seed: int = 0) -> tuple:
    """Percentile-bootstrap 95% interval of the mean of `values` (resampling the seed pairs); nan for fewer
    than BOOTSTRAP_MIN_PAIRS values."""
    v = np.asarray(values, dtype=float)
    if len(v) < BOOTSTRAP_MIN_PAIRS:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(num_resamples, len(v)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


# ---------------------------------------------------------------------------------------------------
# Running


def runs_dir_of(args: Args, env_id: str, variant: str) -> str:
    return os.path.join(args.out_dir, "runs", env_id, variant)


def run_argv(args: Args, env_id: str, variant: str, seed: int) -> list:
    """ppo_dap.py's arguments for one run (its folder goes to runs_dir_of)."""
    return ["--env-id", env_id, "--seed", str(seed), "--total-timesteps", str(args.total_timesteps),
            "--exp-name", variant, "--runs-dir", runs_dir_of(args, env_id, variant), "--save-model",
            "--eval-episodes", str(args.eval_episodes), "--eval-every", str(args.eval_every),
            *variant_flags(variant, env_id, args.priors_dir), *shlex.split(args.extra_flags)]


def execute(script: str, argv: list, log_path: str, cwd: Optional[str] = None) -> tuple:
    """Run `python script argv` with its output in log_path; (exit status, wall-clock s, peak resident MB).
    Standard library only: a Ray worker runs it too."""
    start = time.time()
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, script, *argv], stdout=log, stderr=subprocess.STDOUT, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
    return os.waitstatus_to_exitcode(status), time.time() - start, usage.ru_maxrss / 1024


def failed_row(env_id: str, variant: str, seed: int, reason: str, log_path: str) -> dict:
    """A run that failed: its row says why and where its log is."""
    print(f"FAILED {env_id} {variant} seed {seed} ({reason}); see {log_path}", flush=True)
    return {"env_id": env_id, "variant": variant, "seed": seed, "failed": f"{reason}, see {log_path}"}


def finished(env_id: str, variant: str, seed: int, status: int, wall: float, rss: float, runs_dir: str,
             log_path: str) -> dict:
    """The run's row: its cost and folder, or `failed` with where to read why."""
    row = {"env_id": env_id, "variant": variant, "seed": seed}
    if status != 0:
        return failed_row(env_id, variant, seed, f"exit status {status}", log_path)
    run_dir = max(glob.glob(os.path.join(runs_dir, f"{env_id}__{variant}__{seed}__*")), key=os.path.getmtime)
    print(f"done {env_id} {variant} seed {seed}: {wall:.0f}s", flush=True)
    return {**row, "wall_s": wall, "peak_rss_mb": rss, "run_dir": run_dir}


def run_local(args: Args, jobs: list) -> list:
    """Each (env, variant, seed) as its own ppo_dap.py process, --jobs at a time."""
    def run_one(job):
        env_id, variant, seed = job
        runs_dir = runs_dir_of(args, env_id, variant)
        os.makedirs(runs_dir, exist_ok=True)
        log_path = os.path.join(runs_dir, f"seed{seed}.log")
        status, wall, rss = execute(os.path.join(ROOT, "ppo_dap.py"), run_argv(args, env_id, variant, seed), log_path)
        return finished(env_id, variant, seed, status, wall, rss, runs_dir, log_path)

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        return list(pool.map(run_one, jobs))


# Files a Ray task gets: the two scripts (ppo_dap.py imports pretrain_prior.py) and the run's prior.
SHIPPED_SCRIPTS = ("ppo_dap.py", "pretrain_prior.py")
SHIPPED_FLAGS = ("--prior-path",)


def input_files(argv: list, positions: bool = False) -> list:
    """The files a run reads (the values of SHIPPED_FLAGS in its arguments), or their positions in argv."""
    found = [i + 1 for i, token in enumerate(argv[:-1]) if token in SHIPPED_FLAGS]
    return found if positions else [argv[i] for i in found]


def ray_task(files: dict, argv: list) -> dict:
    """One run as a Ray task: writes the shipped files {relative path: bytes} into a temporary folder of
    the worker, runs ppo_dap.py there (its runs folder is `runs`) and returns the run folder's files
    {relative path: bytes}, its log and its cost. Standard library only, so that any worker can run it."""
    import tempfile
    with tempfile.TemporaryDirectory() as work:
        for name, data in files.items():
            os.makedirs(os.path.dirname(os.path.join(work, name)), exist_ok=True)
            with open(os.path.join(work, name), "wb") as f:
                f.write(data)
        log_path = os.path.join(work, "run.log")
        status, wall, rss = execute("ppo_dap.py", argv, log_path, cwd=work)
        outputs = {}
        for folder, _, names in os.walk(os.path.join(work, "runs")):
            for name in names:
                path = os.path.join(folder, name)
                with open(path, "rb") as f:
                    outputs[os.path.relpath(path, os.path.join(work, "runs"))] = f.read()
        with open(log_path, "rb") as f:
            log = f.read()
    return {"status": status, "wall_s": wall, "peak_rss_mb": rss, "files": outputs, "log": log}


def shipped(args: Args, env_id: str, variant: str, seed: int) -> tuple:
    """A Ray task's (files, argv): run_argv with its runs folder and its input files renamed into the task's
    temporary folder, and those files' contents."""
    argv = run_argv(args, env_id, variant, seed)
    files = {}
    for name in SHIPPED_SCRIPTS:
        with open(os.path.join(ROOT, name), "rb") as f:
            files[name] = f.read()
    argv[argv.index("--runs-dir") + 1] = "runs"
    for i in input_files(argv, positions=True):
        name = f"inputs/{len(files)}-{os.path.basename(argv[i])}"
        with open(argv[i], "rb") as f:
            files[name] = f.read()
        argv[i] = name
    return files, argv


def write_run_folder(runs_dir: str, files: dict) -> None:
    """Write a Ray task's run folder {"{run folder}/{file}": bytes} under runs_dir: first into a hidden
    folder beside it, then renamed, so that an interrupted driver leaves no half-written run folder."""
    (folder,) = {name.split(os.sep, 1)[0] for name in files}
    incoming = os.path.join(runs_dir, f".incoming-{folder}")
    for name, data in files.items():
        path = os.path.join(incoming, name.split(os.sep, 1)[1])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    os.replace(incoming, os.path.join(runs_dir, folder))


def run_ray(args: Args, jobs: list) -> list:
    """Each (env, variant, seed) as a Ray task with one CPU; the driver writes each run's files where
    run_local would. A task whose worker dies is started again up to --ray-retries times; a run that
    still fails is returned as failed."""
    import ray  # main checked that it is installed

    if __name__ != "__main__":  # imported (the tests): workers cannot import this module, so ship ray_task's code
        ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    local = {} if args.ray_address else {"num_cpus": args.jobs, "_system_config": {"worker_niceness": 0}}
    ray.init(address=args.ray_address, include_dashboard=False, log_to_driver=False, **local)  # a local instance's
    # workers run at the normal CPU priority, as the local launcher's runs (Ray's default lowers it)
    try:
        task = ray.remote(num_cpus=1, max_retries=args.ray_retries)(ray_task)
        pending = {task.remote(*shipped(args, *job)): job for job in jobs}
        rows = {}
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            env_id, variant, seed = job = pending.pop(ref)
            runs_dir = runs_dir_of(args, env_id, variant)
            log_path = os.path.join(runs_dir, f"seed{seed}.log")
            os.makedirs(runs_dir, exist_ok=True)
            try:
                result = ray.get(ref)
            except ray.exceptions.RayError as err:  # e.g. the worker died more than --ray-retries times
                with open(log_path, "w") as f:
                    f.write(f"{err}\n")
                rows[job] = failed_row(env_id, variant, seed, f"Ray: {type(err).__name__}", log_path)
                continue
            if result["files"]:  # a run that failed at its start has no folder
                write_run_folder(runs_dir, result["files"])
            with open(log_path, "wb") as f:
                f.write(result["log"])
            rows[job] = finished(env_id, variant, seed, result["status"], result["wall_s"], result["peak_rss_mb"],
                                 runs_dir, log_path)
        return [rows[job] for job in jobs]
    finally:
        ray.shutdown()


def measured_length(run_dir: str) -> tuple:
    """(iterations in progress.csv, the last epoch N such that eval.csv has epochs 0..N, or None without
    evaluations) of a finished run."""
    iterations = len(read_csv(os.path.join(run_dir, "progress.csv")))
    eval_csv = os.path.join(run_dir, "eval.csv")
    if not os.path.exists(eval_csv):
        return iterations, None
    epochs = {int(r["epoch"]) for r in read_csv(eval_csv)}
    last = -1
    while last + 1 in epochs:
        last += 1
    return iterations, last


def common_lengths(args: Args, runs: list) -> tuple:
    """The N of AULC@N and of ALC@N that every run can give: --aulc-iterations and --alc-epochs, or less
    where the runs are shorter (each shortening printed, with why)."""
    lengths = [measured_length(r["run_dir"]) for r in runs]
    aulc_n = min([args.aulc_iterations] + [i for i, _ in lengths])
    evaluated = [e for _, e in lengths if e is not None]
    alc_n = min([args.alc_epochs] + evaluated)
    if aulc_n < args.aulc_iterations:
        print(f"AULC@{aulc_n} in place of AULC@{args.aulc_iterations}: the shortest run has {aulc_n} iterations.")
    if evaluated and alc_n < args.alc_epochs:
        print(f"ALC@{alc_n} in place of the paper's ALC@{args.alc_epochs}: the runs evaluated up to epoch {alc_n} "
              f"only (ALC@{args.alc_epochs} needs an evaluation at or past step {args.alc_epochs} x --eval-every, so "
              "--total-timesteps, rounded down to whole iterations, must reach that step; e.g. the paper's ALC@40 "
              "with --eval-every 5000 and 2048-step iterations needs --total-timesteps 200704, not 200000).")
    return aulc_n, alc_n


def collect(run: dict, aulc_iterations: int, alc_epochs: int = 40) -> dict:
    """Add the metrics read from a finished run's files."""
    progress = read_csv(os.path.join(run["run_dir"], "progress.csv"))
    episodes = read_csv(os.path.join(run["run_dir"], "episodes.csv"))
    with open(os.path.join(run["run_dir"], "eval.json")) as f:
        evaluation = json.load(f)
    eval_csv = os.path.join(run["run_dir"], "eval.csv")
    alc_value = alc(read_csv(eval_csv), alc_epochs) if os.path.exists(eval_csv) else float("nan")
    return {**run, "aulc": aulc(progress, aulc_iterations), "alc": alc_value,
            "final_return": last_episodes_mean(episodes),
            "eval_return": evaluation["mean"], "train_s": float(progress[-1]["time/elapsed_s"]),
            "peak_gpu_mb": float(progress[-1].get("perf/peak_gpu_mb") or "nan")}


METRICS = [("aulc", "AULC@{n}"), ("alc", "ALC@{m} (paper)"), ("final_return", "final return (last 100)"), ("eval_return", "eval return"),
           ("train_s", "training s"), ("wall_s", "process wall-clock s"), ("peak_rss_mb", "peak RSS MB"),
           ("peak_gpu_mb", "peak GPU MB")]


def measured_metrics(runs: list) -> list:
    """The METRICS some run has a value for (peak GPU memory exists only for --cuda runs)."""
    return [(key, name) for key, name in METRICS
            if any(not np.isnan(float(r.get(key, "nan") or "nan")) for r in runs)]


def tabulate(runs: list, variants: list, aulc_iterations: int) -> tuple:
    """Summary rows (one per env x variant) and ratio rows (one per env x variant x metric vs ppo)."""
    summary, ratios, metrics = [], [], measured_metrics(runs)
    for env_id in dict.fromkeys(r["env_id"] for r in runs):
        by_variant = {v: {r["seed"]: r for r in runs if r["env_id"] == env_id and r["variant"] == v} for v in variants}
        for variant in variants:
            if not by_variant[variant]:  # pooled runs: this variant was not run on this env
                continue
            row = {"env_id": env_id, "variant": variant, "seeds": len(by_variant[variant])}
            for key, _ in metrics:
                row[key], row[f"{key}_q25"], row[f"{key}_q75"] = median_iqr([r[key] for r in by_variant[variant].values()])
            summary.append(row)
            if variant == "ppo" or not by_variant.get("ppo"):
                continue
            for key, _ in metrics:
                treated = {s: r[key] for s, r in by_variant[variant].items()}
                base = {s: r[key] for s, r in by_variant["ppo"].items()}
                t, b = paired(treated, base)
                diffs = t - b
                diff_low, diff_high = bootstrap_ci(diffs)
                row = {"env_id": env_id, "variant": variant, "metric": key, "pairs": len(diffs),
                       "mean_difference": float(diffs.mean()), "diff_ci_low": diff_low, "diff_ci_high": diff_high,
                       "wilcoxon_p": wilcoxon_p(diffs)}
                row["diff_t_low"], row["diff_t_high"] = student_t_ci(diffs)
                # a ratio means nothing when the baseline can be zero or negative (HalfCheetah's early returns)
                if (b > 0).all():
                    low, high = ratio_of_means_ci(t, b)
                    row.update(ratio=float(t.mean() / b.mean()), ci_low=low, ci_high=high,
                               per_seed=" ".join(f"{v:.3f}" for v in t / b))
                else:
                    row.update(ratio=float("nan"), ci_low=float("nan"), ci_high=float("nan"),
                               per_seed="n/a (PPO's value <= 0)")
                ratios.append(row)
    return summary, ratios


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    if os.path.exists("/proc/cpuinfo"):
        names = [line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")]
        cpu = names[0] if names else cpu
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU"
    return f"{cpu}, {os.cpu_count()} cores{gpu}, torch {torch.__version__}, Python {platform.python_version()}"


def read_runs(path: str) -> list:
    """The rows of a runs.csv written by `write_tables`, with numbers as numbers."""
    text_fields = ("env_id", "variant", "run_dir")
    return [{k: v if k in text_fields else int(v) if k == "seed" else float(v or "nan") for k, v in row.items()}
            for row in read_csv(path)]


def write_tables(out_dir: str, summary: list, ratios: list, args: Args, runs: list, failed: list = ()) -> None:
    n, metrics = args.aulc_iterations, measured_metrics(runs)
    if args.pool_runs:
        seeds = " ".join(map(str, sorted({r["seed"] for r in runs})))
        setting = f"Runs pooled from {', '.join(os.path.relpath(p, ROOT) for p in args.pool_runs)}, seeds {seeds}."  # no machine path
    else:
        where = (f"on the Ray cluster at {args.ray_address}, one CPU per run (the machine above is the driver's)"
                 if args.launcher == "ray" and args.ray_address else f"{args.jobs} runs at a time")
        setting = f"Budget: {args.total_timesteps} steps per run, seeds {' '.join(map(str, args.seeds))}, {where}."
    lines = [f"Machine: {machine_description()}.", f"{setting} Median [interquartile range] over seeds.", "",
             "| env | variant | seeds | " + " | ".join(name.format(n=n, m=args.alc_epochs) for _, name in metrics) + " |",
             "|" + " --- |" * (3 + len(metrics))]
    for row in summary:
        cells = [f"{row[k]:.1f} [{row[k + '_q25']:.1f}, {row[k + '_q75']:.1f}]" for k, _ in metrics]
        lines.append(f"| {row['env_id']} | {row['variant']} | {row['seeds']} | " + " | ".join(cells) + " |")
    lines += ["", "Against `ppo`, on the seeds both have (same seed, same batch): the ratio of the means with a "
              "bootstrap 95% interval (resampling seed pairs) and the ratio per seed; the mean paired difference with "
              "its bootstrap and the paper's Student-t 95% intervals, and the paper's paired Wilcoxon signed-rank "
              f"p-value (exact). No ratio where PPO's value is not positive; no bootstrap interval (nan) below "
              f"{BOOTSTRAP_MIN_PAIRS} pairs, no Student-t interval below 2.", "",
              "| env | variant | metric | pairs | ratio of means | bootstrap 95% | ratio per seed | "
              "mean difference | bootstrap 95% | Student-t 95% | Wilcoxon p |",
              "|" + " --- |" * 11]
    for r in ratios:
        lines.append(f"| {r['env_id']} | {r['variant']} | {dict(METRICS)[r['metric']].format(n=n, m=args.alc_epochs)} | "
                     f"{r['pairs']} | {r['ratio']:.3f} | [{r['ci_low']:.3f}, {r['ci_high']:.3f}] | "
                     f"{r['per_seed']} | {r['mean_difference']:.1f} | "
                     f"[{r['diff_ci_low']:.1f}, {r['diff_ci_high']:.1f}] | [{r['diff_t_low']:.1f}, {r['diff_t_high']:.1f}] | "
                     f"{r['wilcoxon_p']:.3f} |")
    if failed:
        lines += ["", f"Failed runs ({len(failed)}), left out of the tables above:", ""]
        lines += [f"- {r['env_id']} {r['variant']} seed {r['seed']}: {r['failed']}" for r in failed]
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    for name, rows in (("results.csv", summary), ("ratios.csv", ratios), ("runs.csv", runs)):
        with open(os.path.join(out_dir, name), "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["empty"])
            writer.writeheader()
            writer.writerows(rows)


def main(args: Args) -> list:
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"error: --variants {' '.join(unknown)} unknown; choose from {', '.join(VARIANTS)}.")
    if args.launcher == "ray" and importlib.util.find_spec("ray") is None:
        raise SystemExit("error: --launcher ray needs Ray; install it with `pip install -r requirements-bench.txt`.")
    if not args.pool_runs:
        missing = [f"{path} ({variant})" for e in args.env_ids for variant in args.variants
                   for path in input_files(run_argv(args, e, variant, args.seeds[0])) if not os.path.isfile(path)]
        if missing:
            raise SystemExit(f"error: no prior at {', '.join(missing)}; make it (benchmarks/make_datasets.py --flat) or "
                             "point --priors-dir at a folder that has it.")
    os.makedirs(args.out_dir, exist_ok=True)
    failed = []
    if args.pool_runs:  # no new runs: one table over the runs of earlier invocations
        runs = [r for path in args.pool_runs for r in read_runs(path) if not args.pool_seeds or r["seed"] in args.pool_seeds]
        variants = variants_of(runs)
    else:
        jobs = [(e, v, s) for e in args.env_ids for s in args.seeds for v in args.variants]
        runs = (run_ray if args.launcher == "ray" else run_local)(args, jobs)
        failed, runs = [r for r in runs if "failed" in r], [r for r in runs if "failed" not in r]
        if runs:
            aulc_n, alc_n = common_lengths(args, runs)
            args = dataclasses.replace(args, aulc_iterations=aulc_n, alc_epochs=alc_n)  # the tables name what they show
        runs = [collect(r, args.aulc_iterations, args.alc_epochs) for r in runs]
        variants = args.variants
    summary, ratios = tabulate(runs, variants, args.aulc_iterations)
    write_tables(args.out_dir, summary, ratios, args, runs, failed)
    print(open(os.path.join(args.out_dir, "results.md")).read())
    if failed:
        raise SystemExit(f"error: {len(failed)} of {len(failed) + len(runs)} runs failed; they are listed in "
                         f"{os.path.join(args.out_dir, 'results.md')}.")
    return runs


def variants_of(runs: list) -> list:
    """The variants that appear in these runs, in VARIANTS' order (the tables' order)."""
    return [v for v in VARIANTS if any(r["variant"] == v for r in runs)]


if __name__ == "__main__":
    main(tyro.cli(Args))
