"""The eight-task table at 40 iterations (README "The paper's eight tasks"): pools the PPO vs PPO-DAP
runs of the three first tasks (`results/aulc40_release`; for Hopper-v4 and HalfCheetah-v4, whose shipped
priors changed, `results/aulc40_strong`) and of the five others
(`results/eight_tasks_40it/*`, one folder per task or per task and seed) with compare.py's
`--pool-runs`, writes the pooled tables to `results/eight_tasks_40it/pooled/`, and prints one
README row per task: AULC@40 of both (median over seeds), PPO-DAP's mean ratio to PPO with its
bootstrap and Student-t 95% intervals (the mean difference where PPO's AULC is not positive), the
Wilcoxon p-value, the deterministic evaluation of the final actors, the training-time and peak-RSS
ratios, and the verdict on early learning (called only where both intervals agree).

It then prints the table against the baselines (README "The eight tasks against the baselines"): the
40-iteration AULC@40 of RPO, RPO-DAP and the retrieval prior where they ran (`results/baselines_40it*`,
pooled with the same PPO runs), whether PPO-DAP is above the best on-policy baseline early (PPO or
RPO, per seed), and the final return at the default 1M steps (`summarise_1m.py`'s runs) against PPO,
the only baseline run at 1M; and the count of tasks where PPO-DAP matches or beats it.

    python benchmarks/eight_tasks.py
"""

import glob
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402
import summarise_1m  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
# Hopper-v4's and HalfCheetah-v4's shipped priors were replaced (README "A prior from a stronger behaviour
# policy"): their runs in these earlier folders used the old priors, so every one of them but RPO's (which
# uses no prior) is left out; `aulc40_strong` holds their PPO and PPO-DAP runs with the shipped priors.
PRIOR_CHANGED = summarise_1m.PRIOR_CHANGED
EARLIER_PRIOR_FOLDERS = {"aulc40_release", "baselines_40it", "baselines_40it_hc"}
TASKS = ["Walker2d-v4", "Hopper-v4", "HalfCheetah-v4", "Ant-v4", "Humanoid-v4", "Swimmer-v4", "InvertedPendulum-v4",
         "InvertedDoublePendulum-v4"]


def verdict(boot: tuple, student_t: tuple) -> str:
    """Early learning against PPO from the two 95% intervals (bootstrap, Student-t) of the ratio minus
    1 or of the difference: a side is called only where both intervals agree."""
    if boot[0] > 0 and student_t[0] > 0:
        return "better"
    if boot[1] < 0 and student_t[1] < 0:
        return "worse"
    return "no difference shown"


def gain_and_verdict(row: dict) -> tuple:
    """(gain, verdict) of a ratios row of PPO-DAP's AULC against PPO's (strings from ratios.csv or numbers
    from compare.tabulate): the mean ratio with its bootstrap and Student-t 95% intervals, or the mean
    difference with its intervals where PPO's value is not positive (no ratio), and `verdict` on them."""
    f = lambda key: float(row[key])  # noqa: E731
    if row["mean_ratio"] not in ("", "nan") and not np.isnan(f("mean_ratio")):
        return (f"{f('mean_ratio'):.2f}x [{f('ci_low'):.2f}, {f('ci_high'):.2f}] [{f('t_low'):.2f}, {f('t_high'):.2f}]",
                verdict((f("ci_low") - 1, f("ci_high") - 1), (f("t_low") - 1, f("t_high") - 1)))
    return (f"{f('mean_difference'):+.0f} [{f('diff_ci_low'):.0f}, {f('diff_ci_high'):.0f}] "
            f"[{f('diff_t_low'):.0f}, {f('diff_t_high'):.0f}] (difference)",
            verdict((f("diff_ci_low"), f("diff_ci_high")), (f("diff_t_low"), f("diff_t_high"))))


def early_gain(row: dict) -> str:
    """A ratios.csv row as 'mean ratio [Student-t 95%]', or the mean difference where PPO's value is not positive."""
    f = lambda key: float(row[key])  # noqa: E731
    if row["mean_ratio"] not in ("", "nan"):
        return f"{f('mean_ratio'):.2f}x [{f('t_low'):.2f}, {f('t_high'):.2f}]"
    return f"{f('mean_difference'):+.0f} [{f('diff_t_low'):+.0f}, {f('diff_t_high'):+.0f}]"


def existing_1m_runs(seeds: dict) -> dict:
    """The seeds of a task whose 1M runs (PPO and PPO-DAP) are all there."""
    there = lambda pattern: pattern is None or len(glob.glob(os.path.join(summarise_1m.RESULTS, pattern))) == 1  # noqa: E731
    return {seed: patterns for seed, patterns in seeds.items() if all(there(p) for p in patterns)}


