#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The whole orchestrator on this machine, no AWS account needed: sets up source/.venv, builds the
# templates, starts local mode (an AWS emulator on 127.0.0.1 and the orchestrator's API beside it),
# provisions a sample real-time pipeline, runs it to the end and leaves the API running.
#   deployment/run-local.sh [--port N] [--multi-account] [--model-registry] [--git-repo DIR]
set -euo pipefail

deployment_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deployment/venv.sh
source "$deployment_dir/venv.sh"

echo "== building the templates"
"$deployment_dir/build-s3-dist.sh" mlops-local mlops-orchestrator local > "$deployment_dir/.local-build.log" 2>&1 \
  || { cat "$deployment_dir/.local-build.log"; exit 1; }
tail -n 1 "$deployment_dir/.local-build.log"

# The emulator only listens on loopback; its clients use fake credentials, never a real account.
export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN || true
echo "== starting local mode"
cd "$deployment_dir/../source"
exec mlops local --demo "$@"
