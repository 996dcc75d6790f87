"""The eight-task table at 40 iterations (README "The paper's eight tasks"): pools the PPO vs PPO-DAP
runs of the three first tasks (`results/aulc40_release`) and of the five others
(`results/eight_tasks_40it/*`, one folder per task or per task and seed) with compare.py's
`--pool-runs`, writes the pooled tables to `results/eight_tasks_40it/pooled/`, and prints one
README row per task: AULC@40 of both (median over seeds), PPO-DAP's mean ratio to PPO with its
bootstrap and Student-t 95% intervals (the mean difference where PPO's AULC is not positive), the
Wilcoxon p-value, the deterministic evaluation of the final actors, the training-time and peak-RSS
ratios, and the verdict on early learning (called only where both intervals agree).

    python benchmarks/eight_tasks.py
"""

import csv
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
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


def main() -> None:
    runs_files = [os.path.join(RESULTS, "aulc40_release", "runs.csv"),
                  *sorted(glob.glob(os.path.join(RESULTS, "eight_tasks_40it", "*", "runs.csv")))]
    out_dir = os.path.join(RESULTS, "eight_tasks_40it", "pooled")
    compare.main(compare.Args(pool_runs=runs_files, out_dir=out_dir))
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
        f = lambda key: float(aulc[key])  # noqa: E731
        if aulc["mean_ratio"] not in ("", "nan"):
            gain = f"{f('mean_ratio'):.2f}x [{f('ci_low'):.2f}, {f('ci_high'):.2f}] [{f('t_low'):.2f}, {f('t_high'):.2f}]"
            call = verdict((f("ci_low") - 1, f("ci_high") - 1), (f("t_low") - 1, f("t_high") - 1))
        else:  # PPO's AULC is not positive: a ratio means nothing
            gain = (f"+{f('mean_difference'):.0f} [{f('diff_ci_low'):.0f}, {f('diff_ci_high'):.0f}] "
                    f"[{f('diff_t_low'):.0f}, {f('diff_t_high'):.0f}] (difference)")
            call = verdict((f("diff_ci_low"), f("diff_ci_high")), (f("diff_t_low"), f("diff_t_high")))
        time_ratio, rss_ratio = float(ratios[(task, "train_s")]["mean_ratio"]), float(ratios[(task, "peak_rss_mb")]["mean_ratio"])
        print(f"| {task} | {dap['seeds']} | {float(ppo['aulc']):.0f} / {float(dap['aulc']):.0f} | {gain}, p = "
              f"{f('wilcoxon_p'):.3f} | {call} | {float(ppo['eval_return']):.0f} / {float(dap['eval_return']):.0f} | "
              f"{time_ratio:.2f} | {rss_ratio:.3f} |")


if __name__ == "__main__":
    main()
