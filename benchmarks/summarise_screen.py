"""Summarise the release screen (README "Releasing the prior"): per variant and seed, over the first
N iterations of the default 1M-step run, AULC@40, the mean training return over iterations 1..N,
the return over the last 20 of them, and the worst 20-iteration window of the variant's mean return
over PPO's on the same seed (the issue's "never below 0.9x PPO" check).

    python benchmarks/summarise_screen.py benchmarks/results/screen_hopper --baseline-dir benchmarks/results/hopper_1m
    python benchmarks/summarise_screen.py benchmarks/results/lentstd_40it --baseline-dir benchmarks/results/aulc40_release \
        --iterations 40 --env-id Walker2d-v4
"""

import glob
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import alc, aulc, last_episodes_mean, read_csv  # noqa: E402


def returns(progress: list, n: int) -> np.ndarray:
    """Per-iteration mean training return for iterations 1..n, carrying the last value forward."""
    values, last = [], np.nan
    for r in progress[:n]:
        v = float(r["charts/episodic_return"]) if r["charts/episodic_return"] not in ("", "nan") else np.nan
        last = v if not np.isnan(v) else last
        values.append(last)
    return np.array(values)


def window_means(r: np.ndarray, width: int = 20) -> np.ndarray:
    return np.array([np.nanmean(r[i:i + width]) for i in range(0, len(r) - width + 1)])


def find_files(folder: str, name: str, env_id: str = None) -> dict:
    """{(variant, seed): rows of `name`} (progress.csv, episodes.csv, eval.csv) for the run folders
    under `folder` (named {env}__{variant}__{seed}__{time}); only `env_id`'s runs when it is given
    (a folder may hold several tasks' runs)."""
    found = {}
    for path in glob.glob(os.path.join(folder, "**", name), recursive=True):
        env, variant, seed, _ = os.path.basename(os.path.dirname(path)).split("__")[:4]
        if env_id is None or env == env_id:
            found[(variant, int(seed))] = read_csv(path)
    return found


def find_runs(folder: str, env_id: str = None) -> dict:
    """{(variant, seed): progress rows} for the run folders under `folder` (see `find_files`)."""
    return find_files(folder, "progress.csv", env_id)


