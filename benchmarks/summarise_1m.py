"""The issue's 1M-step checks for the current defaults, pooled over the runs made at different stops
(README "The chosen defaults over a whole 1M-step run"): per task, AULC@40 per seed, the paper's ALC@40
ratio with its intervals and the Wilcoxon p-value, the final return per seed and its mean, and the
worst 20-iteration window of the seed-mean training return over PPO's (windows where PPO's mean is
not positive are skipped). PPO's ALC@40 comes from the `ppo-eval` reruns where the 1M PPO runs had no
evaluation.

    python benchmarks/summarise_1m.py
"""

import glob
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import alc, aulc, bootstrap_ci, last_episodes_mean, read_csv, student_t_ci, wilcoxon_p  # noqa: E402

M = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
def one(p):
    d=sorted(glob.glob(p)); assert d, p; return d[0]
def curve(d):
    rows=read_csv(os.path.join(d,"progress.csv")); out=[]; last=np.nan
    for r in rows:
        v=float(r["charts/episodic_return"] or "nan"); last=v if not np.isnan(v) else last; out.append(last)
    return np.array(out)
runs = {
 "Hopper-v4": {1: (f"{M}/hopper_1m/seed1/runs/Hopper-v4/ppo/H*", f"{M}/release_1m/Hopper-v4/ppo-eval/*__1__*", f"{M}/release_1m/Hopper-v4/ppo-dap/*__1__*"),
               2: (f"{M}/hopper_1m/seed2/runs/Hopper-v4/ppo/H*", f"{M}/release_1m/Hopper-v4/ppo-eval/*__2__*", f"{M}/release_1m/Hopper-v4/ppo-dap/*__2__*"),
               3: (f"{M}/release_1m_side_by_side/seed3/runs/Hopper-v4/ppo/H*", None, f"{M}/release_1m_side_by_side/seed3/runs/Hopper-v4/ppo-dap/H*")},
 "Walker2d-v4": {1: (f"{M}/walker_1m/seed1/runs/Walker2d-v4/ppo/W*", f"{M}/release_1m/Walker2d-v4/ppo-eval/*__1__*", f"{M}/release_1m/Walker2d-v4/ppo-dap/*__1__*"),
               2: (f"{M}/walker_1m/seed2/runs/Walker2d-v4/ppo/W*", f"{M}/release_1m/Walker2d-v4/ppo-eval/*__2__*", f"{M}/release_1m/Walker2d-v4/ppo-dap/*__2__*"),
               3: (f"{M}/default_1m/Walker2d-v4_seed3/runs/Walker2d-v4/ppo/W*", None, f"{M}/default_1m/Walker2d-v4_seed3/runs/Walker2d-v4/ppo-dap/W*")},
 "HalfCheetah-v4": {s: (f"{M}/default_1m/HalfCheetah-v4_seed{s}/runs/HalfCheetah-v4/ppo/H*", None, f"{M}/default_1m/HalfCheetah-v4_seed{s}/runs/HalfCheetah-v4/ppo-dap/H*") for s in (1,2)},
}
for env, seeds in runs.items():
    A=[];L=[];F=[];C=[]
    for s,(pp, pe, dd) in seeds.items():
        p, d = one(pp), one(dd); e = one(pe) if pe else p
        A.append((aulc(read_csv(p+"/progress.csv"),40), aulc(read_csv(d+"/progress.csv"),40)))
        L.append((alc(read_csv(e+"/eval.csv")), alc(read_csv(d+"/eval.csv"))))
        F.append((last_episodes_mean(read_csv(p+"/episodes.csv")), last_episodes_mean(read_csv(d+"/episodes.csv"))))
        C.append((curve(p), curve(d)))
    n=min(min(len(a),len(b)) for a,b in C)
    pm=np.mean([a[:n] for a,_ in C],0); dm=np.mean([b[:n] for _,b in C],0)
    ws=[np.mean(dm[i:i+20])/np.mean(pm[i:i+20]) if np.mean(pm[i:i+20])>0 else np.inf for i in range(n-19)]
    lr=np.array([b/a for a,b in L])
    print(env, "seeds", list(seeds))
    print("  AULC@40 PPO/DAP:", [(round(a),round(b)) for a,b in A])
    print("  ALC@40 ratio per seed:", np.round(lr,2), "mean", lr.mean().round(3), "t95", np.round(student_t_ci(lr),2), "boot", np.round(bootstrap_ci(lr),2), "wilcoxon p", round(wilcoxon_p([b-a for a,b in L]),3))
    print("  final PPO/DAP:", [(round(a),round(b)) for a,b in F], "means", round(np.mean([a for a,_ in F])), round(np.mean([b for _,b in F])))
    print("  worst 20-it window seed-mean:", round(min(ws),2), "at iteration", int(np.argmin(ws))+1)
