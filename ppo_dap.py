"""PPO-DAP: PPO with a Diffusion Action Prior (online stage), CleanRL style.

Read top to bottom: Args, the PPO pieces (observation and reward normalisation, the Gaussian
actor-critic, GAE), then `main`, which is CleanRL's `ppo_continuous_action.py` loop. Every line that
PPO-DAP adds to that loop is marked `# DAP:`; with the DAP coefficients at zero the script is PPO.
"""

import csv
import importlib.util
import io
import json
import os
import random
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Literal, Optional

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
import tyro
from torch.distributions.normal import Normal

from pretrain_prior import DiffusionPrior, atomic_write, env_spaces, load_prior


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
    """folder under which each run writes `{runs_dir}/{run_name}/` (progress.csv, model, evaluation)"""
    save_model: bool = False
    """if toggled, save actor, critic and observation statistics to `{runs_dir}/{run_name}/model.pt`"""
    eval_episodes: int = 10
    """with --save-model: episodes of deterministic evaluation of the saved actor (0 = none)"""
    save_rollouts: Optional[str] = None
    """if set, log every transition (raw observations, actions, rewards, terminations, truncations) to this .npz file"""

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

    # DAP arguments (METHOD.md section 2); with --imitation-coef 0 --kl-coef 0 the script is PPO
    prior_path: Optional[str] = None
    """the pretrained prior checkpoint (default: priors/{env_id}.pt beside this script)"""
    peft: str = "lora"
    """how the frozen prior is adapted online: `lora`, `adapter` or `none` (frozen prior)"""
    lora_rank: int = 4
    """rank r of the LoRA update B A"""
    lora_alpha: float = 8.0
    """LoRA scaling numerator: the update is (alpha / r) B A"""
    adapter_dim: int = 16
    """bottleneck width of each Adapter"""
    prior_updates: int = 10
    """(a) PEFT gradient steps per iteration on the fresh rollout"""
    prior_lr: float = 1e-4
    """(a) learning rate of the PEFT parameters"""
    peft_adv_beta: float = 1.0
    """(a) temperature of the advantage weights exp(A / beta) (A normalised over the batch)"""
    num_proposals: int = 8
    """(b) K, actions proposed by the prior per state"""
    proposal_states: int = 256
    """(b) states of each batch (drawn at random) that get proposals"""
    q_lr: float = 1e-3
    """(c) learning rate of the state-action critic Q_phi"""
    q_updates: int = 32
    """(c) gradient steps of Q_phi per iteration on the batch's lambda-returns"""
    energy_temperature: float = 0.5
    """(c) tau in units of the batch's advantage spread: w_k = softmax_k(Q(s, a_k) / (tau * std(A)))"""
    prior_filter: Literal["none", "q"] = "none"
    """(d) `q`: imitate a state only where Q_phi rates the weighted proposals above the actor's mean action (Q-filter)"""
    guidance_scale: float = 0.0
    """(c) critic-gradient guidance inside the reverse diffusion (0 = off)"""
    imitation_coef: float = 1.0
    """(d) coefficient of the imitation loss -sum_k w_k log pi(a_k | s)"""
    kl_coef: float = 0.0
    """(d) coefficient of KL(pi(.|s) || N(m(s), v(s))) toward the reweighted proposals' moments"""
    prior_anneal_frac: float = 0.3
    """(d) fraction of training over which both coefficients decay linearly to zero (then: plain PPO)"""


