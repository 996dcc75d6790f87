"""PPO half of ppo_dap.py: GAE, normalisers, vector-env bookkeeping, end-to-end runs, bad inputs."""

import json
import os
import signal

import gymnasium as gym
import numpy as np
import pytest
import torch

import ppo_dap
from ppo_dap import Args, ObsNormalizer, RewardScaler, RunningMeanStd, compute_gae
from helpers import read_csv



def tiny_args(tmp_path, **kw):
    base = dict(env_id="Pendulum-v1", total_timesteps=512, num_steps=256, num_minibatches=4, update_epochs=2,
                runs_dir=str(tmp_path / "runs"), cuda=False, imitation_coef=0.0)  # the PPO half: no prior
    base.update(kw)
    return Args(**base)


# ---------------------------------------------------------------- GAE
def test_gae_hand_computed_with_truncation_and_termination():
    gamma, lam = 0.9, 0.5
    # one env, 4 steps: step 1 is truncated by a time limit (final obs worth 2.0),
    # step 3 terminates. V(s_t) = [1, 1, 1, 1]; the rollout ends with V(next obs) unused after termination.
    rewards = torch.tensor([[1.0], [1.0], [1.0], [1.0]])
    values = torch.tensor([[1.0], [1.0], [1.0], [1.0]])
    terminations = torch.tensor([[0.0], [0.0], [0.0], [1.0]])
    dones = torch.tensor([[0.0], [1.0], [0.0], [1.0]])
    next_values = torch.tensor([[1.0], [2.0], [1.0], [5.0]])  # [1] = V(final obs); [3] ignored (termination)
    adv, ret = compute_gae(rewards, values, next_values, terminations, dones, gamma, lam)
    d3 = 1.0 - 1.0                       # terminated: no bootstrap
    d2 = 1.0 + 0.9 * 1.0 - 1.0
    d1 = 1.0 + 0.9 * 2.0 - 1.0           # truncated: bootstrapped with V(final obs)
    d0 = 1.0 + 0.9 * 1.0 - 1.0
    a3 = d3
    a2 = d2 + gamma * lam * a3
    a1 = d1                              # the recursion stops at the episode end
    a0 = d0 + gamma * lam * a1
    expected = torch.tensor([[a0], [a1], [a2], [a3]])
    torch.testing.assert_close(adv, expected)
    torch.testing.assert_close(ret, expected + values)


def test_gae_lambda_one_is_discounted_return_minus_value():
    torch.manual_seed(0)
    rewards, values = torch.randn(6, 2), torch.randn(6, 2)
    zeros = torch.zeros(6, 2)
    next_values = torch.cat([values[1:], torch.tensor([[0.3, -0.2]])])
    adv, _ = compute_gae(rewards, values, next_values, zeros, zeros, 0.97, 1.0)
    g = torch.tensor([0.3, -0.2])
    for t in reversed(range(6)):
        g = rewards[t] + 0.97 * g
        torch.testing.assert_close(adv[t], g - values[t])


# ---------------------------------------------------------------- normalisers
def test_running_mean_std_matches_numpy_over_batches():
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 2.0, size=(1000, 4))
    rms = RunningMeanStd(shape=4, epsilon=0.0 + 1e-12)
    for chunk in np.array_split(data, 7):
        rms.update(chunk)
    np.testing.assert_allclose(rms.mean, data.mean(0), rtol=1e-9)
    np.testing.assert_allclose(rms.var, data.var(0), rtol=1e-6)


def test_obs_normalizer_standardises_clips_and_round_trips():
    norm = ObsNormalizer(2)
    rng = np.random.default_rng(1)
    norm.update(rng.normal([5.0, -1.0], [2.0, 0.5], size=(5000, 2)))
    out = norm(rng.normal([5.0, -1.0], [2.0, 0.5], size=(5000, 2)))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.mean(0), 0.0, atol=0.05)
    np.testing.assert_allclose(out.std(0), 1.0, atol=0.05)
    assert norm(np.array([1e6, -1e6]))[0] == 10.0 and norm(np.array([1e6, -1e6]))[1] == -10.0
    other = ObsNormalizer(2)
    other.load_state_dict(norm.state_dict())
    np.testing.assert_array_equal(other(np.ones(2)), norm(np.ones(2)))


