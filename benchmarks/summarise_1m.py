"""The issue's 1M-step checks for the current defaults, pooled over the runs made at different stops
(README "All 1M-step runs of the current defaults, pooled"): per task, AULC@40 per seed, the paper's
ALC@40 ratio with its intervals and the Wilcoxon p-value, the final return per seed and its mean, and
the worst 20-iteration window of the seed-mean training return over PPO's (windows where PPO's mean is
not positive are skipped). PPO's ALC@40 comes from the `ppo-eval` reruns where the 1M PPO runs had no
evaluation.

    python benchmarks/summarise_1m.py                       # the defaults (ppo-dap) with the shipped priors
    python benchmarks/summarise_1m.py ppo-dap-300k-priors   # the same before Hopper-v4's and HalfCheetah-v4's priors changed
    python benchmarks/summarise_1m.py gaussian-prior        # another variant's 1M runs, against PPO on the same seeds
    python benchmarks/summarise_1m.py gaussian-prior-current-form  # the same, made after the (d) terms changed form
    python benchmarks/summarise_1m.py ppo-dap-current-form  # the defaults' runs made after the (d) terms changed form
    python benchmarks/summarise_1m.py frozen-prior          # the frozen prior (--peft none), current code

With the defaults (either form of the (d) terms) it also covers the five other tasks of the paper (their 1M runs in
`results/eight_tasks_1m/`, PPO and PPO-DAP side by side; the current form's in `results/shared_out_1m/`)
and ends with one README row per task:
final return against PPO, the cost of pairs that ran side by side, and the count of tasks where
PPO-DAP's mean final return is at least PPO's.
"""

import glob
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import alc, aulc, bootstrap_ci, last_episodes_mean, read_csv, student_t_ci, wilcoxon_p  # noqa: E402
from summarise_screen import returns, window_means  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
ITERATIONS = 488  # a 1M-step run: 488 PPO iterations of 2048 steps

# the tasks whose shipped priors were replaced by priors from a stronger behaviour (README "A prior from a
# stronger behaviour policy"); their runs with the earlier priors are kept apart
PRIOR_CHANGED = ("Hopper-v4", "HalfCheetah-v4")
# per task and seed: (PPO's run, PPO's evaluation rerun or None when the PPO run has eval.csv, PPO-DAP's run)
PPO_RUNS = {
    "Hopper-v4": {1: ("hopper_1m/seed1/runs/Hopper-v4/ppo/H*", "release_1m/Hopper-v4/ppo-eval/*__1__*"),
                  2: ("hopper_1m/seed2/runs/Hopper-v4/ppo/H*", "release_1m/Hopper-v4/ppo-eval/*__2__*"),
                  3: ("release_1m_side_by_side/seed3/runs/Hopper-v4/ppo/H*", None)},
    "HalfCheetah-v4": {**{seed: (f"default_1m/HalfCheetah-v4_seed{seed}/runs/HalfCheetah-v4/ppo/H*", None) for seed in (1, 2)},
                       3: ("default_1m/HalfCheetah-v4_seed3_ppo/runs/HalfCheetah-v4/ppo/H*", None)},
}
# seed 4 of the tasks whose priors changed: PPO and PPO-DAP side by side (one compare.py per task)
SEED4 = "strong_prior_1m_side_by_side/{env}_seed4/runs/{env}/{variant}/{env}__{variant}__4__*"
RUNS = {
    "Hopper-v4": {**{seed: (*PPO_RUNS["Hopper-v4"][seed], f"strong_prior_1m/Hopper-v4/strong-prior/*__{seed}__*")
                     for seed in (1, 2, 3)},
                  4: (SEED4.format(env="Hopper-v4", variant="ppo"), None, SEED4.format(env="Hopper-v4", variant="ppo-dap"))},
    "Walker2d-v4": {
        1: ("walker_1m/seed1/runs/Walker2d-v4/ppo/W*", "release_1m/Walker2d-v4/ppo-eval/*__1__*",
            "release_1m/Walker2d-v4/ppo-dap/*__1__*"),
        2: ("walker_1m/seed2/runs/Walker2d-v4/ppo/W*", "release_1m/Walker2d-v4/ppo-eval/*__2__*",
            "release_1m/Walker2d-v4/ppo-dap/*__2__*"),
        3: ("default_1m/Walker2d-v4_seed3/runs/Walker2d-v4/ppo/W*", None,
            "default_1m/Walker2d-v4_seed3/runs/Walker2d-v4/ppo-dap/W*"),
    },
    "HalfCheetah-v4": {**{seed: (*PPO_RUNS["HalfCheetah-v4"][seed],
                                 f"strong_prior_1m/HalfCheetah-v4/strong-prior/*__{seed}__*") for seed in (1, 2, 3)},
                       4: (SEED4.format(env="HalfCheetah-v4", variant="ppo"), None,
                           SEED4.format(env="HalfCheetah-v4", variant="ppo-dap"))},
}
# The same tasks with the priors they shipped before (pretrained on a 300k-step behaviour run's log; now in
# results/priors_300k): README "All 1M-step runs ... with the earlier priors".
RUNS_300K_PRIORS = {
    "Hopper-v4": {1: (*PPO_RUNS["Hopper-v4"][1], "release_1m/Hopper-v4/ppo-dap/*__1__*"),
                  2: (*PPO_RUNS["Hopper-v4"][2], "release_1m/Hopper-v4/ppo-dap/*__2__*"),
                  3: (*PPO_RUNS["Hopper-v4"][3], "release_1m_side_by_side/seed3/runs/Hopper-v4/ppo-dap/H*")},
    "Walker2d-v4": RUNS["Walker2d-v4"],  # its prior did not change
    "HalfCheetah-v4": {
        **{seed: (*PPO_RUNS["HalfCheetah-v4"][seed], f"default_1m/HalfCheetah-v4_seed{seed}/runs/HalfCheetah-v4/ppo-dap/H*")
           for seed in (1, 2)},
        # seed 3: the two runs were separate one-run invocations, side by side
        3: (*PPO_RUNS["HalfCheetah-v4"][3], "default_1m/HalfCheetah-v4_seed3_ppo-dap/runs/HalfCheetah-v4/ppo-dap/H*"),
    },
}


