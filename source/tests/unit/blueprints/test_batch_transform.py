# SPDX-License-Identifier: Apache-2.0
"""The batch job Lambda (CreateTransformJob) and the custom resource that runs it on deploy."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
import pytest

from lambdas.blueprints import batch_transform, invoke_on_deploy

from .conftest import ACCOUNT, REGION

KMS = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
PROPERTIES = {
    "ModelName": "Model-AbCdEf123456",
    "JobPrefix": "churn-xgb",
    "InstanceType": "ml.m5.large",
    "InputLocation": "input-bucket/batch/customers.csv",
    "OutputLocation": "output-bucket/batch/scored",
    "KmsKeyArn": "",
}


@pytest.fixture
def model(aws) -> str:
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="mlops-pipeline-sm", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    boto3.client("sagemaker", region_name=REGION).create_model(
        ModelName=PROPERTIES["ModelName"],
        ExecutionRoleArn=role,
        PrimaryContainer={"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"},
    )
    return PROPERTIES["ModelName"]


def test_job_name_is_unique_per_request_and_stable_on_retry():
    first = batch_transform.job_name("churn-xgb", "request-1")
    assert first.startswith("churn-xgb-batch-transform-") and len(first) == len("churn-xgb-batch-transform-") + 8
    assert batch_transform.job_name("churn-xgb", "request-1") == first
    assert batch_transform.job_name("churn-xgb", "request-2") != first


def test_job_name_fits_sagemakers_limit_for_the_longest_model_name():
    name = batch_transform.job_name("a" * 30 + "-" + "b" * 32, "request")
    assert len(name) <= 63
    assert "--" not in name


def test_transform_request_reads_csv_lines_and_writes_to_the_output_location():
    request = batch_transform.transform_job_request(PROPERTIES, "job")
    assert request["TransformInput"] == {
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://input-bucket/batch/customers.csv"}},
        "ContentType": "text/csv",
        "SplitType": "Line",
        "CompressionType": "None",
    }
    assert request["TransformOutput"] == {
        "S3OutputPath": "s3://output-bucket/batch/scored",
        "Accept": "text/csv",
        "AssembleWith": "Line",
    }
    assert request["TransformResources"] == {"InstanceType": "ml.m5.large", "InstanceCount": 1}


def test_kms_key_encrypts_output_and_volume():
    request = batch_transform.transform_job_request({**PROPERTIES, "KmsKeyArn": KMS}, "job")
    assert request["TransformOutput"]["KmsKeyId"] == KMS
    assert request["TransformResources"]["VolumeKmsKeyId"] == KMS


def test_handler_starts_the_job_and_reports_its_name_and_output(model):
    answer = batch_transform.handler(
        {"RequestType": "Create", "RequestId": "r-1", "ResourceProperties": PROPERTIES}, None
    )
    name = answer["PhysicalResourceId"]
    assert answer["Data"] == {"JobName": name, "OutputLocation": "s3://output-bucket/batch/scored"}
    job = boto3.client("sagemaker", region_name=REGION).describe_transform_job(TransformJobName=name)
    assert job["ModelName"] == model
    assert job["TransformOutput"]["S3OutputPath"] == "s3://output-bucket/batch/scored"


def test_a_retried_request_does_not_start_a_second_job(model, monkeypatch: pytest.MonkeyPatch):
    first = batch_transform.handler(
        {"RequestType": "Create", "RequestId": "r-1", "ResourceProperties": PROPERTIES}, None
    )
    calls = []
    sagemaker = batch_transform.client("sagemaker")

    def counting(**kwargs: Any):
        calls.append(kwargs["TransformJobName"])
        raise sagemaker.exceptions.ResourceInUse(
            {"Error": {"Code": "ResourceInUse", "Message": "Job already exists"}}, "CreateTransformJob"
        )

    monkeypatch.setattr(sagemaker, "create_transform_job", counting)
    again = batch_transform.handler(
        {"RequestType": "Create", "RequestId": "r-1", "ResourceProperties": PROPERTIES}, None
    )
    assert again == first and calls == [first["PhysicalResourceId"]]


def test_sagemakers_refusal_fails_the_job_with_its_name_and_sagemakers_reason(aws, monkeypatch: pytest.MonkeyPatch):
    from botocore.exceptions import ClientError

    from lambdas.blueprints.custom_resource import JobFailed

    sagemaker = batch_transform.client("sagemaker")

    def refuse(**_: Any):
        raise ClientError(
            {"Error": {"Code": "ValidationException", "Message": "Could not find model"}}, "CreateTransformJob"
        )

    monkeypatch.setattr(sagemaker, "create_transform_job", refuse)
    with pytest.raises(
        JobFailed, match=r"cannot create transform job churn-xgb-batch-transform-\w+: .*Could not find model"
    ):
        batch_transform.handler({"RequestType": "Create", "RequestId": "r", "ResourceProperties": PROPERTIES}, None)


# ---------------------------------------------------------------------------------------------------------
# invoke_on_deploy


class FakeLambda:
    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer, self.calls = answer, []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return self.answer


def _event(request_type: str = "Create", **extra: Any) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "RequestId": "req-1",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
        "LogicalResourceId": "BatchTransformJob",
        "ResponseURL": "https://cloudformation-custom-resource-response.example/put",
        "ResourceProperties": {"ServiceToken": "arn:token", "FunctionName": "job-fn", **PROPERTIES},
        **extra,
    }


@pytest.fixture
def responses(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    class Answer:
        status = 200

        def __enter__(self):
            return self

        def __exit__(self, *_):
            return False

        def read(self):
            return b""

    def fake_urlopen(request, timeout):
        sent.append({"url": request.full_url, "method": request.get_method(), **json.loads(request.data)})
        return Answer()

    monkeypatch.setattr("urllib.request.urlopen", fake_urlopen)
    return sent


def _use(monkeypatch: pytest.MonkeyPatch, fake: FakeLambda) -> None:
    monkeypatch.setattr(invoke_on_deploy, "client", lambda service: fake)


def test_create_runs_the_job_synchronously_and_returns_its_data(monkeypatch, responses):
    fake = FakeLambda(
        {"Payload": io.BytesIO(json.dumps({"PhysicalResourceId": "job-1", "Data": {"JobName": "job-1"}}).encode())}
    )
    _use(monkeypatch, fake)
    invoke_on_deploy.handler(_event(), None)
    call = fake.calls[0]
    assert call["FunctionName"] == "job-fn" and call["InvocationType"] == "RequestResponse"
    payload = json.loads(call["Payload"])
    assert payload["ResourceProperties"] == PROPERTIES  # ServiceToken and FunctionName are not the job's
    assert payload["RequestId"] == "req-1"
    assert responses == [
        {
            "url": "https://cloudformation-custom-resource-response.example/put",
            "method": "PUT",
            "Status": "SUCCESS",
            "Reason": "Job started",
            "PhysicalResourceId": "job-1",
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
            "RequestId": "req-1",
            "LogicalResourceId": "BatchTransformJob",
            "NoEcho": False,
            "Data": {"JobName": "job-1"},
        }
    ]


def test_a_failing_job_fails_the_resource_with_its_message(monkeypatch, responses):
    error = {"errorType": "ValidationException", "errorMessage": "Could not find model Model-AbCdEf123456"}
    _use(monkeypatch, FakeLambda({"FunctionError": "Unhandled", "Payload": io.BytesIO(json.dumps(error).encode())}))
    invoke_on_deploy.handler(_event("Update", PhysicalResourceId="job-0"), None)
    assert responses[0]["Status"] == "FAILED"
    assert responses[0]["Reason"] == "ValidationException: Could not find model Model-AbCdEf123456"
    assert responses[0]["PhysicalResourceId"] == "job-0"


def test_delete_keeps_the_jobs_results_and_calls_nothing(monkeypatch, responses):
    fake = FakeLambda({})
    _use(monkeypatch, fake)
    invoke_on_deploy.handler(_event("Delete", PhysicalResourceId="job-1"), None)
    assert fake.calls == []
    assert responses[0]["Status"] == "SUCCESS" and responses[0]["PhysicalResourceId"] == "job-1"


def test_an_unexpected_error_still_answers_cloudformation(monkeypatch, responses):
    def broken(service):
        raise RuntimeError("no network")

    monkeypatch.setattr(invoke_on_deploy, "client", broken)
    invoke_on_deploy.handler(_event(), None)
    assert responses[0]["Status"] == "FAILED" and "no network" in responses[0]["Reason"]
