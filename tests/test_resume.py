"""Checkpoints and --resume: a run stopped any way (SIGKILL, a signal, a kill in the middle of a checkpoint
write) and resumed is the run never stopped, bit for bit on CPU: the same progress.csv (timing columns
aside), episodes.csv, model weights and rollout log. Bad checkpoints and flags are refused with one
sentence and change nothing. The same for pretrain_prior.py."""

import glob
import io
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import ppo_dap
import pretrain_prior
from helpers import prior_args, read_csv
from pretrain_prior import InterruptFlag

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOPPER = ["--env-id", "Hopper-v4", "--num-steps", "256", "--num-minibatches", "4", "--update-epochs", "2",
          "--total-timesteps", str(8 * 256), "--checkpoint-every", "2", "--save-model", "--eval-episodes", "0",
          "--no-cuda"]
PPO = ["--imitation-coef", "0"]
CASES = {"ppo": HOPPER + PPO,
         "two-envs": HOPPER + PPO + ["--num-envs", "2", "--num-steps", "128", "--eval-every", "512", "--eval-episodes", "1"],
         "prior": HOPPER}  # the shipped priors/Hopper-v4.pt with DAP's default flags


def run(argv, tmp, name):
    """Run ppo_dap.py in this process with `argv` under `tmp/name/`; returns the run folder."""
    return ppo_dap.main(ppo_dap.cli(argv + ["--runs-dir", str(tmp / name)]))


def rollouts_flag(tmp, name):
    return ["--save-rollouts", str(tmp / f"{name}.npz")]


def files(folder) -> dict:
    """Every file under `folder` with its bytes: to check that a refusal changed nothing."""
    return {p: open(p, "rb").read() for p in sorted(glob.glob(os.path.join(folder, "**"), recursive=True))
            if os.path.isfile(p)}


def assert_same_run(a, b):
    """progress.csv (but its timing columns), episodes.csv, eval.csv and eval.json (if any; but the
    seconds) and the model weights are identical."""
    def numbers(run_dir):
        return [{k: v for k, v in row.items() if not k.startswith("time/") and k != "charts/SPS"}
                for row in read_csv(os.path.join(run_dir, "progress.csv"))]
    assert numbers(a) == numbers(b)
    assert len(numbers(a)) == 8
    with open(os.path.join(a, "episodes.csv"), "rb") as fa, open(os.path.join(b, "episodes.csv"), "rb") as fb:
        assert fa.read() == fb.read()
    if os.path.exists(os.path.join(a, "eval.csv")) or os.path.exists(os.path.join(b, "eval.csv")):
        evals = [[{k: v for k, v in row.items() if k != "seconds"} for row in read_csv(os.path.join(d, "eval.csv"))]
                 for d in (a, b)]
        assert evals[0] == evals[1] and len(evals[0]) == 5  # steps 0, 512, ..., 2048
        results = [json.load(open(os.path.join(d, "eval.json"))) for d in (a, b)]
        assert results[0] == results[1]
    model_a, model_b = (torch.load(os.path.join(d, "model.pt"), weights_only=False) for d in (a, b))
    assert model_a["agent"].keys() == model_b["agent"].keys()
    assert all(torch.equal(model_a["agent"][k], model_b["agent"][k]) for k in model_a["agent"])
    assert all(np.array_equal(model_a["obs_norm"][k], model_b["obs_norm"][k]) for k in ("mean", "var"))
    assert [open(os.path.join(d, "checkpoint.pt")).read() for d in (a, b)] == [f"{ppo_dap.CHECKPOINT_FORMAT} finished\n"] * 2
    assert not [p for d in (a, b) for p in glob.glob(os.path.join(d, "*.tmp")) + glob.glob(os.path.join(d, "*.partial"))]


def assert_same_rollouts(a, b):
    with np.load(a) as da, np.load(b) as db:
        assert da.files == db.files and all(np.array_equal(da[k], db[k]) for k in da.files)


