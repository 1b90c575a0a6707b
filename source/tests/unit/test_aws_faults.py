# SPDX-License-Identifier: Apache-2.0
"""The orchestrator under AWS's faults: throttling, 5xx, dropped connections and lost answers injected into its
own calls (a botocore before-send handler), against moto."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from lambdas.pipeline_orchestration import index
from lambdas.pipeline_orchestration.adapters import Aws
from lambdas.pipeline_orchestration.service import OrchestratorService
from lambdas.shared.aws import ATTEMPTS_PER_CALL, client
from tests.callers import as_caller
from tests.faults.injector import DROP, LOST_ANSWER, SERVER_ERROR, THROTTLE, Injector, Rule, injected
from tests.unit.conftest import ASSETS, example, make_settings

REALTIME = "mlops-pipeline-churn-xgb-byompipelinerealtimebuiltin"
PREFIX = f"mlops_provisioned_pipelines/{REALTIME}/"


def post(service: OrchestratorService, body: dict) -> tuple[int, dict, dict]:
    event = {"httpMethod": "POST", "resource": "/provisionpipeline", "body": json.dumps(body)}
    response = index.handle(as_caller(event), service)
    return response["statusCode"], json.loads(response["body"]), response["headers"]


def describe(service: OrchestratorService, name: str) -> dict:
    event = {"httpMethod": "GET", "resource": "/pipelines/{pipeline_name}", "pathParameters": {"pipeline_name": name}}
    response = index.handle(as_caller(event), service)
    assert response["statusCode"] == 200, response["body"]
    return json.loads(response["body"])


def versions(s3, key: str) -> list[dict]:
    return s3.list_object_versions(Bucket=ASSETS, Prefix=PREFIX + key).get("Versions", [])


def test_a_throttle_that_outlasts_the_retries_is_a_503_naming_the_call_with_retry_after(service):
    with injected(Injector([Rule(THROTTLE, "cloudformation", operation="DescribeStacks")])) as faults:
        status, body, headers = post(service, example("byom_realtime_builtin"))
    assert status == 503, body
    assert headers["Retry-After"] == "5"
    assert "cloudformation:DescribeStacks" in body["detailedMessage"]
    assert "Throttling" in body["detailedMessage"] and f"after {ATTEMPTS_PER_CALL} attempts" in body["detailedMessage"]
    assert faults.calls["cloudformation:DescribeStacks"] == ATTEMPTS_PER_CALL


def test_a_5xx_of_s3_on_the_request_write_is_a_503_and_leaves_nothing(service, aws_scene):
    with injected(Injector([Rule(SERVER_ERROR, "s3", operation="PutObject")])):
        status, body, headers = post(service, example("byom_realtime_builtin"))
    assert (status, headers.get("Retry-After")) == (503, "5"), body
    assert "s3:PutObject" in body["detailedMessage"]
    assert versions(aws_scene, "") == []


def test_a_dropped_connection_is_a_502_naming_the_service_and_call(service):
    with injected(Injector([Rule(DROP, "dynamodb")])):
        event = {"httpMethod": "GET", "resource": "/pipelines", "queryStringParameters": None}
        response = index.handle(as_caller(event), service)
    body = json.loads(response["body"])
    assert response["statusCode"] == 502, body
    assert "dynamodb:" in body["detailedMessage"] and "ConnectionClosedError" in body["detailedMessage"]
    assert response["headers"]["Retry-After"] == "5"


def test_a_lost_answer_to_the_template_write_keeps_the_history(service, aws_scene):
    """The SDK sends the conditional put again, meets PreconditionFailed, and finds its own bytes: success."""
    rule = Rule(LOST_ANSWER, "s3", operation="PutObject", times=2)  # request.json's answer, then template.zip's
    with injected(Injector([rule])) as faults:
        status, body, _ = post(service, example("byom_realtime_builtin"))
    assert faults.count(LOST_ANSWER) == 2
    assert status == 200 and body["message"] == "success: stack creation started", body
    assert len(versions(aws_scene, "request.json")) == 1  # the retried put wrote no second version
    assert len(versions(aws_scene, "template.zip")) == 1
    described = describe(service, REALTIME)
    assert described["request"]["model_name"] == example("byom_realtime_builtin")["model_name"]
    status, again, _ = post(service, example("byom_realtime_builtin"))
    assert again["message"].endswith("No updates are to be performed.")


def test_a_lost_create_stack_answer_still_answers_created(service, aws_scene):
    with injected(Injector([Rule(LOST_ANSWER, "cloudformation", operation="CreateStack", times=1)])) as faults:
        status, body, _ = post(service, example("byom_realtime_builtin"))
    assert faults.count(LOST_ANSWER) == 1
    assert (status, body["message"]) == (200, "success: stack creation started"), body
    stacks = boto3.client("cloudformation", region_name="us-east-1").describe_stacks()["Stacks"]
    assert [s["StackName"] for s in stacks] == [f"{REALTIME}-codepipeline"]


def test_an_identical_image_builder_re_post_writes_no_history(service, aws_scene):
    body = example("byom_image_builder")
    history = "mlops_provisioned_pipelines/mlops-pipeline-sklearn-v4-byompipelineimagebuilder/request.json"
    assert post(service, body)[0] == 200
    assert post(service, body)[0] == 200
    assert len(aws_scene.list_object_versions(Bucket=ASSETS, Prefix=history)["Versions"]) == 1
    changed = {**body, "custom_algorithm_docker": "containers/v2.zip"}
    assert post(service, changed)[0] == 200
    assert len(aws_scene.list_object_versions(Bucket=ASSETS, Prefix=history)["Versions"]) == 2


def test_retries_do_not_stop_after_a_burst_of_faults(service):
    """Each request starts with a full retry budget: a burst of 5xx in one request costs the next none."""
    with injected(Injector([Rule(SERVER_ERROR, "cloudformation", operation="DescribeStacks")])) as faults:
        for _ in range(60):  # 60 calls x 3 retries each: far beyond the SDK's process-wide quota
            post(service, example("byom_realtime_builtin"))
        faults.calls.clear()
        status, body, _ = post(service, example("byom_realtime_builtin"))
    assert status == 503
    assert faults.calls["cloudformation:DescribeStacks"] == ATTEMPTS_PER_CALL, body


def test_clients_try_each_call_four_times_in_all():
    assert client("s3").meta.config.retries["total_max_attempts"] == ATTEMPTS_PER_CALL == 4


def test_the_injector_reaches_clients_made_by_the_lambda_code_only(aws_scene):
    """The tests' own clients are not faulted; the Lambda code's are (including sessions it makes itself)."""
    with injected(Injector([Rule(THROTTLE, "s3")])) as faults:
        aws_scene.list_buckets()
        boto3.client("s3", region_name="us-east-1").list_buckets()
        assert faults.calls == {}
        with pytest.raises(ClientError, match="SlowDown"):
            Aws().storage.head(ASSETS, "x")  # the adapter's client is the Lambda code's
    assert faults.calls["s3:HeadObject"] == ATTEMPTS_PER_CALL


def test_an_unchanged_service_setting_keeps_answers_for_other_failures(service):
    """A refusal that is the caller's (an unknown pipeline) stays a 4xx, untouched by the mapping."""
    service = OrchestratorService(make_settings(), Aws())
    event = {"httpMethod": "GET", "resource": "/pipelines/{pipeline_name}", "pathParameters": {"pipeline_name": "x"}}
    assert index.handle(as_caller(event), service)["statusCode"] == 404
