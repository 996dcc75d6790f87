"""The issue's 1M-step checks for the current defaults, pooled over the runs made at different stops
(README "All 1M-step runs of the current defaults, pooled"): per task, AULC@40 per seed, the paper's
ALC@40 ratio with its intervals and the Wilcoxon p-value, the final return per seed and its mean, and
the worst 20-iteration window of the seed-mean training return over PPO's (windows where PPO's mean is
not positive are skipped). PPO's ALC@40 comes from the `ppo-eval` reruns where the 1M PPO runs had no
evaluation.

    python benchmarks/summarise_1m.py                    # the defaults (ppo-dap)
    python benchmarks/summarise_1m.py gaussian-prior     # another variant's 1M runs, against PPO on the same seeds
"""

import glob
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import alc, aulc, bootstrap_ci, last_episodes_mean, read_csv, student_t_ci, wilcoxon_p  # noqa: E402
from summarise_screen import returns, window_means  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
ITERATIONS = 488  # a 1M-step run: 488 PPO iterations of 2048 steps

# per task and seed: (PPO's run, PPO's evaluation rerun or None when the PPO run has eval.csv, PPO-DAP's run)
RUNS = {
    "Hopper-v4": {
        1: ("hopper_1m/seed1/runs/Hopper-v4/ppo/H*", "release_1m/Hopper-v4/ppo-eval/*__1__*",
            "release_1m/Hopper-v4/ppo-dap/*__1__*"),
        2: ("hopper_1m/seed2/runs/Hopper-v4/ppo/H*", "release_1m/Hopper-v4/ppo-eval/*__2__*",
            "release_1m/Hopper-v4/ppo-dap/*__2__*"),
        3: ("release_1m_side_by_side/seed3/runs/Hopper-v4/ppo/H*", None,
            "release_1m_side_by_side/seed3/runs/Hopper-v4/ppo-dap/H*"),
    },
    "Walker2d-v4": {
        1: ("walker_1m/seed1/runs/Walker2d-v4/ppo/W*", "release_1m/Walker2d-v4/ppo-eval/*__1__*",
            "release_1m/Walker2d-v4/ppo-dap/*__1__*"),
        2: ("walker_1m/seed2/runs/Walker2d-v4/ppo/W*", "release_1m/Walker2d-v4/ppo-eval/*__2__*",
            "release_1m/Walker2d-v4/ppo-dap/*__2__*"),
        3: ("default_1m/Walker2d-v4_seed3/runs/Walker2d-v4/ppo/W*", None,
            "default_1m/Walker2d-v4_seed3/runs/Walker2d-v4/ppo-dap/W*"),
    },
    "HalfCheetah-v4": {
        **{seed: (f"default_1m/HalfCheetah-v4_seed{seed}/runs/HalfCheetah-v4/ppo/H*", None,
                  f"default_1m/HalfCheetah-v4_seed{seed}/runs/HalfCheetah-v4/ppo-dap/H*") for seed in (1, 2)},
        # seed 3: the two runs were separate one-run invocations, side by side
        3: ("default_1m/HalfCheetah-v4_seed3_ppo/runs/HalfCheetah-v4/ppo/H*", None,
            "default_1m/HalfCheetah-v4_seed3_ppo-dap/runs/HalfCheetah-v4/ppo-dap/H*"),
    },
}


# 1M runs of other variants, made one seed per invocation: {variant: pattern with {env} and {seed}}
VARIANT_RUNS = {
    "gaussian-prior": "gaussian_1m/{env}_seed{seed}/runs/{env}/gaussian-prior/{env}__*",
}


def run_dir(pattern: str) -> str:
    """The one run folder under benchmarks/results matching `pattern`."""
    (found,) = glob.glob(os.path.join(RESULTS, pattern))
    return found


def rows(folder: str, name: str) -> list:
    return read_csv(os.path.join(folder, name))


def main(variant: str = "ppo-dap") -> None:
    if variant != "ppo-dap" and variant not in VARIANT_RUNS:
        raise SystemExit(f"error: no 1M runs known for {variant}; choose from ppo-dap, {', '.join(VARIANT_RUNS)}.")
    for env_id, seeds in RUNS.items():
        if variant != "ppo-dap":  # the variant's runs in place of the defaults', on the seeds it has
            pattern = VARIANT_RUNS[variant]
            seeds = {seed: (ppo, ppo_eval, pattern.format(env=env_id, seed=seed)) for seed, (ppo, ppo_eval, _) in seeds.items()
                     if glob.glob(os.path.join(RESULTS, pattern.format(env=env_id, seed=seed)))}
            if not seeds:
                continue
        aulcs, alcs, finals, curves = [], [], [], []
        for ppo_pattern, ppo_eval_pattern, dap_pattern in seeds.values():
            ppo, dap = run_dir(ppo_pattern), run_dir(dap_pattern)
            ppo_eval = run_dir(ppo_eval_pattern) if ppo_eval_pattern else ppo
            ppo_progress, dap_progress = rows(ppo, "progress.csv"), rows(dap, "progress.csv")
            aulcs.append((aulc(ppo_progress, 40), aulc(dap_progress, 40)))
            alcs.append((alc(rows(ppo_eval, "eval.csv")), alc(rows(dap, "eval.csv"))))
            finals.append((last_episodes_mean(rows(ppo, "episodes.csv")), last_episodes_mean(rows(dap, "episodes.csv"))))
            curves.append((returns(ppo_progress, ITERATIONS), returns(dap_progress, ITERATIONS)))
        ppo_windows = window_means(np.mean([p for p, _ in curves], axis=0))
        dap_windows = window_means(np.mean([d for _, d in curves], axis=0))
        window_ratios = np.array([d / p if p > 0 else np.inf for p, d in zip(ppo_windows, dap_windows)])
        alc_ratios = np.array([d / p for p, d in alcs])
        print(f"{env_id}, {variant}, seeds {list(seeds)}")
        print(f"  AULC@40 PPO / {variant} per seed:", [(round(p), round(d)) for p, d in aulcs])
        print(f"  ALC@40 ratio per seed: {np.round(alc_ratios, 2)}, mean {alc_ratios.mean():.3f}, "
              f"Student-t 95% {np.round(student_t_ci(alc_ratios), 2)}, bootstrap 95% {np.round(bootstrap_ci(alc_ratios), 2)}, "
              f"Wilcoxon p {wilcoxon_p([d - p for p, d in alcs]):.3f}")
        print(f"  final return PPO / {variant} per seed:", [(round(p), round(d)) for p, d in finals],
              f"means {np.mean([p for p, _ in finals]):.0f} / {np.mean([d for _, d in finals]):.0f}")
        print(f"  worst 20-iteration window of the seed-mean return / PPO's: {window_ratios.min():.2f} "
              f"(window starting at iteration {int(np.argmin(window_ratios)) + 1})")


if __name__ == "__main__":
    main(*sys.argv[1:2])
