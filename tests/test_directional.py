"""Directional tests: each step of PPO and of the method on a small hand-made batch whose right answer
is known, so that a flipped sign, a swapped index or an optimiser that never steps fails a test."""

import copy
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn as nn

import ppo_dap
from ppo_dap import Agent, QNetwork, attach_peft, clipped_policy_loss, dap_step, imitation_loss, value_loss
from pretrain_prior import DiffusionPrior



# ---------------------------------------------------------------- PPO's losses
def test_clipped_surrogate_by_hand_inside_and_outside_the_clip_for_both_signs():
    ratio = torch.tensor([1.1, 1.5, 0.5, 1.5, 0.5, 0.9])
    adv = torch.tensor([2.0, 2.0, 2.0, -1.0, -1.0, -1.0])
    # per sample, max(-A r, -A clip(r, 0.8, 1.2)):
    #   A>0: r=1.1 inside -> -2.2; r=1.5 above -> -2.4 (clipped, no credit beyond 1.2); r=0.5 below -> -1.0
    #   A<0: r=1.5 above -> 1.5 (unclipped: the pessimistic side); r=0.5 below -> 0.8 (clipped); r=0.9 -> 0.9
    expected = torch.tensor([-2.2, -2.4, -1.0, 1.5, 0.8, 0.9]).mean()
    torch.testing.assert_close(clipped_policy_loss(ratio, adv, 0.2), expected)


def test_value_loss_clips_around_the_old_values_not_the_returns():
    new, old, ret = torch.tensor([3.0, 0.0]), torch.tensor([1.0, 1.0]), torch.tensor([2.0, 5.0])
    # sample 1: unclipped (3-2)^2 = 1; V clipped to 1 + 0.5 = 1.5 -> (1.5-2)^2 = 0.25; max = 1
    # sample 2: unclipped (0-5)^2 = 25; V clipped to 1 - 0.5 = 0.5 -> (0.5-5)^2 = 20.25; max = 25
    torch.testing.assert_close(value_loss(new, old, ret, 0.5, True), torch.tensor(0.5 * (1.0 + 25.0) / 2))
    # an old value far from the new one: the clipped error dominates (clip around old, not around returns)
    new, old, ret = torch.tensor([2.0]), torch.tensor([0.0]), torch.tensor([2.0])
    torch.testing.assert_close(value_loss(new, old, ret, 0.5, True), torch.tensor(0.5 * (0.5 - 2.0) ** 2))
    torch.testing.assert_close(value_loss(new, old, ret, 0.5, False), torch.tensor(0.0))
    torch.testing.assert_close(value_loss(torch.tensor([1.0]), old, ret, 0.5, False), torch.tensor(0.5))
    # the lower side of the clip: V drops by 1 from its old value 1, clipped to a drop of 0.5
    new, old, ret = torch.tensor([0.0]), torch.tensor([1.0]), torch.tensor([-5.0])
    torch.testing.assert_close(value_loss(new, old, ret, 0.5, True), torch.tensor(0.5 * (0.5 + 5.0) ** 2))


def test_one_ppo_step_raises_the_positive_advantage_action_and_lowers_the_negative_one():
    torch.manual_seed(0)
    agent = Agent(3, 2)
    optimizer = torch.optim.Adam(agent.parameters(), lr=1e-2, eps=1e-5)
    obs = torch.randn(2, 3)
    with torch.no_grad():
        actions, old_logprob, _, _ = agent.get_action_and_value(obs)
    adv = torch.tensor([1.0, -1.0])
    _, newlogprob, _, _ = agent.get_action_and_value(obs, actions)
    loss = clipped_policy_loss((newlogprob - old_logprob).exp(), adv, 0.2)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        _, after, _, _ = agent.get_action_and_value(obs, actions)
    assert after[0] > old_logprob[0] and after[1] < old_logprob[1]


@pytest.mark.parametrize("batch", [1, 3])
def test_the_rollouts_act_gives_get_action_and_value_exactly(batch):
    """`act` is the rollout's fast path; it must draw the same action and give the same log-prob and
    value as CleanRL's get_action_and_value from the same random state, bit for bit."""
    torch.manual_seed(0)
    agent, obs = Agent(5, 3), torch.randn(batch, 5)
    with torch.no_grad():
        agent.actor_logstd.fill_(-0.7)  # a std other than 1, so the log-prob's std terms count
        for seed in range(5):
            torch.manual_seed(seed)
            action, logprob, _, value = agent.get_action_and_value(obs)
            torch.manual_seed(seed)
            fast = agent.act(obs)
            assert torch.equal(fast[0], action) and torch.equal(fast[1], logprob) and torch.equal(fast[2], value)