def test_reward_scaler_resets_discounted_return_at_episode_end():
    scaler = RewardScaler(num_envs=2, gamma=0.5)
    scaler(np.array([1.0, 1.0]), np.array([False, True]))
    np.testing.assert_allclose(scaler.returns, [1.0, 0.0])
    scaler(np.array([1.0, 1.0]), np.array([False, False]))
    np.testing.assert_allclose(scaler.returns, [1.5, 1.0])
    out = scaler(np.array([2.0, 0.5]), np.array([False, False]))
    np.testing.assert_allclose(out, np.array([2.0, 0.5]) / np.sqrt(scaler.return_rms.var + 1e-8))
    scaler.return_rms.var, scaler.return_rms.count = 1e-6, 1e12  # a tiny, settled spread: clip at 10
    assert scaler(np.array([1.0, -1.0]), np.array([False, False])).tolist() == [10.0, -10.0]


# ---------------------------------------------------------------- end to end
def test_running_mean_std_starts_like_gymnasiums_wrappers():
    """The prior count epsilon = 1e-4 of gymnasium's RunningMeanStd (CleanRL's NormalizeObservation)."""
    from gymnasium.wrappers.utils import RunningMeanStd as GymRunningMeanStd

    ours, theirs = RunningMeanStd(shape=3), GymRunningMeanStd(shape=(3,))
    rng = np.random.default_rng(0)
    for n in (1, 5, 64):
        x = rng.normal(2.0, 3.0, size=(n, 3))
        ours.update(x)
        theirs.update(x)
        np.testing.assert_allclose(ours.mean, theirs.mean, rtol=1e-12)
        np.testing.assert_allclose(ours.var, theirs.var, rtol=1e-12)
        assert ours.count == pytest.approx(theirs.count, rel=1e-12)


def test_normalisers_stay_finite_on_a_constant_stream():
    """A feature that never changes (Ant-v4's contact forces are all zero under MuJoCo >= 2) and a
    reward that is always 0: the running variance falls below the 1e-8 guard, which must be added."""
    norm = ObsNormalizer(2)
    norm.update(np.c_[np.random.default_rng(0).normal(size=20_000), np.zeros(20_000)])
    assert norm.var[1] < 1e-8
    out = norm(np.array([[0.5, 0.0]]))
    assert np.isfinite(out).all() and out[0, 1] == 0.0
    scaler = RewardScaler(num_envs=1, gamma=0.99)
    for _ in range(20_000):
        scaled = scaler(np.zeros(1), np.zeros(1, dtype=bool))
    assert scaler.return_rms.var < 1e-8 and np.isfinite(scaled).all() and scaled[0] == 0.0


def test_networks_are_cleanrls_tanh_mlps_with_orthogonal_init():
    """Agent (CleanRL's) and Q_phi: Linear-Tanh-Linear-Tanh-Linear, orthogonal weights whose singular
    values are the layer's gain (sqrt 2 hidden; 1.0 for the value heads; 0.01 for the actor's mean),
    zero biases, and a state-independent log-std starting at 0."""
    agent, qf = ppo_dap.Agent(5, 2), ppo_dap.QNetwork(5, 2)
    for net, out_gain in ((agent.critic, 1.0), (agent.actor_mean, 0.01), (qf.net, 1.0)):
        assert [type(m) for m in net] == [torch.nn.Linear, torch.nn.Tanh, torch.nn.Linear, torch.nn.Tanh, torch.nn.Linear]
        for layer, gain in zip(net[::2], (np.sqrt(2), np.sqrt(2), out_gain)):
            torch.testing.assert_close(torch.linalg.svdvals(layer.weight),
                                       torch.full((min(layer.weight.shape),), float(gain)), rtol=1e-4, atol=1e-6)
            assert torch.equal(layer.bias, torch.zeros_like(layer.bias))
    assert torch.equal(agent.actor_logstd, torch.zeros(1, 2))
    assert qf(torch.zeros(4, 5), torch.zeros(4, 2)).shape == (4,)  # one value per (state, action)


