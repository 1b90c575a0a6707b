# SPDX-License-Identifier: Apache-2.0
"""Monitors watch the endpoints this orchestrator deployed, or those AllowedMonitoredEndpoints lists: another
endpoint is a 400 naming endpoint_name (per stage in multi-account mode), before any write."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from lambdas.pipeline_orchestration import index
from lambdas.pipeline_orchestration.adapters import Aws
from lambdas.pipeline_orchestration.service import OrchestratorService
from local.examples import endpoints_outside_pipelines, example_requests
from tests.callers import as_caller
from tests.unit.conftest import REGION, example, make_settings

MONITOR = {**example("byom_data_quality_monitor"), "endpoint_name": "churn-live"}


def _post(service: OrchestratorService, body: dict, dry_run: bool = True) -> tuple[int, dict]:
    event = {"httpMethod": "POST", "resource": "/provisionpipeline", "body": json.dumps({**body, "dry_run": dry_run})}
    response = index.handle(as_caller(event), service)
    return response["statusCode"], json.loads(response["body"])


def _endpoint(name: str, stack: str | None) -> None:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    sagemaker.create_model(
        ModelName=name,
        PrimaryContainer={"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"},
        ExecutionRoleArn="arn:aws:iam::123456789012:role/model",
    )
    variant = {"VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
    tags = [{"Key": "aws:cloudformation:stack-name", "Value": stack}] if stack else []
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name, Tags=tags)


@pytest.fixture
def single(aws_scene) -> OrchestratorService:
    return OrchestratorService(make_settings(allowed_monitored_endpoints=()), Aws())


def test_an_endpoint_a_pipeline_stack_deployed_is_monitored(single):
    _endpoint("churn-live", "mlops-pipeline-churn-xgb-byompipelinerealtimebuiltin")
    status, answer = _post(single, MONITOR)
    assert status == 200, answer


@pytest.mark.parametrize(
    ("stack", "said"), [("payments-prod", "by the stack payments-prod"), (None, "outside CloudFormation")]
)
def test_an_endpoint_the_orchestrator_did_not_deploy_is_a_400_naming_it(single, stack, said):
    _endpoint("churn-live", stack)
    status, answer = _post(single, MONITOR, dry_run=False)
    assert status == 400
    assert [e["field"] for e in answer["errors"]] == ["endpoint_name"]
    assert said in answer["errors"][0]["message"] and "AllowedMonitoredEndpoints" in answer["errors"][0]["message"]
    # Refused before any write: no stack was created.
    assert boto3.client("cloudformation", region_name=REGION).describe_stacks()["Stacks"] == []


def test_an_endpoint_that_does_not_exist_is_a_400_naming_it(single):
    status, answer = _post(single, MONITOR)
    assert status == 400
    assert [e["field"] for e in answer["errors"]] == ["endpoint_name"]
    assert "does not exist" in answer["errors"][0]["message"]


def test_a_listed_endpoint_is_monitored_whoever_deployed_it(aws_scene):
    _endpoint("churn-live", "payments-prod")
    service = OrchestratorService(make_settings(allowed_monitored_endpoints=("churn-live",)), Aws())
    status, answer = _post(service, MONITOR)
    assert status == 200, answer


def test_in_multi_account_mode_the_stage_endpoints_of_the_orchestrators_pipelines_are_monitored(aws_scene):
    service = OrchestratorService(make_settings(multi_account=True, allowed_monitored_endpoints=()), Aws())
    realtime = json.loads(
        (Path(__file__).resolve().parents[2] / "examples/multi_account/byom_realtime_builtin.json").read_text()
    )
    status, answer = _post(service, realtime, dry_run=False)
    assert status == 200, answer
    monitor = {**MONITOR, "endpoint_name": {"dev": "churn-dev", "staging": "churn-stg", "prod": "churn-prd"}}
    status, answer = _post(service, monitor)
    assert status == 200, answer
    status, answer = _post(service, {**monitor, "endpoint_name": {**monitor["endpoint_name"], "prod": "payments"}})
    assert status == 400
    assert [e["field"] for e in answer["errors"]] == ["endpoint_name.prod"]
    assert "no real-time pipeline of this orchestrator deploys in the prod account" in answer["errors"][0]["message"]


def test_local_mode_lists_the_endpoints_it_serves_for_the_monitor_examples_and_no_deployed_one():
    served = endpoints_outside_pipelines(example_requests().values())
    # credit-xgb-endpoint and the drift example's endpoint stand for endpoints run outside the orchestrator;
    # churn-xgb-endpoint is deployed by the real-time example, so the orchestrator's own check applies to it.
    assert "credit-xgb-endpoint" in served and "churn-xgb-drift-endpoint" in served
    assert "churn-xgb-endpoint" not in served