def test_rpo_shifts_the_mean_by_uniform_noise_in_the_update_only():
    torch.manual_seed(0)
    agent, obs, actions = Agent(3, 2, rpo_alpha=0.5), torch.randn(4, 3), torch.randn(4, 2)
    dist = agent.get_dist(obs)
    torch.manual_seed(1)
    _, logprob, entropy, _ = agent.get_action_and_value(obs, actions)
    torch.manual_seed(1)
    z = torch.empty(4, 2).uniform_(-0.5, 0.5)  # CleanRL's RPO: mean + U(-alpha, alpha), drawn afresh
    expected = torch.distributions.Normal(dist.mean + z, dist.stddev).log_prob(actions).sum(1)
    torch.testing.assert_close(logprob, expected)
    assert not torch.allclose(logprob, dist.log_prob(actions).sum(1))  # the shift is really there
    torch.testing.assert_close(entropy, dist.entropy().sum(1))  # the spread is the actor's
    # the rollout's sampling is the plain Gaussian actor's: same draws as with alpha = 0
    ppo_agent = Agent(3, 2)
    ppo_agent.load_state_dict(agent.state_dict())
    torch.manual_seed(2)
    sampled, _, _, _ = agent.get_action_and_value(obs)
    torch.manual_seed(2)
    torch.testing.assert_close(sampled, ppo_agent.get_action_and_value(obs)[0])


# ---------------------------------------------------------------- the loop's truncation bootstrap
def test_loop_bootstraps_truncations_from_the_final_observation(tmp_path, monkeypatch):
    seen = []
    real_gae = ppo_dap.compute_gae

    def spy(rewards, values, next_values, terminations, dones, gamma, lam):
        seen.append((values.clone(), next_values.clone(), dones.clone(), terminations.clone()))
        return real_gae(rewards, values, next_values, terminations, dones, gamma, lam)

    monkeypatch.setattr(ppo_dap, "compute_gae", spy)
    ppo_dap.main(ppo_dap.Args(env_id="Pendulum-v1", total_timesteps=256, num_steps=256, num_minibatches=4,
                              update_epochs=1, runs_dir=str(tmp_path / "runs"), cuda=False, imitation_coef=0.0))
    values, bootstrap, dones, terminations = (x[:, 0] for x in seen[0])
    assert dones[199] == 1 and dones.sum() == 1  # Pendulum truncates after 200 steps
    assert terminations.sum() == 0  # a truncation is no termination: its delta keeps gamma * V(final obs)
    inside = torch.arange(255) != 199
    torch.testing.assert_close(bootstrap[:255][inside], values[1:][inside])  # V(s_{t+1}) within the episode
    # at the truncation: V(final observation), neither 0 (termination) nor V of the next episode's start
    assert bootstrap[199] != 0 and bootstrap[199] != values[200]


# ---------------------------------------------------------------- the DAP step, on a hand-made batch
def dap_args(**kw):
    base = dict(prior_updates=5, peft_adv_beta=1.0, q_updates=50, num_proposals=4, proposal_states=16,
                guidance_scale=0.0, energy_temperature=0.5)
    base.update(kw)
    return SimpleNamespace(**base)


def small_setup(peft="lora", seed=0):
    torch.manual_seed(seed)
    np.random.seed(seed)
    prior = DiffusionPrior(3, 2, num_diffusion_steps=5, hidden_dim=16)
    prior.set_normalization(torch.full((3,), 10.0), torch.full((3,), 2.0), -torch.ones(2), torch.ones(2))
    peft_params = attach_peft(prior, peft, 2, 4.0, 4)
    peft_opt = torch.optim.Adam(peft_params, lr=1e-2) if peft_params else None
    qf = QNetwork(3, 2)
    q_opt = torch.optim.Adam(qf.parameters(), lr=1e-2)
    return prior, peft_opt, qf, q_opt, Agent(3, 2)


