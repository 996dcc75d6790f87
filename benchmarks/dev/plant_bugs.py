"""Plant plausible bugs in a scratch copy, one at a time, and report which test catches each. Nothing in
the repository is changed.

    python benchmarks/dev/plant_bugs.py                 # every bug class
    python benchmarks/dev/plant_bugs.py GAE knn         # those whose name contains one of the words
"""

import os
import shutil
import subprocess
import sys
import tempfile

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUGS = [
 ("policy-gradient sign flipped", "ppo_dap.py", "    return torch.max(pg_loss1, pg_loss2).mean()", "    return -torch.max(pg_loss1, pg_loss2).mean()"),
 ("torch.min for torch.max in the clipped objective", "ppo_dap.py", "    return torch.max(pg_loss1, pg_loss2).mean()", "    return torch.min(pg_loss1, pg_loss2).mean()"),
 ("truncation not bootstrapped", "ppo_dap.py", "                next_values[step, torch.as_tensor(truncated_only, device=device)] = final_values.flatten()", "                pass"),
 ("value clip around the returns", "ppo_dap.py", "    v_clipped = oldvalue + torch.clamp(newvalue - oldvalue, -clip_coef, clip_coef)", "    v_clipped = returns + torch.clamp(newvalue - returns, -clip_coef, clip_coef)"),
 ("pretraining LR schedule never steps", "pretrain_prior.py", "            scheduler.step()\n", "            pass\n"),
 ("weighted loss ignores its weights", "pretrain_prior.py", "        return (weights * per_sample).sum() / weights.sum()", "        return per_sample.mean()"),
 ("PEFT optimiser never steps", "ppo_dap.py", "            peft_optimizer.step()", "            pass"),
 ("Q optimiser never steps", "ppo_dap.py", "        q_optimizer.step()", "        pass"),
 ("prior fed normalised observations", "ppo_dap.py", "        proposals = prior.sample(b_raw_obs[dap_idx],", "        proposals = prior.sample(b_obs[dap_idx],"),
 ("prior (PEFT) fed normalised observations", "ppo_dap.py", "            peft_loss = prior.loss(b_raw_obs[idx], b_env_actions[idx], peft_w[idx])", "            peft_loss = prior.loss(b_obs[idx], b_env_actions[idx], peft_w[idx])"),
 ("imitation pairs a state with another state's proposals", "ppo_dap.py", "    return DAPTargets(dap_obs, proposals, weights, mean, var, log)", "    return DAPTargets(dap_obs, proposals.roll(1, 0), weights, mean, var, log)"),
 ("tau not in advantage units", "ppo_dap.py", "        weights = energy_weights(q_proposals, args.energy_temperature * b_advantages.std())", "        weights = energy_weights(q_proposals, args.energy_temperature)"),
 ("Q_phi fitted to advantages", "ppo_dap.py", "        q_loss = ((qf(b_obs[idx], b_env_actions[idx]) - b_returns[idx]) ** 2).mean()", "        q_loss = ((qf(b_obs[idx], b_env_actions[idx]) - b_advantages[idx]) ** 2).mean()"),
 ("PEFT pairs states with other actions", "ppo_dap.py", "            peft_loss = prior.loss(b_raw_obs[idx], b_env_actions[idx], peft_w[idx])", "            peft_loss = prior.loss(b_raw_obs[idx], b_env_actions[np.roll(idx, 1)], peft_w[idx])"),
 # the rollout's fast path, the normalisers, RPO and retrieval
 ("GAE recursion cut at terminations only", "ppo_dap.py", "        lastgaelam = delta + gamma * gae_lambda * (1.0 - dones_[t]) * lastgaelam", "        lastgaelam = delta + gamma * gae_lambda * (1.0 - terminations_[t]) * lastgaelam"),
 ("running variance divided by n - 1", "ppo_dap.py", "        batch_var = ((x - batch_mean) ** 2).sum(axis=0) / batch_count", "        batch_var = ((x - batch_mean) ** 2).sum(axis=0) / max(batch_count - 1, 1)"),
 ("the rollout's log-prob forgets log sigma", "ppo_dap.py", " - action_std.log() - LOG_SQRT_2PI", " - LOG_SQRT_2PI"),
 ("the rollout acts with the mean", "ppo_dap.py", "        action = torch.normal(action_mean, action_std)", "        action = action_mean.clone()"),
 ("RPO never perturbs", "ppo_dap.py", "        elif self.rpo_alpha > 0:", "        elif self.rpo_alpha < 0:"),
 ("knn proposes the farthest states", "pretrain_prior.py", "topk(k, dim=1, largest=False)", "topk(k, dim=1, largest=True)"),
 ("the (d) rows of a minibatch misaligned (its proposals rolled)", "ppo_dap.py",
  "im_loss = imitation_loss(dap_dist, dap.proposals[mb_dap], dap.weights[mb_dap])",
  "im_loss = imitation_loss(dap_dist, dap.proposals[np.roll(mb_dap, 1)], dap.weights[mb_dap])"),
]
SELECTED = [b for b in BUGS if not sys.argv[1:] or any(w.lower() in b[0].lower() for w in sys.argv[1:])]
for name, f, old, new in SELECTED:
    work = os.path.join(tempfile.mkdtemp(), "repo")
    shutil.copytree(SRC, work, ignore=shutil.ignore_patterns(".git", "runs", "results", "data", "__pycache__"))
    text = open(os.path.join(work, f)).read()
    assert text.count(old) == 1, (name, text.count(old))
    open(os.path.join(work, f), "w").write(text.replace(old, new))
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "tests/test_directional.py",
                        "tests/test_dap.py", "tests/test_ppo.py", "tests/test_prior.py", "tests/test_learning.py"],
                       cwd=work, capture_output=True, text=True)
    failed = [l for l in r.stdout.splitlines() if l.startswith("FAILED")]
    print(f"{name}: {'CAUGHT by ' + failed[0].split(' - ')[0][7:] if r.returncode else 'NOT CAUGHT'}", flush=True)
    shutil.rmtree(os.path.dirname(work))
