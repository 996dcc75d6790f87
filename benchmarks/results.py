"""Write the results page, RESULTS.md, from the committed raw runs in benchmarks/results/.

Every number on the page is computed here from the files the runs wrote (progress.csv, episodes.csv,
eval.csv, and the runs.csv of compare.py for peak memory) or from a committed record (the prior
checkpoints' provenance, speed.py's and mutation.sh's outputs). The script also writes a README.md
into each results folder (what it holds, the command that made it, the commit of the code).

    python benchmarks/results.py            # rewrite RESULTS.md and the folders' README.md
    python benchmarks/results.py --check    # exit 0 exactly when the committed files equal what the runs give
"""

import contextlib
import functools
import json
import glob
import os
import sys
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

import numpy as np
import torch
import tyro

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import (BOOTSTRAP_MIN_PAIRS, PRIOR_KINDS, alc, aulc, bootstrap_ci, last_episodes_mean, prior_file,  # noqa: E402
                     ratio_of_means_ci, read_csv, student_t_ci, wilcoxon_p)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASKS = ["Walker2d-v4", "Hopper-v4", "HalfCheetah-v4", "Ant-v4", "Humanoid-v4", "Swimmer-v4", "InvertedPendulum-v4",
         "InvertedDoublePendulum-v4"]
FIRST_THREE = TASKS[:3]
ONE_M_ITERATIONS = 488  # a 1M-step run: 488 PPO iterations of 2048 steps
CURRENT = "590bb3a"  # the current algorithm: every later change to ppo_dap.py keeps a run's numbers bit for bit
EARLIER_PRIORS = "0ce77dc"  # the last commit with the earlier priors: one PPO run's log for each task (Hopper-v4,
#   HalfCheetah-v4: the last 300k steps of a 1M-step run; the six others: the whole log of a 300k-step run)
TWO_CORE = "the 2-core AMD EPYC machine (torch 2.13.0, CPU)"


@dataclass
class Args:
    check: bool = False
    """compare instead of write: exit 0 when the committed page and the folders' README.md equal what the runs give, 1 otherwise"""
    root: str = ROOT
    """the repository whose benchmarks/results/ and priors/ are read and whose RESULTS.md is written"""
    figure: bool = False
    """also draw the performance profiles into benchmarks/performance_profile.png (not compared by --check)"""


@dataclass(frozen=True)
class Folder:
    """A folder of benchmarks/results: what it holds, the command that made it, and the commit whose code made
    the runs (the parent of the commit that added them, where the flags they use existed)."""

    what: str
    command: str
    commit: str
    machine: str = TWO_CORE


DATA_KINDS_ONLINE_COMMIT = "72cbd00"  # the code of the dataset kinds' online runs
FOLDERS: Dict[str, Folder] = {
    "aulc40_shared_out": Folder(
        "PPO and PPO-DAP side by side at 40 iterations, Walker2d-v4, Hopper-v4, HalfCheetah-v4, seeds 1-5, with the "
        "priors of " + EARLIER_PRIORS,
        "python benchmarks/compare.py --env-ids Walker2d-v4 Hopper-v4 HalfCheetah-v4 --seeds 1 2 3 4 5 "
        "--variants ppo ppo-dap --out-dir benchmarks/results/aulc40_shared_out", "58aabc1"),
    "eight_tasks_40it": Folder(
        "PPO (and PPO-DAP with the earlier form of the (d) terms) at 40 iterations, the five other tasks, seeds 1-5",
        "python benchmarks/compare.py --env-ids $ENV --seeds 1 2 3 4 5 --variants ppo ppo-dap --jobs 1 "
        "--out-dir benchmarks/results/eight_tasks_40it/$ENV (Humanoid-v4: one seed per call, .../Humanoid-v4_seed$S)",
        "21cd888"),
    "eight_tasks_final_40it": Folder(
        "PPO-DAP with the shipped priors (two-policies data) at 40 iterations, the eight tasks, seeds 1-10, one call "
        "per seed on a local Ray instance; PPO beside it for seeds 6-10 (PPO reads no prior, so its seeds 1-5 come "
        "from aulc40_shared_out and eight_tasks_40it: a PPO run of seed 1 on Hopper-v4 and on Swimmer-v4 made with "
        "this code on this machine gave their AULC@40 and final return to the last digit)",
        "ray start --head --num-cpus 2; PER_SEED=1 bash benchmarks/dev/batch.sh benchmarks/results/eight_tasks_final_40it "
        "\"1 2 3 4 5\" \"$TASKS\" --variants ppo-dap --launcher ray --ray-address auto; the same for \"6 7 8 9 10\" with "
        "--variants ppo ppo-dap", "a7f528c"),
    "eight_tasks_final_200k": Folder(
        "PPO and PPO-DAP with the shipped priors (two-policies data) for 98 iterations (200,704 steps, the first "
        "that reach epoch 40), evaluated deterministically every 5,000 steps (10 episodes), on the first three "
        "tasks, seeds 1-10, one call per seed on a local Ray instance: the paper's ALC@40",
        "ray start --head --num-cpus 2; PER_SEED=1 bash benchmarks/dev/batch.sh benchmarks/results/eight_tasks_final_200k "
        "\"1 2 3 4 5 6 7 8 9 10\" \"Walker2d-v4 Hopper-v4 HalfCheetah-v4\" --variants ppo ppo-dap --total-timesteps "
        "200704 --eval-every 5000 --launcher ray --ray-address auto", "7f9e801"),
    "shared_out_1m": Folder(
        "PPO-DAP at 1M steps on the eight tasks (Hopper-v4 seed 4 beside PPO); the first three tasks evaluate "
        "every 5,000 steps",
        "python benchmarks/compare.py --env-ids $ENV --seeds $S --variants ppo-dap --jobs 1 --total-timesteps 1000000 "
        "--eval-every 5000 --out-dir benchmarks/results/shared_out_1m/${ENV}_seed$S (the five other tasks without "
        "--eval-every; Hopper-v4 seed 4 with --variants ppo ppo-dap)", "b9d0750"),
    "hopper_1m": Folder("PPO at 1M steps, Hopper-v4, seeds 1-2 (beside PPO-DAP with the defaults of that commit)",
                        "python benchmarks/compare.py --env-ids Hopper-v4 --seeds $S --variants ppo ppo-dap "
                        "--total-timesteps 1000000 --out-dir benchmarks/results/hopper_1m/seed$S", "b11d04b"),
    "walker_1m": Folder("PPO at 1M steps, Walker2d-v4, seeds 1-3 (beside PPO-DAP with the defaults of that commit)",
                        "python benchmarks/compare.py --env-ids Walker2d-v4 --seeds $S --variants ppo ppo-dap "
                        "--total-timesteps 1000000 --out-dir benchmarks/results/walker_1m/seed$S", "e416ac8"),
    "release_1m": Folder(
        "PPO's first 98 iterations with the evaluation every 5,000 steps (`ppo-eval`), and PPO-DAP at 1M with the "
        "earlier priors, Hopper-v4 and Walker2d-v4, seeds 1-2",
        "python ppo_dap.py --env-id $ENV --seed $S --imitation-coef 0 --exp-name ppo-eval --eval-every 5000 "
        "--eval-episodes 5 --runs-dir benchmarks/results/release_1m/$ENV/ppo-eval (stopped after 98 iterations); "
        "PPO-DAP: the default command with --eval-every 5000 --eval-episodes 5", "7f11a42"),
    "release_1m_side_by_side": Folder(
        "PPO and PPO-DAP (earlier prior) at 1M, Hopper-v4 seed 3, side by side",
        "python benchmarks/compare.py --env-ids Hopper-v4 --seeds 3 --variants ppo ppo-dap --total-timesteps 1000000 "
        "--eval-every 5000 --eval-episodes 5 --out-dir benchmarks/results/release_1m_side_by_side/seed3", "6be0bd2"),
    "default_1m": Folder(
        "PPO and PPO-DAP (earlier priors) at 1M, HalfCheetah-v4 seeds 1-3 and Walker2d-v4 seed 3, side by side",
        "python benchmarks/compare.py --env-ids $ENV --seeds $S --variants ppo ppo-dap --total-timesteps 1000000 "
        "--eval-every 5000 --out-dir benchmarks/results/default_1m/${ENV}_seed$S", "9a51ff0"),
    "strong_prior_1m": Folder(
        "The behaviour runs of the Hopper-v4 and HalfCheetah-v4 priors shipped then (PPO, seed 100, 1M steps) and "
        "PPO-DAP at 1M with those priors and the earlier form of the (d) terms",
        "bash benchmarks/strong_prior.sh, then KINDS=\"gaussian knn\" SEEDS= bash benchmarks/strong_prior.sh (at that "
        "commit); the same data: python benchmarks/make_datasets.py --kinds single",
        "ac4a1e0"),
    "strong_prior_1m_side_by_side": Folder(
        "PPO and PPO-DAP (earlier form of the (d) terms) at 1M, seed 4 of Hopper-v4 and HalfCheetah-v4, side by side",
        "python benchmarks/compare.py --env-ids $ENV --seeds 4 --variants ppo ppo-dap --total-timesteps 1000000 "
        "--eval-every 5000 --out-dir benchmarks/results/strong_prior_1m_side_by_side/${ENV}_seed4", "05d93d8"),
    "eight_tasks_1m": Folder(
        "PPO and PPO-DAP (earlier form of the (d) terms) at 1M, the five other tasks, seeds 1-2, side by side",
        "python benchmarks/compare.py --env-ids $ENV --seeds $S --variants ppo ppo-dap --total-timesteps 1000000 "
        "--eval-episodes 10 --jobs 2 --out-dir benchmarks/results/eight_tasks_1m/${ENV}_seed$S", "884abae"),
    "eight_tasks_final_1m": Folder(
        "PPO-DAP with the shipped priors (two-policies data) at 1M, the five other tasks, seeds 1-2 (the first "
        "three tasks' runs are those of data_kinds/two-policies_1m: the same priors weight for weight)",
        "bash benchmarks/dev/batch.sh benchmarks/results/eight_tasks_final_1m \"$S\" \"Ant-v4 Humanoid-v4 "
        "InvertedPendulum-v4 InvertedDoublePendulum-v4 Swimmer-v4\" --variants ppo-dap --total-timesteps 1000000 "
        "--eval-episodes 10 --jobs 1 (S = 1 and S = 2 at the same time)", "22ea250"),
    "gaussian_1m_current_form": Folder(
        "PPO-DAP with the Gaussian prior at 1M, Hopper-v4 and HalfCheetah-v4, seeds 1-2",
        "python benchmarks/compare.py --env-ids $ENV --seeds $S --variants gaussian-prior --total-timesteps 1000000 "
        "--eval-every 5000 --jobs 1 --out-dir benchmarks/results/gaussian_1m_current_form/${ENV}_seed$S", "d943af1"),
    "baselines_current_40it": Folder(
        "RPO-DAP and the retrieval prior at 40 iterations, the first three tasks, seeds 1-3",
        "python benchmarks/compare.py --env-ids Walker2d-v4 Hopper-v4 HalfCheetah-v4 --seeds 1 2 3 --variants rpo-dap "
        "knn-prior --out-dir benchmarks/results/baselines_current_40it", "2c9e296"),
    "baselines_40it": Folder(
        "RPO (and RPO-DAP, retrieval with the earlier priors) at 40 iterations, Hopper-v4 and Walker2d-v4, seeds 1-3",
        "python benchmarks/compare.py --env-ids Hopper-v4 Walker2d-v4 --seeds 1 2 3 --variants rpo rpo-dap knn-prior "
        "--out-dir benchmarks/results/baselines_40it", "c119772"),
    "baselines_40it_hc": Folder(
        "RPO (and RPO-DAP, retrieval with the earlier prior) at 40 iterations, HalfCheetah-v4, seeds 1-3",
        "python benchmarks/compare.py --env-ids HalfCheetah-v4 --seeds $S --variants rpo rpo-dap knn-prior --jobs 1 "
        "--out-dir benchmarks/results/baselines_40it_hc/seed$S", "0116f81"),
    "ablations_current_40it": Folder(
        "The ablations at 40 iterations (frozen prior, one proposal, KL term, guidance), the first three tasks, "
        "seeds 1-3",
        "python benchmarks/compare.py --env-ids Walker2d-v4 Hopper-v4 HalfCheetah-v4 --seeds 1 2 3 --variants "
        "frozen-prior no-reweighting kl guidance --out-dir benchmarks/results/ablations_current_40it", "a93d163"),
    "frozen_1m": Folder(
        "The frozen prior (--peft none) at 1M: Hopper-v4 and HalfCheetah-v4 seeds 1-4, Walker2d-v4 seeds 1-2",
        "python benchmarks/compare.py --env-ids $ENV --seeds $S --variants frozen-prior --total-timesteps 1000000 "
        "--eval-every 5000 --jobs 1 --out-dir benchmarks/results/frozen_1m/${ENV}_seed$S", "49e65ac"),
    "cleanrl_100k": Folder(
        "Our PPO and CleanRL's ppo_continuous_action.py at 102,400 steps, Hopper-v4 and Walker2d-v4, seeds 1-3",
        "python benchmarks/cleanrl_side_by_side.py --cleanrl-script $CLEANRL/ppo_continuous_action.py --cleanrl-python "
        "$CLEANRL_VENV/bin/python --env-ids Hopper-v4 Walker2d-v4 --seeds 1 2 3 --total-timesteps 102400 --jobs 2 "
        "--cleanrl-threads 1 --out-dir benchmarks/results/cleanrl_100k", "9511cee"),
    "cleanrl_100k_hopper_seeds4-8": Folder(
        "The same, Hopper-v4 seeds 4-8",
        "the command of cleanrl_100k with --env-ids Hopper-v4 --seeds 4 5 6 7 8 "
        "--out-dir benchmarks/results/cleanrl_100k_hopper_seeds4-8", "7331ade"),
    "speed": Folder(
        "Steps per second, each run alone: our PPO path against CleanRL's, PPO-DAP against PPO inside the prior's "
        "phase (earlier form of the (d) terms), and 1, 2, 4 vector envs (sync, and the removed async mode)",
        "python benchmarks/speed.py --cleanrl-script $CLEANRL/ppo_continuous_action.py --cleanrl-python "
        "$CLEANRL_VENV/bin/python", "4c6e7f7"),
    "gpu_check": Folder(
        "--cuda against --no-cuda, Hopper-v4, 10 iterations, PPO and PPO-DAP, each run alone",
        "python ppo_dap.py --env-id Hopper-v4 --total-timesteps 20480 [--imitation-coef 0] [--no-cuda]",
        "43ca8b2", "one NVIDIA H100 80GB and its 16-core Intel Xeon (torch 2.11.0+cu130, Python 3.12)"),
    "screen_hopper": Folder(
        "A screen of ways to release the prior, among them the Q-filter, with the defaults of that commit: the first 200 "
        "iterations of the 1M-step command, Hopper-v4, seeds 1-2",
        "bash benchmarks/screen_release.sh (at that commit; the PPO baseline is hopper_1m)", "65a6f5c"),
    "meanonly_1m": Folder(
        "Imitating the mean only (--no-imitate-std) at 1M, HalfCheetah-v4 seeds 1-2, Hopper-v4 and Walker2d-v4 seed 1",
        "bash benchmarks/run_prefix.sh benchmarks/results/meanonly_1m/$ENV ppo-dap-meanonly $S 9999 $ENV --eval-every "
        "5000 --eval-episodes 5 --no-imitate-std (at that commit)", "b71f587"),
    "lentstd_40it": Folder(
        "A std the prior only lends (--imitate-std lent) at 40 iterations, the first three tasks, seeds 1-3",
        "python benchmarks/compare.py --env-ids $ENV --seeds 1 2 3 --variants lent-std --jobs 1 "
        "--out-dir benchmarks/results/lentstd_40it/$ENV (at that commit)", "609715f"),
    "varscaled_40it": Folder(
        "Variance-scaled imitation (--imitation-var-scaled) at 40 iterations, the first three tasks, seeds 1-3",
        "python benchmarks/compare.py --env-ids $ENV --seeds 1 2 3 --variants var-scaled --jobs 1 "
        "--out-dir benchmarks/results/varscaled_40it/$ENV (at that commit)", "dae5b13"),
    "aulc40_release": Folder(
        "PPO and PPO-DAP (earlier form of the (d) terms, earlier priors) at 40 iterations, the first three tasks, "
        "seeds 1-5",
        "python benchmarks/compare.py --env-ids Walker2d-v4 Hopper-v4 HalfCheetah-v4 --seeds 1 2 3 4 5 --variants ppo "
        "ppo-dap --out-dir benchmarks/results/aulc40_release", "086f4d8"),
    "aulc40_strong": Folder(
        "PPO and PPO-DAP (earlier form of the (d) terms, the priors shipped then) at 40 iterations, Hopper-v4 and "
        "HalfCheetah-v4, seeds 1-5",
        "python benchmarks/compare.py --env-ids Hopper-v4 HalfCheetah-v4 --seeds 1 2 3 4 5 --variants ppo ppo-dap "
        "--out-dir benchmarks/results/aulc40_strong", "d12d1e9"),
    "proposals4_40it": Folder(
        "Four proposals per state (--num-proposals 4) at 40 iterations, the first three tasks, seeds 1-5",
        "python benchmarks/compare.py --env-ids Walker2d-v4 Hopper-v4 HalfCheetah-v4 --seeds 1 2 3 4 5 --variants "
        "ppo-dap --extra-flags=\"--num-proposals 4\" --out-dir benchmarks/results/proposals4_40it", "dca5163"),
    "spread_states128_40it": Folder(
        "128 proposal states (--proposal-states 128) at 40 iterations, the first three tasks, seeds 1-5",
        "python benchmarks/compare.py --env-ids Walker2d-v4 Hopper-v4 HalfCheetah-v4 --seeds 1 2 3 4 5 --variants "
        "ppo-dap --extra-flags=\"--proposal-states 128\" --out-dir benchmarks/results/spread_states128_40it", "b360a41"),
    "spread_states64_40it": Folder(
        "64 proposal states (--proposal-states 64) at 40 iterations, the first three tasks, seeds 1-5",
        "the command of spread_states128_40it with 64", "b360a41"),
    "gaussian_40it": Folder(
        "PPO-DAP with the Gaussian prior on the earlier (whole-log) data at 40 iterations, Walker2d-v4 and Hopper-v4, "
        "seeds 1-2 (earlier form of the (d) terms)",
        "python benchmarks/compare.py --env-ids Walker2d-v4 Hopper-v4 --seeds 1 2 --variants gaussian-prior "
        "--out-dir benchmarks/results/gaussian_40it", "0ad412e"),
    "gaussian_40it_seed3": Folder(
        "The same, seed 3", "python benchmarks/compare.py --env-ids Hopper-v4 Walker2d-v4 --seeds 3 --variants "
        "gaussian-prior --jobs 1 --out-dir benchmarks/results/gaussian_40it_seed3", "2f652f9"),
    "gaussian_40it_halfcheetah": Folder(
        "The same on HalfCheetah-v4, seeds 1-3", "python benchmarks/compare.py --env-ids HalfCheetah-v4 --seeds 1 2 3 "
        "--variants gaussian-prior --out-dir benchmarks/results/gaussian_40it_halfcheetah", "2f652f9"),
    "checkpoint_cost_1m": Folder(
        "PPO-DAP with the defaults at 1M steps, Hopper-v4 seed 1, checkpointing every 10 iterations (the default)",
        "python benchmarks/compare.py --env-ids Hopper-v4 --seeds 1 --variants ppo-dap --total-timesteps 1000000 "
        "--jobs 1 --out-dir benchmarks/results/checkpoint_cost_1m", "282bb3d"),
    "mutation": Folder(
        "Mutation testing of the maths: one row per mutant of the algorithmic functions, killed or not",
        "bash benchmarks/dev/mutation.sh, then bash benchmarks/dev/mutation.sh GMMPrior, then bash "
        "benchmarks/dev/mutation.sh return_gate mean_episode_return (the comment lines of results.txt say at which "
        "commits)", "282bb3d"),
    "data_kinds": Folder(
        "The behaviour runs (final actors in model.pt) behind the datasets of four kinds, the priors of every kind "
        "pretrained on each dataset, the offline table, and the online runs of PPO and PPO-DAP with each prior on "
        "each dataset kind (`{kind}/{task}_seed{seed}`, made with the code at " + DATA_KINDS_ONLINE_COMMIT + "), their "
        "98-iteration runs for the paper's ALC@40 (`{kind}_200k/seed{seed}`, code at 22ea250) and the 1M comparison "
        "(`two-policies_1m`, code at " + CURRENT + " or later, which gives the same numbers)",
        "python benchmarks/make_datasets.py --data-dir data/data_kinds --runs-dir benchmarks/results/data_kinds/behaviour "
        "--priors diffusion gmm gaussian knn; python benchmarks/prior_fit.py; "
        "bash benchmarks/dev/data_kinds_online.sh; ray start --head --num-cpus 2; PER_SEED=1 STEPS=200704 SUFFIX=_200k "
        "KINDS=\"single replay mixed-quality\" VARIANTS=\"ppo-dap gmm-prior gaussian-prior knn-prior\" bash "
        "benchmarks/dev/data_kinds_online.sh \"$S\" \"$TASKS\" --launcher ray --ray-address auto, and the same with "
        "KINDS=two-policies VARIANTS=\"gmm-prior gaussian-prior knn-prior\" (PPO's runs and the two-policies DDPM's "
        "are eight_tasks_final_200k's); the 1M command is under its table", "f36da0d"),
    "random_policy": Folder(
        "The mean return of uniform random actions on each of the eight tasks, 100 episodes (the zero of the "
        "aggregate scores)", "python benchmarks/dev/random_returns.py", "659f993"),
    "priors_300k": Folder(
        "The earlier Hopper-v4 and HalfCheetah-v4 priors (DDPM, Gaussian, retrieval), pretrained on the whole log of "
        "a 300k-step PPO run (seed 100)", "KINDS=\"diffusion gaussian knn\" bash benchmarks/make_priors.sh $ENV (at that commit)",
        "ac4a1e0"),
}


