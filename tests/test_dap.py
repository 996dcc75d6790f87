"""Online stage: LoRA, Adapters, PEFT attachment, energy reweighting, guidance, the DAP losses, the
auditable boundary, the PPO equivalence at zero coefficients, and tiny PPO-DAP runs."""

import builtins
import json
import math
import os

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.nn as nn

import ppo_dap
from ppo_dap import (Adapter, Agent, LoRALinear, advantage_weights, anneal, attach_peft, energy_weights,
                     imitation_loss, kl_loss, proposal_moments)
from pretrain_prior import DiffusionPrior, load_prior, save_prior, sha256
from helpers import read_csv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = os.path.join(ROOT, "priors", "Walker2d-v4.pt")



def walker_args(tmp_path, **kw):
    base = dict(env_id="Walker2d-v4", total_timesteps=512, num_steps=256, num_minibatches=4, update_epochs=2,
                runs_dir=str(tmp_path / "runs"), cuda=False, prior_anneal_steps=512, prior_release="clock", proposal_states=32,
                num_proposals=4, prior_updates=2, q_updates=4)
    base.update(kw)
    return ppo_dap.Args(**base)


# ---------------------------------------------------------------- LoRA and Adapters
def test_lora_equals_base_at_init_and_adds_the_scaled_low_rank_update_after():
    torch.manual_seed(0)
    base = nn.Linear(5, 3)
    lora = LoRALinear(base, rank=2, alpha=4.0)
    assert lora.lora_A.shape == (2, 5) and lora.lora_B.shape == (3, 2) and lora.scaling == 2.0
    x = torch.randn(7, 5)
    assert torch.equal(lora(x), base(x))
    with torch.no_grad():
        lora.lora_B.normal_()
    weight_before = base.weight.detach().clone()
    by_hand = x @ base.weight.T + base.bias + 2.0 * (x @ lora.lora_A.T) @ lora.lora_B.T  # base(x) + (alpha/r) x A^T B^T
    torch.testing.assert_close(lora(x), by_hand)
    assert torch.equal(base.weight, weight_before)  # the frozen (shared) base weight is never changed


def test_lora_gradients_reach_only_a_and_b():
    torch.manual_seed(0)
    lora = LoRALinear(nn.Linear(4, 4), rank=2, alpha=2.0)
    with torch.no_grad():
        lora.lora_B.normal_()
    lora(torch.randn(3, 4)).pow(2).sum().backward()
    assert lora.base.weight.grad is None and lora.base.bias.grad is None
    assert lora.lora_A.grad.abs().sum() > 0 and lora.lora_B.grad.abs().sum() > 0


def test_adapter_is_identity_at_init():
    torch.manual_seed(0)
    adapter = Adapter(8, 3)
    x = torch.randn(5, 8)
    assert torch.equal(adapter(x), x)


@pytest.mark.parametrize("peft", ["lora", "adapter"])
def test_attach_peft_trains_only_peft_and_keeps_backbone_bit_identical(peft):
    torch.manual_seed(0)
    prior = DiffusionPrior(3, 2, num_diffusion_steps=5, hidden_dim=32)
    backbone = {k: v.clone() for k, v in prior.state_dict().items()}
    obs = torch.randn(64, 3)
    torch.manual_seed(1)
    before = prior.sample(obs[:4], 5)
    params = attach_peft(prior, peft, lora_rank=2, lora_alpha=4.0, adapter_dim=4)
    trainable = {id(p) for p in params}
    assert params and all(p.requires_grad for p in params)
    assert all(not p.requires_grad for p in prior.parameters() if id(p) not in trainable)
    torch.manual_seed(1)
    assert torch.equal(prior.sample(obs[:4], 5), before)  # zero-initialised: the pretrained prior at first

    optimizer = torch.optim.Adam(params, lr=1e-2)
    actions = torch.rand(64, 2) * 2 - 1
    for _ in range(5):
        loss = prior.loss(obs, actions, torch.ones(64))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    torch.manual_seed(1)
    assert not torch.allclose(prior.sample(obs[:4], 5), before)
    wrapped = prior.state_dict()
    for key, value in backbone.items():
        peft_key = key
        if key.startswith("hidden."):
            layer, name = key.split(".")[1], key.split(".")[2]
            peft_key = f"hidden.{layer}.base.{name}" if peft == "lora" else f"hidden.{layer}.0.{name}"
        assert torch.equal(wrapped[peft_key], value), key