def test_ppo_update_draws_no_random_numbers_and_rpo_does():
    """With --rpo-alpha 0 the update's log-probs use no randomness (PPO runs stay CleanRL's, draw for
    draw); RPO draws its uniform shift there."""
    obs, actions = torch.randn(8, 5), torch.randn(8, 2)
    for alpha, draws in ((0.0, False), (0.5, True)):
        agent = ppo_dap.Agent(5, 2, rpo_alpha=alpha)
        before = torch.random.get_rng_state()
        agent.get_action_and_value(obs, actions)
        assert (not torch.equal(before, torch.random.get_rng_state())) == draws


def test_pendulum_run_writes_progress_model_rollouts_and_episode_bookkeeping(tmp_path):
    rollouts = tmp_path / "logs" / "new_folder" / "pendulum.npz"  # folder does not exist yet: created
    args = tiny_args(tmp_path, num_envs=2, num_steps=200, total_timesteps=800, num_minibatches=4,
                     save_model=True, eval_episodes=2, save_rollouts=str(rollouts))
    run_dir = ppo_dap.main(args)
    progress = read_csv(os.path.join(run_dir, "progress.csv"))
    assert [int(r["iteration"]) for r in progress] == [1, 2]
    assert [int(r["global_step"]) for r in progress] == [400, 800]
    for key in ("charts/episodic_return", "charts/SPS", "losses/value_loss", "losses/policy_loss",
                "losses/approx_kl", "losses/clipfrac", "losses/explained_variance"):
        assert key in progress[0]

    data = np.load(rollouts)
    assert data["observations"].shape == (800, 3) and data["actions"].shape == (800, 1)
    for key in ("rewards", "terminations", "truncations"):
        assert data[key].shape == (800,)
    assert np.all(np.abs(data["actions"]) <= 2.0)  # executed (clipped) actions
    # Pendulum truncates at 200 steps: two episodes per env; the log is env by env.
    assert data["truncations"].sum() == 4 and not data["terminations"].any()
    np.testing.assert_array_equal(np.nonzero(data["truncations"])[0], [199, 399, 599, 799])

    # vector-env bookkeeping: the episode returns from infos equal the sums of the logged raw rewards
    episodes = read_csv(os.path.join(run_dir, "episodes.csv"))
    assert len(episodes) == 4 and all(int(e["episodic_length"]) == 200 for e in episodes)
    logged = sorted(data["rewards"].reshape(4, 200).sum(1))
    reported = sorted(float(e["episodic_return"]) for e in episodes)
    np.testing.assert_allclose(reported, logged, rtol=1e-5)
    # progress.csv's per-iteration return is the mean of the episodes that ended in that iteration
    first_two = [float(e["episodic_return"]) for e in episodes[:2]]
    assert all(int(e["global_step"]) <= 400 for e in episodes[:2])
    np.testing.assert_allclose(float(progress[0]["charts/episodic_return"]), np.mean(first_two), rtol=1e-6)

    assert os.path.exists(os.path.join(run_dir, "model.pt"))
    with open(os.path.join(run_dir, "eval.json")) as f:
        assert len(json.load(f)["episodic_returns"]) == 2


