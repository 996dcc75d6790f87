"""benchmarks/compare.py: the metric code on hand-made files, and a tiny end-to-end comparison."""

import csv
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
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


def test_median_iqr_paired_ratios_and_bootstrap():
    assert compare.median_iqr([1, 2, 3, 4, 5]) == (3.0, 2.0, 4.0)
    ratios = compare.paired_ratios({1: 2.0, 2: 3.0, 3: 9.0}, {1: 1.0, 2: 2.0, 4: 5.0})
    np.testing.assert_allclose(ratios, [2.0, 1.5])  # only seeds both have, in seed order
    low, high = compare.bootstrap_ci([1.2, 1.2, 1.2])
    assert low == pytest.approx(1.2) and high == pytest.approx(1.2)
    values = np.random.default_rng(0).normal(1.3, 0.1, size=20)
    low, high = compare.bootstrap_ci(values)
    assert low < values.mean() < high and high - low < 0.15
    assert compare.bootstrap_ci(values) == compare.bootstrap_ci(values)  # seeded


def test_tabulate_pairs_by_seed():
    runs = []
    for seed, (ppo, dap) in enumerate([(10.0, 12.0), (20.0, 30.0)], start=1):
        for variant, value in (("ppo", ppo), ("ppo-dap", dap)):
            runs.append({"env_id": "E", "variant": variant, "seed": seed, "aulc": value, "final_return": value,
                         "eval_return": value, "train_s": value, "wall_s": value, "peak_rss_mb": value})
    summary, ratios = compare.tabulate(runs, ["ppo", "ppo-dap"], 40)
    assert [r["aulc"] for r in summary] == [15.0, 21.0]
    aulc_ratio = [r for r in ratios if r["metric"] == "aulc"][0]
    assert aulc_ratio["mean_ratio"] == pytest.approx((1.2 + 1.5) / 2) and aulc_ratio["pairs"] == 2
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
    assert [r["mean_ratio"] for r in gpu_ratios if r["metric"] == "peak_gpu_mb"] == [pytest.approx(1.05)]


def test_no_ratio_when_the_baseline_is_not_positive():
    runs = [{"env_id": "E", "variant": v, "seed": 1, "aulc": x, "final_return": x, "eval_return": x, "train_s": 1.0,
             "wall_s": 1.0, "peak_rss_mb": 1.0} for v, x in (("ppo", -100.0), ("ppo-dap", 50.0))]
    _, ratios = compare.tabulate(runs, ["ppo", "ppo-dap"], 40)
    aulc_row = [r for r in ratios if r["metric"] == "aulc"][0]
    assert np.isnan(aulc_row["mean_ratio"]) and "n/a" in aulc_row["per_seed"]
    assert aulc_row["mean_difference"] == 150.0