# the paper's five other tasks: 1M runs in eight_tasks_1m/{env}_seed{seed} (PPO and PPO-DAP side by side
# in one compare.py) or {env}_seed{seed}_{variant} (two one-run invocations started together)
NEW_TASKS = ["Ant-v4", "Humanoid-v4", "Swimmer-v4", "InvertedPendulum-v4", "InvertedDoublePendulum-v4"]
SIDE_BY_SIDE_S = 300  # two runs whose folders' start times are this close ran side by side: their costs compare


def new_task_runs(env_id: str) -> dict:
    """{seed: (PPO's run pattern, None, PPO-DAP's run pattern)} for the 1M runs of one of the new tasks."""
    seeds = set()
    for folder in glob.glob(os.path.join(RESULTS, "eight_tasks_1m", f"{env_id}_seed*")):
        match = re.fullmatch(re.escape(env_id) + r"_seed(\d+)(_ppo|_ppo-dap)?", os.path.basename(folder))
        if match:
            seeds.add(int(match.group(1)))
    pattern = "eight_tasks_1m/{env}_seed{seed}*/runs/{env}/{variant}/{env}__{variant}__{seed}__*"
    return {seed: (pattern.format(env=env_id, seed=seed, variant="ppo"), None,
                   pattern.format(env=env_id, seed=seed, variant="ppo-dap")) for seed in sorted(seeds)}


# 1M runs of other variants, made one seed per invocation: {variant: {task: pattern with {seed}}}
GAUSSIAN_1M = "gaussian_1m{suffix}/{env}_seed{{seed}}/runs/{env}/gaussian-prior/{env}__*"
VARIANT_RUNS = {
    "gaussian-prior": {env: GAUSSIAN_1M.format(env=env, suffix="_strong" if env in PRIOR_CHANGED else "")
                       for env in RUNS},
    "gaussian-prior-300k-priors": {env: GAUSSIAN_1M.format(env=env, suffix="") for env in RUNS},
    # the Gaussian prior with the current form of the (d) terms (stop 15)
    "gaussian-prior-current-form": {env: GAUSSIAN_1M.format(env=env, suffix="_current_form") for env in RUNS},
    # the defaults with the current form of the (d) terms (stop 14, README "Speed"), on all eight tasks; the
    # runs above used the earlier form
    "ppo-dap-current-form": {env: f"shared_out_1m/{env}_seed{{seed}}/runs/{env}/ppo-dap/{env}__*"
                             for env in [*RUNS, *NEW_TASKS]},
    # the frozen prior (--peft none) with the current code (stop 16, README "Ablations with the current code")
    "frozen-prior": {env: f"frozen_1m/{env}_seed{{seed}}/runs/{env}/frozen-prior/{env}__*" for env in RUNS},
}
# the variants whose README table covers the eight tasks, with the count of tasks at least PPO's
EIGHT_TASK_VARIANTS = ("ppo-dap", "ppo-dap-current-form")