def batch(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    raw = 10.0 + 2.0 * torch.randn(n, 3, generator=g)
    obs = (raw - 10.0) / 2.0  # what the actor and Q_phi see
    actions = torch.rand(n, 2, generator=g) * 2 - 1
    adv = torch.randn(n, generator=g)
    returns = 20.0 + 5.0 * obs[:, 0] + adv  # returns and advantages differ by far
    return obs, raw, actions, adv, returns


def run_step(args, setup, data):
    prior, peft_opt, qf, q_opt, agent = setup
    obs, raw, actions, adv, returns = data
    return dap_step(args, prior, peft_opt, qf, q_opt, obs, raw, actions, adv, returns)


def test_lora_a_is_initialised_like_nn_linear():
    torch.manual_seed(0)
    lora = ppo_dap.LoRALinear(nn.Linear(400, 8), rank=64, alpha=8.0)
    bound = 1 / np.sqrt(400)  # kaiming_uniform with a = sqrt(5): U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert 0.98 * bound < lora.lora_A.abs().max().item() <= bound


def test_proposal_states_are_distinct_and_guidance_moves_proposals_up_the_critic():
    class UpQ(nn.Module):  # higher for larger actions, in every state
        def __init__(self):
            super().__init__()
            self.dummy = nn.Parameter(torch.zeros(1))

        def forward(self, obs, actions):
            return actions.sum(-1) * 10.0

    obs, raw, actions, adv, returns = batch()
    means = []
    for scale in (0.0, 5.0):
        prior, peft_opt, _, _, agent = small_setup(peft="none")
        qf = UpQ()
        torch.manual_seed(4)
        np.random.seed(4)
        out = dap_step(dap_args(q_updates=0, proposal_states=64, guidance_scale=scale), prior, peft_opt, qf,
                       torch.optim.SGD(qf.parameters(), lr=0.0), obs, raw, actions, adv, returns)
        assert len(torch.unique(out.obs, dim=0)) == 64  # every state of the batch once: drawn without replacement
        assert 0.0 <= out.log["time/prior_s"] < 60.0
        means.append(out.proposals.mean().item())
    assert means[1] > means[0] + 0.1


def test_adapter_and_advantage_weights_by_hand():
    torch.manual_seed(0)
    adapter = ppo_dap.Adapter(3, 2)
    with torch.no_grad():
        adapter.up.weight.normal_()
        adapter.up.bias.normal_()
    x = torch.randn(4, 3)
    expected = x + torch.nn.functional.mish(x @ adapter.down.weight.T + adapter.down.bias) @ adapter.up.weight.T + adapter.up.bias
    torch.testing.assert_close(adapter(x), expected)
    adv = torch.tensor([0.0, 2.0, 4.0, 10.0])  # std 4.43: standardising matters
    a = (adv - adv.mean()) / adv.std()
    expected = torch.exp(a / 0.5) / torch.exp(a / 0.5).sum() * 4
    torch.testing.assert_close(ppo_dap.advantage_weights(adv, 0.5), expected.clamp(max=ppo_dap.PEFT_WEIGHT_MAX))


@pytest.mark.parametrize("prior_updates", [1, 5])
def test_dap_step_trains_peft_and_q_and_never_the_backbone(prior_updates):
    setup = small_setup()
    prior, _, qf, _, agent = setup
    frozen = {k: v.clone() for k, v in prior.state_dict().items() if "lora" not in k}
    lora = {k: v.clone() for k, v in prior.state_dict().items() if "lora_B" in k}
    q_before = copy.deepcopy(qf.state_dict())
    actor_before = copy.deepcopy(agent.state_dict())
    run_step(dap_args(prior_updates=prior_updates), setup, batch())
    after = prior.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in frozen.items())  # backbone and buffers untouched
    assert all(not torch.equal(v, after[k]) for k, v in lora.items())  # every LoRA B moved
    assert all(not torch.equal(v, qf.state_dict()[k]) for k, v in q_before.items())
    assert all(torch.equal(v, agent.state_dict()[k]) for k, v in actor_before.items())  # (a)-(c) leave the actor
    assert all(p.grad is None for p in [*prior.parameters(), *qf.parameters()])  # no stale gradients for (d)


def test_q_phi_fits_the_lambda_returns_not_the_advantages():
    setup = small_setup()
    data = batch(256)
    targets = run_step(dap_args(q_updates=400), setup, data)
    obs, _, actions, adv, returns = data
    with torch.no_grad():
        q = setup[2](obs, actions)
    assert targets.log["losses/q_loss"] < 0.1 * returns.var().item()
    assert (q - returns).abs().mean() < 0.5 * (q - adv).abs().mean()


