# SPDX-License-Identifier: Apache-2.0
"""The custom resource: CloudFormation hears SUCCESS or FAILED (with the job's reason) in every case."""

from __future__ import annotations

import json
import time

import pytest

from lambdas.blueprints import job_resource
from lambdas.shared.aws import client

from .conftest import OUTPUT_BUCKET, sagemaker_backend
from .test_baseline import JOB, props
from .test_training import autopilot_props, training_props

URL = "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/answer?sig=x"


def event(request_type: str, properties: dict[str, str], physical_id: str = "") -> dict:
    body = {
        "RequestType": request_type,
        "ResponseURL": URL,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/mlops-pipeline-x/1",
        "RequestId": "6f1b1a7e-0d0e-4a0e-9a53-1d1b0b1b1b1b",
        "LogicalResourceId": "Baseline013357C7",
        "ResourceType": "Custom::BaselineJob",
        "ResourceProperties": {"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:f", **properties},
    }
    if physical_id:
        body["PhysicalResourceId"] = physical_id
    return body


@pytest.fixture
def waiter(aws, monkeypatch):
    """A state machine in moto for the starter to hand the baseline to."""
    arn = client("stepfunctions").create_state_machine(
        name="waiter",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/states",
    )["stateMachineArn"]
    monkeypatch.setenv("WAITER_STATE_MACHINE_ARN", arn)
    return arn


def test_training_job_is_started_and_reported_at_once(sent, responses):
    job_resource.on_event(event("Create", training_props()))
    assert len(sent["CreateTrainingJob"]) == 1
    assert responses == [
        {
            "url": URL,
            "Status": "SUCCESS",
            "Reason": "SUCCESS",
            "PhysicalResourceId": "churn-training-1a2b",
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/mlops-pipeline-x/1",
            "RequestId": "6f1b1a7e-0d0e-4a0e-9a53-1d1b0b1b1b1b",
            "LogicalResourceId": "Baseline013357C7",
            "NoEcho": False,
            "Data": {"JobName": "churn-training-1a2b"},
        }
    ]


@pytest.mark.parametrize(
    ("kind", "operation"),
    [("HyperparameterTuningJob", "CreateHyperParameterTuningJob"), ("AutopilotJob", "CreateAutoMLJobV2")],
)
def test_tuning_and_autopilot_jobs_are_started(sent, responses, kind, operation):
    from .test_training import TUNER

    # moto's CreateAutoMLJobV2 needs a problem type (SageMaker itself would infer one when it is left out).
    properties = (
        {**training_props(), **TUNER}
        if kind == "HyperparameterTuningJob"
        else autopilot_props(ProblemType="Regression", AutopilotJobObjective="MSE")
    )
    job_resource.on_event(event("Update", {**properties, "JobKind": kind}))
    assert len(sent[operation]) == 1
    assert responses[0]["Status"] == "SUCCESS"


def test_a_bad_request_fails_the_stack_with_the_reason(sent, responses):
    job_resource.on_event(event("Create", training_props(UseSpotInstances="True", MaxWaitTimeForSpotInstances="60")))
    assert responses[0]["Status"] == "FAILED"
    assert "MaxWaitTimeForSpotInstances (60) must exceed MaxRuntimePerJob (86400)" in responses[0]["Reason"]
    assert "CreateTrainingJob" not in sent


def test_an_unknown_kind_fails(aws, responses):
    job_resource.on_event(event("Create", {"JobKind": "Nonsense", "JobName": "x"}))
    assert responses[0]["Status"] == "FAILED"
    assert "JobKind must be one of" in responses[0]["Reason"]


def test_an_unexpected_error_is_still_reported(aws, responses):
    job_resource.on_event(event("Create", {"JobKind": "TrainingJob", "JobName": "x"}))  # properties missing
    assert responses[0]["Status"] == "FAILED"
    assert responses[0]["Reason"].startswith("KeyError")


def test_a_baseline_is_handed_to_the_waiter_without_answering(sent, responses, waiter):
    job_resource.on_event(event("Create", props()))
    assert len(sent["CreateProcessingJob"]) == 1
    assert responses == []  # the waiter answers once the job has finished
    executions = client("stepfunctions").list_executions(stateMachineArn=waiter)["executions"]
    assert len(executions) == 1
    handed = json.loads(client("stepfunctions").describe_execution(executionArn=executions[0]["executionArn"])["input"])
    assert handed["event"]["ResponseURL"] == URL
    assert handed["deadline"] > time.time() + 3000


def test_delete_stops_a_running_baseline_and_succeeds(sent, responses, waiter):
    job_resource.on_event(event("Create", props()))
    sagemaker_backend().processing_jobs[JOB].processing_job_status = "InProgress"
    job_resource.on_event(event("Delete", props(), physical_id=JOB))
    assert sent["StopProcessingJob"] == [{"ProcessingJobName": JOB}]
    assert responses[0]["Status"] == "SUCCESS"
    assert responses[0]["PhysicalResourceId"] == JOB