# ---------------------------------------------------------------------------------------------------
# Runs and their numbers


@dataclass(frozen=True)
class Run:
    """One run folder `{env}__{variant}__{seed}__{start time}[-n]`."""

    env: str
    variant: str
    seed: int
    path: str

    @property
    def start(self) -> int:
        return int(os.path.basename(self.path).split("__")[3].split("-")[0])


class Results:
    """The runs under `{root}/benchmarks/results`, read once."""

    def __init__(self, root: str):
        self.root, self.dir = root, os.path.join(root, "benchmarks", "results")

    @functools.lru_cache(maxsize=None)
    def runs(self, folder: str) -> tuple:
        """Every run folder under results/{folder} (a run folder holds progress.csv)."""
        found = []
        for progress in sorted(glob.glob(os.path.join(self.dir, folder, "**", "progress.csv"), recursive=True)):
            path = os.path.dirname(progress)
            env, variant, seed = os.path.basename(path).split("__")[:3]
            found.append(Run(env, variant, int(seed), path))
        return tuple(found)

    def select(self, folders, variant: str, env: Optional[str] = None, iterations: Optional[int] = None) -> dict:
        """{(env, seed): Run} of `variant` in these folders (first folder first), only runs of at least
        `iterations` iterations when given."""
        out = {}
        for folder in folders:
            for run in self.runs(folder):
                if run.variant != variant or (env and run.env != env) or (run.env, run.seed) in out:
                    continue
                if iterations is None or len(self.csv(run.path, "progress.csv")) >= iterations:
                    out[(run.env, run.seed)] = run
        return out

    @functools.lru_cache(maxsize=None)
    def csv(self, path: str, name: str) -> list:
        return read_csv(os.path.join(path, name))

    def aulc40(self, run: Run) -> float:
        return aulc(self.csv(run.path, "progress.csv"), 40)

    def final(self, run: Run) -> float:
        """Mean return of the last 100 training episodes."""
        return last_episodes_mean(self.csv(run.path, "episodes.csv"))

    def alc40(self, run: Run) -> Optional[float]:
        """The paper's ALC@40 where the run evaluated every 5,000 steps up to epoch 40, else None."""
        if not os.path.exists(os.path.join(run.path, "eval.csv")):
            return None
        rows = self.csv(run.path, "eval.csv")
        return alc(rows) if len(rows) >= 41 else None

    def train_s(self, run: Run, iterations: int) -> float:
        """Training seconds (evaluation excluded) after `iterations` iterations."""
        return float(self.csv(run.path, "progress.csv")[iterations - 1]["time/elapsed_s"])

    def peak_rss(self, run: Run) -> Optional[float]:
        """Peak resident memory (MB) of the run's process, from the runs.csv compare.py wrote above it."""
        folder = run.path
        while folder.startswith(self.dir) and folder != self.dir:
            folder = os.path.dirname(folder)
            record = os.path.join(folder, "runs.csv")
            if os.path.exists(record):
                for row in read_csv(record):
                    if os.path.basename(row.get("run_dir", "")) == os.path.basename(run.path):
                        return float(row["peak_rss_mb"])
        return None

    def steps_to(self, run: Run, threshold: float) -> Optional[int]:
        """The first step at which the mean of the last 100 training episodes reaches `threshold` (None: never)."""
        episodes = self.csv(run.path, "episodes.csv")
        returns = np.array([float(e["episodic_return"]) for e in episodes])
        steps = np.array([int(e["global_step"]) for e in episodes])
        csum = np.concatenate([[0.0], np.cumsum(returns)])
        idx = np.arange(1, len(returns) + 1)
        trailing = (csum[idx] - csum[np.maximum(idx - 100, 0)]) / np.minimum(idx, 100)
        reached = np.nonzero(trailing >= threshold)[0]
        return int(steps[reached[0]]) if len(reached) else None


# ---------------------------------------------------------------------------------------------------
# Formatting paired comparisons


def paired(treat: dict, base: dict, metric: Callable) -> tuple:
    """Per-seed (base, treatment) values of `metric` over the (env, seed) keys both have, sorted."""
    keys = sorted(set(treat) & set(base))
    return keys, np.array([metric(base[k]) for k in keys]), np.array([metric(treat[k]) for k in keys])


def as_ratio(base: np.ndarray) -> bool:
    """Whether a gain over these baseline values is a ratio (every one positive) or a difference."""
    return bool((base > 0).all())


