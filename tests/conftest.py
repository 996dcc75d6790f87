"""Fixtures several test files share."""

import pytest
import torch

import ppo_dap

torch.set_num_threads(1)  # as both scripts do: for these small networks one thread is fastest, in every test


@pytest.fixture(scope="session")
def pendulum_dataset(tmp_path_factory):
    """A small real logged-trajectory file: 1024 transitions of PPO on Pendulum-v1."""
    folder = tmp_path_factory.mktemp("data")
    path = str(folder / "pendulum.npz")
    ppo_dap.main(ppo_dap.Args(env_id="Pendulum-v1", total_timesteps=1024, num_steps=512, num_minibatches=4,
                              update_epochs=1, runs_dir=str(folder / "runs"), save_rollouts=path, cuda=False,
                              imitation_coef=0.0))
    return path
