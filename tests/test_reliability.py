"""What users do to runs: signals, bad paths, collisions, overwrites, non-finite numbers, wrong files.
Each case checks the one-sentence message (or exit status) and that nothing saved earlier is damaged."""

import glob
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import tyro

import ppo_dap
import pretrain_prior
from pretrain_prior import DiffusionPrior, load_prior, save_prior
from helpers import read_csv, prior_args

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))



def pendulum_args(tmp_path, **kw):
    base = dict(env_id="Pendulum-v1", total_timesteps=512, num_steps=256, num_minibatches=4, update_epochs=1,
                runs_dir=str(tmp_path / "runs"), cuda=False, imitation_coef=0.0)
    base.update(kw)
    return ppo_dap.Args(**base)


def one_sentence(err) -> str:
    message = str(err.value)
    assert message.startswith("error: ") and message.count("\n") == 0
    return message


# ---------------------------------------------------------------- signals, on a real process
@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_stops_a_real_run_and_every_file_is_complete(tmp_path, sig, status):
    rollouts = tmp_path / "rollouts.npz"
    cmd = [sys.executable, os.path.join(ROOT, "ppo_dap.py"), "--env-id", "Pendulum-v1", "--total-timesteps", "200000",
           "--num-steps", "256", "--num-minibatches", "4", "--update-epochs", "1", "--imitation-coef", "0",
           "--no-cuda", "--runs-dir", str(tmp_path / "runs"), "--save-model", "--eval-episodes", "1",
           "--save-rollouts", str(rollouts)]
    # SIG_DFL in the child: a background job (nohup, a test runner in the background) would pass on an
    # ignored SIGINT, and a run keeps ignoring a signal it was started ignoring
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 300  # a loaded machine can take long to import torch and finish an iteration
    while not glob.glob(str(tmp_path / "runs" / "*" / "episodes.csv")) and time.time() < deadline:
        time.sleep(0.2)
    assert glob.glob(str(tmp_path / "runs" / "*" / "episodes.csv")), "the run finished no iteration in 300 s"
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert f"stopped by {signal.Signals(sig).name}" in err and "Traceback" not in err

    (run_dir,) = glob.glob(str(tmp_path / "runs" / "*"))
    progress = read_csv(os.path.join(run_dir, "progress.csv"))
    episodes = read_csv(os.path.join(run_dir, "episodes.csv"))
    assert len(progress) >= 1 and len(episodes) >= 1  # Pendulum: an episode ends every 200 steps
    agent, obs_norm, env_id = ppo_dap.load_model(os.path.join(run_dir, "model.pt"))
    assert env_id == "Pendulum-v1" and agent.actor_mean[0].weight.shape == (64, 3)
    data = np.load(rollouts)
    n = len(data["observations"])
    assert n >= 256 * len(progress)  # at least every finished iteration's transitions
    assert all(len(data[k]) == n for k in ("actions", "rewards", "terminations", "truncations"))
    assert str(data["env_id"]) == "Pendulum-v1" and tuple(data["observation_shape"]) == (3,)
    np.testing.assert_array_equal(data["action_low"], [-2.0])
    np.testing.assert_array_equal(data["action_high"], [2.0])
    assert not glob.glob(str(tmp_path / "**" / "*.tmp"), recursive=True)


