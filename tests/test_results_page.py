"""benchmarks/results.py: the committed results page is what the committed runs give, and stops being so
when a run changes; its helpers on hand-made run files."""

import os
import shutil
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import results  # noqa: E402


def test_the_committed_page_equals_what_the_committed_runs_give():
    assert results.main(results.Args(check=True)) == 0


def copy_of_the_repository(tmp_path, copied=("shared_out_1m",)):
    """What results.py reads: README.md, RESULTS.md and the folders named in `copied` copied, the other
    results folders and the priors linked (they are only read)."""
    root = tmp_path / "repo"
    results = root / "benchmarks" / "results"
    results.mkdir(parents=True)
    for name in os.listdir(os.path.join(ROOT, "benchmarks", "results")):
        source = os.path.join(ROOT, "benchmarks", "results", name)
        if name in copied:
            shutil.copytree(source, results / name)
        else:
            os.symlink(source, results / name)
    os.symlink(os.path.join(ROOT, "priors"), root / "priors")
    for name in ("README.md", "RESULTS.md"):
        shutil.copy(os.path.join(ROOT, name), root / name)
    return root


def test_a_changed_run_makes_the_check_fail_and_a_rewrite_mends_it(tmp_path, capsys):
    root = copy_of_the_repository(tmp_path)
    # one PPO-DAP 1M run of the eight-task table: its last episode's return doubled
    run = sorted((root / "benchmarks" / "results" / "shared_out_1m" / "Hopper-v4_seed1").glob("**/episodes.csv"))[0]
    lines = run.read_text().splitlines()
    step, ret, length = lines[-1].split(",")
    lines[-1] = f"{step},{2 * float(ret)},{length}"
    run.write_text("\n".join(lines) + "\n")
    assert results.main(results.Args(check=True, root=str(root))) == 1
    assert "RESULTS.md" in capsys.readouterr().err
    before = (root / "RESULTS.md").read_text()
    assert results.main(results.Args(root=str(root))) == 0  # rewrite
    assert results.main(results.Args(check=True, root=str(root))) == 0
    assert (root / "RESULTS.md").read_text() != before


def test_a_missing_folder_is_named(tmp_path):
    root = copy_of_the_repository(tmp_path, copied=())
    os.unlink(root / "benchmarks" / "results" / "frozen_1m")
    with pytest.raises(SystemExit, match="lacks frozen_1m"):
        results.main(results.Args(check=True, root=str(root)))


def write_run(folder, env, variant, seed, episodes):
    """A run folder with episodes.csv from (global_step, return) pairs and a one-row progress.csv."""
    run = folder / f"{env}__{variant}__{seed}__1000"
    run.mkdir(parents=True)
    (run / "progress.csv").write_text("iteration,charts/episodic_return\n1,0\n")
    (run / "episodes.csv").write_text("global_step,episodic_return\n" + "".join(f"{s},{r}\n" for s, r in episodes))
    return run


def test_steps_to_a_threshold_uses_the_trailing_100_episode_mean(tmp_path):
    r = results.Results(str(tmp_path))
    # 100 episodes at 0, then episodes at 10: the trailing mean of 100 reaches 5 at the 50th episode at 10
    episodes = [(i, 0.0) for i in range(100)] + [(1000 + i, 10.0) for i in range(100)]
    run = write_run(tmp_path / "benchmarks" / "results" / "x", "E", "ppo", 1, episodes)
    (found,) = r.runs("x")
    assert (found.env, found.variant, found.seed, found.path) == ("E", "ppo", 1, str(run))
    assert r.steps_to(found, 5.0) == 1049
    assert r.steps_to(found, 10.0) == 1099
    assert r.steps_to(found, 10.5) is None
    assert r.final(found) == 10.0


def test_gain_is_a_ratio_unless_a_baseline_is_not_positive():
    assert results.gain(np.array([1.0, 2.0]), np.array([1.5, 3.0])) == "1.50x [1.50, 1.50]"
    assert results.gain(np.array([-1.0, 2.0]), np.array([1.0, 3.0])) == "+2 [+1, +2] (difference)"
    assert results.gain(np.array([]), np.array([])) == "not run"
    keys, base, treat = results.paired({("E", 1): 2.0, ("E", 2): 4.0}, {("E", 2): 1.0, ("F", 1): 3.0}, lambda v: v)
    assert keys == [("E", 2)] and base.tolist() == [1.0] and treat.tolist() == [4.0]