def baselines_table(out_dir: str) -> None:
    """README's table against the baselines, from the pooled 40-iteration runs and the 1M runs."""
    runs = compare.read_runs(os.path.join(out_dir, "runs.csv"))
    ratios = {(r["env_id"], r["variant"]): r for r in compare.read_csv(os.path.join(out_dir, "ratios.csv"))
              if r["metric"] == "aulc"}
    runs_1m = summarise_1m.default_runs()
    print("\n| task | AULC@40 vs PPO [Student-t 95%]: PPO-DAP | RPO | RPO-DAP | retrieval prior | PPO-DAP above the best "
          "on-policy baseline at 40 iterations (seeds) | final return at 1M (last 100), mean: PPO / PPO-DAP (seeds) | "
          "PPO-DAP at least the best baseline at 1M |")
    print("|" + " --- |" * 8)
    early_wins, final_wins, final_tasks = 0, 0, 0
    for task in TASKS:
        aulc = {v: {r["seed"]: r["aulc"] for r in runs if r["env_id"] == task and r["variant"] == v}
                for v in ("ppo", "rpo", "ppo-dap")}
        if not aulc["ppo-dap"]:
            continue
        cells = [early_gain(ratios[(task, v)]) if (task, v) in ratios
                 else "earlier prior only" if task in PRIOR_CHANGED and v in ("rpo-dap", "knn-prior") else "not run"
                 for v in ("ppo-dap", "rpo", "rpo-dap", "knn-prior")]
        # the best on-policy baseline early: PPO or RPO, whichever has the higher mean AULC@40 on this task
        best = max((v for v in ("ppo", "rpo") if aulc[v]), key=lambda v: sum(aulc[v].values()) / len(aulc[v]))
        seeds = sorted(set(aulc[best]) & set(aulc["ppo-dap"]))
        above = sum(aulc["ppo-dap"][s] > aulc[best][s] for s in seeds)
        early_wins += bool(seeds) and above == len(seeds)
        early = f"{above} of {len(seeds)} (best: {best.upper()})"
        seeds_1m = existing_1m_runs(runs_1m.get(task, {}))
        if seeds_1m:
            finals = summarise_1m.task_metrics(seeds_1m)["finals"]
            ppo_final, dap_final = summarise_1m.mean_finals(finals)
            final_tasks += 1
            final_wins += dap_final >= ppo_final
            final = f"{ppo_final:.0f} / {dap_final:.0f} ({len(finals)})"
            verdict_1m = "yes" if dap_final >= ppo_final else "**no**"
        else:
            final, verdict_1m = "not run", "not run"
        print(f"| {task} | {' | '.join(cells)} | {early} | {final} | {verdict_1m} |")
    print(f"\nPPO-DAP is above the best on-policy baseline on every seed at 40 iterations on {early_wins} tasks, and "
          f"its mean final return at 1M is at least the best baseline's (PPO's) on {final_wins} of the {final_tasks} "
          "tasks run at 1M.")


def current_runs(files: list) -> list:
    """The rows of these runs.csv files, less those made with a prior that a task no longer ships."""
    rows = []
    for path in files:
        earlier = os.path.relpath(path, RESULTS).split(os.sep)[0] in EARLIER_PRIOR_FOLDERS
        rows += [r for r in compare.read_runs(path)
                 if not (earlier and r["env_id"] in PRIOR_CHANGED and r["variant"] != "rpo")]
    return rows


def run_files() -> list:
    """The runs.csv files of the 40-iteration runs this table pools (not this script's own output)."""
    not_pooled = lambda pattern: sorted(f for f in glob.glob(os.path.join(RESULTS, pattern, "runs.csv"))  # noqa: E731
                                        if os.path.basename(os.path.dirname(f)) != "pooled")
    return [os.path.join(RESULTS, "aulc40_release", "runs.csv"), os.path.join(RESULTS, "aulc40_strong", "runs.csv"),
            *not_pooled(os.path.join("eight_tasks_40it", "*")), *not_pooled("baselines_40it*"),
            *not_pooled(os.path.join("baselines_40it*", "*"))]


def main() -> None:
    runs_files = run_files()
    out_dir = os.path.join(RESULTS, "eight_tasks_40it", "pooled")
    os.makedirs(out_dir, exist_ok=True)
    runs = current_runs(runs_files)
    summary_rows, ratio_rows = compare.tabulate(runs, compare.variants_of(runs), 40)
    compare.write_tables(out_dir, summary_rows, ratio_rows, compare.Args(pool_runs=runs_files, out_dir=out_dir), runs)
    summary = {(r["env_id"], r["variant"]): r for r in compare.read_csv(os.path.join(out_dir, "results.csv"))}
    ratios = {(r["env_id"], r["metric"]): r for r in compare.read_csv(os.path.join(out_dir, "ratios.csv"))
              if r["variant"] == "ppo-dap"}
    print("\n| task | seeds | AULC@40: PPO / PPO-DAP (median) | PPO-DAP vs PPO: mean ratio [bootstrap 95%] [Student-t 95%], "
          "Wilcoxon p | early learning | eval return: PPO / PPO-DAP (median) | training time / PPO | peak RSS / PPO |")
    print("|" + " --- |" * 9)
    for task in TASKS:
        if (task, "ppo-dap") not in summary:
            print(f"| {task} | not run |" + " |" * 7)
            continue
        ppo, dap, aulc = summary[(task, "ppo")], summary[(task, "ppo-dap")], ratios[(task, "aulc")]
        gain, call = gain_and_verdict(aulc)
        time_ratio, rss_ratio = float(ratios[(task, "train_s")]["mean_ratio"]), float(ratios[(task, "peak_rss_mb")]["mean_ratio"])
        print(f"| {task} | {dap['seeds']} | {float(ppo['aulc']):.0f} / {float(dap['aulc']):.0f} | {gain}, p = "
              f"{float(aulc['wilcoxon_p']):.3f} | {call} | {float(ppo['eval_return']):.0f} / {float(dap['eval_return']):.0f} | "
              f"{time_ratio:.2f} | {rss_ratio:.3f} |")
    baselines_table(out_dir)


if __name__ == "__main__":
    main()
