#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The acceptance run, the check before a release: one pipeline of every pipeline type, provisioned over the API,
# followed to its end, checked in AWS (endpoint InService, jobs Completed, schedules Scheduled, image in ECR), then
# torn down; prints a table (PASS/FAIL, what was checked, seconds, what cost money) and exits 0 only if all pass.
#   deployment/acceptance.sh [--local]        local mode in this process (the default; no AWS account needed)
#   deployment/acceptance.sh --endpoint URL --region R --yes-this-is-a-real-account ACCOUNT_ID [--profile P]
#       a deployed orchestrator on a real account: it creates SageMaker endpoints and jobs that cost money
# Other options: `mlops acceptance --help`.
set -euo pipefail

deployment_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deployment/venv.sh
source "$deployment_dir/venv.sh"

real_account=0
for arg in "$@"; do
  case "$arg" in
    --endpoint|--endpoint=*) real_account=1 ;;
  esac
done

if [ "$real_account" = 0 ]; then
  echo "== building the templates"
  "$deployment_dir/build-s3-dist.sh" mlops-local mlops-orchestrator local > "$deployment_dir/.local-build.log" 2>&1 \
    || { cat "$deployment_dir/.local-build.log"; exit 1; }
  tail -n 1 "$deployment_dir/.local-build.log"
  # The emulator only listens on loopback; its clients use fake credentials, never a real account.
  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
  unset AWS_PROFILE AWS_SESSION_TOKEN || true
fi
cd "$deployment_dir/../source"
exec mlops acceptance "$@"
