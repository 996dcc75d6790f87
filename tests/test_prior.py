"""Offline stage: the DDPM schedule, forward process, multimodal recovery, training, checkpoints, bad data."""

import glob
import hashlib
import os

import numpy as np
import pytest
import torch

import pretrain_prior
from pretrain_prior import (DiffusionPrior, GaussianPrior, KNNPrior, beta_schedule, heldout_loss, last_episodes,
                            load_prior, mean_episode_return, save_prior, timestep_embedding)
from helpers import bimodal_toy, fit, prior_args



# ---------------------------------------------------------------- schedule and forward process
@pytest.mark.parametrize("schedule", ["vp", "cosine"])
@pytest.mark.parametrize("steps", [5, 20])
def test_alphas_cumprod_decreasing_in_unit_interval(schedule, steps):
    prior = DiffusionPrior(3, 2, num_diffusion_steps=steps, schedule=schedule)
    abar = prior.alphas_cumprod
    assert abar.shape == (steps,)
    assert torch.all(abar > 0) and torch.all(abar < 1)
    assert torch.all(abar[1:] < abar[:-1])
    torch.testing.assert_close(abar, torch.cumprod(1 - beta_schedule(schedule, steps), 0))


def test_vp_schedule_matches_its_formula():
    betas = beta_schedule("vp", 5)
    t = 3
    expected = 1 - np.exp(-0.1 / 5 - (10 - 0.1) * (2 * t - 1) / (2 * 25))
    assert betas[t - 1].item() == pytest.approx(expected, rel=1e-6)


def test_cosine_schedule_matches_nichol_and_dhariwal_and_unknown_names_are_refused():
    """alpha-bar(t) = f(t) / f(0), f(t) = cos^2(((t / T) + s) / (1 + s) * pi / 2), s = 0.008; the betas
    1 - alpha-bar(t) / alpha-bar(t - 1), at most 0.999."""
    T, s = 5, 0.008
    f = lambda t: np.cos((t / T + s) / (1 + s) * np.pi / 2) ** 2  # noqa: E731
    expected = np.minimum(1 - np.array([f(t) / f(t - 1) for t in range(1, T + 1)]), 0.999)
    np.testing.assert_allclose(beta_schedule("cosine", T).numpy(), expected, rtol=1e-6)  # float32
    with pytest.raises(ValueError, match="unknown beta schedule 'linear'"):
        beta_schedule("linear", T)


def test_timestep_embedding_by_hand():
    """[sin(t w_0), sin(t w_1), cos(t w_0), cos(t w_1)] with w_k = 1000^(-k / half), half = dim / 2."""
    t = torch.tensor([0, 3])
    w = np.array([1.0, 1000.0 ** -0.5])
    angles = np.outer([0.0, 3.0], w)
    expected = np.concatenate([np.sin(angles), np.cos(angles)], axis=1)
    np.testing.assert_allclose(timestep_embedding(t, 4).numpy(), expected, rtol=1e-6, atol=1e-7)


def test_forward_noising_matches_closed_form_and_one_step_chain():
    torch.manual_seed(0)
    prior = DiffusionPrior(1, 1, num_diffusion_steps=10)
    a0 = torch.full((200_000, 1), 0.6)
    t = torch.full((200_000,), 7)
    noise = torch.randn_like(a0)
    a_t = prior.q_sample(a0, t, noise)
    abar = prior.alphas_cumprod[6]
    torch.testing.assert_close(a_t, abar.sqrt() * a0 + (1 - abar).sqrt() * noise)
    # the closed form has the distribution of seven one-step noisings a_t = sqrt(1-b_t) a_{t-1} + sqrt(b_t) eps
    chain = a0.clone()
    for b in prior.betas[:7]:
        chain = (1 - b).sqrt() * chain + b.sqrt() * torch.randn_like(chain)
    assert chain.mean().item() == pytest.approx(a_t.mean().item(), abs=0.01)
    assert chain.var().item() == pytest.approx(a_t.var().item(), rel=0.02)
    assert a_t.var().item() == pytest.approx(1 - abar.item(), rel=0.02)


def test_posterior_last_step_returns_clean_estimate():
    prior = DiffusionPrior(1, 1)
    assert prior.posterior_variance[0].item() == pytest.approx(0.0, abs=1e-7)
    assert prior.posterior_mean_coef1[0].item() == pytest.approx(1.0, abs=1e-5)
    assert prior.posterior_mean_coef2[0].item() == pytest.approx(0.0, abs=1e-6)


def bayes_posterior(betas: np.ndarray):
    """q(a_{t-1} | a_t, a_0) by Bayes' rule from q(a_{t-1} | a_0) = N(sqrt(abar_{t-1}) a_0, 1 - abar_{t-1}) and
    q(a_t | a_{t-1}) = N(sqrt(alpha_t) a_{t-1}, beta_t), in float64: abar, variance, coefficient of a_0 and
    of a_t per step, index t - 1 (at t = 1 the posterior is the point a_0)."""
    alphas = 1 - betas
    abar = np.cumprod(alphas)
    abar_prev = np.concatenate([[1.0], abar[:-1]])
    var, coef_a0, coef_at = np.zeros_like(betas), np.ones_like(betas), np.zeros_like(betas)
    for i in range(1, len(betas)):
        var[i] = 1 / (1 / (1 - abar_prev[i]) + alphas[i] / betas[i])  # precisions add
        coef_a0[i] = var[i] * np.sqrt(abar_prev[i]) / (1 - abar_prev[i])
        coef_at[i] = var[i] * np.sqrt(alphas[i]) / betas[i]
    return abar, var, coef_a0, coef_at


