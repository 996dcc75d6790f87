"""The mixture-density prior (`pretrain_prior.py --prior-kind gmm`): its likelihood by hand, its M = 1
case, the bimodal p(a | s) it recovers where a Gaussian cannot, guidance, and the checkpoint."""

import math

import numpy as np
import pytest
import torch

import pretrain_prior
from helpers import bimodal_toy, fit, prior_args
from pretrain_prior import GaussianPrior, GMMPrior, load_prior


def test_nll_matches_a_hand_computation():
    """Two components, two action dims, bounds [0, 4] (scaled a = a / 2 - 1), the output layer set by hand
    so that every state gets the same mixture: -log sum_m w_m prod_d N(a_d; mu_md, s_md) / act_dim."""
    prior = GMMPrior(3, 2, num_components=2, hidden_dim=8)
    prior.set_normalization(np.zeros(3), np.ones(3), np.zeros(2), np.full(2, 4.0))
    logits, means, log_stds = [0.3, -0.4], [[0.5, -0.2], [-0.6, 0.1]], [[-1.0, -0.5], [-0.3, -1.2]]
    with torch.no_grad():
        prior.out.weight.zero_()
        prior.out.bias.copy_(torch.tensor(logits + means[0] + log_stds[0] + means[1] + log_stds[1]))
    actions = torch.tensor([[1.2, 1.9], [3.1, 0.4], [2.0, 2.0]])
    obs = torch.randn(3, 3)
    w = np.exp(logits) / np.exp(logits).sum()
    expected = []
    for a_env in actions.numpy():
        a = a_env / 2.0 - 1.0
        density = sum(w[m] * np.prod([math.exp(-0.5 * ((a[d] - means[m][d]) / math.exp(log_stds[m][d])) ** 2)
                                      / (math.exp(log_stds[m][d]) * math.sqrt(2 * math.pi)) for d in range(2)])
                      for m in range(2))
        expected.append(-math.log(density) / 2)
    assert prior.loss(obs, actions).item() == pytest.approx(np.mean(expected), rel=1e-5)
    weights = torch.tensor([1.0, 0.0, 3.0])  # a weighted mean of the per-sample values
    assert prior.loss(obs, actions, weights).item() == pytest.approx((expected[0] + 3 * expected[2]) / 4, rel=1e-5)


def test_one_component_is_the_gaussian_prior():
    torch.manual_seed(0)
    gaussian, gmm = GaussianPrior(4, 3, hidden_dim=16), GMMPrior(4, 3, num_components=1, hidden_dim=16)
    obs_mean, obs_std = torch.randn(4), torch.rand(4) + 0.5
    for prior in (gaussian, gmm):
        prior.set_normalization(obs_mean, obs_std, -torch.ones(3), torch.ones(3))
    gmm.hidden.load_state_dict(gaussian.hidden.state_dict())
    with torch.no_grad():  # the GMM's output: [logit, mean (3), log-std (3)]; the Gaussian's: [mean, log-std]
        gmm.out.weight[1:] = gaussian.out.weight
        gmm.out.bias[1:] = gaussian.out.bias
    obs, actions = torch.randn(16, 4), torch.rand(16, 3) * 2 - 1
    torch.testing.assert_close(gmm.loss(obs, actions), gaussian.loss(obs, actions))


