"""Set fields of prior checkpoints' provenance, keeping the weights bit for bit (checked before writing).

Used for the shipped priors: their `recipe` (how the data was made) and a plain note where a field had
to be re-stamped after the fact. Written atomically with `save_prior`.

    python benchmarks/dev/restamp_priors.py priors/Walker2d-v4.pt --set recipe="..." --drop restamped
"""

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from pretrain_prior import load_prior, save_prior  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("paths", nargs="+", help="prior checkpoints (.pt)")
parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="provenance fields to set")
parser.add_argument("--drop", nargs="*", default=[], metavar="KEY", help="provenance fields to remove")
args = parser.parse_args()
for path in args.paths:
    prior = load_prior(path)
    before = {k: v.clone() for k, v in prior.state_dict().items()}
    provenance = {k: v for k, v in prior.provenance.items() if k not in args.drop}
    provenance.update(item.split("=", 1) for item in args.set)
    save_prior(path, prior, prior.env_id, provenance)
    after = load_prior(path).state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before), path
    print(f"{path}: {provenance}")
