"""benchmarks/compare.py: the metric code on hand-made files, and a tiny end-to-end comparison."""

import csv
import dataclasses
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
sys.path[:0] = [BENCHMARKS, os.path.join(BENCHMARKS, "dev")]
import compare  # noqa: E402


def progress_rows(returns):
    return [{"iteration": str(i + 1), "charts/episodic_return": "" if r is None else str(r)}
            for i, r in enumerate(returns)]


def test_aulc_is_mean_of_first_n_iteration_returns():
    rows = progress_rows([1.0, 2.0, 3.0, 4.0, 100.0])
    assert compare.aulc(rows, 4) == pytest.approx(2.5)


def test_aulc_carries_forward_and_skips_leading_empty_iterations():
    rows = progress_rows([None, 2.0, None, 6.0])
    assert compare.aulc(rows, 4) == pytest.approx((2.0 + 2.0 + 6.0) / 3)


def test_aulc_refuses_short_runs():
    with pytest.raises(ValueError, match="needs 40 iterations, the run has 3"):
        compare.aulc(progress_rows([1.0, 2.0, 3.0]), 40)


def test_last_episodes_mean():
    episodes = [{"episodic_return": str(r)} for r in range(200)]
    assert compare.last_episodes_mean(episodes) == pytest.approx(np.mean(range(100, 200)))
    assert compare.last_episodes_mean(episodes[:10], n=100) == pytest.approx(4.5)


def test_median_iqr_pairs_and_bootstrap():
    assert compare.median_iqr([1, 2, 3, 4, 5]) == (3.0, 2.0, 4.0)
    t, b = compare.paired({1: 2.0, 2: 3.0, 3: 9.0}, {1: 1.0, 2: 2.0, 4: 5.0})
    np.testing.assert_allclose(t, [2.0, 3.0])  # only seeds both have, in seed order
    np.testing.assert_allclose(b, [1.0, 2.0])
    low, high = compare.bootstrap_ci([1.2] * 5)
    assert low == pytest.approx(1.2) and high == pytest.approx(1.2)
    assert np.isnan(compare.bootstrap_ci([1.0, 2.0, 3.0, 4.0])).all()  # 4 pairs: too few for an interval
    values = np.random.default_rng(0).normal(1.3, 0.1, size=20)
    low, high = compare.bootstrap_ci(values)
    assert low < values.mean() < high and high - low < 0.15
    assert compare.bootstrap_ci(values) == compare.bootstrap_ci(values)  # seeded


def test_ratio_of_means_interval_resamples_pairs():
    """Every resample of seed pairs whose ratio per seed is 2 has a ratio of means of 2; unpaired
    resampling would spread it. With one pair far from the others, the interval spans the ratios of means
    of the resamples with and without it, not the ratios per seed."""
    low, high = compare.ratio_of_means_ci([2.0, 40.0, 6.0, 8.0, 0.5], [1.0, 20.0, 3.0, 4.0, 0.25])
    assert low == pytest.approx(2.0) and high == pytest.approx(2.0)
    t, b = np.array([1.0, 1.0, 1.0, 1.0, 100.0]), np.array([2.0, 2.0, 2.0, 2.0, 10.0])  # ratios 0.5 (x4), 10
    low, high = compare.ratio_of_means_ci(t, b)
    assert low == pytest.approx(0.5) and 5.0 < high < 10.0  # 10 only if a resample were that pair alone, 5 times
    assert low < t.mean() / b.mean() < high
    assert np.isnan(compare.ratio_of_means_ci(t[:4], b[:4])).all()  # 4 pairs: too few for an interval

def test_tabulate_pairs_by_seed():
    runs = []
    for seed, (ppo, dap) in enumerate([(10.0, 12.0), (20.0, 30.0)], start=1):
        for variant, value in (("ppo", ppo), ("ppo-dap", dap)):
            runs.append({"env_id": "E", "variant": variant, "seed": seed, "aulc": value, "final_return": value,
                         "eval_return": value, "train_s": value, "wall_s": value, "peak_rss_mb": value})
    summary, ratios = compare.tabulate(runs, ["ppo", "ppo-dap"], 40)
    assert [r["aulc"] for r in summary] == [15.0, 21.0]
    aulc_ratio = [r for r in ratios if r["metric"] == "aulc"][0]
    assert aulc_ratio["ratio"] == pytest.approx((12.0 + 30.0) / (10.0 + 20.0)) and aulc_ratio["pairs"] == 2
    assert aulc_ratio["per_seed"] == "1.200 1.500"
    assert aulc_ratio["mean_difference"] == pytest.approx((2.0 + 10.0) / 2)


