"""Small helpers the test files share (pytest puts this folder on sys.path)."""

import csv

import torch

import pretrain_prior


def read_csv(path):
    """The rows of a CSV file written by a run, as dicts of strings."""
    with open(path) as f:
        return list(csv.DictReader(f))


def prior_args(dataset, tmp_path, **kw):
    """pretrain_prior.Args for a tiny, fast prior on Pendulum-v1 data, written to tmp_path/prior.pt."""
    base = dict(dataset=dataset, env_id="Pendulum-v1", output=str(tmp_path / "prior.pt"), num_updates=200,
                log_every=100, hidden_dim=32, num_diffusion_steps=5, cuda=False)
    base.update(kw)
    return pretrain_prior.Args(**base)


def fit(prior, s, actions, steps, lr=2e-3):
    """`steps` Adam steps of the prior's own loss on random batches of 256 (s, a) pairs, on one thread as
    the scripts train (for small MLPs the fastest)."""
    torch.set_num_threads(1)
    optimizer = torch.optim.Adam(prior.parameters(), lr=lr)
    for _ in range(steps):
        idx = torch.randint(0, len(s), (256,))
        loss = prior.loss(s[idx], actions[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def bimodal_toy(n=20_000, seed=0):
    """For state s in [-1, 1] [n, 1]: a = +0.5 + 0.2 s (prob 0.7) or -0.5 + 0.2 s (prob 0.3), plus N(0, 0.05^2)."""
    g = torch.Generator().manual_seed(seed)
    s = torch.rand(n, 1, generator=g) * 2 - 1
    upper = torch.rand(n, 1, generator=g) < 0.7
    return s, torch.where(upper, 0.5 + 0.2 * s, -0.5 + 0.2 * s) + 0.05 * torch.randn(n, 1, generator=g)
