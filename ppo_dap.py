"""PPO-DAP: PPO with a Diffusion Action Prior (online stage), CleanRL style.

Read top to bottom: `Args`; the PPO pieces (the Gaussian actor-critic, observation and reward
normalisation, GAE and the two PPO losses); the DAP pieces in the order of METHOD.md section 2 and
the one function that runs steps (a)-(c) each iteration (`dap_step`); then `train`, which is CleanRL's
`ppo_continuous_action.py` loop. Every line of the loop that differs from CleanRL's carries a tag
(`# DAP`, `# truncation bootstrap`, `# raw obs`, ...); README "Differences from CleanRL" lists them.
Delete the `# DAP` lines (the `dap_step` call and the (d) terms) and the loop is PPO. Plumbing
(argument checks, files, evaluation, signals, and `main`, which runs `train` under the signal flag)
comes last.

    python ppo_dap.py --env-id Walker2d-v4
"""

import copy
import csv
import importlib.util
import io
import json
import math
import os
import random
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Literal, Optional

import gymnasium as gym
import mujoco
import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
import tyro
from torch.distributions.normal import Normal

from pretrain_prior import (PRIORS_DIR, ActionPrior, InterruptFlag, all_finite, atomic_write, check_finite_flags,
                            check_same_setup, check_writable_dir, env_spaces, library_versions, load_checked, load_prior,
                            portable_command, prior_file, rng_state, save_checked, set_rng_state, sha256)



@dataclass
class Args:
    exp_name: str = "ppo_dap"
    """the name of this experiment (part of the run folder's name)"""
    seed: int = 1
    """seed of the experiment (torch, numpy, random and the environments)"""
    torch_deterministic: bool = True
    """if toggled, `torch.backends.cudnn.deterministic=True`"""
    cuda: bool = True
    """if toggled, cuda is used when it is available"""
    runs_dir: str = "runs"
    """folder under which each run writes `{runs_dir}/{run_name}/` (config, progress, episodes, evaluation, model)"""
    save_model: bool = False
    """if toggled, save actor, critic and observation statistics to `{runs_dir}/{run_name}/model.pt`"""
    eval_episodes: int = 10
    """episodes of each deterministic evaluation (with --save-model at the end, and every --eval-every steps)"""
    eval_every: int = 0
    """environment steps between deterministic evaluations written to eval.csv (at step 0, then after the first iteration at or past each multiple of N; 0 = off)"""
    save_rollouts: Optional[str] = None
    """if set, log every transition (raw observations, actions, rewards, terminations, truncations) to this new .npz file"""
    checkpoint_every: int = 10
    """PPO iterations between checkpoints (`{runs_dir}/{run_name}/checkpoint.pt`, also written on Ctrl-C / SIGTERM) that --resume continues from; 0 = none"""
    resume: Optional[str] = None
    """a run folder to continue from its checkpoint (bit for bit on CPU at the same budget); the run's own flags are used (a flag given beside it must agree, except a larger --total-timesteps, which re-anneals the learning rate, and --checkpoint-every)"""

    # Algorithm specific arguments
    env_id: str = "Walker2d-v4"
    """the id of the environment (a gymnasium id with a continuous Box action space)"""
    total_timesteps: int = 1000000
    """total timesteps of the experiments"""
    learning_rate: float = 3e-4
    """the learning rate of the optimizer"""
    num_envs: int = 1
    """the number of parallel game environments"""
    num_steps: int = 2048
    """the number of steps to run in each environment per policy rollout"""
    anneal_lr: bool = True
    """Toggle learning rate annealing for policy and value networks"""
    gamma: float = 0.99
    """the discount factor gamma"""
    gae_lambda: float = 0.95
    """the lambda for the general advantage estimation"""
    num_minibatches: int = 32
    """the number of mini-batches"""
    update_epochs: int = 10
    """the K epochs to update the policy"""
    norm_adv: bool = True
    """Toggles advantages normalization"""
    clip_coef: float = 0.2
    """the surrogate clipping coefficient"""
    clip_vloss: bool = True
    """Toggles whether or not to use a clipped loss for the value function, as per the paper."""
    ent_coef: float = 0.0
    """coefficient of the entropy"""
    vf_coef: float = 0.5
    """coefficient of the value function"""
    max_grad_norm: float = 0.5
    """the maximum norm for the gradient clipping"""
    target_kl: Optional[float] = None
    """the target KL divergence threshold (stop the epoch loop early above it)"""
    rpo_alpha: float = 0.0
    """RPO (CleanRL's rpo_continuous_action.py): in the update, shift the actor's mean by U(-alpha, alpha) noise (0 = PPO; RPO uses 0.5)"""

    # DAP arguments (METHOD.md section 2); with --imitation-coef 0 --kl-coef 0 the script is PPO
    prior_path: Optional[str] = None
    """the pretrained prior checkpoint (default: priors/{env_id}.pt beside this script)"""
    peft: Literal["lora", "adapter", "none"] = "lora"
    """(a) how the frozen prior is adapted online: LoRA, Adapters, or not at all (frozen prior)"""
    lora_rank: int = 4
    """(a) rank r of the LoRA update B A"""
    lora_alpha: float = 8.0
    """(a) LoRA scaling numerator: the update is (alpha / r) B A"""
    adapter_dim: int = 16
    """(a) bottleneck width of each Adapter"""
    prior_updates: int = 10
    """(a) PEFT gradient steps per iteration on the fresh rollout"""
    prior_lr: float = 1e-4
    """(a) learning rate of the PEFT parameters"""
    peft_adv_beta: float = 1.0
    """(a) temperature of the advantage weights exp(A / beta) (A normalised over the batch)"""
    num_proposals: int = 8
    """(b) K, actions proposed by the prior per state"""
    proposal_states: int = 256
    """(b) states of each batch (drawn at random) that get proposals; (d) deals them out over the minibatches, so at least --num-minibatches"""
    guidance_scale: float = 0.0
    """(b) critic-gradient guidance inside the reverse diffusion (0 = off)"""
    q_lr: float = 1e-3
    """(c) learning rate of the state-action critic Q_phi"""
    q_updates: int = 32
    """(c) gradient steps of Q_phi per iteration on the batch's lambda-returns"""
    energy_temperature: float = 0.5
    """(c) tau in units of the batch's advantage spread: w_k = softmax_k(Q(s, a_k) / (tau * std(A)))"""
    imitation_coef: float = 1.0
    """(d) coefficient of the imitation loss -sum_k w_k log pi(a_k | s)"""
    kl_coef: float = 0.0
    """(d) coefficient of KL(pi(.|s) || N(m(s), v(s))) toward the reweighted proposals' moments"""
    prior_anneal_steps: int = 50_000
    """(d) environment steps over which both coefficients decay linearly to zero (then: plain PPO), whatever the budget"""
    prior_release: Literal["clock", "return"] = "return"
    """(d) `return`: also switch both terms off in any iteration where the actor's mean training return (last 100 episodes) is at least the return of the prior's dataset"""


# ===================================================================================================
# PPO: CleanRL's pieces (the env, the Gaussian actor-critic), the normalisation we do in the script,
# GAE with a truncation bootstrap, and the two losses as functions so the tests can pin them.


def make_env(env_id: str):
    def thunk():
        env = gym.make(env_id)
        env = gym.wrappers.FlattenObservation(env)
        env = gym.wrappers.RecordEpisodeStatistics(env)
        return env

    return thunk


def make_envs(env_id: str, num_envs: int) -> gym.vector.VectorEnv:
    """CleanRL's SyncVectorEnv with same-step autoreset: at an episode's end `infos["final_obs"]` holds its last observation and
    `infos["final_info"]["episode"]` its raw return and length. Clipping the actions and normalising
    observations and rewards, CleanRL's other wrappers, happen in the loop. Stops with one sentence on
    an unknown id or a non-continuous action space."""
    env_spaces(env_id)
    return gym.vector.SyncVectorEnv(
        [make_env(env_id) for _ in range(num_envs)], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
    )


def layer_init(layer, std=np.sqrt(2), bias_const=0.0):
    torch.nn.init.orthogonal_(layer.weight, std)
    torch.nn.init.constant_(layer.bias, bias_const)
    return layer


LOG_SQRT_2PI = math.log(math.sqrt(2 * math.pi))