def test_peft_trains_on_the_executed_pairs_with_raw_observations(monkeypatch):
    calls = []
    real_loss = DiffusionPrior.loss

    def spy(self, obs, actions, weights=None):
        calls.append((obs.clone(), actions.clone(), None if weights is None else weights.clone()))
        return real_loss(self, obs, actions, weights)

    monkeypatch.setattr(DiffusionPrior, "loss", spy)
    obs, raw, actions, adv, returns = batch()
    actions = torch.stack([raw[:, 0] / 100.0, raw[:, 1] / 100.0], dim=1)  # action i is a function of state i
    run_step(dap_args(peft_adv_beta=0.7), small_setup(), (obs, raw, actions, adv, returns))
    assert len(calls) == 5
    expected = ppo_dap.advantage_weights(adv, 0.7)  # --peft-adv-beta reaches the weights
    for o, a, w in calls:
        torch.testing.assert_close(a, o[:, :2] / 100.0)  # each state with its own executed action
        assert o.mean() > 5.0  # raw observations (mean 10): the prior normalises them itself
        rows = [int(torch.nonzero((raw == x).all(-1))[0]) for x in o]  # each drawn row's index in the batch
        torch.testing.assert_close(w, expected[rows])  # and its own advantage's weight


def test_proposals_are_drawn_for_the_raw_observations_of_the_chosen_states(monkeypatch):
    seen = []
    real_sample = DiffusionPrior.sample

    def spy(self, obs, num_samples, **kw):
        seen.append(obs.clone())
        return real_sample(self, obs, num_samples, **kw)

    monkeypatch.setattr(DiffusionPrior, "sample", spy)
    obs, raw, actions, adv, returns = batch()
    out = run_step(dap_args(), small_setup(), (obs, raw, actions, adv, returns))
    (given,) = seen
    assert given.mean() > 5.0  # raw observations (mean 10), which the prior normalises itself
    torch.testing.assert_close((given - 10.0) / 2.0, out.obs)  # the same states the (d) terms use


def test_peft_step_lowers_the_loss_most_where_the_weights_are_largest():
    torch.manual_seed(0)
    prior = DiffusionPrior(3, 2, num_diffusion_steps=5, hidden_dim=32)
    attach_peft(prior, "lora", 4, 8.0, 4)
    opt = torch.optim.Adam([p for p in prior.parameters() if p.requires_grad], lr=3e-3)
    obs = torch.randn(256, 3)
    sign = torch.where(torch.arange(256)[:, None] < 128, 1.0, -1.0)  # the two halves want opposite actions
    actions = (sign * torch.where(obs[:, :1] > 0, 0.8, -0.8)).repeat(1, 2)
    weights = torch.where(torch.arange(256) < 128, 10.0, 0.0)  # only the first half counts

    def half_losses():
        torch.manual_seed(5)
        with torch.no_grad():
            return prior.loss(obs[:128], actions[:128]).item(), prior.loss(obs[128:], actions[128:]).item()

    heavy0, light0 = half_losses()
    for _ in range(150):
        loss = prior.loss(obs, actions, weights)
        opt.zero_grad()
        loss.backward()
        opt.step()
    heavy1, light1 = half_losses()
    # the halves contradict each other: only weighting can make the loss fall on one half far more
    assert heavy1 < 0.7 * heavy0 and heavy1 < 0.7 * light1


def test_weighted_loss_with_zero_weight_on_half_equals_the_other_half():
    torch.manual_seed(0)
    prior = DiffusionPrior(3, 2, num_diffusion_steps=5, hidden_dim=16)
    obs, actions = torch.randn(8, 3), torch.rand(8, 2) * 2 - 1
    torch.manual_seed(1)
    full = prior.loss(obs, actions, torch.tensor([1.0] * 4 + [0.0] * 4))
    # the same draws of t and noise for the first four rows: draw them for 8 and keep the first 4
    torch.manual_seed(1)
    t = torch.randint(1, 6, (8,))
    noise = torch.randn(8, 2)
    a0 = prior.scale_action(actions)
    per = ((prior.eps(prior.q_sample(a0, t, noise), t, prior.normalize_obs(obs)) - noise) ** 2).mean(-1)
    torch.testing.assert_close(full, per[:4].mean())