def check_args(args: Args) -> None:
    """Stop with one sentence naming the flag when a setting cannot work."""
    for flag in ("total_timesteps", "num_envs", "num_steps", "num_minibatches", "update_epochs"):
        if getattr(args, flag) <= 0:
            raise SystemExit(f"error: --{flag.replace('_', '-')} must be positive, got {getattr(args, flag)}.")
    for flag in ("learning_rate", "gamma", "gae_lambda", "clip_coef"):
        if not getattr(args, flag) > 0:
            raise SystemExit(f"error: --{flag.replace('_', '-')} must be positive, got {getattr(args, flag)}.")
    if args.eval_episodes < 0:
        raise SystemExit(f"error: --eval-episodes must be zero or positive, got {args.eval_episodes}.")
    batch_size = args.num_envs * args.num_steps
    if batch_size % args.num_minibatches != 0:
        raise SystemExit(
            f"error: --num-minibatches {args.num_minibatches} must divide the batch size "
            f"--num-envs x --num-steps = {batch_size}."
        )
    if args.total_timesteps < batch_size:
        raise SystemExit(
            f"error: --total-timesteps {args.total_timesteps} is smaller than one rollout "
            f"(--num-envs x --num-steps = {batch_size})."
        )
    if args.peft not in ("lora", "adapter", "none"):
        raise SystemExit(f"error: --peft must be lora, adapter or none, got {args.peft}.")
    for flag in ("lora_rank", "adapter_dim", "num_proposals", "proposal_states", "q_updates", "lora_alpha",
                 "prior_lr", "q_lr", "peft_adv_beta", "energy_temperature"):
        if not getattr(args, flag) > 0:
            raise SystemExit(f"error: --{flag.replace('_', '-')} must be positive, got {getattr(args, flag)}.")
    for flag in ("imitation_coef", "kl_coef", "guidance_scale", "prior_updates"):
        if getattr(args, flag) < 0:
            raise SystemExit(f"error: --{flag.replace('_', '-')} must be zero or positive, got {getattr(args, flag)}.")
    if not 0.0 < args.prior_anneal_frac <= 1.0:
        raise SystemExit(f"error: --prior-anneal-frac must lie in (0, 1], got {args.prior_anneal_frac}.")
    if args.save_rollouts is not None and not args.save_rollouts.endswith(".npz"):
        raise SystemExit(f"error: --save-rollouts {args.save_rollouts} must name a .npz file.")


class RunningMeanStd:
    """Running mean and variance of a stream of arrays of shape `shape` (parallel-variance update)."""

    def __init__(self, shape, epsilon: float = 1e-4):
        self.mean = np.zeros(shape, np.float64)
        self.var = np.ones(shape, np.float64)
        self.count = epsilon

    def update(self, x: np.ndarray) -> None:
        """Fold in a batch `x` of shape [batch, *shape]."""
        batch_mean, batch_var, batch_count = x.mean(axis=0), x.var(axis=0), x.shape[0]
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
    """Observation normalisation done in the script, not in an env wrapper, so that raw observations
    stay available (the rollout log and the diffusion prior take raw observations)."""

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


def make_env(env_id: str):
    def thunk():
        env = gym.make(env_id)
        env = gym.wrappers.FlattenObservation(env)
        return env

    return thunk


def make_envs(env_id: str, num_envs: int) -> gym.vector.VectorEnv:
    """A SyncVectorEnv with same-step autoreset (the final observation comes in `infos["final_obs"]`)
    and episode statistics in `infos["episode"]`. Stops with one sentence on an unknown id or a
    non-continuous action space."""
    env_spaces(env_id)
    envs = gym.vector.SyncVectorEnv(
        [make_env(env_id) for _ in range(num_envs)], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
    )
    return gym.wrappers.vector.RecordEpisodeStatistics(envs)


def layer_init(layer, std=np.sqrt(2), bias_const=0.0):
    torch.nn.init.orthogonal_(layer.weight, std)
    torch.nn.init.constant_(layer.bias, bias_const)
    return layer


class Agent(nn.Module):
    """CleanRL's Gaussian actor-critic: V(s) and N(mu(s), diag exp(logstd)^2), both 64-64 tanh MLPs
    over normalised observations [batch, obs_dim]; actions [batch, act_dim] in the env's units."""

    def __init__(self, obs_dim: int, act_dim: int):
        super().__init__()
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

    def get_action_and_value(self, x, action=None):
        probs = self.get_dist(x)
        if action is None:
            action = probs.sample()
        return action, probs.log_prob(action).sum(1), probs.entropy().sum(1), self.critic(x)


def compute_gae(rewards, values, next_values, terminations, dones, gamma: float, gae_lambda: float):
    """Generalised advantage estimation over a rollout; every argument is [num_steps, num_envs].

    `next_values[t]` is the value of the state reached by step t: V(s_{t+1}) within an episode and
    V(final observation) when the episode was truncated by a time limit (bootstrapped, unlike
    CleanRL); a termination contributes no bootstrap. `dones` (termination or truncation) cuts the
    advantage recursion at episode ends. Returns (advantages, lambda-returns = advantages + values).
    """
    advantages = torch.zeros_like(rewards)
    lastgaelam = torch.zeros_like(rewards[0])
    for t in reversed(range(rewards.shape[0])):
        delta = rewards[t] + gamma * next_values[t] * (1.0 - terminations[t]) - values[t]
        lastgaelam = delta + gamma * gae_lambda * (1.0 - dones[t]) * lastgaelam
        advantages[t] = lastgaelam
    return advantages, advantages + values