class Agent(nn.Module):
    """CleanRL's Gaussian actor-critic: V(s) and N(mu(s), diag exp(logstd)^2), both 64-64 tanh MLPs
    over normalised observations [batch, obs_dim]; actions [batch, act_dim] in the env's units.
    With `rpo_alpha` > 0 it is CleanRL's RPO agent: log-probs of given actions (the update) are taken
    under a mean shifted by fresh U(-rpo_alpha, rpo_alpha) noise; sampling (the rollout) is unchanged."""

    def __init__(self, obs_dim: int, act_dim: int, rpo_alpha: float = 0.0):
        super().__init__()
        self.rpo_alpha = rpo_alpha
        self.critic = nn.Sequential(
            layer_init(nn.Linear(obs_dim, 64)),
            nn.Tanh(),
            layer_init(nn.Linear(64, 64)),
            nn.Tanh(),
            layer_init(nn.Linear(64, 1), std=1.0),
        )
        self.actor_mean = nn.Sequential(
            layer_init(nn.Linear(obs_dim, 64)),
            nn.Tanh(),
            layer_init(nn.Linear(64, 64)),
            nn.Tanh(),
            layer_init(nn.Linear(64, act_dim), std=0.01),
        )
        self.actor_logstd = nn.Parameter(torch.zeros(1, act_dim))

    def get_value(self, x):
        return self.critic(x)

    def get_dist(self, x) -> Normal:
        action_mean = self.actor_mean(x)
        # validate_args=False: skip the per-call argument checks (pure overhead on every step); same numbers
        return Normal(action_mean, self.actor_logstd.expand_as(action_mean).exp(), validate_args=False)

    def act(self, x):
        """The rollout's forward (speed): the action, log-prob and value that `get_action_and_value(x)`
        gives from the same random state, without building a Normal or computing the entropy."""
        action_mean = self.actor_mean(x)
        action_std = self.actor_logstd.expand_as(action_mean).exp()
        action = torch.normal(action_mean, action_std)  # what Normal.sample draws
        log_prob = -((action - action_mean) ** 2) / (2 * action_std**2) - action_std.log() - LOG_SQRT_2PI  # Normal.log_prob
        return action, log_prob.sum(1), self.critic(x)

    def get_action_and_value(self, x, action=None):
        probs = self.get_dist(x)
        if action is None:
            action = probs.sample()
        elif self.rpo_alpha > 0:  # RPO: perturb the mean where the loss evaluates the taken actions
            z = torch.empty_like(probs.mean).uniform_(-self.rpo_alpha, self.rpo_alpha)
            probs = Normal(probs.mean + z, probs.stddev, validate_args=False)
        return action, probs.log_prob(action).sum(1), probs.entropy().sum(1), self.critic(x)


class RunningMeanStd:
    """Running mean and variance of a stream of arrays of shape `shape` (parallel-variance update)."""

    def __init__(self, shape, epsilon: float = 1e-4):
        self.mean = np.zeros(shape, np.float64)
        self.var = np.ones(shape, np.float64)
        self.count = epsilon

    def update(self, x: np.ndarray) -> None:
        """Fold in a batch `x` of shape [batch, *shape]."""
        # speed: np.mean / np.var's exact arithmetic without their per-call overhead (this runs twice a step)
        batch_count = x.shape[0]
        batch_mean = x.sum(axis=0) / batch_count
        batch_var = ((x - batch_mean) ** 2).sum(axis=0) / batch_count
        delta = batch_mean - self.mean
        total = self.count + batch_count
        self.mean = self.mean + delta * batch_count / total
        m2 = self.var * self.count + batch_var * batch_count + delta**2 * self.count * batch_count / total
        self.var = m2 / total
        self.count = total

    def state_dict(self) -> dict:
        return {"mean": self.mean.copy(), "var": self.var.copy(), "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.mean, self.var, self.count = np.array(state["mean"]), np.array(state["var"]), float(state["count"])


class ObsNormalizer(RunningMeanStd):
    """CleanRL's NormalizeObservation + clip, done in the script rather than in an env wrapper, so that
    raw observations stay available (the rollout log and the diffusion prior take raw observations)."""

    clip = 10.0

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """[..., obs_dim] raw -> [..., obs_dim] standardised and clipped to +-10 (float32)."""
        normed = (obs - self.mean) / np.sqrt(self.var + 1e-8)
        return np.clip(normed, -self.clip, self.clip).astype(np.float32)


class RewardScaler:
    """Divides rewards by the running std of the discounted return, then clips to +-10 (CleanRL's
    NormalizeReward + TransformReward). Raw rewards are kept for logging."""

    clip = 10.0

    def __init__(self, num_envs: int, gamma: float):
        self.gamma = gamma
        self.returns = np.zeros(num_envs, np.float64)
        self.return_rms = RunningMeanStd(shape=())

    def __call__(self, rewards: np.ndarray, dones: np.ndarray) -> np.ndarray:
        """rewards, dones [num_envs] -> scaled rewards [num_envs]; `dones` ends the discounted sum."""
        self.returns = self.returns * self.gamma + rewards
        self.return_rms.update(self.returns)
        self.returns[dones] = 0.0
        return np.clip(rewards / np.sqrt(self.return_rms.var + 1e-8), -self.clip, self.clip)

    def state_dict(self) -> dict:
        return {"returns": self.returns.copy(), "return_rms": self.return_rms.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.returns = np.array(state["returns"])
        self.return_rms.load_state_dict(state["return_rms"])


def compute_gae(rewards, values, next_values, terminations, dones, gamma: float, gae_lambda: float):
    """Generalised advantage estimation over a rollout; every argument is [num_steps, num_envs].

    `next_values[t]` is the value of the state reached by step t: V(s_{t+1}) within an episode and
    V(final observation) when the episode was truncated by a time limit (bootstrapped, unlike
    CleanRL); a termination contributes no bootstrap. `dones` (termination or truncation) cuts the
    advantage recursion at episode ends. Returns (advantages, lambda-returns = advantages + values),
    torch tensors like the arguments.
    """
    # speed: the backward recursion runs in numpy (same float32 arithmetic, a sixth of torch's per-op cost)
    rewards_, values_, next_values_, terminations_, dones_ = (
        x.cpu().numpy() for x in (rewards, values, next_values, terminations, dones))
    advantages = np.zeros_like(rewards_)
    lastgaelam = np.zeros_like(rewards_[0])
    for t in reversed(range(rewards_.shape[0])):
        delta = rewards_[t] + gamma * next_values_[t] * (1.0 - terminations_[t]) - values_[t]
        lastgaelam = delta + gamma * gae_lambda * (1.0 - dones_[t]) * lastgaelam
        advantages[t] = lastgaelam
    advantages = torch.as_tensor(advantages, device=rewards.device)
    return advantages, advantages + values


def clipped_policy_loss(ratio: torch.Tensor, advantages: torch.Tensor, clip_coef: float) -> torch.Tensor:
    """PPO's clipped surrogate as a loss: mean of max(-A r, -A clip(r, 1 - eps, 1 + eps)) over [B]."""
    pg_loss1 = -advantages * ratio
    pg_loss2 = -advantages * torch.clamp(ratio, 1 - clip_coef, 1 + clip_coef)
    return torch.max(pg_loss1, pg_loss2).mean()


def value_loss(newvalue, oldvalue, returns, clip_coef: float, clip_vloss: bool) -> torch.Tensor:
    """0.5 * mean squared error of V against the returns [B]; with `clip_vloss`, the larger of the plain
    error and the error of V clipped to within clip_coef of the rollout's old values."""
    v_loss_unclipped = (newvalue - returns) ** 2
    if not clip_vloss:
        return 0.5 * v_loss_unclipped.mean()
    v_clipped = oldvalue + torch.clamp(newvalue - oldvalue, -clip_coef, clip_coef)
    v_loss_clipped = (v_clipped - returns) ** 2
    return 0.5 * torch.max(v_loss_unclipped, v_loss_clipped).mean()


# ===================================================================================================
# DAP: the pieces PPO-DAP adds (METHOD.md section 2), in the order the method uses them.

PEFT_BATCH_SIZE = 256  # (a) transitions per PEFT gradient step
PEFT_WEIGHT_MAX = 20.0  # (a) advantage weights are normalised to mean 1, then clipped at this value
Q_BATCH_SIZE = 256  # (c) transitions per Q_phi gradient step
PROPOSAL_VAR_FLOOR = 1e-2  # (d) floor of the reweighted proposals' variance v(s) in the KL target


def load_checked_prior(args: Args, obs_dim: int, act_dim: int, device) -> ActionPrior:
    """The pretrained prior for `args.env_id`; stops with one sentence when it is missing or was made
    for another environment or other dimensions. Only this checkpoint is opened, never a dataset."""
    path = args.prior_path or prior_file(PRIORS_DIR, args.env_id, "diffusion")
    if not os.path.isfile(path):
        raise SystemExit(
            f"error: no prior checkpoint at {path}; make one with `python benchmarks/make_datasets.py --env-ids "
            f"{args.env_id} --kinds two-policies --priors diffusion --flat` (README, \"A prior for your own task\"), "
            "or pass --prior-path (--imitation-coef 0 runs plain PPO without one)."
        )
    try:
        prior = load_prior(path, map_location=device)
    except ValueError as err:  # load_prior's errors are already one sentence naming the file
        raise SystemExit(f"error: {err}; pass another with --prior-path.") from err
    if prior.env_id != args.env_id:
        raise SystemExit(f"error: prior {path} was made for {prior.env_id}, but --env-id is {args.env_id}.")
    if (prior.obs_dim, prior.act_dim) != (obs_dim, act_dim):
        raise SystemExit(
            f"error: prior {path} has obs/action dimensions ({prior.obs_dim}, {prior.act_dim}), but {args.env_id} "
            f"has ({obs_dim}, {act_dim})."
        )
    if prior.config["kind"] == "knn" and (args.peft != "none" or args.guidance_scale > 0):
        raise SystemExit(f"error: prior {path} is a knn (retrieval) prior, which has no network to adapt or guide; "
                         "pass --peft none and --guidance-scale 0.")
    prior.path, prior.file_sha256 = path, sha256(path)  # --resume: a checkpoint continues only with the same prior
    return prior


class LoRALinear(nn.Module):
    """(a) A frozen `nn.Linear` plus a trainable low-rank update: y = x (W + (alpha / r) B A)^T + b.

    `lora_A` [rank, in_features] is random, `lora_B` [out_features, rank] zero, so at initialisation the
    layer is exactly `base`. Takes [..., in_features] and returns [..., out_features].
    """

    def __init__(self, base: nn.Linear, rank: int, alpha: float):
        super().__init__()
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.lora_A = nn.Parameter(torch.empty(rank, base.in_features, device=base.weight.device))
        nn.init.kaiming_uniform_(self.lora_A, a=np.sqrt(5))  # as nn.Linear's own init (and loralib/peft)
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, rank, device=base.weight.device))
        self.scaling = alpha / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # speed: the update folded into the weight, one matmul; the same as base(x) + (alpha / r) x A^T B^T
        # (the three-matmul form cost 60% more in the proposals' 60 layer calls of 2,048 rows)
        return nn.functional.linear(x, self.base.weight + self.scaling * self.lora_B @ self.lora_A, self.base.bias)