# ---------------------------------------------------------------- output paths, checked before training
def test_unwritable_rollout_path_fails_at_once_and_writes_nothing(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    start = time.time()
    with pytest.raises(SystemExit) as err:
        ppo_dap.main(pendulum_args(tmp_path, save_rollouts=str(blocker / "sub" / "x.npz")))
    assert "--save-rollouts" in one_sentence(err) and "cannot be written" in str(err.value)
    assert time.time() - start < 5 and not (tmp_path / "runs").exists()


def test_existing_rollout_file_is_never_overwritten(tmp_path):
    existing = tmp_path / "data.npz"
    existing.write_bytes(b"an earlier dataset")
    with pytest.raises(SystemExit) as err:
        ppo_dap.main(pendulum_args(tmp_path, save_rollouts=str(existing)))
    assert "already exists" in one_sentence(err)
    assert existing.read_bytes() == b"an earlier dataset" and not (tmp_path / "runs").exists()


def test_unwritable_runs_dir_fails_at_once(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as err:
        ppo_dap.main(pendulum_args(tmp_path, runs_dir=str(blocker / "runs")))
    assert "--runs-dir" in one_sentence(err)


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path, monkeypatch):
    clock = iter(1_700_000_000.0 + 1e-5 * i for i in range(100_000))  # both runs start in the same second
    monkeypatch.setattr(ppo_dap.time, "time", lambda: next(clock))
    first = ppo_dap.main(pendulum_args(tmp_path))
    second = ppo_dap.main(pendulum_args(tmp_path))
    assert first != second and second == first + "-2"
    assert len(read_csv(os.path.join(first, "progress.csv"))) == 2
    assert len(read_csv(os.path.join(second, "progress.csv"))) == 2


def test_the_run_records_its_command_without_machine_paths(tmp_path, monkeypatch):
    """config.json keeps the command line with absolute paths cut to file names (benchmark runs call
    the script by its absolute path; committed run records must not carry this machine's paths)."""
    runs = str(tmp_path / "runs")
    monkeypatch.setattr(sys, "argv", [os.path.join(ROOT, "ppo_dap.py"), "--env-id", "Pendulum-v1", "--runs-dir", runs])
    run_dir = ppo_dap.main(pendulum_args(tmp_path))
    with open(os.path.join(run_dir, "config.json")) as f:
        assert json.load(f)["command"] == "ppo_dap.py --env-id Pendulum-v1 --runs-dir runs"


def test_committed_run_records_carry_no_absolute_paths():
    configs = glob.glob(os.path.join(ROOT, "benchmarks", "results", "**", "config.json"), recursive=True)
    assert configs
    for path in configs:
        with open(path) as f:
            command = json.load(f)["command"]
        assert not any(os.path.isabs(word) for word in command.split()), path


# ---------------------------------------------------------------- flags
@pytest.mark.parametrize("kw, message", [
    (dict(imitation_coef=float("nan")), "--imitation-coef must be a finite number, got nan"),
    (dict(kl_coef=float("inf")), "--kl-coef must be a finite number, got inf"),
    (dict(learning_rate=float("nan")), "--learning-rate must be a finite number"),
    (dict(kl_coef=-1.0), "--kl-coef must be zero or positive"),
    (dict(gamma=1.5), r"--gamma must lie in \[0, 1\]"),
    (dict(energy_temperature=0.0), "--energy-temperature must be positive"),
    (dict(prior_anneal_steps=-5), "--prior-anneal-steps must be positive"),
    (dict(target_kl=0.0), "--target-kl must be positive"),
    (dict(eval_every=100, eval_episodes=0), "--eval-every needs --eval-episodes"),
])
def test_bad_numbers_stop_before_anything_is_built(tmp_path, kw, message):
    with pytest.raises(SystemExit, match=message) as err:
        ppo_dap.main(pendulum_args(tmp_path, **kw))
    one_sentence(err)
    assert not (tmp_path / "runs").exists()


def test_choice_flags_list_their_choices_and_refuse_typos(capsys):
    with pytest.raises(SystemExit) as err:
        tyro.cli(ppo_dap.Args, args=["--peft", "qlora"])
    assert err.value.code == 2
    with pytest.raises(SystemExit):
        tyro.cli(ppo_dap.Args, args=["--help"])
    help_text = capsys.readouterr().out
    assert "lora,adapter,none" in help_text.replace(" ", "").replace("{", "").replace("}", "")


# ---------------------------------------------------------------- non-finite values during training
def test_non_finite_loss_stops_the_run_and_keeps_its_logs(tmp_path, monkeypatch):
    monkeypatch.setattr(ppo_dap, "clipped_policy_loss", lambda *a: torch.tensor(float("nan"), requires_grad=True))
    with pytest.raises(SystemExit, match="became non-finite at iteration 1") as err:
        ppo_dap.main(pendulum_args(tmp_path, save_model=True, eval_episodes=0))
    one_sentence(err)
    (run_dir,) = glob.glob(str(tmp_path / "runs" / "*"))
    assert len(read_csv(os.path.join(run_dir, "progress.csv"))) == 1
    assert not os.path.exists(os.path.join(run_dir, "model.pt"))  # a broken model is not saved


# ---------------------------------------------------------------- the offline stage
@pytest.fixture(scope="module")
def pendulum_rollouts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rollouts")
    path = str(folder / "pendulum.npz")
    ppo_dap.main(pendulum_args(folder, total_timesteps=512, save_rollouts=path))
    return path



@pytest.mark.parametrize("kw, message", [
    (dict(num_updates=0), "--num-updates must be positive, got 0"),
    (dict(learning_rate=-1e-3), "--learning-rate must be positive"),
    (dict(checkpoint_every=-1), "--checkpoint-every must be zero or positive, got -1"),
    (dict(last_steps=-1), "--last-steps must be zero or positive, got -1"),
    (dict(holdout_fraction=1.0), r"--holdout-fraction must lie in \(0, 1\), got 1.0"),
    (dict(output="prior.ckpt"), "--output prior.ckpt must name a .pt file"),
    (dict(resume=True), r"--resume: there is no checkpoint .*prior.pt.ckpt to continue"),
])
def test_bad_pretraining_flags_stop_with_one_sentence_before_writing(tmp_path, pendulum_rollouts, kw, message):
    with pytest.raises(SystemExit, match=message) as err:
        pretrain_prior.main(prior_args(pendulum_rollouts, tmp_path, **kw))
    assert str(err.value).count("\n") == 0 and not os.listdir(tmp_path)  # nothing written


def test_pretraining_refuses_to_overwrite_unless_asked(tmp_path, pendulum_rollouts):
    output = tmp_path / "prior.pt"
    output.write_bytes(b"an earlier prior")
    with pytest.raises(SystemExit) as err:
        pretrain_prior.main(prior_args(pendulum_rollouts, tmp_path))
    assert "already exists; pass --overwrite" in one_sentence(err)
    assert output.read_bytes() == b"an earlier prior"
    pretrain_prior.main(prior_args(pendulum_rollouts, tmp_path, overwrite=True))
    assert load_prior(str(output)).env_id == "Pendulum-v1"


def test_pretraining_default_output_is_where_ppo_dap_looks_from_any_folder(tmp_path, pendulum_rollouts, monkeypatch):
    assert ppo_dap.PRIORS_DIR is pretrain_prior.PRIORS_DIR == os.path.join(ROOT, "priors")  # one definition
    monkeypatch.chdir(tmp_path)  # not the scripts' folder
    monkeypatch.setattr(pretrain_prior, "PRIORS_DIR", str(tmp_path / "scripts" / "priors"))  # the folder beside them
    monkeypatch.setattr(ppo_dap, "PRIORS_DIR", pretrain_prior.PRIORS_DIR)
    path = pretrain_prior.main(prior_args(pendulum_rollouts, tmp_path, output=None))
    assert path == str(tmp_path / "scripts" / "priors" / "Pendulum-v1.pt") and load_prior(path).env_id == "Pendulum-v1"
    run_dir = ppo_dap.main(pendulum_args(tmp_path, imitation_coef=1.0, total_timesteps=256, num_steps=256))
    with open(os.path.join(run_dir, "config.json")) as f:
        assert json.load(f)["prior_sha256"] == pretrain_prior.sha256(path)  # ppo_dap.py read that prior by default


def test_dataset_of_another_env_is_refused(tmp_path, pendulum_rollouts):
    with pytest.raises(SystemExit) as err:
        pretrain_prior.main(prior_args(pendulum_rollouts, tmp_path, env_id="InvertedPendulum-v4"))
    assert "was logged on Pendulum-v1, but --env-id is InvertedPendulum-v4" in one_sentence(err)


def test_tiny_dataset_is_refused_before_training(tmp_path):
    path = tmp_path / "two_rows.npz"
    np.savez(path, observations=np.zeros((2, 3), np.float32), actions=np.zeros((2, 1), np.float32))
    with pytest.raises(SystemExit) as err:
        pretrain_prior.main(prior_args(str(path), tmp_path))
    assert "too few transitions (2)" in one_sentence(err) and not (tmp_path / "prior.pt").exists()


def test_non_finite_pretraining_loss_stops_and_writes_nothing(tmp_path, pendulum_rollouts, monkeypatch):
    monkeypatch.setattr(DiffusionPrior, "loss", lambda self, *a, **k: torch.tensor(float("nan"), requires_grad=True))
    with pytest.raises(SystemExit) as err:
        pretrain_prior.main(prior_args(pendulum_rollouts, tmp_path))
    assert "non-finite at update 1" in one_sentence(err) and not (tmp_path / "prior.pt").exists()


def test_non_finite_prior_is_neither_saved_nor_loaded(tmp_path):
    prior = DiffusionPrior(3, 1, num_diffusion_steps=5, hidden_dim=8)
    with torch.no_grad():
        prior.out.weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinite weights"):
        save_prior(str(tmp_path / "nan.pt"), prior, "Pendulum-v1", {})
    assert not (tmp_path / "nan.pt").exists()
    state = {"format": pretrain_prior.PRIOR_FORMAT, "config": dict(prior.config), "env_id": "Pendulum-v1",
             "state_dict": prior.state_dict(), "provenance": {}}
    torch.save(state, tmp_path / "nan.pt")  # as a damaged or hand-made file would be
    with pytest.raises(ValueError, match="holds NaN or infinite weights"):
        load_prior(str(tmp_path / "nan.pt"))
    with pytest.raises(SystemExit) as err:
        ppo_dap.main(pendulum_args(tmp_path, imitation_coef=1.0, prior_path=str(tmp_path / "nan.pt")))
    assert "NaN or infinite" in one_sentence(err)


def test_shipped_priors_record_no_machine_path():
    for path in glob.glob(os.path.join(ROOT, "priors", "*.pt")):
        provenance = load_prior(path).provenance
        assert not os.path.isabs(provenance["dataset"]) and os.sep not in provenance["dataset"], path
        assert "dataset_sha256" in provenance, path
