"""Datasets of four kinds, to measure on which data the diffusion prior earns its cost, from behaviour
runs with recorded seeds. For each task:

  single         one converged policy: the episodes that end in the last 300k steps of a 1M-step PPO run
                 (seed 100);
  replay         the whole log of a learning run: every transition of a 300k-step PPO run (seed 100);
  mixed-quality  equal parts of the converged policy (the 1M run's final actor) and of a policy part-way to
                 converged (the 300k run's final actor), each acting from the same start states;
  two-policies   equal parts of two converged policies (the final actors of 1M runs with seeds 100 and 101),
                 from the same start states: the recipe of the shipped priors.

The behaviour runs that the kinds asked for need (NEEDS) are plain `ppo_dap.py --imitation-coef 0` runs, two
at a time; their run folders, with the final actor in model.pt, go to `--runs-dir`, their rollout logs to
`--data-dir`. The rollouts of the last two kinds sample the actors' Gaussian (as the runs did), episode i
starting from `env.reset(seed=ROLLOUT_SEED + i)` for every policy. Each stage whose output exists is kept,
so a second call resumes.
The logs and datasets are large and stay out of git: `{runs_dir}/../datasets.json` records their sha256,
sizes, mean episode returns and the machine, so a rerun on the same CPU can be checked bit for bit.

    python benchmarks/make_datasets.py --env-ids Walker2d-v4 Hopper-v4 HalfCheetah-v4 --data-dir data/data_kinds \
        --runs-dir benchmarks/results/data_kinds/behaviour --priors diffusion gmm gaussian knn

With `--flat`, the priors of one kind go where ppo_dap.py looks (the DDPM as priors/{env_id}.pt); the shipped
priors were made so, for each of the eight tasks:

    python benchmarks/make_datasets.py --env-ids Hopper-v4 --kinds two-policies --priors diffusion gmm gaussian knn \
        --data-dir data/data_kinds --runs-dir benchmarks/results/data_kinds/behaviour --priors-dir priors --flat
"""

import functools
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import List, Optional

import gymnasium as gym
import numpy as np
import torch
import tyro

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from ppo_dap import RolloutLog, load_model  # noqa: E402
from pretrain_prior import (PER_STEP, PRIOR_KINDS, PRIORS_DIR, atomic_write, last_episodes,  # noqa: E402
                            load_prior, mean_episode_return, prior_file, sha256)

KINDS = ["single", "replay", "mixed-quality", "two-policies"]
# (run name, seed, steps): the behaviour runs every kind is made from
BEHAVIOUR = [("seed100_1m", 100, 1_000_000), ("seed101_1m", 101, 1_000_000), ("seed100_300k", 100, 300_000)]
NEEDS = {"single": {"seed100_1m"}, "replay": {"seed100_300k"}, "mixed-quality": {"seed100_1m", "seed100_300k"},
         "two-policies": {"seed100_1m", "seed101_1m"}}  # the behaviour runs each kind is made from
ROLLOUT_SEED = 20_000  # episode i of a rollout starts from env.reset(seed=ROLLOUT_SEED + i)


@dataclass
class Args:
    env_ids: List[str] = field(default_factory=lambda: ["Walker2d-v4", "Hopper-v4", "HalfCheetah-v4"])
    """tasks"""
    kinds: List[str] = field(default_factory=lambda: list(KINDS))
    """dataset kinds to make (single, replay, mixed-quality, two-policies)"""
    data_dir: str = "data"
    """where the behaviour logs and the datasets go (`{kind}/{env_id}.npz`)"""
    runs_dir: str = "runs/behaviour"
    """where the behaviour runs' folders and logs go (`datasets.json`, the files' record, goes beside it)"""
    jobs: int = 2
    """behaviour runs at a time"""
    last_steps: int = 300_000
    """single: the episodes that end in this many last steps of the 1M-step run's log"""
    rollout_steps: int = 150_000
    """mixed-quality, two-policies: transitions from each of the two policies"""
    behaviour_flags: str = ""
    """flags added to every behaviour run (the tests use tiny PPO iterations)"""
    priors: List[str] = field(default_factory=list)
    """prior kinds to pretrain on every dataset with the default flags (diffusion, gmm, gaussian, knn), into --priors-dir"""
    priors_dir: Optional[str] = None
    """where the priors go: `{kind}/{env_id}.pt` (the DDPM) and `{kind}/{env_id}-{prior}.pt`, each with its pretraining log (default: `priors` beside runs-dir; with --flat, priors/ beside ppo_dap.py)"""
    pretrain_flags: str = ""
    """flags added to every pretraining (the tests use tiny ones)"""
    flat: bool = False
    """write the priors as `{priors_dir}/{env_id}.pt` and `{env_id}-{prior}.pt`, the layout of priors/ that ppo_dap.py and compare.py read (one dataset kind only)"""


