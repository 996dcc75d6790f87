"""Learning smoke tests: PPO, and PPO-DAP with a tiny prior, must clearly beat a random policy on a
small fast task within seconds. A flipped gradient sign, a broken advantage or a prior term that
fights the actor makes these fail; the other tests pin the equations, these pin that they learn."""

import os

import gymnasium as gym
import numpy as np
import pytest

import ppo_dap
import pretrain_prior
from helpers import read_csv

ENV = "InvertedPendulum-v4"  # random actions keep the pole up for about 5-10 steps; a good policy for 1000



def random_policy_return(episodes: int = 30) -> float:
    env = gym.make(ENV)
    env.action_space.seed(0)
    total = 0.0
    for episode in range(episodes):
        env.reset(seed=episode)
        done = False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total += reward
            done = terminated or truncated
    return total / episodes


def final_return(run_dir: str) -> float:
    """Mean return of the episodes of the last two iterations."""
    rows = read_csv(os.path.join(run_dir, "progress.csv"))[-2:]
    return float(np.nanmean([float(r["charts/episodic_return"]) for r in rows]))


def short_run(tmp_path, name, **kw):
    args = dict(env_id=ENV, total_timesteps=16384, num_steps=1024, num_minibatches=16, seed=1, cuda=False,
                runs_dir=str(tmp_path / name), exp_name=name)
    args.update(kw)
    return ppo_dap.main(ppo_dap.Args(**args))


@pytest.fixture(scope="module")
def ppo_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("learning")
    run_dir = short_run(folder, "ppo", imitation_coef=0.0, save_rollouts=str(folder / "rollouts.npz"))
    return folder, run_dir


def test_ppo_beats_a_random_policy_clearly(ppo_run):
    _, run_dir = ppo_run
    baseline = random_policy_return()
    assert baseline < 15
    assert final_return(run_dir) > 5 * baseline


def test_ppo_dap_with_a_tiny_prior_beats_a_random_policy_clearly(ppo_run):
    folder, _ = ppo_run
    prior = pretrain_prior.main(pretrain_prior.Args(
        dataset=str(folder / "rollouts.npz"), env_id=ENV, output=str(folder / "prior.pt"), num_updates=300,
        log_every=300, hidden_dim=32, num_diffusion_steps=5, cuda=False))
    run_dir = short_run(folder, "dap", total_timesteps=8192, prior_path=prior, proposal_states=64,
                        num_proposals=4, prior_anneal_steps=8192, prior_release="clock")
    rows = read_csv(os.path.join(run_dir, "progress.csv"))
    assert all(float(r["dap/imitation_coef"]) > 0 for r in rows)  # the prior acted on every iteration
    assert final_return(run_dir) > 3 * random_policy_return()