def test_tabulate_skips_a_variant_an_env_did_not_run():
    """Pooled invocations: RPO ran on env A only; env B gets no RPO row and no crash."""
    runs = [{"env_id": env, "variant": variant, "seed": 1, "aulc": 10.0, "final_return": 10.0, "eval_return": 10.0,
             "train_s": 1.0, "wall_s": 1.0, "peak_rss_mb": 1.0}
            for env, variant in (("A", "ppo"), ("A", "rpo"), ("B", "ppo"))]
    summary, ratios = compare.tabulate(runs, ["ppo", "rpo"], 40)
    assert [(r["env_id"], r["variant"]) for r in summary] == [("A", "ppo"), ("A", "rpo"), ("B", "ppo")]
    assert {r["env_id"] for r in ratios} == {"A"}


def test_peak_gpu_memory_is_tabulated_only_when_measured():
    def runs_with(gpu_values):
        return [{"env_id": "E", "variant": v, "seed": 1, "aulc": 1.0, "final_return": 1.0, "eval_return": 1.0,
                 "train_s": 1.0, "wall_s": 1.0, "peak_rss_mb": 1.0, "peak_gpu_mb": g}
                for v, g in zip(("ppo", "ppo-dap"), gpu_values)]

    cpu_summary, cpu_ratios = compare.tabulate(runs_with([float("nan")] * 2), ["ppo", "ppo-dap"], 40)
    assert "peak_gpu_mb" not in cpu_summary[0] and all(r["metric"] != "peak_gpu_mb" for r in cpu_ratios)
    gpu_summary, gpu_ratios = compare.tabulate(runs_with([100.0, 105.0]), ["ppo", "ppo-dap"], 40)
    assert gpu_summary[1]["peak_gpu_mb"] == 105.0
    assert [r["ratio"] for r in gpu_ratios if r["metric"] == "peak_gpu_mb"] == [pytest.approx(1.05)]


def test_no_ratio_when_the_baseline_is_not_positive():
    runs = [{"env_id": "E", "variant": v, "seed": 1, "aulc": x, "final_return": x, "eval_return": x, "train_s": 1.0,
             "wall_s": 1.0, "peak_rss_mb": 1.0} for v, x in (("ppo", -100.0), ("ppo-dap", 50.0))]
    _, ratios = compare.tabulate(runs, ["ppo", "ppo-dap"], 40)
    aulc_row = [r for r in ratios if r["metric"] == "aulc"][0]
    assert np.isnan(aulc_row["ratio"]) and "n/a" in aulc_row["per_seed"]
    assert aulc_row["mean_difference"] == 150.0


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """A tiny comparison with the local launcher: (its Args, its runs)."""
    args = compare.Args(env_ids=["Walker2d-v4"], seeds=[1, 2], variants=["ppo", "ppo-dap"], total_timesteps=512,
                        eval_episodes=1, out_dir=str(tmp_path_factory.mktemp("tiny") / "out"), aulc_iterations=4,
                        extra_flags="--num-steps 128 --num-minibatches 2 --update-epochs 1 --proposal-states 16 "
                                    "--num-proposals 2 --prior-anneal-steps 512 --no-cuda")
    return args, compare.main(args)