def gain_interval(base: np.ndarray, treat: np.ndarray) -> tuple:
    """(value, bootstrap 95% interval, True) for the ratio of the means mean(treat) / mean(base) over paired
    seeds, or (value, interval, False) for the mean difference treat - base where a baseline value is not
    positive (a ratio means nothing there). base, treat: shape (n,), the same seeds in the same order."""
    if as_ratio(base):
        return treat.mean() / base.mean(), ratio_of_means_ci(treat, base), True
    return (treat - base).mean(), bootstrap_ci(treat - base), False


def gain(base: np.ndarray, treat: np.ndarray, digits: int = 2) -> str:
    """The ratio of the means treat/base (or the mean difference) with its bootstrap 95% interval (none below
    BOOTSTRAP_MIN_PAIRS seeds)."""
    if len(base) == 0:
        return "not run"
    value, (low, high), ratio = gain_interval(base, treat)
    interval = "" if np.isnan(low) else f" [{low:.{digits}f}, {high:.{digits}f}]" if ratio else f" [{low:+.0f}, {high:+.0f}]"
    return f"{value:.{digits}f}x{interval}" if ratio else f"{value:+.0f}{interval} (difference)"


def full_stats(base: np.ndarray, treat: np.ndarray) -> str:
    """The gain, the mean difference's Student-t 95% interval and the paired Wilcoxon p-value."""
    if len(base) < 2:
        return gain(base, treat)
    t_low, t_high = student_t_ci(treat - base)
    difference = f"difference {(treat - base).mean():+.0f}, " if as_ratio(base) else ""  # else the gain states it
    return (f"{gain(base, treat)}; {difference}Student-t [{t_low:+.0f}, {t_high:+.0f}]; "
            f"Wilcoxon p {wilcoxon_p(treat - base):.3f}")


def per_seed(keys, base, treat) -> str:
    return ", ".join(f"{k[1]}: {b:.0f} / {t:.0f}" for k, b, t in zip(keys, base, treat))


def seeds_of(keys) -> str:
    s = sorted({k[1] for k in keys})
    return f"{s[0]}-{s[-1]}" if s == list(range(s[0], s[-1] + 1)) and len(s) > 1 else ", ".join(map(str, s))


def table(header: List[str], rows: List[List[str]]) -> List[str]:
    """A markdown table; a header's " [95%]" is dropped where no cell of its column has an interval (every
    cell on fewer than BOOTSTRAP_MIN_PAIRS seeds)."""
    header = [h.replace(" [95%]", "") if "[95%]" in h and not any(" [" in str(row[i]) for row in rows) else h
              for i, h in enumerate(header)]
    return ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header),
            *["| " + " | ".join(map(str, r)) + " |" for r in rows]]


def sources(*names: str) -> str:
    """The folders a table reads, each with the commit of its code, linked to the index."""
    return "Runs: " + "; ".join(f"[`{n}`](#{anchor(n)}) (code at {FOLDERS[n].commit})" for n in names) + "."


def anchor(name: str) -> str:
    return "runs-" + name.replace("_", "-").lower()


# ---------------------------------------------------------------------------------------------------
# The run sets behind the tables


PPO_1M = ["shared_out_1m", "hopper_1m", "walker_1m", "release_1m_side_by_side", "default_1m",
          "strong_prior_1m_side_by_side", "eight_tasks_1m"]


def forty(r: Results, folders: List[str], variant: str) -> dict:
    return r.select(folders, variant, iterations=40)


def eight_task_sets(r: Results) -> dict:
    """The current code's runs of the eight-task table, PPO and PPO-DAP with the shipped priors: 40 iterations,
    200k steps evaluated every 5,000 (the paper's ALC@40) and 1M."""
    ppo40 = forty(r, ["eight_tasks_final_40it", "aulc40_shared_out", "eight_tasks_40it"], "ppo")
    dap40 = forty(r, ["eight_tasks_final_40it"], "ppo-dap")
    ppo1m = r.select(PPO_1M, "ppo", iterations=ONE_M_ITERATIONS)
    dap1m = r.select(["data_kinds/two-policies_1m", "eight_tasks_final_1m"], "ppo-dap", iterations=ONE_M_ITERATIONS)
    ppo_eval, dap_eval = ({k: v for k, v in r.select(["eight_tasks_final_200k"], variant).items()
                           if r.alc40(v) is not None} for variant in ("ppo", "ppo-dap"))
    return dict(ppo40=ppo40, dap40=dap40, ppo1m=ppo1m, dap1m=dap1m, ppo_eval=ppo_eval, dap_eval=dap_eval)


def of_env(runs: dict, env: str) -> dict:
    return {k: v for k, v in runs.items() if k[0] == env}


def steps_to_90(r: Results, ppo1m: dict, dap1m: dict, env: str) -> tuple:
    """(PPO's, PPO-DAP's) median steps to reach 90% of PPO's mean final return at 1M, with 'k of n reached'."""
    ppo, dap = of_env(ppo1m, env), of_env(dap1m, env)
    keys = sorted(set(ppo) & set(dap))
    threshold = 0.9 * np.mean([r.final(ppo[k]) for k in keys])
    cells = []
    for runs in (ppo, dap):
        steps = [r.steps_to(runs[k], threshold) for k in keys]
        reached = [s for s in steps if s is not None]
        text = f"{np.median(reached) / 1000:.0f}k" if len(reached) > len(keys) / 2 else "not reached"
        cells.append(text + ("" if len(reached) == len(keys) else f" ({len(reached)} of {len(keys)} seeds)"))
    return tuple(cells)


def eight_task_table(r: Results) -> List[str]:
    s = eight_task_sets(r)
    rows, early_better, final_measured, final_below, alc_measured, alc_better = [], [], [], [], [], []
    for env in TASKS:
        k40, b40, t40 = paired(of_env(s["dap40"], env), of_env(s["ppo40"], env), r.aulc40)
        ka, ba, ta = paired(of_env(s["dap_eval"], env), of_env(s["ppo_eval"], env), r.alc40)
        k1, b1, t1 = paired(of_env(s["dap1m"], env), of_env(s["ppo1m"], env), r.final)
        ppo90, dap90 = steps_to_90(r, s["ppo1m"], s["dap1m"], env) if len(k1) else ("not run", "not run")
        rows.append([env, f"{gain(b40, t40)} ({seeds_of(k40)})",
                     f"{gain(ba, ta)} ({seeds_of(ka)})" if len(ka) else "not measured",
                     f"{b1.mean():.0f} / {t1.mean():.0f} ({seeds_of(k1)})" if len(k1) else "not run",
                     f"{ppo90} / {dap90}"])
        if above_one(b40, t40):
            early_better.append(env)
        if len(ka) >= BOOTSTRAP_MIN_PAIRS:  # fewer seeds have no interval to test
            alc_measured.append(env)
            if above_one(ba, ta):
                alc_better.append(env)
        if len(k1):
            final_measured.append(env)
            final_below += [env] if t1.mean() < b1.mean() else []
    others = [env for env in TASKS if env not in early_better]
    alc_others = [env for env in alc_measured if env not in alc_better]
    return table(["task", "AULC@40, PPO-DAP / PPO [95%] (seeds)",
                  "ALC@40 (paper), PPO-DAP / PPO [95%] (seeds)",
                  "final return at 1M: PPO / PPO-DAP (seeds)",
                  "steps to 90% of PPO's 1M return: PPO / PPO-DAP"], rows) + [
        "", f"Early learning (AULC@40's bootstrap interval above PPO's and the Student-t interval of the difference above 0): better on {len(early_better)} of {len(TASKS)} tasks"
        + (f", not shown on {', '.join(others)}" if others else "") + ". The paper's ALC@40 (the same test): "
        f"better on {len(alc_better)} of the {len(alc_measured)} tasks measured"
        + (f", not shown on {', '.join(alc_others)}" if alc_others else "") + ". Mean final return at 1M at least PPO's: "
        f"{len(final_measured) - len(final_below)} of {len(final_measured)}" + (f", below on {', '.join(final_below)}."
                                                                           if final_below else ".")]


def above_one(base: np.ndarray, treat: np.ndarray) -> bool:
    """Whether the bootstrap 95% interval of the gain lies above 1 (above 0 for a difference) and the
    Student-t 95% interval of the mean difference above 0: a gain is called only where both agree (never
    below BOOTSTRAP_MIN_PAIRS seeds, which have no bootstrap interval)."""
    _, (low, _), ratio = gain_interval(base, treat)
    return low > (1.0 if ratio else 0.0) and student_t_ci(treat - base)[0] > 0


# ---------------------------------------------------------------------------------------------------
# Aggregates across the eight tasks (rliable; Agarwal et al., 2021, "Deep RL at the edge of the statistical
# precipice"): normalised scores pooled over tasks and seeds


RELIABLE_REPS = 2000  # stratified-bootstrap resamples (seeded: the page is the same on every call)
PROFILE_FIGURE = "benchmarks/performance_profile.png"


def random_policy_returns(r: Results) -> Dict[str, float]:
    """{task: mean return of a uniform random policy} (benchmarks/dev/random_returns.py)."""
    return {row["env_id"]: float(row["mean_return"])
            for row in read_csv(os.path.join(r.dir, "random_policy", "returns.csv"))}


def common_seeds(runs: List[dict], tasks: List[str]) -> List[int]:
    """The seeds that every task has in every one of these {(env, seed): Run} sets (rliable needs as many
    runs on every task)."""
    return sorted(set.intersection(*[{s for (e, s) in group if e == env} for group in runs for env in tasks]))


def run_matrix(runs: dict, tasks: List[str], seeds: List[int], metric: Callable) -> np.ndarray:
    """`metric` of runs {(env, seed): Run} as rliable takes them: [seeds, tasks]."""
    return np.array([[metric(runs[(env, s)]) for env in tasks] for s in seeds])


def score_matrices(r: Results, ppo: dict, dap: dict, metric: Callable) -> dict:
    """PPO's and PPO-DAP's values of `metric` on the eight tasks, as rliable takes them ([seeds, tasks], over
    the seeds that every task has for both variants): `raw_base`, `raw_treat`; and normalised, `base`,
    `treat` [seeds, len(tasks)], 0 at a uniform random policy's mean return and 1 at PPO's mean over its runs
    on the task. A task where PPO's mean is not above the random policy's return has no such scale: it is
    left out of the normalised scores, listed in `left_out` as (task, PPO's mean, random return)."""
    random = random_policy_returns(r)
    seeds = common_seeds([ppo, dap], TASKS)
    raw_base, raw_treat = run_matrix(ppo, TASKS, seeds, metric), run_matrix(dap, TASKS, seeds, metric)
    one = np.array([np.mean([metric(run) for (e, _), run in ppo.items() if e == env]) for env in TASKS])
    zero = np.array([random[env] for env in TASKS])
    keep = one > zero
    scale = (one - zero)[keep]
    return {"seeds": seeds, "raw_base": raw_base, "raw_treat": raw_treat,
            "tasks": [env for env, k in zip(TASKS, keep) if k],
            "base": (raw_base[:, keep] - zero[keep]) / scale, "treat": (raw_treat[:, keep] - zero[keep]) / scale,
            "left_out": [(env, o, z) for env, o, z, k in zip(TASKS, one, zero, keep) if not k]}


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y) of scores x [runs_x, tasks] over y [runs_y, tasks]: per task the share of (x run, y run) pairs
    that x wins, a tie counting half, averaged over tasks. rliable's `metrics.probability_of_improvement`
    (Mann-Whitney U / (n_x n_y)), computed by broadcasting: the bootstrap calls it thousands of times."""
    pairs = x[:, None, :] - y[None, :, :]
    return float(((pairs > 0).mean(axis=(0, 1)) + 0.5 * (pairs == 0).mean(axis=(0, 1))).mean())


@contextlib.contextmanager
def numpy_global_seed(seed: int):
    """rliable draws its resamples from numpy's global generator: seed it for the block (the page is the
    same on every call), then restore it."""
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(saved)


def seeded_interval_estimates(scores: dict, func: Callable, seed: int) -> tuple:
    """rliable's point estimates and stratified-bootstrap 95% intervals, resampled under `seed`."""
    from rliable import library as rly

    with numpy_global_seed(seed):
        return rly.get_interval_estimates(scores, func, reps=RELIABLE_REPS)


def aggregates(m: dict) -> dict:
    """rliable's IQM of each variant's normalised scores, and the probability that PPO-DAP improves on PPO
    (rank-based, so over the raw values of all eight tasks), each as (point, low, high) with its
    stratified-bootstrap 95% interval; `m` from score_matrices."""
    from rliable import metrics

    iqm = lambda scores: np.array([metrics.aggregate_iqm(scores)])  # noqa: E731
    point, interval = seeded_interval_estimates({"ppo": m["base"], "dap": m["treat"]}, iqm, seed=0)
    return {"iqm_ppo": (point["ppo"][0], *interval["ppo"][:, 0]), "iqm_dap": (point["dap"][0], *interval["dap"][:, 0]),
            "improvement": improvement(m["raw_treat"], m["raw_base"])}


