"""`--cuda` on a machine with a GPU: both scripts run there end to end and their tensors live on the GPU.
Skipped where torch sees no GPU (CI); run by hand on a GPU machine: `pytest -q tests/test_cuda.py`."""

import os

import pytest
import torch

import ppo_dap
import pretrain_prior
from pretrain_prior import load_prior
from helpers import prior_args, read_csv

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")


def test_pretraining_and_a_dap_run_on_the_gpu(tmp_path, monkeypatch):
    # the offline stage on the GPU: a logged Pendulum-v1 rollout, then a tiny prior pretrained with --cuda
    data = str(tmp_path / "pendulum.npz")
    ppo_dap.main(ppo_dap.Args(env_id="Pendulum-v1", total_timesteps=1024, num_steps=512, num_minibatches=4,
                              update_epochs=1, runs_dir=str(tmp_path / "ppo"), save_rollouts=data, cuda=True,
                              imitation_coef=0.0))
    seen = []
    loss = pretrain_prior.DiffusionPrior.loss
    monkeypatch.setattr(pretrain_prior.DiffusionPrior, "loss",
                        lambda self, s, a, *r, **k: seen.append(a.device.type) or loss(self, s, a, *r, **k))
    prior_path = pretrain_prior.main(prior_args(data, tmp_path, num_updates=50, log_every=25, cuda=True))
    assert seen and set(seen) == {"cuda"}
    prior = load_prior(prior_path)  # saved on the CPU: loads on a machine without a GPU
    assert all(p.device.type == "cpu" for p in prior.parameters())

    # the online stage on the GPU with that prior: every DAP term computed, the boundary kept
    devices = []
    imitation = ppo_dap.imitation_loss
    monkeypatch.setattr(ppo_dap, "imitation_loss",
                        lambda *a, **k: devices.append(a[1].device.type) or imitation(*a, **k))
    run_dir = ppo_dap.main(ppo_dap.Args(env_id="Pendulum-v1", total_timesteps=1024, num_steps=512,
                                        num_minibatches=4, update_epochs=2, runs_dir=str(tmp_path / "dap"),
                                        cuda=True, prior_path=prior_path, prior_release="clock",
                                        prior_anneal_steps=1024, proposal_states=32, num_proposals=4,
                                        prior_updates=2, q_updates=4, guidance_scale=1.0, kl_coef=0.01,
                                        save_model=True, eval_episodes=2))
    assert devices and set(devices) == {"cuda"}
    rows = read_csv(os.path.join(run_dir, "progress.csv"))
    assert len(rows) == 2
    assert float(rows[0]["losses/imitation"]) > 0 and float(rows[0]["dap/grad_leak"]) == 0.0
    model = torch.load(os.path.join(run_dir, "model.pt"), map_location="cpu", weights_only=False)
    assert all(torch.isfinite(v).all() for v in model["agent"].values())