def run_script(script: str, flags: list, log: str) -> None:
    """`python {script} {flags}` in the repository, one torch/OpenMP thread, its output to `log`; an error stops."""
    with open(log, "w") as out:
        subprocess.run([sys.executable, os.path.join(ROOT, script), *flags], stdout=out, stderr=subprocess.STDOUT,
                       check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})


def behaviour_run(args: Args, env_id: str, name: str, seed: int, steps: int) -> None:
    """One plain PPO run logging every transition to {data_dir}/{env_id}_{name}.npz (kept if it exists)."""
    log = os.path.join(args.data_dir, f"{env_id}_{name}.npz")
    if os.path.exists(log):
        print(f"{log} exists, kept", flush=True)
        return
    partial = os.path.join(args.data_dir, f"{env_id}_{name}.partial.npz")
    if os.path.exists(partial):
        os.remove(partial)  # an interrupted earlier call's log is incomplete
    run_script("ppo_dap.py", ["--env-id", env_id, "--seed", str(seed), "--total-timesteps", str(steps), "--exp-name", name,
                              "--imitation-coef", "0", "--save-model", "--runs-dir", args.runs_dir, "--save-rollouts",
                              partial, *shlex.split(args.behaviour_flags)], os.path.join(args.runs_dir, f"{env_id}_{name}.log"))
    os.replace(partial, log)
    print(f"{log} written", flush=True)


def final_actor(args: Args, env_id: str, name: str) -> str:
    """The model.pt of the behaviour run `name` of `env_id` (the newest, if it was run more than once)."""
    runs = [os.path.join(args.runs_dir, d) for d in os.listdir(args.runs_dir) if d.startswith(f"{env_id}__{name}__")]
    return os.path.join(max(runs, key=lambda d: int(os.path.basename(d).split("__")[3].split("-")[0])), "model.pt")


def rollout(model_path: str, env_id: str, steps: int) -> dict:
    """`steps` transitions of the saved actor, actions sampled from its Gaussian and clipped to the bounds,
    episode i from env.reset(seed=ROLLOUT_SEED + i), in the rollout-log format (the last one truncated)."""
    torch.manual_seed(0)
    agent, obs_norm, _ = load_model(model_path)
    env = gym.wrappers.FlattenObservation(gym.make(env_id))
    low, high = env.action_space.low, env.action_space.high
    log = RolloutLog(env_id, env.observation_space.shape, low, high)
    episode = 0
    obs, _ = env.reset(seed=ROLLOUT_SEED + episode)
    for _ in range(steps):
        with torch.no_grad():
            action = agent.get_dist(torch.as_tensor(obs_norm(obs)[None], dtype=torch.float32)).sample()[0].numpy()
        action = np.clip(action, low, high)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        log.add(obs[None], action[None], [reward], [terminated], [truncated])
        if terminated or truncated:
            episode += 1
            next_obs, _ = env.reset(seed=ROLLOUT_SEED + episode)
        obs = next_obs
    env.close()
    with tempfile.TemporaryDirectory() as tmp:  # the log's own writer, so the format has one definition
        log.save(os.path.join(tmp, "rollout.npz"))
        return dict(np.load(os.path.join(tmp, "rollout.npz")))


def joined(first: dict, second: dict) -> dict:
    return {k: np.concatenate([first[k], second[k]]) if k in PER_STEP else first[k] for k in first}


def make_dataset(args: Args, env_id: str, kind: str) -> str:
    """{data_dir}/{kind}/{env_id}.npz, kept if it exists."""
    path = os.path.join(args.data_dir, kind, f"{env_id}.npz")
    if os.path.exists(path):
        return path
    logs = {name: os.path.join(args.data_dir, f"{env_id}_{name}.npz") for name in NEEDS[kind]}  # only these
    if kind == "single":
        data = last_episodes(dict(np.load(logs["seed100_1m"])), args.last_steps)
    elif kind == "replay":
        data = dict(np.load(logs["seed100_300k"]))
    else:  # the converged policy and the other run the kind needs
        (second,) = NEEDS[kind] - {"seed100_1m"}
        data = joined(rollout(final_actor(args, env_id, "seed100_1m"), env_id, args.rollout_steps),
                      rollout(final_actor(args, env_id, second), env_id, args.rollout_steps))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    atomic_write(path, lambda f: np.savez(f, **data))
    print(f"{path}: {len(data['rewards'])} transitions, mean episode return {mean_episode_return(data):.1f}", flush=True)
    return path