def test_rpo_alpha_reaches_the_agent_that_trains(tmp_path, monkeypatch):
    made = []

    class RecordingAgent(ppo_dap.Agent):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            made.append(self)

    monkeypatch.setattr(ppo_dap, "Agent", RecordingAgent)
    ppo_dap.main(tiny_args(tmp_path, total_timesteps=256, rpo_alpha=0.3))
    assert [a.rpo_alpha for a in made] == [0.3]


def test_walker2d_tiny_run_and_deterministic_evaluation(tmp_path):
    rollouts = tmp_path / "walker.npz"
    args = tiny_args(tmp_path, env_id="Walker2d-v4", total_timesteps=1024, num_steps=512, save_model=True,
                     eval_episodes=0, save_rollouts=str(rollouts))
    run_dir = ppo_dap.main(args)
    data = np.load(rollouts)
    assert data["observations"].shape == (1024, 17) and data["actions"].shape == (1024, 6)
    assert data["terminations"].any()  # an untrained walker falls
    model = os.path.join(run_dir, "model.pt")
    state = torch.load(model, weights_only=False)
    assert set(state) >= {"agent", "obs_norm", "env_id"} and state["env_id"] == "Walker2d-v4"
    assert state["obs_norm"]["mean"].shape == (17,)
    agent, obs_norm, env_id = ppo_dap.load_model(model)
    assert env_id == "Walker2d-v4"
    first = ppo_dap.evaluate(agent, obs_norm, env_id, 2, seed=7)
    second = ppo_dap.evaluate(agent, obs_norm, env_id, 2, seed=7)
    assert first.shape == (2,)
    np.testing.assert_array_equal(first, second)


def test_same_seed_same_numbers(tmp_path):
    rows = []
    for name in ("a", "b"):
        run_dir = ppo_dap.main(tiny_args(tmp_path, exp_name=name, save_model=True, eval_episodes=0))
        rows.append(read_csv(os.path.join(run_dir, "progress.csv")))
        rows[-1].append(torch.load(os.path.join(run_dir, "model.pt"), weights_only=False)["agent"])
    for key in ("losses/value_loss", "losses/policy_loss", "losses/approx_kl", "charts/episodic_return"):
        assert [r[key] for r in rows[0][:-1]] == [r[key] for r in rows[1][:-1]]
    for k, v in rows[0][-1].items():
        assert torch.equal(v, rows[1][-1][k])


def test_interrupt_saves_model_progress_and_rollouts(tmp_path, monkeypatch):
    rollouts = tmp_path / "partial.npz"
    original_step = gym.vector.SyncVectorEnv.step
    calls = {"n": 0}

    def step_then_interrupt(self, actions):
        calls["n"] += 1
        if calls["n"] == 300:  # in the second iteration's rollout: a real Ctrl-C to this process
            os.kill(os.getpid(), signal.SIGINT)
        return original_step(self, actions)

    monkeypatch.setattr(gym.vector.SyncVectorEnv, "step", step_then_interrupt)
    # a background job starts with SIGINT ignored (and a run then keeps ignoring it); here it must count
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(SystemExit) as err:
            ppo_dap.main(tiny_args(tmp_path, save_model=True, eval_episodes=0, save_rollouts=str(rollouts)))
        assert err.value.code == 130
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored
    finally:
        signal.signal(signal.SIGINT, previous)
    (run_dir,) = [os.path.join(tmp_path / "runs", d) for d in os.listdir(tmp_path / "runs")]
    assert len(read_csv(os.path.join(run_dir, "progress.csv"))) == 1
    assert os.path.exists(os.path.join(run_dir, "model.pt"))
    assert np.load(rollouts)["observations"].shape == (300, 3)
    assert not [p for p in os.listdir(run_dir) if p.endswith(".tmp")]