class Straight(dict):
    """The uninterrupted run of each case, made when first asked for (the first case with --save-rollouts)."""

    def __init__(self, tmp):
        super().__init__()
        self.tmp = tmp

    def __missing__(self, case):
        if case == "ppo-rollouts":
            return str(self.tmp / "ppo.npz") if self["ppo"] else None
        self[case] = run(CASES[case] + (rollouts_flag(self.tmp, case) if case == "ppo" else []), self.tmp, case)
        return self[case]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    return Straight(tmp_path_factory.mktemp("straight"))


class Stop(InterruptFlag):
    """A signal flag raised at the `at`-th call of RewardScaler (once per vector step): SIGTERM mid-rollout."""

    def __init__(self, monkeypatch, at: int):
        super().__init__()
        calls, scale = itertools.count(), ppo_dap.RewardScaler.__call__

        def counting(scaler, rewards, dones):
            if next(calls) == at:
                self.signum = signal.SIGTERM
            return scale(scaler, rewards, dones)

        monkeypatch.setattr(ppo_dap.RewardScaler, "__call__", counting)


# ---------------------------------------------------------------- the simulator's state
@pytest.mark.parametrize("env_id", ["Swimmer-v4", "Ant-v4"])
def test_env_state_round_trip_is_exact(env_id):
    """An env restored from `env_state` steps as the original does, through a time-limit truncation (Swimmer
    never falls, so its episode ends at step 1000) and the reset after it (its noise from the env's own
    generator); Ant's reward reads the torso position the previous step derived (whole MjData needed)."""
    envs = ppo_dap.make_envs(env_id, 1)
    envs.reset(seed=3)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (1100, 1, envs.single_action_space.shape[0]))
    for a in actions[:500]:
        envs.step(a)
    state = ppo_dap.env_state(envs.envs[0])
    copy = ppo_dap.make_envs(env_id, 1)
    copy.reset(seed=4)
    ppo_dap.restore_env_state(copy.envs[0], state)
    for a in actions[500:]:
        (obs, reward, term, trunc, info), (obs2, reward2, term2, trunc2, info2) = envs.step(a), copy.step(a)
        assert np.array_equal(obs, obs2) and np.array_equal(reward, reward2)
        assert np.array_equal(term, term2) and np.array_equal(trunc, trunc2)
        if "final_info" in info:
            assert info["final_info"]["episode"]["r"] == info2["final_info"]["episode"]["r"]
            assert info["final_info"]["episode"]["l"] == info2["final_info"]["episode"]["l"]
    assert env_id != "Swimmer-v4" or envs.envs[0].episode_count == 1  # the truncation happened


# ---------------------------------------------------------------- stopped any way, resumed: the same run
@pytest.mark.parametrize("case", CASES)
def test_a_killed_run_resumes_bit_for_bit(tmp_path, straight, case):
    """SIGKILL (no handler runs) once the second checkpoint exists, then --resume."""
    argv = CASES[case] + (rollouts_flag(tmp_path, "killed") if case == "ppo" else [])
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "ppo_dap.py"), *argv, "--runs-dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        rows = [len(read_csv(p)) for p in tmp_path.glob("*/progress.csv")]
        if rows and rows[0] >= 5:  # the checkpoint of iteration 4 is written before iteration 5 starts
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (run_dir,) = [str(p) for p in tmp_path.iterdir() if p.is_dir()]
    assert ppo_dap.read_checkpoint(run_dir)["iteration"] in (4, 6)
    assert len(read_csv(os.path.join(run_dir, "progress.csv"))) >= 5  # more than the checkpoint holds: cut back
    assert ppo_dap.main(ppo_dap.cli(["--resume", run_dir])) == run_dir
    assert_same_run(straight[case], run_dir)
    if case == "ppo":
        assert_same_rollouts(straight["ppo-rollouts"], tmp_path / "killed.npz")