def test_compare_end_to_end_tiny(tiny_runs):
    args, runs = tiny_runs
    folder = Path(args.out_dir).parent
    assert len(runs) == 4 and all(0 < r["train_s"] < r["wall_s"] and r["peak_rss_mb"] > 50 for r in runs)
    with open(folder / "out" / "results.csv") as f:
        summary = list(csv.DictReader(f))
    assert [(r["variant"], r["seeds"]) for r in summary] == [("ppo", "2"), ("ppo-dap", "2")]
    text = (folder / "out" / "results.md").read_text()
    assert "AULC@4" in text and "Machine:" in text and "ppo-dap" in text
    dap_progress = [r for r in runs if r["variant"] == "ppo-dap"][0]["run_dir"]
    with open(os.path.join(dap_progress, "progress.csv")) as f:
        assert "losses/imitation" in f.readline()

    # the same runs, split by seed into two runs.csv files and pooled, give the same tables
    with open(folder / "out" / "runs.csv") as f:
        rows = list(csv.DictReader(f))
    for seed in ("1", "2"):
        with open(folder / f"runs{seed}.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(r for r in rows if r["seed"] == seed)
    pooled = compare.main(compare.Args(pool_runs=[str(folder / "runs1.csv"), str(folder / "runs2.csv")],
                                       out_dir=str(folder / "pooled"), aulc_iterations=4))
    assert sorted((r["variant"], r["seed"]) for r in pooled) == sorted((r["variant"], r["seed"]) for r in runs)
    for name in ("results.csv", "ratios.csv"):
        assert (folder / "pooled" / name).read_text() == (folder / "out" / name).read_text()
    assert "Runs pooled from" in (folder / "pooled" / "results.md").read_text()
    # --pool-seeds keeps only the named seeds' runs
    seed2 = compare.main(compare.Args(pool_runs=[str(folder / "out" / "runs.csv")], pool_seeds=[2],
                                      out_dir=str(folder / "seed2"), aulc_iterations=4))
    assert sorted((r["variant"], r["seed"]) for r in seed2) == [("ppo", 2), ("ppo-dap", 2)]
    assert "seeds 2." in (folder / "seed2" / "results.md").read_text()


def test_unknown_variant_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="--variants nope unknown"):
        compare.main(compare.Args(variants=["nope"], out_dir=str(tmp_path)))


def test_runs_shorter_than_the_paper_s_budget_get_their_table_with_the_lengths_they_have(tmp_path, capsys):
    """The paper's ALC@40 needs 40 evaluation epochs and AULC@40 40 iterations. Runs that have fewer (here 4
    iterations of 128 steps, evaluated every 128 steps through --extra-flags, as a user wrote it) still get
    their table, with AULC@4 and ALC@4 over what they have and one line saying why."""
    args = compare.Args(env_ids=["Pendulum-v1"], seeds=[1], variants=["ppo"], total_timesteps=512, eval_episodes=1,
                        out_dir=str(tmp_path / "out"),
                        extra_flags="--eval-every 128 --num-steps 128 --num-minibatches 2 --update-epochs 1 --no-cuda")
    (run,) = compare.main(args)
    out = capsys.readouterr().out
    assert "ALC@4 in place of the paper's ALC@40: the runs evaluated up to epoch 4 only" in out
    assert "AULC@4 in place of AULC@40: the shortest run has 4 iterations" in out
    table = (tmp_path / "out" / "results.md").read_text()
    assert "| AULC@4 | ALC@4 (paper) |" in table
    rows = compare.read_csv(os.path.join(run["run_dir"], "eval.csv"))
    y = [float(r["mean_return"]) for r in rows]
    assert run["alc"] == pytest.approx(sum((a + b) / 2 for a, b in zip(y[:4], y[1:5])))  # epochs 0..4
    progress = compare.read_csv(os.path.join(run["run_dir"], "progress.csv"))
    assert run["aulc"] == pytest.approx(compare.aulc(progress, 4))


def test_cleanrl_log_is_reduced_like_our_progress_files():
    import cleanrl_side_by_side as sbs

    # Two iterations of 4 steps: episodes end at steps 2 and 4 (iteration 1) and 8 (iteration 2).
    log = ("some warning\nglobal_step=2, episodic_return=1.0\nglobal_step=4, episodic_return=3.0\nSPS: 100\n"
           "global_step=8, episodic_return=[10.5]\nSPS: 120\n")
    progress, episodes, sps = sbs.cleanrl_progress(log, num_steps=4)
    assert [r["iteration"] for r in progress] == ["1", "2"]
    assert [float(r["charts/episodic_return"]) for r in progress] == [2.0, 10.5]
    assert [e["episodic_return"] for e in episodes] == [1.0, 3.0, 10.5]
    assert sps == 120
    assert compare.aulc(progress, 2) == pytest.approx((2.0 + 10.5) / 2)
    assert compare.last_episodes_mean(episodes, n=2) == pytest.approx((3.0 + 10.5) / 2)


