#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Run checkov, pinned in source/requirements-checkov.lock, from its own virtualenv source/.venv-checkov (its pins
# clash with source/requirements.lock): created on first use, reinstalled when the lock changes.
# Usage: deployment/checkov.sh [checkov arguments]   (with no arguments it only sets the virtualenv up)
set -euo pipefail

source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../source" && pwd)"
lock="$source_dir/requirements-checkov.lock"
venv="$source_dir/.venv-checkov"
# One set-up at a time: the test command starts it in the background while a scan may already be waiting.
mkdir -p "$source_dir/.cache"
exec {setup_lock}>"$source_dir/.cache/checkov-setup.lock"
flock "$setup_lock"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
stamp="$venv/.installed-$(sha256sum "$lock" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$lock"
  rm -f "$venv"/.installed-*
  touch "$stamp"
fi
flock --unlock "$setup_lock"
exec {setup_lock}>&-
if [ "$#" -gt 0 ]; then
  # Offline: no guideline download, no update check.
  export CKV_SKIP_PACKAGE_UPDATE_CHECK=true BC_SKIP_MAPPING=TRUE
  exec "$venv/bin/checkov" --skip-download "$@"
fi