def whole_runs(folder: str, baseline_dir: str, env_id: str = None) -> None:
    """For runs of the whole budget: final return (last 100 episodes), the paper's ALC@40 (from
    eval.csv; PPO's from the `ppo-eval` runs of the same seed) and training time, against PPO."""
    keep_ppo = lambda found: {k: v for k, v in found.items() if k[0] == "ppo"}  # noqa: E731  (the baseline's PPO only)
    runs = {**keep_ppo(find_runs(baseline_dir, env_id)), **find_runs(folder, env_id)}
    episodes = {**keep_ppo(find_files(baseline_dir, "episodes.csv", env_id)), **find_files(folder, "episodes.csv", env_id)}
    evals = find_files(folder, "eval.csv", env_id)
    print("\nTraining time is not compared with PPO's here: those PPO runs ran in another batch, under another load.")
    print("'DAP overhead' is estimated within the run: the time of the iterations in which the prior acted, minus")
    print("as many times the median time of the 24 iterations after them, over the whole run's training time.\n")
    print("| variant | seed | final return (last 100) | / PPO | ALC@40 (paper) | / PPO | training s | DAP overhead (est.) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for (variant, seed) in sorted(runs):
        if variant in ("ppo", "ppo-eval") or ("ppo", seed) not in runs:
            continue
        final, base = last_episodes_mean(episodes[(variant, seed)]), last_episodes_mean(episodes[("ppo", seed)])
        mine_alc = alc(evals[(variant, seed)], 40) if (variant, seed) in evals else np.nan
        ppo_alc = alc(evals[("ppo-eval", seed)], 40) if ("ppo-eval", seed) in evals else np.nan
        rows = runs[(variant, seed)]
        elapsed = np.array([float(r["time/elapsed_s"]) for r in rows])
        durations = np.diff(np.r_[0.0, elapsed])
        acted = np.array([r.get("losses/imitation", "") not in ("", "nan") for r in rows])
        last = int(np.nonzero(acted)[0].max()) if acted.any() else -1
        after = durations[last + 1:last + 25]
        overhead = (durations[acted].sum() - acted.sum() * np.median(after)) / elapsed[-1] if acted.any() else 0.0
        print(f"| {variant} | {seed} | {final:.0f} (PPO {base:.0f}) | {final / base:.2f} | {mine_alc:.0f} "
              f"(PPO {ppo_alc:.0f}) | {mine_alc / ppo_alc:.2f} | {elapsed[-1]:.0f} | "
              f"{100 * overhead:+.1f}% ({int(acted.sum())} iterations) |")


def main(folder: str, baseline_dir: str, n: int = 200, env_id: str = None) -> None:
    baseline = {k: v for k, v in find_runs(baseline_dir, env_id).items() if k[0] in ("ppo", "ppo-dap")}  # the defaults of that folder
    baseline = {(("ppo-dap (baseline folder)" if v == "ppo-dap" else v), s): rows for (v, s), rows in baseline.items()}
    runs = {k: v for k, v in {**baseline, **find_runs(folder, env_id)}.items() if k[0] != "ppo-eval"}
    ppo = {seed: returns(rows, n) for (v, seed), rows in runs.items() if v == "ppo"}
    print(f"First {n} iterations of the default 1M-step run; the worst 20-iteration window is the "
          "variant's mean return over PPO's, same seed.\n")
    print("| variant | seed | AULC@40 | AULC@40 / PPO | mean return, iters 1-%d | return, iters %d-%d | worst window / PPO |"
          % (n, n - 19, n))
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for (variant, seed) in sorted(runs, key=lambda k: (k[0] != "ppo", k[0] != "ppo-dap", k)):
        rows = runs[(variant, seed)]
        if len(rows) < 40:
            print(f"| {variant} | {seed} | (only {len(rows)} iterations) | | | | |")
            continue
        m = min(n, len(rows))  # a run stopped early (rejected) is read over the iterations it has
        name = variant if m == n else f"{variant} (stopped at {m})"
        r = returns(rows, m)
        a = aulc(rows, 40)
        ratio = a / aulc(runs[("ppo", seed)], 40) if ("ppo", seed) in runs else np.nan
        worst = np.min(window_means(r) / window_means(ppo[seed][:m])) if seed in ppo else np.nan
        print(f"| {name} | {seed} | {a:.0f} | {ratio:.2f} | {np.nanmean(r):.0f} | {np.nanmean(r[-20:]):.0f} | {worst:.2f} |")
    # the check is on the mean over seeds: the worst 20-iteration window of the seed-mean curves
    print("\nWorst 20-iteration window of the seed-mean training return over PPO's (seeds both have):\n")
    for variant in sorted({v for v, _ in runs if v != "ppo"}):
        seeds = [s for (v, s) in runs if v == variant and s in ppo and len(runs[(v, s)]) >= 40]
        if not seeds:
            continue
        m = min(n, *(len(runs[(variant, s)]) for s in seeds))
        mine = np.mean([returns(runs[(variant, s)], m) for s in seeds], axis=0)
        theirs = np.mean([ppo[s][:m] for s in seeds], axis=0)
        ratios = window_means(mine) / window_means(theirs)
        print(f"- {variant}: {ratios.min():.2f} (iterations {ratios.argmin() + 1}-{ratios.argmin() + 20} of {m})")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--baseline-dir", required=True, help="where the PPO and default PPO-DAP runs are")
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--whole", action="store_true", help="also final return, ALC@40 and time of whole runs")
    parser.add_argument("--env-id", help="only this task's runs (for folders that hold several tasks)")
    a = parser.parse_args()
    main(a.folder, a.baseline_dir, a.iterations, a.env_id)
    if a.whole:
        whole_runs(a.folder, a.baseline_dir, a.env_id)
