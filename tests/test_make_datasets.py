"""benchmarks/make_datasets.py on tiny behaviour runs: the four kinds, their parts and start states, and
a second call into another folder giving the same files bit for bit."""

import json
import os
import sys

import numpy as np
import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import make_datasets  # noqa: E402
import prior_fit  # noqa: E402
from pretrain_prior import load_prior, prior_file  # noqa: E402


@pytest.fixture
def tiny(monkeypatch):
    """Behaviour runs of 512 and 256 steps on Pendulum-v1 (its episodes last 200 steps)."""
    monkeypatch.setattr(make_datasets, "BEHAVIOUR", [("seed100_1m", 100, 512), ("seed101_1m", 101, 512),
                                                     ("seed100_300k", 100, 256)])
    return lambda tmp: make_datasets.Args(env_ids=["Pendulum-v1"], data_dir=str(tmp / "data"),
                                          runs_dir=str(tmp / "results" / "behaviour"), last_steps=300,
                                          rollout_steps=250,
                                          behaviour_flags="--num-steps 256 --num-minibatches 4 --update-epochs 1")


def test_four_kinds_with_their_parts_and_the_same_start_states(tmp_path, tiny):
    args = tiny(tmp_path)
    args.priors = ["knn"]  # into the default folder: `priors` beside --runs-dir
    args.pretrain_flags = "--num-updates 20 --log-every 10 --hidden-dim 16 --knn-size 100"
    make_datasets.main(args)
    assert args.priors_dir == str(tmp_path / "results" / "priors")
    load = lambda kind: dict(np.load(os.path.join(args.data_dir, kind, "Pendulum-v1.npz")))  # noqa: E731
    log = dict(np.load(os.path.join(args.data_dir, "Pendulum-v1_seed100_1m.npz")))
    single = load("single")
    # the episodes that end in the last 300 steps of 512 (episodes end at steps 199 and 399, the log at 511):
    # those from step 200 on
    np.testing.assert_array_equal(single["observations"], log["observations"][200:])
    np.testing.assert_array_equal(load("replay")["actions"],
                                  np.load(os.path.join(args.data_dir, "Pendulum-v1_seed100_300k.npz"))["actions"])
    for kind in ("mixed-quality", "two-policies"):
        data = load(kind)
        assert len(data["rewards"]) == 2 * 250 and str(data["env_id"]) == "Pendulum-v1"
        first, second = data["observations"][:250], data["observations"][250:]
        np.testing.assert_array_equal(first[0], second[0])  # both policies start from the same state
        np.testing.assert_array_equal(first[200], second[200])  # and so does each episode
        assert not np.array_equal(data["actions"][:250], data["actions"][250:])  # two different policies
        assert data["truncations"][249] and data["truncations"][-1]
    for kind in ("single", "two-policies"):  # the prior kind asked for, on every dataset, from that dataset
        prior = load_prior(prior_file(os.path.join(args.priors_dir, kind), "Pendulum-v1", "knn"))
        assert prior.config["kind"] == "knn" and prior.provenance["dataset"] == "Pendulum-v1.npz"
        assert prior.provenance["transitions"] == len(load(kind)["rewards"])
    # the offline table on them: the retrieval prior's best-of-1 error on the whole held-out split is its
    # held-out loss (the nearest stored state's action), so the split is the one pretraining held out
    rows = prior_fit.main(prior_fit.Args(env_ids=["Pendulum-v1"], kinds=["single", "two-policies"], priors=["knn"],
                                         data_dir=args.data_dir, priors_dir=args.priors_dir, out=str(tmp_path / "fit.csv")))
    assert [(r["kind"], r["prior"]) for r in rows] == [("single", "knn"), ("two-policies", "knn")]
    for row in rows:
        assert row["best_of_8"] <= row["best_of_1"] and 0.0 <= row["multimodal_share"] <= 1.0
        if row["prior"] == "knn":
            assert row["best_of_1"] == pytest.approx(row["heldout_loss"], rel=1e-5)
    record = json.load(open(tmp_path / "results" / "datasets.json"))
    assert {"single/Pendulum-v1.npz", "mixed-quality/Pendulum-v1.npz", "Pendulum-v1_seed101_1m.npz"} <= set(record["files"])
    assert all(len(entry["sha256"]) == 64 for entry in record["files"].values())

    # a second call into another folder, for two kinds: only the behaviour runs they need, and every log and
    # dataset the same, bit for bit
    again = tiny(tmp_path / "again")
    again.kinds = ["single", "two-policies"]
    make_datasets.main(again)
    assert sorted(os.listdir(again.data_dir)) == ["Pendulum-v1_seed100_1m.npz", "Pendulum-v1_seed101_1m.npz",
                                                  "single", "two-policies"]
    other = {k: v["sha256"] for k, v in json.load(open(tmp_path / "again" / "results" / "datasets.json"))["files"].items()}
    assert len(other) == 4 and other == {k: v["sha256"] for k, v in record["files"].items() if k in other}

    # --flat: one kind's priors where ppo_dap.py looks, from the kept logs and datasets
    flat = tiny(tmp_path / "again")
    flat.kinds, flat.priors, flat.priors_dir, flat.flat = ["two-policies"], ["knn"], str(tmp_path / "shipped"), True
    flat.pretrain_flags = args.pretrain_flags
    make_datasets.main(flat)
    shipped = load_prior(str(tmp_path / "shipped" / "Pendulum-v1-knn.pt"))
    by_kind = load_prior(prior_file(os.path.join(args.priors_dir, "two-policies"), "Pendulum-v1", "knn"))
    assert torch.equal(shipped.keys, by_kind.keys) and torch.equal(shipped.values, by_kind.values)
    # a prior of the same name from other data is never taken for this one's, nor replaced
    flat.kinds = ["single"]
    before = (tmp_path / "shipped" / "Pendulum-v1-knn.pt").read_bytes()
    with pytest.raises(SystemExit, match="Pendulum-v1-knn.pt exists and was not pretrained on .*single/Pendulum-v1.npz"):
        make_datasets.main(flat)
    assert (tmp_path / "shipped" / "Pendulum-v1-knn.pt").read_bytes() == before
    with pytest.raises(SystemExit, match="--flat puts the priors of one dataset kind in one folder; --kinds names 2"):
        make_datasets.main(make_datasets.Args(kinds=["single", "replay"], flat=True, data_dir=str(tmp_path / "d")))
    with pytest.raises(SystemExit, match="--last-steps must be positive, got 0"):
        make_datasets.main(make_datasets.Args(last_steps=0, data_dir=str(tmp_path / "d")))


def test_an_unknown_kind_or_prior_is_refused_before_any_run(tmp_path):
    with pytest.raises(SystemExit, match="--kinds nope unknown"):
        make_datasets.main(make_datasets.Args(kinds=["nope"], data_dir=str(tmp_path / "d"), runs_dir=str(tmp_path / "r")))
    with pytest.raises(SystemExit, match="--priors ddpm unknown"):
        make_datasets.main(make_datasets.Args(priors=["ddpm"], data_dir=str(tmp_path / "d"), runs_dir=str(tmp_path / "r")))
    assert not (tmp_path / "d").exists()