def test_delete_of_a_training_job_leaves_it_running(sent, responses):
    job_resource.on_event(event("Delete", training_props(), physical_id="churn-training-1a2b"))
    assert "StopTrainingJob" not in sent
    assert responses[0]["Status"] == "SUCCESS"


def _state(deadline_in: float = 600) -> dict:
    return {"event": event("Create", props()), "deadline": time.time() + deadline_in}


def _start_baseline():
    client("sagemaker").create_processing_job(
        ProcessingJobName=JOB,
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}},
        AppSpecification={"ImageUri": "image"},
        RoleArn="arn:aws:iam::123456789012:role/monitor",
    )


def test_poll_keeps_waiting_while_the_job_runs(aws, responses):
    _start_baseline()
    sagemaker_backend().processing_jobs[JOB].processing_job_status = "InProgress"
    assert job_resource.poll(_state())["done"] is False
    assert responses == []


def test_poll_answers_success_once_the_constraints_exist(aws, responses):
    _start_baseline()
    for name in ("constraints.json", "statistics.json"):
        client("s3").put_object(Bucket=OUTPUT_BUCKET, Key=f"baselines/{JOB}/{name}", Body=b"{}")
    assert job_resource.poll(_state())["done"] is True
    assert responses[0]["Status"] == "SUCCESS"
    assert responses[0]["Data"] == {"BaselineJobName": JOB, "BaselineOutput": f"s3://{OUTPUT_BUCKET}/baselines/{JOB}"}


def test_poll_fails_the_stack_with_the_jobs_own_failure_reason(aws, responses):
    _start_baseline()
    job = sagemaker_backend().processing_jobs[JOB]
    job.processing_job_status = "Failed"
    job.failure_reason = "AlgorithmError: Error: Encoding mismatch: baseline.csv is not UTF-8"
    assert job_resource.poll(_state())["done"] is True
    assert responses[0]["Status"] == "FAILED"
    assert responses[0]["Reason"] == (
        f"baseline job {JOB} failed: AlgorithmError: Error: Encoding mismatch: baseline.csv is not UTF-8"
    )


def test_poll_gives_up_at_the_deadline_and_stops_the_job(sent, responses):
    _start_baseline()
    sagemaker_backend().processing_jobs[JOB].processing_job_status = "InProgress"
    assert job_resource.poll(_state(deadline_in=-1))["done"] is True
    assert responses[0]["Status"] == "FAILED"
    assert "was still running after 55 minutes and was stopped" in responses[0]["Reason"]
    assert sent["StopProcessingJob"] == [{"ProcessingJobName": JOB}]


def _client_error(code: str, status: int):
    from botocore.exceptions import ClientError

    return ClientError(
        {"Error": {"Code": code, "Message": f"{code} from SageMaker"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "DescribeProcessingJob",
    )


@pytest.mark.parametrize(
    "transient",
    [ConnectionError("endpoint timed out"), _client_error("ThrottlingException", 400), _client_error("Busy", 503)],
    ids=["connection", "throttled", "unavailable"],
)
def test_poll_retries_a_transient_error_then_reports_it_at_the_deadline(aws, responses, monkeypatch, transient):
    def failing(_spec):
        raise transient

    monkeypatch.setattr(job_resource.baseline, "baseline_finished", failing)
    assert job_resource.poll(_state())["done"] is False
    assert responses == []
    assert job_resource.poll(_state(deadline_in=-1))["done"] is True
    assert responses[0]["Status"] == "FAILED"
    assert str(transient) in responses[0]["Reason"]


@pytest.mark.parametrize(
    "error",
    [KeyError("ProcessingJobStatus"), _client_error("AccessDeniedException", 400)],
    ids=["fault-of-the-code", "refused-by-aws"],
)
def test_poll_fails_at_once_on_an_error_no_retry_mends(aws, responses, monkeypatch, error):
    def failing(_spec):
        raise error

    monkeypatch.setattr(job_resource.baseline, "baseline_finished", failing)
    assert job_resource.poll(_state(deadline_in=3300))["done"] is True
    assert responses[0]["Status"] == "FAILED"
    assert responses[0]["Reason"] == f"cannot read baseline job {JOB}: {type(error).__name__}: {error}"


def test_poll_fails_at_once_when_a_property_is_missing(aws, responses):
    state = _state()
    del state["event"]["ResourceProperties"]["ImageUri"]
    assert job_resource.poll(state)["done"] is True
    assert responses[0]["Status"] == "FAILED"
    assert responses[0]["Reason"] == f"cannot read baseline job {JOB}: KeyError: 'ImageUri'"


def test_a_long_reason_is_cut_to_what_cloudformation_accepts(aws, responses):
    _start_baseline()
    job = sagemaker_backend().processing_jobs[JOB]
    job.processing_job_status = "Failed"
    job.failure_reason = "x" * 10000
    job_resource.poll(_state())
    assert len(responses[0]["Reason"]) == 3000
