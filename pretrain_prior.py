"""PPO-DAP offline stage: pretrain a conditional DDPM action prior p(a | s) on logged trajectories.

Read top to bottom: Args, the dataset and its checks, the DDPM (`DiffusionPrior`), the checkpoint
(`save_prior` / `load_prior`), then `main`, the training loop. METHOD.md section 1 is the reference.

    python pretrain_prior.py --dataset data/walker2d_behaviour.npz --env-id Walker2d-v4
"""

import hashlib
import io
import math
import os
import pickle
import random
import signal
import sys
import tempfile
import time
import warnings
import zipfile
from dataclasses import asdict, dataclass, fields
from typing import Callable, Literal, Optional

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import tyro

# The paper's tasks and CleanRL's published numbers are the MuJoCo v4 tasks; gymnasium 1.x warns on
# every make() that v5 exists. We keep v4 on purpose, so the warning is silenced here, for both scripts
# (ppo_dap.py imports this module) (README "Quick start").
warnings.filterwarnings("ignore", message=r".*is out of date\. You should consider upgrading to version `v5`")

PRIORS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "priors")  # both scripts' default folder
PRIOR_FORMAT = "ppo-dap-prior/1"
PRETRAIN_CHECKPOINT_FORMAT = "ppo-dap-pretrain-checkpoint/1"  # --checkpoint-every: `{output}.ckpt`


@dataclass
class Args:
    dataset: str
    """the logged trajectories: an .npz with `observations` [N, obs_dim] and `actions` [N, act_dim] (e.g. from `ppo_dap.py --save-rollouts`)"""
    env_id: str = "Walker2d-v4"
    """the gymnasium id the data was logged on (gives the dimensions and the action bounds)"""
    last_steps: int = 0
    """if positive, train on the episodes that end in the dataset's last N transitions only (the late, stronger part of a long PPO run's log; needs its episode flags, and a log of one env, as `ppo_dap.py --num-envs 1` writes it, to be in time order); 0 = all of it"""
    prior_kind: Literal["diffusion", "gmm", "gaussian", "knn"] = "diffusion"
    """the prior: the DDPM of the method; or, for the ablations, a state-conditional Gaussian mixture (`gmm`), a Gaussian, or nearest-neighbour retrieval (no diffusion flags apply)"""
    output: Optional[str] = None
    """where to write the prior checkpoint, a .pt file (default: priors/{env_id}.pt beside this script, where ppo_dap.py looks, or priors/{env_id}-{prior_kind}.pt)"""
    overwrite: bool = False
    """if toggled, replace an existing checkpoint at the output path (by default an existing file is never touched)"""
    seed: int = 1
    """seed of the experiment (torch, numpy, random and the held-out split)"""
    cuda: bool = True
    """if toggled, cuda is used when it is available"""

    # DDPM
    num_diffusion_steps: int = 20
    """T, the number of diffusion steps (proposal cost is K x T network calls per state)"""
    schedule: Literal["vp", "cosine"] = "cosine"
    """the beta schedule: `vp` (Diffusion-QL / IDQL) or `cosine` (Nichol & Dhariwal)"""
    hidden_dim: int = 128
    """width of the prior network's hidden layers (the DDPM's noise network, the Gaussian's, the mixture's)"""
    num_hidden_layers: int = 3
    """number of hidden `nn.Linear` layers of the prior network (where LoRA/Adapters attach online)"""

    # Training
    num_updates: int = 20000
    """gradient steps"""
    batch_size: int = 256
    """transitions per gradient step"""
    learning_rate: float = 1e-3
    """Adam's learning rate (cosine-decayed to zero)"""
    holdout_fraction: float = 0.05
    """fraction of the transitions held out to report the denoising loss on unseen data"""
    log_every: int = 1000
    """gradient steps between progress lines"""
    checkpoint_every: int = 1000
    """gradient steps between checkpoints (`{output}.ckpt`, also written on Ctrl-C / SIGTERM, removed once the prior is saved); 0 = none"""
    resume: bool = False
    """if toggled, continue the interrupted pretraining in `{output}.ckpt`, bit for bit (the other flags must be the ones it started with)"""
    action_tolerance: float = 1e-3
    """how far (in env units) a logged action may lie outside the env's bounds before the dataset is rejected"""
    knn_size: int = 20000
    """(knn only) how many (state, action) pairs of the training split, drawn at random, the checkpoint stores"""
    num_components: int = 5
    """(gmm only) M, the mixture's components per state"""


# ---------------------------------------------------------------------------------------------------
# Shared helpers (ppo_dap.py imports these too)


def atomic_write(path: str, write: Callable) -> None:
    """Call `write(file)` on a temporary file beside `path`, then rename it over `path`.

    A crash or Ctrl-C mid-write leaves the previous file (if any) intact; the data reach the disk before
    the rename, so a power loss cannot leave an empty file in its place either.
    """
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save_checked(path: str, state: dict, fmt: str) -> None:
    """Write `state` (torch.save) atomically to `path` behind a first line `{fmt} {sha256 of the rest}`, which
    lets `load_checked` refuse a damaged file, another file, or one of another format version (torch itself
    reads a damaged file silently as other numbers). The checkpoints of both scripts are such files."""
    payload = io.BytesIO()
    torch.save(state, payload)
    payload = payload.getvalue()
    header = f"{fmt} {hashlib.sha256(payload).hexdigest()}\n".encode()
    atomic_write(path, lambda f: f.writelines([header, payload]))


def load_checked(path: str, fmt: str, script: str) -> dict:
    """The state `save_checked` wrote to `path` in format `fmt`. Stops with one sentence when the file is
    damaged, is not a checkpoint of `script`, comes from another version of it, or is the one-line marker
    `{fmt} finished` of finished work. Our own files: unpickled whole (MjData is no tensor)."""
    with open(path, "rb") as f:
        header, _, payload = f.read().partition(b"\n")
    name, _, digest = header.decode("ascii", errors="replace").partition(" ")
    if not name.startswith(fmt.rsplit("/", 1)[0] + "/"):
        raise SystemExit(f"error: --resume: {path} is not a {script} checkpoint (it is damaged or another file).")
    if name != fmt:
        raise SystemExit(f"error: --resume: {path} was written by another version of {script} (format {name[:40]}; "
                         f"this one reads {fmt}).")
    if digest == "finished":
        raise SystemExit(f"error: --resume: {path} marks a finished run; there is nothing to resume.")
    if hashlib.sha256(payload).hexdigest() != digest:
        raise SystemExit(f"error: --resume: {path} is damaged (truncated or changed: its checksum does not match).")
    return torch.load(io.BytesIO(payload), map_location="cpu", weights_only=False)


