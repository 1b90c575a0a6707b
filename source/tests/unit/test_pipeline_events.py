# SPDX-License-Identifier: Apache-2.0
"""`mlops logs` against AWS: a pipeline's stack events, its CodePipeline's action executions and its functions'
log lines, oldest first, in the shape local mode serves."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from local.pipeline_events import action_events, aws_events, function_events

NAME = "mlops-pipeline-churn-byompipelinerealtimebuiltin"
TEMPLATE = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}


@pytest.fixture
def aws():
    with mock_aws():
        yield


def test_stack_events_and_function_lines_of_a_pipeline(aws):
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    cloudformation.create_stack(StackName=f"{NAME}-codepipeline", TemplateBody=json.dumps(TEMPLATE))
    cloudformation.create_stack(StackName=NAME, TemplateBody=json.dumps(TEMPLATE))
    events = aws_events(NAME, None, None, "us-east-1")
    messages = [e["message"] for e in events]
    assert f"{NAME}-codepipeline CREATE_COMPLETE" in messages and f"{NAME} CREATE_COMPLETE" in messages
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)
    assert {e["source"] for e in events} == {"stack"}


def test_an_unknown_pipeline_is_not_found(aws):
    with pytest.raises(LookupError, match="no pipeline named mlops-pipeline-x"):
        aws_events("mlops-pipeline-x", None, None, "us-east-1")


def test_function_log_lines(aws):
    logs = boto3.client("logs", region_name="us-east-1")
    logs.create_log_group(logGroupName="/aws/lambda/deployer")
    logs.create_log_stream(logGroupName="/aws/lambda/deployer", logStreamName="s")
    now = int(datetime.now(UTC).timestamp() * 1000)
    logs.put_log_events(
        logGroupName="/aws/lambda/deployer", logStreamName="s", logEvents=[{"timestamp": now, "message": "started"}]
    )
    lines = function_events(logs, "deployer", datetime(2020, 1, 1, tzinfo=UTC))
    assert [(e["source"], e["message"]) for e in lines] == [("function", "deployer: started")]
    assert function_events(logs, "never-ran", datetime(2020, 1, 1, tzinfo=UTC)) == []


def test_action_executions_with_their_outcome():
    codepipeline = boto3.client("codepipeline", region_name="us-east-1")
    detail = {
        "stageName": "DeployStaging",
        "actionName": "DeployStackSet",
        "status": "Failed",
        "lastUpdateTime": datetime(2026, 1, 1, tzinfo=UTC),
        "output": {"executionResult": {"externalExecutionSummary": "stack instance FAILED"}},
    }
    with Stubber(codepipeline) as stub:
        stub.add_response("list_action_executions", {"actionExecutionDetails": [detail]}, {"pipelineName": "p"})
        events = action_events(codepipeline, "p")
    assert events == [
        {
            "time": "2026-01-01T00:00:00+00:00",
            "stage": "DeployStaging",
            "source": "action",
            "message": "DeployStackSet: Failed stack instance FAILED",
        }
    ]