# ===================================================================================================
# DAP: the pieces PPO-DAP adds (METHOD.md section 2), in the order the method uses them.

PEFT_BATCH_SIZE = 256  # (a) transitions per PEFT gradient step
PEFT_WEIGHT_MAX = 20.0  # (a) advantage weights are normalised to mean 1, then clipped at this value
Q_BATCH_SIZE = 256  # (c) transitions per Q_phi gradient step
PROPOSAL_VAR_FLOOR = 1e-2  # (d) floor of the reweighted proposals' variance v(s) in the KL target


def load_checked_prior(args: Args, obs_dim: int, act_dim: int, device) -> DiffusionPrior:
    """DAP: the pretrained prior for `args.env_id`; stops with one sentence when it is missing or was
    made for another environment or other dimensions. Only this checkpoint is opened, never a dataset."""
    path = args.prior_path or os.path.join(os.path.dirname(os.path.abspath(__file__)), "priors", f"{args.env_id}.pt")
    if not os.path.isfile(path):
        raise SystemExit(
            f"error: no prior checkpoint at {path}; make one with `python ppo_dap.py --env-id {args.env_id} "
            f"--imitation-coef 0 --total-timesteps 300000 --save-rollouts data/{args.env_id}.npz` and then `python pretrain_prior.py "
            f"--dataset data/{args.env_id}.npz --env-id {args.env_id}` (or pass --prior-path)."
        )
    try:
        prior = load_prior(path, map_location=device)
    except ValueError as err:  # load_prior's errors are already one sentence naming the file
        raise SystemExit(f"error: --prior-path: {err}.") from err
    if prior.env_id != args.env_id:
        raise SystemExit(f"error: prior {path} was made for {prior.env_id}, but --env-id is {args.env_id}.")
    if (prior.obs_dim, prior.act_dim) != (obs_dim, act_dim):
        raise SystemExit(
            f"error: prior {path} has obs/action dimensions ({prior.obs_dim}, {prior.act_dim}), but {args.env_id} "
            f"has ({obs_dim}, {act_dim})."
        )
    return prior


class LoRALinear(nn.Module):
    """DAP (a): a frozen `nn.Linear` plus a trainable low-rank update: y = base(x) + (alpha / r) x A^T B^T.

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
        return self.base(x) + self.scaling * (x @ self.lora_A.T) @ self.lora_B.T

    def merge(self) -> nn.Linear:
        """A new `nn.Linear` with weight W + (alpha / r) B A and the same bias: the same outputs, no
        extra cost. `base` is left untouched (it may be shared with, or saved as, the pretrained prior)."""
        merged = nn.Linear(self.base.in_features, self.base.out_features, device=self.base.weight.device)
        with torch.no_grad():
            merged.weight.copy_(self.base.weight + self.scaling * self.lora_B @ self.lora_A)
            merged.bias.copy_(self.base.bias)
        return merged


class Adapter(nn.Module):
    """DAP (a): a residual bottleneck x + W_up mish(W_down x) on [..., dim]; W_up starts at zero, so an
    Adapter is the identity at initialisation."""

    def __init__(self, dim: int, bottleneck: int):
        super().__init__()
        self.down = nn.Linear(dim, bottleneck)
        self.up = nn.Linear(bottleneck, dim)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(nn.functional.mish(self.down(x)))


def attach_peft(prior: DiffusionPrior, peft: str, lora_rank: int, lora_alpha: float, adapter_dim: int) -> list:
    """DAP (a): freeze every weight of `prior` and wrap its hidden layers with LoRA (`lora`) or follow
    each with an Adapter (`adapter`); `none` leaves the prior frozen. Returns the trainable parameters."""
    for p in prior.parameters():
        p.requires_grad_(False)
    for i, layer in enumerate(prior.hidden):
        if peft == "lora":
            prior.hidden[i] = LoRALinear(layer, lora_rank, lora_alpha)
        elif peft == "adapter":
            prior.hidden[i] = nn.Sequential(layer, Adapter(layer.out_features, adapter_dim).to(layer.weight.device))
    return [p for p in prior.parameters() if p.requires_grad]


def advantage_weights(advantages: torch.Tensor, beta: float) -> torch.Tensor:
    """DAP (a): w_i = exp(A_i / beta) over advantages [N] standardised over the batch, normalised to
    mean 1 and clipped at PEFT_WEIGHT_MAX."""
    a = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    w = torch.softmax(a / beta, dim=0) * a.shape[0]
    return w.clamp(max=PEFT_WEIGHT_MAX)


class QNetwork(nn.Module):
    """DAP (c): the state-action critic Q_phi(s, a): normalised obs [B, obs_dim] and actions [B, act_dim]
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
    """DAP (c): self-normalised weights of the tilted prior p(a | s) exp(Q(s, a) / tau):
    q_values [B, K] -> w [B, K] = softmax_k(Q(s, a_k) / tau), each row summing to one."""
    return torch.softmax(q_values / tau, dim=-1)