# ---------------------------------------------------------------- bad inputs
@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(env_id="NoSuchEnv-v0"), "--env-id NoSuchEnv-v0 is not a registered"),
        (dict(env_id="CartPole-v1"), "Discrete action space"),
        (dict(num_envs=0), "--num-envs must be positive"),
        (dict(num_steps=-5), "--num-steps must be positive"),
        (dict(total_timesteps=0), "--total-timesteps must be positive"),
        (dict(learning_rate=0.0), "--learning-rate must be positive"),
        (dict(num_minibatches=3), "--num-minibatches 3 must divide"),
        (dict(total_timesteps=100), "smaller than one rollout"),
        (dict(save_rollouts="out.csv"), "must name a .npz file"),
        (dict(eval_episodes=-1), "--eval-episodes must be zero or positive"),
    ],
)
def test_bad_inputs_stop_with_one_sentence(tmp_path, kw, message):
    with pytest.raises(SystemExit, match=message.replace(".", r"\.")) as err:
        ppo_dap.main(tiny_args(tmp_path, **kw))
    assert str(err.value).count("\n") == 0


# ---------------------------------------------------------------- the paper's evaluation protocol
def test_eval_every_writes_one_row_per_multiple_at_iteration_boundaries(tmp_path):
    # batches of 256 steps, an evaluation every 300 steps: at step 0, then at the first iteration end
    # past 300 (512), past 600 (768), past 900 (1024); each row names the multiple it stands for
    run_dir = ppo_dap.main(tiny_args(tmp_path, total_timesteps=1024, eval_every=300, eval_episodes=2))
    rows = read_csv(os.path.join(run_dir, "eval.csv"))
    assert [int(r["global_step"]) for r in rows] == [0, 512, 768, 1024]
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2, 3]
    assert all(int(r["episodes"]) == 2 for r in rows)
    # a deterministic evaluation of the same actor on the same seeds gives the same mean: re-run the
    # step-0 evaluation by hand with a fresh (untrained, same seed) agent and fresh statistics
    torch.manual_seed(1)
    agent = ppo_dap.Agent(3, 1)
    obs_norm = ObsNormalizer(3)
    env = ppo_dap.make_envs("Pendulum-v1", 1)
    first_obs, _ = env.reset(seed=1)
    obs_norm.update(first_obs)
    expected = ppo_dap.evaluate(agent, obs_norm, "Pendulum-v1", 2, seed=1 + 10_000)
    assert float(rows[0]["mean_return"]) == pytest.approx(expected.mean())
    progress = read_csv(os.path.join(run_dir, "progress.csv"))
    assert float(progress[-1]["time/eval_s"]) > 0  # evaluation time is counted apart from training time


def test_evaluations_leave_the_training_run_unchanged(tmp_path):
    """Evaluation uses its own envs and seeds and reads the observation statistics without updating them, so
    a PPO-DAP run with --eval-every logs the same training numbers and ends with the same weights as without."""
    def run(name, **kw):
        return ppo_dap.main(tiny_args(tmp_path / name, env_id="Hopper-v4", total_timesteps=1024, update_epochs=1,
                                      imitation_coef=1.0, proposal_states=32, save_model=True, eval_episodes=1, **kw))

    plain, evaluated = run("plain"), run("evaluated", eval_every=256)
    assert len(read_csv(os.path.join(evaluated, "eval.csv"))) == 5 and not os.path.exists(os.path.join(plain, "eval.csv"))
    numbers = [[{k: v for k, v in row.items() if not k.startswith("time/") and k != "charts/SPS"}
                for row in read_csv(os.path.join(d, "progress.csv"))] for d in (plain, evaluated)]
    assert numbers[0] == numbers[1] and float(numbers[0][0]["dap/imitation_coef"]) > 0
    models = [torch.load(os.path.join(d, "model.pt"), weights_only=False) for d in (plain, evaluated)]
    assert all(torch.equal(models[0]["agent"][k], models[1]["agent"][k]) for k in models[0]["agent"])
    assert all(np.array_equal(models[0]["obs_norm"][k], models[1]["obs_norm"][k]) for k in ("mean", "var"))