def test_compare_end_to_end_tiny(tmp_path):
    args = compare.Args(env_ids=["Walker2d-v4"], seeds=[1, 2], variants=["ppo", "ppo-dap"], total_timesteps=512,
                        eval_episodes=1, out_dir=str(tmp_path / "out"), aulc_iterations=4,
                        extra_flags="--num-steps 128 --num-minibatches 2 --update-epochs 1 --proposal-states 16 "
                                    "--num-proposals 2 --prior-anneal-steps 512 --no-cuda")
    runs = compare.main(args)
    assert len(runs) == 4 and all(0 < r["train_s"] < r["wall_s"] and r["peak_rss_mb"] > 50 for r in runs)
    with open(tmp_path / "out" / "results.csv") as f:
        summary = list(csv.DictReader(f))
    assert [(r["variant"], r["seeds"]) for r in summary] == [("ppo", "2"), ("ppo-dap", "2")]
    text = (tmp_path / "out" / "results.md").read_text()
    assert "AULC@4" in text and "Machine:" in text and "ppo-dap" in text
    dap_progress = [r for r in runs if r["variant"] == "ppo-dap"][0]["run_dir"]
    with open(os.path.join(dap_progress, "progress.csv")) as f:
        assert "losses/imitation" in f.readline()

    # the same runs, split by seed into two runs.csv files and pooled, give the same tables
    with open(tmp_path / "out" / "runs.csv") as f:
        rows = list(csv.DictReader(f))
    for seed in ("1", "2"):
        with open(tmp_path / f"runs{seed}.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(r for r in rows if r["seed"] == seed)
    pooled = compare.main(compare.Args(pool_runs=[str(tmp_path / "runs1.csv"), str(tmp_path / "runs2.csv")],
                                       out_dir=str(tmp_path / "pooled"), aulc_iterations=4))
    assert sorted((r["variant"], r["seed"]) for r in pooled) == sorted((r["variant"], r["seed"]) for r in runs)
    for name in ("results.csv", "ratios.csv"):
        assert (tmp_path / "pooled" / name).read_text() == (tmp_path / "out" / name).read_text()
    assert "Runs pooled from" in (tmp_path / "pooled" / "results.md").read_text()
    # --pool-seeds keeps only the named seeds' runs
    seed2 = compare.main(compare.Args(pool_runs=[str(tmp_path / "out" / "runs.csv")], pool_seeds=[2],
                                      out_dir=str(tmp_path / "seed2"), aulc_iterations=4))
    assert sorted((r["variant"], r["seed"]) for r in seed2) == [("ppo", 2), ("ppo-dap", 2)]
    assert "seeds 2." in (tmp_path / "seed2" / "results.md").read_text()


def test_unknown_variant_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="--variants nope unknown"):
        compare.main(compare.Args(variants=["nope"], out_dir=str(tmp_path)))