@pytest.mark.parametrize("schedule, steps", [("cosine", 20), ("vp", 10)])
def test_posterior_follows_bayes_rule_at_every_step(schedule, steps):
    prior = DiffusionPrior(1, 1, num_diffusion_steps=steps, schedule=schedule)
    abar, var, coef_a0, coef_at = bayes_posterior(prior.betas.double().numpy())
    np.testing.assert_allclose(prior.alphas_cumprod.double().numpy(), abar, rtol=1e-5)
    np.testing.assert_allclose(prior.posterior_variance.double().numpy(), var, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(prior.posterior_mean_coef1.double().numpy(), coef_a0, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(prior.posterior_mean_coef2.double().numpy(), coef_at, rtol=1e-4, atol=1e-6)


def test_sampler_with_the_exact_noise_predictor_gives_the_predicted_gaussian_in_env_units():
    """Scaled data a_0 ~ N(mu, s^2): the exact noise prediction E[eps | a_t] is linear in a_t, so each
    reverse step is linear-Gaussian and the samples' mean and variance follow a recursion written here
    from the DDPM equations (a0_hat, the Bayes posterior mean, noise of variance beta_tilde_t but none at
    the last step). Bounds [-2, 4]: env units are -2 + 3 (a + 1). Catches a wrong reverse-step coefficient,
    noise scale, timestep or unit conversion in `sample`."""
    torch.manual_seed(0)
    mu, s, T = 0.2, 0.1, 20
    prior = DiffusionPrior(1, 1, num_diffusion_steps=T)
    prior.set_normalization(np.zeros(1), np.ones(1), np.array([-2.0]), np.array([4.0]))

    def exact_eps(a_t, t, obs_n):
        abar_t = prior.alphas_cumprod[t - 1][:, None]
        return (1 - abar_t).sqrt() * (a_t - abar_t.sqrt() * mu) / (abar_t * s**2 + 1 - abar_t)

    prior.eps = exact_eps
    abar, var, coef_a0, coef_at = bayes_posterior(prior.betas.double().numpy())
    # guidance by Q(a) = q a (env units): every reverse mean but the last moves by g * beta_tilde_t * dQ/da_scaled,
    # dQ/da_scaled = 3 q, and the later steps carry each shift on with their slope
    g, q = 1.0, 1.0
    mean, variance, shift = 0.0, 1.0, 0.0  # a_T ~ N(0, 1)
    for i in range(T - 1, -1, -1):  # a0_hat = k a_t + c, then the posterior mean and noise
        precision_term = abar[i] * s**2 + 1 - abar[i]
        k = (1 - (1 - abar[i]) / precision_term) / np.sqrt(abar[i])
        c = (1 - abar[i]) * mu / precision_term
        slope = coef_a0[i] * k + coef_at[i]
        mean, variance = slope * mean + coef_a0[i] * c, slope**2 * variance + (var[i] if i > 0 else 0.0)
        shift = slope * shift + (g * var[i] * 3 * q if i > 0 else 0.0)
    with torch.no_grad():
        a = prior.sample(torch.zeros(1, 1), 200_000)[0, :, 0].double()
    assert a.mean().item() == pytest.approx(-2 + 3 * (mean + 1), abs=0.003)
    assert a.std().item() == pytest.approx(3 * np.sqrt(variance), rel=0.01)
    assert 3 * np.sqrt(variance) < 0.25  # not the data's 3 s = 0.3: few-step DDPM sampling narrows it, as predicted
    with torch.no_grad():
        guided = prior.sample(torch.zeros(1, 1), 200_000, guidance=lambda a: q * a[:, 0], guidance_scale=g)[0, :, 0]
    assert shift > 0.05
    assert guided.double().mean().item() == pytest.approx(-2 + 3 * (mean + shift + 1), abs=0.003)


def test_clipping_the_clean_estimate_keeps_a_zero_noise_predictor_off_the_bounds():
    """With eps_w = 0, a0_hat = a_t / sqrt(abar_t) is huge early in the reverse chain: clipped to [-1, 1]
    at every step, about 28% of the samples end at a bound; unclipped, 99.8% would."""
    torch.manual_seed(0)
    prior = DiffusionPrior(1, 1)
    prior.eps = lambda a_t, t, obs_n: torch.zeros_like(a_t)
    with torch.no_grad():
        a = prior.sample(torch.zeros(1, 1), 20_000)[0, :, 0]
    assert (a.abs() > 0.999).float().mean().item() < 0.5


def test_action_scaling_and_observation_normalisation_by_hand():
    fresh = GaussianPrior(2, 2, hidden_dim=8)  # before set_normalization: identity statistics, bounds [-1, 1]
    x = torch.tensor([[0.3, -20.0], [-0.7, 0.9]])
    torch.testing.assert_close(fresh.normalize_obs(x), x.clamp(-10, 10))
    torch.testing.assert_close(fresh.scale_action(x), x)
    torch.testing.assert_close(fresh.unscale_action(x), x)
    prior = DiffusionPrior(2, 2)
    prior.set_normalization(np.array([1.0, -1.0]), np.array([2.0, 0.5]), np.array([-2.0, 0.0]), np.array([4.0, 1.0]))
    env = torch.tensor([[-2.0, 0.0], [1.0, 0.75], [4.0, 1.0]])
    scaled = torch.tensor([[-1.0, -1.0], [0.0, 0.5], [1.0, 1.0]])
    torch.testing.assert_close(prior.scale_action(env), scaled)
    torch.testing.assert_close(prior.unscale_action(scaled), env)
    obs = torch.tensor([[3.0, -0.5], [1.0, 100.0], [-100.0, -1.0]])
    torch.testing.assert_close(prior.normalize_obs(obs), torch.tensor([[1.0, 1.0], [0.0, 10.0], [-10.0, 0.0]]))


def test_gaussian_prior_loss_is_the_normal_negative_log_likelihood_of_the_scaled_actions():
    torch.manual_seed(0)
    prior = GaussianPrior(2, 2, hidden_dim=16)
    prior.set_normalization(np.array([0.5, 0.0]), np.array([2.0, 1.0]), np.array([-2.0, 0.0]), np.array([4.0, 1.0]))
    obs = torch.randn(5, 2)
    actions = torch.tensor([[1.0, 0.2], [-2.0, 1.0], [3.0, 0.9], [5.0, 0.5], [0.0, -0.3]])  # two outside the bounds
    mean, log_std = prior.mean_log_std(prior.normalize_obs(obs))
    a = prior.scale_action(actions).clamp(-1, 1)
    nll = -torch.distributions.Normal(mean, log_std.exp()).log_prob(a).mean(-1)  # [5]
    torch.testing.assert_close(prior.loss(obs, actions), nll.mean())
    w = torch.tensor([1.0, 0.0, 2.0, 1.0, 0.5])
    torch.testing.assert_close(prior.loss(obs, actions, w), (w * nll).sum() / w.sum())


def test_gaussian_guidance_moves_the_mean_by_scale_times_variance_times_the_gradient():
    """Q(a) = c . a in env units: its gradient in scaled units is c * (high - low) / 2, and each sample
    moves by guidance_scale * sigma^2 * that gradient (the same noise draws with and without)."""
    prior = GaussianPrior(1, 2, hidden_dim=16)
    prior.set_normalization(np.zeros(1), np.ones(1), np.array([-2.0, 0.0]), np.array([4.0, 1.0]))
    with torch.no_grad():
        prior.out.weight.zero_()
        prior.out.bias.copy_(torch.tensor([0.1, -0.2, np.log(0.05), np.log(0.1)]))  # mean (0.1, -0.2), std (0.05, 0.1)
    c = torch.tensor([1.0, -2.0])
    obs = torch.zeros(3, 1)
    torch.manual_seed(3)
    plain = prior.sample(obs, 4)
    torch.manual_seed(3)
    guided = prior.sample(obs, 4, guidance=lambda a: (a * c).sum(-1), guidance_scale=2.0)
    shift_scaled = 2.0 * torch.tensor([0.05**2, 0.1**2]) * c * torch.tensor([3.0, 0.5])
    torch.testing.assert_close(prior.scale_action(guided) - prior.scale_action(plain), shift_scaled.expand(3, 4, 2),
                               atol=1e-5, rtol=1e-4)
    torch.manual_seed(3)
    torch.testing.assert_close(prior.sample(obs, 4, guidance=lambda a: (a * c).sum(-1), guidance_scale=0.0), plain)


def test_ddpm_loss_by_hand_with_the_same_random_draws():
    """||eps - eps_w(sqrt(abar_t) a0 + sqrt(1 - abar_t) eps, t, s)||^2 averaged over action dims, then over
    the batch; t uniform in 1..T drawn before eps; a0 the scaled action clipped to [-1, 1]."""
    torch.manual_seed(0)
    prior = DiffusionPrior(2, 2, num_diffusion_steps=5, hidden_dim=16)
    prior.set_normalization(np.array([1.0, 0.0]), np.array([2.0, 1.0]), np.array([-2.0, 0.0]), np.array([4.0, 1.0]))
    obs, actions = torch.randn(64, 2), torch.tensor([[1.0, 0.5], [5.0, -0.1]]).repeat(32, 1)  # half outside the bounds
    torch.manual_seed(7)
    loss = prior.loss(obs, actions)
    torch.manual_seed(7)
    t = torch.randint(1, 6, (64,))
    noise = torch.randn(64, 2)
    assert t.min() == 1 and t.max() == 5  # every step drawn
    a0 = torch.tensor([[0.0, 0.0], [1.0, -1.0]]).repeat(32, 1)
    abar = prior.alphas_cumprod[t - 1][:, None]
    with torch.no_grad():
        pred = prior.eps(abar.sqrt() * a0 + (1 - abar).sqrt() * noise, t, prior.normalize_obs(obs))
    torch.testing.assert_close(loss.detach(), ((noise - pred) ** 2).mean())


def test_noise_network_reads_action_time_embedding_and_state_in_that_order():
    torch.manual_seed(0)
    prior = DiffusionPrior(3, 2, hidden_dim=8, num_hidden_layers=2, time_dim=4)
    a_t, t, obs_n = torch.randn(5, 2), torch.tensor([1, 2, 3, 4, 5]), torch.randn(5, 3)
    x = torch.cat([a_t, timestep_embedding(t, 4), obs_n], dim=-1)
    for layer in prior.hidden:
        x = torch.nn.functional.mish(layer(x))
    torch.testing.assert_close(prior.eps(a_t, t, obs_n), prior.out(x))
    assert [layer.in_features for layer in prior.hidden] == [9, 8] and prior.out.out_features == 2


def test_the_classes_defaults_are_the_pretraining_flags_defaults():
    """Code that builds a prior without pretrain_prior.py gets the network the CLI trains."""
    args = pretrain_prior.Args(dataset="unused.npz")
    ddpm = DiffusionPrior(3, 2).config
    assert (ddpm["num_diffusion_steps"], ddpm["schedule"], ddpm["hidden_dim"], ddpm["num_hidden_layers"]) == (
        args.num_diffusion_steps, args.schedule, args.hidden_dim, args.num_hidden_layers)
    assert ddpm["time_dim"] == 16 and ddpm["kind"] == "diffusion" and (ddpm["obs_dim"], ddpm["act_dim"]) == (3, 2)
    gauss = GaussianPrior(3, 2).config
    assert (gauss["hidden_dim"], gauss["num_hidden_layers"], gauss["kind"]) == (args.hidden_dim, args.num_hidden_layers, "gaussian")


def test_gaussian_log_std_is_clamped_to_its_range():
    prior = GaussianPrior(1, 2, hidden_dim=8)
    with torch.no_grad():
        prior.out.weight.zero_()
        prior.out.bias.copy_(torch.tensor([0.0, 0.0, 3.0, -7.0]))
    mean, log_std = prior.mean_log_std(torch.zeros(4, 1))
    torch.testing.assert_close(log_std, torch.tensor([[1.0, -5.0]]).expand(4, 2))


@pytest.mark.parametrize("kind", ["diffusion", "gaussian"])
def test_guidance_acts_only_with_both_a_critic_and_a_positive_scale(kind):
    torch.manual_seed(0)
    prior = DiffusionPrior(2, 1, num_diffusion_steps=5, hidden_dim=8) if kind == "diffusion" else GaussianPrior(2, 1, hidden_dim=8)
    obs = torch.randn(3, 2)
    critic = lambda a: 5.0 * a[:, 0]  # noqa: E731

    def draw(**kwargs):
        torch.manual_seed(1)
        with torch.no_grad():
            return prior.sample(obs, 4, **kwargs)

    plain = draw()
    torch.testing.assert_close(draw(guidance=critic), plain)  # no scale given: no guidance
    torch.testing.assert_close(draw(guidance_scale=0.5), plain)  # no critic given: no guidance, no error
    assert draw(guidance=critic, guidance_scale=0.5).mean() > plain.mean() + 0.1  # a small scale acts, up the critic


def test_gaussian_guidance_takes_the_gradient_at_the_mean_clipped_to_the_bounds():
    """Q(a) = -|a - 1|^2 in env units, bounds [-2, 4], means +1.5 and -1.5 in scaled units (outside): the
    gradient is taken at the clipped means (env 4 and -2): -2 (4 - 1) * 3 = -18 and -2 (-2 - 1) * 3 = +18
    per scaled unit, so with sigma 0.2 and scale 1 the means move to +0.78 and -0.78 (unclipped: +-0.42)."""
    prior = GaussianPrior(1, 2, hidden_dim=8)
    prior.set_normalization(np.zeros(1), np.ones(1), np.array([-2.0, -2.0]), np.array([4.0, 4.0]))
    with torch.no_grad():
        prior.out.weight.zero_()
        prior.out.bias.copy_(torch.tensor([1.5, -1.5, np.log(0.2), np.log(0.2)]))
    obs = torch.zeros(2, 1)
    torch.manual_seed(3)
    noise = 0.2 * torch.randn(2 * 5, 2)
    torch.manual_seed(3)
    guided = prior.sample(obs, 5, guidance=lambda a: -((a - 1.0) ** 2).sum(-1), guidance_scale=1.0)
    expected = (torch.tensor([1.5 - 0.2**2 * 18.0, -1.5 + 0.2**2 * 18.0]) + noise).clamp(-1, 1)
    assert (expected.abs() < 1).float().mean() > 0.5
    torch.testing.assert_close(prior.scale_action(guided).reshape(-1, 2), expected, atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------- the sampler recovers a multimodal p(a | s)
def test_ddpm_recovers_state_dependent_bimodal_distribution():
    """For state s, a = +0.5 + 0.2 s (prob 0.7) or -0.5 + 0.2 s (prob 0.3), plus N(0, 0.05^2).
    A Gaussian fit would put most of its mass between the modes; the DDPM must not."""
    torch.manual_seed(0)
    s, actions = bimodal_toy()
    prior = DiffusionPrior(1, 1)  # default T, schedule and network
    fit(prior, s, actions, 3000)
    with torch.no_grad():
        samples = prior.sample(torch.tensor([[-0.8], [0.0], [0.7]]), 2000)
    assert samples.shape == (3, 2000, 1)
    for i, state in enumerate((-0.8, 0.0, 0.7)):
        a = samples[i, :, 0]
        near_upper = ((a - (0.5 + 0.2 * state)).abs() < 0.2).float().mean().item()
        near_lower = ((a - (-0.5 + 0.2 * state)).abs() < 0.2).float().mean().item()
        assert 0.6 < near_upper < 0.8, (state, near_upper)
        assert 0.2 < near_lower < 0.4, (state, near_lower)
        assert 1 - near_upper - near_lower < 0.06, (state, near_upper, near_lower)


def test_weighted_loss_is_weighted_mean_of_per_sample_losses():
    prior = DiffusionPrior(2, 1, num_diffusion_steps=5)
    obs, act = torch.randn(4, 2), torch.rand(4, 1) * 2 - 1

    def loss_with(weights):
        torch.manual_seed(1)  # the same timesteps and noise in every call
        return prior.loss(obs, act, weights)

    per_sample = torch.stack([loss_with(torch.eye(4)[i]) for i in range(4)])
    w = torch.tensor([1.0, 2.0, 0.0, 1.0])
    torch.testing.assert_close(loss_with(w), (w * per_sample).sum() / w.sum())
    torch.testing.assert_close(loss_with(None), per_sample.mean())
    torch.testing.assert_close(loss_with(3 * w), loss_with(w))


# ---------------------------------------------------------------- training on real data, checkpoints
def test_loss_falls_on_real_pendulum_data_and_training_is_deterministic(pendulum_dataset, tmp_path):
    path_a = pretrain_prior.main(prior_args(pendulum_dataset, tmp_path, output=str(tmp_path / "a.pt")))
    path_b = pretrain_prior.main(prior_args(pendulum_dataset, tmp_path, output=str(tmp_path / "b.pt")))
    trained, again = load_prior(path_a), load_prior(path_b)
    for key, value in trained.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key

    data = np.load(pendulum_dataset)
    obs, act = torch.tensor(data["observations"]), torch.tensor(data["actions"])
    fresh = DiffusionPrior(3, 1, num_diffusion_steps=5, hidden_dim=32)
    fresh.load_state_dict({k: v for k, v in trained.state_dict().items()}, strict=True)
    torch.manual_seed(1)
    untrained = DiffusionPrior(3, 1, num_diffusion_steps=5, hidden_dim=32)
    untrained.set_normalization(trained.obs_mean, trained.obs_std, trained.act_low, trained.act_high)
    assert heldout_loss(trained, obs, act) < 0.8 * heldout_loss(untrained, obs, act)

    prov = trained.provenance
    assert prov["transitions"] == 1024 and prov["dataset"] == "pendulum.npz"  # a file name, not a machine path
    assert prov["dataset_sha256"] == hashlib.sha256(open(pendulum_dataset, "rb").read()).hexdigest()
    assert set(prov["versions"]) == {"torch", "gymnasium", "mujoco"}
    assert prov["mean_episode_return"] == pytest.approx(mean_episode_return(dict(data)))
    assert trained.env_id == "Pendulum-v1" and prov["heldout_loss"] > 0


def test_heldout_loss_is_repeatable_and_leaves_the_training_stream_alone():
    torch.manual_seed(3)
    prior = DiffusionPrior(3, 1, num_diffusion_steps=5, hidden_dim=32)
    obs, act = torch.randn(64, 3), torch.rand(64, 1) * 2 - 1
    torch.manual_seed(7)
    expected = torch.rand(5)
    torch.manual_seed(7)
    first = heldout_loss(prior, obs, act)
    assert torch.equal(torch.rand(5), expected)  # the global stream did not move
    assert heldout_loss(prior, obs, act) == first  # fixed noise and timesteps
    assert heldout_loss(prior, obs, act, seed=1) != first


def test_checkpoint_round_trip_gives_identical_samples(tmp_path):
    torch.manual_seed(0)
    prior = DiffusionPrior(3, 2, num_diffusion_steps=5, hidden_dim=16)
    prior.set_normalization(np.array([0.1, 0.2, 0.3]), np.array([1.0, 2.0, 3.0]), np.array([-2.0, -1.0]),
                            np.array([2.0, 1.0]))
    path = str(tmp_path / "sub" / "p.pt")
    save_prior(path, prior, "Pendulum-v1", {"dataset": "x.npz", "transitions": 5, "mean_episode_return": None})
    loaded = load_prior(path)
    obs = torch.randn(4, 3)
    torch.manual_seed(123)
    before = prior.sample(obs, 7)
    torch.manual_seed(123)
    after = loaded.sample(obs, 7)
    assert before.shape == (4, 7, 2)
    assert torch.equal(before, after)
    assert torch.all(after[..., 0].abs() <= 2.0) and torch.all(after[..., 1].abs() <= 1.0)
    assert loaded.config == prior.config and loaded.provenance["transitions"] == 5
    assert not [p for p in os.listdir(tmp_path / "sub") if p.endswith(".tmp")]


def test_guidance_shifts_each_reverse_mean_by_the_critic_gradient_at_the_clean_estimate():
    """With Q(a) = -|a - c|^2 / 2, whose gradient depends on where it is taken, each reverse mean but the last
    moves by scale * beta_tilde_t * (c - a0_hat): the gradient at the clean estimate a0_hat, not at a_t.
    The reverse process by hand with the same draws (actions in [-1, 1], so env units are scaled units)."""
    torch.manual_seed(0)
    prior = DiffusionPrior(2, 2, num_diffusion_steps=3, hidden_dim=8)
    obs, c, scale = torch.randn(4, 2), torch.tensor([0.3, -0.2]), 0.7
    torch.manual_seed(1)
    got = prior.sample(obs, 5, guidance=lambda a: -0.5 * ((a - c) ** 2).sum(-1), guidance_scale=scale)
    torch.manual_seed(1)
    obs_n = prior.normalize_obs(obs).repeat_interleave(5, dim=0)
    a_t = torch.randn(20, 2)
    with torch.no_grad():
        for t in (3, 2, 1):
            abar = prior.alphas_cumprod[t - 1]
            eps = prior.eps(a_t, torch.full((20,), t), obs_n)
            a0_hat = ((a_t - (1 - abar).sqrt() * eps) / abar.sqrt()).clamp(-1.0, 1.0)
            mean = prior.posterior_mean_coef1[t - 1] * a0_hat + prior.posterior_mean_coef2[t - 1] * a_t
            variance = prior.posterior_variance[t - 1]
            if t > 1:
                mean = mean + scale * variance * (c - a0_hat)
                a_t = mean + variance.sqrt() * torch.randn_like(a_t)
            else:
                a_t = mean
    torch.testing.assert_close(got, a_t.clamp(-1.0, 1.0).reshape(4, 5, 2))


def test_load_prior_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_prior(str(tmp_path / "missing.pt"))
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"this is not a checkpoint")
    with pytest.raises(ValueError, match="could not be read"):
        load_prior(str(corrupt))
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(ValueError, match="is not a PPO-DAP prior"):
        load_prior(str(other))
    # the right format, but contents that make no prior: a missing key, an unknown kind, weights of another shape
    prior = GaussianPrior(3, 2, hidden_dim=8, num_hidden_layers=1)
    good = {"format": pretrain_prior.PRIOR_FORMAT, "config": prior.config, "state_dict": prior.state_dict(),
            "env_id": "Pendulum-v1", "provenance": {}}
    broken = [{k: v for k, v in good.items() if k != "env_id"}, {**good, "config": {**prior.config, "kind": "vae"}},
              {**good, "config": {**prior.config, "hidden_dim": 16}}]
    for i, state in enumerate(broken):
        torch.save(state, tmp_path / f"broken{i}.pt")
        with pytest.raises(ValueError, match=f"broken{i}.pt does not hold a complete prior"):
            load_prior(str(tmp_path / f"broken{i}.pt"))
    torch.save(good, tmp_path / "good.pt")
    assert isinstance(load_prior(str(tmp_path / "good.pt")), GaussianPrior)


def test_mean_episode_return_counts_complete_episodes():
    data = {"rewards": np.array([1.0, 2.0, 3.0, 4.0, 5.0]), "terminations": np.array([0, 1, 0, 0, 0]),
            "truncations": np.array([0, 0, 0, 0, 1])}
    assert mean_episode_return(data) == pytest.approx((3.0 + 12.0) / 2)
    assert mean_episode_return({"rewards": np.ones(3)}) is None
    # steps after the last episode's end (a log cut mid-episode) belong to no complete episode
    cut = {k: np.append(v, 0) for k, v in data.items()}
    cut["rewards"][-1] = 100.0
    assert mean_episode_return(cut) == pytest.approx((3.0 + 12.0) / 2)
    three = {"rewards": np.arange(1.0, 10.0), "terminations": np.array([0, 1, 0, 0, 0, 0, 0, 1, 0]),
             "truncations": np.array([0, 0, 0, 0, 1, 0, 0, 0, 0])}  # episodes 1-2, 3-5, 6-8; 9 is cut off
    assert mean_episode_return(three) == pytest.approx((3.0 + 12.0 + 21.0) / 3)


def test_last_episodes_keeps_whole_episodes_that_end_in_the_last_steps():
    # episodes: rows 0-2, 3-6, 7-9 (the log's end); the last 5 rows start inside the second episode
    ends = np.zeros(10, bool)
    ends[[2, 6, 9]] = True
    data = {"observations": np.arange(10.0)[:, None], "actions": np.arange(10.0)[:, None], "rewards": np.arange(10.0),
            "terminations": ends & (np.arange(10) < 9), "truncations": np.arange(10) == 9, "env_id": np.array("E")}
    part = last_episodes(data, 5)
    assert part["observations"][:, 0].tolist() == [3, 4, 5, 6, 7, 8, 9]  # the second episode kept whole
    assert part["rewards"].tolist() == list(range(3, 10)) and part["env_id"] == "E"
    assert last_episodes(data, 3)["rewards"].tolist() == [7, 8, 9]  # the boundary on an episode's end
    assert last_episodes(data, 8)["rewards"].tolist() == list(range(10))  # no end before the cut: all


def test_last_steps_trains_on_the_log_tail_and_records_it(tmp_path, pendulum_dataset):
    full = dict(np.load(pendulum_dataset))
    out = pretrain_prior.main(prior_args(pendulum_dataset, tmp_path, num_updates=5, log_every=5, last_steps=300))
    provenance = load_prior(out).provenance
    tail = last_episodes(full, 300)  # episodes end at rows 199, 399, ..., 999 and the log's end 1023: rows 600-1023
    assert provenance["transitions"] == len(tail["rewards"]) == 424 and provenance["last_steps"] == 300
    assert provenance["mean_episode_return"] == pytest.approx(mean_episode_return(tail))
    assert provenance["dataset_sha256"] == pretrain_prior.sha256(pendulum_dataset)  # the whole log's file
    cut = write_npz(tmp_path / "tail.npz", **tail)
    same = pretrain_prior.main(prior_args(cut, tmp_path, num_updates=5, log_every=5, output=str(tmp_path / "tail.pt")))
    for a, b in zip(load_prior(out).state_dict().values(), load_prior(same).state_dict().values()):
        assert torch.equal(a, b)  # the flag trains exactly as on a file holding the tail


@pytest.mark.parametrize("last_steps, message", [(1024, "--last-steps 1024 is not shorter than dataset"),
                                                 (-1, "--last-steps must be zero or positive")])
def test_last_steps_beyond_the_log_is_refused(tmp_path, pendulum_dataset, last_steps, message):
    with pytest.raises(SystemExit, match=message):
        pretrain_prior.main(prior_args(pendulum_dataset, tmp_path, last_steps=last_steps))
    one_short = pretrain_prior.main(prior_args(pendulum_dataset, tmp_path, num_updates=5, log_every=5, last_steps=1023,
                                               output=str(tmp_path / "one_short.pt")))
    assert load_prior(one_short).provenance["transitions"] == 1024  # the cut falls in the first episode: kept whole
    flags = {k: v for k, v in good_arrays().items() if k not in ("terminations", "truncations")}
    with pytest.raises(SystemExit, match="--last-steps needs episode flags"):
        pretrain_prior.main(prior_args(write_npz(tmp_path / "flat.npz", **flags), tmp_path, last_steps=10))


# ---------------------------------------------------------------- bad datasets
def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def good_arrays(n=50):
    rng = np.random.default_rng(0)
    return dict(observations=rng.normal(size=(n, 3)).astype(np.float32),
                actions=rng.uniform(-2, 2, size=(n, 1)).astype(np.float32),
                rewards=np.zeros(n, np.float32), terminations=np.zeros(n, bool), truncations=np.zeros(n, bool))


def bad_datasets(tmp_path):
    cases = {}
    a = good_arrays(); del a["actions"]
    cases["missing"] = (write_npz(tmp_path / "missing.npz", **a), "lacks the key\\(s\\) actions")
    a = good_arrays(); a["actions"] = a["actions"][:40]
    cases["lengths"] = (write_npz(tmp_path / "lengths.npz", **a), "has 40 actions but 50 observations")
    a = good_arrays(); a["rewards"] = a["rewards"][:10]
    cases["reward_lengths"] = (write_npz(tmp_path / "rl.npz", **a), "has 10 rewards but 50 observations")
    a = good_arrays(); a["observations"] = np.zeros((50, 17), np.float32)
    cases["obs_dim"] = (write_npz(tmp_path / "dims.npz", **a), "observations of shape \\(50, 17\\), the env needs \\[N, 3\\]")
    a = good_arrays(); a["actions"] = np.zeros((50, 6), np.float32)
    cases["act_dim"] = (write_npz(tmp_path / "adims.npz", **a), "actions of shape \\(50, 6\\), the env needs \\[N, 1\\]")
    a = good_arrays(); a["observations"][3, 1] = np.nan
    cases["nan"] = (write_npz(tmp_path / "nan.npz", **a), "NaN or infinite values in observations")
    a = good_arrays(); a["actions"][5, 0] = np.inf
    cases["inf"] = (write_npz(tmp_path / "inf.npz", **a), "NaN or infinite values in actions")
    a = good_arrays(); a["actions"][7, 0] = 2.5
    cases["bounds"] = (write_npz(tmp_path / "bounds.npz", **a), "actions up to 0.5 outside the env's bounds")
    a = {k: v[:0] for k, v in good_arrays().items()}
    cases["empty"] = (write_npz(tmp_path / "empty.npz", **a), "is empty")
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 definitely not a zip")
    cases["corrupt"] = (str(corrupt), "is not a readable .npz file")
    cases["absent"] = (str(tmp_path / "absent.npz"), "does not exist")
    return cases


@pytest.mark.parametrize("case", ["missing", "lengths", "reward_lengths", "obs_dim", "act_dim", "nan", "inf",
                                  "bounds", "empty", "corrupt", "absent"])
def test_bad_dataset_stops_with_one_sentence_naming_the_file(tmp_path, case):
    path, message = bad_datasets(tmp_path)[case]
    output = tmp_path / "prior.pt"
    output.write_bytes(b"an earlier prior")
    with pytest.raises(SystemExit, match=message) as err:
        pretrain_prior.main(prior_args(path, tmp_path, output=str(output), overwrite=True))
    assert path in str(err.value) and str(err.value).count("\n") == 0
    assert output.read_bytes() == b"an earlier prior"  # nothing already saved is lost


def test_good_small_dataset_trains(tmp_path):
    path = write_npz(tmp_path / "ok.npz", **good_arrays())
    out = pretrain_prior.main(prior_args(path, tmp_path, num_updates=5, log_every=5))
    assert load_prior(out).provenance["transitions"] == 50


# ---------------------------------------------------------------- the Gaussian-prior ablation
def test_gaussian_prior_fits_a_state_dependent_unimodal_distribution():
    torch.manual_seed(0)
    s = torch.rand(10_000, 1) * 2 - 1
    actions = 0.3 + 0.4 * s + 0.1 * torch.randn(10_000, 1)
    prior = GaussianPrior(1, 1, hidden_dim=64)
    fit(prior, s, actions, 1500)
    with torch.no_grad():
        samples = prior.sample(torch.tensor([[-0.8], [0.5]]), 4000)
    for i, state in enumerate((-0.8, 0.5)):
        assert samples[i].mean().item() == pytest.approx(0.3 + 0.4 * state, abs=0.03)
        assert samples[i].std().item() == pytest.approx(0.1, abs=0.02)


def test_gaussian_prior_cannot_put_its_samples_on_both_modes():
    """The bimodal toy of the DDPM test above: the Gaussian puts much of its mass between the modes."""
    torch.manual_seed(0)
    s, actions = bimodal_toy()
    prior = GaussianPrior(1, 1, hidden_dim=64)
    fit(prior, s, actions, 1500)
    with torch.no_grad():
        a = prior.sample(torch.tensor([[0.0]]), 4000)[0, :, 0]
    near_modes = ((a - 0.5).abs() < 0.2).float().mean().item() + ((a + 0.5).abs() < 0.2).float().mean().item()
    assert 1 - near_modes > 0.25  # the DDPM leaves under 6% between the modes
    assert a.mean().item() == pytest.approx(0.7 * 0.5 - 0.3 * 0.5, abs=0.05)  # moment-matching: mean 0.2


def test_gaussian_prior_round_trips_through_the_checkpoint_and_the_cli(tmp_path, pendulum_dataset):
    path = pretrain_prior.main(prior_args(pendulum_dataset, tmp_path, prior_kind="gaussian",
                                          output=str(tmp_path / "g.pt")))
    prior = load_prior(path)
    assert isinstance(prior, GaussianPrior) and prior.config["kind"] == "gaussian"
    with torch.no_grad():
        a = prior.sample(torch.zeros(5, 3), 7)
    assert a.shape == (5, 7, 1) and (a.abs() <= 2.0).all()
    assert len(prior.hidden) == 3  # LoRA / Adapters attach as on the DDPM


# ---------------------------------------------------------------- the retrieval (knn) ablation
def knn_prior(keys, values, low=-2.0, high=2.0):
    """A knn prior over hand-made raw states [M, d] and actions [M, a], identity normalisation."""
    prior = KNNPrior(keys.shape[1], values.shape[1], size=len(keys))
    prior.set_normalization(torch.zeros(keys.shape[1]), torch.ones(keys.shape[1]),
                            np.full(values.shape[1], low), np.full(values.shape[1], high))
    prior.store(keys, values)
    return prior


def test_knn_proposes_the_actions_of_the_nearest_states_nearest_first():
    keys = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0], [5.0, 5.0]])
    values = torch.tensor([[0.1], [0.2], [0.3], [0.4]])
    prior = knn_prior(keys, values)
    a = prior.sample(torch.tensor([[0.9, 0.1], [0.1, 2.5]]), 3)
    # state 1: distances 0.91, 0.14, 3.0, 6.4 -> keys 1, 0, 2; state 2: 2.5, 2.7, 0.51, 5.5 -> keys 2, 0, 1
    torch.testing.assert_close(a[:, :, 0], torch.tensor([[0.2, 0.1, 0.3], [0.3, 0.1, 0.2]]))
    # distances are measured between normalised states: (0.9, 1.9) is nearest to key 2 in raw units but,
    # with the second coordinate's std at 10, nearest to key 1
    query = torch.tensor([[0.9, 1.9]])
    torch.testing.assert_close(prior.sample(query, 1)[0, 0], torch.tensor([0.3]))
    prior.obs_std.copy_(torch.tensor([1.0, 10.0]))
    prior.store(keys, values)
    torch.testing.assert_close(prior.sample(query, 1)[0, 0], torch.tensor([0.2]))
    # the 1-NN loss: squared error in scaled units ([-2, 2] -> [-1, 1]) of the nearest state's action
    loss = prior.loss(torch.tensor([[0.0, 0.1], [5.0, 5.0]]), torch.tensor([[0.5], [0.4]]))
    assert loss.item() == pytest.approx(((0.5 - 0.1) / 2) ** 2 / 2)
    with pytest.raises(ValueError, match="guidance does not apply"):
        prior.sample(keys, 2, guidance=lambda a: a.sum(-1), guidance_scale=1.0)