def rng_state(device: torch.device) -> dict:
    """The random streams of python, numpy (global) and torch (CPU, and `device` when it is a GPU), for a checkpoint."""
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None}


def library_versions() -> dict:
    """The versions of the libraries whose numbers a continued (resumed) training depends on."""
    return {"torch": torch.__version__, "numpy": np.__version__}


def check_same_setup(args, checkpoint: dict, versions: dict, device: torch.device, free: tuple, work: str) -> None:
    """--resume: stop with one sentence unless every flag but those in `free` is the one the `work` (the
    run, the pretraining) started with, and the library `versions` and the device are too: a continuation is
    bit for bit only then. Both scripts' checkpoints record `args`, `versions` and `device`."""
    defaults = {f.name: f.default for f in fields(args)}  # a flag newer than the checkpoint: it ran with the default
    for name, value in asdict(args).items():
        started = checkpoint["args"].get(name, defaults[name])
        if name not in ("resume", *free) and value != started:
            others = ", ".join(f"--{f.replace('_', '-')}" for f in free)
            raise SystemExit(f"error: --{name.replace('_', '-')} {value} differs from the {work}'s "
                             f"{started}; a resumed {work} keeps the flags it started with (all but {others}).")
    for name, version in checkpoint["versions"].items():
        if versions.get(name) != version:
            raise SystemExit(f"error: --resume: the {work} was written with {name} {version}, this is {name} "
                             f"{versions.get(name)}; it continues bit for bit only under the versions it started with.")
    if checkpoint["device"] != device.type:
        raise SystemExit(f"error: --resume: the {work} ran on {checkpoint['device']}, this one would run on "
                         f"{device.type}; resume it on a machine like the one it started on.")


