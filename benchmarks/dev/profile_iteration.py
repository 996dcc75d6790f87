"""Where the time of one PPO(-DAP) iteration goes (developer tool).

Runs `ppo_dap.train` in this process with timers wrapped around the pieces of an iteration: the env
step, the actor-critic's forward in the rollout and in the update, backward, the optimiser step,
GAE, the DAP step's parts (PEFT, Q_phi, proposals) and the (d) terms. Each timer counts its own time
only (a timer inside another is taken out of the outer one). The first iteration is left out
(warm-up); the table gives milliseconds per iteration, averaged over the rest, and each piece's share.

    python benchmarks/dev/profile_iteration.py --env-id Walker2d-v4 --iterations 6
    python benchmarks/dev/profile_iteration.py --code-dir /path/to/an/older/checkout   # the "before" column
    python benchmarks/dev/profile_iteration.py --dap-flags="--num-proposals 4"         # a PPO-DAP variant
"""

import collections
import dataclasses
import os
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Optional

import tyro


@dataclass
class Args:
    env_id: str = "Walker2d-v4"
    """the task"""
    iterations: int = 6
    """PPO iterations per configuration (the first is left out)"""
    code_dir: Optional[str] = None
    """the folder whose ppo_dap.py is profiled (default: this checkout)"""
    out: Optional[str] = None
    """also write the table to this markdown file"""
    dap_flags: str = ""
    """ppo_dap.py flags for the PPO-DAP column only (e.g. `--num-proposals 4`); default: its defaults"""


class Timers:
    """Exclusive wall-clock time per label, for wrapped callables that may nest."""

    def __init__(self):
        self.totals = collections.defaultdict(float)
        self.stack = []

    def wrap(self, label, fn):
        """`fn` timed under `label` (a string, or a function of nothing that returns one at call time)."""
        def timed(*args, **kwargs):
            name = label() if callable(label) else label
            self.stack.append(0.0)
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                self.totals[name] += elapsed - self.stack.pop()
                if self.stack:
                    self.stack[-1] += elapsed
        return timed


