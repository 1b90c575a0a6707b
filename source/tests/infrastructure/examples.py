# SPDX-License-Identifier: Apache-2.0
"""One request body per pipeline type (the files in source/examples/) and the settings to plan them."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from lambdas.pipeline_orchestration.catalogue import CATALOGUE, NON_REGISTRY_ONLY
from lambdas.pipeline_orchestration.settings import STAGES, Settings, StageTarget

ACCOUNT = "123456789012"
REGION = "us-east-1"
PACKAGE = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/churn-models/3"

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
# The request examples users read (source/examples/), without their pipeline_type.
EXAMPLES: dict[str, dict[str, Any]] = {
    path.stem: {k: v for k, v in json.loads(path.read_text()).items() if k != "pipeline_type"}
    for path in sorted(EXAMPLES_DIR.glob("*.json"))
}
# The types that deploy a model, from the registry or from an artifact and image.
INFERENCE_TYPES = tuple(t.name for t in CATALOGUE.values() if t.field("model_package_name"))
# Every pipeline type in both account modes, and with the model registry where the type deploys a model.
MODES = [
    (name, multi, registry)
    for name, multi, registry in itertools.product(sorted(CATALOGUE), (False, True), (False, True))
    if registry is False or name in INFERENCE_TYPES
]


def settings(multi_account: bool = False, model_registry: bool = False) -> Settings:
    return Settings(
        region=REGION,
        account_id=ACCOUNT,
        assets_bucket="mlops-assets",
        blueprint_bucket="mlops-blueprints",
        ecr_repo_name="mlops-custom-algorithms",
        ecr_repo_arn=f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/mlops-custom-algorithms",
        sns_topic_arn=f"arn:aws:sns:{REGION}:{ACCOUNT}:mlops-notifications",
        permissions_boundary_arn=f"arn:aws:iam::{ACCOUNT}:policy/mlops-orchestrator-PermissionsBoundary",
        multi_account=multi_account,
        model_registry=model_registry,
        stage_targets={
            stage: StageTarget(f"{index + 2}" * 12, f"ou-ab12-{stage}0000000") for index, stage in enumerate(STAGES)
        }
        if multi_account
        else None,
    )


def body(pipeline_type: str, model_registry: bool = False) -> dict[str, Any]:
    """The example request; with the registry the model fields give way to a model package."""
    values = dict(EXAMPLES[pipeline_type])
    if model_registry and pipeline_type in INFERENCE_TYPES:
        values = {k: v for k, v in values.items() if k not in NON_REGISTRY_ONLY}
        values["model_package_name"] = PACKAGE
    return {"pipeline_type": pipeline_type, **values}
