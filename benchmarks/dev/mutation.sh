#!/usr/bin/env bash
# Mutation testing of the algorithm: mutmut mutates the algorithmic functions of ppo_dap.py and
# pretrain_prior.py one change at a time and runs the tests that reach each one; a mutant the suite does
# not notice "survives". Runs in a scratch copy so that mutmut's config and its mutants/ folder never
# touch the repository. The mutants run against the test files of the maths; the slow tests of plumbing
# are left out (the learning smoke tests, whose maths the directional tests pin; the tests that start
# subprocesses: signals, resuming; the benchmark tools' tests). The summary is written
# to $work/results.txt (RESULTS.md reads a copy in benchmarks/results/mutation/).
#   bash benchmarks/dev/mutation.sh                 # all the algorithmic functions (about an hour on 2 cores)
#   bash benchmarks/dev/mutation.sh compute_gae     # some of them
#   MUTATION_TESTS="tests/test_prior.py tests/test_directional.py" bash benchmarks/dev/mutation.sh DiffusionPrior
#                                               # against some test files only (a quicker first pass)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=${MUTATION_DIR:-/tmp/ppo_dap_mutation}
rm -rf "$work" && mkdir -p "$work"
cp -r "$repo/ppo_dap.py" "$repo/pretrain_prior.py" "$repo/priors" "$repo/tests" "$work/"
mkdir -p "$work/benchmarks" && cp -r "$repo"/benchmarks/*.py "$repo/benchmarks/dev" "$work/benchmarks/"  # not the runs
maths_tests="tests/test_directional.py tests/test_dap.py tests/test_ppo.py tests/test_prior.py tests/test_gmm_prior.py
  tests/test_theory.py tests/test_learning.py tests/test_reliability.py"
test_lines=$(printf '    %s\n' ${MUTATION_TESTS:-$maths_tests})  # one test path per line, as mutmut reads a list
cat > "$work/setup.cfg" <<CFG
[mutmut]
source_paths=
    ppo_dap.py
    pretrain_prior.py
also_copy=
    priors/
    benchmarks/
pytest_add_cli_args_test_selection=
$test_lines
pytest_add_cli_args=
    -p
    no:cacheprovider
    -k
    not test_signal_stops_a_real_run and not beats_a_random_policy and not speed_tables and not same_numbers and not committed_run_records
CFG
functions=${*:-"compute_gae clipped_policy_loss value_loss Agent RunningMeanStd ObsNormalizer RewardScaler
  LoRALinear Adapter attach_peft advantage_weights QNetwork energy_weights proposal_moments
  imitation_loss kl_loss return_gate anneal dap_step beta_schedule timestep_embedding ActionPrior DiffusionPrior GMMPrior GaussianPrior KNNPrior
  heldout_loss holdout_split mean_episode_return"}
patterns=()
for f in $functions; do
  # mutmut names a function's mutants x_{name}__mutmut_N and a class's xǁ{Class}ǁ{method}__mutmut_N
  patterns+=("ppo_dap.x_${f}__mutmut_*" "ppo_dap.xǁ${f}ǁ*" "pretrain_prior.x_${f}__mutmut_*" "pretrain_prior.xǁ${f}ǁ*")
done
cd "$work"
mutmut run --max-children "${MUTMUT_CHILDREN:-2}" "${patterns[@]}" || true
mutmut results --all true 2>/dev/null | grep -v "not checked" > "$work/results.txt" || true
grep -E ": (survived|timeout|suspicious|no tests)" "$work/results.txt" || true
echo "killed: $(grep -c ': killed' results.txt || true)  survived: $(grep -c ': survived' results.txt || true)  (details: cd $work && mutmut show NAME)"