def test_knn_bounds_weights_and_guidance_arguments():
    keys = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    # actions logged a little outside the bounds [-2, 2] are stored, and proposed, at the bounds
    prior = knn_prior(keys, torch.tensor([[3.0], [-2.6]]))
    torch.testing.assert_close(prior.sample(keys, 1)[:, 0, 0], torch.tensor([2.0, -2.0]))
    # the held-out loss: per-sample squared error, weighted like the DDPM's; a held-out action outside
    # the bounds counts as the bound
    prior = knn_prior(keys, torch.tensor([[1.0], [-1.0]]))
    obs, actions = torch.tensor([[0.0, 0.1], [1.0, 0.1]]), torch.tensor([[1.5], [-1.0]])
    assert prior.loss(obs, actions).item() == pytest.approx(((1.5 - 1.0) / 2) ** 2 / 2)
    assert prior.loss(obs, actions, torch.tensor([0.0, 2.0])).item() == pytest.approx(0.0)
    assert prior.loss(obs, actions, torch.tensor([2.0, 0.0])).item() == pytest.approx(((1.5 - 1.0) / 2) ** 2)
    assert prior.loss(obs[:1], torch.tensor([[5.0]])).item() == prior.loss(obs[:1], torch.tensor([[2.0]])).item()
    assert prior.loss(obs[:1], torch.tensor([[-5.0]])).item() == prior.loss(obs[:1], torch.tensor([[-2.0]])).item()
    # a guidance function alone does nothing (the scale defaults to 0); with a scale it is refused
    torch.testing.assert_close(prior.sample(keys, 1, guidance=lambda a: a.sum(-1)), prior.sample(keys, 1))
    with pytest.raises(ValueError, match="^a knn prior retrieves stored actions; critic guidance does not apply to it$"):
        prior.sample(keys, 1, guidance=lambda a: a.sum(-1), guidance_scale=0.5)


