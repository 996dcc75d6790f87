"""benchmarks/results.py: the committed results page is what the committed runs give, and stops being so
when a run changes; its helpers on hand-made run files."""

import os
import shutil
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import compare  # noqa: E402
import results  # noqa: E402


def test_the_committed_page_equals_what_the_committed_runs_give():
    assert results.main(results.Args(check=True)) == 0


def copy_of_the_repository(tmp_path, copied=("shared_out_1m",)):
    """What results.py reads: RESULTS.md and the folders named in `copied` copied, the other
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
    shutil.copy(os.path.join(ROOT, "RESULTS.md"), root / "RESULTS.md")
    return root


def test_every_folder_has_a_readme_and_a_command_that_renders():
    """The index sets each command in one code span, so a backtick inside it would break the page."""
    for name, folder in results.FOLDERS.items():
        assert "`" not in folder.command, name
        assert os.path.isfile(os.path.join(ROOT, "benchmarks", "results", name, "README.md")), name


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
    five = np.ones(5)
    assert results.gain(five, 1.5 * five) == "1.50x [1.50, 1.50]"
    # the ratio of the means (12 / 8), not the mean of the ratios per seed ((3 + 3 + 1 + 1 + 1) / 5); the
    # interval spans the resamples' ratios of means, from all-ratio-1 pairs (1) to all-ratio-3 pairs (3)
    base, treat = np.array([1.0, 1.0, 2.0, 2.0, 2.0]), np.array([3.0, 3.0, 2.0, 2.0, 2.0])
    assert results.gain(base, treat).startswith("1.50x [1.") and results.gain(base, treat).endswith("]")
    low, high = compare.ratio_of_means_ci(treat, base)
    assert 1.0 <= low < 1.5 < high <= 3.0
    assert results.gain(np.array([2.0]), np.array([3.0])) == "1.50x"  # one seed: no interval
    # 2-4 seeds: a percentile bootstrap spans little more than the per-seed values, so no interval either
    assert results.gain(np.array([1.0, 3.0, 2.0, 2.0]), np.array([3.0, 3.0, 2.0, 2.0])) == "1.25x"
    assert results.gain(np.array([-1.0]), np.array([2.0])) == "+3 (difference)"
    assert results.gain(np.array([-1.0, 2.0]), np.array([1.0, 3.0])) == "+2 (difference)"
    assert results.gain(np.array([-1.0, 2.0, 2.0, 2.0, 2.0]), np.array([1.0, 3.0, 3.0, 3.0, 3.0])) == "+1 [+1, +2] (difference)"
    assert results.gain(np.array([]), np.array([])) == "not run"
    keys, base, treat = results.paired({("E", 1): 2.0, ("E", 2): 4.0}, {("E", 2): 1.0, ("F", 1): 3.0}, lambda v: v)
    assert keys == [("E", 2)] and base.tolist() == [1.0] and treat.tolist() == [4.0]


def test_the_aggregates_on_hand_made_runs_match_a_hand_computation(tmp_path):
    """40-iteration PPO and PPO-DAP runs on the eight tasks, 4 seeds, each with one training return in every
    iteration (so its AULC@40 is that return; PPO's seeds 1-2 in an earlier folder, beside PPO-DAP runs with
    the earlier priors, which must not be read): the normalised scores, their IQM (the mean of the middle half
    of the task x seed scores) and P(PPO-DAP > PPO) (per task, the share of run pairs PPO-DAP wins, averaged
    over tasks) by hand. On Ant-v4 PPO stays below the random policy: no scale, so it is left out of the
    normalised scores, but not of P, which needs none."""
    rng = np.random.default_rng(0)
    zero = {env: float(rng.uniform(-50, 50)) for env in results.TASKS}
    ppo = {env: zero[env] + rng.uniform(100, 200, size=4) for env in results.TASKS}
    ppo["Ant-v4"] = zero["Ant-v4"] - rng.uniform(10, 20, size=4)
    dap = {env: ppo[env] + offset for env, offset in zip(results.TASKS, [500, 500, 500, 5, -500, -500, 0, 0])}
    dap["Swimmer-v4"] = ppo["Swimmer-v4"][[1, 0, 3, 2]]  # the same values, other seeds
    dap["InvertedPendulum-v4"] = ppo["InvertedPendulum-v4"] + np.array([1.0, -1.0, 1.0, -1.0]) * 1e-3
    base = tmp_path / "benchmarks" / "results"
    decoy = {env: values + 1000.0 for env, values in dap.items()}  # PPO-DAP with the earlier priors: not read
    for env in results.TASKS:
        for variant, values, folders in (("ppo", ppo[env], ["aulc40_shared_out"] * 2 + ["eight_tasks_final_40it"] * 2),
                                         ("ppo-dap", dap[env], ["eight_tasks_final_40it"] * 4),
                                         ("ppo-dap", decoy[env], ["aulc40_shared_out"] * 4)):
            for seed, (value, folder) in enumerate(zip(values, folders), start=1):
                run = base / folder / "runs" / env / variant / f"{env}__{variant}__{seed}__1000"
                run.mkdir(parents=True)
                run.joinpath("progress.csv").write_text("iteration,charts/episodic_return\n"
                                                        + "".join(f"{i},{value}\n" for i in range(1, 41)))
    (base / "random_policy").mkdir()
    (base / "random_policy" / "returns.csv").write_text(
        "env_id,mean_return\n" + "".join(f"{env},{zero[env]}\n" for env in results.TASKS))
    r = results.Results(str(tmp_path))
    s = results.eight_task_sets(r)
    m = results.score_matrices(r, s["ppo40"], s["dap40"], r.aulc40)
    kept = [env for env in results.TASKS if env != "Ant-v4"]
    assert m["seeds"] == [1, 2, 3, 4] and m["tasks"] == kept
    assert [(env, pytest.approx(one), pytest.approx(z)) for env, one, z in m["left_out"]] == [
        ("Ant-v4", ppo["Ant-v4"].mean(), zero["Ant-v4"])]
    for j, env in enumerate(kept):
        one = ppo[env].mean()
        np.testing.assert_allclose(m["base"][:, j], (ppo[env] - zero[env]) / (one - zero[env]))
        np.testing.assert_allclose(m["treat"][:, j], (dap[env] - zero[env]) / (one - zero[env]))
    a = results.aggregates(m)
    assert results.aggregates(m) == a  # the bootstrap is seeded: the page is the same on every call
    for key, scores in (("iqm_ppo", m["base"]), ("iqm_dap", m["treat"])):
        middle = np.sort(scores.ravel())[7:21]  # 28 scores: the middle 14
        assert a[key][0] == pytest.approx(middle.mean())
        assert a[key][1] <= a[key][0] <= a[key][2]
    # by hand: per task the share of (PPO-DAP run, PPO run) pairs PPO-DAP wins, a tie counting half (1 on the
    # first four tasks, Ant's small gain included; 0 on two; 1/2 on Swimmer's reordered copies), averaged over
    # the eight tasks; rliable's own function agrees
    from rliable import metrics

    wins = lambda x, y: np.mean([[(xi > yj) + 0.5 * (xi == yj) for yj in y] for xi in x])  # noqa: E731
    hand = np.mean([wins(dap[env], ppo[env]) for env in results.TASKS])
    assert a["improvement"][0] == pytest.approx(hand) == metrics.probability_of_improvement(m["raw_treat"], m["raw_base"])
    assert a["improvement"][1] <= a["improvement"][0] <= a["improvement"][2]


def test_the_1m_dataset_kind_comparison_on_hand_made_runs(tmp_path):
    """1M runs of the DDPM and the GMM prior on one dataset kind, 3 seeds on the three tasks, each with 100
    training episodes of one return (its final return): the table's means and ratios, and P(DDPM > GMM) by
    hand (per task the share of run pairs the DDPM wins, averaged over the tasks)."""
    base = tmp_path / "benchmarks" / "results" / "data_kinds" / "two-policies_1m"
    finals = {"ppo-dap": {"Walker2d-v4": [30, 40, 50], "Hopper-v4": [10, 20, 30], "HalfCheetah-v4": [5, 6, 7]},
              "gmm-prior": {"Walker2d-v4": [10, 20, 60], "Hopper-v4": [10, 20, 30], "HalfCheetah-v4": [1, 2, 3]}}
    for variant, by_env in finals.items():
        for env, values in by_env.items():
            for seed, value in enumerate(values, start=1):
                run = write_run(base / f"{env}_seed{seed}" / "runs", env, variant, seed,
                                [(i, value) for i in range(100)])
                run.joinpath("progress.csv").write_text("iteration\n" + "".join(f"{i}\n" for i in range(1, 489)))
    r = results.Results(str(tmp_path))
    ppo1m = {("Walker2d-v4", 1): write_run(tmp_path / "ppo", "Walker2d-v4", "ppo", 1, [(0, 100.0)])}
    ppo1m = {k: results.Run(k[0], "ppo", 1, str(v)) for k, v in ppo1m.items()}
    lines = results.data_kinds_1m(r, ppo1m, ("two-policies", "gmm-prior"))
    assert lines[0] == "### At 1M steps: the DDPM and the GMM prior on the two-policies data"
    assert "where the DDPM led its best cheaper rival most at 40 iterations" in lines[2]
    assert "the GMM prior on this kind of data" in results.data_kinds_1m(r, ppo1m, ("single", "gmm-prior"))[2]
    assert lines[-2].endswith('data_kinds_online.sh "1 2 3"`).')  # the seeds that ran
    rows = {line.split(" | ")[0][2:]: line.split(" | ") for line in lines if line.startswith("| ") and "-v4" in line}
    assert rows["Walker2d-v4"][1:5] == ["1-3", "100 (seeds 1)", "40", "30"]  # seeds, PPO, DDPM, GMM means
    assert rows["Walker2d-v4"][5].startswith(f"{120 / 90:.2f}x")  # the ratio of the means, 40 / 30
    assert rows["Hopper-v4"][5] == "1.00x" and rows["HalfCheetah-v4"][2] == "not run"  # 3 seeds: no interval
    assert rows["Walker2d-v4"][6] == "1: 10 / 30, 2: 20 / 40, 3: 60 / 50 |"  # GMM / DDPM
    wins = lambda x, y: np.mean([[(a > b) + 0.5 * (a == b) for b in y] for a in x])  # noqa: E731
    hand = np.mean([wins(finals["ppo-dap"][env], finals["gmm-prior"][env]) for env in results.FIRST_THREE])
    (verdict,) = [line for line in lines if line.startswith("P(DDPM > GMM)")]
    assert verdict.startswith(f"P(DDPM > GMM) over the three tasks: {hand:.2f} [") and ", seeds 1-3." in verdict


def kind_run(folder, env: str, variant: str, seed: int, value: float, iterations: int, epochs: int) -> None:
    """A hand-made run of one training and one evaluation return throughout."""
    run = folder / f"{env}_seed{seed}" / "runs" / f"{env}__{variant}__{seed}__1000"
    run.mkdir(parents=True)
    run.joinpath("progress.csv").write_text("iteration,charts/episodic_return,time/elapsed_s\n"
                                            + "".join(f"{i},{value},{i}\n" for i in range(1, iterations + 1)))
    run.joinpath("eval.csv").write_text("epoch,mean_return\n" + "".join(f"{e},{value}\n" for e in range(epochs + 1)))


def test_the_dataset_kind_verdict_on_hand_made_runs(tmp_path):
    """Runs on two dataset kinds, 5 seeds on the three tasks. At 40 iterations (AULC@40), on `single` the DDPM
    beats every cheaper prior on every seed (P = 1, ahead); on `replay` the GMM and retrieval beat it on every
    seed (P = 0, behind) and the Gaussian ties it (P = 1/2, not distinguishable). The verdict names each and says
    where the DDPM earns its cost; retrieval alone does better on replay than on single data. The paper's
    ALC@40 comes from the 98-iteration runs only (the `_200k` folders, PPO's from the eight-task table's
    folder), seeds 1-5, where on replay the DDPM beats every rival and on single every rival beats it."""
    base = tmp_path / "benchmarks" / "results" / "data_kinds"
    values = {"single": {"ppo": 1.0, "ppo-dap": 4.0, "gmm-prior": 3.0, "gaussian-prior": 3.0, "knn-prior": 2.0},
              "replay": {"ppo-dap": 2.0, "gmm-prior": 3.0, "gaussian-prior": 2.0, "knn-prior": 3.0}}
    long_values = {"single": {"ppo-dap": 1.0, "gmm-prior": 2.0, "gaussian-prior": 2.0, "knn-prior": 2.0},
                   "replay": {"ppo-dap": 5.0, "gmm-prior": 3.0, "gaussian-prior": 3.0, "knn-prior": 3.0}}
    for env in results.FIRST_THREE:
        for seed in range(1, 6):
            for kind, by_variant in values.items():
                for variant, value in by_variant.items():
                    kind_run(base / kind, env, variant, seed, value, 40, 16)
                for variant, value in long_values[kind].items():
                    if (kind, env, variant, seed) != ("replay", "Walker2d-v4", "knn-prior", 5):  # one run missing
                        kind_run(base / f"{kind}_200k", env, variant, seed, value, 98, 40)
        for seed in range(1, 7):  # PPO's long runs: seed 6 lies outside the comparison
            kind_run(tmp_path / "benchmarks" / "results" / "eight_tasks_final_200k", env, "ppo", seed, 2.0, 98, 40)
        kind_run(base / "replay_200k", env, "ppo-dap", 6, 9.0, 98, 40)  # outside too
        kind_run(base / "single_200k", env, "gmm-prior", 7, 2.0, 98, 30)  # short of epoch 40: no ALC@40
    # the shipped priors' DDPM runs of the eight-task table serve the two-policies kind, and only it
    kind_run(tmp_path / "benchmarks" / "results" / "eight_tasks_final_200k", "Hopper-v4", "ppo-dap", 1, 7.0, 98, 40)
    r = results.Results(str(tmp_path))
    assert list(results.kind_runs(r, "two-policies", "ppo-dap", long=True)) == [("Hopper-v4", 1)]
    assert "eight_tasks_final_200k" not in results.kind_runs(r, "replay", "ppo-dap", long=True)[("Hopper-v4", 1)].path
    assert len(results.kind_runs(r, "replay", "knn-prior", long=True)) == 14
    assert sorted(results.kind_runs(r, "replay", "ppo-dap", long=True)) == [(e, s) for e in sorted(results.FIRST_THREE)
                                                                          for s in range(1, 6)]
    long_ppo, short_ppo = results.kind_runs(r, "replay", "ppo", long=True), results.kind_runs(r, "replay", "ppo")
    assert len(long_ppo) == len(short_ppo) == 15 and all("eight_tasks_final_200k" in run.path for run in long_ppo.values())
    assert all(os.path.join("data_kinds", "single", "") in run.path for run in short_ppo.values())
    assert len(results.kind_runs(r, "single", "gmm-prior", long=True)) == 15
    lines = results.online_data_kinds(r)
    assert "| replay | Walker2d-v4 | 1-5 | 2.50x [2.50, 2.50] | 1.50x [1.50, 1.50] | 1.50x [1.50, 1.50] | " \
        "1.50x (seeds 1-4) |" in lines  # ALC@40 / PPO's; the missing run's cell names its seeds (4: no interval)
    assert "| replay | Hopper-v4 | 1-5 | 2.50x [2.50, 2.50] | 1.50x [1.50, 1.50] | 1.50x [1.50, 1.50] | " \
        "1.50x [1.50, 1.50] |" in lines
    assert "| replay | Walker2d-v4 | 1-5 | 2.00x [2.00, 2.00] | 3.00x [3.00, 3.00] | 2.00x [2.00, 2.00] | " \
        "3.00x [3.00, 3.00] |" in lines  # AULC@40 / PPO's
    (verdict,) = [line for line in lines if line.startswith("**single**")]
    # on ALC@40 the single kind has 5 seeds everywhere (a verdict in words), replay one run short of them (none)
    assert "**single**: the DDPM is ahead of GMM, Gaussian, retrieval; on the paper's ALC@40, behind GMM, Gaussian, " \
        "retrieval." in verdict
    assert "**replay**: the DDPM is behind GMM, retrieval; not distinguishable from Gaussian." in verdict
    assert "On the paper's ALC@40 a kind gets a verdict in words once every task and prior kind has 5 seeds" in verdict
    assert "largest on **single** (1.00, against the " in verdict and "earns its cost only on single data" in verdict
    # ALC@40 judges single only (replay lacks a seed), and there the DDPM is behind: ahead on none of 1 kind
    assert "On the paper's ALC@40 (deterministic evaluation), the DDPM is ahead of every cheaper prior on none of " \
        "the 1 kinds of data." in verdict
    assert verdict.endswith("Seeds in the verdict (those every task and prior kind has): 1-5.")
    assert "| DDPM | 0.00 [0.00, 0.00] |" in lines  # P(replay > single) for the DDPM: 2 against 4 on every seed
    assert "| GMM | 0.50 [0.50, 0.50] |" in lines and "| retrieval | 1.00 [1.00, 1.00] |" in lines
    assert "Ahead of the same prior on single data (the interval above 0.5, with 5 seeds or more): the retrieval " \
        "prior on replay data." in lines
    assert lines[-1] == "" and not any(line.startswith("### At 1M") for line in lines)  # no 1M runs here
    (row,) = [line for line in lines if line.startswith("| replay (")]
    assert row == "| replay (a learning run's whole log) | 1-4 | 0.00 [0.00, 0.00]; 1.00 [1.00, 1.00] | " \
                  "0.50 [0.50, 0.50]; 1.00 [1.00, 1.00] | 0.00 [0.00, 0.00]; 1.00 [1.00, 1.00] |"


def test_same_priors_names_each_prior_whose_weights_or_config_differ(tmp_path):
    import torch
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    for name in ("Hopper-v4.pt", "Hopper-v4-gmm.pt", "Hopper-v4-gaussian.pt", "Hopper-v4-knn.pt"):
        shutil.copy(os.path.join(ROOT, "priors", name), a / name)
        shutil.copy(os.path.join(ROOT, "priors", name), b / name)
    assert results.same_priors(str(a), str(b), ["Hopper-v4"]) == []
    gmm = torch.load(b / "Hopper-v4-gmm.pt", weights_only=False)
    first = next(iter(gmm["state_dict"]))
    gmm["state_dict"][first].view(-1)[0] += 1e-6  # one number of one tensor
    torch.save(gmm, b / "Hopper-v4-gmm.pt")
    ddpm = torch.load(b / "Hopper-v4.pt", weights_only=False)
    ddpm["config"]["hidden_dim"] += 1  # the same tensors cannot be another network
    torch.save(ddpm, b / "Hopper-v4.pt")
    assert results.same_priors(str(a), str(b), ["Hopper-v4"]) == ["Hopper-v4.pt", "Hopper-v4-gmm.pt"]


def test_dataset_flag_reads_the_pretraining_command():
    command = "pretrain_prior.py --dataset data/x/two-policies/Ant-v4.npz --env-id Ant-v4 --output priors/Ant-v4.pt"
    assert results.dataset_flag(command) == "data/x/two-policies/Ant-v4.npz"


def test_not_on_dataset_names_each_prior_pretrained_on_other_data():
    import json
    record = json.load(open(os.path.join(ROOT, "benchmarks", "results", "data_kinds", "datasets.json")))
    priors = os.path.join(ROOT, "priors")
    assert results.not_on_dataset(priors, ["Hopper-v4", "Ant-v4"], record, "two-policies") == []
    assert results.not_on_dataset(priors, ["Hopper-v4"], record, "single") == [
        "Hopper-v4.pt", "Hopper-v4-gmm.pt", "Hopper-v4-gaussian.pt", "Hopper-v4-knn.pt"]
    record["files"]["two-policies/Ant-v4.npz"]["sha256"] = "0" * 64  # another Ant-v4 dataset
    assert results.not_on_dataset(priors, ["Hopper-v4", "Ant-v4"], record, "two-policies") == [
        "Ant-v4.pt", "Ant-v4-gmm.pt", "Ant-v4-gaussian.pt", "Ant-v4-knn.pt"]


def test_no_gain_is_called_on_fewer_than_five_seeds_and_empty_interval_headers_drop_their_95():
    """4 seeds, each ten times PPO's: the Student-t interval excludes 0, but no bootstrap interval exists,
    so `above_one` calls nothing; with a fifth seed it calls the gain. A column whose cells have no
    interval loses "[95%]" from its header; a column with one keeps it."""
    base = np.array([1.0, 1.1, 0.9, 1.2, 1.0])
    assert not results.above_one(base[:4], 10 * base[:4]) and results.above_one(base, 10 * base)
    assert not results.above_one(base, 0.5 * base)
    lines = results.table(["task", "a / PPO [95%]", "b / PPO [95%]"],
                          [["E", results.gain(base[:3], 2 * base[:3]), results.gain(base, 2 * base)]])
    assert lines[0] == "| task | a / PPO | b / PPO [95%] |"
    assert lines[2] == "| E | 2.00x | 2.00x [2.00, 2.00] |"