def improvement(x: np.ndarray, y: np.ndarray) -> tuple:
    """(P(X > Y), low, high): the probability of improvement of scores x over y [runs, tasks] with its
    stratified-bootstrap 95% interval (runs resampled within each task, x and y independently)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return seeded_improvement(x.tobytes(), x.shape, y.tobytes(), y.shape)


@functools.lru_cache(maxsize=None)  # the bootstrap is seeded: the same scores give the same answer
def seeded_improvement(x: bytes, x_shape: tuple, y: bytes, y_shape: tuple) -> tuple:
    x, y = np.frombuffer(x).reshape(x_shape), np.frombuffer(y).reshape(y_shape)
    point, interval = seeded_interval_estimates({"x>y": (x, y)}, probability_of_improvement, seed=1)
    return (point["x>y"], *interval["x>y"][:, 0])


def aggregate_sets(r: Results) -> list:
    """(name, score_matrices) of AULC@40 and of the final return at 1M."""
    s = eight_task_sets(r)
    return [(name, score_matrices(r, s[base], s[treat], metric))
            for name, base, treat, metric in (("AULC@40", "ppo40", "dap40", r.aulc40),
                                              ("final return at 1M", "ppo1m", "dap1m", r.final))]


def performance_profile(r: Results, path: str) -> None:
    """The figure: the share of runs (task x seed) whose normalised AULC@40 and final return exceed tau,
    with stratified-bootstrap 95% bands."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from rliable import library as rly

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, (name, m) in zip(axes, aggregate_sets(r)):
        base, treat = m["base"], m["treat"]
        taus = np.linspace(min(base.min(), treat.min(), 0.0), 3.0, 121)  # above 3: the right edge's share
        with numpy_global_seed(0):
            profiles, bands = rly.create_performance_profile({"PPO": base, "PPO-DAP": treat}, taus, reps=RELIABLE_REPS)
        for label in ("PPO", "PPO-DAP"):
            ax.plot(taus, profiles[label], label=label)
            ax.fill_between(taus, bands[label][0], bands[label][1], alpha=0.25)
        ax.set_xlabel("normalised score (0: random policy, 1: PPO's mean)")
        ax.set_ylabel("fraction of runs with score > tau")
        ax.set_title(f"{name}, {len(m['tasks'])} tasks x {len(m['seeds'])} seeds")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# ---------------------------------------------------------------------------------------------------
# The page's sections


def section_eight_tasks(r: Results) -> List[str]:
    s = eight_task_sets(r)
    lines = ["## The eight tasks", "",
             "PPO-DAP with its defaults against PPO, on the paper's eight MuJoCo tasks. AULC@40 from 40-iteration "
             "runs (81,920 steps) with the shipped priors, on the same seeds; the paper's ALC@40 (the area under "
             "the deterministic evaluation's curve over its first 40 epochs of 5,000 steps) from runs of 98 iterations (200,704 steps) "
             "with the shipped priors on the first three tasks; the final return from 1M-step runs (the defaults) "
             "with the shipped priors. "
             "The steps to 90%: the first step at which the mean of the last 100 training episodes reaches 90% of "
             "PPO's mean final return at 1M, the median over the seeds that reach it; \"(2 of 3 seeds)\": only "
             "those reached it; \"not reached\": half of the seeds or fewer did.", "",
             *eight_task_table(r), "",
             "Per task and seed (PPO / PPO-DAP), with the mean paired difference, its Student-t 95% interval and "
             "the paired Wilcoxon p-value:", ""]
    rows = []
    for env in TASKS:
        for name, treat, base, metric in (("AULC@40", s["dap40"], s["ppo40"], r.aulc40),
                                          ("ALC@40 (paper)", s["dap_eval"],
                                           s["ppo_eval"], r.alc40),
                                          ("final return at 1M", s["dap1m"],
                                           s["ppo1m"], r.final)):
            keys, b, t = paired(of_env(treat, env), of_env(base, env), metric)
            if len(keys):
                rows.append([env, name, per_seed(keys, b, t), full_stats(b, t)])
    lines += table(["task", "metric", "per seed: PPO / PPO-DAP", "PPO-DAP against PPO"], rows)
    lines += ["", sources("eight_tasks_final_40it", "aulc40_shared_out", "eight_tasks_40it", "eight_tasks_final_200k",
                      "data_kinds", "eight_tasks_final_1m", *PPO_1M) + " PPO-DAP's 1M runs on the first three tasks are "
              "`data_kinds/two-policies_1m`'s DDPM runs. PPO-DAP's runs are the current algorithm's (code at "
              f"{CURRENT} or later, which gives the same numbers); PPO's runs come from earlier commits whose PPO path "
              "gives the same numbers bit for bit (PPO reads no prior, so its 40-iteration runs of seeds 1-5 serve "
              "both sets of priors).", ""]
    return lines


def section_aggregates(r: Results) -> List[str]:
    rows, notes = [], []
    for name, m in aggregate_sets(r):
        a = aggregates(m)
        rows.append([name, seeds_of([(None, s) for s in m["seeds"]]), len(m["tasks"]),
                     *(f"{v:.2f} [{lo:.2f}, {hi:.2f}]" for v, lo, hi in (a["iqm_ppo"], a["iqm_dap"])),
                     len(TASKS), "{:.2f} [{:.2f}, {:.2f}]".format(*a["improvement"])])
        notes += [f"{env} ({name}: PPO's mean {one:.0f}, a random policy's {zero:.0f})" for env, one, zero in m["left_out"]]
    return ["## Across the eight tasks", "",
            "The same runs pooled over tasks, as Agarwal et al. (2021) recommend for few runs per task, computed with "
            "`rliable`. IQM: the mean of the middle half of all task x seed scores, each normalised per task so that "
            f"0 is a uniform random policy's mean return ([`random_policy`](#{anchor('random_policy')})) and 1 is PPO's "
            "mean at the same budget (so PPO's IQM is near 1 by construction). P(PPO-DAP > PPO): the probability "
            "that a run of PPO-DAP scores above a run of PPO on the same task (Mann-Whitney), averaged over tasks; "
            "above 0.5 favours PPO-DAP; it needs no normalisation, so every task enters. Intervals: stratified "
            f"bootstrap (resampling seeds within each task), 95%, {RELIABLE_REPS} resamples. Only the seeds every "
            "task has for both variants enter.", "",
            *table(["metric", "seeds", "tasks (IQM)", "IQM, PPO [95%]", "IQM, PPO-DAP [95%]", "tasks (P)",
                    "P(PPO-DAP > PPO) [95%]"], rows), "",
            ("Left out of the IQM, where PPO's mean is not above a random policy's return, so that no score scale "
             "exists: " + "; ".join(notes) + "." if notes else ""),
            "", f"Performance profiles (the share of runs scoring above tau, with 95% bands): `{PROFILE_FIGURE}`, drawn "
            "by `python benchmarks/results.py --figure`.", "",
            f"![performance profiles]({PROFILE_FIGURE})", ""]


def run_minutes(r: Results, dap40: dict) -> List[list]:
    """Per task: minutes to pretrain the shipped DDPM prior, and the median training minutes of PPO-DAP's
    40-iteration and 1M-step runs with the shipped priors (with their seeds)."""
    dap1m, rows = eight_task_sets(r)["dap1m"], []
    for env in TASKS:
        pretrain = prior_checkpoint(prior_file(os.path.join(r.root, "priors"), env, "diffusion"))["provenance"]
        cells = [env, f"{pretrain['train_seconds'] / 60:.1f}"]
        for runs, iterations in ((of_env(dap40, env), 40), (of_env(dap1m, env), ONE_M_ITERATIONS)):
            minutes = [r.train_s(run, iterations) / 60 for run in runs.values()]
            cells.append(f"{np.median(minutes):.{1 if iterations == 40 else 0}f} ({seeds_of(sorted(runs))})"
                         if minutes else "not run")
        rows.append(cells)
    return rows


def section_cost(r: Results) -> List[str]:
    # PPO beside PPO-DAP: the eight-task runs of seeds 6-10, both variants in one call, two runs at a time
    ppo40, dap40 = forty(r, ["eight_tasks_final_40it"], "ppo"), forty(r, ["eight_tasks_final_40it"], "ppo-dap")
    rows = []
    for env in TASKS:
        keys, b, t = paired(of_env(dap40, env), of_env(ppo40, env), lambda run: r.train_s(run, 40))
        _, bm, tm = paired(of_env(dap40, env), of_env(ppo40, env), r.peak_rss)
        rows.append([env, "40 iterations", seeds_of(keys), gain(b, t), gain(bm, tm, 3)])
    ppo1m = r.select(["shared_out_1m"], "ppo", iterations=ONE_M_ITERATIONS)
    dap1m = r.select(["shared_out_1m"], "ppo-dap", iterations=ONE_M_ITERATIONS)
    pairs = {k: v for k, v in dap1m.items() if k in ppo1m and abs(v.start - ppo1m[k].start) < 300}
    for (env, seed), dap in sorted(pairs.items()):
        ppo = ppo1m[(env, seed)]
        rows.append([env, f"1M steps, priors of {EARLIER_PRIORS}", str(seed),
                     f"{r.train_s(dap, ONE_M_ITERATIONS) / r.train_s(ppo, ONE_M_ITERATIONS):.3f}x",
                     f"{r.peak_rss(dap) / r.peak_rss(ppo):.3f}x"])
    checkpointed = []
    for (env, seed), run in sorted(r.select(["checkpoint_cost_1m"], "ppo-dap", iterations=ONE_M_ITERATIONS).items()):
        last = r.csv(run.path, "progress.csv")[-1]  # both columns are cumulative; checkpointing counts as training
        checkpointed.append(f"{float(last['time/checkpoint_s']) / float(last['time/elapsed_s']):.2%} ({env}, seed {seed})")
    acting = [sum(float(row["dap/imitation_coef"]) > 0 for row in r.csv(run.path, "progress.csv"))
              for run in eight_task_sets(r)["dap1m"].values()]
    lines = ["## Cost", "", "PPO-DAP's training time (evaluation excluded) and peak resident memory over PPO's, on the "
             "same seed and machine (" + TWO_CORE + "): at 40 iterations with the shipped priors, both variants in "
             "one call that runs two at a time; at 1M side by side, with earlier priors (networks of the same size "
             "as the shipped ones). At 40 iterations the prior acts in most iterations; in the 1M-step runs with the "
             f"shipped priors it acts in {min(acting)}" + (f" to {max(acting)}" if max(acting) > min(acting) else "")
             + f" of {ONE_M_ITERATIONS} iterations.", "",
             *table(["task", "budget", "seeds", "training time, PPO-DAP / PPO [95%]", "peak RSS, PPO-DAP / PPO [95%]"],
                    rows), "", sources("eight_tasks_final_40it", "shared_out_1m"), "",
             "How long a run takes there (two runs at a time, evaluation excluded), median over seeds, in minutes: "
             "the shipped DDPM prior's pretraining (from its provenance), and PPO-DAP with the defaults:", "",
             *table(["task", "pretraining the prior", "PPO-DAP, 40 iterations (seeds)", "PPO-DAP, 1M steps (seeds)"],
                    run_minutes(r, dap40)), "",
             "Checkpoints at the default `--checkpoint-every 10` (capturing the state every iteration, writing it every "
             "10th) took this share of a 1M-step PPO-DAP run's training time: " + ", ".join(checkpointed) + ". "
             + sources("checkpoint_cost_1m"), ""]
    speed = read_csv(os.path.join(r.dir, "speed", "runs.csv"))
    rows = []
    speed = [x for x in speed if x["kind"] == "cleanrl"]
    for env in dict.fromkeys(x["env_id"] for x in speed):
        keys, b, t = ours_and_cleanrl(speed, env, "sps")
        rows.append([env, len(keys), f"{np.median(t):.0f}", f"{np.median(b):.0f}", gain(b, t)])
    lines += ["Steps per second of our PPO path against CleanRL's `ppo_continuous_action.py`, each run alone, one "
              "torch thread, pairs back to back with the order alternated:", "",
              *table(["task", "pairs", "ours, median SPS", "CleanRL, median SPS", "ours / CleanRL [95%]"], rows), "",
              sources("speed"), ""]
    gpu = {name: gpu_sps(r, name) for name in ("ppo_cuda", "ppo_no-cuda", "dap_cuda", "dap_no-cuda")}
    lines += ["`--cuda` works, but for these small networks and one environment the CPU is faster (Hopper-v4, 10 "
              "iterations, each run alone):", "",
              *table(["", "`--cuda` SPS", "`--no-cuda` SPS"],
                     [["PPO", f"{gpu['ppo_cuda']:.0f}", f"{gpu['ppo_no-cuda']:.0f}"],
                      ["PPO-DAP", f"{gpu['dap_cuda']:.0f}", f"{gpu['dap_no-cuda']:.0f}"]]), "", sources("gpu_check"), ""]
    return lines


def ours_and_cleanrl(rows: list, env: str, key: str) -> tuple:
    """(seeds, CleanRL's values, ours) of `key` for `env`, paired by seed, from rows with `impl` ours / cleanrl."""
    value = {(x["impl"], int(x["seed"])): float(x[key]) for x in rows if x["env_id"] == env}
    keys = sorted(seed for impl, seed in value if impl == "ours")
    return keys, np.array([value[("cleanrl", k)] for k in keys]), np.array([value[("ours", k)] for k in keys])