def test_energy_weights_do_not_change_when_all_rewards_are_scaled():
    # scaling every reward by c scales Q, the returns and the advantages by c; with tau in units of
    # std(A) the weights stay the same (q_updates=0: Q_phi is a fixed, hand-scaled function here)
    class ScaledQ(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.c, self.w = c, nn.Parameter(torch.tensor([1.0, -2.0]))

        def forward(self, obs, actions):
            return self.c * (actions * self.w).sum(-1)

    weights = []
    for c in (1.0, 25.0):
        prior, peft_opt, _, _, agent = small_setup(peft="none")
        qf = ScaledQ(c)
        obs, raw, actions, adv, returns = batch()
        torch.manual_seed(3)
        np.random.seed(3)
        inputs = [obs, raw, actions, c * adv, c * returns]
        kept = [x.clone() for x in inputs]
        out = dap_step(dap_args(q_updates=0), prior, peft_opt, qf, torch.optim.SGD(qf.parameters(), lr=0.0), *inputs)
        assert all(torch.equal(x, y) for x, y in zip(inputs, kept))  # the rollout's tensors are read, never changed
        weights.append(out.weights)
        # by hand: w = softmax_k(Q(s, a_k) / tau), tau = --energy-temperature (0.5) x std of the advantages
        q = qf(out.obs.repeat_interleave(4, dim=0), out.proposals.reshape(-1, 2)).view(-1, 4)
        torch.testing.assert_close(out.weights, torch.softmax(q / (0.5 * (c * adv).std()), dim=-1))
        assert out.log["dap/ess"] == pytest.approx((1.0 / (out.weights ** 2).sum(-1)).mean().item())
    torch.testing.assert_close(weights[0], weights[1])
    assert (weights[0].max(-1).values > 0.4).all()  # not uniform: the critic matters


def test_proposals_weights_and_states_stay_aligned():
    # proposals for state b must be scored with state b: a critic that rewards actions near a
    # state-specific target gives the highest weight, per state, to the proposal nearest that target
    class TargetQ(nn.Module):
        def __init__(self):
            super().__init__()
            self.dummy = nn.Parameter(torch.zeros(1))

        def forward(self, obs, actions):
            return -((actions - obs[:, :2].clamp(-1, 1)) ** 2).sum(-1) * 100.0

    prior, peft_opt, _, _, agent = small_setup(peft="none")
    qf = TargetQ()
    obs, raw, actions, adv, returns = batch()
    out = dap_step(dap_args(q_updates=0, num_proposals=6), prior, peft_opt, qf,
                   torch.optim.SGD(qf.parameters(), lr=0.0), obs, raw, actions, adv, returns)
    target = out.obs[:, :2].clamp(-1, 1)  # out.obs are the normalised states the proposals belong to
    nearest = ((out.proposals - target[:, None]) ** 2).sum(-1).argmin(-1)
    assert torch.equal(out.weights.argmax(-1), nearest)


def test_imitation_gradient_moves_each_mean_toward_its_own_best_proposal():
    torch.manual_seed(0)
    agent = Agent(3, 2)
    obs = torch.randn(4, 3)
    proposals = torch.randn(4, 3, 2)
    weights = torch.full((4, 3), 0.05)
    weights[torch.arange(4), torch.tensor([0, 2, 1, 0])] = 0.9  # each state's own best proposal
    best = proposals[torch.arange(4), weights.argmax(-1)]
    opt = torch.optim.SGD(agent.parameters(), lr=0.05)
    with torch.no_grad():
        before = agent.actor_mean(obs)
    for _ in range(30):
        loss = imitation_loss(agent.get_dist(obs), proposals, weights)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = agent.actor_mean(obs)
    target = (weights[..., None] * proposals).sum(1)
    assert ((after - target).norm(dim=-1) < (before - target).norm(dim=-1)).all()
    assert ((after - best).norm(dim=-1) < (before - best).norm(dim=-1)).all()


def test_pretraining_learning_rate_decays_to_zero(tmp_path, monkeypatch):
    import pretrain_prior

    lrs = []
    real_step = torch.optim.Adam.step

    def spy(self, *a, **k):
        lrs.append(self.param_groups[0]["lr"])
        return real_step(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    data = tmp_path / "d.npz"
    rng = np.random.default_rng(0)
    np.savez(data, observations=rng.normal(size=(200, 3)).astype(np.float32),
             actions=rng.uniform(-2, 2, size=(200, 1)).astype(np.float32))
    pretrain_prior.main(pretrain_prior.Args(dataset=str(data), env_id="Pendulum-v1", output=str(tmp_path / "p.pt"),
                                            num_updates=50, log_every=50, hidden_dim=8, num_diffusion_steps=5,
                                            learning_rate=1e-3, cuda=False))
    assert lrs[0] == pytest.approx(1e-3) and all(b <= a for a, b in zip(lrs, lrs[1:])) and lrs[-1] < 1e-5
