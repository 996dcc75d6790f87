"""benchmarks/make_datasets.py on tiny behaviour runs: the four kinds, their parts and start states, and
a second call into another folder giving the same files bit for bit."""

import json
import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import make_datasets  # noqa: E402


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
    make_datasets.main(args)
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
    record = json.load(open(tmp_path / "results" / "datasets.json"))
    assert {"single/Pendulum-v1.npz", "mixed-quality/Pendulum-v1.npz", "Pendulum-v1_seed101_1m.npz"} <= set(record["files"])
    assert all(len(entry["sha256"]) == 64 for entry in record["files"].values())

    # a second call into another folder: every log and dataset the same, bit for bit
    again = tiny(tmp_path / "again")
    make_datasets.main(again)
    other = json.load(open(tmp_path / "again" / "results" / "datasets.json"))
    assert {k: v["sha256"] for k, v in other["files"].items()} == {k: v["sha256"] for k, v in record["files"].items()}


def test_an_unknown_kind_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="--kinds nope unknown"):
        make_datasets.main(make_datasets.Args(kinds=["nope"], data_dir=str(tmp_path / "d"), runs_dir=str(tmp_path / "r")))