class Adapter(nn.Module):
    """(a) A residual bottleneck x + W_up mish(W_down x) on [..., dim]; W_up starts at zero, so an
    Adapter is the identity at initialisation."""

    def __init__(self, dim: int, bottleneck: int):
        super().__init__()
        self.down = nn.Linear(dim, bottleneck)
        self.up = nn.Linear(bottleneck, dim)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(nn.functional.mish(self.down(x)))


def attach_peft(prior: ActionPrior, peft: str, lora_rank: int, lora_alpha: float, adapter_dim: int) -> list:
    """(a) Freeze every weight of `prior` and wrap its hidden layers with LoRA (`lora`) or follow each
    with an Adapter (`adapter`); `none` leaves the prior frozen. Returns the trainable parameters."""
    for p in prior.parameters():
        p.requires_grad_(False)
    for i, layer in enumerate(prior.hidden):
        if peft == "lora":
            prior.hidden[i] = LoRALinear(layer, lora_rank, lora_alpha)
        elif peft == "adapter":
            prior.hidden[i] = nn.Sequential(layer, Adapter(layer.out_features, adapter_dim).to(layer.weight.device))
    return [p for p in prior.parameters() if p.requires_grad]


def advantage_weights(advantages: torch.Tensor, beta: float) -> torch.Tensor:
    """(a) w_i = exp(A_i / beta) over advantages [N] standardised over the batch, normalised to mean 1
    and clipped at PEFT_WEIGHT_MAX."""
    a = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    w = torch.softmax(a / beta, dim=0) * a.shape[0]
    return w.clamp(max=PEFT_WEIGHT_MAX)


class QNetwork(nn.Module):
    """(c) The state-action critic Q_phi(s, a): normalised obs [B, obs_dim] and actions [B, act_dim]
    in env units -> [B]. Trained on the on-policy batch only, to regress the lambda-returns R-hat."""

    def __init__(self, obs_dim: int, act_dim: int):
        super().__init__()
        self.net = nn.Sequential(
            layer_init(nn.Linear(obs_dim + act_dim, 64)),
            nn.Tanh(),
            layer_init(nn.Linear(64, 64)),
            nn.Tanh(),
            layer_init(nn.Linear(64, 1), std=1.0),
        )

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([obs, actions], dim=-1)).squeeze(-1)


def energy_weights(q_values: torch.Tensor, tau: float) -> torch.Tensor:
    """(c) Self-normalised weights of the tilted prior p(a | s) exp(Q(s, a) / tau):
    q_values [B, K] -> w [B, K] = softmax_k(Q(s, a_k) / tau), each row summing to one."""
    return torch.softmax(q_values / tau, dim=-1)


def proposal_moments(proposals: torch.Tensor, weights: torch.Tensor):
    """(d) The w-weighted mean m [B, act_dim] and variance v [B, act_dim] (floored) of proposals
    [B, K, act_dim] with weights [B, K]."""
    m = (weights[..., None] * proposals).sum(1)
    v = (weights[..., None] * (proposals - m[:, None]) ** 2).sum(1)
    return m, v.clamp(min=PROPOSAL_VAR_FLOOR)


