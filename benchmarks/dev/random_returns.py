"""The return of a uniform random policy on each task: the zero of the normalised scores of RESULTS.md's
aggregate statistics (1 is PPO's mean at the same budget). Episodes from env.reset(seed=i), actions
drawn uniformly from the action space seeded with i, i = 0 .. episodes-1.

    python benchmarks/dev/random_returns.py --out benchmarks/results/random_policy/returns.csv
"""

import csv
import io
import os
import sys
from dataclasses import dataclass, field
from typing import List

import gymnasium as gym
import mujoco
import numpy as np
import tyro

sys.path[:0] = [os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]
from pretrain_prior import atomic_write  # noqa: E402  (importing it also silences the v4 deprecation warning)
from results import TASKS  # noqa: E402


@dataclass
class Args:
    env_ids: List[str] = field(default_factory=lambda: list(TASKS))
    """the tasks (default: the eight of RESULTS.md)"""
    episodes: int = 100
    """episodes per task"""
    out: str = "benchmarks/results/random_policy/returns.csv"
    """the table: env_id, episodes, mean_return, std_return, mean_length and the gymnasium and mujoco versions"""


def random_returns(env_id: str, episodes: int) -> tuple:
    """(returns [episodes], lengths [episodes]) of uniform random actions."""
    env = gym.make(env_id)
    returns, lengths = [], []
    for i in range(episodes):
        env.reset(seed=i)
        env.action_space.seed(i)
        total, steps, done = 0.0, 0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total, steps, done = total + float(reward), steps + 1, terminated or truncated
        returns.append(total)
        lengths.append(steps)
    env.close()
    return np.array(returns), np.array(lengths)


def main(args: Args) -> list:
    if not args.env_ids or args.episodes < 1:
        raise SystemExit("error: --env-ids needs at least one task and --episodes at least 1.")
    rows = []
    for env_id in args.env_ids:
        returns, lengths = random_returns(env_id, args.episodes)
        rows.append({"env_id": env_id, "episodes": args.episodes, "mean_return": float(returns.mean()),
                     "std_return": float(returns.std()), "mean_length": float(lengths.mean()),
                     "gymnasium": gym.__version__, "mujoco": mujoco.__version__})
        print(f"{env_id}: {returns.mean():.1f} +- {returns.std():.1f} over {args.episodes} episodes", flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)

    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(args.out, lambda f: f.write(text.getvalue().encode()))
    return rows


if __name__ == "__main__":
    main(tyro.cli(Args))