def test_permutation_pvalue():
    import cleanrl_side_by_side as sbs

    assert sbs.permutation_pvalue([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == 1.0
    # 4 vs 4 fully separated: only the 2 of the C(8, 4) = 70 splits that keep the groups are as extreme
    assert sbs.permutation_pvalue([0.0, 1.0, 2.0, 3.0], [10.0, 11.0, 12.0, 13.0]) == pytest.approx(2 / 70, abs=0.004)
    assert sbs.permutation_pvalue([0.0, 1.0], [5.0, 6.0], seed=3) == sbs.permutation_pvalue([0.0, 1.0], [5.0, 6.0], seed=3)


# ---------------------------------------------------------------- the paper's protocol
def test_alc_is_the_trapezoid_area_over_epochs_0_to_n():
    rows = [{"epoch": str(e), "mean_return": str(float(e * e))} for e in range(5)]  # y = 0, 1, 4, 9, 16
    assert compare.alc(rows, 4) == pytest.approx((0 + 1) / 2 + (1 + 4) / 2 + (4 + 9) / 2 + (9 + 16) / 2)
    with pytest.raises(ValueError, match="missing"):
        compare.alc(rows[:3], 4)


def test_student_t_interval_and_exact_wilcoxon_by_hand():
    low, high = compare.student_t_ci([1.0, 2.0, 3.0])  # mean 2, sd 1, t_{0.975, 2} = 4.303
    assert (low, high) == (pytest.approx(2 - 4.303 / np.sqrt(3)), pytest.approx(2 + 4.303 / np.sqrt(3)))
    # 3 positive differences: only 1 of the 8 sign patterns is as extreme on each side -> p = 2/8
    assert compare.wilcoxon_p([1.0, 2.0, 3.0]) == pytest.approx(0.25)
    assert compare.wilcoxon_p([1.0, -2.0, 3.0]) == pytest.approx(0.75)  # W+ = 4; sums 0,1,2,4,5,6 of 0..6 as far from 3
    assert compare.wilcoxon_p([5.0, 6.0, 7.0, 8.0, 9.0]) == pytest.approx(2 / 32)


def test_speed_tables_pair_runs_and_keep_the_batch_for_vector_envs(tmp_path, monkeypatch):
    """benchmarks/speed.py with a stand-in CleanRL script (prints SPS lines as CleanRL's does) and tiny
    real runs of ours: the ratios are ours / CleanRL per pair, and every vector-env run has batch 2048."""
    import speed

    fake = tmp_path / "fake_cleanrl.py"
    fake.write_text("print('SPS: 50')\nprint('SPS: 100')\n")
    seen = []
    real_run_ours = speed.run_ours

    def tiny_run_ours(args, env_id, seed, flags):
        seen.append(flags)
        n = int(flags.split("--num-envs ")[1].split()[0]) if "--num-envs" in flags else 1
        return real_run_ours(args, env_id, seed, flags.replace(f"--num-steps {2048 // n}", f"--num-steps {256 // n}")
                             + f" --num-steps {256 // n} --num-minibatches 4 --update-epochs 1")

    monkeypatch.setattr(speed, "run_ours", tiny_run_ours)
    args = speed.Args(env_ids=["Pendulum-v1"], pairs=2, total_timesteps=256, cleanrl_script=str(fake), dap_variants=[],
                      vector_envs=[2], vector_env_id="Pendulum-v1", out_dir=str(tmp_path / "out"))
    rows = speed.main(args)
    cleanrl = [r for r in rows if r["kind"] == "cleanrl"]
    assert [(r["seed"], r["impl"]) for r in cleanrl] == [(1, "ours"), (1, "cleanrl"), (2, "cleanrl"), (2, "ours")]
    assert all(r["sps"] == 100.0 for r in cleanrl if r["impl"] == "cleanrl")  # the last SPS line
    ours = [r["sps"] for r in cleanrl if r["impl"] == "ours"]
    table = open(tmp_path / "out" / "speed.md").read()
    assert f"**{np.mean(ours) / 100:.3f}**" in table
    assert [r["impl"] for r in rows if r["kind"] == "vector"] == ["sync-2"]
    assert any("--num-envs 2 --num-steps 1024" in f for f in seen)


def test_same_rows_compares_the_numbers_not_their_printing():
    import same_numbers

    old = [{"loss": "-0.39875817", "kl": "", "r": "1.5"}]
    assert same_numbers.same_rows(old, [{"loss": "-0.3987581729888916", "kl": "", "r": "1.5", "time/eval_s": "0"}])
    assert not same_numbers.same_rows(old, [{"loss": "-0.3987582", "kl": "", "r": "1.5"}])  # another float32
    assert not same_numbers.same_rows(old, [{"loss": "-0.39875817", "kl": "0.1", "r": "1.5"}])
    assert not same_numbers.same_rows(old, old + old)


def test_same_numbers_tells_an_unchanged_copy_from_a_changed_one(tmp_path):
    import shutil

    import same_numbers

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for name, edit in (("unchanged", lambda t: t), ("changed", lambda t: t.replace("learning_rate: float = 3e-4", "learning_rate: float = 3e-3"))):
        other = tmp_path / name
        other.mkdir()
        shutil.copy(os.path.join(root, "pretrain_prior.py"), other)
        text = open(os.path.join(root, "ppo_dap.py")).read()
        (other / "ppo_dap.py").write_text(edit(text))
        args = same_numbers.Args(code_dir=str(other), env_id="Pendulum-v1", seeds=[3], total_timesteps=512,
                                 flags="--imitation-coef 0 --num-steps 256 --num-minibatches 4 --update-epochs 1")
        assert same_numbers.main(args) == (name == "unchanged")


def test_the_ray_launcher_writes_the_local_launcher_s_runs_retries_a_killed_worker_and_lists_failed_runs(
        tmp_path, tiny_runs):
    """The tiny comparison's runs of seed 1 again on a local Ray instance, with a GMM-prior run whose prior file
    is damaged. The worker of the PPO-DAP run is killed once it has started ppo_dap.py: Ray starts the task
    again. Both runs equal the local launcher's (every logged number but the timings, the weights, the
    metrics); the GMM-prior run is listed as failed under the tables, and the call ends with status 1 after
    writing them."""
    import signal
    import threading
    import time

    import same_numbers

    killed = []

    def kill_the_first_dap_worker():
        deadline = time.time() + 120
        while not killed and time.time() < deadline:
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    cmdline = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
                    parent = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
                except (FileNotFoundError, ProcessLookupError):  # the process ended while we looked
                    continue
                # only a Ray task's run (its runs folder is `runs`, in the task's temporary folder), never another
                # ppo_dap.py on this machine
                ray_task = b"--runs-dir" in cmdline and cmdline[cmdline.index(b"--runs-dir") + 1] == b"runs"
                if ray_task and b"ppo_dap.py" in cmdline and b"Walker2d-v4" in cmdline and b"ppo-dap" in cmdline:
                    os.kill(parent, signal.SIGKILL)  # the Ray worker
                    os.kill(int(pid), signal.SIGKILL)  # and its ppo_dap.py
                    killed.append(pid)
                    break
            time.sleep(0.05)

    local_args, local_runs = tiny_runs
    watcher = threading.Thread(target=kill_the_first_dap_worker)
    watcher.start()
    priors = tmp_path / "priors"  # the shipped DDPM, and a damaged GMM prior: that run fails at its start
    priors.mkdir()
    shutil.copy(os.path.join(os.path.dirname(BENCHMARKS), "priors", "Walker2d-v4.pt"), priors)
    (priors / "Walker2d-v4-gmm.pt").write_bytes(b"not a prior")
    args = dataclasses.replace(local_args, seeds=[1], variants=["ppo", "ppo-dap", "gmm-prior"], launcher="ray",
                               priors_dir=str(priors), out_dir=str(tmp_path / "ray"))
    with pytest.raises(SystemExit, match="1 of 3 runs failed"):
        compare.main(args)
    watcher.join()
    assert killed
    runs = {r["variant"]: r for r in compare.read_runs(str(tmp_path / "ray" / "runs.csv"))}
    local = {r["variant"]: r for r in local_runs if r["seed"] == 1}
    assert sorted(runs) == ["ppo", "ppo-dap"]
    for variant, run in runs.items():
        assert run["run_dir"].startswith(str(tmp_path / "ray" / "runs" / "Walker2d-v4" / variant))
        progress, episodes, weights = same_numbers.logged(run["run_dir"])
        progress0, episodes0, weights0 = same_numbers.logged(local[variant]["run_dir"])
        assert same_numbers.same_rows(progress, progress0) and same_numbers.same_rows(episodes, episodes0)
        assert weights.keys() == weights0.keys() and all(torch.equal(weights[k], weights0[k]) for k in weights0)
        for key in ("aulc", "final_return", "eval_return"):
            assert run[key] == local[variant][key]
        assert run["peak_rss_mb"] > 50 and 0 < run["train_s"] < run["wall_s"]
    table = (tmp_path / "ray" / "results.md").read_text()
    assert "| Walker2d-v4 | ppo-dap | 1 |" in table and "gmm-prior |" not in table.split("Failed runs")[0]
    assert "Failed runs (1), left out of the tables above:" in table and "- Walker2d-v4 gmm-prior seed 1: exit status 1" in table


def test_a_missing_prior_is_named_before_any_run(tmp_path):
    with pytest.raises(SystemExit, match=r"no prior at .*priors/Nope-v0.pt \(ppo-dap\), .*Nope-v0-gmm.pt \(gmm-prior\); "):
        compare.main(compare.Args(env_ids=["Nope-v0"], variants=["ppo", "ppo-dap", "gmm-prior"], out_dir=str(tmp_path / "out")))
    assert not (tmp_path / "out").exists()


def test_without_ray_the_ray_launcher_stops_with_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(compare.importlib.util, "find_spec", lambda name: None)  # as if Ray were not installed
    with pytest.raises(SystemExit, match=r"--launcher ray needs Ray; install it with `pip install -r requirements-bench.txt`"):
        compare.main(compare.Args(launcher="ray", out_dir=str(tmp_path / "out")))
    assert not (tmp_path / "out").exists()


def test_speed_pairs_each_dap_variant_with_ppo(tmp_path, monkeypatch):
    """Measurement 2 of benchmarks/speed.py for two prior kinds, with a stand-in for the runs: each variant's
    own flags (its prior from --priors-dir) against PPO's, a table per variant with SPS ratios per pair."""
    import speed

    seen = []

    def fake_run_ours(args, env_id, seed, flags):
        seen.append(flags)
        return 50.0 if "--prior-path" in flags else 100.0

    monkeypatch.setattr(speed, "run_ours", fake_run_ours)
    rows = speed.main(speed.Args(env_ids=["Hopper-v4"], pairs=2, dap_variants=["ppo-dap", "knn-prior"],
                                 priors_dir="elsewhere", vector_envs=[], out_dir=str(tmp_path)))
    assert [(r["kind"], r["impl"]) for r in rows] == [("dap", "ppo-dap"), ("dap", "ppo"), ("dap", "ppo"),
                                                      ("dap", "ppo-dap"), ("knn-prior", "knn-prior"),
                                                      ("knn-prior", "ppo"), ("knn-prior", "ppo"), ("knn-prior", "knn-prior")]
    assert "--prior-path elsewhere/Hopper-v4.pt" in seen[0] and "--prior-path elsewhere/Hopper-v4-knn.pt --peft none" in seen[4]
    table = (tmp_path / "speed.md").read_text()
    assert "## knn-prior vs PPO, inside the DAP phase" in table and table.count("**0.500**") == 2