def gpu_sps(r: Results, name: str) -> float:
    """The last progress line's SPS in gpu_check/{name}.log."""
    lines = [x for x in open(os.path.join(r.dir, "gpu_check", f"{name}.log")) if x.startswith("iter ")]
    return float(lines[-1].split("| SPS ")[1].split()[0])


def prior_checkpoint(path: str) -> dict:
    """A prior file as `pretrain_prior.save_prior` wrote it ({config, state_dict, env_id, provenance}), read
    raw: this page compares and quotes priors, it never builds one (that is `pretrain_prior.load_prior`)."""
    return torch.load(path, map_location="cpu", weights_only=False)


def same_priors(a_dir: str, b_dir: str, envs: List[str]) -> List[str]:
    """The prior files (every kind of `envs`) that differ between two folders of priors, config or any tensor;
    [] when all are the same weight for weight."""
    differ = []
    for env in envs:
        for kind in PRIOR_KINDS:
            a, b = (prior_checkpoint(prior_file(d, env, kind)) for d in (a_dir, b_dir))
            same = a["config"] == b["config"] and a["state_dict"].keys() == b["state_dict"].keys() and all(
                torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
            if not same:
                differ.append(os.path.basename(prior_file(a_dir, env, kind)))
    return differ


def not_on_dataset(priors_dir: str, envs: List[str], record: dict, kind: str) -> List[str]:
    """The prior files (every kind of `envs`) whose provenance sha256 is not that of their task's `kind`
    dataset in `record` (datasets.json); [] when all were pretrained on it."""
    other = []
    for env in envs:
        for prior in PRIOR_KINDS:
            path = prior_file(priors_dir, env, prior)
            if prior_checkpoint(path)["provenance"]["dataset_sha256"] != record["files"][f"{kind}/{env}.npz"]["sha256"]:
                other.append(os.path.basename(path))
    return other


def dataset_flag(command: str) -> str:
    """The `--dataset` value of a pretraining command line."""
    tokens = command.split()
    return tokens[tokens.index("--dataset") + 1]


def late_verdict(r: Results, s: dict, envs: List[str]) -> str:
    """Whether PPO-DAP's mean final return at 1M with the shipped priors reaches PPO's on these tasks, in words
    (the numbers are the eight-task table's)."""
    ended = {True: [], False: []}
    for env in envs:
        keys, b, t = paired(of_env(s["dap1m"], env), of_env(s["ppo1m"], env), r.final)
        if len(keys):
            ended[bool(t.mean() >= b.mean())].append(env)
    if not ended[True] and not ended[False]:
        return "No 1M runs with these priors exist yet to show whether it does."
    parts = [f"at or above PPO's on {', '.join(ended[True])}" if ended[True] else "",
             f"below PPO's on {', '.join(ended[False])}" if ended[False] else ""]
    return ("With these priors PPO-DAP's mean final return at 1M ([the eight tasks](#the-eight-tasks)) ends "
            + " and ".join(p for p in parts if p) + ".")


def section_data(r: Results) -> List[str]:
    """The shipped priors' provenance against what PPO reaches at 1M."""
    s = eight_task_sets(r)
    record = json.load(open(os.path.join(r.dir, "data_kinds", "datasets.json")))
    rows = []
    for env in TASKS:
        prov = prior_checkpoint(prior_file(os.path.join(r.root, "priors"), env, "diffusion"))["provenance"]
        _, ppo_finals, _ = paired(of_env(s["dap1m"], env), of_env(s["ppo1m"], env), r.final)  # the table's seeds
        ppo_final = ppo_finals.mean()
        data_return = prov.get("mean_episode_return")
        part = f", the episodes of its last {prov['last_steps']:,} steps" if prov.get("last_steps") else ""
        rows.append([env, f"`{dataset_flag(prov['command'])}`{part}", prov["dataset_sha256"][:12],
                     f"{prov['transitions']:,}", f"{data_return:.0f}", f"{ppo_final:.0f}",
                     "yes" if data_return >= ppo_final else "no", f"{prov['heldout_loss']:.4f}"])
    held, below = ([row[0] for row in rows if row[6] == answer] for answer in ("yes", "no"))
    other_data = not_on_dataset(os.path.join(r.root, "priors"), TASKS, record, "two-policies")
    recipe = (f"All {len(TASKS) * len(PRIOR_KINDS)} shipped priors (four kinds for each task) were pretrained on "
              "their task's two-policies dataset: the sha256 in each one's provenance is that dataset's in "
              "[`datasets.json`](benchmarks/results/data_kinds/datasets.json)."
              if not other_data else "These shipped priors were not pretrained on their task's two-policies "
              f"dataset (the sha256 in their provenance is another): {', '.join(other_data)}.")
    differ = same_priors(os.path.join(r.root, "priors"), os.path.join(r.dir, "data_kinds", "priors", "two-policies"),
                         FIRST_THREE)
    check = ("The first three tasks' shipped priors, all four kinds, are the two-policies priors of the dataset-kind "
             "comparison weight for weight." if not differ else "These shipped priors differ from the two-policies "
             f"priors of the dataset-kind comparison: {', '.join(differ)}.")
    earlier = {**r.select(["release_1m"], "ppo-dap", iterations=ONE_M_ITERATIONS),
               **r.select(["release_1m_side_by_side"], "ppo-dap", iterations=ONE_M_ITERATIONS),
               **r.select(["default_1m"], "ppo-dap", "HalfCheetah-v4", iterations=ONE_M_ITERATIONS)}
    single = r.select(["strong_prior_1m", "strong_prior_1m_side_by_side"], "strong-prior", iterations=ONE_M_ITERATIONS)
    single.update({k: v for k, v in r.select(["strong_prior_1m_side_by_side"], "ppo-dap",
                                             iterations=ONE_M_ITERATIONS).items() if k not in single})
    cmp_rows = []
    for env in ("Hopper-v4", "HalfCheetah-v4"):
        for name, runs in (("whole log of a 300k-step run", earlier),
                           ("last 300k steps of a 1M-step run", single)):
            keys, b, t = paired(of_env(runs, env), of_env(s["ppo1m"], env), r.final)
            _, ba, ta = paired(of_env(runs, env), of_env(s["ppo1m"], env), r.aulc40)
            cmp_rows.append([env, name, seeds_of(keys), gain(ba, ta), f"{b.mean():.0f} / {t.mean():.0f}"])
    return ["## The prior's data", "",
            "The prior carries the behaviour of its data into PPO. On Hopper-v4 and HalfCheetah-v4 (second table), "
            "priors made from a weak behaviour (the whole log of a 300k-step PPO run) gave a far smaller early gain "
            "than priors from a stronger behaviour (the last 300k steps of a 1M-step run), none on Hopper-v4, and "
            "ended below PPO at 1M on HalfCheetah-v4; the stronger behaviour's priors ended above PPO on both with "
            "the earlier form of the (d) terms (with the current form, HalfCheetah-v4's ends a little below PPO's "
            "mean: [the frozen prior at 1M](#ablations-and-rpo)). Hence the rule for a new prior: **the prior's data "
            "should reach at least what PPO reaches in the run.** Data below it do not always cost the final "
            "return (the shipped priors below), but they are where a prior was seen to hold the actor back.", "",
            "The shipped priors follow one recipe, chosen by the [dataset-kind comparison]"
            "(#when-does-the-diffusion-prior-earn-its-cost): two-policies data, 150,000 transitions "
            "of each of two converged policies (PPO seeds 100 and 101 at 1M steps) acting from the same start "
            "states, with the DDPM and its GMM, Gaussian and retrieval ablation priors pretrained on it by "
            "`python benchmarks/make_datasets.py --env-ids $ENV --kinds two-policies --priors diffusion gmm "
            "gaussian knn --data-dir data/data_kinds --runs-dir benchmarks/results/data_kinds/behaviour "
            "--priors-dir priors --flat` (the first three tasks' files were made by the same pretraining for the "
            "dataset-kind comparison and copied; the behaviour runs are in `data_kinds/behaviour`). " + recipe
            + " Each DDPM prior's provenance, against PPO's mean final return at 1M on the seeds of the eight-task "
            "table (the rule holds for "
            f"{', '.join(held) or 'none of them'}):", "",
            *table(["task", "`--dataset` of its pretraining", "sha256", "transitions", "mean episode return of the data",
                    "PPO's final return at 1M", "data at least PPO's 1M return", "held-out denoising loss"], rows), "",
            *([f"On {', '.join(below)} the data's mean return is below PPO's at 1M, so the rule does not hold: "
               "there a prior can hold the actor back late in a run. " + late_verdict(r, s, below), ""]
              if below else []),
            check, "",
            f"Hopper-v4 and HalfCheetah-v4 with priors (of commit {EARLIER_PRIORS} and before) from a weak and from a "
            "stronger behaviour of one policy, at 1M, both with the earlier form of the (d) terms:", "",
            *table(["task", "prior's data", "seeds", "AULC@40 in the 1M runs, PPO-DAP / PPO [95%]",
                    "final return at 1M: PPO / PPO-DAP"],
                   cmp_rows), "",
            sources("strong_prior_1m", "strong_prior_1m_side_by_side", "release_1m", "release_1m_side_by_side",
                    "default_1m", "priors_300k", "data_kinds"), ""]


def section_prior_kinds(r: Results) -> List[str]:
    ppo1m = eight_task_sets(r)["ppo1m"]
    dap1m = r.select(["shared_out_1m"], "ppo-dap", iterations=ONE_M_ITERATIONS)
    gauss1m = r.select(["gaussian_1m_current_form"], "gaussian-prior", iterations=ONE_M_ITERATIONS)
    rows1m = []
    for env in ("Hopper-v4", "HalfCheetah-v4"):
        for name, runs in (("DDPM", dap1m), ("Gaussian", gauss1m)):
            runs = {k: v for k, v in of_env(runs, env).items() if (env, k[1]) in gauss1m}
            keys, b, t = paired(runs, of_env(ppo1m, env), r.final)
            _, ba, ta = paired(runs, of_env(ppo1m, env), r.aulc40)
            rows1m.append([env, name, seeds_of(keys), per_seed(keys, ba, ta), per_seed(keys, b, t)])
    return ["## Which prior: DDPM, GMM, Gaussian or retrieval", "",
            "The same pipeline with the prior swapped: a state-conditional mixture of Gaussians (`--prior-kind gmm`), "
            "a Gaussian (`--prior-kind gaussian`) and retrieval of the logged actions of the nearest stored states "
            "(`--prior-kind knn`, run with `--peft none`), each pretrained on the DDPM's data. The shipped priors "
            "are the two-policies kind of the [dataset-kind comparison](#when-does-the-diffusion-prior-earn-its-cost): "
            "its two-policies rows compare the four prior kinds shipped for each task at 40 iterations, and its "
            "1M table the shipped DDPM with the shipped Gaussian prior.", "",
            f"On one converged policy's data (the last 300k steps of a 1M-step run), the DDPM and Gaussian priors "
            f"shipped for Hopper-v4 and HalfCheetah-v4 at commit {EARLIER_PRIORS} at 1M steps (per seed, PPO / the "
            "prior's run):", "",
            *table(["task", "prior", "seeds", "AULC@40 in the 1M runs", "final return at 1M"], rows1m), "",
            sources("shared_out_1m", "gaussian_1m_current_form"), ""]


def section_ablations(r: Results) -> List[str]:
    ppo40 = forty(r, ["aulc40_shared_out"], "ppo")
    variants = [("defaults", "aulc40_shared_out", "ppo-dap"), ("frozen prior (`--peft none`)", "ablations_current_40it", "frozen-prior"),
                ("one proposal, no reweighting (`--num-proposals 1`)", "ablations_current_40it", "no-reweighting"),
                ("with the KL term (`--kl-coef 0.01`)", "ablations_current_40it", "kl"),
                ("with guidance (`--guidance-scale 1.0`)", "ablations_current_40it", "guidance"),
                ("RPO (`--imitation-coef 0 --rpo-alpha 0.5`)", "baselines_40it", "rpo"),
                ("RPO-DAP (`--rpo-alpha 0.5`)", "baselines_current_40it", "rpo-dap")]
    rows = []
    for env in FIRST_THREE:
        for name, folder, variant in variants:
            folders = [folder, "baselines_40it_hc"] if variant == "rpo" else [folder]
            runs = {k: v for k, v in forty(r, folders, variant).items() if k[1] <= 3}
            keys, b, t = paired(of_env(runs, env), of_env(ppo40, env), r.aulc40)
            rows.append([env, name, per_seed(keys, b, t), gain(b, t)])
    ppo1m = eight_task_sets(r)["ppo1m"]
    dap1m = r.select(["shared_out_1m"], "ppo-dap", iterations=ONE_M_ITERATIONS)
    frozen = r.select(["frozen_1m"], "frozen-prior", iterations=ONE_M_ITERATIONS)
    rows1m = []
    for env in FIRST_THREE:
        for name, runs in (("defaults (LoRA)", dap1m), ("frozen prior", frozen)):
            runs = {k: v for k, v in of_env(runs, env).items() if (env, k[1]) in frozen}
            keys, b, t = paired(runs, of_env(ppo1m, env), r.final)
            _, ba, ta = paired(runs, of_env(ppo1m, env), r.aulc40)
            rows1m.append([env, name, seeds_of(keys), gain(ba, ta), f"{b.mean():.0f} / {t.mean():.0f}"])
    return ["## Ablations and RPO", "",
            "One change each to the defaults, and CleanRL's RPO with and without the prior, at 40 iterations, seeds "
            f"1-3, against PPO on the same seeds, with the priors shipped at commit {EARLIER_PRIORS}:", "",
            *table(["task", "variant", "AULC@40 per seed: PPO / variant", "variant / PPO [95%]"], rows), "",
            "The frozen prior at 1M:", "",
            *table(["task", "variant", "seeds", "AULC@40 in the 1M runs, variant / PPO [95%]",
                    "final return at 1M: PPO / variant"],
                   rows1m), "",
            sources("aulc40_shared_out", "ablations_current_40it", "baselines_40it", "baselines_40it_hc",
                    "baselines_current_40it", "shared_out_1m", "frozen_1m"), ""]


def section_cleanrl(r: Results) -> List[str]:
    rows = [x for f in ("cleanrl_100k", "cleanrl_100k_hopper_seeds4-8") for x in read_csv(os.path.join(r.dir, f, "runs.csv"))]
    out = []
    for env in dict.fromkeys(x["env_id"] for x in rows):
        keys, b, t = ours_and_cleanrl(rows, env, "final_return")
        out.append([env, seeds_of([(env, k) for k in keys]), f"{np.median(t):.0f}", f"{np.median(b):.0f}",
                    f"{(t - b).mean():+.0f} [{student_t_ci(t - b)[0]:+.0f}, {student_t_ci(t - b)[1]:+.0f}]",
                    f"{wilcoxon_p(t - b):.3f}"])
    return ["## Our PPO against CleanRL's", "",
            "Our PPO path (`--imitation-coef 0`) against CleanRL's `ppo_continuous_action.py` at 102,400 steps, final "
            "return (last 100 episodes), same seeds, two runs at a time:", "",
            *table(["task", "seeds", "ours, median", "CleanRL, median", "ours - CleanRL, mean [Student-t 95%]",
                    "Wilcoxon p"], out), "",
            sources("cleanrl_100k", "cleanrl_100k_hopper_seeds4-8"), ""]


DATA_KIND_NAMES = {"single": "single (one converged policy)", "replay": "replay (a learning run's whole log)",
                   "mixed-quality": "mixed-quality (converged + part-way)", "two-policies": "two-policies (two converged)"}


def section_data_kinds(r: Results) -> List[str]:
    """The datasets of four kinds and how each prior kind covers them offline."""
    record = json.load(open(os.path.join(r.dir, "data_kinds", "datasets.json")))
    fit = read_csv(os.path.join(r.dir, "data_kinds", "prior_fit.csv"))
    rows = [[DATA_KIND_NAMES[kind], env, f"{e['transitions']:,}", f"{e['mean_episode_return']:.0f}", e["sha256"][:12]]
            for kind in DATA_KIND_NAMES for env in FIRST_THREE
            for e in [record["files"].get(f"{kind}/{env}.npz")] if e is not None]
    priors = list(dict.fromkeys(x["prior"] for x in fit))
    offline = []
    for kind in DATA_KIND_NAMES:
        for env in FIRST_THREE:
            cells = {x["prior"]: x for x in fit if x["kind"] == kind and x["env_id"] == env}
            if cells:
                offline.append([DATA_KIND_NAMES[kind], env, *[f"{float(cells[p]['best_of_1']):.3f} / "
                                                                f"{float(cells[p]['best_of_8']):.3f} / "
                                                                f"{float(cells[p]['multimodal_share']):.2f}" for p in priors]])
    return ["## When does the diffusion prior earn its cost?", "",
            "Datasets of four kinds, made by `python benchmarks/make_datasets.py` from behaviour runs with recorded "
            "seeds (PPO seeds 100 and 101 at 1M steps, seed 100 at 300k; each mixed kind takes 150,000 transitions "
            "of each policy, acting from the same start states). The files are not committed; their sha256 (first "
            f"12 digits here, all in [`datasets.json`](benchmarks/results/data_kinds/datasets.json)) let a rerun on {record['machine']} be checked bit for bit. "
            f"Made for {', '.join(env for env in FIRST_THREE if any(env in k for k in record['files']))}:", "",
            *table(["dataset", "task", "transitions", "mean episode return", "sha256"], rows), "",
            "Offline, on 2,000 of each dataset's held-out states (`python benchmarks/prior_fit.py`): best-of-1 / "
            "best-of-8 error (squared distance from the logged action to the nearest of 1 or 8 samples, scaled "
            "actions, mean over dimensions) / the share of states whose 32 samples form two clusters. A prior that "
            "covers the data's modes has a small best-of-8 error; the share says how multimodal the prior finds "
            "p(a | s):", "",
            *table(["dataset", "task", *priors], offline), "",
            sources("data_kinds"), "", *online_data_kinds(r)]


PRIOR_VARIANTS = {"ppo-dap": "DDPM", "gmm-prior": "GMM", "gaussian-prior": "Gaussian", "knn-prior": "retrieval"}
VERDICT_SEEDS = 5  # with fewer seeds per task a bootstrap interval of P(X > Y) is too coarse for a verdict


def kind_runs(r: Results, kind: str, variant: str, long: bool = False) -> dict:
    """{(env, seed): Run} of the online runs on one dataset kind: the 40-iteration runs, or with `long` those
    of 98 iterations evaluated up to epoch 40 (the paper's ALC@40), seeds 1 to VERDICT_SEEDS. PPO reads no
    prior, so its runs serve every kind: the 40-iteration ones were made beside the single kind's, the long
    ones are the eight-task table's, as are the long runs of the two-policies DDPM (the shipped prior)."""
    if not long:
        return r.select([f"data_kinds/{'single' if variant == 'ppo' else kind}"], variant, iterations=40)
    shared = variant == "ppo" or (kind, variant) == ("two-policies", "ppo-dap")
    folders = [f"data_kinds/{kind}_200k"] + (["eight_tasks_final_200k"] if shared else [])
    return {k: v for k, v in r.select(folders, variant).items() if k[1] <= VERDICT_SEEDS and r.alc40(v) is not None}


def standing(low: float, high: float) -> str:
    """Where the 95% interval [low, high] of P(DDPM > a rival) puts the DDPM: "ahead of" the rival (the interval
    above 0.5), "behind" it (below 0.5) or "not distinguishable from" it."""
    return "ahead of" if low > 0.5 else "behind" if high < 0.5 else "not distinguishable from"


def online_data_kinds(r: Results) -> List[str]:
    kinds = [k for k in DATA_KIND_NAMES if os.path.isdir(os.path.join(r.dir, "data_kinds", k))]
    if not kinds:
        return []
    metrics = {"AULC@40": (False, r.aulc40), "ALC@40 (paper)": (True, r.alc40)}  # name: (long runs, metric)
    # {metric name: {kind: {variant: runs}}}, PPO's (the same for every kind) under "ppo" of each kind
    runs = {name: {kind: {variant: kind_runs(r, kind, variant, long) for variant in ["ppo", *PRIOR_VARIANTS]}
                   for kind in kinds} for name, (long, _) in metrics.items()}
    ppo = runs["AULC@40"]["single"]["ppo"]
    lines = ["### Online: PPO-DAP with each prior kind, on each dataset kind", "",
             "AULC@40 from 40-iteration runs (81,920 steps); the paper's ALC@40 from runs of 98 iterations (200,704 "
             "steps) evaluated deterministically every 5,000 steps (10 episodes). Seeds as listed; PPO's runs are "
             "shared by the four kinds (it reads no prior), and the 98-iteration runs of PPO and of the two-policies "
             "DDPM are the eight-task table's. Each cell: the ratio of the means to PPO's over the same seeds with its "
             f"bootstrap 95% interval from {BOOTSTRAP_MIN_PAIRS} seeds on (a difference where PPO's value is not "
             "positive).", ""]
    for name, (_, metric) in metrics.items():
        rows = []
        for kind in kinds:
            base = runs[name][kind]["ppo"]
            for env in FIRST_THREE:
                pairs = [paired(of_env(runs[name][kind][variant], env), of_env(base, env), metric)
                         for variant in PRIOR_VARIANTS]
                keys = set().union(*(k for k, _, _ in pairs))
                if not keys:
                    continue
                cells = [gain(b, t) + (f" (seeds {seeds_of(k)})" if k and set(k) != keys else "")  # fewer seeds
                         for k, b, t in pairs]                                                   # than the row's
                rows.append([kind, env, seeds_of(keys), *cells])
        lines += [f"{name}, PPO-DAP with each prior / PPO:", "",
                  *table(["dataset", "task", "seeds", *PRIOR_VARIANTS.values()], rows), ""]
    # time: the single kind's runs, where PPO ran in the same batch as the four priors
    cells = []
    for variant in PRIOR_VARIANTS:
        k, b, t = paired(runs["AULC@40"]["single"][variant], ppo, lambda run: r.train_s(run, 40))
        cells.append(f"{gain(b, t)} ({len(k)} pairs)")
    lines += ["Training time (evaluation excluded) / PPO's, from the single kind's runs, over the three tasks. Each "
              "call runs PPO beside the DDPM, then the GMM beside the Gaussian, then retrieval: only the DDPM's ratio "
              "is side by side, and the machine did other work during some batches, so read these as rough:", "", *table(list(PRIOR_VARIANTS.values()), [cells]), ""]
    # the verdict: the DDPM against each cheaper prior, over the three tasks
    cheaper = list(PRIOR_VARIANTS.items())[1:]
    rows, leads, sentences, pending, seeds_by_kind, earns, alc_seeds_of = [], {}, [], [], {}, [], {}
    alc_judged, alc_earns = [], []  # kinds with an ALC@40 verdict; those where the DDPM leads every cheaper prior
    for kind in kinds:
        # per metric, the same seeds for every comparison: those every task and prior kind has
        common = {name: common_seeds([runs[name][kind][v] for v in PRIOR_VARIANTS], FIRST_THREE) for name in metrics}
        cells, ahead, behind, probabilities, alc_standing = [], [], [], [], {}  # alc_standing: {label: standing}
        for variant, label in cheaper:
            texts = []
            for name, (_, metric) in metrics.items():
                if len(common[name]) < 2:
                    texts.append("too few seeds")
                    continue
                p, low, high = improvement(run_matrix(runs[name][kind]["ppo-dap"], FIRST_THREE, common[name], metric),
                                           run_matrix(runs[name][kind][variant], FIRST_THREE, common[name], metric))
                texts.append(f"{p:.2f} [{low:.2f}, {high:.2f}]")
                if name == "AULC@40":
                    probabilities.append((p, variant))
                    ahead += [label] if standing(low, high) == "ahead of" else []
                    behind += [label] if standing(low, high) == "behind" else []
                elif len(common[name]) >= VERDICT_SEEDS:
                    alc_standing[label] = standing(low, high)
            cells.append("; ".join(texts))
        alc_seeds = alc_seeds_of[kind] = common["ALC@40 (paper)"]
        rows.append([DATA_KIND_NAMES[kind], seeds_of([(None, x) for x in alc_seeds]) if alc_seeds else "none", *cells])
        seeds = common["AULC@40"]
        if len(seeds) < VERDICT_SEEDS:
            pending.append(kind)
            continue
        seeds_by_kind[kind], leads[kind] = seeds, min(probabilities)  # the DDPM against its best cheaper rival
        earns += [kind] if len(ahead) == len(cheaper) else []
        if len(alc_standing) == len(cheaper):  # an ALC@40 verdict on VERDICT_SEEDS seeds
            alc_judged.append(kind)
            alc_earns += [kind] if all(st == "ahead of" for st in alc_standing.values()) else []
        even = [label for _, label in cheaper if label not in ahead + behind]
        sentences.append(f"**{kind}**: the DDPM is " + standings_text(ahead, behind, even)
                         + (f"; on the paper's ALC@40, " + standings_text(
                             *([lb for lb, st in alc_standing.items() if st == which]
                               for which in ("ahead of", "behind", "not distinguishable from")))
                            if alc_standing else "") + ".")
    lines += ["Verdict, early learning: the probability that a DDPM run beats a run with the cheaper prior on the "
              "same task (rank-based, so the tasks' scales do not matter), averaged over the three tasks, with its "
              "stratified-bootstrap 95% interval: AULC@40; the paper's ALC@40 (on the seeds listed, those every task "
              "and prior kind has). \"Ahead\" and \"behind\" mean the interval excludes 0.5.", "",
              *table(["dataset", "seeds (ALC@40)", *(f"P(DDPM > {label})" for _, label in cheaper)], rows), ""]
    best = max(leads, key=lambda k: leads[k][0]) if leads else None
    if best:
        sentences.append(f"The DDPM's lead over its best cheaper rival (the smallest of the three AULC@40 "
                         f"probabilities) is largest on **{best}** ({leads[best][0]:.2f}, against the "
                         f"{PRIOR_VARIANTS[leads[best][1]]} prior).")
        if earns:
            sentences.append(f"Early on (AULC@40), the DDPM earns its cost only on {', '.join(earns)} data, where it "
                             "is ahead of every cheaper prior.")
        else:
            sentences.append(f"**Early on, the DDPM does not earn its cost on any of these {len(leads)} kinds of "
                             "data**: on none is it ahead of every cheaper prior.")
    if alc_judged:
        sentences.append(f"On the paper's ALC@40 (deterministic evaluation), the DDPM is ahead of every cheaper prior "
                         + (f"only on {', '.join(alc_earns)} data." if alc_earns else
                            f"on none of the {len(alc_judged)} kinds of data."))
    if pending:
        sentences.append(f"No verdict in words on {', '.join(pending)}: it needs {VERDICT_SEEDS} seeds on every task.")
    if any(len(alc_seeds_of[k]) < VERDICT_SEEDS for k in seeds_by_kind):
        sentences.append(f"On the paper's ALC@40 a kind gets a verdict in words once every task and prior kind has "
                         f"{VERDICT_SEEDS} seeds; the table gives its probabilities on the seeds there are.")
    if seeds_by_kind:
        same = len({tuple(v) for v in seeds_by_kind.values()}) == 1
        seed_text = (seeds_of([(None, x) for x in next(iter(seeds_by_kind.values()))]) if same else
                     "; ".join(f"{k}: {seeds_of([(None, x) for x in v])}" for k, v in seeds_by_kind.items()))
        sentences.append(f"Seeds in the verdict (those every task and prior kind has): {seed_text}.")
    lines += [" ".join(sentences), ""]
    # which data, for each prior: each kind against one converged policy's data, the cheapest converged kind
    others = [kind for kind in kinds if kind != "single"]
    if "single" in kinds and others:
        rows, better = [], []
        for variant, label in PRIOR_VARIANTS.items():
            base = runs["AULC@40"]["single"][variant]
            cells = []
            for kind in others:
                on_kind = runs["AULC@40"][kind][variant]
                seeds = common_seeds([on_kind, base], FIRST_THREE)
                if len(seeds) < 2:
                    cells.append("too few seeds")
                    continue
                p, low, high = improvement(run_matrix(on_kind, FIRST_THREE, seeds, r.aulc40),
                                           run_matrix(base, FIRST_THREE, seeds, r.aulc40))
                cells.append(f"{p:.2f} [{low:.2f}, {high:.2f}]")
                better += [f"the {label} prior on {kind} data"] if low > 0.5 and len(seeds) >= VERDICT_SEEDS else []
            rows.append([label, *cells])
        lines += ["Which data, for each prior: the probability that a run on this kind of data beats a run of the "
                  "same prior on one converged policy's data (single), AULC@40, averaged over the three tasks:", "",
                  *table(["prior", *(f"P({kind} > single)" for kind in others)], rows), "",
                  f"Ahead of the same prior on single data (the interval above 0.5, with {VERDICT_SEEDS} seeds or "
                  f"more): {'; '.join(better) if better else 'none'}.", ""]
    lines += ["Runs: `data_kinds/{single,replay,mixed-quality,two-policies}` (code at "
              f"{DATA_KINDS_ONLINE_COMMIT}; command: `bash benchmarks/dev/data_kinds_online.sh`); the 98-iteration "
              "runs `data_kinds/{kind}_200k` (code at 22ea250) and [`eight_tasks_final_200k`]"
              f"(#{anchor('eight_tasks_final_200k')}), with their commands in [`data_kinds`](#{anchor('data_kinds')}).", ""]
    return lines + data_kinds_1m(r, eight_task_sets(r)["ppo1m"], best and (best, leads[best][1]))


def data_kinds_1m(r: Results, ppo1m: dict, best: Optional[tuple] = None) -> List[str]:
    """The 1M-step comparison of the DDPM with a cheaper prior on one dataset kind (`data_kinds/{kind}_1m`);
    `best`: (the kind where the DDPM led its best cheaper rival most at 40 iterations, that rival)."""
    lines = []
    for kind in DATA_KIND_NAMES:
        folder = f"data_kinds/{kind}_1m"
        if not os.path.isdir(os.path.join(r.dir, folder)):
            continue
        rivals = {run.variant for run in r.runs(folder)} & set(PRIOR_VARIANTS) - {"ppo-dap"}
        if len(rivals) != 1:  # a folder whose first runs are not finished yet
            continue
        (rival,) = rivals
        ddpm = r.select([folder], "ppo-dap", iterations=ONE_M_ITERATIONS)
        other = r.select([folder], rival, iterations=ONE_M_ITERATIONS)
        label = PRIOR_VARIANTS[rival]
        rows = []
        for env in FIRST_THREE:
            keys, b, t = paired(of_env(ddpm, env), of_env(other, env), r.final)
            if not keys:
                continue
            ppo_keys = [k for k in keys if k in ppo1m]  # PPO on the seeds of the pair
            ppo = f"{np.mean([r.final(ppo1m[k]) for k in ppo_keys]):.0f}" if ppo_keys else "not run"
            rows.append([env, seeds_of(keys), ppo + (f" (seeds {seeds_of(ppo_keys)})" if 0 < len(ppo_keys) < len(keys)
                                                     else ""),
                         f"{t.mean():.0f}", f"{b.mean():.0f}", gain(b, t), per_seed(keys, b, t)])
        if not rows:  # no pair of finished runs yet
            continue
        seeds = common_seeds([ddpm, other], FIRST_THREE)
        verdict = f"Too few seeds for P(DDPM > {label})"
        if len(seeds) >= 2:
            p, low, high = improvement(run_matrix(ddpm, FIRST_THREE, seeds, r.final),
                                       run_matrix(other, FIRST_THREE, seeds, r.final))
            verdict = (f"P(DDPM > {label}) over the three tasks: {p:.2f} [{low:.2f}, {high:.2f}]: at 1M the DDPM is "
                       f"{standing(low, high)} the {label} prior")
        why = ("the dataset kind where the DDPM led its best cheaper rival most at 40 iterations, with that rival"
               if best == (kind, rival) else f"the DDPM and the {label} prior on this kind of data")
        run_seeds = sorted({key[1] for key in ddpm} | {key[1] for key in other})
        lines += [f"### At 1M steps: the DDPM and the {label} prior on the {kind} data", "",
                  f"Runs to 1M steps (488 iterations, no evaluation) of {why}. Final return: the mean of the last "
                  "100 training episodes; PPO's from its 1M runs of the eight-task table on the same seeds.", "",
                  *table(["task", "seeds", "PPO", "DDPM", label, f"DDPM / {label} [95%]",
                          f"per seed: {label} / DDPM"], rows), "",
                  f"{verdict}, seeds {seeds_of([(None, s) for s in seeds]) if seeds else 'none'}. Runs: "
                  f"`{folder}` (command: `KINDS={kind} VARIANTS=\"ppo-dap {rival}\" STEPS=1000000 EVAL_EVERY=0 "
                  f"SUFFIX=_1m bash benchmarks/dev/data_kinds_online.sh \"{' '.join(map(str, run_seeds))}\"`).", ""]
    return lines


def standings_text(ahead: list, behind: list, even: list) -> str:
    """"ahead of A, B; behind C; not distinguishable from D", leaving out empty parts."""
    return "; ".join(part for part in (f"ahead of {', '.join(ahead)}" if ahead else "",
                                       f"behind {', '.join(behind)}" if behind else "",
                                       f"not distinguishable from {', '.join(even)}" if even else "") if part)


RELEASE_SCREEN_COMMIT = "ce1dc31"  # the code of screen_hopper/release (the folder's other runs are older)


def gate_closures(r: Results) -> str:
    """How often the return gate closed in iterations where the clock still pulled (steps before the
    iteration's rollout < --prior-anneal-steps), in the shipped priors' PPO-DAP runs."""
    runs = [*r.select(["eight_tasks_final_40it"], "ppo-dap").values(),
            *r.select(["eight_tasks_final_1m", os.path.join("data_kinds", "two-policies_1m")], "ppo-dap").values()]
    pulled = closed = 0
    for run in runs:
        config = json.load(open(os.path.join(run.path, "config.json")))
        for row in r.csv(run.path, "progress.csv"):
            if (int(row["iteration"]) - 1) * config["num_steps"] * config["num_envs"] < config["prior_anneal_steps"]:
                pulled += 1
                closed += float(row["dap/release_gate"]) == 0.0
    return (f"With the shipped priors and the default clock the gate closed in {closed} of the {pulled} iterations "
            f"in which the clock pulled ({len(runs)} PPO-DAP runs of the eight-task table, 40 iterations and 1M)"
            + (", so there `return` and `clock` give the same run." if closed == 0 else "."))


def release_screen(r: Results) -> str:
    """The release rules' screen: per seed, the worst 20-iteration window of the training return over PPO's
    and the mean return over PPO's, first 200 iterations, the return gate against the clock."""
    ppo = r.select(["hopper_1m"], "ppo")
    cells = []
    for name, runs in (("`return`", r.select(["screen_hopper"], "release")), ("`clock`", r.select(["hopper_1m"], "ppo-dap"))):
        worst, mean = [], []
        for key, run in sorted(runs.items()):
            curve, base = (returns_curve(r.csv(x.path, "progress.csv"), 200) for x in (run, ppo[key]))
            worst.append(f"{min(window_means(curve) / window_means(base)):.2f}")
            mean.append(f"{np.nanmean(curve) / np.nanmean(base):.2f}")
        cells.append(f"{name} worst 20-iteration window / PPO's {', '.join(worst)}, mean return / PPO's {', '.join(mean)}")
    return "; ".join(cells) + f" (seeds {seeds_of(sorted(ppo))})"


def section_switches(r: Results) -> List[str]:
    rows = [
        ["`--peft {lora,adapter,none}`", "(a) of the method; `none` is the frozen-prior ablation, which the "
         "measurements above find as good or better on the data of the priors of " + EARLIER_PRIORS + ", so a user can "
         "drop the adaptation",
         "[Ablations](#ablations-and-rpo)"],
        ["`--num-proposals`, `--proposal-states`", "(b) K and the share of states with proposals; four proposals "
         "or 128 states gave about the defaults' early learning, 64 states a lower mean, and none showed a time "
         "saving (rough timings, below)", "[Rejected](#rejected-and-superseded)"],
        ["`--guidance-scale`", "(b) of the method (off by default); no clear gain measured",
         "[Ablations](#ablations-and-rpo)"],
        ["`--kl-coef`", "(d) of the method (off by default); no clear gain measured", "[Ablations](#ablations-and-rpo)"],
        ["`--prior-release {return,clock}`", "`return` (default) also ends the prior's pull while the actor's recent "
         "return is at least the data's; `clock` is the method's plain annealing, needed for a prior whose data "
         "recorded no return. " + gate_closures(r) + " The gate was chosen when the clock annealed over 30% of the "
         "budget, with earlier priors (code at " + RELEASE_SCREEN_COMMIT + "; Hopper-v4, the first 200 iterations, "
         "per seed): " + release_screen(r),
         "[`screen_hopper`](#runs-screen-hopper), [`hopper_1m`](#runs-hopper-1m)"],
        ["`--rpo-alpha`", "the on-policy baseline CleanRL recommends, and RPO-DAP", "[Ablations](#ablations-and-rpo)"],
        ["`pretrain_prior.py --prior-kind {diffusion,gmm,gaussian,knn}`", "the prior of the method and the cheaper "
         "priors it must beat: a mixture of Gaussians (several modes, no diffusion), a Gaussian, retrieval",
         "[Which prior](#which-prior-ddpm-gmm-gaussian-or-retrieval)"],
        ["`pretrain_prior.py --schedule {cosine,vp}`", "the two schedules of the DDPM literature; cosine is the default "
         "(fewer samples between modes at T = 20, `tests/test_prior.py`)", "the tests"],
    ]
    return ["## The switches that stay, and why", "",
            "Every experiment switch of `ppo_dap.py` and `pretrain_prior.py` that is not a plain hyper-parameter:", "",
            *table(["switch", "why it stays", "evidence"], rows), ""]


def section_rejected(r: Results) -> List[str]:
    """Short entries: what was tried, one number, and the commit whose code reproduces it."""
    entries = []
    ppo_screen = r.select(["hopper_1m"], "ppo")
    qfilter = r.select(["screen_hopper"], "qfilter")
    worst = [min(window_means(returns_curve(r.csv(run.path, "progress.csv"), 200))
                 / window_means(returns_curve(r.csv(ppo_screen[key].path, "progress.csv"), 200))) for key, run in
             sorted(qfilter.items())]
    entries.append(("The Q-filter (`--prior-filter q`): imitate a state only where Q_phi rates the proposals above the "
                    "actor's mean action", f"worst 20-iteration window of the training return over PPO's, seeds "
                    f"{seeds_of(sorted(qfilter))}: {', '.join(f'{w:.2f}' for w in worst)} (the prior still held the actor back)",
                    "screen_hopper"))
    speed = [x for x in read_csv(os.path.join(r.dir, "speed", "runs.csv")) if x["kind"] == "vector"]
    sps = {x["impl"]: float(x["sps"]) for x in speed}
    ns = sorted({int(k.split("-")[1]) for k in sps})
    entries.append(("Async vector envs (`--vector-mode async`)", "SPS async / sync, Hopper-v4: " + ", ".join(
        f"N = {n}: {sps[f'async-{n}'] / sps[f'sync-{n}']:.2f}" for n in ns) + " (slower at every N)", "speed"))
    # the imitation variants ran with the earlier form of the (d) terms and the earlier priors: against that
    # code's defaults (`ppo-dap` of the same folders' time) and PPO, on the same seeds
    old_ppo = {**forty(r, ["aulc40_release"], "ppo"), **forty(r, PPO_1M, "ppo")}
    old_defaults = forty(r, ["aulc40_release", "release_1m", "default_1m"], "ppo-dap")
    for name, folder, variant in (("Imitating the mean only (`--no-imitate-std`)", "meanonly_1m", "ppo-dap-meanonly"),
                                  ("A std the prior only lends (`--imitate-std lent`: the imitation trains a separate log-std offset that "
                                   "fades with the prior's weight, so the actor's own std stays PPO's)", "lentstd_40it", "lent-std"),
                                  ("Variance-scaled imitation (`--imitation-var-scaled`)", "varscaled_40it", "var-scaled")):
        entries.append((name, "AULC@40 / PPO, variant (that commit's defaults and priors): "
                        + against_defaults(r, forty(r, [folder], variant), old_defaults, old_ppo), folder))
    ppo40, dap40 = forty(r, ["aulc40_shared_out"], "ppo"), forty(r, ["aulc40_shared_out"], "ppo-dap")
    for name, folder in (("Four proposals per state (`--num-proposals 4`)", "proposals4_40it"),
                         ("128 proposal states (`--proposal-states 128`)", "spread_states128_40it"),
                         ("64 proposal states (`--proposal-states 64`)", "spread_states64_40it")):
        variant = forty(r, [folder], "ppo-dap")
        entries.append((name, "AULC@40 / PPO, variant (that commit's defaults and priors): "
                        + against_defaults(r, variant, dap40, ppo40) + "; training time at 40 iterations / the "
                        "defaults' (not side by side, so rough): " + "; ".join(f"{env} {g}" for env, g in times_over(r, variant, dap40).items()), folder))
    old40 = {**forty(r, ["aulc40_release"], "ppo-dap"), **forty(r, ["aulc40_strong"], "ppo-dap")}
    old40 = {k: v for k, v in old40.items() if k[0] == "Walker2d-v4" or "aulc40_strong" in v.path}
    base40 = {**forty(r, ["aulc40_release"], "ppo"), **forty(r, ["aulc40_strong"], "ppo")}
    cells = []
    for env in FIRST_THREE:
        _, b, t = paired(of_env(old40, env), of_env(base40, env), r.aulc40)
        _, bd, td = paired(of_env(dap40, env), of_env(ppo40, env), r.aulc40)
        cells.append(f"{env} {gain(b, t)} ({gain(bd, td)})")
    current_time = times_over(r, dap40, ppo40)
    entries.append(("The earlier form of the (d) terms (every minibatch took them over all the proposal states)",
                    "AULC@40 / PPO, seeds 1-5, earlier form (current form, same priors, "
                    "[`aulc40_shared_out`](#runs-aulc40-shared-out)): " + "; ".join(cells) + "; training time at 40 "
                    "iterations / PPO's, each beside PPO: " + "; ".join(f"{env} {g} ({current_time[env]})" for env, g in
                                                                        times_over(r, old40, base40).items()),
                    "aulc40_release"))
    gauss = {**forty(r, ["gaussian_40it", "gaussian_40it_seed3", "gaussian_40it_halfcheetah"], "gaussian-prior")}
    ddpm = forty(r, ["aulc40_release"], "ppo-dap")
    keys, b, t = paired(gauss, ddpm, r.aulc40)
    entries.append(("The Gaussian prior on the earlier data (the whole log of a 300k-step learning run), earlier code",
                    f"the DDPM's AULC@40 above the Gaussian's on {(b > t).sum()} of {len(keys)} seed pairs (3 tasks)",
                    "gaussian_40it"))
    lines = ["## Rejected and superseded", "",
             "Switches that their own measurement rejected left the scripts; each entry gives the number that decided "
             "it and the commit whose code reproduces it (check it out and run the folder's command).", ""]
    lines += table(["what", "result", "runs (code at)"],
                   [[w, res, f"[`{f}`](#{anchor(f)}) ({FOLDERS[f].commit})"] for w, res, f in entries])
    return lines + [""]


def times_over(r: Results, runs: dict, base: dict) -> Dict[str, str]:
    """{task of FIRST_THREE: the ratio of the mean training times at 40 iterations, runs / base, on the seeds
    both have}."""
    times = {}
    for env in FIRST_THREE:
        _, b, t = paired(of_env(runs, env), of_env(base, env), lambda run: r.train_s(run, 40))
        times[env] = gain(b, t)
    return times


def against_defaults(r: Results, variant: dict, defaults: dict, ppo: dict) -> str:
    """Per task: the variant's AULC@40 gain over PPO and, in brackets, the defaults' on the same seeds."""
    cells = []
    for env in FIRST_THREE:
        runs = of_env(variant, env)
        if not runs:
            continue
        keys, b, t = paired(runs, of_env(ppo, env), r.aulc40)
        _, bd, td = paired({k: defaults[k] for k in keys if k in defaults}, of_env(ppo, env), r.aulc40)
        cells.append(f"{env} (seeds {seeds_of(keys)}) {gain(b, t)} ({gain(bd, td)})")
    return "; ".join(cells)


def returns_curve(progress: list, n: int) -> np.ndarray:
    """Per-iteration mean training return for iterations 1..n, carrying the last value forward."""
    values, last = [], np.nan
    for row in progress[:n]:
        v = float(row["charts/episodic_return"]) if row["charts/episodic_return"] not in ("", "nan") else np.nan
        last = v if not np.isnan(v) else last
        values.append(last)
    return np.array(values)


def window_means(curve: np.ndarray, width: int = 20) -> np.ndarray:
    return np.array([np.nanmean(curve[i:i + width]) for i in range(0, len(curve) - width + 1)])


def section_tests(r: Results) -> List[str]:
    path = os.path.join(r.dir, "mutation", "results.txt")
    rows = [line.strip().rsplit(": ", 1) for line in open(path) if line.strip() and not line.startswith("#")]
    status = [s for _, s in rows]
    killed, total = status.count("killed"), len(status)
    survivors = {}
    for name, s in rows:
        if s != "killed":
            function = name.split("__mutmut_")[0].replace("x_", "", 1).replace("xǁ", "").replace("ǁ", ".")
            survivors[function] = survivors.get(function, 0) + 1
    listed = ", ".join(f"`{f}` {n}" for f, n in sorted(survivors.items(), key=lambda x: (-x[1], x[0])))
    return ["## Tests and mutation score", "",
            "`bash benchmarks/dev/mutation.sh` mutates the algorithmic functions of `ppo_dap.py` and `pretrain_prior.py` "
            f"one change at a time and runs the maths' tests on each mutant: **{killed} of {total} mutants killed "
            f"({100 * killed / total:.1f}%)**. Not killed, per function: {listed}. Those read one by one change a "
            "dimension index to its equal on the tested shapes (`-1` for `+1` on 2-D tensors), a `device` or "
            "`validate_args` argument (the same on CPU with valid inputs), a default, a clamp the value never "
            "reaches (the DDPM's last reverse step is already inside [-1, 1]), noise or guidance at that last step "
            "(where the posterior variance is 0), or a shift a softmax cancels; `RewardScaler`'s state dict is "
            "tested by `tests/test_resume.py`, which the mutants do not run. Every mutant: "
            "[`mutation/results.txt`](benchmarks/results/mutation/results.txt).", ""]


FIGURE_RUNS = [  # the 1M runs of the eight-task table on the first three tasks, seeds 1-3
    "ppo=benchmarks/results/walker_1m/seed*/runs/Walker2d-v4/ppo/*",
    "ppo=benchmarks/results/hopper_1m/seed*/runs/Hopper-v4/ppo/*",
    "ppo=benchmarks/results/release_1m_side_by_side/seed3/runs/Hopper-v4/ppo/*",
    "ppo=benchmarks/results/default_1m/HalfCheetah-v4_seed*/runs/HalfCheetah-v4/ppo/*",
    *[f"ppo-dap=benchmarks/results/data_kinds/two-policies_1m/{env}_seed*/runs/{env}/ppo-dap/*" for env in FIRST_THREE],
]


def section_figure() -> List[str]:
    runs = " ".join(f'"{spec}"' for spec in FIGURE_RUNS)
    return ["## Figure", "", "`benchmarks/learning_curves.png`, the figure of README, shows the 1M runs of the first "
            f"three tasks of [the eight tasks](#the-eight-tasks), with the shipped priors:", "",
            f"    python benchmarks/plot.py --output benchmarks/learning_curves.png --runs {runs}", ""]


def section_index(r: Results) -> List[str]:
    lines = ["## Index of the raw runs", "",
             "Each folder of `benchmarks/results/` and the command that made it (its README.md says the same). Run "
             "folders are named `{env_id}__{variant}__{seed}__{start time}` and hold `config.json`, `progress.csv`, "
             "`episodes.csv` and, where evaluated, `eval.csv` and `eval.json`.", ""]
    for name, f in FOLDERS.items():
        lines += [f'<a id="{anchor(name)}"></a>**`{name}`**: {f.what}. Code at {f.commit}, {f.machine}. '
                  f"Command: `{f.command}`.", ""]
    return lines


def page(r: Results) -> str:
    head = ["# Results", "",
            "Every number here is computed by `python benchmarks/results.py` from the raw runs committed under "
            "`benchmarks/results/`; `python benchmarks/results.py --check` fails when this page differs from what "
            "they give. Unless a table says otherwise, runs were made on " + TWO_CORE + ", two at a time, one torch "
            "thread each. Timings compare only within one machine.", "",
            "How to read the numbers. **AULC@40**: the mean over PPO iterations 1-40 of each iteration's mean training "
            "return (early learning; METHOD.md section 4). **ALC@40 (paper)**: the area under the deterministic "
            "evaluation curve over the first 200,000 steps (40 epochs of 5,000). **Final return**: the mean of the "
            "last 100 training episodes. AULC@40 read from a longer run (98 iterations or 1M steps) differs from a "
            "40-iteration run's on the same seed: the learning rate anneals over the whole budget. **Ratios** are "
            "ratios of the means over the same seeds (same machine), with a percentile-bootstrap 95% interval that "
            "resamples the seed pairs; where PPO's value is not positive (HalfCheetah-v4 and Ant-v4 start by running "
            "backwards) the mean paired difference is given instead. A per-task cell on fewer than "
            f"{BOOTSTRAP_MIN_PAIRS} seeds has no interval (a bootstrap over 2-4 pairs spans little more than the "
            "per-seed values): read it with its seeds, and with the per-seed values or the Student-t interval of "
            "the difference where a table gives them. Results pooled over tasks (probabilities of improvement, IQM) "
            "resample seeds within each task (stratified bootstrap) and are given from 2 seeds per task, as rliable "
            "does: their intervals rest on all the tasks' runs together. With 5 pairs the Wilcoxon p-value cannot "
            "go below 0.0625.", "",
            f"Older tables say what they ran with. **Priors of {EARLIER_PRIORS}**: the priors shipped before the present "
            "recipe (commit " + EARLIER_PRIORS + "): Walker2d-v4's pretrained on the whole log of a 300k-step PPO run, "
            "Hopper-v4's and HalfCheetah-v4's on the last 300k steps of a 1M-step run, the five others' on their own "
            "300k-step runs. **The earlier form of the (d) terms**: every minibatch took the imitation term over all "
            "the proposal states (now each takes its share of them); it learned about as fast early and took more "
            "time ([Rejected](#rejected-and-superseded)). `shared_out` in a folder's name marks runs of the current "
            "form.", ""]
    body = (section_eight_tasks(r) + section_aggregates(r) + section_cost(r) + section_data(r) + section_prior_kinds(r) + section_ablations(r)
            + section_cleanrl(r)
            + (section_data_kinds(r) if os.path.exists(os.path.join(r.dir, "data_kinds", "prior_fit.csv")) else [])
            + section_switches(r) + section_rejected(r) + section_tests(r) + section_figure()
            + section_index(r))
    return "\n".join(head + body).rstrip() + "\n"


def folder_readme(name: str, f: Folder) -> str:
    return (f"# {name}\n\n{f.what}.\n\nMade with the code at commit {f.commit} on {f.machine}:\n\n    {f.command}\n\n"
            "Tabulated by `python benchmarks/results.py` into RESULTS.md.\n")


def outputs(r: Results) -> Dict[str, str]:
    """{path relative to the root: its content} for every file this script writes."""
    files = {"RESULTS.md": page(r)}
    for name, f in FOLDERS.items():
        files[os.path.join("benchmarks", "results", name, "README.md")] = folder_readme(name, f)
    return files


def main(args: Args) -> int:
    r = Results(args.root)
    missing = [name for name in FOLDERS if not os.path.isdir(os.path.join(r.dir, name))]
    if missing:
        raise SystemExit(f"error: benchmarks/results/ lacks {', '.join(missing)}, which the results page reads.")
    stale = []
    for rel, text in outputs(r).items():
        path = os.path.join(args.root, rel)
        current = open(path).read() if os.path.exists(path) else None
        if current == text:
            continue
        if args.check:
            stale.append(rel)
        else:
            with open(path, "w") as f:
                f.write(text)
            print(f"wrote {rel}")
    if args.figure:
        performance_profile(r, os.path.join(args.root, PROFILE_FIGURE))
        print(f"wrote {PROFILE_FIGURE}")
    if stale:
        print(f"out of date with the committed runs: {', '.join(stale)}; run `python benchmarks/results.py`.",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(tyro.cli(Args)))
