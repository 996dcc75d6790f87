"""How well each prior kind covers the actions of its dataset, offline, on the dataset's held-out states
(the 5% that `pretrain_prior.py` held out, by the same seed):

- best-of-K error: for a held-out (s, a), the squared distance (scaled actions, mean over action dims) from
  a to the nearest of K samples of p(. | s), averaged over states, for K = 1 and K = 8. A prior that misses
  a mode keeps a large best-of-8 error there however many samples it draws.
- multimodal share: the share of held-out states whose 32 samples from a prior form two clusters (an
  equal-variance two-Gaussian mixture, fitted along the line through the samples farthest apart, preferred
  to one Gaussian by BIC, each part at least 20% of the samples, means more than 2 standard deviations
  apart: `two_clusters`).

Priors are read from `{priors_dir}/{kind}/` (`pretrain_prior.prior_file`'s layout) and datasets from `{data_dir}/{kind}/
{env_id}.npz` (benchmarks/make_datasets.py); one row per (dataset kind, task, prior) goes to `--out`.

    python benchmarks/prior_fit.py --env-ids Walker2d-v4 Hopper-v4 HalfCheetah-v4
"""

import csv
import os
import sys
from dataclasses import dataclass, field
from typing import List

import numpy as np
import torch
import tyro

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from pretrain_prior import holdout_split, load_prior, prior_file  # noqa: E402

PRIORS = ["diffusion", "gmm", "gaussian", "knn"]


@dataclass
class Args:
    env_ids: List[str] = field(default_factory=lambda: ["Walker2d-v4", "Hopper-v4", "HalfCheetah-v4"])
    """tasks"""
    kinds: List[str] = field(default_factory=lambda: ["single", "replay", "mixed-quality", "two-policies"])
    """dataset kinds"""
    priors: List[str] = field(default_factory=lambda: list(PRIORS))
    """prior kinds"""
    data_dir: str = "data/data_kinds"
    """the datasets, `{kind}/{env_id}.npz`"""
    priors_dir: str = "benchmarks/results/data_kinds/priors"
    """the priors, `{kind}/{env_id}.pt` (the DDPM) and `{kind}/{env_id}-{prior}.pt`"""
    states: int = 2000
    """held-out states evaluated per dataset (the first of the held-out split)"""
    out: str = "benchmarks/results/data_kinds/prior_fit.csv"
    """the CSV the rows go to"""


def best_of_k(samples: torch.Tensor, actions: torch.Tensor, k: int) -> torch.Tensor:
    """Per state, the squared distance (mean over action dims) from actions [B, act_dim] to the nearest of
    the first k of samples [B, K, act_dim]."""
    return ((samples[:, :k] - actions[:, None]) ** 2).mean(-1).min(-1).values


def two_clusters(samples: torch.Tensor, iterations: int = 50, min_share: float = 0.2) -> torch.Tensor:
    """Per state, whether its samples [B, N, act_dim] form two clusters. The samples are projected on the
    line through the two samples farthest apart; on that line a mixture of two Gaussians with one shared
    variance is fitted by EM (started from the two ends). Two clusters: the mixture beats one Gaussian by
    BIC (2 more parameters), its smaller weight is at least `min_share`, and its means lie more than 2
    standard deviations apart (the condition for an equal-variance mixture's density to have two modes)."""
    n = samples.shape[1]
    flat = torch.cdist(samples, samples).flatten(1).argmax(-1)
    rows = torch.arange(len(samples))
    axis = samples[rows, flat % n] - samples[rows, flat // n]
    x = (samples * axis[:, None]).sum(-1) / axis.norm(dim=-1, keepdim=True).clamp(min=1e-12)  # [B, N]
    var1 = x.var(-1, unbiased=False).clamp(min=1e-12)
    ll1 = -0.5 * n * (torch.log(2 * np.pi * var1) + 1)  # one Gaussian's maximum log-likelihood
    mu = torch.stack([x.min(-1).values, x.max(-1).values], -1)  # [B, 2]
    weight, var = torch.full_like(mu, 0.5), var1
    for _ in range(iterations):
        log_p = torch.log(weight[:, None]) - 0.5 * (x[..., None] - mu[:, None]) ** 2 / var[:, None, None]  # [B, N, 2]
        resp = log_p.softmax(-1)
        count = resp.sum(1).clamp(min=1e-9)
        weight, mu = count / n, (resp * x[..., None]).sum(1) / count
        var = ((resp * (x[..., None] - mu[:, None]) ** 2).sum((1, 2)) / n).clamp(min=1e-12)
    log_p = torch.log(weight[:, None]) - 0.5 * (x[..., None] - mu[:, None]) ** 2 / var[:, None, None]
    ll2 = (torch.logsumexp(log_p, -1) - 0.5 * torch.log(2 * np.pi * var)[:, None]).sum(-1)
    better = 2 * (ll2 - ll1) > 2 * np.log(n)
    apart = (mu[:, 0] - mu[:, 1]).abs() > 2 * var.sqrt()
    return better & apart & (weight.min(-1).values >= min_share)


def evaluate(prior, obs: torch.Tensor, actions: torch.Tensor) -> dict:
    """Best-of-1 and best-of-8 errors and the multimodal share of one prior on held-out (s, a)."""
    torch.manual_seed(0)
    with torch.no_grad():
        scaled = prior.scale_action(actions).clamp(-1.0, 1.0)
        samples = prior.scale_action(prior.sample(obs, 8))
        many = prior.scale_action(prior.sample(obs[:500], 32))
    return {"best_of_1": best_of_k(samples, scaled, 1).mean().item(), "best_of_8": best_of_k(samples, scaled, 8).mean().item(),
            "multimodal_share": two_clusters(many).float().mean().item()}


def main(args: Args) -> list:
    rows = []
    for kind in args.kinds:
        for env_id in args.env_ids:
            data = np.load(os.path.join(args.data_dir, kind, f"{env_id}.npz"))
            for name in args.priors:
                prior = load_prior(prior_file(os.path.join(args.priors_dir, kind), env_id, name))
                seed, fraction = prior.provenance["seed"], prior.provenance["holdout_fraction"]
                _, holdout = holdout_split(len(data["rewards"]), fraction, seed)
                idx = holdout[: args.states]
                obs, actions = torch.as_tensor(data["observations"][idx]), torch.as_tensor(data["actions"][idx])
                row = {"kind": kind, "env_id": env_id, "prior": name, "states": len(idx),
                       "heldout_loss": prior.provenance["heldout_loss"], **evaluate(prior, obs, actions)}
                print(", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()), flush=True)
                rows.append(row)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


if __name__ == "__main__":
    main(tyro.cli(Args))
