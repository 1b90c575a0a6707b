#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build the distributable solution: synthesize every stack once (no Docker, no AWS credentials) and package
#   deployment/global-s3-assets/    the two orchestrator templates
#   deployment/regional-s3-assets/  the blueprint templates, blueprints.zip, the Lambda zips and monitoring_engine/
#                                   (the open monitoring engine's wheel and the pinned wheels it needs)
# with every asset location pointing at s3://DIST_BUCKET-<region>/SOLUTION_NAME/VERSION/.
#
# Usage: deployment/build-s3-dist.sh DIST_BUCKET SOLUTION_NAME VERSION
#   MLOPS_CDK_OUT=DIR  package an already synthesized cloud assembly instead of synthesizing again
#                      (it must have been synthesized for the same DIST_BUCKET, SOLUTION_NAME and VERSION).
#   MLOPS_BUILD_DIR=DIR write global-s3-assets/ and regional-s3-assets/ under DIR (default: deployment/).
#   MLOPS_ENGINE_WHEELS=DIR  take the monitoring engine's pinned wheels from DIR instead of downloading them
#                      (source/infrastructure/build/engine_requirements.txt; for a build without network access).
set -euo pipefail

if [ "$#" -ne 3 ]; then
  echo "Usage: $0 DIST_BUCKET SOLUTION_NAME VERSION" >&2
  echo "  e.g. $0 my-dist-bucket mlops-orchestrator v0.1.0" >&2
  exit 64
fi

deployment_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source_dir="$(cd "$deployment_dir/../source" && pwd)"
# shellcheck source=deployment/venv.sh
source "$deployment_dir/venv.sh"

build_dir="${MLOPS_BUILD_DIR:-$deployment_dir}"
export DIST_BUCKET="$1" SOLUTION_NAME="$2" VERSION="$3"
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION=1 JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1
cd "$source_dir"

if [ -n "${MLOPS_CDK_OUT:-}" ]; then
  cdk_out="$MLOPS_CDK_OUT"
  echo "== packaging the cloud assembly in $cdk_out"
else
  cdk_out="$deployment_dir/staging/cdk.out"
  rm -rf "$cdk_out"
  echo "== synthesizing every stack into $cdk_out (cdk-nag's AwsSolutions pack runs once over the whole app)"
  started=$SECONDS
  CDK_OUTDIR="$cdk_out" python app.py
  echo "synthesized in $((SECONDS - started)) s"
fi

if [ -n "${MLOPS_ENGINE_WHEELS:-}" ]; then
  engine_wheels="$MLOPS_ENGINE_WHEELS"
else
  engine_wheels="$deployment_dir/staging/engine-wheels"
  rm -rf "$engine_wheels"
  echo "== downloading the monitoring engine's pinned wheels for AWS's scikit-learn processing image"
  python -m infrastructure.build.engine_bundle "$engine_wheels"
fi

echo "== packaging for s3://$DIST_BUCKET-<region>/$SOLUTION_NAME/$VERSION/"
started=$SECONDS
python -m infrastructure.build.package \
  --cdk-out "$cdk_out" --bucket "$DIST_BUCKET" --solution "$SOLUTION_NAME" --version "$VERSION" \
  --global-dir "$build_dir/global-s3-assets" --regional-dir "$build_dir/regional-s3-assets" \
  --engine-wheels "$engine_wheels"
echo "packaged in $((SECONDS - started)) s"