def test_knn_prior_puts_its_proposals_on_both_modes():
    """The bimodal toy of the DDPM and Gaussian tests: retrieval, like the DDPM, keeps both modes."""
    s, actions = bimodal_toy()
    a = knn_prior(s, actions, low=-1.0, high=1.0).sample(torch.tensor([[0.0]]), 400)[0, :, 0]
    near_upper, near_lower = ((a - 0.5).abs() < 0.2).float().mean().item(), ((a + 0.5).abs() < 0.2).float().mean().item()
    assert near_upper + near_lower > 0.95
    assert near_upper == pytest.approx(0.7, abs=0.08)


def test_knn_prior_from_the_cli_stores_a_subsample_and_round_trips(tmp_path, pendulum_dataset, monkeypatch):
    monkeypatch.setattr(pretrain_prior, "PRIORS_DIR", str(tmp_path / "priors"))  # the default folder, here
    path = pretrain_prior.main(prior_args(pendulum_dataset, tmp_path, prior_kind="knn", output=None, knn_size=300))
    assert path == str(tmp_path / "priors" / "Pendulum-v1-knn.pt")
    prior = load_prior(path)
    assert isinstance(prior, KNNPrior) and prior.keys.shape == (300, 3) and len(prior.hidden) == 0
    assert prior.provenance["num_updates"] == 0
    data = np.load(pendulum_dataset)
    stored = prior.unscale_action(prior.values)  # the stored actions are logged ones
    logged = torch.tensor(data["actions"])
    assert all((logged - a).abs().max(1).values.min() < 1e-5 for a in stored[:20])
    obs = torch.tensor(data["observations"][:5])
    assert torch.equal(prior.sample(obs, 4), load_prior(path).sample(obs, 4))  # deterministic retrieval
    # more pairs asked for than the training split holds: all of them are stored
    big = pretrain_prior.main(prior_args(pendulum_dataset, tmp_path, prior_kind="knn", output=str(tmp_path / "big.pt")))
    assert load_prior(big).keys.shape[0] == len(data["actions"]) - round(0.05 * len(data["actions"]))


