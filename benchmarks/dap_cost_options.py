"""What the remaining ideas for PPO-DAP's own cost would save (README "Speed", issue 15), measured
in one process on one machine, the variants alternated:

  1. the proposals (step (b): 256 states x 8 proposals x 20 denoising steps through the LoRA-adapted
     prior) with one torch thread, as the script runs, and with two;
  2. one iteration's update (10 epochs x 32 minibatch steps of 64 states: forward, loss, backward,
     gradient clip, Adam) of PPO alone, with the (d) imitation term as ppo_dap.py computes it (the
     actor's forward on the minibatch's 8 proposal states, -sum_k w_k log pi(a_k | s)), and two
     rewrites of the same term that ppo_dap.py does not use: the closed form from the proposals'
     weighted moments (for a Gaussian actor, -sum_k w_k log pi(a_k | s) = sum_d [log sigma_d +
     log sqrt(2 pi) + ((m_d - mu_d)^2 + v_d) / (2 sigma_d^2)] with weights summing to one), one
     actor forward over PPO's 64 states and the 8 proposal states together, and both.

Times are medians over repeats, wall-clock and this process's CPU time. Run it alone; to see what two
threads do when two runs share two cores, start two copies at once.

    python benchmarks/dap_cost_options.py --env-id Walker2d-v4
"""

import math
import os
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch
import tyro
from torch.distributions import Normal

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
from ppo_dap import Agent, attach_peft, clipped_policy_loss, imitation_loss, proposal_moments, value_loss  # noqa: E402
from pretrain_prior import env_spaces, load_prior  # noqa: E402

LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


@dataclass
class Args:
    env_id: str = "Walker2d-v4"
    """the task whose shipped prior and dimensions are used"""
    repeats: int = 7
    """measurements per variant (the median is printed)"""


