"""METHOD.md section 3, checked on problems solved exactly: the tilted target and `energy_weights`
(the Gibbs variational identity and the self-normalised estimate), the one-step lower bound of
Achiam et al. (2017) for updates made by the project's own loss functions, the surrogate the
auxiliary terms give up (at most lambda times the cross-entropy they remove), and why the bound
needs its penalty term.

The MDPs have 3 states and a 1-D action. An action grid of 4001 points on [-10, 10] is the action
space: a policy is a row of probability masses per state (a Gaussian's density on the grid,
normalised), so V, Q, A, d and J are exact for that finite problem (float64) and the identities
below hold to rounding; samples appear only where the code itself samples (proposals, rollouts)."""

import math

import numpy as np
import pytest
import torch
from torch.distributions.normal import Normal

from ppo_dap import anneal, clipped_policy_loss, energy_weights, imitation_loss, kl_loss, proposal_moments, return_gate

GAMMA = 0.9
GRID = np.linspace(-10.0, 10.0, 4001)
TOL = 1e-9


# ---------------------------------------------------------------- the exact MDP machinery
class MDP:
    """r(s, a) = -c_s (a - b_s)^2 and P(s' | s, a) = softmax_s'(U[s, s'] a + W[s, s']), start
    distribution rho0, discount GAMMA; R [S, G] and P [S, G, S] tabulated on the grid."""

    def __init__(self, c, b, U, W, rho0):
        self.c, self.b = np.asarray(c, float), np.asarray(b, float)
        self.U, self.W, self.rho0 = np.asarray(U, float), np.asarray(W, float), np.asarray(rho0, float)
        self.n = len(self.c)
        self.R = self.reward(np.arange(self.n)[:, None], GRID[None, :])
        self.P = self.trans(np.arange(self.n)[:, None], GRID[None, :])

    def reward(self, s, a):
        return -self.c[s] * (a - self.b[s]) ** 2

    def trans(self, s, a):
        logits = self.U[s] * np.asarray(a)[..., None] + self.W[s]
        logits = logits - logits.max(-1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(-1, keepdims=True)

    def q_at(self, V, s, a):
        """Q_pi(s, a) = r(s, a) + gamma sum_s' P(s' | s, a) V(s') at any (state, action) arrays."""
        return self.reward(s, a) + GAMMA * (self.trans(s, a) * V).sum(-1)


def random_mdp(rng):
    return MDP(c=rng.uniform(0.5, 1.5, 3), b=rng.uniform(-1.5, 1.5, 3), U=rng.normal(0, 1, (3, 3)),
               W=rng.normal(0, 1, (3, 3)), rho0=rng.dirichlet(np.ones(3)))


def gaussian(mu, sigma):
    """Per-state Gaussians N(mu_s, sigma_s^2) as probability masses on the grid, [S, G]."""
    mu, sigma = np.asarray(mu, float)[:, None], np.asarray(sigma, float)[:, None]
    logp = -0.5 * ((GRID[None, :] - mu) / sigma) ** 2
    p = np.exp(logp - logp.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)


def evaluate(mdp, pi):
    """Exact policy evaluation: V = (I - gamma P_pi)^-1 r_pi, Q, A = Q - V, the normalised discounted
    state distribution d = (1 - gamma) rho0^T (I - gamma P_pi)^-1 and J = rho0 . V."""
    r_pi = (pi * mdp.R).sum(1)
    P_pi = np.einsum("sg,sgt->st", pi, mdp.P)
    M = np.eye(mdp.n) - GAMMA * P_pi
    V = np.linalg.solve(M, r_pi)
    Q = mdp.R + GAMMA * mdp.P @ V
    d = (1 - GAMMA) * np.linalg.solve(M.T, mdp.rho0)
    return dict(V=V, Q=Q, A=Q - V[:, None], d=d, J=mdp.rho0 @ V)


def tv(p, q):
    """Total variation distance per state, [S]."""
    return 0.5 * np.abs(p - q).sum(1)


def surrogate(ev, pi_new):
    """1/(1 - gamma) E_{s ~ d_pi, a ~ pi'}[A_pi(s, a)]."""
    return ev["d"] @ (pi_new * ev["A"]).sum(1) / (1 - GAMMA)


def penalty(ev, pi_new, pi_old):
    """2 gamma eps / (1 - gamma)^2 E_{s ~ d_pi}[TV(pi'(.|s), pi(.|s))], eps = max_s |E_{pi'} A_pi(s, .)|."""
    eps = np.abs((pi_new * ev["A"]).sum(1)).max()
    return 2 * GAMMA * eps / (1 - GAMMA) ** 2 * (ev["d"] @ tv(pi_new, pi_old))


def cpo_bound(ev, pi_new, pi_old):
    """The lower bound of Achiam et al. (2017), Corollary 1, on J(pi') - J(pi)."""
    return surrogate(ev, pi_new) - penalty(ev, pi_new, pi_old)


def check_pdl(mdp, ev, pi_new):
    """The performance-difference lemma, exactly: J(pi') - J(pi) = 1/(1-gamma) E_{d_pi', pi'}[A_pi]."""
    ev_new = evaluate(mdp, pi_new)
    exact = ev_new["d"] @ (pi_new * ev["A"]).sum(1) / (1 - GAMMA)
    assert ev_new["J"] - ev["J"] == pytest.approx(exact, rel=1e-9, abs=TOL)
    assert ev["d"].sum() == pytest.approx(1.0, abs=1e-12) and (ev["d"] > 0).all()
    return ev_new["J"] - ev["J"]


def tilted(prior, Q, tau):
    """The tilted target q*(a | s) proportional to p(a | s) exp(Q(s, a) / tau), on the grid."""
    logq = np.log(prior) + Q / tau
    q = np.exp(logq - logq.max(1, keepdims=True))
    return q / q.sum(1, keepdims=True)


def kl(p, q):
    """KL(p || q) per state, [S]."""
    m = p > 0
    return np.where(m, p * (np.log(np.where(m, p, 1.0)) - np.log(q)), 0.0).sum(1)


# ---------------------------------------------------------------- 1. the tilted target and energy_weights
def test_gibbs_identity_and_energy_weights_estimate_the_tilted_target():
    """q* = p exp(Q/tau)/Z maximises E_q[Q] - tau KL(q || p), with value tau log Z, and
    E_q[Q] - tau KL(q||p) = tau log Z - tau KL(q || q*) for every q. The project's `energy_weights`
    on K prior samples is the self-normalised importance-sampling estimate of E_{q*}[f]: its error
    falls as K grows, uniform weights as tau -> inf, the best of K as tau -> 0."""
    tau = 0.5
    p = gaussian([0.3], [0.8])
    Q = (-(GRID - 1.2) ** 2 + 0.5 * np.sin(3 * GRID))[None, :]
    logZ = np.log((p * np.exp(Q / tau)).sum())
    qstar = tilted(p, Q, tau)

    def gibbs(q):
        return float((q * Q).sum() - tau * kl(q, p)[0])

    assert gibbs(qstar) == pytest.approx(tau * logZ, abs=TOL)
    others = [p, gaussian([1.0], [0.3]), gaussian([-1.0], [1.0]), gaussian([1.2], [0.05]), 0.5 * (p + qstar)]
    for q in others:
        assert gibbs(q) == pytest.approx(tau * logZ - tau * kl(q, qstar)[0], abs=TOL)  # the identity
        assert gibbs(q) < gibbs(qstar) - 1e-6
    # tilting raises the mean of Q by at least tau KL(q* || p)
    assert (qstar * Q).sum() >= (p * Q).sum() + tau * kl(qstar, p)[0] - TOL

    # self-normalised importance sampling with the prior as proposal: w_k = softmax_k(Q(a_k) / tau)
    def Qf(a):
        return -(a - 1.2) ** 2 + 0.5 * np.sin(3 * a)

    rng = np.random.default_rng(0)
    truth = {"a": float((qstar * GRID).sum()), "Q": float((qstar * Q).sum())}

    def rmse(K, repeats):
        a = rng.normal(0.3, 0.8, (repeats, K))
        w = energy_weights(torch.as_tensor(Qf(a)), tau).numpy()
        assert np.allclose(w.sum(1), 1.0) and ((1.0 / (w**2).sum(1)) <= K + 1e-9).all()  # ESS <= K
        return {f: float(np.sqrt(np.mean(((w * v).sum(1) - truth[f]) ** 2))) for f, v in [("a", a), ("Q", Qf(a))]}

    small, large = rmse(10, 2000), rmse(10_000, 50)
    for f in truth:
        assert large[f] < small[f] / 10 and large[f] < 0.02, (f, small[f], large[f])

    q_vals = torch.as_tensor(Qf(rng.normal(0.3, 0.8, (4, 16))))
    assert torch.allclose(energy_weights(q_vals, 1e9), torch.full_like(q_vals, 1 / 16), atol=1e-8)  # the plain prior
    hot = energy_weights(q_vals, 1e-6)  # the best of K
    assert torch.equal(hot.argmax(1), q_vals.argmax(1)) and torch.allclose(hot.max(1).values, torch.ones(4, dtype=hot.dtype))


# ---------------------------------------------------------------- 2. the project's update, several lambdas
def ppo_dap_update(mdp, ev, mu, sigma, prior_mu, prior_sigma, lam, kl_coef, rng, steps=25, lr=0.05):
    """A few Adam steps of the project's actor loss, clipped_policy_loss + lam imitation_loss
    (+ kl_coef kl_loss), for a per-state Gaussian actor, on a 'rollout' drawn from pi: states from
    d_pi, actions from pi, advantages A_pi at those actions; K = 16 prior proposals for 64 states,
    reweighted by energy_weights on Q_pi with tau = 0.5 std(A). Returns the new (mu, sigma)."""
    gen = torch.Generator().manual_seed(int(rng.integers(1 << 30)))
    s = torch.as_tensor(rng.choice(mdp.n, 1024, p=ev["d"]))
    a = torch.normal(torch.as_tensor(mu)[s], torch.as_tensor(sigma)[s], generator=gen)
    adv = torch.as_tensor(mdp.q_at(ev["V"], s.numpy(), a.numpy()) - ev["V"][s.numpy()])
    old_logp = Normal(torch.as_tensor(mu)[s], torch.as_tensor(sigma)[s]).log_prob(a)
    ps = torch.as_tensor(rng.choice(mdp.n, 64, p=ev["d"]))
    proposals = torch.normal(torch.as_tensor(prior_mu)[ps, None].expand(64, 16),
                             torch.as_tensor(prior_sigma)[ps, None].expand(64, 16), generator=gen)
    q_prop = torch.as_tensor(mdp.q_at(ev["V"], ps.numpy()[:, None], proposals.numpy()))
    weights = energy_weights(q_prop, 0.5 * adv.std())
    m, v = proposal_moments(proposals[..., None], weights)
    mean = torch.nn.Parameter(torch.as_tensor(mu).clone())
    logstd = torch.nn.Parameter(torch.as_tensor(np.log(sigma)).clone())
    opt = torch.optim.Adam([mean, logstd], lr=lr)
    for _ in range(steps):
        ratio = (Normal(mean[s], logstd.exp()[s]).log_prob(a) - old_logp).exp()
        dist = Normal(mean[ps, None], logstd.exp()[ps, None])
        loss = clipped_policy_loss(ratio, adv, 0.2) + lam * imitation_loss(dist, proposals[..., None], weights)
        if kl_coef:
            loss = loss + kl_coef * kl_loss(dist, m, v)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return mean.detach().numpy(), logstd.detach().exp().numpy()


def test_cpo_bound_holds_for_the_projects_update_on_random_mdps():
    """For random 3-state MDPs and updates made by the project's loss functions at several auxiliary
    coefficients: the performance-difference lemma holds exactly and J(pi') - J(pi) is at least the
    bound of Achiam et al. (2017); after a short PPO step that bound is positive."""
    torch.set_num_threads(1)
    for seed in range(4):
        rng = np.random.default_rng(seed)
        mdp = random_mdp(rng)
        mu, sigma = rng.uniform(-1, 1, 3), rng.uniform(0.5, 0.9, 3)
        prior_mu, prior_sigma = rng.uniform(-1.5, 1.5, 3), rng.uniform(0.5, 1.0, 3)
        pi = gaussian(mu, sigma)
        ev = evaluate(mdp, pi)
        for lam, kl_coef in [(0.0, 0.0), (0.3, 0.0), (3.0, 0.0), (1.0, 1.0)]:
            mu_new, sigma_new = ppo_dap_update(mdp, ev, mu, sigma, prior_mu, prior_sigma, lam, kl_coef, rng)
            pi_new = gaussian(mu_new, sigma_new)
            assert tv(pi_new, pi).max() > 1e-3  # the update moved
            gain = check_pdl(mdp, ev, pi_new)
            assert gain >= cpo_bound(ev, pi_new, pi) - TOL, (seed, lam, gain, cpo_bound(ev, pi_new, pi))
        # a short PPO step (no prior): the bound is positive, so J is guaranteed to rise
        mu_new, sigma_new = ppo_dap_update(mdp, ev, mu, sigma, prior_mu, prior_sigma, 0.0, 0.0, rng, steps=2, lr=2e-3)
        pi_new = gaussian(mu_new, sigma_new)
        assert check_pdl(mdp, ev, pi_new) >= cpo_bound(ev, pi_new, pi) - TOL and cpo_bound(ev, pi_new, pi) > 0


# ---------------------------------------------------------------- 3. what the auxiliary term gives up
def exact_tables(seed, width, scales):
    """A random MDP and pi, a finite feasible set F of per-state Gaussians around pi (means
    mu_s + [-width, width], stds sigma_s * scales), K = 32 prior proposals per state reweighted by
    `energy_weights` on Q_pi (tau = 0.5 std of A_pi), and per state and candidate the clipped surrogate
    E_pi[min(r A, clip(r, 0.8, 1.2) A)] (from `clipped_policy_loss`) and the cross-entropy
    -sum_k w_k log pi'(a_k | s) (from `imitation_loss`)."""
    rng = np.random.default_rng(seed)
    mdp = random_mdp(rng)
    mu, sigma = rng.uniform(-1, 1, 3), rng.uniform(0.6, 0.9, 3)
    pi = gaussian(mu, sigma)
    ev = evaluate(mdp, pi)
    shifts = np.linspace(-width, width, 41)
    cand_mu = (mu[:, None, None] + shifts[None, :, None] + 0 * scales).reshape(3, -1)
    cand_sigma = (sigma[:, None, None] * scales[None, None, :] + 0 * shifts[:, None]).reshape(3, -1)
    a_std = np.sqrt((ev["d"][:, None] * pi * ev["A"] ** 2).sum())
    proposals = rng.normal(rng.uniform(-1.5, 1.5, (3, 1)), rng.uniform(0.5, 1.0, (3, 1)), (3, 32))
    weights = energy_weights(torch.as_tensor(mdp.q_at(ev["V"], np.arange(3)[:, None], proposals)), 0.5 * a_std)
    S, H = np.zeros(cand_mu.shape), np.zeros(cand_mu.shape)
    for s in range(3):
        # clipped_policy_loss averages over its inputs; scaling A by the masses G pi(a) >= 0 commutes
        # with its max, so the call returns -E_pi[min(r A, clip(r) A)] exactly
        scaled_adv = torch.as_tensor(len(GRID) * pi[s] * ev["A"][s])
        for j in range(cand_mu.shape[1]):
            ratio = torch.as_tensor(gaussian([cand_mu[s, j]], [cand_sigma[s, j]])[0] / pi[s])
            S[s, j] = -clipped_policy_loss(ratio, scaled_adv, 0.2).item()
            dist = Normal(torch.tensor([[cand_mu[s, j]]], dtype=torch.float64),
                          torch.tensor([[cand_sigma[s, j]]], dtype=torch.float64))
            H[s, j] = imitation_loss(dist, torch.as_tensor(proposals[s])[None, :, None], weights[s][None]).item()
    return mdp, pi, ev, cand_mu, cand_sigma, S, H


@pytest.mark.parametrize("seed,width,scales", [(10, 1.0, (0.8, 0.9, 1.0, 1.12, 1.25)),
                                               (11, 1.0, (0.8, 0.9, 1.0, 1.12, 1.25)),
                                               (11, 0.05, (0.98, 1.0, 1.02))])
def test_surrogate_given_up_is_at_most_lambda_times_the_cross_entropy_removed(seed, width, scales):
    """With pi_lam the exact maximiser over F of S(pi') - lam H(pi') (F finite, so the arg max is exact),
    S the clipped surrogate the code maximises and H the imitation cross-entropy, both weighted by d_pi:
        0 <= S(pi_0) - S(pi_lam) <= lam [H(pi_0) - H(pi_lam)] <= lam [H(pi_0) - min_F H],
    S(pi_lam) and H(pi_lam) do not increase with lam, lam = 0 (from `anneal` at the end of its clock,
    or from `return_gate`) gives PPO's pi_0, and
        J(pi_lam) - J(pi) >= [S(pi_0) - lam (H(pi_0) - H(pi_lam))] / (1 - gamma) - penalty(pi_lam),
    a guarantee that is positive for the narrow F."""
    torch.set_num_threads(1)
    mdp, pi, ev, cand_mu, cand_sigma, S, H = exact_tables(seed, width, np.array(scales))
    rows = np.arange(3)

    def solve(lam):
        j = np.argmax(S - lam * H, axis=1)  # the exact maximiser over F (the objective separates by state)
        return ev["d"] @ S[rows, j], ev["d"] @ H[rows, j], gaussian(cand_mu[rows, j], cand_sigma[rows, j])

    S0, H0, pi0 = solve(0.0)
    H_min = ev["d"] @ H.min(1)
    lams = [anneal(1.0, t, 100) for t in (0, 70, 90, 97, 99, 100)]  # 1, 0.3, 0.1, 0.03, 0.01, 0
    lams.append(return_gate([5.0], prior_return=1.0) * anneal(1.0, 0, 100))  # released: 0
    assert lams[-2] == 0.0 and lams[-1] == 0.0
    prev, guarantees = None, {}
    for lam in sorted(set(lams)):
        S_l, H_l, pi_l = solve(lam)
        given_up, removed = S0 - S_l, H0 - H_l
        assert -TOL <= given_up <= lam * removed + TOL, (lam, given_up, removed)
        assert removed <= H0 - H_min + TOL
        if prev is not None:  # monotone in lam
            assert S_l <= prev[0] + TOL and H_l <= prev[1] + TOL
        prev = (S_l, H_l)
        if lam == 0.0:
            assert np.array_equal(pi_l, pi0)  # annealed or released: PPO's update
        # the clipped surrogate never exceeds the true one, so the bound carries over to J
        assert S_l <= ev["d"] @ (pi_l * ev["A"]).sum(1) + TOL
        guarantees[lam] = (S0 - lam * removed) / (1 - GAMMA) - penalty(ev, pi_l, pi)
        assert check_pdl(mdp, ev, pi_l) >= guarantees[lam] - TOL
    assert S0 - prev[0] > 1e-3 and H0 - prev[1] > 1e-3  # not vacuous: lam = 1 gives something up
    if width < 0.1:
        assert guarantees[0.0] > 0 and guarantees[lams[2]] > 0  # positive, without and with the term (lam = 0.1)


# ---------------------------------------------------------------- 4. a pull toward q* with positive advantage
def test_pull_toward_a_tilted_target_with_positive_advantage_raises_the_bound():
    """For pi_alpha = (1 - alpha) pi + alpha q*, q* proportional to p exp(Q_pi / tau): the surrogate is
    alpha times q*'s, the penalty is quadratic in alpha, tilting raises the prior's advantage, and
    where E_{d_pi, q*}[A_pi] > 0 a small enough step has a positive bound, so J truly rises (here even
    from a prior worse than pi)."""
    worse_prior = False
    for seed in range(20, 24):
        rng = np.random.default_rng(seed)
        mdp = random_mdp(rng)
        pi = gaussian(rng.uniform(-1, 1, 3), rng.uniform(0.5, 0.9, 3))
        prior = gaussian(rng.uniform(-1.5, 1.5, 3), rng.uniform(0.5, 1.0, 3))
        ev = evaluate(mdp, pi)
        qstar = tilted(prior, ev["Q"], 0.2)
        assert ((qstar * ev["A"]).sum(1) >= (prior * ev["A"]).sum(1) + 0.2 * kl(qstar, prior) - TOL).all()
        L = surrogate(ev, qstar)
        assert L > 0
        worse_prior |= surrogate(ev, prior) < 0
        c = penalty(ev, qstar, pi)
        for alpha in (0.01, 0.1, 0.5):
            mix = (1 - alpha) * pi + alpha * qstar
            assert surrogate(ev, mix) == pytest.approx(alpha * L, rel=1e-9)
            assert penalty(ev, mix, pi) == pytest.approx(alpha**2 * c, rel=1e-9)
        alpha = L / (2 * c)  # the maximiser of alpha L - alpha^2 c
        assert 0 < alpha <= 1
        mix = (1 - alpha) * pi + alpha * qstar
        bound = cpo_bound(ev, mix, pi)
        assert bound == pytest.approx(L**2 / (4 * c), rel=1e-9) and bound > 0
        assert check_pdl(mdp, ev, mix) >= bound - TOL
    assert worse_prior  # a prior with negative advantage whose tilted target has a positive one


# ---------------------------------------------------------------- 5. what the penalty term is for
def test_far_step_surrogate_overstates_but_the_bound_holds():
    """A step far outside any trust region: at the 'home' state 0 the mean moves from 0 to 3, where
    the immediate reward is higher but the agent leaves home. The surrogate, which keeps pi's state
    distribution, overstates J(pi') - J(pi); the full bound, with its TV penalty, holds."""
    mdp = MDP(c=[0.3, 1.0, 1.0], b=[3.0, 0.0, 0.0],
              U=[[-1.5, 0.75, 0.75], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
              W=[[2.0, 0.0, 0.0], [0.5, 1.0, 0.0], [0.5, 0.0, 1.0]], rho0=[1.0, 0.0, 0.0])
    pi = gaussian([0.0, 0.0, 0.0], [0.5, 0.5, 0.5])
    pi_far = gaussian([3.0, 0.0, 0.0], [0.5, 0.5, 0.5])
    ev = evaluate(mdp, pi)
    gain = check_pdl(mdp, ev, pi_far)
    # TV of two Gaussians of equal std, closed form: erf(|mu' - mu| / (2 sqrt(2) sigma))
    assert tv(pi_far, pi)[0] == pytest.approx(math.erf(3.0 / (2 * math.sqrt(2) * 0.5)), abs=1e-6)  # grid error ~2e-7
    assert tv(pi_far, pi)[0] > 0.99  # nothing like PPO's clip region
    assert surrogate(ev, pi_far) > gain + 0.5  # the surrogate alone overstates the improvement
    assert gain >= cpo_bound(ev, pi_far, pi) - TOL  # the bound does not
    assert evaluate(mdp, pi_far)["d"][0] < ev["d"][0]  # because pi' leaves the home state more often