def imitation_loss(dist: Normal, proposals: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """(d) L_im = -sum_k w_k log pi(a_k | s), mean over states. `dist` is the actor's Normal for
    B states ([B, act_dim]); proposals [B, K, act_dim]; weights [B, K]. It trains the actor's mean and
    its std."""
    log_probs = dist.log_prob(proposals.transpose(0, 1)).sum(-1).transpose(0, 1)  # [B, K]
    return -(weights * log_probs).sum(-1).mean()


def kl_loss(dist: Normal, m: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """(d) L_kl = KL(pi(.|s) || N(m(s), diag v(s))), summed over action dims, mean over states.
    `dist` [B, act_dim]; m, v [B, act_dim]."""
    return torch.distributions.kl_divergence(dist, Normal(m, v.sqrt())).sum(-1).mean()


def return_gate(recent_returns, prior_return: float) -> float:
    """(d) The return release: 1.0 while the actor's mean training return over `recent_returns` (the last
    100 episodes) is below `prior_return`, the mean episode return of the data the prior was made
    from, and 0.0 once the actor does at least as well as the behaviour it would imitate (1.0 before
    any episode has ended)."""
    return 1.0 if len(recent_returns) == 0 or float(np.mean(recent_returns)) < prior_return else 0.0


def anneal(coef: float, steps_done: int, anneal_steps: int) -> float:
    """(d) coef decayed linearly from its full value at step 0 to zero at `anneal_steps` environment
    steps; `steps_done` counts the steps before the current iteration's rollout."""
    return coef * max(0.0, 1.0 - steps_done / anneal_steps)


@dataclass
class DAPTargets:
    """What step (d) needs from one iteration's DAP step: for B states of the batch, their normalised
    observations `obs` [B, obs_dim], the proposals [B, K, act_dim], their weights [B, K], the weighted
    moments `mean`, `var` [B, act_dim], and the numbers to log."""

    obs: torch.Tensor
    proposals: torch.Tensor
    weights: torch.Tensor
    mean: torch.Tensor
    var: torch.Tensor
    log: dict


def dap_step(args: Args, prior: ActionPrior, peft_optimizer, qf: QNetwork, q_optimizer,
             b_obs, b_raw_obs, b_env_actions, b_advantages, b_returns) -> DAPTargets:
    """Steps (a)-(c) of one iteration, on this rollout only (flattened [N, ...] tensors; `b_env_actions`
    as executed, i.e. clipped to the bounds [act_low, act_high]). Nothing here enters the rollout
    buffer, the ratio, the advantages or the value targets."""
    start = time.time()
    batch_size = b_obs.shape[0]

    # (a) PEFT adaptation of the prior on this rollout: advantage-weighted denoising loss
    peft_loss = torch.tensor(float("nan"))
    if peft_optimizer is not None and args.prior_updates > 0:
        peft_w = advantage_weights(b_advantages, args.peft_adv_beta)
        for _ in range(args.prior_updates):
            idx = np.random.randint(0, batch_size, PEFT_BATCH_SIZE)
            peft_loss = prior.loss(b_raw_obs[idx], b_env_actions[idx], peft_w[idx])
            peft_optimizer.zero_grad()
            peft_loss.backward()
            peft_optimizer.step()

    # (c) the critic Q_phi, regressed on the lambda-returns of the actions taken in this rollout. It is
    # fitted before (b) draws the proposals because (b)'s optional gradient guidance uses it.
    q_loss = torch.tensor(float("nan"))
    for _ in range(args.q_updates):
        idx = np.random.randint(0, batch_size, Q_BATCH_SIZE)
        q_loss = ((qf(b_obs[idx], b_env_actions[idx]) - b_returns[idx]) ** 2).mean()
        q_optimizer.zero_grad()
        q_loss.backward()
        q_optimizer.step()

    # (b) K proposals from the adapted prior for a random subset of this rollout's states
    dap_idx = np.random.choice(batch_size, min(args.proposal_states, batch_size), replace=False)
    dap_obs = b_obs[dap_idx]
    dap_obs_rep = dap_obs.repeat_interleave(args.num_proposals, dim=0)  # state-major, as sample()
    with torch.no_grad():
        proposals = prior.sample(b_raw_obs[dap_idx], args.num_proposals,  # the prior takes raw observations
                                 guidance=lambda a: qf(dap_obs_rep, a), guidance_scale=args.guidance_scale)

        # (c) energy reweighting of the proposals, tau in units of the advantage spread
        q_proposals = qf(dap_obs_rep, proposals.reshape(-1, prior.act_dim)).view(len(dap_idx), -1)
        weights = energy_weights(q_proposals, args.energy_temperature * b_advantages.std())
        mean, var = proposal_moments(proposals, weights)

    # the actor loss must put no gradient on the prior or on Q_phi (checked as dap/grad_leak)
    prior.zero_grad(set_to_none=True)
    qf.zero_grad(set_to_none=True)
    log = {"losses/q_loss": q_loss.item(), "losses/peft_loss": peft_loss.item(),
           "dap/ess": (1.0 / (weights**2).sum(-1)).mean().item(), "time/prior_s": time.time() - start}
    return DAPTargets(dap_obs, proposals, weights, mean, var, log)


# ===================================================================================================
# The training loop: CleanRL's, with the DAP step and the DAP (d) terms.


def train(args: Args, stop: InterruptFlag) -> str:
    """CleanRL's loop with the DAP step; returns the run folder. When `stop` is raised (Ctrl-C,
    SIGTERM) the run ends at the next step, saves what it has (and the checkpoint of its last finished
    iteration) and exits with 128 + the signal number. With --resume it continues a run from its checkpoint."""
    check_args(args)  # flags and output paths, before anything is built
    checkpoint = read_checkpoint(args.resume) if args.resume is not None else None  # --resume: the run's state
    args.batch_size = int(args.num_envs * args.num_steps)  # CleanRL's runtime fields (attributes, not flags)
    args.minibatch_size = int(args.batch_size // args.num_minibatches)
    args.num_iterations = args.total_timesteps // args.batch_size
    run_name = f"{args.env_id}__{args.exp_name}__{args.seed}__{int(time.time())}"

    # TRY NOT TO MODIFY: seeding
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.backends.cudnn.deterministic = args.torch_deterministic
    torch.set_num_threads(1)  # speed: for these tiny MLPs one thread is fastest on CPU

    device = torch.device("cuda" if torch.cuda.is_available() and args.cuda else "cpu")
    if checkpoint is not None:
        check_resume(args, checkpoint, device)  # --resume: the run's flags, library versions and device

    # env setup
    envs = make_envs(args.env_id, args.num_envs)  # gymnasium 1.x: same-step autoreset
    obs_dim = int(np.prod(envs.single_observation_space.shape))
    act_dim = int(np.prod(envs.single_action_space.shape))
    act_low, act_high = envs.single_action_space.low, envs.single_action_space.high

    agent = Agent(obs_dim, act_dim, args.rpo_alpha).to(device)  # RPO when --rpo-alpha > 0
    optimizer = optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5, foreach=True)  # speed: same numbers
    obs_norm = ObsNormalizer(obs_dim)  # normalisation in the script: the prior and the log take raw obs
    reward_scaler = RewardScaler(args.num_envs, args.gamma)

    # DAP: the pretrained prior, frozen, with LoRA or Adapters (a), and the state-action critic Q_phi (c).
    # With both coefficients at zero nothing of the prior is loaded or run: the script is PPO.
    use_dap = args.imitation_coef > 0 or args.kl_coef > 0
    if use_dap:
        prior = load_checked_prior(args, obs_dim, act_dim, device)
        if checkpoint is not None and prior.file_sha256 != checkpoint["prior_sha256"]:  # --resume: the same prior
            raise SystemExit(f"error: --resume: prior {prior.path} is not the file the run started with (its sha256 "
                             "differs); put that one back to resume the run.")
        peft_params = attach_peft(prior, args.peft, args.lora_rank, args.lora_alpha, args.adapter_dim)
        peft_optimizer = optim.Adam(peft_params, lr=args.prior_lr) if peft_params else None
        qf = QNetwork(obs_dim, act_dim).to(device)
        q_optimizer = optim.Adam(qf.parameters(), lr=args.q_lr)
        act_low_t, act_high_t = torch.tensor(act_low, device=device), torch.tensor(act_high, device=device)
        prior_return = prior.provenance.get("mean_episode_return")  # for --prior-release return
        if args.prior_release == "return" and prior_return is None:
            raise SystemExit(f"error: --prior-release return needs the prior's data return, and {prior.env_id}'s prior "
                             "records none (its dataset had no rewards); use --prior-release clock.")
        print(f"DAP: prior for {prior.env_id} from {prior.provenance.get('transitions')} logged transitions; "
              f"PEFT {args.peft}: {sum(p.numel() for p in peft_params)} trainable, "
              f"{sum(p.numel() for p in prior.parameters() if not p.requires_grad)} frozen parameters")

    # Output files are created only now, once the flags, the env and the prior have passed their checks.
    prior_sha256 = prior.file_sha256 if use_dap else None  # config.json records which prior file the run read
    writer = RunWriter(args, run_name, args.num_iterations * args.batch_size, envs.single_observation_space.shape,
                       act_low, act_high, checkpoint, prior_sha256)  # files, not only TensorBoard; --resume: cut back
    stateful = {"agent": agent, "optimizer": optimizer, "obs_norm": obs_norm, "reward_scaler": reward_scaler}
    if use_dap:
        stateful.update(prior=prior, peft_optimizer=peft_optimizer, qf=qf, q_optimizer=q_optimizer)
    checkpointer = Checkpointer(args, writer, envs, device, stateful, prior_sha256)

    # ALGO Logic: Storage setup
    obs = torch.zeros((args.num_steps, args.num_envs, obs_dim)).to(device)
    raw_obs = torch.zeros((args.num_steps, args.num_envs, obs_dim)).to(device)  # raw obs: the prior's input
    actions = torch.zeros((args.num_steps, args.num_envs, act_dim)).to(device)
    logprobs = torch.zeros((args.num_steps, args.num_envs)).to(device)
    rewards = torch.zeros((args.num_steps, args.num_envs)).to(device)
    terminations = torch.zeros((args.num_steps, args.num_envs)).to(device)  # truncation bootstrap
    dones = torch.zeros((args.num_steps, args.num_envs)).to(device)
    values = torch.zeros((args.num_steps, args.num_envs)).to(device)
    next_values = torch.zeros((args.num_steps, args.num_envs)).to(device)  # truncation bootstrap

    # TRY NOT TO MODIFY: start the game
    global_step = 0
    start_time = time.time()
    envs.action_space.seed(args.seed)  # reproducible: seeds the actions' space too
    next_raw_obs, _ = envs.reset(seed=args.seed)
    obs_norm.update(next_raw_obs)
    next_obs = torch.tensor(obs_norm(next_raw_obs), device=device)
    iterations_done = 0
    if checkpoint is not None:  # --resume: the run as it stood at its checkpoint, in place of the fresh start above
        iterations_done, global_step, next_raw_obs, next_obs, train_seconds = checkpointer.restore(checkpoint)
        start_time = time.time() - train_seconds - writer.eval_seconds
    writer.maybe_evaluate(agent, obs_norm, global_step, device)  # --eval-every: eval.csv at step 0
    checkpointer.end_iteration(iterations_done, global_step, next_raw_obs, next_obs,  # (a signal in iteration 1)
                               time.time() - start_time - writer.eval_seconds)

    interrupted = False  # interrupted: a signal before the last iteration's rollout ended (one later lets the run finish)
    for iteration in range(1, args.num_iterations + 1)[iterations_done:]:  # resume: after the checkpoint's iteration
        # Annealing the rate if instructed to do so.
        if args.anneal_lr:
            frac = 1.0 - (iteration - 1.0) / args.num_iterations
            lrnow = frac * args.learning_rate
            optimizer.param_groups[0]["lr"] = lrnow

        for step in range(0, args.num_steps):
            if stop.signum:  # interrupted: leave the rollout unfinished, save below
                break
            global_step += args.num_envs
            obs[step] = next_obs
            raw_obs[step] = torch.as_tensor(next_raw_obs, device=device)  # raw obs

            # ALGO LOGIC: action logic (every env action is sampled from the Gaussian actor)
            with torch.inference_mode():  # speed: no_grad without the version counters (same numbers)
                action, logprob, value = agent.act(next_obs)  # speed: get_action_and_value's numbers, no entropy
                values[step] = value.flatten()
            actions[step] = action
            logprobs[step] = logprob

            # TRY NOT TO MODIFY: execute the game and log data.
            env_action = np.clip(action.cpu().numpy(), act_low, act_high)  # ClipAction
            step_raw_obs = next_raw_obs  # raw obs
            next_raw_obs, reward, terminated, truncated, infos = envs.step(env_action)  # raw obs
            writer.log_transition(step_raw_obs, env_action, reward, terminated, truncated)  # --save-rollouts
            done = np.logical_or(terminated, truncated)  # same-step autoreset
            obs_norm.update(next_raw_obs)  # NormalizeObservation
            next_obs = torch.as_tensor(obs_norm(next_raw_obs), device=device)  # NormalizeObservation + clip
            rewards[step] = torch.as_tensor(reward_scaler(reward, done), device=device)  # NormalizeReward
            terminations[step] = torch.as_tensor(terminated, device=device)  # truncation bootstrap
            dones[step] = torch.as_tensor(done, device=device)  # same-step autoreset: this step's done

            # truncation bootstrap: value the final observation of a time-limit truncation now
            truncated_only = np.logical_and(truncated, ~terminated)
            if truncated_only.any():
                final_raw = np.stack(infos["final_obs"][truncated_only])
                with torch.no_grad():
                    final_values = agent.get_value(torch.tensor(obs_norm(final_raw), device=device))
                next_values[step, torch.as_tensor(truncated_only, device=device)] = final_values.flatten()

            if "final_info" in infos:
                episodes_over = np.nonzero(infos["final_info"]["_episode"])[0]
                episodic_returns = infos["final_info"]["episode"]["r"][episodes_over]
                episodic_lengths = infos["final_info"]["episode"]["l"][episodes_over]
                for episodic_return, episodic_length in zip(episodic_returns, episodic_lengths):
                    writer.add_scalar("charts/episodic_return", episodic_return, global_step)
                    writer.add_scalar("charts/episodic_length", episodic_length, global_step)

        if stop.signum:  # interrupted
            interrupted = True  # interrupted
            break

        # bootstrap value if not done
        with torch.no_grad():
            next_value = agent.get_value(next_obs).reshape(1, -1)
            in_episode_next = torch.cat([values[1:], next_value], dim=0)  # truncation bootstrap
            bootstrap = torch.where(dones.bool(), next_values, in_episode_next)  # truncation bootstrap
            advantages, returns = compute_gae(  # tested function: GAE with the truncation bootstrap
                rewards, values, bootstrap, terminations, dones, args.gamma, args.gae_lambda
            )
            next_values.zero_()  # truncation bootstrap

        # flatten the batch
        b_obs = obs.reshape((-1,) + envs.single_observation_space.shape)
        b_logprobs = logprobs.reshape(-1)
        b_actions = actions.reshape((-1,) + envs.single_action_space.shape)
        b_advantages = advantages.reshape(-1)
        b_returns = returns.reshape(-1)
        b_values = values.reshape(-1)

        # DAP: steps (a)-(c), once per iteration while the annealed coefficients are above zero
        gate = return_gate(writer.recent_returns, prior_return) if use_dap and args.prior_release == "return" else 1.0
        steps_before = (iteration - 1) * args.batch_size
        imitation_coef = gate * anneal(args.imitation_coef, steps_before, args.prior_anneal_steps)
        kl_coef = gate * anneal(args.kl_coef, steps_before, args.prior_anneal_steps)
        dap_now = imitation_coef > 0 or kl_coef > 0
        if dap_now:
            b_env_actions = b_actions.clamp(act_low_t, act_high_t)
            dap = dap_step(args, prior, peft_optimizer, qf, q_optimizer, b_obs,
                           raw_obs.reshape((-1, obs_dim)), b_env_actions, b_advantages, b_returns)

        # Optimizing the policy and value network
        b_inds = np.arange(args.batch_size)
        dap_inds = np.arange(len(dap.obs)) if dap_now else None  # DAP: the proposal states of (d), dealt out below
        clipfracs = []
        for epoch in range(args.update_epochs):
            np.random.shuffle(b_inds)
            if dap_now:  # DAP
                np.random.shuffle(dap_inds)
            for start in range(0, args.batch_size, args.minibatch_size):
                end = start + args.minibatch_size
                mb_inds = b_inds[start:end]

                _, newlogprob, entropy, newvalue = agent.get_action_and_value(b_obs[mb_inds], b_actions[mb_inds])
                logratio = newlogprob - b_logprobs[mb_inds]
                ratio = logratio.exp()

                with torch.no_grad():
                    # calculate approx_kl http://joschu.net/blog/kl-approx.html
                    old_approx_kl = (-logratio).mean()
                    approx_kl = ((ratio - 1) - logratio).mean()
                    clipfracs += [((ratio - 1.0).abs() > args.clip_coef).float().mean().item()]

                mb_advantages = b_advantages[mb_inds]
                if args.norm_adv:
                    mb_advantages = (mb_advantages - mb_advantages.mean()) / (mb_advantages.std() + 1e-8)

                # Policy loss: CleanRL's lines, as a tested function
                pg_loss = clipped_policy_loss(ratio, mb_advantages, args.clip_coef)

                # Value loss: CleanRL's lines, as a tested function
                newvalue = newvalue.view(-1)
                v_loss = value_loss(newvalue, b_values[mb_inds], b_returns[mb_inds], args.clip_coef, args.clip_vloss)

                entropy_loss = entropy.mean()
                loss = pg_loss - args.ent_coef * entropy_loss + v_loss * args.vf_coef

                # DAP (d): small, annealed imitation and soft-KL terms toward the reweighted proposals;
                # the clipped PPO loss above is unchanged. Like PPO's states, the proposal states are dealt
                # out over the minibatches (each takes its 1/num_minibatches of them), so an epoch visits
                # each proposal state once and the terms' mean gradient is that over all of them.
                if dap_now:
                    mb_dap = dap_inds[start * len(dap_inds) // args.batch_size:end * len(dap_inds) // args.batch_size]
                    dap_dist = agent.get_dist(dap.obs[mb_dap])
                    im_loss = imitation_loss(dap_dist, dap.proposals[mb_dap], dap.weights[mb_dap])
                    loss = loss + imitation_coef * im_loss
                    if kl_coef > 0:  # speed: no KL graph at the default --kl-coef 0 (it would add exact zeros)
                        k_loss = kl_loss(dap_dist, dap.mean[mb_dap], dap.var[mb_dap])  # DAP
                        loss = loss + kl_coef * k_loss  # DAP

                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                optimizer.step()

            if args.target_kl is not None and approx_kl > args.target_kl:
                break

        y_pred, y_true = b_values.cpu().numpy(), b_returns.cpu().numpy()
        var_y = np.var(y_true)
        explained_var = np.nan if var_y == 0 else 1 - np.var(y_true - y_pred) / var_y

        # TRY NOT TO MODIFY: record rewards for plotting purposes
        writer.add_scalar("charts/learning_rate", optimizer.param_groups[0]["lr"], global_step)
        writer.add_scalar("losses/value_loss", v_loss.item(), global_step)
        writer.add_scalar("losses/policy_loss", pg_loss.item(), global_step)
        writer.add_scalar("losses/entropy", entropy_loss.item(), global_step)
        writer.add_scalar("losses/old_approx_kl", old_approx_kl.item(), global_step)
        writer.add_scalar("losses/approx_kl", approx_kl.item(), global_step)
        writer.add_scalar("losses/clipfrac", np.mean(clipfracs), global_step)
        writer.add_scalar("losses/explained_variance", explained_var, global_step)
        train_seconds = time.time() - start_time - writer.eval_seconds  # --eval-every: evaluation time is not training time
        writer.add_scalar("charts/SPS", int(global_step / train_seconds), global_step)  # --eval-every: without evaluation time
        if device.type == "cuda":  # peak GPU memory
            writer.add_scalar("perf/peak_gpu_mb", torch.cuda.max_memory_allocated(device) / 2**20, global_step)
        if use_dap:  # DAP: what the prior did this iteration
            writer.add_scalar("dap/imitation_coef", imitation_coef, global_step)
            writer.add_scalar("dap/kl_coef", kl_coef, global_step)
            writer.add_scalar("dap/release_gate", gate, global_step)
        if dap_now:  # DAP
            leak = [p.grad.norm() for p in [*prior.parameters(), *qf.parameters()] if p.grad is not None]
            dap.log.update({"losses/imitation": im_loss.item(),  # DAP
                            "dap/grad_leak": float(sum(leak)) if leak else 0.0})
            if kl_coef > 0:  # DAP
                dap.log["losses/kl"] = k_loss.item()
            for key, value in dap.log.items():  # DAP
                writer.add_scalar(key, value, global_step)
        writer.end_iteration(iteration, global_step, train_seconds)  # run files: progress.csv, episodes.csv, progress line
        # non-finite guard: stop with a clear message, keep the logs
        if not (math.isfinite(loss.item()) and all_finite(agent.parameters())):
            writer.finish(agent=None, obs_norm=obs_norm, device=device)  # non-finite guard: the logs, not a broken model
            raise SystemExit(f"error: the loss or the actor-critic's weights became non-finite at iteration "
                             f"{iteration}; logs saved in {writer.run_dir} (try a smaller --learning-rate).")
        writer.maybe_evaluate(agent, obs_norm, global_step, device)  # --eval-every
        checkpointer.end_iteration(iteration, global_step, next_raw_obs, next_obs,  # checkpoint: every N iterations
                                   time.time() - start_time - writer.eval_seconds)

    envs.close()
    if interrupted:  # interrupted: the checkpoint of the last finished iteration (--resume redoes the rollout)
        checkpointer.write()
    writer.finish(agent, obs_norm, device)
    if interrupted:
        resume = "" if checkpointer.written is None else f"; continue it with `python ppo_dap.py --resume {writer.run_dir}`"
        stop.exit(f"step {global_step}", f"what the run had is saved in {writer.run_dir}{resume}")
    checkpointer.finish()  # complete: the checkpoint becomes a marker that says so
    return writer.run_dir


# ===================================================================================================
# Plumbing: argument checks, signals, the files a run writes, evaluation. Nothing of the method.


def check_args(args: Args) -> None:
    """Stop with one sentence naming the flag when a setting cannot work, before anything is built or
    written: numbers finite and in range, output paths writable and not already taken."""
    check_finite_flags(args)
    flag = lambda name: f"--{name.replace('_', '-')} must"  # noqa: E731

    for name in ("total_timesteps", "num_envs", "num_steps", "num_minibatches", "update_epochs", "prior_anneal_steps", "lora_rank",
                 "adapter_dim", "num_proposals", "proposal_states", "q_updates", "learning_rate", "clip_coef",
                 "max_grad_norm", "lora_alpha", "prior_lr", "q_lr", "peft_adv_beta", "energy_temperature"):
        if not getattr(args, name) > 0:
            raise SystemExit(f"error: {flag(name)} be positive, got {getattr(args, name)}.")
    for name in ("eval_episodes", "eval_every", "prior_updates", "ent_coef", "vf_coef", "imitation_coef", "kl_coef",
                 "guidance_scale", "rpo_alpha", "checkpoint_every"):
        if getattr(args, name) < 0:
            raise SystemExit(f"error: {flag(name)} be zero or positive, got {getattr(args, name)}.")
    for name in ("gamma", "gae_lambda"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            raise SystemExit(f"error: {flag(name)} lie in [0, 1], got {getattr(args, name)}.")
    if args.target_kl is not None and not args.target_kl > 0:
        raise SystemExit(f"error: {flag('target_kl')} be positive when given, got {args.target_kl}.")
    if args.eval_every > 0 and args.eval_episodes == 0:
        raise SystemExit("error: --eval-every needs --eval-episodes of at least 1.")
    batch_size = args.num_envs * args.num_steps
    if batch_size % args.num_minibatches != 0:
        raise SystemExit(
            f"error: --num-minibatches {args.num_minibatches} must divide the batch size "
            f"--num-envs x --num-steps = {batch_size}."
        )
    if (args.imitation_coef > 0 or args.kl_coef > 0) and args.proposal_states < args.num_minibatches:
        raise SystemExit(f"error: --proposal-states {args.proposal_states} must be at least --num-minibatches "
                         f"{args.num_minibatches}: each minibatch imitates its share of the proposal states.")
    if args.total_timesteps < batch_size:
        raise SystemExit(
            f"error: --total-timesteps {args.total_timesteps} is smaller than one rollout "
            f"(--num-envs x --num-steps = {batch_size})."
        )
    if args.resume is not None:  # the run's own folder and files (its .npz may exist: an interrupted run saves it)
        check_writable_dir(args.resume, "--resume")
        return
    check_writable_dir(args.runs_dir, "--runs-dir")
    if args.save_rollouts is not None:
        if not args.save_rollouts.endswith(".npz"):
            raise SystemExit(f"error: --save-rollouts {args.save_rollouts} must name a .npz file.")
        if os.path.exists(args.save_rollouts):
            raise SystemExit(f"error: --save-rollouts {args.save_rollouts} already exists; "
                             "remove it or choose another name (runs never overwrite a dataset).")
        check_writable_dir(os.path.dirname(os.path.abspath(args.save_rollouts)), "--save-rollouts")


def make_run_dir(runs_dir: str, run_name: str) -> str:
    """Create `{runs_dir}/{run_name}` exclusively, adding -2, -3, ... when the name is taken, so that two
    runs never write into one folder."""
    os.makedirs(runs_dir, exist_ok=True)
    for n in range(1, 10_000):
        path = os.path.join(runs_dir, run_name if n == 1 else f"{run_name}-{n}")
        try:
            os.mkdir(path)  # atomic: fails if another run made it first
            return path
        except FileExistsError:
            continue
    raise SystemExit(f"error: --runs-dir {runs_dir} already holds 9,999 runs named {run_name}.")


class RolloutLog:
    """Every transition of the run in the logged-trajectory format (METHOD.md section 1): raw
    `observations` [N, obs_dim], executed `actions` [N, act_dim] (clipped to the bounds), raw
    `rewards`, `terminations`, `truncations` [N], plus the env's id and spaces (`env_id`,
    `observation_shape`, `action_low`, `action_high` [act_dim]). Saved env by env, so each env's transitions are
    consecutive; the last transition of each env is marked truncated, since the log ends there."""

    def __init__(self, env_id: str, obs_shape: tuple, act_low: np.ndarray, act_high: np.ndarray):
        self.meta = {"env_id": np.array(env_id), "observation_shape": np.array(obs_shape),
                     "action_low": act_low, "action_high": act_high}
        self.steps = {"observations": [], "actions": [], "rewards": [], "terminations": [], "truncations": []}
        self.flushed = 0  # steps already in the checkpoint's partial log
        self.cuts = []  # (step, env) where --resume restarted an env's episode (`cut`)

    def add(self, obs, actions, rewards, terminations, truncations) -> None:
        """Each argument holds one vector-env step: [num_envs, ...]."""
        for key, value in zip(self.steps, (obs, actions, rewards, terminations, truncations)):
            self.steps[key].append(np.asarray(value))

    def save(self, path: str) -> int:
        """Write the log atomically to `path` (.npz); returns the number of transitions."""
        if not self.steps["observations"]:
            return 0
        # [steps, envs, ...] -> [envs, steps, ...] -> [envs * steps, ...]
        arrays = {k: np.stack(v, axis=1).reshape(-1, *v[0].shape[1:]) for k, v in self.steps.items()}
        num_steps = len(self.steps["observations"])
        arrays["truncations"][num_steps - 1 :: num_steps] = True
        arrays["observations"] = arrays["observations"].astype(np.float32)
        arrays["actions"] = arrays["actions"].astype(np.float32)
        arrays["rewards"] = arrays["rewards"].astype(np.float32)
        atomic_write(path, lambda f: np.savez(f, **arrays, **self.meta))
        return len(arrays["rewards"])

    def flush(self, path: str, num_steps: int) -> int:
        """--checkpoint-every: append the steps up to `num_steps` that the partial log `path` lacks, one .npy
        record [steps, num_envs, ...] per key; returns the file's size, which the checkpoint records."""
        with open(path, "ab") as f:
            if num_steps > self.flushed:
                for values in self.steps.values():
                    np.save(f, np.stack(values[self.flushed:num_steps]))
            self.flushed = num_steps
            return f.tell()

    def restore(self, path: str, size: int, cuts: list) -> None:
        """--resume: cut the partial log `path` back to the `size` bytes its checkpoint recorded, load it,
        and mark the episodes earlier resumes cut (`cuts`)."""
        os.truncate(path, size)
        with open(path, "rb") as f:
            while f.tell() < size:
                for values in self.steps.values():
                    values.extend(np.load(f))
        self.flushed = len(self.steps["observations"])
        for step, env in cuts:
            self.cut(env, step)

    def cut(self, env: int, step: Optional[int] = None) -> None:
        """Mark env `env`'s transition at `step` (default: the last) truncated: --resume restarted its episode there."""
        if self.steps["truncations"]:
            step = len(self.steps["truncations"]) - 1 if step is None else step
            self.steps["truncations"][step][env] = True
            self.cuts.append((step, env))


def write_csv(path: str, rows: list) -> None:
    """Rewrite a CSV file atomically from a list of dicts."""
    fields = list(dict.fromkeys(k for row in rows for k in row))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, lambda f: f.write(text.getvalue().encode()))


def save_model(path: str, agent: Agent, obs_norm: ObsNormalizer, args: Args) -> None:
    """Actor, critic and observation statistics in one file, written atomically."""
    state = {
        "agent": {k: v.cpu() for k, v in agent.state_dict().items()},
        "obs_norm": obs_norm.state_dict(),
        "env_id": args.env_id,
        "args": asdict(args),
    }
    atomic_write(path, lambda f: torch.save(state, f))


def load_model(path: str, device="cpu"):
    """(agent, obs_norm, env_id) from a file written by `save_model`."""
    state = torch.load(path, map_location=device, weights_only=False)
    obs_dim, act_dim = state["agent"]["actor_mean.0.weight"].shape[1], state["agent"]["actor_logstd"].shape[1]
    agent = Agent(obs_dim, act_dim).to(device)
    agent.load_state_dict(state["agent"])
    obs_norm = ObsNormalizer(obs_dim)
    obs_norm.load_state_dict(state["obs_norm"])
    return agent, obs_norm, state["env_id"]


def evaluate(agent: Agent, obs_norm: ObsNormalizer, env_id: str, episodes: int, seed: int, device="cpu") -> np.ndarray:
    """Deterministic evaluation: the actor's mean action (no sampling), observation statistics frozen,
    on a fresh env whose episode i is seeded `seed + i`. Returns the raw episodic returns [episodes]."""
    env = gym.wrappers.FlattenObservation(gym.make(env_id))
    returns = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        done, total = False, 0.0
        while not done:
            with torch.no_grad():
                mean = agent.actor_mean(torch.as_tensor(obs_norm(obs)[None], device=device))
            action = np.clip(mean[0].cpu().numpy(), env.action_space.low, env.action_space.high)
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return np.array(returns)


class RunWriter:
    """Everything a run writes into its own folder `{runs_dir}/{run_name}[-n]/`, behind the
    `add_scalar(tag, value, step)` calls of CleanRL's loop: config.json at the start; progress.csv
    (one row per iteration) and episodes.csv after every iteration; eval.csv every --eval-every steps;
    with --save-model, model.pt and eval.json at the end; with --save-rollouts, the .npz at the end;
    TensorBoard events too when the optional tensorboard package is installed. Every file but the
    TensorBoard events and the growing rollout log (appended, cut back on resume) is written to a
    temporary file and renamed, so a crash never leaves half a file. Given a `checkpoint`
    (--resume), it takes over that run's folder and cuts its files back to the checkpoint."""

    EVAL_SEED_OFFSET = 10_000  # evaluation envs are seeded apart from the training envs

    def __init__(self, args: Args, run_name: str, total_steps: int, obs_shape: tuple, act_low, act_high,
                 checkpoint: Optional[dict] = None, prior_sha256: Optional[str] = None):
        self.args, self.total_steps = args, total_steps
        self.run_dir = make_run_dir(args.runs_dir, run_name) if checkpoint is None else args.resume
        self.row, self.progress_rows, self.episode_rows, self.eval_rows = {}, [], [], []
        self.iteration_returns, self.recent_returns = [], deque(maxlen=100)
        self.eval_seconds = 0.0
        self.checkpoint_seconds = 0.0  # capturing and writing checkpoints (counted in the training time)
        self.commands = [portable_command()]  # the run's command, then each --resume's
        self.rollout_log = None
        if args.save_rollouts is not None:
            os.makedirs(os.path.dirname(os.path.abspath(args.save_rollouts)), exist_ok=True)
            self.rollout_log = RolloutLog(args.env_id, obs_shape, act_low, act_high)
        if checkpoint is not None:
            self.load_state_dict(checkpoint["writer"])
        config = {**asdict(args), "command": self.commands[0]}
        if prior_sha256 is not None:  # which prior file the run read, by content
            config["prior_sha256"] = prior_sha256
        if len(self.commands) > 1:
            config["resumed_by"] = self.commands[1:]
        text = json.dumps(config, indent=1).encode()
        atomic_write(os.path.join(self.run_dir, "config.json"), lambda f: f.write(text))
        self.tensorboard = None
        if importlib.util.find_spec("tensorboard") is not None:
            from torch.utils.tensorboard import SummaryWriter

            purge_step = None if checkpoint is None else checkpoint["global_step"]  # --resume: drop the events after it
            self.tensorboard = SummaryWriter(self.run_dir, purge_step=purge_step)
            self.tensorboard.add_text("hyperparameters", "|param|value|\n|-|-|\n%s" % (
                "\n".join([f"|{key}|{value}|" for key, value in vars(args).items()])))

    def state_dict(self) -> dict:
        """What the run's files hold so far (a row never changes once added: shallow copies keep them)."""
        return {"progress_rows": list(self.progress_rows), "episode_rows": list(self.episode_rows),
                "eval_rows": list(self.eval_rows), "recent_returns": list(self.recent_returns),
                "eval_seconds": self.eval_seconds, "checkpoint_seconds": self.checkpoint_seconds,
                "commands": list(self.commands),
                "rollout_steps": 0 if self.rollout_log is None else len(self.rollout_log.steps["observations"]),
                "rollout_cuts": [] if self.rollout_log is None else list(self.rollout_log.cuts)}

    def load_state_dict(self, state: dict) -> None:
        """--resume: take `state_dict`'s numbers back and cut the files to them: progress.csv, episodes.csv,
        eval.csv and the rollout log as they were at the checkpoint; model.pt and eval.json (written when
        the run was stopped) are removed until the run ends again."""
        self.progress_rows, self.episode_rows = state["progress_rows"], state["episode_rows"]
        self.eval_rows = state["eval_rows"]
        self.recent_returns.extend(state["recent_returns"])
        self.eval_seconds, self.checkpoint_seconds = state["eval_seconds"], state["checkpoint_seconds"]
        self.commands = state["commands"] + self.commands
        for name, rows in (("progress.csv", self.progress_rows), ("episodes.csv", self.episode_rows),
                           ("eval.csv", self.eval_rows)):
            if rows:
                write_csv(os.path.join(self.run_dir, name), rows)
            elif os.path.exists(os.path.join(self.run_dir, name)):
                os.remove(os.path.join(self.run_dir, name))
        for name in ("model.pt", "eval.json"):
            if os.path.exists(os.path.join(self.run_dir, name)):
                os.remove(os.path.join(self.run_dir, name))
        if self.rollout_log is not None:
            self.rollout_log.restore(os.path.join(self.run_dir, ROLLOUT_PARTIAL), state["rollout_log_bytes"],
                                     state["rollout_cuts"])

    def add_scalar(self, tag: str, value, step: int) -> None:
        """Record a number: an episode's return or length goes to episodes.csv, anything else into this
        iteration's row of progress.csv."""
        value = float(value)
        if tag == "charts/episodic_return":
            self.iteration_returns.append(value)
            self.recent_returns.append(value)
            self.episode_rows.append({"global_step": step, "episodic_return": value})
        elif tag == "charts/episodic_length":
            self.episode_rows[-1]["episodic_length"] = int(value)
        else:
            self.row[tag] = value
        if self.tensorboard is not None:
            self.tensorboard.add_scalar(tag, value, step)

    def end_iteration(self, iteration: int, global_step: int, train_seconds: float) -> None:
        """Close the iteration's row (with the mean return of the episodes that ended in it, nan if
        none did), rewrite progress.csv and episodes.csv, print the progress line."""
        mean_return = float(np.mean(self.iteration_returns)) if self.iteration_returns else float("nan")
        self.progress_rows.append({"iteration": iteration, "global_step": global_step,
                                   "charts/episodic_return": mean_return, "charts/episodes": len(self.iteration_returns),
                                   **self.row, "time/elapsed_s": train_seconds, "time/eval_s": self.eval_seconds,
                                   "time/checkpoint_s": self.checkpoint_seconds})
        write_csv(os.path.join(self.run_dir, "progress.csv"), self.progress_rows)
        if self.episode_rows:
            write_csv(os.path.join(self.run_dir, "episodes.csv"), self.episode_rows)
        recent = f"{np.mean(self.recent_returns):.1f}" if self.recent_returns else "n/a"
        left = train_seconds / global_step * (self.total_steps - global_step)
        print(f"iter {iteration} | step {global_step:,}/{self.total_steps:,} | SPS {int(self.row['charts/SPS'])} | "
              f"{fmt_seconds(train_seconds)} elapsed, {fmt_seconds(left)} left | "
              f"return {recent} (last {len(self.recent_returns)} episodes)", flush=True)
        self.row, self.iteration_returns = {}, []

    def log_transition(self, obs, actions, rewards, terminations, truncations) -> None:
        if self.rollout_log is not None:
            self.rollout_log.add(obs, actions, rewards, terminations, truncations)

    def maybe_evaluate(self, agent: Agent, obs_norm: ObsNormalizer, global_step: int, device) -> None:
        """With --eval-every N: a deterministic evaluation at the first call at or past each multiple of N
        (steps 0, N, 2N, ...), one row of eval.csv each; its time is kept out of the training time."""
        every = self.args.eval_every
        if every == 0 or (self.eval_rows and global_step // every <= self.eval_rows[-1]["epoch"]):
            return
        start = time.time()
        returns = evaluate(agent, obs_norm, self.args.env_id, self.args.eval_episodes,
                           self.args.seed + self.EVAL_SEED_OFFSET, device)
        self.eval_seconds += time.time() - start
        self.eval_rows.append({"epoch": global_step // every, "global_step": global_step,
                               "mean_return": float(returns.mean()), "std_return": float(returns.std()),
                               "episodes": len(returns), "seconds": time.time() - start})
        write_csv(os.path.join(self.run_dir, "eval.csv"), self.eval_rows)

    def finish(self, agent: Optional[Agent], obs_norm: ObsNormalizer, device) -> None:
        """Save what the run has: episodes, rollouts, and (with --save-model, unless `agent` is None)
        the model and its deterministic evaluation in eval.json."""
        if self.episode_rows:
            write_csv(os.path.join(self.run_dir, "episodes.csv"), self.episode_rows)
        if self.rollout_log is not None:
            num_saved = self.rollout_log.save(self.args.save_rollouts)
            print(f"rollouts: {num_saved} transitions saved to {self.args.save_rollouts}")
        if self.args.save_model and agent is not None:
            model_path = os.path.join(self.run_dir, "model.pt")
            save_model(model_path, agent, obs_norm, self.args)
            print(f"model saved to {model_path}")
            if self.args.eval_episodes > 0:
                returns = evaluate(agent, obs_norm, self.args.env_id, self.args.eval_episodes,
                                   self.args.seed + self.EVAL_SEED_OFFSET, device)
                print(f"eval: mean return {returns.mean():.1f} +- {returns.std():.1f} over {len(returns)} episodes")
                result = {"episodic_returns": returns.tolist(), "mean": float(returns.mean()),
                          "std": float(returns.std())}
                atomic_write(os.path.join(self.run_dir, "eval.json"), lambda f: f.write(json.dumps(result).encode()))
        if self.tensorboard is not None:
            self.tensorboard.close()


CHECKPOINT_FORMAT = "ppo-dap-run-checkpoint/1"  # the first word of checkpoint.pt; a change of its layout changes it
ROLLOUT_PARTIAL = "rollouts.partial"  # --save-rollouts: the log up to the last checkpoint, beside it


def versions() -> dict:
    """The libraries whose numbers a run's continuation depends on."""
    return {**library_versions(), "gymnasium": gym.__version__, "mujoco": mujoco.__version__}


def time_limit(env: gym.Env) -> Optional[gym.wrappers.TimeLimit]:
    """The TimeLimit wrapper inside `env`, if it has one."""
    while isinstance(env, gym.Wrapper) and not isinstance(env, gym.wrappers.TimeLimit):
        env = env.env
    return env if isinstance(env, gym.wrappers.TimeLimit) else None


def env_state(env: gym.Env) -> dict:
    """A copy of the state of one `make_env` env: the simulator's whole MjData for a MuJoCo env, None for any
    other (see `Checkpointer.restore`); the env's random generator (the noise of its resets); the time limit's
    step count; the episode's return, length and time so far (RecordEpisodeStatistics). The whole MjData,
    not only the integration state (qpos, qvel, act, warm start, ...): Ant's and Humanoid's rewards read
    body positions that the previous step derived, which no state vector holds."""
    sim, limit = env.unwrapped, time_limit(env)
    return {"mjdata": copy.copy(sim.data) if isinstance(getattr(sim, "data", None), mujoco.MjData) else None,
            "np_random": copy.deepcopy(sim.np_random.bit_generator.state),
            "elapsed_steps": None if limit is None else limit._elapsed_steps,
            "episode": (env.episode_returns, env.episode_lengths, env.episode_count,
                        time.perf_counter() - env.episode_start_time)}


def restore_env_state(env: gym.Env, state: dict) -> None:
    """Put `env_state`'s copy of a MuJoCo env back into a reset env of the same id: bit for bit, MjData whole."""
    sim = env.unwrapped
    mujoco.mj_copyData(sim.data, sim.model, state["mjdata"])
    sim.np_random.bit_generator.state = state["np_random"]
    if state["elapsed_steps"] is not None:
        time_limit(env)._elapsed_steps = state["elapsed_steps"]
    env.episode_returns, env.episode_lengths, env.episode_count, seconds = state["episode"]
    env.episode_start_time = time.perf_counter() - seconds


def read_checkpoint(run_dir: str) -> dict:
    """The state in `{run_dir}/checkpoint.pt` (--resume). Stops with one sentence, changing nothing, when the
    folder holds no checkpoint, its run has finished, or the file is damaged or from another version of
    this script (see `load_checked`)."""
    path = os.path.join(run_dir, "checkpoint.pt")
    if not os.path.isdir(run_dir):
        raise SystemExit(f"error: --resume {run_dir} is not a folder.")
    if not os.path.isfile(path):
        raise SystemExit(f"error: --resume {run_dir} holds no checkpoint.pt (the run had --checkpoint-every 0, or was "
                         "killed before its first checkpoint, or is not a ppo_dap.py run).")
    return load_checked(path, CHECKPOINT_FORMAT, "ppo_dap.py")


def check_resume(args: Args, checkpoint: dict, device: torch.device) -> None:
    """--resume: stop with one sentence, before anything is built or written, unless the run can go on as it
    would have: its own flags (only --total-timesteps may grow and --checkpoint-every change), the same
    library versions and device, and (--save-rollouts) its partial rollout log whole."""
    check_same_setup(args, checkpoint, versions(), device, ("checkpoint_every", "total_timesteps"), "run")
    if args.total_timesteps < checkpoint["args"]["total_timesteps"]:
        raise SystemExit(f"error: --total-timesteps {args.total_timesteps} is below the run's "
                         f"{checkpoint['args']['total_timesteps']}; a resumed run's budget may only grow.")
    partial = os.path.join(args.resume, ROLLOUT_PARTIAL)
    needed = checkpoint["writer"].get("rollout_log_bytes", 0)
    if args.save_rollouts is not None and (not os.path.isfile(partial) or os.path.getsize(partial) < needed):
        raise SystemExit(f"error: --resume: {partial} is missing or shorter than the checkpoint records, so the "
                         "rollout log cannot be continued.")


class Checkpointer:
    """--checkpoint-every N: everything the rest of a run depends on, as it stands at the end of an
    iteration, in `{run_dir}/checkpoint.pt` (`read_checkpoint` reads it back). `end_iteration` copies that
    state every iteration (a few milliseconds) and writes it every N iterations and at the last. On
    Ctrl-C / SIGTERM `write` saves the last copy: the unfinished rollout is then redone on --resume from
    the same state, so the resumed run is the uninterrupted one. The file is written whole and renamed
    (`save_checked`), so a kill mid-write leaves the previous checkpoint. With --save-rollouts the
    transitions so far are appended to `rollouts.partial` first; the checkpoint records how much of it
    is its own."""

    def __init__(self, args: Args, writer: RunWriter, envs: gym.vector.SyncVectorEnv, device: torch.device,
                 stateful: dict, prior_sha256: Optional[str]):
        self.args, self.writer, self.envs, self.device, self.prior_sha256 = args, writer, envs, device, prior_sha256
        self.stateful = {name: obj for name, obj in stateful.items() if obj is not None}  # each has state_dict()
        self.path = os.path.join(writer.run_dir, "checkpoint.pt")
        self.state, self.written = None, None  # the last copy; the iteration of the last one written

    def end_iteration(self, iteration: int, global_step: int, next_raw_obs: np.ndarray, next_obs: torch.Tensor,
                      train_seconds: float) -> None:
        """Copy the run's state at the end of `iteration` (0: the start), the current observations raw
        [num_envs, obs_dim] and normalised; write it every --checkpoint-every iterations and at the last."""
        if self.args.checkpoint_every == 0:
            return
        start = time.time()
        self.state = {
            "format": CHECKPOINT_FORMAT, "versions": versions(), "device": self.device.type,
            "args": {**asdict(self.args), "resume": None}, "iteration": iteration, "global_step": global_step,
            "train_seconds": train_seconds, "next_raw_obs": next_raw_obs.copy(), "next_obs": next_obs.cpu().clone(),
            "state_dicts": {name: copy.deepcopy(obj.state_dict()) for name, obj in self.stateful.items()},
            "writer": self.writer.state_dict(), "prior_sha256": self.prior_sha256,
            "rng": rng_state(self.device),
            "envs": [env_state(env) for env in self.envs.envs],
            "action_space_rng": copy.deepcopy(self.envs.action_space.np_random.bit_generator.state),
        }
        self.writer.checkpoint_seconds += time.time() - start
        if iteration > 0 and (iteration % self.args.checkpoint_every == 0 or iteration == self.args.num_iterations):
            self.write()

    def write(self) -> None:
        """Put the last copy on disk (once)."""
        if self.state is None or self.written == self.state["iteration"]:
            return
        start = time.time()
        log = self.writer.rollout_log
        if log is not None:  # first the partial log, then the checkpoint that says how much of it counts
            self.state["writer"]["rollout_log_bytes"] = log.flush(os.path.join(self.writer.run_dir, ROLLOUT_PARTIAL),
                                                                  self.state["writer"]["rollout_steps"])
        save_checked(self.path, self.state, CHECKPOINT_FORMAT)
        self.written = self.state["iteration"]
        self.writer.checkpoint_seconds += time.time() - start

    def restore(self, checkpoint: dict):
        """--resume: put the checkpoint's state into the run just built (after its envs' first reset).
        Returns (iterations done, global step, raw [num_envs, obs_dim] and normalised current observations,
        training seconds so far). A MuJoCo env is restored whole; any other env's state lives in attributes
        of its own (classic control) or in objects that cannot be copied (Box2D), so its episode starts
        again here, from its own random stream, and the run says so: from here on it is not the same run."""
        for name, obj in self.stateful.items():
            obj.load_state_dict(checkpoint["state_dicts"][name])
        set_rng_state(checkpoint["rng"], self.device)
        self.envs.action_space.np_random.bit_generator.state = checkpoint["action_space_rng"]
        next_raw_obs, next_obs = checkpoint["next_raw_obs"], checkpoint["next_obs"].to(self.device)
        restarted = []
        for i, (env, state) in enumerate(zip(self.envs.envs, checkpoint["envs"])):
            if state["mjdata"] is not None:
                restore_env_state(env, state)
                continue
            env.unwrapped.np_random.bit_generator.state = state["np_random"]
            next_raw_obs[i], _ = env.reset()  # a new episode (time limit and episode statistics reset with it)
            self.stateful["reward_scaler"].returns[i] = 0.0  # as at any episode's end
            if self.writer.rollout_log is not None:
                self.writer.rollout_log.cut(i)
            restarted.append(i)
        if restarted:
            next_obs = torch.tensor(self.stateful["obs_norm"](next_raw_obs), device=self.device)
            print(f"warning: --resume: {self.args.env_id} is not a MuJoCo env, whose whole state a checkpoint holds; its "
                  f"{len(restarted)} env(s) start new episodes at step {checkpoint['global_step']}, so from here on the "
                  "run is not the one an uninterrupted run would have been.", file=sys.stderr, flush=True)
        self.written = checkpoint["iteration"]
        return (checkpoint["iteration"], checkpoint["global_step"], next_raw_obs, next_obs, checkpoint["train_seconds"])

    def finish(self) -> None:
        """The run is complete: its checkpoint becomes a one-line marker that says so (--resume refuses it)
        and the partial rollout log goes (the .npz holds it all)."""
        if os.path.exists(self.path):
            atomic_write(self.path, lambda f: f.write(f"{CHECKPOINT_FORMAT} finished\n".encode()))
        if os.path.exists(os.path.join(self.writer.run_dir, ROLLOUT_PARTIAL)):
            os.remove(os.path.join(self.writer.run_dir, ROLLOUT_PARTIAL))


def cli(argv: Optional[list] = None) -> Args:
    """The flags of the command line (`argv`, default sys.argv). With --resume RUN the run's own flags, read
    from its checkpoint, are the defaults, so only the flags given beside --resume can differ from them."""
    args = tyro.cli(Args, args=argv)
    if args.resume is not None:
        saved = read_checkpoint(args.resume)["args"]
        args = tyro.cli(Args, args=argv, default=Args(**{**saved, "resume": args.resume}))
    return args


def fmt_seconds(seconds: float) -> str:
    """1234.5 -> '0:20:34'."""
    s = int(max(0.0, seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def main(args: Args) -> str:
    """Train (see `train`); Ctrl-C and SIGTERM end the run cleanly, and the previous signal handlers
    are restored however it ends."""
    with InterruptFlag() as stop:
        return train(args, stop)


if __name__ == "__main__":
    main(cli())