def test_a_signal_mid_rollout_checkpoints_the_last_iteration_and_resumes_bit_for_bit(tmp_path, straight, monkeypatch,
                                                                                    capsys):
    """SIGTERM in the middle of iteration 4 with --checkpoint-every 4: no periodic checkpoint yet, so the
    signal writes iteration 3's; the resumed run redoes iteration 4 from there."""
    argv = CASES["ppo"] + ["--checkpoint-every", "4", "--runs-dir", str(tmp_path)] + rollouts_flag(tmp_path, "stopped")
    with pytest.raises(SystemExit) as err:
        ppo_dap.train(ppo_dap.cli(argv), Stop(monkeypatch, at=3 * 256 + 100))
    assert err.value.code == 143
    (run_dir,) = glob.glob(str(tmp_path / "*__*"))
    assert ppo_dap.read_checkpoint(run_dir)["iteration"] == 3
    assert f"--resume {run_dir}" in capsys.readouterr().err
    assert os.path.exists(tmp_path / "stopped.npz")  # the interrupted run saved its log as far as it got
    ppo_dap.main(ppo_dap.cli(["--resume", run_dir]))
    assert_same_run(straight["ppo"], run_dir)
    assert_same_rollouts(straight["ppo-rollouts"], tmp_path / "stopped.npz")


def test_a_signal_after_the_last_rollout_lets_the_run_finish(tmp_path, straight, monkeypatch):
    """SIGTERM while the last iteration updates: nothing is left to redo, so the run ends complete (no exit
    status 143, its checkpoint marked finished) and is the run never signalled."""
    args = ppo_dap.cli(CASES["ppo"] + ["--runs-dir", str(tmp_path)])
    stop, end_iteration = InterruptFlag(), ppo_dap.RunWriter.end_iteration

    def signalled(writer, iteration, *rest):
        if iteration == args.num_iterations:  # after the rollout's last check of the flag
            stop.signum = signal.SIGTERM
        return end_iteration(writer, iteration, *rest)

    monkeypatch.setattr(ppo_dap.RunWriter, "end_iteration", signalled)
    run_dir = ppo_dap.train(args, stop)
    assert stop.signum == signal.SIGTERM
    assert_same_run(straight["ppo"], run_dir)


class Killed(BaseException):
    """The process dying (nothing catches a BaseException that is not an Exception)."""