def timed(fn) -> tuple:
    """(wall s, CPU s) of one call of fn."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def closed_form_imitation(mu, log_std, mean, var_raw) -> torch.Tensor:
    """-sum_k w_k log pi(a_k | s), mean over states, for the actor's mean mu [B, act_dim] and log-std
    [1, act_dim], from the proposals' weighted mean [B, act_dim] and (unfloored) variance [B, act_dim];
    the same number as ppo_dap.imitation_loss with the std imitated."""
    return (log_std + LOG_SQRT_2PI + 0.5 * ((mean - mu) ** 2 + var_raw) * torch.exp(-2 * log_std)).sum(-1).mean()


def main(args: Args) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    np.random.seed(0)
    obs_space, act_space = env_spaces(args.env_id)
    obs_dim, act_dim = obs_space.shape[0], act_space.shape[0]
    prior = load_prior(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "priors", f"{args.env_id}.pt"))
    attach_peft(prior, "lora", 4, 8.0, 16)  # the defaults
    raw_obs = prior.obs_mean + prior.obs_std * torch.randn(256, obs_dim)  # states like the data's

    # 1. the proposals, one thread and two
    results = {1: [], 2: []}
    with torch.no_grad():
        prior.sample(raw_obs, 8)  # warm-up
        for _ in range(args.repeats):
            for threads in (1, 2):
                torch.set_num_threads(threads)
                results[threads].append(timed(lambda: prior.sample(raw_obs, 8)))
    torch.set_num_threads(1)
    print(f"proposals (256 states x 8 x {prior.num_steps} steps), {args.env_id}, ms: wall / CPU")
    for threads, times in results.items():
        wall, cpu = np.median([t[0] for t in times]) * 1e3, np.median([t[1] for t in times]) * 1e3
        print(f"  {threads} thread{'s' if threads > 1 else ''}: {wall:.0f} / {cpu:.0f}")

    # 2. one iteration's update: PPO alone, and with each form of the (d) imitation term
    batch, minibatch, epochs = 2048, 64, 10
    agent = Agent(obs_dim, act_dim)
    optimizer = torch.optim.Adam(agent.parameters(), lr=3e-4, eps=1e-5, foreach=True)
    b_obs, b_actions = torch.randn(batch, obs_dim), torch.randn(batch, act_dim)
    b_logprobs, b_advantages = torch.randn(batch) - 8.0, torch.randn(batch)
    b_returns, b_values = torch.randn(batch), torch.randn(batch)
    d_obs, proposals = torch.randn(256, obs_dim), torch.randn(256, 8, act_dim)
    weights = torch.softmax(torch.randn(256, 8), dim=-1)
    d_mean, _ = proposal_moments(proposals, weights)  # its variance is floored; the closed form needs it raw
    d_var_raw = (weights[..., None] * (proposals - d_mean[:, None]) ** 2).sum(1)
    check = np.arange(8)
    script_value = imitation_loss(agent.get_dist(d_obs[check]), proposals[check], weights[check], True).item()
    closed_value = closed_form_imitation(agent.actor_mean(d_obs[check]), agent.actor_logstd, d_mean[check], d_var_raw[check]).item()
    assert abs(script_value - closed_value) < 1e-4 * abs(script_value), (script_value, closed_value)

    def ppo_terms(probs: Normal, newvalue, mb):
        ratio = (probs.log_prob(b_actions[mb]).sum(1) - b_logprobs[mb]).exp()
        adv = (b_advantages[mb] - b_advantages[mb].mean()) / (b_advantages[mb].std() + 1e-8)
        return clipped_policy_loss(ratio, adv, 0.2) + 0.5 * value_loss(newvalue.view(-1), b_values[mb], b_returns[mb], 0.2, True)

    def loss_of(variant: str, mb, md):
        if variant.startswith("one forward"):
            mu = agent.actor_mean(torch.cat([b_obs[mb], d_obs[md]]))
            std = agent.actor_logstd.exp()
            loss = ppo_terms(Normal(mu[:minibatch], std.expand_as(mu[:minibatch]), validate_args=False), agent.critic(b_obs[mb]), mb)
            if variant == "one forward, closed form":
                return loss + closed_form_imitation(mu[minibatch:], agent.actor_logstd, d_mean[md], d_var_raw[md])
            d_dist = Normal(mu[minibatch:], std.expand_as(mu[minibatch:]), validate_args=False)
            return loss + imitation_loss(d_dist, proposals[md], weights[md], True)
        loss = ppo_terms(agent.get_dist(b_obs[mb]), agent.critic(b_obs[mb]), mb)
        if variant == "(d) as ppo_dap.py":
            loss = loss + imitation_loss(agent.get_dist(d_obs[md]), proposals[md], weights[md], True)
        elif variant == "(d) closed form":
            loss = loss + closed_form_imitation(agent.actor_mean(d_obs[md]), agent.actor_logstd, d_mean[md], d_var_raw[md])
        return loss

    def update(variant: str) -> None:
        for _ in range(epochs):
            b_inds, d_inds = np.random.permutation(batch), np.random.permutation(256)
            for start in range(0, batch, minibatch):
                share = d_inds[start * 256 // batch:(start + minibatch) * 256 // batch]
                loss = loss_of(variant, b_inds[start:start + minibatch], share)
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(agent.parameters(), 0.5)
                optimizer.step()

    variants = ["PPO alone", "(d) as ppo_dap.py", "(d) closed form", "one forward", "one forward, closed form"]
    times = {v: [] for v in variants}
    update("PPO alone")  # warm-up
    for _ in range(args.repeats):
        for variant in variants:
            times[variant].append(timed(lambda: update(variant)))
    print(f"one iteration's update ({epochs} x {batch // minibatch} minibatch steps), ms: wall / CPU, and over PPO alone")
    base = [np.median([t[i] for t in times["PPO alone"]]) * 1e3 for i in (0, 1)]
    for variant in variants:
        wall, cpu = (np.median([t[i] for t in times[variant]]) * 1e3 for i in (0, 1))
        print(f"  {variant}: {wall:.0f} / {cpu:.0f} (+{wall - base[0]:.0f} / +{cpu - base[1]:.0f})")


if __name__ == "__main__":
    main(tyro.cli(Args))