# ---------------------------------------------------------------- the shipped priors
SHIPPED_PRIORS = sorted(glob.glob(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "priors", "*.pt")))


@pytest.mark.parametrize("path", SHIPPED_PRIORS, ids=os.path.basename)
def test_every_shipped_prior_loads_fits_its_env_and_samples_inside_the_bounds(path):
    prior = load_prior(path)
    kind = prior.config["kind"]  # from the checkpoint: the file name of a user's own prior (Hopper-v5.pt) need not say
    assert kind in pretrain_prior.PRIOR_KINDS and os.path.basename(path).startswith(prior.env_id)
    obs_space, act_space = pretrain_prior.env_spaces(prior.env_id)
    assert (prior.obs_dim, prior.act_dim) == (obs_space.shape[0], act_space.shape[0])
    assert prior.provenance["transitions"] > 0 and prior.provenance["mean_episode_return"] is not None
    torch.manual_seed(0)
    obs = torch.tensor(np.stack([obs_space.sample() for _ in range(16)]), dtype=torch.float32)
    with torch.no_grad():
        actions = prior.sample(obs, 4)
    assert actions.shape == (16, 4, prior.act_dim) and torch.isfinite(actions).all()
    low, high = torch.tensor(act_space.low), torch.tensor(act_space.high)
    assert ((actions >= low - 1e-6) & (actions <= high + 1e-6)).all()