def q_filter(q_proposals: torch.Tensor, weights: torch.Tensor, q_actor: torch.Tensor) -> torch.Tensor:
    """DAP (d): the Q-filter (Nair et al. 2018): 1.0 on the states where the weighted proposals'
    value sum_k w_k Q(s, a_k) exceeds Q(s, mu(s)) of the actor's own mean action, else 0.0.
    q_proposals, weights [B, K]; q_actor [B] -> mask [B]."""
    return ((weights * q_proposals).sum(-1) > q_actor).float()


def imitation_loss(dist: Normal, proposals: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """DAP (d): L_im = -sum_k w_k log pi(a_k | s), mean over states. `dist` is the actor's Normal for
    B states ([B, act_dim]); proposals [B, K, act_dim]; weights [B, K]."""
    log_probs = dist.log_prob(proposals.transpose(0, 1)).sum(-1).transpose(0, 1)  # [B, K]
    return -(weights * log_probs).sum(-1).mean()


def proposal_moments(proposals: torch.Tensor, weights: torch.Tensor):
    """DAP (d): the w-weighted mean m [B, act_dim] and variance v [B, act_dim] (floored) of proposals
    [B, K, act_dim] with weights [B, K]."""
    m = (weights[..., None] * proposals).sum(1)
    v = (weights[..., None] * (proposals - m[:, None]) ** 2).sum(1)
    return m, v.clamp(min=PROPOSAL_VAR_FLOOR)


def kl_loss(dist: Normal, m: torch.Tensor, v: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
    """DAP (d): L_kl = KL(pi(.|s) || N(m(s), diag v(s))), summed over action dims, times the state's
    `active` [B] (1 where the filter lets the prior act), mean over states."""
    return (torch.distributions.kl_divergence(dist, Normal(m, v.sqrt())).sum(-1) * active).mean()


def anneal(coef: float, iteration: int, num_iterations: int, frac: float) -> float:
    """DAP (d): coef decayed linearly from its full value at iteration 1 to zero after frac of training."""
    return coef * max(0.0, 1.0 - (iteration - 1) / (frac * num_iterations))


class RolloutLog:
    """Every transition of the run in the logged-trajectory format (METHOD.md section 1): raw
    `observations` [N, obs_dim], executed `actions` [N, act_dim] (clipped to the bounds), raw
    `rewards`, `terminations`, `truncations` [N]. Saved env by env, so each env's transitions are
    consecutive; the last transition of each env is marked truncated, since the log ends there."""

    def __init__(self):
        self.steps = {"observations": [], "actions": [], "rewards": [], "terminations": [], "truncations": []}

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
        atomic_write(path, lambda f: np.savez(f, **arrays))
        return len(arrays["rewards"])


def write_progress(path: str, rows: list) -> None:
    """Rewrite progress.csv atomically from the list of per-iteration dicts."""
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


def evaluate(model_path: str, env_id: str, eval_episodes: int, seed: int, device="cpu") -> np.ndarray:
    """Run the saved actor's mean action (no sampling) with frozen observation statistics on a
    seeded env; returns the raw episodic returns [eval_episodes]."""
    state = torch.load(model_path, map_location=device, weights_only=False)
    env = gym.wrappers.FlattenObservation(gym.make(env_id))
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    agent = Agent(obs_dim, act_dim).to(device)
    agent.load_state_dict(state["agent"])
    obs_norm = ObsNormalizer(obs_dim)
    obs_norm.load_state_dict(state["obs_norm"])
    returns = []
    for episode in range(eval_episodes):
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


def main(args: Args) -> str:
    """Train; returns the run folder."""
    check_args(args)
    batch_size = int(args.num_envs * args.num_steps)
    minibatch_size = int(batch_size // args.num_minibatches)
    num_iterations = args.total_timesteps // batch_size
    run_name = f"{args.env_id}__{args.exp_name}__{args.seed}__{int(time.time())}"
    # TRY NOT TO MODIFY: seeding
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.backends.cudnn.deterministic = args.torch_deterministic
    # These nets are tiny (64-64 MLPs, minibatches of 64): on CPU one thread is fastest, since the
    # cost is per-op overhead, not arithmetic, and extra threads only add synchronisation
    # (measured on the 2-core CI machine, see README "Speed").
    torch.set_num_threads(1)

    device = torch.device("cuda" if torch.cuda.is_available() and args.cuda else "cpu")

    # env setup
    envs = make_envs(args.env_id, args.num_envs)
    obs_dim = int(np.prod(envs.single_observation_space.shape))
    act_dim = int(np.prod(envs.single_action_space.shape))
    act_low, act_high = envs.single_action_space.low, envs.single_action_space.high

    agent = Agent(obs_dim, act_dim).to(device)
    optimizer = optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)
    obs_norm = ObsNormalizer(obs_dim)
    reward_scaler = RewardScaler(args.num_envs, args.gamma)
    rollout_log = RolloutLog() if args.save_rollouts is not None else None

    # DAP: the pretrained prior, frozen, with LoRA or Adapters attached (a), and the state-action critic
    # Q_phi (c). With both coefficients at zero nothing of the prior is loaded or run: the script is PPO.
    use_dap = args.imitation_coef > 0 or args.kl_coef > 0
    if use_dap:
        prior = load_checked_prior(args, obs_dim, act_dim, device)
        peft_params = attach_peft(prior, args.peft, args.lora_rank, args.lora_alpha, args.adapter_dim)
        peft_optimizer = optim.Adam(peft_params, lr=args.prior_lr) if peft_params else None
        qf = QNetwork(obs_dim, act_dim).to(device)
        q_optimizer = optim.Adam(qf.parameters(), lr=args.q_lr)
        num_frozen = sum(p.numel() for p in prior.parameters() if not p.requires_grad)
        print(f"DAP: prior for {prior.env_id} from {prior.provenance.get('transitions')} logged transitions; "
              f"PEFT {args.peft}: {sum(p.numel() for p in peft_params)} trainable, {num_frozen} frozen parameters")
        act_low_t = torch.tensor(act_low, device=device)
        act_high_t = torch.tensor(act_high, device=device)

    # Output files are created only once the settings, the env and the prior have passed their checks.
    run_dir = os.path.join(args.runs_dir, run_name)
    os.makedirs(run_dir, exist_ok=True)
    if args.save_rollouts is not None:
        os.makedirs(os.path.dirname(os.path.abspath(args.save_rollouts)), exist_ok=True)

    writer = None
    if importlib.util.find_spec("tensorboard") is not None:  # optional dependency
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(run_dir)
        writer.add_text(
            "hyperparameters",
            "|param|value|\n|-|-|\n%s" % ("\n".join([f"|{key}|{value}|" for key, value in vars(args).items()])),
        )

    # ALGO Logic: Storage setup
    obs = torch.zeros((args.num_steps, args.num_envs, obs_dim)).to(device)
    raw_obs = torch.zeros((args.num_steps, args.num_envs, obs_dim)).to(device)  # the prior takes raw states
    actions = torch.zeros((args.num_steps, args.num_envs, act_dim)).to(device)
    logprobs = torch.zeros((args.num_steps, args.num_envs)).to(device)
    rewards = torch.zeros((args.num_steps, args.num_envs)).to(device)
    terminations = torch.zeros((args.num_steps, args.num_envs)).to(device)
    dones = torch.zeros((args.num_steps, args.num_envs)).to(device)
    values = torch.zeros((args.num_steps, args.num_envs)).to(device)
    next_values = torch.zeros((args.num_steps, args.num_envs)).to(device)

    # TRY NOT TO MODIFY: start the game
    global_step = 0
    start_time = time.time()
    progress_rows = []
    recent_returns = deque(maxlen=100)
    episodes_rows = []
    envs.action_space.seed(args.seed)
    next_raw_obs, _ = envs.reset(seed=args.seed)
    obs_norm.update(next_raw_obs)
    next_obs = torch.tensor(obs_norm(next_raw_obs), device=device)

    print(f"{run_name}: {num_iterations} iterations of {batch_size} steps on {device}")
    try:
        for iteration in range(1, num_iterations + 1):
            iteration_returns = []
            # Annealing the rate if instructed to do so.
            if args.anneal_lr:
                frac = 1.0 - (iteration - 1.0) / num_iterations
                optimizer.param_groups[0]["lr"] = frac * args.learning_rate

            for step in range(0, args.num_steps):
                global_step += args.num_envs
                obs[step] = next_obs
                raw_obs[step] = torch.as_tensor(next_raw_obs, device=device)

                # ALGO LOGIC: action logic (every env action is sampled from the Gaussian actor)
                with torch.no_grad():
                    action, logprob, _, value = agent.get_action_and_value(next_obs)
                    values[step] = value.flatten()
                actions[step] = action
                logprobs[step] = logprob

                # TRY NOT TO MODIFY: execute the game and log data.
                env_action = np.clip(action.cpu().numpy(), act_low, act_high)
                step_raw_obs = next_raw_obs
                next_raw_obs, reward, terminated, truncated, infos = envs.step(env_action)
                if rollout_log is not None:
                    rollout_log.add(step_raw_obs, env_action, reward, terminated, truncated)
                done = np.logical_or(terminated, truncated)
                obs_norm.update(next_raw_obs)
                next_obs = torch.as_tensor(obs_norm(next_raw_obs), device=device)
                rewards[step] = torch.as_tensor(reward_scaler(reward, done), device=device)
                terminations[step] = torch.as_tensor(terminated, device=device)
                dones[step] = torch.as_tensor(done, device=device)

                # Bootstrap value of the state each env reached: V(s_{t+1}) is filled in after the
                # rollout; at a time-limit truncation it is V(final observation), computed here.
                truncated_only = np.logical_and(truncated, ~terminated)
                if truncated_only.any():
                    final_raw = np.stack(infos["final_obs"][truncated_only])
                    with torch.no_grad():
                        final_values = agent.get_value(torch.tensor(obs_norm(final_raw), device=device))
                    next_values[step, torch.as_tensor(truncated_only, device=device)] = final_values.flatten()

                if "episode" in infos:
                    for i in np.nonzero(infos["_episode"])[0]:
                        episodic_return = float(infos["episode"]["r"][i])
                        episodic_length = int(infos["episode"]["l"][i])
                        iteration_returns.append(episodic_return)
                        recent_returns.append(episodic_return)
                        episodes_rows.append(
                            {"global_step": global_step, "episodic_return": episodic_return,
                             "episodic_length": episodic_length}
                        )
                        if writer is not None:
                            writer.add_scalar("charts/episodic_return", episodic_return, global_step)
                            writer.add_scalar("charts/episodic_length", episodic_length, global_step)

            # bootstrap value if not done
            with torch.no_grad():
                next_value = agent.get_value(next_obs).reshape(1, -1)
                in_episode_next = torch.cat([values[1:], next_value], dim=0)
                bootstrap = torch.where(dones.bool(), next_values, in_episode_next)
                advantages, returns = compute_gae(
                    rewards, values, bootstrap, terminations, dones, args.gamma, args.gae_lambda
                )
                next_values.zero_()

            # flatten the batch
            b_obs = obs.reshape((-1, obs_dim))
            b_logprobs = logprobs.reshape(-1)
            b_actions = actions.reshape((-1, act_dim))
            b_advantages = advantages.reshape(-1)
            b_returns = returns.reshape(-1)
            b_values = values.reshape(-1)

            # DAP: steps a-c, once per iteration while the annealed coefficients are above zero. All of it
            # reads only this rollout; nothing here enters the buffer, the ratio, advantages or returns.
            imitation_coef = anneal(args.imitation_coef, iteration, num_iterations, args.prior_anneal_frac)
            kl_coef = anneal(args.kl_coef, iteration, num_iterations, args.prior_anneal_frac)
            dap_now = imitation_coef > 0 or kl_coef > 0
            if dap_now:
                dap_start = time.time()
                b_raw_obs = raw_obs.reshape((-1, obs_dim))
                b_env_actions = b_actions.clamp(act_low_t, act_high_t)  # as executed

                # DAP (a): PEFT adaptation of the prior on this rollout, advantage-weighted denoising loss
                peft_loss = torch.tensor(np.nan)
                if peft_params and args.prior_updates > 0:
                    peft_w = advantage_weights(b_advantages, args.peft_adv_beta)
                    for _ in range(args.prior_updates):
                        idx = np.random.randint(0, batch_size, PEFT_BATCH_SIZE)
                        peft_loss = prior.loss(b_raw_obs[idx], b_env_actions[idx], peft_w[idx])
                        peft_optimizer.zero_grad()
                        peft_loss.backward()
                        peft_optimizer.step()

                # DAP (c): Q_phi regressed on the lambda-returns of the actions taken in this rollout
                # (trained before the proposals are drawn, since gradient guidance uses it while sampling)
                for _ in range(args.q_updates):
                    idx = np.random.randint(0, batch_size, Q_BATCH_SIZE)
                    q_loss = ((qf(b_obs[idx], b_env_actions[idx]) - b_returns[idx]) ** 2).mean()
                    q_optimizer.zero_grad()
                    q_loss.backward()
                    q_optimizer.step()

                # DAP (b): K proposals from the adapted prior for a random subset of this rollout's states
                dap_idx = np.random.choice(batch_size, min(args.proposal_states, batch_size), replace=False)
                dap_obs = b_obs[dap_idx]
                dap_obs_rep = dap_obs.repeat_interleave(args.num_proposals, dim=0)  # state-major, as sample()
                with torch.no_grad():
                    proposals = prior.sample(b_raw_obs[dap_idx], args.num_proposals,
                                             guidance=lambda a: qf(dap_obs_rep, a), guidance_scale=args.guidance_scale)

                    # DAP (c): energy reweighting of the proposals, tau in units of the advantage spread
                    q_proposals = qf(dap_obs_rep, proposals.reshape(-1, act_dim)).view(len(dap_idx), -1)
                    dap_weights = energy_weights(q_proposals, args.energy_temperature * b_advantages.std())
                    target_mean, target_var = proposal_moments(proposals, dap_weights)
                    # DAP (d): the Q-filter releases the states where the actor already beats the proposals
                    if args.prior_filter == "q":
                        q_actor = qf(dap_obs, agent.actor_mean(dap_obs).clamp(act_low_t, act_high_t))
                        dap_active = q_filter(q_proposals, dap_weights, q_actor)
                    else:
                        dap_active = torch.ones(len(dap_idx), device=device)
                prior_seconds = time.time() - dap_start
                # the actor loss must put no gradient on the prior or on Q_phi (logged as dap/grad_leak)
                prior.zero_grad(set_to_none=True)
                qf.zero_grad(set_to_none=True)

            # Optimizing the policy and value network
            b_inds = np.arange(batch_size)
            clipfracs = []
            for epoch in range(args.update_epochs):
                np.random.shuffle(b_inds)
                for start in range(0, batch_size, minibatch_size):
                    end = start + minibatch_size
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

                    # Policy loss
                    pg_loss1 = -mb_advantages * ratio
                    pg_loss2 = -mb_advantages * torch.clamp(ratio, 1 - args.clip_coef, 1 + args.clip_coef)
                    pg_loss = torch.max(pg_loss1, pg_loss2).mean()

                    # Value loss
                    newvalue = newvalue.view(-1)
                    if args.clip_vloss:
                        v_loss_unclipped = (newvalue - b_returns[mb_inds]) ** 2
                        v_clipped = b_values[mb_inds] + torch.clamp(
                            newvalue - b_values[mb_inds],
                            -args.clip_coef,
                            args.clip_coef,
                        )
                        v_loss_clipped = (v_clipped - b_returns[mb_inds]) ** 2
                        v_loss_max = torch.max(v_loss_unclipped, v_loss_clipped)
                        v_loss = 0.5 * v_loss_max.mean()
                    else:
                        v_loss = 0.5 * ((newvalue - b_returns[mb_inds]) ** 2).mean()

                    entropy_loss = entropy.mean()
                    loss = pg_loss - args.ent_coef * entropy_loss + v_loss * args.vf_coef

                    # DAP (d): small, annealed imitation and soft-KL terms toward the reweighted proposals;
                    # the clipped PPO loss above is unchanged.
                    if dap_now:
                        dap_dist = agent.get_dist(dap_obs)
                        im_loss = imitation_loss(dap_dist, proposals, dap_weights * dap_active[:, None])
                        k_loss = kl_loss(dap_dist, target_mean, target_var, dap_active)
                        loss = loss + imitation_coef * im_loss + kl_coef * k_loss

                    optimizer.zero_grad()
                    loss.backward()
                    nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                    optimizer.step()

                if args.target_kl is not None and approx_kl > args.target_kl:
                    break

            y_pred, y_true = b_values.cpu().numpy(), b_returns.cpu().numpy()
            var_y = np.var(y_true)
            explained_var = np.nan if var_y == 0 else 1 - np.var(y_true - y_pred) / var_y

            sps = int(global_step / (time.time() - start_time))
            row = {
                "iteration": iteration,
                "global_step": global_step,
                "charts/episodic_return": np.mean(iteration_returns) if iteration_returns else np.nan,
                "charts/episodes": len(iteration_returns),
                "charts/learning_rate": optimizer.param_groups[0]["lr"],
                "charts/SPS": sps,
                "losses/value_loss": v_loss.item(),
                "losses/policy_loss": pg_loss.item(),
                "losses/entropy": entropy_loss.item(),
                "losses/old_approx_kl": old_approx_kl.item(),
                "losses/approx_kl": approx_kl.item(),
                "losses/clipfrac": np.mean(clipfracs),
                "losses/explained_variance": explained_var,
                "time/elapsed_s": time.time() - start_time,
            }
            if device.type == "cuda":
                row["perf/peak_gpu_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
            if use_dap:
                row["dap/imitation_coef"] = imitation_coef
                row["dap/kl_coef"] = kl_coef
                if dap_now:
                    leak = [p.grad.norm() for p in [*prior.parameters(), *qf.parameters()] if p.grad is not None]
                    row.update({
                        "losses/imitation": im_loss.item(),
                        "losses/kl": k_loss.item(),
                        "losses/q_loss": q_loss.item(),
                        "losses/peft_loss": peft_loss.item(),
                        "dap/ess": (1.0 / (dap_weights**2).sum(-1)).mean().item(),
                        "dap/active_frac": dap_active.mean().item(),
                        "dap/effective_imitation_coef": imitation_coef * dap_active.mean().item(),
                        "dap/grad_leak": float(sum(leak)) if leak else 0.0,
                        "time/prior_s": prior_seconds,
                    })
            progress_rows.append(row)
            write_progress(os.path.join(run_dir, "progress.csv"), progress_rows)
            if writer is not None:
                for key, value in row.items():
                    if "/" in key:
                        writer.add_scalar(key, value, global_step)
            recent = f"{np.mean(recent_returns):.1f}" if recent_returns else "n/a"
            print(
                f"iter {iteration}/{num_iterations} | step {global_step} | SPS {sps} | "
                f"return (last {len(recent_returns)} episodes) {recent}",
                flush=True,
            )
    except KeyboardInterrupt:
        print("interrupted: saving what the run has so far", file=sys.stderr)

    # Save what the run produced; every file is written atomically (temporary file, then rename).
    if progress_rows:
        write_progress(os.path.join(run_dir, "progress.csv"), progress_rows)
    if episodes_rows:
        write_progress(os.path.join(run_dir, "episodes.csv"), episodes_rows)
    if rollout_log is not None:
        num_saved = rollout_log.save(args.save_rollouts)
        print(f"rollouts: {num_saved} transitions saved to {args.save_rollouts}")
    if args.save_model:
        model_path = os.path.join(run_dir, "model.pt")
        save_model(model_path, agent, obs_norm, args)
        print(f"model saved to {model_path}")
        if args.eval_episodes > 0:
            eval_returns = evaluate(model_path, args.env_id, args.eval_episodes, args.seed + 10_000, device)
            print(f"eval: mean return {eval_returns.mean():.1f} +- {eval_returns.std():.1f} over {len(eval_returns)} episodes")
            result = {"episodic_returns": eval_returns.tolist(), "mean": float(eval_returns.mean()),
                      "std": float(eval_returns.std())}
            atomic_write(os.path.join(run_dir, "eval.json"), lambda f: f.write(json.dumps(result).encode()))
            if writer is not None:
                writer.add_scalar("eval/episodic_return", float(eval_returns.mean()), global_step)

    envs.close()
    if writer is not None:
        writer.close()
    return run_dir


if __name__ == "__main__":
    main(tyro.cli(Args))
