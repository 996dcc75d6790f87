"""Small helpers the test files share (pytest puts this folder on sys.path)."""

import csv

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
