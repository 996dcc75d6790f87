"""The (d) terms dealt out over the minibatches (the current code) against their earlier form, in which
every minibatch took them over all the proposal states (README "Speed"): the eight tasks at 40
iterations, seeds 1-5, AULC@40 of PPO-DAP against PPO for each form.

The earlier form's runs and PPO's are those of the eight-task table (`eight_tasks.py`); the current
form's are `aulc40_shared_out/` (Walker2d-v4, Hopper-v4, HalfCheetah-v4: PPO and PPO-DAP side by side
on the 2-core machine, so their cost compares) and `eight_tasks_40it_shared_out_h100/` (the five
others: PPO-DAP alone, on the CPU cores of the lent H100 machine, so only their returns compare).

    python benchmarks/shared_out.py
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402
import eight_tasks  # noqa: E402

RESULTS = eight_tasks.RESULTS
SIDE_BY_SIDE = "aulc40_shared_out"  # the current form beside PPO, on the machine of PPO's runs
ELSEWHERE = "eight_tasks_40it_shared_out_h100"  # the current form alone, on another machine


def earlier_runs() -> list:
    """PPO's runs and the earlier form's PPO-DAP runs, as the eight-task table pools them."""
    return [r for r in eight_tasks.current_runs(eight_tasks.run_files()) if r["variant"] in ("ppo", "ppo-dap")]


def against_ppo(runs: list) -> dict:
    """compare.py's ratio rows of PPO-DAP against PPO, by metric (empty where either has no run)."""
    _, ratios = compare.tabulate(runs, ["ppo", "ppo-dap"], 40)
    return {r["metric"]: r for r in ratios}


def main() -> None:
    earlier = earlier_runs()
    side_by_side = compare.read_runs(os.path.join(RESULTS, SIDE_BY_SIDE, "runs.csv"))
    elsewhere = compare.read_runs(os.path.join(RESULTS, ELSEWHERE, "runs.csv"))
    print("| task | AULC@40 vs PPO [bootstrap 95%] [Student-t 95%]: earlier form | current form | early learning, "
          "current form | training time / PPO [bootstrap 95%], current form | the current form's runs |")
    print("|" + " --- |" * 6)
    for task in eight_tasks.TASKS:
        of = lambda runs, variant: [r for r in runs if r["env_id"] == task and r["variant"] == variant]  # noqa: E731
        ppo = of(earlier, "ppo")
        before = against_ppo(ppo + of(earlier, "ppo-dap")).get("aulc")
        if of(side_by_side, "ppo-dap"):
            now = against_ppo(of(side_by_side, "ppo") + of(side_by_side, "ppo-dap"))
            same = sorted((r["seed"], r["aulc"]) for r in of(side_by_side, "ppo")) == sorted((r["seed"], r["aulc"]) for r in ppo)
            train = now["train_s"]
            cost = f"{train['mean_ratio']:.2f} [{train['ci_low']:.2f}, {train['ci_high']:.2f}]"
            where = f"beside PPO, 2-core machine (PPO's reruns {'identical to' if same else 'DIFFERENT from'} the table's)"
        else:
            now = against_ppo(ppo + of(elsewhere, "ppo-dap"))
            cost, where = "not comparable", "alone, on the H100 machine's CPU; PPO: the table's runs"
        if before is None or "aulc" not in now:  # a task without runs of both forms
            continue
        (gain_before, _), (gain_now, call_now) = eight_tasks.gain_and_verdict(before), eight_tasks.gain_and_verdict(now["aulc"])
        print(f"| {task} | {gain_before} | {gain_now} | {call_now} | {cost} | {where} |")


if __name__ == "__main__":
    main()