def set_rng_state(state: dict, device: torch.device) -> None:
    """Put `rng_state`'s streams back."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


def check_finite_flags(args) -> None:
    """Stop with one sentence naming the flag when a float setting of the dataclass `args` is NaN or
    infinite (comparisons with NaN are all False, so range checks alone let it through)."""
    for name, value in vars(args).items():
        if isinstance(value, float) and not math.isfinite(value):
            raise SystemExit(f"error: --{name.replace('_', '-')} must be a finite number, got {value}.")


def check_writable_dir(path: str, flag: str) -> None:
    """Stop with one sentence when folder `path` neither exists nor can be made, or cannot be written. A folder
    is made and removed in its nearest existing ancestor to find out: permission bits miss read-only and
    virtual file systems (/proc looks writable to root, and no folder can be made there)."""
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise SystemExit(f"error: {flag} {path} cannot be written ({existing} is not a writable folder).")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".write-test-", dir=existing))
    except OSError as err:
        raise SystemExit(f"error: {flag} {path} cannot be written ({existing} is not a writable folder: "
                         f"{err.strerror}).") from err


def portable_command() -> str:
    """This process's command line with every absolute path cut to its file name, for the records a
    run or a prior keeps (no machine's paths in a shipped or committed file)."""
    return " ".join(os.path.basename(a) if os.path.isabs(a) else a for a in sys.argv)


def all_finite(tensors) -> bool:
    """True when every floating-point tensor of `tensors` (weights, a state dict's values) is finite."""
    return all(torch.isfinite(t).all() for t in tensors if t.is_floating_point())


class InterruptFlag:
    """Turns the first SIGINT (Ctrl-C) or SIGTERM (`timeout`, schedulers, container stops) into a flag
    that a training loop reads at every step; a second signal stops at once. A context manager that
    puts the previous handlers back however the run ends."""

    def __init__(self):
        self.signum = 0

    def __enter__(self):
        # a signal the process was started ignoring (SIGINT of a background job) stays ignored
        self.previous = {s: signal.signal(s, self.handle) for s in (signal.SIGINT, signal.SIGTERM)
                         if signal.getsignal(s) is not signal.SIG_IGN}
        return self

    def handle(self, signum, frame):
        if self.signum:
            raise KeyboardInterrupt
        self.signum = signum
        print(f"\n{signal.Signals(signum).name}: stopping after this step (send it again to stop at once)",
              file=sys.stderr, flush=True)

    def __exit__(self, *exc):
        for s, handler in self.previous.items():
            signal.signal(s, handler)

    def exit(self, where: str, saved: str):
        """End an interrupted run: one line saying where it stopped and what was kept, then exit status
        128 + the signal number (130 for Ctrl-C, 143 for SIGTERM)."""
        print(f"stopped by {signal.Signals(self.signum).name} at {where}; {saved}", file=sys.stderr)
        raise SystemExit(128 + self.signum)


def env_spaces(env_id: str):
    """(observation space, action space) of `env_id`; stops with one sentence on an unknown id or a
    non-continuous action space."""
    if env_id not in gym.registry:
        raise SystemExit(f"error: --env-id {env_id} is not a registered gymnasium environment (e.g. Walker2d-v4).")
    env = gym.wrappers.FlattenObservation(gym.make(env_id))
    obs_space, act_space = env.observation_space, env.action_space
    env.close()
    if not isinstance(act_space, gym.spaces.Box):
        raise SystemExit(
            f"error: --env-id {env_id} has a {type(act_space).__name__} action space; "
            "PPO-DAP needs a continuous (Box) action space."
        )
    return obs_space, act_space


# ---------------------------------------------------------------------------------------------------
# Data: the logged trajectories, checked before any training


def load_dataset(path: str, env_id: str, obs_dim: int, act_low: np.ndarray, act_high: np.ndarray,
                 tolerance: float) -> dict:
    """Read and check a logged-trajectory file. Returns float32 `observations` [N, obs_dim] and
    `actions` [N, act_dim] (clipped into the bounds) plus the optional `rewards`, `terminations`,
    `truncations` [N] and `env_id` (written by `ppo_dap.py --save-rollouts`). Any problem stops with
    one sentence naming the file."""
    if not os.path.isfile(path):
        raise SystemExit(f"error: dataset {path} does not exist.")
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise SystemExit(f"error: dataset {path} is not a readable .npz file ({err}).") from err
    missing = [key for key in ("observations", "actions") if key not in data]
    if missing:
        raise SystemExit(f"error: dataset {path} lacks the key(s) {', '.join(missing)}.")
    if "env_id" in data and str(data["env_id"]) != env_id:
        raise SystemExit(f"error: dataset {path} was logged on {data['env_id']}, but --env-id is {env_id}.")
    obs, actions = data["observations"], data["actions"]
    act_dim = act_low.shape[0]
    if obs.ndim != 2 or obs.shape[1] != obs_dim:
        raise SystemExit(f"error: dataset {path} has observations of shape {obs.shape}, the env needs [N, {obs_dim}].")
    if actions.ndim != 2 or actions.shape[1] != act_dim:
        raise SystemExit(f"error: dataset {path} has actions of shape {actions.shape}, the env needs [N, {act_dim}].")
    if len(obs) == 0:
        raise SystemExit(f"error: dataset {path} is empty (0 transitions).")
    for key in ("actions", "rewards", "terminations", "truncations"):
        if key in data and len(data[key]) != len(obs):
            raise SystemExit(f"error: dataset {path} has {len(data[key])} {key} but {len(obs)} observations.")
    for key in ("observations", "actions", "rewards"):
        if key in data and not np.all(np.isfinite(data[key])):
            raise SystemExit(f"error: dataset {path} has NaN or infinite values in {key}.")
    outside = np.maximum(act_low - actions, actions - act_high).max()
    if outside > tolerance:
        raise SystemExit(
            f"error: dataset {path} has actions up to {outside:.3g} outside the env's bounds "
            f"(tolerance --action-tolerance {tolerance})."
        )
    data["observations"] = obs.astype(np.float32)
    data["actions"] = np.clip(actions, act_low, act_high).astype(np.float32)
    return data


PER_STEP = ("observations", "actions", "rewards", "terminations", "truncations")  # the keys with one row per transition


def last_episodes(data: dict, steps: int) -> dict:
    """The episodes of a logged-trajectory dict that end in its last `steps` transitions (the first of them
    may start earlier and is kept whole). With one env, a run's log is in time order, so these are the
    episodes of the run's last `steps` steps."""
    ends = np.nonzero(np.logical_or(data["terminations"], data["truncations"]))[0]
    before = ends[ends < len(data["observations"]) - steps]
    start = before[-1] + 1 if len(before) else 0
    return {k: v[start:] if k in PER_STEP else v for k, v in data.items()}


def mean_episode_return(data: dict) -> Optional[float]:
    """Mean return of the complete episodes in a logged-trajectory dict (None without rewards/flags)."""
    if not all(key in data for key in ("rewards", "terminations", "truncations")):
        return None
    ends = np.nonzero(np.logical_or(data["terminations"], data["truncations"]))[0]
    if len(ends) == 0:
        return None
    # the complete episodes' returns sum to the rewards up to the last end (later steps: no complete episode)
    return float(data["rewards"][: ends[-1] + 1].astype(np.float64).sum() / len(ends))


# ---------------------------------------------------------------------------------------------------
# The DDPM action prior


def beta_schedule(name: str, num_steps: int) -> torch.Tensor:
    """Betas [T] for t = 1..T. `vp`: beta_t = 1 - exp(-b_min/T - (b_max - b_min)(2t - 1)/(2T^2)) with
    b_min 0.1, b_max 10 (Diffusion-QL); `cosine`: Nichol & Dhariwal's alpha-bar, betas capped at 0.999."""
    t = torch.arange(1, num_steps + 1, dtype=torch.float64)
    if name == "vp":
        b_min, b_max = 0.1, 10.0
        betas = 1.0 - torch.exp(-b_min / num_steps - (b_max - b_min) * (2 * t - 1) / (2 * num_steps**2))
    elif name == "cosine":
        s = 0.008
        f = lambda u: torch.cos((u / num_steps + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
        betas = torch.clamp(1.0 - f(t) / f(t - 1), max=0.999)
    else:
        raise ValueError(f"unknown beta schedule {name!r} (use 'vp' or 'cosine')")
    return betas.float()


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps t [B] -> [B, dim]."""
    half = dim // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, device=t.device) / half)
    angles = t.float()[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class ActionPrior(nn.Module):
    """What every action prior shares: the dataset's observation statistics and the env's action bounds
    (buffers saved with the weights), so a prior always takes raw observations [B, obs_dim] and gives
    actions [B, ..., act_dim] in the env's units. Subclasses hold their network's hidden `nn.Linear`
    layers in `self.hidden` (where LoRA or Adapters attach online) and provide `loss` and `sample`."""

    LOG_STD_MIN, LOG_STD_MAX = -5.0, 1.0  # the Gaussian and mixture priors' log-std range (scaled actions)

    def __init__(self, obs_dim: int, act_dim: int):
        super().__init__()
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.register_buffer("obs_mean", torch.zeros(obs_dim))
        self.register_buffer("obs_std", torch.ones(obs_dim))
        self.register_buffer("act_low", -torch.ones(act_dim))
        self.register_buffer("act_high", torch.ones(act_dim))

    def set_normalization(self, obs_mean, obs_std, act_low, act_high) -> None:
        """Store the dataset's observation statistics and the env's action bounds."""
        for name, value in (("obs_mean", obs_mean), ("obs_std", obs_std), ("act_low", act_low), ("act_high", act_high)):
            getattr(self, name).copy_(torch.as_tensor(np.asarray(value), dtype=torch.float32))

    def make_hidden(self, in_dim: int, hidden_dim: int, num_hidden_layers: int) -> None:
        """`self.hidden`: num_hidden_layers nn.Linear layers, in_dim -> hidden_dim -> ... -> hidden_dim."""
        widths = [in_dim] + [hidden_dim] * num_hidden_layers
        self.hidden = nn.ModuleList(nn.Linear(i, o) for i, o in zip(widths[:-1], widths[1:]))

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, in_dim] through the hidden layers, each followed by Mish: [B, hidden_dim]."""
        for layer in self.hidden:
            x = F.mish(layer(x))
        return x

    def normalize_obs(self, obs: torch.Tensor) -> torch.Tensor:
        return ((obs - self.obs_mean) / self.obs_std).clamp(-10.0, 10.0)

    def scale_action(self, action: torch.Tensor) -> torch.Tensor:
        """Env units -> [-1, 1]."""
        return 2.0 * (action - self.act_low) / (self.act_high - self.act_low) - 1.0

    def unscale_action(self, scaled: torch.Tensor) -> torch.Tensor:
        """[-1, 1] -> env units."""
        return self.act_low + (scaled + 1.0) * 0.5 * (self.act_high - self.act_low)

    def gaussian_draw(self, mean: torch.Tensor, log_std: torch.Tensor, guidance: Optional[Callable],
                      guidance_scale: float) -> torch.Tensor:
        """One draw per row of N(mean, diag exp(log_std)^2) over scaled actions ([N, act_dim] each), clipped
        to [-1, 1], in env units. With guidance the mean first moves by guidance_scale * sigma^2 *
        grad_a Q(s, a) at a = the mean clipped to the bounds: the one-step analogue of the DDPM's guided
        reverse means (the Gaussian and mixture priors)."""
        if guidance is not None and guidance_scale > 0.0:
            with torch.enable_grad():
                leaf = mean.detach().clamp(-1.0, 1.0).requires_grad_(True)
                (grad,) = torch.autograd.grad(guidance(self.unscale_action(leaf)).sum(), leaf)
            mean = mean + guidance_scale * (2 * log_std).exp() * grad
        return self.unscale_action((mean + log_std.exp() * torch.randn_like(mean)).clamp(-1.0, 1.0))

    @staticmethod
    def weighted_mean(per_sample: torch.Tensor, weights: Optional[torch.Tensor]) -> torch.Tensor:
        """Mean of per-sample losses [B], or their `weights`-weighted mean."""
        if weights is None:
            return per_sample.mean()
        return (weights * per_sample).sum() / weights.sum()


class DiffusionPrior(ActionPrior):
    """Conditional DDPM p(a | s) with epsilon-prediction (Ho et al. 2020).

    Takes raw observations [B, obs_dim] and actions [B, act_dim] in the env's units; inside, the
    observations are standardised with the dataset's statistics (clipped to +-10) and the actions
    scaled to [-1, 1] by the env's bounds, which is what makes clipping a0_hat to [-1, 1] right.
    The noise network is an MLP over [a_t, time embedding, normalised s]; its hidden layers are plain
    `nn.Linear` modules in `self.hidden`, the places LoRA or Adapters attach online.
    """

    def __init__(self, obs_dim: int, act_dim: int, *, num_diffusion_steps: int = 20, schedule: str = "cosine",
                 hidden_dim: int = 128, num_hidden_layers: int = 3, time_dim: int = 16):
        super().__init__(obs_dim, act_dim)
        self.config = dict(kind="diffusion", obs_dim=obs_dim, act_dim=act_dim, num_diffusion_steps=num_diffusion_steps,
                           schedule=schedule, hidden_dim=hidden_dim, num_hidden_layers=num_hidden_layers,
                           time_dim=time_dim)
        self.num_steps, self.time_dim = num_diffusion_steps, time_dim

        # DDPM: beta schedule and the quantities of the forward and reverse processes, index t - 1.
        betas = beta_schedule(schedule, num_diffusion_steps)
        alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)
        alphas_cumprod_prev = torch.cat([torch.ones(1), alphas_cumprod[:-1]])
        self.register_buffer("betas", betas)
        self.register_buffer("alphas_cumprod", alphas_cumprod)
        self.register_buffer("posterior_variance", betas * (1.0 - alphas_cumprod_prev) / (1.0 - alphas_cumprod))
        self.register_buffer("posterior_mean_coef1", betas * alphas_cumprod_prev.sqrt() / (1.0 - alphas_cumprod))
        self.register_buffer(
            "posterior_mean_coef2", (1.0 - alphas_cumprod_prev) * (1.0 - betas).sqrt() / (1.0 - alphas_cumprod)
        )

        # Noise network eps_w(a_t, t, s).
        self.make_hidden(act_dim + time_dim + obs_dim, hidden_dim, num_hidden_layers)
        self.out = nn.Linear(hidden_dim, act_dim)

    # -- DDPM ---------------------------------------------------------------------------------------
    def eps(self, a_t: torch.Tensor, t: torch.Tensor, obs_n: torch.Tensor) -> torch.Tensor:
        """Predicted noise [B, act_dim] from scaled a_t [B, act_dim], t [B] in 1..T, normalised s [B, obs_dim]."""
        return self.out(self.trunk(torch.cat([a_t, timestep_embedding(t, self.time_dim), obs_n], dim=-1)))

    def q_sample(self, a0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Forward noising a_t = sqrt(abar_t) a_0 + sqrt(1 - abar_t) eps, for scaled a0 [B, act_dim], t [B]."""
        abar = self.alphas_cumprod[t - 1][:, None]
        return abar.sqrt() * a0 + (1.0 - abar).sqrt() * noise

    def loss(self, obs: torch.Tensor, actions: torch.Tensor, weights: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Denoising loss ||eps - eps_w(a_t, t, s)||^2 (mean over action dims), t uniform in 1..T;
        obs [B, obs_dim] and actions [B, act_dim] raw; `weights` [B] give a weighted mean."""
        a0 = self.scale_action(actions).clamp(-1.0, 1.0)
        t = torch.randint(1, self.num_steps + 1, (a0.shape[0],), device=a0.device)
        noise = torch.randn_like(a0)
        per_sample = ((self.eps(self.q_sample(a0, t, noise), t, self.normalize_obs(obs)) - noise) ** 2).mean(-1)
        return self.weighted_mean(per_sample, weights)

    def sample(self, obs: torch.Tensor, num_samples: int, guidance: Optional[Callable] = None,
               guidance_scale: float = 0.0) -> torch.Tensor:
        """Ancestral sampling: raw obs [B, obs_dim] -> actions [B, num_samples, act_dim] in env units.

        a0_hat = (a_t - sqrt(1 - abar_t) eps_w) / sqrt(abar_t) is clipped to [-1, 1]; a_{t-1} is drawn
        from the posterior N(mean(a0_hat, a_t), beta_tilde_t I), with no noise at the last step.
        Guidance (optional): `guidance(actions [B*K, act_dim]) -> Q [B*K]`, actions in env units and
        state-major (row b*K + k is sample k of state b), the states bound by the caller. Each reverse
        mean is shifted by guidance_scale * beta_tilde_t * grad_a Q(s, a) evaluated at the clean
        estimate a = a0_hat (not at the noisy a_t, where a clean-action critic is biased).
        """
        batch = obs.shape[0]
        obs_n = self.normalize_obs(obs).repeat_interleave(num_samples, dim=0)  # [B*K, obs_dim], state-major
        a_t = torch.randn(batch * num_samples, self.act_dim, device=obs.device)
        for t in range(self.num_steps, 0, -1):
            t_batch = torch.full((a_t.shape[0],), t, device=obs.device, dtype=torch.long)
            abar = self.alphas_cumprod[t - 1]
            a0_hat = ((a_t - (1.0 - abar).sqrt() * self.eps(a_t, t_batch, obs_n)) / abar.sqrt()).clamp(-1.0, 1.0)
            mean = self.posterior_mean_coef1[t - 1] * a0_hat + self.posterior_mean_coef2[t - 1] * a_t
            variance = self.posterior_variance[t - 1]
            if guidance is not None and guidance_scale > 0.0 and t > 1:
                with torch.enable_grad():
                    a0_leaf = a0_hat.detach().requires_grad_(True)
                    q = guidance(self.unscale_action(a0_leaf))
                    (grad,) = torch.autograd.grad(q.sum(), a0_leaf)
                mean = mean + guidance_scale * variance * grad
            a_t = mean + variance.sqrt() * torch.randn_like(a_t) if t > 1 else mean
        return self.unscale_action(a_t.clamp(-1.0, 1.0)).reshape(batch, num_samples, self.act_dim)


class GaussianPrior(ActionPrior):
    """The ablation baseline: a state-conditional diagonal Gaussian p(a | s) = N(m(s), diag sigma(s)^2)
    over scaled actions, fitted by (weighted) maximum likelihood, i.e. behaviour cloning. An MLP over
    the normalised state with hidden layers like the DDPM's (in `self.hidden`, where LoRA or Adapters
    attach) and the same `loss` / `sample` interface, so nothing online changes; but one mode per state.
    """

    def __init__(self, obs_dim: int, act_dim: int, *, hidden_dim: int = 128, num_hidden_layers: int = 3):
        super().__init__(obs_dim, act_dim)
        self.config = dict(kind="gaussian", obs_dim=obs_dim, act_dim=act_dim, hidden_dim=hidden_dim,
                           num_hidden_layers=num_hidden_layers)
        self.make_hidden(obs_dim, hidden_dim, num_hidden_layers)
        self.out = nn.Linear(hidden_dim, 2 * act_dim)

    def mean_log_std(self, obs_n: torch.Tensor):
        """Normalised s [B, obs_dim] -> mean [B, act_dim] and log-std [B, act_dim] of the scaled action."""
        mean, log_std = self.out(self.trunk(obs_n)).chunk(2, dim=-1)
        return mean, log_std.clamp(self.LOG_STD_MIN, self.LOG_STD_MAX)

    def loss(self, obs: torch.Tensor, actions: torch.Tensor, weights: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Negative log-likelihood of the scaled actions (mean over action dims); raw obs [B, obs_dim],
        actions [B, act_dim]; `weights` [B] give a weighted mean."""
        a = self.scale_action(actions).clamp(-1.0, 1.0)
        mean, log_std = self.mean_log_std(self.normalize_obs(obs))
        per_sample = (0.5 * ((a - mean) / log_std.exp()) ** 2 + log_std + 0.5 * math.log(2 * math.pi)).mean(-1)
        return self.weighted_mean(per_sample, weights)

    def sample(self, obs: torch.Tensor, num_samples: int, guidance: Optional[Callable] = None,
               guidance_scale: float = 0.0) -> torch.Tensor:
        """Raw obs [B, obs_dim] -> actions [B, num_samples, act_dim] in env units, clipped to the bounds.
        Guidance (as DiffusionPrior.sample's, state-major): the mean moves by guidance_scale * sigma^2 *
        grad_a Q(s, a) at a = the mean, the one-step analogue of the DDPM's shifted reverse means."""
        mean, log_std = self.mean_log_std(self.normalize_obs(obs).repeat_interleave(num_samples, dim=0))
        return self.gaussian_draw(mean, log_std, guidance, guidance_scale).reshape(obs.shape[0], num_samples, self.act_dim)


class GMMPrior(ActionPrior):
    """The cheapest prior that can hold several modes per state: a mixture density network, p(a | s) =
    sum_m pi_m(s) N(a; mu_m(s), diag sigma_m(s)^2) over scaled actions with M components, fitted by
    (weighted) maximum likelihood. An MLP over the normalised state with hidden layers like the DDPM's
    (in `self.hidden`, where LoRA or Adapters attach) and the same `loss` / `sample` interface. With
    M = 1 it is `GaussianPrior`.
    """

    def __init__(self, obs_dim: int, act_dim: int, *, num_components: int = 5, hidden_dim: int = 128,
                 num_hidden_layers: int = 3):
        super().__init__(obs_dim, act_dim)
        self.config = dict(kind="gmm", obs_dim=obs_dim, act_dim=act_dim, num_components=num_components,
                           hidden_dim=hidden_dim, num_hidden_layers=num_hidden_layers)
        self.num_components = num_components
        self.make_hidden(obs_dim, hidden_dim, num_hidden_layers)
        self.out = nn.Linear(hidden_dim, num_components * (1 + 2 * act_dim))

    def mixture(self, obs_n: torch.Tensor):
        """Normalised s [B, obs_dim] -> the components' log-weights [B, M] (log-softmax), means and
        log-stds [B, M, act_dim] of the scaled action."""
        out = self.out(self.trunk(obs_n))
        m, d = self.num_components, self.act_dim
        logits, params = out[:, :m], out[:, m:].reshape(-1, m, 2 * d)
        mean, log_std = params.chunk(2, dim=-1)
        return logits.log_softmax(-1), mean, log_std.clamp(self.LOG_STD_MIN, self.LOG_STD_MAX)

    def loss(self, obs: torch.Tensor, actions: torch.Tensor, weights: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Negative log-likelihood of the scaled actions divided by act_dim (so that with M = 1 it is the
        Gaussian prior's per-dimension NLL); raw obs [B, obs_dim], actions [B, act_dim]; `weights` [B]
        give a weighted mean."""
        a = self.scale_action(actions).clamp(-1.0, 1.0)[:, None]  # [B, 1, act_dim]
        log_w, mean, log_std = self.mixture(self.normalize_obs(obs))
        log_normal = -(0.5 * ((a - mean) / log_std.exp()) ** 2 + log_std + 0.5 * math.log(2 * math.pi)).sum(-1)
        per_sample = -torch.logsumexp(log_w + log_normal, dim=-1) / self.act_dim
        return self.weighted_mean(per_sample, weights)

    def sample(self, obs: torch.Tensor, num_samples: int, guidance: Optional[Callable] = None,
               guidance_scale: float = 0.0) -> torch.Tensor:
        """Raw obs [B, obs_dim] -> actions [B, num_samples, act_dim] in env units, clipped to the bounds: a
        component drawn by its weight, then a draw from it. Guidance as `GaussianPrior.sample`'s: the
        drawn component's mean moves by guidance_scale * sigma^2 * grad_a Q(s, a) at a = that mean."""
        log_w, means, log_stds = self.mixture(self.normalize_obs(obs).repeat_interleave(num_samples, dim=0))
        pick = torch.multinomial(log_w.exp(), 1)[:, 0]  # one component per sample, state-major
        rows = torch.arange(len(pick), device=pick.device)
        draws = self.gaussian_draw(means[rows, pick], log_stds[rows, pick], guidance, guidance_scale)
        return draws.reshape(obs.shape[0], num_samples, self.act_dim)


class KNNPrior(ActionPrior):
    """The retrieval ablation: no network. It stores `size` (normalised state, scaled action) pairs of
    the dataset and proposes for a state the actions of its K nearest stored states (Euclidean distance
    between normalised states), nearest first. Same `loss` / `sample` interface, but nothing to train:
    `self.hidden` is empty, so LoRA and Adapters have nothing to attach to, and there is no reverse
    process for critic guidance to act on."""

    CHUNK = 4096  # query states per distance matrix, to bound memory on large held-out sets

    def __init__(self, obs_dim: int, act_dim: int, *, size: int):
        super().__init__(obs_dim, act_dim)
        self.config = dict(kind="knn", obs_dim=obs_dim, act_dim=act_dim, size=size)
        self.hidden = nn.ModuleList()
        self.register_buffer("keys", torch.zeros(size, obs_dim))
        self.register_buffer("values", torch.zeros(size, act_dim))

    def store(self, obs: torch.Tensor, actions: torch.Tensor) -> None:
        """Keep raw obs [size, obs_dim] and actions [size, act_dim] (set the normalisation first)."""
        self.keys.copy_(self.normalize_obs(obs))
        self.values.copy_(self.scale_action(actions).clamp(-1.0, 1.0))

    def neighbours(self, obs: torch.Tensor, k: int) -> torch.Tensor:
        """Indices [B, k] of the k stored states nearest to each raw obs [B, obs_dim], nearest first."""
        obs_n = self.normalize_obs(obs)
        return torch.cat([torch.cdist(chunk, self.keys).topk(k, dim=1, largest=False).indices
                          for chunk in obs_n.split(self.CHUNK)])

    def loss(self, obs: torch.Tensor, actions: torch.Tensor, weights: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The 1-nearest-neighbour regression error: squared distance (mean over action dims, scaled units)
        between each action [B, act_dim] and the stored action of its state's nearest neighbour."""
        nearest = self.values[self.neighbours(obs, 1)[:, 0]]
        per_sample = ((nearest - self.scale_action(actions).clamp(-1.0, 1.0)) ** 2).mean(-1)
        return self.weighted_mean(per_sample, weights)

    def sample(self, obs: torch.Tensor, num_samples: int, guidance: Optional[Callable] = None,
               guidance_scale: float = 0.0) -> torch.Tensor:
        """Raw obs [B, obs_dim] -> the actions of the `num_samples` nearest stored states [B, num_samples,
        act_dim] in env units. Refuses guidance (ValueError): retrieval has nothing to guide."""
        if guidance is not None and guidance_scale > 0.0:
            raise ValueError("a knn prior retrieves stored actions; critic guidance does not apply to it")
        return self.unscale_action(self.values[self.neighbours(obs, num_samples)])


PRIOR_KINDS = {"diffusion": DiffusionPrior, "gmm": GMMPrior, "gaussian": GaussianPrior, "knn": KNNPrior}


def prior_file(priors_dir: str, env_id: str, kind: str) -> str:
    """The layout of a folder of priors: `{env_id}.pt` for the DDPM (ppo_dap.py reads priors/{env_id}.pt
    by default), `{env_id}-{kind}.pt` for the other kinds."""
    return os.path.join(priors_dir, f"{env_id}.pt" if kind == "diffusion" else f"{env_id}-{kind}.pt")


# ---------------------------------------------------------------------------------------------------
# Checkpoint: one file with weights, config, normalisation, env id and provenance


def save_prior(path: str, prior: ActionPrior, env_id: str, provenance: dict) -> None:
    """Write the prior to `path` atomically (temporary file, then rename); a prior with a NaN or
    infinite weight is refused (ValueError) and nothing is written."""
    if not all_finite(prior.state_dict().values()):
        raise ValueError(f"the prior for {path} holds NaN or infinite weights; it was not saved")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    state = {
        "format": PRIOR_FORMAT,
        "config": dict(prior.config),
        "state_dict": {k: v.detach().cpu().clone() for k, v in prior.state_dict().items()},
        "env_id": env_id,
        "provenance": provenance,
    }
    atomic_write(path, lambda f: torch.save(state, f))


def load_prior(path: str, map_location="cpu") -> ActionPrior:
    """A ready prior (`DiffusionPrior`, or `GMMPrior` / `GaussianPrior` / `KNNPrior` for the ablations) from a checkpoint
    written by `save_prior`. Its env id and provenance are in `prior.env_id` and `prior.provenance`. Raises ValueError (one sentence) on a file that is
    missing, unreadable or not a PPO-DAP prior."""
    if not os.path.isfile(path):
        raise ValueError(f"prior checkpoint {path} does not exist")
    # torch.save writes a zip archive; checking that first turns a damaged file into one clear error
    # (torch.load itself can fail on garbage with almost any exception type).
    if not zipfile.is_zipfile(path):
        raise ValueError(f"prior checkpoint {path} could not be read; it is damaged or not a torch file")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, pickle.UnpicklingError) as err:
        raise ValueError(f"prior checkpoint {path} could not be read ({err})") from err
    if not isinstance(state, dict) or state.get("format") != PRIOR_FORMAT:
        raise ValueError(f"prior checkpoint {path} is not a PPO-DAP prior ({PRIOR_FORMAT})")
    try:  # a file of this format whose contents do not make a prior (edited by hand, another version)
        if not all_finite(state["state_dict"].values()):
            raise ValueError(f"prior checkpoint {path} holds NaN or infinite weights")
        config = dict(state["config"])
        prior = PRIOR_KINDS[config.pop("kind")](config.pop("obs_dim"), config.pop("act_dim"), **config)
        prior.load_state_dict(state["state_dict"])
        prior.env_id, prior.provenance = state["env_id"], state["provenance"]
    except (KeyError, TypeError, RuntimeError) as err:
        raise ValueError(f"prior checkpoint {path} does not hold a complete prior ({type(err).__name__}: {err})") from err
    return prior.to(map_location)


# ---------------------------------------------------------------------------------------------------
# Training


def heldout_loss(prior: ActionPrior, obs: torch.Tensor, actions: torch.Tensor, seed: int = 0) -> float:
    """The prior's `loss` on held-out data (a DDPM's denoising loss; the Gaussian's and the mixture's
    negative log-likelihood per action dimension; retrieval's 1-nearest-neighbour error) with fixed
    noise and timesteps, so numbers are comparable.
    The random streams of training (CPU and, on a GPU, that device's) are left where they were."""
    with torch.random.fork_rng(devices=[obs.device] if obs.device.type == "cuda" else []):
        torch.manual_seed(seed)
        with torch.no_grad():
            return prior.loss(obs, actions).item()


def holdout_split(num: int, fraction: float, seed: int) -> tuple:
    """(training indices, held-out indices) of `num` transitions: a seeded permutation, the first
    `fraction` of it (at least one) held out. Offline evaluations of a prior recompute it from the
    `holdout_fraction` and `seed` of its provenance."""
    perm = np.random.default_rng(seed).permutation(num)
    num_holdout = max(1, int(round(fraction * num)))
    return perm[num_holdout:], perm[:num_holdout]


MIN_TRAIN_TRANSITIONS = 32  # fewer cannot give observation statistics and a loss worth saving


def check_args(args: Args) -> str:
    """Stop with one sentence naming the flag when a setting cannot work, before any data is read;
    returns the output path (default PRIORS_DIR/{env_id}.pt), checked to be new or --overwrite."""
    check_finite_flags(args)
    for flag in ("num_diffusion_steps", "hidden_dim", "num_hidden_layers", "num_updates", "batch_size", "log_every",
                 "learning_rate", "action_tolerance", "knn_size", "num_components"):
        if not getattr(args, flag) > 0:
            raise SystemExit(f"error: --{flag.replace('_', '-')} must be positive, got {getattr(args, flag)}.")
    if args.checkpoint_every < 0:
        raise SystemExit(f"error: --checkpoint-every must be zero or positive, got {args.checkpoint_every}.")
    if args.last_steps < 0:
        raise SystemExit(f"error: --last-steps must be zero or positive, got {args.last_steps}.")
    if not 0.0 < args.holdout_fraction < 1.0:
        raise SystemExit(f"error: --holdout-fraction must lie in (0, 1), got {args.holdout_fraction}.")
    output = args.output or prior_file(PRIORS_DIR, args.env_id, args.prior_kind)
    if not output.endswith(".pt"):
        raise SystemExit(f"error: --output {output} must name a .pt file.")
    if os.path.exists(output) and not args.overwrite:
        raise SystemExit(f"error: --output {output} already exists; pass --overwrite to replace it "
                         "or --output to write elsewhere.")
    check_writable_dir(os.path.dirname(os.path.abspath(output)), "--output")
    if args.resume and not os.path.isfile(f"{output}.ckpt"):
        raise SystemExit(f"error: --resume: there is no checkpoint {output}.ckpt to continue (it is removed once the "
                         "prior is saved).")
    if not args.resume and os.path.exists(f"{output}.ckpt"):  # scripts that rerun a stopped command start over
        print(f"note: {output}.ckpt holds an interrupted pretraining; starting over (pass --resume to continue it)")
    return output


def check_resume(args: Args, checkpoint: dict, device: torch.device, dataset_sha256: str) -> None:
    """--resume: stop with one sentence, before anything is written, unless the pretraining can go on as it
    would have: the flags it started with (--checkpoint-every aside), the same dataset (so the same
    held-out split, a function of the data and --seed), library versions and device."""
    check_same_setup(args, checkpoint, library_versions(), device, ("checkpoint_every", "overwrite"), "pretraining")
    if dataset_sha256 != checkpoint["dataset_sha256"]:
        raise SystemExit(f"error: --resume: dataset {args.dataset} is not the file the pretraining started on "
                         "(its sha256 differs).")


def sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main(args: Args) -> str:
    """Pretrain and save the prior; returns the checkpoint path. Every --checkpoint-every updates the state
    goes to `{output}.ckpt` (--resume continues from it). Ctrl-C or SIGTERM stops it with exit status
    130 / 143 after the current update, writing its checkpoint and no prior."""
    output = check_args(args)
    checkpoint_path = f"{output}.ckpt"
    checkpoint = load_checked(checkpoint_path, PRETRAIN_CHECKPOINT_FORMAT, "pretrain_prior.py") if args.resume else None
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)  # as in ppo_dap.py: small MLPs, one thread is fastest on the 2-core CPU
    device = torch.device("cuda" if torch.cuda.is_available() and args.cuda else "cpu")

    # Data: check, split off a held-out part, normalisation statistics from the training part
    obs_space, act_space = env_spaces(args.env_id)
    obs_dim = int(np.prod(obs_space.shape))
    data = load_dataset(args.dataset, args.env_id, obs_dim, act_space.low, act_space.high, args.action_tolerance)
    if args.last_steps > 0:
        if not all(key in data for key in ("terminations", "truncations")):
            raise SystemExit(f"error: --last-steps needs episode flags, and dataset {args.dataset} has no terminations "
                             "and truncations.")
        if args.last_steps >= len(data["observations"]):
            raise SystemExit(f"error: --last-steps {args.last_steps} is not shorter than dataset {args.dataset} "
                             f"({len(data['observations'])} transitions); drop the flag to train on all of it.")
        data = last_episodes(data, args.last_steps)
    num = len(data["observations"])
    train_idx, holdout_idx = holdout_split(num, args.holdout_fraction, args.seed)
    if len(train_idx) < MIN_TRAIN_TRANSITIONS:
        kept = f" in its last {args.last_steps} steps (--last-steps)" if args.last_steps else ""
        raise SystemExit(f"error: dataset {args.dataset} has too few transitions{kept} ({num}) to train on at least "
                         f"{MIN_TRAIN_TRANSITIONS} and hold {len(holdout_idx)} out (--holdout-fraction).")
    obs = torch.tensor(data["observations"], device=device)
    actions = torch.tensor(data["actions"], device=device)
    train_obs = obs[train_idx]
    provenance = {
        "dataset": os.path.basename(args.dataset),
        "dataset_sha256": sha256(args.dataset),
        "last_steps": args.last_steps,
        "transitions": num,
        "mean_episode_return": mean_episode_return(data),
        "holdout_fraction": args.holdout_fraction,
        "command": portable_command(),
        "versions": {"torch": str(torch.__version__), "gymnasium": str(gym.__version__),
                     "mujoco": str(getattr(sys.modules.get("mujoco"), "__version__", None))},
    }
    if checkpoint is not None:
        check_resume(args, checkpoint, device, provenance["dataset_sha256"])
        provenance["command"] = checkpoint["command"]  # the command that started it
    part = f" (the episodes ending in its last {args.last_steps})" if args.last_steps else ""
    print(f"dataset {args.dataset}: {num} transitions{part}, {len(holdout_idx)} held out, "
          f"mean episode return {provenance['mean_episode_return']}")

    act_dim = act_space.shape[0]
    if args.prior_kind == "diffusion":
        prior = DiffusionPrior(obs_dim, act_dim, num_diffusion_steps=args.num_diffusion_steps, schedule=args.schedule,
                               hidden_dim=args.hidden_dim, num_hidden_layers=args.num_hidden_layers).to(device)
    elif args.prior_kind == "gmm":
        prior = GMMPrior(obs_dim, act_dim, num_components=args.num_components, hidden_dim=args.hidden_dim,
                         num_hidden_layers=args.num_hidden_layers).to(device)
    elif args.prior_kind == "gaussian":
        prior = GaussianPrior(obs_dim, act_dim, hidden_dim=args.hidden_dim,
                              num_hidden_layers=args.num_hidden_layers).to(device)
    else:
        keep = train_idx[np.random.permutation(len(train_idx))[: args.knn_size]]  # a random subsample to store
        prior = KNNPrior(obs_dim, act_dim, size=len(keep)).to(device)
    prior.set_normalization(train_obs.mean(0).cpu(), train_obs.std(0).clamp(min=1e-6).cpu(),
                            act_space.low, act_space.high)
    start_time = time.time()

    if args.prior_kind == "knn":  # retrieval: store the pairs, nothing to train
        prior.store(obs[keep], actions[keep])
        held = heldout_loss(prior, obs[holdout_idx], actions[holdout_idx])
        print(f"prior: knn, {len(keep)} stored (state, action) pairs | held-out 1-NN action error {held:.4f}")
    else:
        optimizer = torch.optim.Adam(prior.parameters(), lr=args.learning_rate)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.num_updates)
        shape = {"diffusion": f"T={args.num_diffusion_steps} ({args.schedule})", "gaussian": "diagonal Gaussian",
                 "gmm": f"mixture of {args.num_components} diagonal Gaussians"}[args.prior_kind]
        print(f"prior: {args.prior_kind}, {sum(p.numel() for p in prior.parameters())} parameters, {shape}, "
              f"{args.num_hidden_layers} x {args.hidden_dim} Mish, on {device}")
        running, first_update = 0.0, 1
        if checkpoint is not None:  # --resume: the pretraining as it stood at its checkpoint
            prior.load_state_dict(checkpoint["prior"])
            optimizer.load_state_dict(checkpoint["optimizer"])
            scheduler.load_state_dict(checkpoint["scheduler"])
            set_rng_state(checkpoint["rng"], device)
            first_update, running = checkpoint["update"] + 1, checkpoint["running"]
            start_time -= checkpoint["train_seconds"]
        with InterruptFlag() as stop:
            for update in range(first_update, args.num_updates + 1):
                batch = train_idx[np.random.randint(0, len(train_idx), size=args.batch_size)]
                loss = prior.loss(obs[batch], actions[batch])
                if not torch.isfinite(loss):
                    raise SystemExit(f"error: the prior's training loss became non-finite at update {update} on "
                                     f"dataset {args.dataset}; no prior was written (try a smaller --learning-rate).")
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                scheduler.step()
                running += loss.item()
                if update % args.log_every == 0 or update == args.num_updates:
                    steps = args.log_every if update % args.log_every == 0 else update % args.log_every
                    held = heldout_loss(prior, obs[holdout_idx], actions[holdout_idx])
                    print(f"update {update}/{args.num_updates} | train loss {running / steps:.4f} | "
                          f"held-out loss {held:.4f} | {time.time() - start_time:.0f}s", flush=True)
                    running = 0.0
                every, last = args.checkpoint_every, update == args.num_updates  # at the last, the prior is saved
                if every > 0 and not last and (stop.signum or update % every == 0):
                    save_checked(checkpoint_path, {
                        "args": {**asdict(args), "resume": False}, "device": device.type,
                        "versions": library_versions(),
                        "dataset_sha256": provenance["dataset_sha256"], "command": provenance["command"],
                        "update": update, "running": running, "train_seconds": time.time() - start_time,
                        "prior": prior.state_dict(), "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(), "rng": rng_state(device)}, PRETRAIN_CHECKPOINT_FORMAT)
                if stop.signum and not last:
                    resume = f"; continue with --resume (checkpoint {checkpoint_path})" if every > 0 else ""
                    stop.exit(f"update {update}", f"no prior written ({output} untouched){resume}")

    # the last update always logs, so `held` is the final held-out loss
    provenance.update(heldout_loss=held,
                      num_updates=0 if args.prior_kind == "knn" else args.num_updates, seed=args.seed,
                      train_seconds=round(time.time() - start_time, 1))
    try:
        save_prior(output, prior.cpu(), args.env_id, provenance)
    except ValueError as err:
        raise SystemExit(f"error: {err}.") from err
    if os.path.exists(checkpoint_path):  # the prior is whole: its checkpoint is done with
        os.remove(checkpoint_path)
    print(f"prior saved to {output} (held-out loss {provenance['heldout_loss']:.4f})")
    return output


if __name__ == "__main__":
    main(tyro.cli(Args))
