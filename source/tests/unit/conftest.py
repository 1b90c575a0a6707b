# SPDX-License-Identifier: Apache-2.0
"""Shared scene for the orchestrator's unit tests: moto, the orchestrator's buckets, topic and settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.pipeline_orchestration.adapters import Aws
from lambdas.pipeline_orchestration.catalogue import MULTI_ACCOUNT_PIPELINE, SINGLE_ACCOUNT_PIPELINE
from lambdas.pipeline_orchestration.service import OrchestratorService
from lambdas.pipeline_orchestration.settings import STAGES, Settings, StageTarget
from local.session import create_index_table

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
REGION = "us-east-1"
ACCOUNT = "123456789012"
ASSETS, BLUEPRINTS = "mlops-assets-test", "mlops-blueprints-test"


def example(pipeline_type: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / f"{pipeline_type}.json").read_text())


def stand_in_template(parameters: tuple[str, ...]) -> str:
    """A template declaring the given parameters and one resource moto can create (a log group)."""
    return json.dumps(
        {
            "Parameters": {name: {"Type": "String", "Default": ""} for name in parameters},
            "Resources": {"Marker": {"Type": "AWS::Logs::LogGroup"}},
        }
    )


MONITORED_BY_EXAMPLES = ("churn-xgb-endpoint", "churn-xgb-drift-endpoint", "credit-xgb-endpoint")


def make_settings(multi_account: bool = False, model_registry: bool = False, **overrides: Any) -> Settings:
    targets = None
    if multi_account:
        targets = {s: StageTarget(f"11111111111{i}", f"ou-abcd-{s}0000") for i, s in enumerate(STAGES)}
    values: dict[str, Any] = dict(
        region=REGION,
        account_id=ACCOUNT,
        assets_bucket=ASSETS,
        blueprint_bucket=BLUEPRINTS,
        cfn_role_arn=f"arn:aws:iam::{ACCOUNT}:role/mlops-cloudformation",
        ecr_repo_name="mlops-custom-algorithms",  # the repository the image builder example names
        ecr_repo_arn=f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/mlops-custom-algorithms",
        sns_topic_arn=f"arn:aws:sns:{REGION}:{ACCOUNT}:mlops-notifications",
        multi_account=multi_account,
        model_registry=model_registry,
        stage_targets=targets,
        # The examples' monitors watch endpoints no unit test deploys through a stack: listed, as an operator would.
        allowed_monitored_endpoints=MONITORED_BY_EXAMPLES,
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def aws_scene():
    """moto with the assets (versioned) and blueprints buckets, stand-in blueprint templates and the topic."""
    from lambdas.pipeline_orchestration.catalogue import CATALOGUE

    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (ASSETS, BLUEPRINTS):
            s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=ASSETS, VersioningConfiguration={"Status": "Enabled"})
        blueprints = {b for t in CATALOGUE.values() for b in t.all_blueprints} | {
            SINGLE_ACCOUNT_PIPELINE,
            MULTI_ACCOUNT_PIPELINE,
        }
        for blueprint in blueprints:
            s3.put_object(
                Bucket=BLUEPRINTS,
                Key=f"blueprints/{blueprint.template}",
                Body=stand_in_template(blueprint.parameters).encode(),
            )
        boto3.client("sns", region_name=REGION).create_topic(Name="mlops-notifications")
        boto3.client("ecr", region_name=REGION).create_repository(
            repositoryName=make_settings().ecr_repo_name, imageTagMutability="IMMUTABLE"
        )
        create_index_table(Settings().index_table)
        yield s3


@pytest.fixture
def service(aws_scene) -> OrchestratorService:
    return OrchestratorService(make_settings(), Aws())


@pytest.fixture
def multi_service(aws_scene) -> OrchestratorService:
    return OrchestratorService(make_settings(multi_account=True), Aws())
