#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The test command: sets up source/.venv on a fresh machine (pinned dependencies), then runs lint, type
# checks and every test tier (unit, infrastructure, e2e, then the fuzz tier). Extra arguments go to the first pytest.
set -euo pipefail

deployment_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source_dir="$(cd "$deployment_dir/../source" && pwd)"
# shellcheck source=deployment/venv.sh
source "$deployment_dir/venv.sh"

cd "$source_dir"
# Fake credentials and a region: no test may reach a real AWS endpoint.
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
export AWS_SECURITY_TOKEN=testing AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
unset AWS_PROFILE AWS_ENDPOINT_URL || true
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION=1 JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1

started=$SECONDS
# checkov, the security scan of the infrastructure tier, lives in its own virtualenv (its pins clash with ours).
# Its set-up (a pip install on a fresh machine) runs meanwhile; checkov.sh holds a lock, so the scan waits for it.
checkov_log="$(mktemp)"
"$deployment_dir/checkov.sh" >"$checkov_log" 2>&1 &
checkov_setup=$!
echo "== ruff"
ruff check .
ruff format --check .
echo "== mypy (Lambda code)"
mypy
# Three workers on two cores: the end-to-end tier mostly waits on local mode's clock, so a third worker fills the
# waits (measured: 332 s with three, 372 s with two, 351 s with four).
echo "== pytest (workers: ${MLOPS_TEST_WORKERS:-3}; the slowest tests listed at the end)"
# loadgroup: a module sharing a local-mode scene or a moto server runs whole on one worker; the order is the one
# tests/conftest.py sets (the tests that need no synthesis first), not xdist's largest group first.
pytest -n "${MLOPS_TEST_WORKERS:-3}" --dist loadgroup --no-loadscope-reorder --durations=25 "$@"
if ! wait "$checkov_setup"; then
  cat "$checkov_log" >&2
  echo "the checkov virtualenv could not be set up" >&2
  exit 1
fi
rm -f "$checkov_log"
# Seeded and bounded (about 20 s): AWS's faults injected into the orchestrator's own calls; prints its figures.
echo "== faults (throttling, 5xx, dropped connections, lost answers, dropped events; seeded)"
MLOPS_FAULTS=1 pytest -q -s tests/faults
# One worker, on purpose: schemathesis' strategies built on two threads at once can hit Python 3.11's shared ast
# recursion counter.
echo "== fuzz (schemathesis against local mode with openapi.json, bounded)"
MLOPS_FUZZ=1 pytest tests/fuzz
echo "== the test command took $((SECONDS - started)) s"