def test_it_recovers_both_modes_and_their_weights():
    """The bimodal toy on which `tests/test_prior.py` shows the Gaussian prior putting over a quarter of
    its samples between the modes: the mixture puts them on the modes, in the right proportions."""
    torch.manual_seed(0)
    s, actions = bimodal_toy()
    gmm = GMMPrior(1, 1, num_components=5, hidden_dim=32)
    fit(gmm, s, actions, 800, lr=3e-3)
    states = torch.tensor([[-0.8], [0.0], [0.7]])
    with torch.no_grad():
        samples = gmm.sample(states, 4000)
    for i, state in enumerate((-0.8, 0.0, 0.7)):
        a = samples[i, :, 0]
        near_upper = ((a - (0.5 + 0.2 * state)).abs() < 0.2).float().mean().item()
        near_lower = ((a - (-0.5 + 0.2 * state)).abs() < 0.2).float().mean().item()
        assert 0.65 < near_upper < 0.75 and 0.25 < near_lower < 0.35, (state, near_upper, near_lower)
        assert 1 - near_upper - near_lower < 0.03, state
    # the mixture's own weights: the components near each mode carry about 0.7 and 0.3
    with torch.no_grad():
        log_w, means, _ = gmm.mixture(gmm.normalize_obs(torch.tensor([[0.0]])))
    w, mu = log_w.exp()[0], means[0, :, 0]
    assert w[(mu - 0.5).abs() < 0.15].sum().item() == pytest.approx(0.7, abs=0.05)
    assert w[(mu + 0.5).abs() < 0.15].sum().item() == pytest.approx(0.3, abs=0.05)


def test_guidance_moves_each_drawn_component_up_the_critic():
    """One component at scaled mean 0 with sigma 0.2, bounds [-1, 1], Q(a) = a: the mean moves by
    scale * sigma^2 * 1 = 0.04 at scale 1, so the samples' mean moves by 0.04."""
    prior = GMMPrior(1, 1, num_components=2, hidden_dim=8)
    with torch.no_grad():
        prior.out.weight.zero_()
        prior.out.bias.copy_(torch.tensor([0.0, -30.0, 0.0, math.log(0.2), 0.9, math.log(0.2)]))  # component 2 off
    obs = torch.zeros(1, 1)
    torch.manual_seed(2)
    plain = prior.sample(obs, 20_000)
    torch.manual_seed(2)
    guided = prior.sample(obs, 20_000, guidance=lambda a: a.sum(-1), guidance_scale=1.0)
    assert plain.mean().item() == pytest.approx(0.0, abs=0.01)
    torch.testing.assert_close(guided - plain, torch.full_like(plain, 0.04), atol=1e-5, rtol=0)


def test_gmm_prior_round_trips_through_the_checkpoint_and_the_cli(tmp_path, pendulum_dataset):
    path = pretrain_prior.main(prior_args(pendulum_dataset, tmp_path, prior_kind="gmm", num_components=3,
                                          output=str(tmp_path / "m.pt")))
    prior = load_prior(path)
    assert isinstance(prior, GMMPrior) and prior.config["kind"] == "gmm" and prior.num_components == 3
    with torch.no_grad():
        a = prior.sample(torch.zeros(5, 3), 7)
    assert a.shape == (5, 7, 1) and (a.abs() <= 2.0).all()
    assert len(prior.hidden) == 3  # LoRA / Adapters attach as on the DDPM
    with pytest.raises(SystemExit, match="--num-components must be positive"):
        pretrain_prior.main(prior_args(pendulum_dataset, tmp_path, prior_kind="gmm", num_components=0,
                                       output=str(tmp_path / "n.pt")))


def test_log_stds_are_clamped_and_actions_beyond_the_bounds_count_as_the_bound():
    """The log-stds lie in [LOG_STD_MIN, LOG_STD_MAX] however far the network's output goes, and an action
    beyond the bounds (as a clipped env action can be, by rounding) is scored as the bound itself."""
    prior = GMMPrior(2, 1, num_components=2, hidden_dim=8)
    with torch.no_grad():
        prior.out.weight.zero_()
        prior.out.bias.copy_(torch.tensor([0.0, 0.0, 0.3, -100.0, -0.2, 100.0]))  # [logits, (mean, log-std) x 2]
    _, _, log_std = prior.mixture(torch.zeros(1, 2))
    assert log_std[0, :, 0].tolist() == [GMMPrior.LOG_STD_MIN, GMMPrior.LOG_STD_MAX]
    obs = torch.zeros(2, 2)
    at_bounds, beyond = torch.tensor([[1.0], [-1.0]]), torch.tensor([[1.5], [-1.5]])
    assert prior.loss(obs, beyond).item() == prior.loss(obs, at_bounds).item()