def profile(ppo_dap, args: Args, dap: bool) -> dict:
    """ms per iteration for each piece, over iterations 2..N of one run."""
    import torch

    timers, in_dap_step, in_forward = Timers(), [False], [False]
    marks = []  # (time, totals snapshot) at the end of every iteration

    def phase(rollout: str, update: str, dap_label: str):
        return lambda: dap_label if in_dap_step[0] else (update if torch.is_grad_enabled() else rollout)

    make_envs = ppo_dap.make_envs

    def timed_envs(*a, **kw):
        envs = make_envs(*a, **kw)
        envs.step = timers.wrap("rollout: env step", envs.step)
        return envs

    dap_step = ppo_dap.dap_step

    def timed_dap_step(*a, **kw):
        in_dap_step[0] = True
        try:
            return dap_step(*a, **kw)
        finally:
            in_dap_step[0] = False

    get_action_and_value = ppo_dap.Agent.get_action_and_value

    def forward(self, *a, **kw):  # get_dist inside it belongs to it, not to the (d) terms
        in_forward[0] = True
        try:
            return get_action_and_value(self, *a, **kw)
        finally:
            in_forward[0] = False

    get_dist = ppo_dap.Agent.get_dist
    timed_get_dist = timers.wrap(phase("?", "DAP (d): imitation/KL forward", "DAP (a)-(c): rest"), get_dist)

    def dist(self, *a, **kw):  # inside the forward it is part of the forward; on its own it is the (d) terms'
        return (get_dist if in_forward[0] else timed_get_dist)(self, *a, **kw)

    end_iteration = ppo_dap.RunWriter.end_iteration

    def mark(self, *a, **kw):
        end_iteration(self, *a, **kw)
        marks.append((time.perf_counter(), dict(timers.totals)))

    patches = [
        (ppo_dap, "make_envs", timed_envs),
        (ppo_dap, "compute_gae", timers.wrap("GAE", ppo_dap.compute_gae)),
        (ppo_dap, "dap_step", timers.wrap("DAP (a)-(c): rest", timed_dap_step)),
        (ppo_dap.Agent, "get_action_and_value", timers.wrap(
            phase("rollout: actor-critic forward", "update: forward and losses", "DAP (a)-(c): rest"), forward)),
        (ppo_dap.Agent, "get_dist", dist),
        *([(ppo_dap.Agent, "act", timers.wrap("rollout: actor-critic forward", ppo_dap.Agent.act))]
          if hasattr(ppo_dap.Agent, "act") else []),  # the rollout's fast path (absent from older code)
        (ppo_dap, "imitation_loss", timers.wrap("DAP (d): imitation/KL forward", ppo_dap.imitation_loss)),
        (ppo_dap, "kl_loss", timers.wrap("DAP (d): imitation/KL forward", ppo_dap.kl_loss)),
        (torch.Tensor, "backward", timers.wrap(phase("?", "update: backward", "DAP (a)+(c): PEFT and Q_phi steps"),
                                               torch.Tensor.backward)),
        (torch.optim.Adam, "step", timers.wrap(phase("?", "update: optimiser (Adam, clip)",
                                                     "DAP (a)+(c): PEFT and Q_phi steps"), torch.optim.Adam.step)),
        (torch.nn.utils, "clip_grad_norm_", timers.wrap("update: optimiser (Adam, clip)", torch.nn.utils.clip_grad_norm_)),
        (ppo_dap.RunWriter, "end_iteration", mark),
    ]
    for cls in [c for c in vars(sys.modules["pretrain_prior"]).values() if isinstance(c, type)]:
        if "sample" in vars(cls):
            patches.append((cls, "sample", timers.wrap("DAP (b): proposals", vars(cls)["sample"])))
    originals = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
    for obj, name, new in patches:
        setattr(obj, name, new)
    try:
        with tempfile.TemporaryDirectory() as runs_dir:
            flags = tyro.cli(ppo_dap.Args, args=shlex.split(args.dap_flags)) if dap else ppo_dap.Args(imitation_coef=0.0)
            run_args = dataclasses.replace(flags, env_id=args.env_id, total_timesteps=2048 * args.iterations,
                                           runs_dir=runs_dir, cuda=False, eval_episodes=0)
            with ppo_dap.InterruptFlag() as stop:
                ppo_dap.train(run_args, stop)
    finally:
        for obj, name, old in originals:
            setattr(obj, name, old)

    (t0, first), (t1, last) = marks[0], marks[-1]
    n = len(marks) - 1
    per_iteration = {k: 1000 * (last.get(k, 0.0) - first.get(k, 0.0)) / n for k in last}
    per_iteration["rest (rollout bookkeeping, normalisation, logging)"] = (
        1000 * (t1 - t0) / n - sum(per_iteration.values()))
    per_iteration["total"] = 1000 * (t1 - t0) / n
    return per_iteration


def main(args: Args) -> str:
    sys.path.insert(0, os.path.abspath(args.code_dir or os.path.join(os.path.dirname(__file__), "..", "..")))
    import ppo_dap

    results = {name: profile(ppo_dap, args, dap) for name, dap in (("PPO", False), ("PPO-DAP", True))}
    labels = sorted({k for r in results.values() for k in r if k != "total"}, key=lambda k: (k.startswith("rest"), k))
    lines = [f"Iteration profile, {args.env_id}, 2048 steps per iteration, mean over iterations 2-{args.iterations} "
             f"(code: {os.path.abspath(args.code_dir) if args.code_dir else 'this checkout'}"
             f"{'; PPO-DAP flags: ' + args.dap_flags if args.dap_flags else ''}).", "",
             "| piece | PPO ms | PPO share | PPO-DAP ms | PPO-DAP share |", "| --- | --- | --- | --- | --- |"]
    for label in labels + ["total"]:
        cells = []
        for r in results.values():
            ms = r.get(label, 0.0)
            cells += [f"{ms:.0f}", f"{100 * ms / r['total']:.0f}%"]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(table + "\n")
    return table


if __name__ == "__main__":
    main(tyro.cli(Args))
