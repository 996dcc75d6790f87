"""One-off: re-stamp the provenance of the shipped priors made before provenance was fixed (stop 9).

Those priors recorded the absolute dataset path of the machine they were made on and no checksum. The
datasets were not kept, so the checksum cannot be recovered: this keeps the weights bit for bit,
cuts the path to its file name, records the checksum as unknown, the documented command, and the
versions the project was tested with when they were made. Written atomically with `save_prior`.

    python benchmarks/restamp_priors.py priors/Walker2d-v4.pt priors/Hopper-v4.pt priors/HalfCheetah-v4.pt
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pretrain_prior import load_prior, save_prior  # noqa: E402

for path in sys.argv[1:]:
    prior = load_prior(path)
    provenance = dict(prior.provenance)
    if "dataset_sha256" in provenance:
        print(f"{path}: already stamped, left alone")
        continue
    dataset = os.path.basename(provenance["dataset"])
    provenance.update(
        dataset=dataset,
        dataset_sha256=None,
        command=f"pretrain_prior.py --dataset data/{dataset} --env-id {prior.env_id}",
        versions={"torch": "2.13.0+cpu", "gymnasium": "1.4.0", "mujoco": "4.0.0"},
        restamped="provenance re-stamped at stop 9: machine path cut to the file name; dataset not kept, so no checksum",
    )
    save_prior(path, prior, prior.env_id, provenance)
    print(f"{path}: {provenance}")