def test_a_kill_during_a_checkpoint_write_leaves_the_previous_one(tmp_path, straight, monkeypatch):
    """Each process dies half-way through its second checkpoint write (after appending to the rollout log):
    the run, then its first resume. Each time the previous checkpoint is whole, and --resume from it cuts
    the log back; the twice-resumed run is the uninterrupted one."""
    real_write = pretrain_prior.atomic_write

    def dying_on_the_second_checkpoint():
        writes = itertools.count()

        def write_or_die(path, write):
            if path.endswith("checkpoint.pt") and next(writes) == 1:
                data = io.BytesIO()
                write(data)
                with open(f"{path}.tmp", "wb") as f:
                    f.write(data.getvalue()[: len(data.getvalue()) // 2])
                raise Killed
            real_write(path, write)

        monkeypatch.setattr(pretrain_prior, "atomic_write", write_or_die)

    dying_on_the_second_checkpoint()
    with pytest.raises(Killed):
        run(CASES["ppo"] + rollouts_flag(tmp_path, "killed"), tmp_path, "runs")
    (run_dir,) = glob.glob(str(tmp_path / "runs" / "*"))
    for iteration in (2, 4):
        assert os.path.exists(os.path.join(run_dir, "checkpoint.pt.tmp"))
        checkpoint = ppo_dap.read_checkpoint(run_dir)
        assert checkpoint["iteration"] == iteration
        partial = os.path.join(run_dir, ppo_dap.ROLLOUT_PARTIAL)
        assert os.path.getsize(partial) > checkpoint["writer"]["rollout_log_bytes"]  # the dead write's steps too
        if iteration == 2:  # the first resume dies the same way
            dying_on_the_second_checkpoint()
            with pytest.raises(Killed):
                ppo_dap.main(ppo_dap.cli(["--resume", run_dir]))
    monkeypatch.setattr(pretrain_prior, "atomic_write", real_write)
    ppo_dap.main(ppo_dap.cli(["--resume", run_dir]))
    assert_same_run(straight["ppo"], run_dir)
    assert_same_rollouts(straight["ppo-rollouts"], tmp_path / "killed.npz")


def test_checkpoints_change_no_number(tmp_path, straight):
    """The uninterrupted run with checkpoints every 2 iterations is the run without any."""
    plain = run(CASES["ppo"] + ["--checkpoint-every", "0"], tmp_path, "plain")
    numbers = [{k: v for k, v in r.items() if not k.startswith("time/") and k != "charts/SPS"}
               for r in read_csv(os.path.join(plain, "progress.csv"))]
    assert numbers == [{k: v for k, v in r.items() if not k.startswith("time/") and k != "charts/SPS"}
                       for r in read_csv(os.path.join(straight["ppo"], "progress.csv"))]
    assert not os.path.exists(os.path.join(plain, "checkpoint.pt"))
    seconds = [float(r["time/checkpoint_s"]) for r in read_csv(os.path.join(straight["ppo"], "progress.csv"))]
    assert seconds == sorted(seconds) and 0 < seconds[-1] < 5


# ---------------------------------------------------------------- an env without a full state: Pendulum-v1
PENDULUM = ["--env-id", "Pendulum-v1", "--num-steps", "256", "--num-minibatches", "4", "--update-epochs", "1",
            "--total-timesteps", str(4 * 256), "--checkpoint-every", "1", "--imitation-coef", "0", "--no-cuda",
            "--eval-episodes", "0"]


@pytest.fixture(scope="module")
def stopped_pendulum(tmp_path_factory):
    """A Pendulum-v1 run stopped by SIGTERM in iteration 3 (its checkpoint: iteration 2, step 512, 112 steps
    into the third 200-step episode), with --save-rollouts; tests copy its folder."""
    tmp = tmp_path_factory.mktemp("pendulum")
    monkeypatch = pytest.MonkeyPatch()
    with pytest.raises(SystemExit):
        ppo_dap.train(ppo_dap.cli(PENDULUM + ["--runs-dir", str(tmp / "runs")] + rollouts_flag(tmp, "log")),
                      Stop(monkeypatch, at=2 * 256 + 50))
    monkeypatch.undo()
    (run_dir,) = glob.glob(str(tmp / "runs" / "*"))
    return run_dir


def copy_run(run_dir, tmp_path):
    """A copy of a stopped run's folder (its --save-rollouts file is an absolute path, which the copies share)."""
    return shutil.copytree(run_dir, tmp_path / os.path.basename(run_dir))


def test_an_env_without_a_full_state_restarts_its_episode_at_the_resume_point(tmp_path, stopped_pendulum, capsys):
    run_dir = str(copy_run(stopped_pendulum, tmp_path))
    checkpoint = ppo_dap.read_checkpoint(run_dir)
    assert checkpoint["global_step"] == 512 and checkpoint["envs"][0]["mjdata"] is None
    ppo_dap.main(ppo_dap.cli(["--resume", run_dir]))
    assert "Pendulum-v1 is not a MuJoCo env" in capsys.readouterr().err
    steps = [int(e["global_step"]) for e in read_csv(os.path.join(run_dir, "episodes.csv"))]
    assert steps == [200, 400, 712, 912]  # uninterrupted: 200, 400, 600, 800, 1000
    with np.load(checkpoint["args"]["save_rollouts"]) as log:
        assert len(log["truncations"]) == 1024
        assert np.nonzero(log["truncations"])[0].tolist() == [199, 399, 511, 711, 911, 1023]  # 511: cut by the resume


def test_a_larger_budget_continues_with_the_new_learning_rate_schedule(tmp_path, stopped_pendulum):
    """--total-timesteps may grow: the iterations after the checkpoint anneal over the new budget (the
    learning rate a run started with it would have there), those before keep theirs."""
    run_dir = str(copy_run(stopped_pendulum, tmp_path))
    before = read_csv(os.path.join(run_dir, "progress.csv"))[:2]
    ppo_dap.main(ppo_dap.cli(["--resume", run_dir, "--total-timesteps", str(8 * 256)]))
    rows = read_csv(os.path.join(run_dir, "progress.csv"))
    assert len(rows) == 8 and rows[:2] == before
    assert float(rows[2]["charts/learning_rate"]) == pytest.approx(3e-4 * (1 - 2 / 8))  # was 3e-4 * (1 - 2 / 4)
    with open(os.path.join(run_dir, "config.json")) as f:
        config = json.load(f)
    assert config["total_timesteps"] == 8 * 256 and len(config["resumed_by"]) == 1


# ---------------------------------------------------------------- bad input: one sentence, nothing changed
def refused(argv, folder) -> str:
    """Run the resume in this process; assert it stops with one sentence and leaves `folder` as it was."""
    before = files(folder)
    with pytest.raises(SystemExit) as err:
        ppo_dap.main(ppo_dap.cli(argv))
    message = str(err.value)
    assert message.startswith("error: ") and "\n" not in message
    assert files(folder) == before
    return message


def damage(path, how):
    data = bytearray(open(path, "rb").read())
    if how == "truncated":
        data = data[: len(data) - 1000]
    elif how == "corrupted":
        data[len(data) // 2] ^= 0xFF
    elif how == "another file":
        data = bytearray(np.random.default_rng(0).bytes(5000))
    elif how == "another version":
        data = data.replace(ppo_dap.CHECKPOINT_FORMAT.encode(), b"ppo-dap-run-checkpoint/0", 1)
    with open(path, "wb") as f:
        f.write(data)


@pytest.mark.parametrize("how, message", [("truncated", "is damaged"), ("corrupted", "is damaged"),
                                          ("another file", "is not a ppo_dap.py checkpoint"),
                                          ("another version", "another version of ppo_dap.py")])
def test_a_damaged_or_foreign_checkpoint_is_refused(tmp_path, stopped_pendulum, how, message):
    run_dir = str(copy_run(stopped_pendulum, tmp_path))
    damage(os.path.join(run_dir, "checkpoint.pt"), how)
    assert message in refused(["--resume", run_dir], run_dir)


def test_no_checkpoint_a_finished_run_and_other_flags_are_refused(tmp_path, stopped_pendulum):
    run_dir = str(copy_run(stopped_pendulum, tmp_path))
    assert "is not a folder" in refused(["--resume", str(tmp_path / "nothing")], run_dir)
    assert "--seed 2 differs from the run's 1" in refused(["--resume", run_dir, "--seed", "2"], run_dir)
    assert "may only grow" in refused(["--resume", run_dir, "--total-timesteps", "512"], run_dir)
    with open(os.path.join(run_dir, ppo_dap.ROLLOUT_PARTIAL), "r+b") as f:
        f.truncate(100)
    assert "rollout log cannot be continued" in refused(["--resume", run_dir], run_dir)
    os.remove(os.path.join(run_dir, "checkpoint.pt"))
    assert "holds no checkpoint.pt" in refused(["--resume", run_dir], run_dir)
    finished = run(PENDULUM + ["--total-timesteps", "256"], tmp_path, "finished")
    assert "marks a finished run" in refused(["--resume", finished], finished)


def test_a_refusal_on_the_command_line_is_one_line_with_status_1(tmp_path, stopped_pendulum):
    run_dir = str(copy_run(stopped_pendulum, tmp_path))
    damage(os.path.join(run_dir, "checkpoint.pt"), "truncated")
    before = files(run_dir)
    result = subprocess.run([sys.executable, os.path.join(ROOT, "ppo_dap.py"), "--resume", run_dir],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("error: --resume:") and "Traceback" not in result.stderr
    assert files(run_dir) == before


def test_an_output_folder_that_cannot_be_made_is_one_sentence(tmp_path):
    """/proc admits no new folder though it looks writable to root: a probe, not the permission bits."""
    with pytest.raises(SystemExit, match="--runs-dir /proc/no/runs cannot be written") as err:
        ppo_dap.main(ppo_dap.cli(PENDULUM + ["--runs-dir", "/proc/no/runs"]))
    assert "\n" not in str(err.value)
    data = tmp_path / "d.npz"
    np.savez(data, observations=np.zeros((64, 3), np.float32), actions=np.zeros((64, 1), np.float32))
    with pytest.raises(SystemExit, match="--output /proc/no cannot be written"):
        pretrain_prior.main(prior_args(str(data), tmp_path, output="/proc/no/prior.pt"))


# ---------------------------------------------------------------- pretrain_prior.py
@pytest.fixture(scope="module")
def pendulum_data(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "pendulum.npz"
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(600, 3)).astype(np.float32)
    np.savez(path, observations=obs, actions=np.clip(obs[:, :1], -2, 2))
    return str(path)


def test_pretraining_stopped_and_resumed_gives_the_same_prior(tmp_path, pendulum_data, monkeypatch):
    straight = pretrain_prior.main(prior_args(pendulum_data, tmp_path, output=str(tmp_path / "straight.pt"),
                                              checkpoint_every=30))
    data = str(tmp_path / "data.npz")  # a copy of the data, changed below while the pretraining is stopped
    shutil.copy(pendulum_data, data)
    output = str(tmp_path / "resumed.pt")
    calls, step = itertools.count(), pretrain_prior.torch.optim.lr_scheduler.CosineAnnealingLR.step

    def stop_at_update_70(scheduler, *a, **k):  # SIGTERM during update 70: it finishes, checkpoints, exits
        if next(calls) == 70:  # call 0: the scheduler's construction
            os.kill(os.getpid(), signal.SIGTERM)
        return step(scheduler, *a, **k)

    monkeypatch.setattr(pretrain_prior.torch.optim.lr_scheduler.CosineAnnealingLR, "step", stop_at_update_70)
    with pytest.raises(SystemExit) as err:
        pretrain_prior.main(prior_args(data, tmp_path, output=output, checkpoint_every=30))
    assert err.value.code == 143 and not os.path.exists(output)
    checkpoint = pretrain_prior.load_checked(f"{output}.ckpt", pretrain_prior.PRETRAIN_CHECKPOINT_FORMAT, "pretrain_prior.py")
    assert checkpoint["update"] == 70
    monkeypatch.undo()
    with pytest.raises(SystemExit, match="--num-updates 300 differs"):
        pretrain_prior.main(prior_args(data, tmp_path, output=output, num_updates=300, resume=True))
    with np.load(data) as d:
        np.savez(data, observations=d["observations"], actions=-d["actions"])  # same path, other contents
    with pytest.raises(SystemExit, match=f"dataset {data} is not the file the pretraining started on"):
        pretrain_prior.main(prior_args(data, tmp_path, output=output, checkpoint_every=30, resume=True))
    shutil.copy(pendulum_data, data)
    del checkpoint["args"]["last_steps"]  # a checkpoint without this flag resumes: it ran with the default
    pretrain_prior.save_checked(f"{output}.ckpt", checkpoint, pretrain_prior.PRETRAIN_CHECKPOINT_FORMAT)
    pretrain_prior.main(prior_args(data, tmp_path, output=output, checkpoint_every=30, resume=True,
                                   overwrite=True))  # --overwrite may be added on resuming
    assert not os.path.exists(f"{output}.ckpt")
    a, b = pretrain_prior.load_prior(straight), pretrain_prior.load_prior(output)
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    assert a.provenance["heldout_loss"] == b.provenance["heldout_loss"]