def ppo_beside(variant_pattern: str, ppo_pattern: str) -> str:
    """PPO's run of this seed: the one in the variant's own folder where compare.py ran it beside the
    variant (the same numbers as `ppo_pattern`'s run, and a cost that compares), else `ppo_pattern`."""
    env_dir = os.path.dirname(os.path.dirname(variant_pattern))  # X/runs/{env}/{variant}/{run} -> X/runs/{env}
    beside = os.path.join(env_dir, "ppo", "*__ppo__*")
    return beside if glob.glob(os.path.join(RESULTS, beside)) else ppo_pattern


def run_dir(pattern: str) -> str:
    """The one run folder under benchmarks/results matching `pattern`."""
    (found,) = glob.glob(os.path.join(RESULTS, pattern))
    return found


def rows(folder: str, name: str) -> list:
    return read_csv(os.path.join(folder, name))


def cost(run: str) -> tuple:
    """(training seconds, peak RSS in MB) of a run folder X/runs/{env}/{variant}/{name}, from the
    runs.csv that compare.py wrote in X; None where the run has no such record."""
    record = os.path.join(run, *[os.pardir] * 4, "runs.csv")
    if not os.path.exists(record):
        return None
    for r in read_csv(record):
        if os.path.basename(r["run_dir"]) == os.path.basename(run):
            return float(r["train_s"]), float(r["peak_rss_mb"])
    return None


def side_by_side(ppo: str, dap: str) -> bool:
    """Whether two runs started within SIDE_BY_SIDE_S seconds of each other (their folder names end
    with the start time), so that their training times and memory compare."""
    start = lambda run: int(os.path.basename(run).rsplit("__", 1)[1])  # noqa: E731
    return abs(start(ppo) - start(dap)) <= SIDE_BY_SIDE_S


def mean_finals(finals: list) -> tuple:
    """(PPO's, PPO-DAP's) mean final return over seeds, from per-seed (PPO, PPO-DAP) pairs."""
    return float(np.mean([p for p, _ in finals])), float(np.mean([d for _, d in finals]))


def readme_row(env_id: str, finals: list, aulcs: list, alc_ratios, costs: list, worst_window: float) -> str:
    """One row of README's 1M table: per-seed AULC@40 and final return of PPO / PPO-DAP, the mean
    final returns and whether PPO-DAP's is at least PPO's, the paper's ALC@40 ratio where the runs
    evaluated, the worst window, and the time and RSS ratios of the side-by-side pairs."""
    per_seed = lambda pairs: ", ".join(f"{p:.0f} / {d:.0f}" for p, d in pairs)  # noqa: E731
    ppo_mean, dap_mean = mean_finals(finals)
    alc_text = f"{np.mean(alc_ratios):.2f}" if len(alc_ratios) else "not evaluated"
    if 0 < len(alc_ratios) < len(finals):  # only some seeds' runs evaluated
        alc_text += f" ({len(alc_ratios)} of {len(finals)} seeds evaluated)"
    time_text = ", ".join(f"{d[0] / p[0]:.2f}" for p, d in costs) or "no side-by-side pair"
    rss_text = ", ".join(f"{d[1] / p[1]:.3f}" for p, d in costs) or "no side-by-side pair"
    return (f"| {env_id} | {len(finals)} | {per_seed(aulcs)} | {alc_text} | {per_seed(finals)} | "
            f"{ppo_mean:.0f} / {dap_mean:.0f} | {'yes' if dap_mean >= ppo_mean else '**no**'} | {worst_window:.2f} | "
            f"{time_text} | {rss_text} |")


def task_metrics(seeds: dict) -> dict:
    """The 1M metrics of one task from {seed: (PPO's run, PPO's evaluation run or None, the variant's run)}
    (patterns under RESULTS): per seed (PPO, variant) pairs of AULC@40, ALC@40 (runs that evaluated),
    final return (last 100 training episodes) and side-by-side cost (train s, peak RSS MB); and the
    ratios of the seed-mean training return over 20-iteration windows."""
    aulcs, alcs, finals, curves, costs = [], [], [], [], []
    for ppo_pattern, ppo_eval_pattern, dap_pattern in seeds.values():
        ppo, dap = run_dir(ppo_pattern), run_dir(dap_pattern)
        ppo_eval = run_dir(ppo_eval_pattern) if ppo_eval_pattern else ppo
        ppo_progress, dap_progress = rows(ppo, "progress.csv"), rows(dap, "progress.csv")
        aulcs.append((aulc(ppo_progress, 40), aulc(dap_progress, 40)))
        if all(os.path.exists(os.path.join(run, "eval.csv")) for run in (ppo_eval, dap)):  # --eval-every runs
            alcs.append((alc(rows(ppo_eval, "eval.csv")), alc(rows(dap, "eval.csv"))))
        ppo_cost, dap_cost = cost(ppo), cost(dap)
        if side_by_side(ppo, dap) and ppo_cost and dap_cost:
            costs.append((ppo_cost, dap_cost))
        finals.append((last_episodes_mean(rows(ppo, "episodes.csv")), last_episodes_mean(rows(dap, "episodes.csv"))))
        curves.append((returns(ppo_progress, ITERATIONS), returns(dap_progress, ITERATIONS)))
    ppo_windows = window_means(np.mean([p for p, _ in curves], axis=0))
    dap_windows = window_means(np.mean([d for _, d in curves], axis=0))
    window_ratios = np.array([d / p if p > 0 else np.inf for p, d in zip(ppo_windows, dap_windows)])
    return dict(aulcs=aulcs, alcs=alcs, finals=finals, costs=costs, window_ratios=window_ratios)


