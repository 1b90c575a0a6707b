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

echo "== ruff"
ruff check .
ruff format --check .
echo "== mypy (Lambda code)"
mypy
# checkov, the security scan of the infrastructure tier, lives in its own virtualenv (its pins clash with ours).
echo "== checkov virtualenv"
"$deployment_dir/checkov.sh"
echo "== pytest"
pytest "$@"
echo "== fuzz (schemathesis against local mode with openapi.json, bounded)"
MLOPS_FUZZ=1 pytest tests/fuzz