def pretrain(args: Args, dataset: str, env_id: str, kind: str, prior: str) -> None:
    """The prior `{priors_dir}/{kind}/{env_id}[-{prior}].pt` (with --flat, `{priors_dir}/{env_id}[-{prior}].pt`)
    from the dataset, with `pretrain_prior.py`'s defaults (kept if it exists)."""
    output = prior_file(args.priors_dir if args.flat else os.path.join(args.priors_dir, kind), env_id, prior)
    if os.path.exists(output):  # kept, if it was made from this dataset
        if load_prior(output).provenance.get("dataset_sha256") != file_sha256(dataset):
            raise SystemExit(f"error: {output} exists and was not pretrained on {dataset}; remove it or choose "
                             "another --priors-dir.")
        return
    os.makedirs(os.path.dirname(output), exist_ok=True)
    run_script("pretrain_prior.py", ["--dataset", dataset, "--env-id", env_id, "--prior-kind", prior, "--output", output,
                                     *shlex.split(args.pretrain_flags)], output[:-len(".pt")] + ".log")
    print(f"{output} written", flush=True)


@functools.lru_cache(maxsize=None)
def file_sha256(path: str) -> str:
    """A file's sha256, read once per `main` call: a log or dataset does not change after it is written."""
    return sha256(path)


def record(args: Args, paths: List[str]) -> None:
    """Write {runs_dir}/../datasets.json: each file's sha256, transitions and mean episode return, the machine."""
    out = os.path.join(os.path.dirname(os.path.abspath(args.runs_dir)), "datasets.json")
    entries = json.load(open(out))["files"] if os.path.exists(out) else {}
    for path in paths:
        data = np.load(path)
        entries[os.path.relpath(path, args.data_dir)] = {
            "sha256": file_sha256(path), "transitions": int(len(data["rewards"])),
            "mean_episode_return": mean_episode_return(dict(data))}
    cpu = [line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")][:1]
    machine = f"{cpu[0] if cpu else platform.machine()}, torch {torch.__version__}, gymnasium {gym.__version__}"
    text = json.dumps({"machine": machine, "files": dict(sorted(entries.items()))}, indent=1) + "\n"
    atomic_write(out, lambda f: f.write(text.encode()))


def main(args: Args) -> None:
    file_sha256.cache_clear()  # files may have changed since an earlier call in this process
    unknown = [k for k in args.kinds if k not in KINDS]
    if unknown:
        raise SystemExit(f"error: --kinds {' '.join(unknown)} unknown; choose from {', '.join(KINDS)}.")
    unknown = [p for p in args.priors if p not in PRIOR_KINDS]
    if unknown:
        raise SystemExit(f"error: --priors {' '.join(unknown)} unknown; choose from {', '.join(PRIOR_KINDS)}.")
    if args.last_steps < 1:
        raise SystemExit(f"error: --last-steps must be positive, got {args.last_steps}.")
    if args.flat and len(args.kinds) != 1:
        raise SystemExit("error: --flat puts the priors of one dataset kind in one folder; "
                         f"--kinds names {len(args.kinds)}.")
    if args.priors_dir is None:
        args.priors_dir = (os.path.relpath(PRIORS_DIR) if args.flat
                           else os.path.join(os.path.dirname(args.runs_dir), "priors"))
    os.makedirs(args.data_dir, exist_ok=True)
    os.makedirs(args.runs_dir, exist_ok=True)
    needed = set().union(*(NEEDS[kind] for kind in args.kinds))
    jobs = [(env, name, seed, steps) for name, seed, steps in BEHAVIOUR if name in needed for env in args.env_ids]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        list(pool.map(lambda job: behaviour_run(args, *job), jobs))
    logs = [os.path.join(args.data_dir, f"{env}_{name}.npz") for env, name, _, _ in jobs]
    datasets = {(kind, env): make_dataset(args, env, kind) for kind in args.kinds for env in args.env_ids}
    record(args, logs + list(datasets.values()))
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        list(pool.map(lambda job: pretrain(args, datasets[job[:2]], job[1], job[0], job[2]),
                      [(kind, env, prior) for (kind, env) in datasets for prior in args.priors]))


if __name__ == "__main__":
    main(tyro.cli(Args))