def default_runs() -> dict:
    """{task: {seed: run patterns}} of every 1M run of the defaults: the three first tasks and the five others."""
    return {**RUNS, **{env: new_task_runs(env) for env in NEW_TASKS}}


def main(variant: str = "ppo-dap") -> None:
    if variant not in ("ppo-dap", "ppo-dap-300k-priors", *VARIANT_RUNS):
        raise SystemExit(f"error: no 1M runs known for {variant}; choose from ppo-dap, ppo-dap-300k-priors, "
                         f"{', '.join(VARIANT_RUNS)}.")
    tasks = default_runs() if variant in EIGHT_TASK_VARIANTS else RUNS_300K_PRIORS if variant == "ppo-dap-300k-priors" else RUNS
    table = []
    for env_id, seeds in tasks.items():
        if not seeds:
            continue
        if variant in VARIANT_RUNS:  # the variant's runs in place of the defaults', on the seeds it has
            runs = {seed: VARIANT_RUNS[variant][env_id].format(env=env_id, seed=seed) for seed in seeds}
            seeds = {seed: (ppo_beside(runs[seed], ppo), ppo_eval, runs[seed]) for seed, (ppo, ppo_eval, _) in seeds.items()
                     if glob.glob(os.path.join(RESULTS, runs[seed]))}
            if not seeds:
                continue
        m = task_metrics(seeds)
        aulcs, alcs, finals, costs, window_ratios = m["aulcs"], m["alcs"], m["finals"], m["costs"], m["window_ratios"]
        alc_ratios = np.array([d / p for p, d in alcs])
        print(f"{env_id}, {variant}, seeds {list(seeds)}")
        print(f"  AULC@40 PPO / {variant} per seed:", [(round(p), round(d)) for p, d in aulcs])
        if len(alcs) > 1:
            print(f"  ALC@40 ratio per seed: {np.round(alc_ratios, 2)}, mean {alc_ratios.mean():.3f}, "
                  f"Student-t 95% {np.round(student_t_ci(alc_ratios), 2)}, bootstrap 95% {np.round(bootstrap_ci(alc_ratios), 2)}, "
                  f"Wilcoxon p {wilcoxon_p([d - p for p, d in alcs]):.3f}")
        elif alcs:
            print(f"  ALC@40 ratio, the one seed with evaluations: {alc_ratios[0]:.2f}")
        print(f"  final return PPO / {variant} per seed:", [(round(p), round(d)) for p, d in finals],
              f"means {np.mean([p for p, _ in finals]):.0f} / {np.mean([d for _, d in finals]):.0f}")
        print(f"  worst 20-iteration window of the seed-mean return / PPO's: {window_ratios.min():.2f} "
              f"(window starting at iteration {int(np.argmin(window_ratios)) + 1})")
        table.append((env_id, finals, readme_row(env_id, finals, aulcs, alc_ratios, costs, window_ratios.min())))
    if variant in EIGHT_TASK_VARIANTS:
        print("\n| task | seeds | AULC@40: PPO / PPO-DAP per seed | ALC@40 (paper) / PPO, mean | final return (last 100): "
              "PPO / PPO-DAP per seed | mean final return: PPO / PPO-DAP | PPO-DAP at least PPO | worst 20-iteration "
              "window / PPO | training time / PPO | peak RSS / PPO |")
        print("|" + " --- |" * 10)
        for _, _, row in table:
            print(row)
        wins = sum(dap_mean >= ppo_mean for ppo_mean, dap_mean in (mean_finals(f) for _, f, _ in table))
        print(f"\nPPO-DAP's mean final return is at least PPO's on {wins} of the {len(table)} tasks run at 1M.")


if __name__ == "__main__":
    main(*sys.argv[1:2])