def test_attach_peft_none_freezes_everything():
    prior = DiffusionPrior(3, 2, num_diffusion_steps=5, hidden_dim=16)
    assert attach_peft(prior, "none", 2, 4.0, 4) == []
    assert not any(p.requires_grad for p in prior.parameters())


# ---------------------------------------------------------------- energy reweighting and guidance
def test_energy_weights_properties():
    q = torch.tensor([[1.0, 3.0, 2.0], [0.0, -1.0, 5.0]])
    w = energy_weights(q, tau=1.0)
    torch.testing.assert_close(w.sum(-1), torch.ones(2))
    for row_q, row_w in zip(q, w):
        assert torch.equal(torch.argsort(row_q), torch.argsort(row_w))
    cold = energy_weights(q, tau=1e-4)
    torch.testing.assert_close(cold, torch.nn.functional.one_hot(q.argmax(-1), 3).float())
    hot = energy_weights(q, tau=1e6)
    torch.testing.assert_close(hot, torch.full((2, 3), 1 / 3), atol=1e-5, rtol=0)
    torch.testing.assert_close(w, torch.exp(q) / torch.exp(q).sum(-1, keepdim=True))


def test_guidance_raises_mean_q_of_samples_on_a_toy_critic():
    torch.manual_seed(0)
    prior = DiffusionPrior(1, 1, hidden_dim=64)
    s = torch.rand(4096, 1) * 2 - 1
    a = torch.rand(4096, 1) * 2 - 1  # a broad prior: actions uniform on [-1, 1]
    optimizer = torch.optim.Adam(prior.parameters(), lr=2e-3)
    for _ in range(300):
        idx = torch.randint(0, 4096, (256,))
        loss = prior.loss(s[idx], a[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def toy_q(actions):
        return -((actions[:, 0] - 0.7) ** 2)

    obs = torch.zeros(64, 1)
    with torch.no_grad():
        torch.manual_seed(5)
        plain = prior.sample(obs, 32)
        torch.manual_seed(5)
        guided = prior.sample(obs, 32, guidance=toy_q, guidance_scale=3.0)
    assert toy_q(guided.reshape(-1, 1)).mean() > toy_q(plain.reshape(-1, 1)).mean() + 0.02
    assert guided.abs().max() <= 1.0


# ---------------------------------------------------------------- the DAP losses
def test_advantage_weights_mean_one_monotone_and_clipped():
    adv = torch.linspace(-2, 2, 101)
    w = advantage_weights(adv, beta=1.0)
    assert w.mean().item() == pytest.approx(1.0, rel=1e-5)
    assert torch.all(w[1:] > w[:-1])
    assert advantage_weights(torch.tensor([0.0] * 99 + [100.0]), beta=0.01).max() == 20.0


def test_imitation_and_kl_losses_match_their_formulas():
    torch.manual_seed(0)
    mu, std = torch.randn(3, 2), torch.rand(3, 2) + 0.5
    dist = torch.distributions.Normal(mu, std)
    proposals = torch.randn(3, 4, 2)
    w = torch.softmax(torch.randn(3, 4), -1)
    log_pi = -((proposals - mu[:, None]) ** 2 / (2 * std[:, None] ** 2)) - std[:, None].log() - 0.5 * math.log(2 * math.pi)
    expected = -(w * log_pi.sum(-1)).sum(-1).mean()
    torch.testing.assert_close(imitation_loss(dist, proposals, w), expected)

    m, v = proposal_moments(proposals, w)
    torch.testing.assert_close(m, (w[..., None] * proposals).sum(1))
    raw_v = (w[..., None] * (proposals - m[:, None]) ** 2).sum(1)
    torch.testing.assert_close(v, raw_v.clamp(min=ppo_dap.PROPOSAL_VAR_FLOOR))
    kl = (torch.log(v.sqrt() / std) + (std**2 + (mu - m) ** 2) / (2 * v) - 0.5).sum(-1).mean()
    torch.testing.assert_close(kl_loss(dist, m, v), kl)
    assert kl_loss(torch.distributions.Normal(m, v.sqrt()), m, v).item() == pytest.approx(0.0, abs=1e-6)


def test_anneal_is_linear_to_zero():
    assert anneal(0.1, 0, 50_000) == 0.1
    assert anneal(0.1, 25_000, 50_000) == pytest.approx(0.05)
    assert anneal(0.1, 50_000, 50_000) == 0.0 and anneal(0.1, 900_000, 50_000) == 0.0


# ---------------------------------------------------------------- the shipped prior
def test_shipped_walker2d_prior_loads_and_samples_in_bounds():
    prior = load_prior(SHIPPED)
    env = gym.make("Walker2d-v4")
    assert prior.env_id == "Walker2d-v4"
    assert (prior.obs_dim, prior.act_dim) == (env.observation_space.shape[0], env.action_space.shape[0])
    assert os.path.getsize(SHIPPED) < 400_000
    states = np.stack([env.reset(seed=i)[0] for i in range(8)])
    torch.manual_seed(0)
    with torch.no_grad():
        actions = prior.sample(torch.tensor(states, dtype=torch.float32), 16)
    assert actions.shape == (8, 16, 6)
    low, high = torch.tensor(env.action_space.low), torch.tensor(env.action_space.high)
    assert torch.all(actions >= low) and torch.all(actions <= high)
    assert actions.std(1).mean() > 0.01  # a distribution, not a point
    for key in ("dataset", "transitions", "mean_episode_return", "heldout_loss"):
        assert key in prior.provenance


# ---------------------------------------------------------------- the auditable boundary
def test_boundary_actions_from_actor_and_no_dataset_opened(tmp_path, monkeypatch):
    rollout, update_calls, opened = [], [], []
    original_act, original = Agent.act, Agent.get_action_and_value

    def recording_act(self, x):  # the rollout's forward
        out = original_act(self, x)
        rollout.append((out[0].detach().clone(), out[1].detach().clone()))
        return out

    def recording(self, x, action=None):
        out = original(self, x, action)
        (rollout if action is None else update_calls).append((out[0].detach().clone(), out[1].detach().clone()))
        return out

    stepped, real_step = [], gym.vector.SyncVectorEnv.step

    def recording_step(self, actions):  # what the environment receives
        stepped.append(np.array(actions, copy=True))
        return real_step(self, actions)

    real_open, real_np_load = builtins.open, np.load
    monkeypatch.setattr(gym.vector.SyncVectorEnv, "step", recording_step)
    monkeypatch.setattr(Agent, "act", recording_act)
    monkeypatch.setattr(Agent, "get_action_and_value", recording)
    monkeypatch.setattr(builtins, "open", lambda f, *a, **k: opened.append(str(f)) or real_open(f, *a, **k))
    monkeypatch.setattr(np, "load", lambda f, *a, **k: opened.append(str(f)) or real_np_load(f, *a, **k))
    run_dir = ppo_dap.main(walker_args(tmp_path))

    # every action in the PPO update is one the actor sampled during the rollout, never a proposal,
    # and at the first minibatch of each iteration (parameters not yet changed) its log-prob is the
    # stored collection-time log-prob (up to float rounding: a batch of 64 vs a batch of 1)
    collected = torch.cat([a for a, _ in rollout])
    collected_logp = torch.cat([lp for _, lp in rollout])
    assert collected.shape == (512, 6)
    # every action the environment received is the actor's sample of that step, clipped to the bounds
    low, high = gym.make("Walker2d-v4").action_space.low, gym.make("Walker2d-v4").action_space.high
    np.testing.assert_array_equal(np.concatenate(stepped), np.clip(collected.numpy(), low, high))
    for actions, _ in update_calls:
        assert all((collected == a).all(-1).any() for a in actions)
    for iteration in range(2):
        actions, new_logp = update_calls[iteration * 2 * 4]  # 2 epochs x 4 minibatches per iteration
        stored = torch.stack([collected_logp[(collected == a).all(-1)][0] for a in actions])
        torch.testing.assert_close(new_logp, stored, rtol=1e-6, atol=1e-5)
    assert not [f for f in opened if f.endswith(".npz")]
    assert load_prior(SHIPPED).provenance["dataset"] not in opened
    assert any(f.endswith("Walker2d-v4.pt") for f in opened)
    rows = read_csv(os.path.join(run_dir, "progress.csv"))
    assert all(float(r["dap/grad_leak"]) == 0.0 for r in rows)


def test_the_actor_gradient_is_the_annealed_sum_of_the_d_terms(tmp_path, monkeypatch):
    """With PPO's own losses zeroed, the actor's gradient in every minibatch is exactly lambda_im(t) grad L_im +
    lambda_kl(t) grad L_kl over that minibatch's proposal states, both weights annealed by the clock
    (iteration 2 of 2 starts at step 256 of --prior-anneal-steps 512: half weight); the critic gets none."""
    monkeypatch.setattr(ppo_dap, "clipped_policy_loss", lambda ratio, adv, clip: 0.0 * ratio.sum())
    monkeypatch.setattr(ppo_dap, "value_loss", lambda new, old, returns, clip, clip_v: 0.0 * new.sum())
    agents, terms, grads = [], {"im": [], "kl": []}, []
    real_get_dist, real_clip = Agent.get_dist, torch.nn.utils.clip_grad_norm_

    def actor(agent):
        return [agent.actor_logstd, *agent.actor_mean.parameters()]

    def get_dist(self, x):
        agents.append(self)
        return real_get_dist(self, x)

    def term_gradient(name, real):
        def spy(*a):
            out = real(*a)
            terms[name].append(torch.autograd.grad(out, actor(agents[-1]), retain_graph=True))
            return out
        return spy

    def clip(params, max_norm):
        params = list(params)
        grads.append({id(p): p.grad.clone() for p in params})
        return real_clip(params, max_norm)

    monkeypatch.setattr(Agent, "get_dist", get_dist)
    monkeypatch.setattr(ppo_dap, "imitation_loss", term_gradient("im", ppo_dap.imitation_loss))
    monkeypatch.setattr(ppo_dap, "kl_loss", term_gradient("kl", ppo_dap.kl_loss))
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", clip)
    ppo_dap.main(walker_args(tmp_path, imitation_coef=0.7, kl_coef=0.3, ent_coef=0.0))
    agent = agents[-1]
    assert len(grads) == len(terms["im"]) == len(terms["kl"]) == 2 * 2 * 4  # iterations x epochs x minibatches
    for j, got in enumerate(grads):
        scale = 1.0 if j < 8 else 0.5
        for p, g_im, g_kl in zip(actor(agent), terms["im"][j], terms["kl"][j]):
            torch.testing.assert_close(got[id(p)], scale * (0.7 * g_im + 0.3 * g_kl))
        assert all((got[id(p)] == 0).all() for p in agent.critic.parameters())
        assert any((g != 0).any() for g in terms["im"][j])


def test_grad_leak_reports_a_gradient_that_reaches_the_prior(tmp_path, monkeypatch):
    """dap/grad_leak is measured, not written as 0: proposals that carried the prior's graph would put a
    gradient of the actor's loss on its LoRA weights, and the log says so."""
    real_step = ppo_dap.dap_step

    class Leaking:  # each minibatch's proposals with a fresh graph back to a LoRA weight
        def __init__(self, proposals, lora):
            self.proposals, self.lora = proposals, lora

        def __getitem__(self, rows):
            return self.proposals[rows] + 1e-3 * self.lora.sum()

    def leaking(args, prior, *rest):
        out = real_step(args, prior, *rest)
        out.proposals = Leaking(out.proposals, next(p for p in prior.parameters() if p.requires_grad))
        return out

    monkeypatch.setattr(ppo_dap, "dap_step", leaking)
    rows = read_csv(os.path.join(ppo_dap.main(walker_args(tmp_path)), "progress.csv"))
    assert all(float(r["dap/grad_leak"]) > 0 for r in rows)


def test_zero_coefficients_is_ppo_bit_for_bit_and_loads_no_prior(tmp_path, monkeypatch):
    loaded = []
    monkeypatch.setattr(ppo_dap, "load_prior", lambda *a, **k: loaded.append(a))
    plain = ppo_dap.main(walker_args(tmp_path, exp_name="plain", imitation_coef=0.0, kl_coef=0.0,
                                     save_model=True, eval_episodes=0))
    # other DAP flags, even a prior path that does not exist, change nothing when both coefficients are 0
    other = ppo_dap.main(walker_args(tmp_path, exp_name="other", imitation_coef=0.0, kl_coef=0.0, peft="adapter",
                                     num_proposals=3, guidance_scale=2.0, prior_path=str(tmp_path / "none.pt"),
                                     save_model=True, eval_episodes=0))
    assert loaded == []
    with open(os.path.join(other, "config.json")) as f:
        assert "prior_sha256" not in json.load(f)  # no prior was read
    rows_a, rows_b = read_csv(os.path.join(plain, "progress.csv")), read_csv(os.path.join(other, "progress.csv"))
    assert not any(k.startswith("dap/") for k in rows_a[0])
    for ra, rb in zip(rows_a, rows_b):
        for key in ("losses/value_loss", "losses/policy_loss", "losses/approx_kl", "charts/episodic_return"):
            assert ra[key] == rb[key]
    ma = torch.load(os.path.join(plain, "model.pt"), weights_only=False)["agent"]
    mb = torch.load(os.path.join(other, "model.pt"), weights_only=False)["agent"]
    assert all(torch.equal(v, mb[k]) for k, v in ma.items())


def test_dap_changes_the_actor_update(tmp_path):
    ppo = ppo_dap.main(walker_args(tmp_path, exp_name="ppo", imitation_coef=0.0, save_model=True, eval_episodes=0))
    dap = ppo_dap.main(walker_args(tmp_path, exp_name="dap", imitation_coef=0.5, save_model=True, eval_episodes=0))
    ma = torch.load(os.path.join(ppo, "model.pt"), weights_only=False)["agent"]
    mb = torch.load(os.path.join(dap, "model.pt"), weights_only=False)["agent"]
    assert not torch.equal(ma["actor_logstd"], mb["actor_logstd"])


def test_each_epoch_shares_every_proposal_state_out_once_with_its_own_targets(tmp_path, monkeypatch):
    """(d) The proposal states are split over the minibatches like PPO's states: each minibatch takes
    its share, each epoch visits every one once (in a fresh order), and the rows of obs, proposals,
    weights and moments handed to the losses belong to the same states."""
    targets, calls, dist_inputs = [], [], []
    real_step, real_get_dist = ppo_dap.dap_step, Agent.get_dist
    real_im, real_kl = ppo_dap.imitation_loss, ppo_dap.kl_loss
    monkeypatch.setattr(ppo_dap, "dap_step", lambda *a, **k: targets.append(real_step(*a, **k)) or targets[-1])
    monkeypatch.setattr(Agent, "get_dist", lambda self, x: dist_inputs.append(x) or real_get_dist(self, x))

    def recording_im(dist, proposals, weights):
        calls.append({"obs": dist_inputs[-1], "proposals": proposals, "weights": weights})
        return real_im(dist, proposals, weights)

    def recording_kl(dist, m, v):
        calls[-1].update(m=m, v=v)
        return real_kl(dist, m, v)

    monkeypatch.setattr(ppo_dap, "imitation_loss", recording_im)
    monkeypatch.setattr(ppo_dap, "kl_loss", recording_kl)
    ppo_dap.main(walker_args(tmp_path, total_timesteps=256, kl_coef=0.01))
    (dap,) = targets
    assert len(calls) == 2 * 4  # --update-epochs 2 x --num-minibatches 4
    orders = []
    for epoch in range(2):
        order = []
        for call in calls[4 * epoch:4 * epoch + 4]:
            assert len(call["proposals"]) == 32 // 4
            rows = [int(torch.nonzero((dap.proposals == p).all(-1).all(-1))[0]) for p in call["proposals"]]
            for key, full in (("obs", dap.obs), ("proposals", dap.proposals), ("weights", dap.weights),
                              ("m", dap.mean), ("v", dap.var)):
                assert torch.equal(call[key], full[rows]), key
            order += rows
        assert sorted(order) == list(range(32))  # every proposal state once per epoch
        orders.append(order)
    assert orders[0] != orders[1]  # a fresh order each epoch


# ---------------------------------------------------------------- tiny PPO-DAP runs
@pytest.mark.parametrize("peft", ["lora", "adapter"])
def test_tiny_ppo_dap_run_with_shipped_prior(tmp_path, peft, capsys):
    run_dir = ppo_dap.main(walker_args(tmp_path, peft=peft, kl_coef=0.01, guidance_scale=1.0))
    out = capsys.readouterr().out
    with open(os.path.join(run_dir, "config.json")) as f:  # the run records which prior file it read
        assert json.load(f)["prior_sha256"] == sha256(SHIPPED)
    assert f"PEFT {peft}:" in out and "trainable" in out
    rows = read_csv(os.path.join(run_dir, "progress.csv"))
    assert len(rows) == 2
    for key in ("losses/imitation", "losses/kl", "losses/q_loss", "losses/peft_loss", "dap/ess",
                "dap/imitation_coef", "dap/kl_coef", "time/prior_s"):
        assert math.isfinite(float(rows[0][key])), key
    assert 1.0 <= float(rows[0]["dap/ess"]) <= 4.0
    assert float(rows[0]["dap/imitation_coef"]) == 1.0 and float(rows[1]["dap/imitation_coef"]) == 0.5


# ---------------------------------------------------------------- prior errors
def test_missing_prior_names_the_command_that_makes_one(tmp_path):
    with pytest.raises(SystemExit, match="no prior checkpoint at .*nope.pt; make one with `python benchmarks/make_datasets.py "
                       "--env-ids Walker2d-v4 --kinds two-policies --priors diffusion --flat`.* --prior-path") as err:
        ppo_dap.main(walker_args(tmp_path, prior_path=str(tmp_path / "nope.pt")))
    assert str(err.value).count("\n") == 0
    assert not (tmp_path / "runs").exists()  # checks come before any output is written


def test_prior_for_other_env_or_dims_or_corrupt_is_refused(tmp_path):
    other_env = str(tmp_path / "pendulum.pt")
    save_prior(other_env, DiffusionPrior(3, 1, num_diffusion_steps=5, hidden_dim=8), "Pendulum-v1", {})
    with pytest.raises(SystemExit, match="made for Pendulum-v1, but --env-id is Walker2d-v4"):
        ppo_dap.main(walker_args(tmp_path, prior_path=other_env))
    wrong_dims = str(tmp_path / "dims.pt")
    save_prior(wrong_dims, DiffusionPrior(3, 1, num_diffusion_steps=5, hidden_dim=8), "Walker2d-v4", {})
    with pytest.raises(SystemExit, match=r"dimensions \(3, 1\), but Walker2d-v4 has \(17, 6\)"):
        ppo_dap.main(walker_args(tmp_path, prior_path=wrong_dims))
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"garbage")
    with pytest.raises(SystemExit, match="could not be read"):
        ppo_dap.main(walker_args(tmp_path, prior_path=str(corrupt)))


def test_knn_prior_runs_with_peft_none_and_is_refused_with_peft_or_guidance(tmp_path):
    from pretrain_prior import KNNPrior
    knn = KNNPrior(17, 6, size=64)
    knn.set_normalization(np.zeros(17), np.ones(17), -np.ones(6), np.ones(6))
    knn.store(torch.randn(64, 17), torch.rand(64, 6) * 2 - 1)
    path = str(tmp_path / "knn.pt")
    save_prior(path, knn, "Walker2d-v4", {})
    for kw in (dict(peft="lora"), dict(peft="none", guidance_scale=1.0)):
        with pytest.raises(SystemExit, match=f"prior {path} is a knn .* pass --peft none and --guidance-scale 0"):
            ppo_dap.main(walker_args(tmp_path, prior_path=path, **kw))
    run_dir = ppo_dap.main(walker_args(tmp_path, prior_path=path, peft="none"))
    rows = read_csv(os.path.join(run_dir, "progress.csv"))
    assert float(rows[0]["losses/imitation"]) > 0 and float(rows[0]["dap/grad_leak"]) == 0.0


@pytest.mark.parametrize("kw, message", [
    (dict(num_proposals=0), "--num-proposals must be positive"),
    (dict(imitation_coef=-0.1), "--imitation-coef must be zero or positive"),
    (dict(prior_anneal_steps=0), "--prior-anneal-steps must be positive"),
    (dict(proposal_states=3), "--proposal-states 3 must be at least --num-minibatches 4"),
])
def test_bad_dap_flags(tmp_path, kw, message):
    with pytest.raises(SystemExit, match=message):
        ppo_dap.main(walker_args(tmp_path, **kw))


def test_few_proposal_states_are_fine_for_ppo_alone(tmp_path):
    """--proposal-states is a DAP flag: with both coefficients at zero it is not checked."""
    run_dir = ppo_dap.main(walker_args(tmp_path, total_timesteps=256, proposal_states=3, imitation_coef=0.0))
    assert len(read_csv(os.path.join(run_dir, "progress.csv"))) == 1


# ---------------------------------------------------------------- the return release
def test_return_gate_opens_below_the_prior_data_return_and_closes_at_it():
    assert ppo_dap.return_gate([], 100.0) == 1.0  # no episode yet: the prior acts
    assert ppo_dap.return_gate([50.0, 120.0], 100.0) == 1.0  # mean 85 < 100
    assert ppo_dap.return_gate([90.0, 110.0], 100.0) == 0.0  # mean 100: as good as the data, released


@pytest.mark.parametrize("data_return, expect_on", [(-1e9, False), (1e9, True)])
def test_return_release_switches_the_prior_off_once_the_actor_beats_its_data(tmp_path, data_return, expect_on):
    prior = load_prior(SHIPPED)
    path = str(tmp_path / "prior.pt")
    save_prior(path, prior, "Walker2d-v4", {**prior.provenance, "mean_episode_return": data_return})
    run_dir = ppo_dap.main(walker_args(tmp_path, prior_path=path, prior_release="return"))
    rows = read_csv(os.path.join(run_dir, "progress.csv"))
    # the gate reads the episodes that ended in the rollout just collected (an untrained walker falls
    # within a few dozen steps), so it decides from iteration 1 on
    for row in rows:
        assert float(row["dap/release_gate"]) == float(expect_on)
        assert (float(row["dap/imitation_coef"]) > 0) == expect_on
        assert (row.get("losses/imitation", "") != "") == expect_on