def test_a_budget_too_short_for_alc_is_refused_before_any_run(tmp_path):
    """--eval-every 5000 at 40 iterations (81,920 steps) reaches epoch 16 only: ALC@40 cannot be computed,
    so compare stops before spending the runs (it once crashed after them, leaving no tables)."""
    with pytest.raises(SystemExit, match="ALC@40 needs 200000 steps at --eval-every 5000"):
        compare.main(compare.Args(total_timesteps=81920, eval_every=5000, out_dir=str(tmp_path / "out")))
    assert not (tmp_path / "out").exists()


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
    args = speed.Args(env_ids=["Pendulum-v1"], pairs=2, total_timesteps=256, cleanrl_script=str(fake), dap=False,
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


def write_runs(path, rows):
    """A runs.csv as compare.py writes it, from (env, variant, seed, aulc, train_s) rows (the returns = aulc)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    keys = ["env_id", "variant", "seed", "wall_s", "peak_rss_mb", "run_dir", "aulc", "alc", "final_return",
            "eval_return", "train_s", "peak_gpu_mb"]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        for env, variant, seed, aulc, train_s in rows:
            writer.writerow(dict(env_id=env, variant=variant, seed=seed, wall_s=train_s, peak_rss_mb=100.0,
                                 run_dir="x", aulc=aulc, alc="", final_return=aulc, eval_return=aulc,
                                 train_s=train_s, peak_gpu_mb=""))


def test_eight_task_table_pools_the_folders_and_calls_each_task(tmp_path, monkeypatch, capsys):
    import eight_tasks

    write_runs(str(tmp_path / "aulc40_release" / "runs.csv"),
               [("Walker2d-v4", "ppo", s, 100.0 + s, 10.0) for s in (1, 2, 3)]
               + [("Walker2d-v4", "ppo-dap", s, 1.5 * (100.0 + s), 12.0) for s in (1, 2, 3)]
               + [("Hopper-v4", v, s, 100.0, 10.0) for v in ("ppo", "ppo-dap") for s in (1, 2, 3)])  # the old prior
    # Hopper-v4 with its new prior: PPO-DAP at 2x PPO; the old-prior rows above and below must be left out
    write_runs(str(tmp_path / "aulc40_strong" / "runs.csv"),
               [("HalfCheetah-v4", "ppo", s, -100.0, 10.0) for s in (1, 2, 3)]
               + [("HalfCheetah-v4", "ppo-dap", s, 200.0 + s, 11.0) for s in (1, 2, 3)]
               + [("Hopper-v4", "ppo", s, 100.0 + s, 10.0) for s in (1, 2, 3)]
               + [("Hopper-v4", "ppo-dap", s, 2 * (100.0 + s), 13.0) for s in (1, 2, 3)])
    write_runs(str(tmp_path / "baselines_40it_hc" / "seed1" / "runs.csv"),
               [("Hopper-v4", "rpo", 1, 90.0, 10.0), ("Hopper-v4", "knn-prior", 1, 500.0, 10.0)])
    write_runs(str(tmp_path / "eight_tasks_40it" / "Swimmer-v4" / "runs.csv"),
               [("Swimmer-v4", v, s, (50.0 + s) * (1.0 if v == "ppo" else 0.8), 10.0) for v in ("ppo", "ppo-dap") for s in (1, 2, 3)])
    # RPO above PPO-DAP on every Walker2d-v4 seed (161-163 against 151.5-154.5): RPO is the best baseline there
    write_runs(str(tmp_path / "baselines_40it" / "runs.csv"), [("Walker2d-v4", "rpo", s, 160.0 + s, 10.0) for s in (1, 2, 3)])
    monkeypatch.setattr(eight_tasks, "RESULTS", str(tmp_path))
    monkeypatch.setattr(eight_tasks.summarise_1m, "RESULTS", str(tmp_path))
    monkeypatch.setattr(eight_tasks.summarise_1m, "RUNS", {})  # no 1M runs
    eight_tasks.main()
    out = capsys.readouterr().out
    first, second = out.split("| task | AULC@40 vs PPO")
    rows = {line.split(" | ")[0].lstrip("| "): line for line in first.splitlines() if line.startswith("| ")}
    against = {line.split(" | ")[0].lstrip("| "): line for line in second.splitlines() if line.startswith("| ")}
    assert "| 1.59x [" in against["Walker2d-v4"] and "| 0 of 3 (best: RPO) |" in against["Walker2d-v4"]
    assert "| not run |" in against["HalfCheetah-v4"] and "| 3 of 3 (best: PPO) |" in against["HalfCheetah-v4"]
    # Hopper-v4: only the runs with the shipped prior count (2.00x, not 1.00x); RPO (no prior) is kept, the
    # retrieval prior's run with the old data is not
    assert "2.00x [" in rows["Hopper-v4"] and "| 1.30 |" in rows["Hopper-v4"]
    assert "| 2.00x [2.00, 2.00] | 0.89x [nan, nan] | earlier prior only | earlier prior only | 3 of 3 (best: PPO) |" in against["Hopper-v4"]
    assert "| 0 of 3 (best: PPO) |" in against["Swimmer-v4"]
    # HalfCheetah-v4 and Hopper-v4 above the best baseline on every seed; no 1M runs
    assert "on every seed at 40 iterations on 2 tasks" in out and "on 0 of the 0 tasks run at 1M" in out
    assert "1.50x" in rows["Walker2d-v4"] and "| better |" in rows["Walker2d-v4"] and "| 1.20 |" in rows["Walker2d-v4"]
    assert "+302 [" in rows["HalfCheetah-v4"] and "(difference)" in rows["HalfCheetah-v4"]  # PPO's AULC is negative
    assert "| worse |" in rows["Swimmer-v4"]  # below PPO on every seed
    assert "not run" in rows["Ant-v4"]
    # a side is called only where the bootstrap and the Student-t interval agree
    assert eight_tasks.verdict((0.03, 0.37), (-0.09, 0.47)) == "no difference shown"
    assert eight_tasks.verdict((0.03, 0.37), (0.01, 0.47)) == "better"
    assert (tmp_path / "eight_tasks_40it" / "pooled" / "results.md").exists()


def test_1m_table_finds_both_folder_layouts_and_compares_costs_only_side_by_side(tmp_path, monkeypatch, capsys):
    import summarise_1m

    def write_run(folder, env, variant, seed, start, level, train_s, rss):
        """A fake 1M run: 50 iterations at `level` (PPO-DAP one higher from iteration 1), episodes at `level`,
        and the runs.csv compare.py writes beside runs/."""
        run = folder / "runs" / env / variant / f"{env}__{variant}__{seed}__{start}"
        os.makedirs(run)
        with open(run / "progress.csv", "w") as f:
            f.write("iteration,charts/episodic_return\n" + "".join(f"{i},{level}\n" for i in range(1, 51)))
        with open(run / "episodes.csv", "w") as f:
            f.write("episodic_return\n" + "".join(f"{level}\n" for _ in range(120)))
        record = folder / "runs.csv"
        new = not record.exists()
        with open(record, "a") as f:
            f.write("env_id,variant,seed,run_dir,train_s,peak_rss_mb\n" if new else "")
            f.write(f"{env},{variant},{seed},{run},{train_s},{rss}\n")

    root = tmp_path / "eight_tasks_1m"
    # seed 1: one compare.py with both variants, started together; seed 2: two invocations, 1000 s apart
    write_run(root / "Swimmer-v4_seed1", "Swimmer-v4", "ppo", 1, 1000, 40.0, 100.0, 300.0)
    write_run(root / "Swimmer-v4_seed1", "Swimmer-v4", "ppo-dap", 1, 1000, 50.0, 103.0, 312.0)
    write_run(root / "Swimmer-v4_seed2_ppo", "Swimmer-v4", "ppo", 2, 5000, 60.0, 100.0, 300.0)
    write_run(root / "Swimmer-v4_seed2_ppo-dap", "Swimmer-v4", "ppo-dap", 2, 6000, 30.0, 150.0, 400.0)
    write_run(root / "Ant-v4_seed1", "Ant-v4", "ppo", 1, 1000, 10.0, 100.0, 300.0)
    write_run(root / "Ant-v4_seed1", "Ant-v4", "ppo-dap", 1, 1000, 20.0, 98.0, 303.0)
    monkeypatch.setattr(summarise_1m, "RESULTS", str(tmp_path))
    monkeypatch.setattr(summarise_1m, "RUNS", {})
    assert list(summarise_1m.new_task_runs("Swimmer-v4")) == [1, 2]
    summarise_1m.main()
    out = capsys.readouterr().out
    rows = {line.split(" | ")[0].lstrip("| "): line for line in out.splitlines() if line.startswith("| ")}
    # Swimmer: finals 40/50 and 60/30 -> means 50 / 40, below PPO; only seed 1's costs compare
    assert "| 40 / 50, 60 / 30 | 50 / 40 | **no** |" in rows["Swimmer-v4"]
    assert "| 1.03 | 1.040 |" in rows["Swimmer-v4"] and "not evaluated" in rows["Swimmer-v4"]
    assert "| 10 / 20 | 10 / 20 | yes |" in rows["Ant-v4"] and "| 0.98 | 1.010 |" in rows["Ant-v4"]
    assert "Humanoid-v4" not in rows  # no runs: no row
    assert "at least PPO's on 1 of the 2 tasks run at 1M" in out

    # the current form's runs (shared_out_1m): Swimmer-v4 seed 1 alone, against PPO's run of the earlier pair
    # (no cost); Ant-v4 seed 1 beside its own PPO run, which takes the earlier one's place (level 12, not 10)
    write_run(tmp_path / "shared_out_1m" / "Swimmer-v4_seed1", "Swimmer-v4", "ppo-dap", 1, 9000, 45.0, 120.0, 330.0)
    write_run(tmp_path / "shared_out_1m" / "Ant-v4_seed1", "Ant-v4", "ppo", 1, 7000, 12.0, 100.0, 300.0)
    write_run(tmp_path / "shared_out_1m" / "Ant-v4_seed1", "Ant-v4", "ppo-dap", 1, 7000, 11.0, 104.0, 315.0)
    summarise_1m.main("ppo-dap-current-form")
    out = capsys.readouterr().out
    rows = {line.split(" | ")[0].lstrip("| "): line for line in out.splitlines() if line.startswith("| ")}
    assert "| Swimmer-v4 | 1 | 40 / 45 |" in rows["Swimmer-v4"] and "| 40 / 45 | 40 / 45 | yes |" in rows["Swimmer-v4"]
    assert "| no side-by-side pair | no side-by-side pair |" in rows["Swimmer-v4"]
    assert "| 12 / 11 | 12 / 11 | **no** |" in rows["Ant-v4"] and "| 1.04 | 1.050 |" in rows["Ant-v4"]
    assert "at least PPO's on 1 of the 2 tasks run at 1M" in out


def test_shared_out_table_compares_the_two_forms_and_times_only_runs_beside_ppo(tmp_path, monkeypatch, capsys):
    import eight_tasks
    import shared_out

    seeds = (1, 2, 3)
    # the earlier form: Walker2d-v4 at 1.5x PPO, HalfCheetah-v4 +300 over a negative PPO, Swimmer-v4 at 0.8x
    write_runs(str(tmp_path / "aulc40_release" / "runs.csv"),
               [("Walker2d-v4", "ppo", s, 100.0 + s, 10.0) for s in seeds]
               + [("Walker2d-v4", "ppo-dap", s, 1.5 * (100.0 + s), 13.0) for s in seeds])
    write_runs(str(tmp_path / "aulc40_strong" / "runs.csv"),
               [("HalfCheetah-v4", "ppo", s, -100.0 - s, 10.0) for s in seeds]
               + [("HalfCheetah-v4", "ppo-dap", s, 200.0 - s, 13.0) for s in seeds])
    write_runs(str(tmp_path / "eight_tasks_40it" / "Swimmer-v4" / "runs.csv"),
               [("Swimmer-v4", "ppo", s, 50.0 + s, 10.0) for s in seeds]
               + [("Swimmer-v4", "ppo-dap", s, 0.8 * (50.0 + s), 10.0) for s in seeds])
    # the current form beside PPO: Walker2d-v4 at 1.2x, 1.1x the time; HalfCheetah-v4's PPO reruns differ
    write_runs(str(tmp_path / "aulc40_shared_out" / "runs.csv"),
               [("Walker2d-v4", "ppo", s, 100.0 + s, 10.0) for s in seeds]
               + [("Walker2d-v4", "ppo-dap", s, 1.2 * (100.0 + s), 11.0) for s in seeds]
               + [("HalfCheetah-v4", "ppo", s, -90.0, 10.0) for s in seeds]
               + [("HalfCheetah-v4", "ppo-dap", s, 210.0, 12.0) for s in seeds])
    # the current form elsewhere: Swimmer-v4 at 1.25x the table's PPO, times of another machine (not compared)
    write_runs(str(tmp_path / "eight_tasks_40it_shared_out_h100" / "runs.csv"),
               [("Swimmer-v4", "ppo-dap", s, 1.25 * (50.0 + s), 99.0) for s in seeds])
    monkeypatch.setattr(shared_out, "RESULTS", str(tmp_path))
    monkeypatch.setattr(eight_tasks, "RESULTS", str(tmp_path))
    shared_out.main()
    rows = {line.split(" | ")[0].lstrip("| "): line for line in capsys.readouterr().out.splitlines()
            if line.startswith("| ") and not line.startswith(("| task", "| ---"))}
    assert set(rows) == {"Walker2d-v4", "HalfCheetah-v4", "Swimmer-v4"}  # tasks without both forms are left out
    assert "| 1.50x [1.50, 1.50] [1.50, 1.50] | 1.20x [1.20, 1.20] [1.20, 1.20] | better | 1.10 [1.10, 1.10] |" in rows["Walker2d-v4"]
    assert "identical to the table's" in rows["Walker2d-v4"]
    # HalfCheetah-v4: differences, the current form against its own PPO reruns (+300 each), flagged as different
    assert "| +300 [300, 300] [300, 300] (difference) | +300 [300, 300] [300, 300] (difference) |" in rows["HalfCheetah-v4"]
    assert "| 1.20 [1.20, 1.20] |" in rows["HalfCheetah-v4"] and "DIFFERENT from the table's" in rows["HalfCheetah-v4"]
    assert "| 0.80x [" in rows["Swimmer-v4"] and "| 1.25x [" in rows["Swimmer-v4"]
    assert "| better | not comparable | alone" in rows["Swimmer-v4"]
