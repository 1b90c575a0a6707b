# SPDX-License-Identifier: Apache-2.0
"""The StackSet deployer Lambda against moto's CloudFormation, S3 and Organizations."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any

import boto3
import pytest
from moto.cloudformation.models import cloudformation_backends

from lambdas.blueprints import stackset_deployer as deployer_module
from lambdas.blueprints.stackset_deployer import Outcome, StackSetDeployer, run_job

from .conftest import ACCOUNT, REGION

NAME = "mlops-pipeline-churn-xgb-byompipelinerealtimebuiltin-dev-1a2b3c4d"
TEMPLATE = json.dumps(
    {
        "Parameters": {"ModelName": {"Type": "String"}},
        "Resources": {"Marker": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {"Model": {"Value": {"Ref": "ModelName"}}},
    }
)


@pytest.fixture
def organization(aws) -> dict[str, str]:
    org = boto3.client("organizations", region_name=REGION)
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    ou = org.create_organizational_unit(ParentId=root, Name="dev")["OrganizationalUnit"]["Id"]
    account = org.create_account(AccountName="dev", Email="dev@example.com")["CreateAccountStatus"]["AccountId"]
    org.move_account(AccountId=account, SourceParentId=root, DestinationParentId=ou)
    return {"ou": ou, "account": account}


SOURCE_KEY = "mlops_provisioned_pipelines/mlops-pipeline-churn-xgb-byompipelinerealtimebuiltin/template.zip"


def _artifact(parameters: dict[str, str], template: str = TEMPLATE) -> tuple[str, str]:
    """The pipeline's artifact, and the template.zip version it was copied from with the orchestrator's hash."""
    s3 = deployer_module.client("s3")
    if "mlops-assets" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket="mlops-assets")
    s3.put_bucket_versioning(Bucket="mlops-assets", VersioningConfiguration={"Status": "Enabled"})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("byom_realtime_inference_pipeline.yaml", template)
        archive.writestr(
            "dev_template_params.json",
            json.dumps([{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()]),
        )
    digest = hashlib.sha256(buffer.getvalue()).hexdigest()
    s3.put_object(Bucket="mlops-assets", Key=SOURCE_KEY, Body=buffer.getvalue(), Metadata={"content-sha256": digest})
    s3.put_object(Bucket="mlops-assets", Key="artifacts/source.zip", Body=buffer.getvalue())
    return "mlops-assets", "artifacts/source.zip"


def _pinned_version() -> str:
    """The template.zip version a source stage would pin now (none before the first write)."""
    s3 = deployer_module.client("s3")
    if "mlops-assets" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        return ""
    versions = s3.list_object_versions(Bucket="mlops-assets", Prefix=SOURCE_KEY).get("Versions", [])
    return next((v["VersionId"] for v in versions if v["IsLatest"]), "")


def _job(organization: dict[str, str], token: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    user_parameters = {
        "stackset_name": NAME,
        "artifact": "Artifact_Source_S3Source",
        "template_file": "byom_realtime_inference_pipeline.yaml",
        "stage_params_file": "dev_template_params.json",
        "account_ids": [organization["account"]],
        "org_ids": [organization["ou"]],
        "regions": [REGION],
        "template_url": "https://mlops-blueprints.s3.us-east-1.amazonaws.com/blueprints/x.yaml",
        "source_bucket": "mlops-assets",
        "source_key": SOURCE_KEY,
        **overrides,
    }
    data: dict[str, Any] = {
        "actionConfiguration": {"configuration": {"UserParameters": json.dumps(user_parameters)}},
        "inputArtifacts": [
            {
                "name": "Artifact_Source_S3Source",
                "revision": _pinned_version(),
                "location": {
                    "type": "S3",
                    "s3Location": {"bucketName": "mlops-assets", "objectKey": "artifacts/source.zip"},
                },
            }
        ],
        "artifactCredentials": {"accessKeyId": "a", "secretAccessKey": "b", "sessionToken": "c"},
    }
    if token is not None:
        data["continuationToken"] = json.dumps(token)
    return {"id": "job-1", "data": data}


class Recording:
    """A CloudFormation client that records the CallAs of every call it passes on to moto."""

    def __init__(self, real: Any) -> None:
        self.real, self.call_as = real, []
        self.exceptions = real.exceptions

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.real, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            if "CallAs" in kwargs:
                self.call_as.append((name, kwargs["CallAs"]))
            return method(*args, **kwargs)

        return call


def _cfn() -> Any:
    # One client per test: creating boto3 clients is the slow part of these tests.
    return deployer_module.client("cloudformation")


def _deploy_to_end(job: dict[str, Any], deployer: StackSetDeployer) -> list[Outcome]:
    outcomes = [run_job(job, deployer)]
    while outcomes[-1].state == "continue":
        job = {**job, "data": {**job["data"], "continuationToken": json.dumps(outcomes[-1].token)}}
        outcomes.append(run_job(job, deployer))
        assert len(outcomes) < 5
    return outcomes


def test_first_run_creates_a_service_managed_stackset_and_deploys_the_stage_account(organization):
    _artifact({"ModelName": "churn-xgb"})
    outcomes = _deploy_to_end(_job(organization), StackSetDeployer(_cfn(), "SELF"))
    assert [o.state for o in outcomes] == ["continue", "succeeded"]
    assert "create started" in outcomes[0].message
    stack_set = _cfn().describe_stack_set(StackSetName=NAME)["StackSet"]
    assert stack_set["PermissionModel"] == "SERVICE_MANAGED"
    assert stack_set["Parameters"] == [{"ParameterKey": "ModelName", "ParameterValue": "churn-xgb"}]
    instance = _cfn().describe_stack_instance(
        StackSetName=NAME, StackInstanceAccount=organization["account"], StackInstanceRegion=REGION
    )["StackInstance"]
    assert instance["StackInstanceStatus"]["DetailedStatus"] == "SUCCEEDED"


def test_a_later_run_updates_the_stackset_with_the_new_parameters(organization):
    _artifact({"ModelName": "churn-xgb"})
    _deploy_to_end(_job(organization), StackSetDeployer(_cfn(), "SELF"))
    _artifact({"ModelName": "churn-xgb-v2"})
    outcomes = _deploy_to_end(_job(organization), StackSetDeployer(_cfn(), "SELF"))
    assert [o.state for o in outcomes] == ["continue", "succeeded"]
    assert "update started" in outcomes[0].message
    stack_set = _cfn().describe_stack_set(StackSetName=NAME)["StackSet"]
    assert stack_set["Parameters"] == [{"ParameterKey": "ModelName", "ParameterValue": "churn-xgb-v2"}]


def test_a_running_operation_keeps_the_job_going_with_the_same_token(organization):
    _artifact({"ModelName": "churn-xgb"})
    deployer = StackSetDeployer(_cfn(), "SELF")
    started = run_job(_job(organization), deployer)
    stack_set = cloudformation_backends[ACCOUNT][REGION].describe_stack_set(NAME)
    stack_set.update_operation(started.token["operation_id"], "RUNNING")
    polled = run_job(_job(organization, started.token), deployer)
    assert polled.state == "continue" and polled.token == started.token
    assert "RUNNING" in polled.message


def test_a_failed_operation_fails_the_job_with_stacksets_own_reason(organization, monkeypatch: pytest.MonkeyPatch):
    _artifact({"ModelName": "churn-xgb"})
    cfn = _cfn()
    deployer = StackSetDeployer(cfn, "SELF")
    started = run_job(_job(organization), deployer)

    monkeypatch.setattr(
        cfn,
        "describe_stack_set_operation",
        lambda **_: {"StackSetOperation": {"Status": "FAILED", "StatusReason": "1 of 1 instances failed"}},
    )

    class Paginator:
        def paginate(self, **kwargs: Any):
            assert kwargs["OperationId"] == started.token["operation_id"]
            yield {
                "Summaries": [
                    {
                        "Account": organization["account"],
                        "Region": REGION,
                        "Status": "FAILED",
                        "StatusReason": "ResourceLogicalId:Endpoint, ResourceType:AWS::SageMaker::Endpoint, "
                        "ResourceStatusReason:Failed to pull model image.",
                    }
                ]
            }

    monkeypatch.setattr(cfn, "get_paginator", lambda name: Paginator())
    failed = run_job(_job(organization, started.token), deployer)
    assert failed.state == "failed"
    assert failed.message == (
        f"StackSet {NAME} operation {started.token['operation_id']} FAILED: 1 of 1 instances failed; "
        f"{organization['account']}/{REGION}: ResourceLogicalId:Endpoint, ResourceType:AWS::SageMaker::Endpoint, "
        "ResourceStatusReason:Failed to pull model image."
    )


def test_a_failed_instance_after_a_finished_operation_fails_the_job(organization, monkeypatch: pytest.MonkeyPatch):
    _artifact({"ModelName": "churn-xgb"})
    cfn = _cfn()
    deployer = StackSetDeployer(cfn, "SELF")
    started = run_job(_job(organization), deployer)
    instance = {
        "Account": organization["account"],
        "Status": "OUTDATED",
        "StatusReason": "Stack creation failed: model artifact not found",
        "StackInstanceStatus": {"DetailedStatus": "FAILED"},
    }
    monkeypatch.setattr(cfn, "describe_stack_instance", lambda **_: {"StackInstance": instance})
    failed = run_job(_job(organization, started.token), deployer)
    assert failed.state == "failed"
    assert "is FAILED: Stack creation failed: model artifact not found" in failed.message


def test_an_instance_still_deploying_is_not_updated(organization, monkeypatch: pytest.MonkeyPatch):
    _artifact({"ModelName": "churn-xgb"})
    cfn = _cfn()
    _deploy_to_end(_job(organization), StackSetDeployer(cfn, "SELF"))
    busy = {
        "Account": organization["account"],
        "Status": "OUTDATED",
        "StackInstanceStatus": {"DetailedStatus": "RUNNING"},
    }
    monkeypatch.setattr(cfn, "describe_stack_instance", lambda **_: {"StackInstance": busy})
    with pytest.raises(deployer_module.DeployFailed, match="still deploying its instance"):
        run_job(_job(organization), StackSetDeployer(cfn, "SELF"))


def test_delegated_admin_calls_every_stacksets_api_as_delegated_admin(organization, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CALL_AS", "DELEGATED_ADMIN")
    _artifact({"ModelName": "churn-xgb"})
    recording = Recording(_cfn())
    _deploy_to_end(_job(organization), StackSetDeployer(recording, deployer_module.call_as()))
    assert {name for name, _ in recording.call_as} >= {
        "describe_stack_set",
        "create_stack_set",
        "create_stack_instances",
        "describe_stack_set_operation",
        "describe_stack_instance",
    }
    assert {who for _, who in recording.call_as} == {"DELEGATED_ADMIN"}


def test_without_delegated_admin_the_lambda_calls_as_itself(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CALL_AS", "SELF")
    assert deployer_module.call_as() == "SELF"


def test_the_stage_deploys_to_its_account_only_not_the_whole_unit(organization):
    _artifact({"ModelName": "churn-xgb"})
    recording = Recording(_cfn())
    calls = []
    original = recording.real.create_stack_instances

    def spy(**kwargs: Any):
        calls.append(kwargs)
        return original(**kwargs)

    recording.real.create_stack_instances = spy
    run_job(_job(organization), StackSetDeployer(recording, "SELF"))
    assert calls[0]["DeploymentTargets"] == {
        "OrganizationalUnitIds": [organization["ou"]],
        "Accounts": [organization["account"]],
        "AccountFilterType": "INTERSECTION",
    }
    assert calls[0]["Regions"] == [REGION]


def test_a_template_too_big_for_a_body_is_given_by_url(organization, monkeypatch: pytest.MonkeyPatch):
    big = json.loads(TEMPLATE)
    big["Description"] = "x" * 60_000
    _artifact({"ModelName": "churn-xgb"}, json.dumps(big))
    cfn = _cfn()
    seen = {}
    monkeypatch.setattr(cfn, "create_stack_set", lambda **kwargs: seen.update(kwargs))
    monkeypatch.setattr(cfn, "create_stack_instances", lambda **_: {"OperationId": "op-1"})
    run_job(_job(organization), StackSetDeployer(cfn, "SELF"))
    assert seen["TemplateURL"] == "https://mlops-blueprints.s3.us-east-1.amazonaws.com/blueprints/x.yaml"
    assert "TemplateBody" not in seen


class FakeCodePipeline:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def put_job_success_result(self, **kwargs: Any) -> None:
        self.calls.append(("success", kwargs))

    def put_job_failure_result(self, **kwargs: Any) -> None:
        self.calls.append(("failure", kwargs))


@pytest.fixture
def codepipeline(monkeypatch: pytest.MonkeyPatch) -> FakeCodePipeline:
    fake = FakeCodePipeline()
    real_client = deployer_module.client
    monkeypatch.setattr(deployer_module, "client", lambda s: fake if s == "codepipeline" else real_client(s))
    return fake


def test_handler_continues_the_job_with_a_token_then_succeeds(organization, codepipeline):
    _artifact({"ModelName": "churn-xgb"})
    deployer_module.handler({"CodePipeline.job": _job(organization)}, None)
    kind, first = codepipeline.calls[0]
    assert kind == "success" and "continuationToken" in first
    deployer_module.handler({"CodePipeline.job": _job(organization, json.loads(first["continuationToken"]))}, None)
    kind, second = codepipeline.calls[1]
    assert kind == "success" and "continuationToken" not in second
    assert f"StackSet {NAME} deployed" in second["executionDetails"]["summary"]


@pytest.mark.parametrize("missing", ["stackset_name", "org_ids", "stage_params_file", "source_key"])
def test_handler_fails_the_job_when_a_user_parameter_is_missing(organization, codepipeline, missing):
    deployer_module.handler({"CodePipeline.job": _job(organization, **{missing: ""})}, None)
    kind, call = codepipeline.calls[0]
    assert kind == "failure"
    assert call["failureDetails"]["message"] == f"Your UserParameters JSON must include {missing}"


def test_handler_fails_the_job_when_the_artifact_lacks_the_params_file(organization, codepipeline):
    _artifact({"ModelName": "churn-xgb"})
    deployer_module.handler(
        {"CodePipeline.job": _job(organization, stage_params_file="prod_template_params.json")}, None
    )
    kind, call = codepipeline.calls[0]
    assert kind == "failure"
    assert call["failureDetails"]["message"].startswith("prod_template_params.json is not in the source artifact")


def test_handler_turns_an_aws_error_into_a_job_failure(organization, codepipeline):
    # No bucket: reading the artifact fails with S3's own error.
    s3 = boto3.client("s3", region_name="us-east-1")
    if "mlops-assets" in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.delete_bucket(Bucket="mlops-assets")
    deployer_module.handler({"CodePipeline.job": _job(organization)}, None)
    kind, call = codepipeline.calls[0]
    assert kind == "failure" and "NoSuchBucket" in call["failureDetails"]["message"]


@pytest.mark.parametrize("execution_id", ["", "operation-1"])
def test_a_failure_is_reported_in_a_form_codepipeline_accepts(execution_id: str):
    from botocore.stub import Stubber

    codepipeline = boto3.client("codepipeline", region_name=REGION)
    details = {"type": "JobFailed", "message": "no"}
    if execution_id:
        details["externalExecutionId"] = execution_id
    with Stubber(codepipeline) as stub:  # validates the request against the API's model
        stub.add_response("put_job_failure_result", {}, {"jobId": "job-1", "failureDetails": details})
        deployer_module.report(codepipeline, "job-1", Outcome("failed", "no"), execution_id)
        stub.assert_no_pending_responses()


# ---------------------------------------------------------------------------------------------------------
# The artifact deployed is the one the orchestrator wrote


def _tampered_artifact() -> None:
    """A role that reached the artifact store rewrites the artifact after the source stage copied it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("byom_realtime_inference_pipeline.yaml", json.dumps({"Resources": {"Admin": {}}}))
        archive.writestr("dev_template_params.json", "[]")
    deployer_module.client("s3").put_object(Bucket="mlops-assets", Key="artifacts/source.zip", Body=buffer.getvalue())


def _failure(codepipeline: FakeCodePipeline, job: dict[str, Any]) -> str:
    deployer_module.handler({"CodePipeline.job": job}, None)
    kind, call = codepipeline.calls[-1]
    assert kind == "failure"
    return call["failureDetails"]["message"]


def test_a_rewritten_artifact_fails_the_stage_and_creates_no_stackset(organization, codepipeline):
    _artifact({"ModelName": "churn-xgb"})
    _tampered_artifact()
    message = _failure(codepipeline, _job(organization))
    assert "is not the" in message and "the orchestrator recorded" in message and SOURCE_KEY in message
    assert not _cfn().list_stack_sets(CallAs="SELF")["Summaries"]


def test_an_artifact_of_an_older_version_than_the_pinned_one_fails_the_stage(organization, codepipeline):
    _artifact({"ModelName": "churn-xgb"})
    job = _job(organization)  # pins the first version
    _artifact({"ModelName": "churn-xgb-v2"})  # the artifact store now holds the second one's bytes
    assert "is not the" in _failure(codepipeline, job)


def test_an_artifact_without_a_pinned_version_is_not_deployed(organization, codepipeline):
    _artifact({"ModelName": "churn-xgb"})
    job = _job(organization)
    job["data"]["inputArtifacts"][0]["revision"] = ""
    assert _failure(codepipeline, job) == (
        f"The source stage pinned no version of s3://mlops-assets/{SOURCE_KEY}: the artifact cannot be verified"
    )


def test_a_pinned_version_that_cannot_be_read_fails_the_stage_with_s3s_reason(organization, codepipeline):
    _artifact({"ModelName": "churn-xgb"})
    job = _job(organization)
    job["data"]["inputArtifacts"][0]["revision"] = "3HL4kqtJlcpXroDTDmjVBH40Nrjfkd"
    message = _failure(codepipeline, job)
    assert (
        message.startswith("Version 3HL4kqtJlcpXroDTDmjVBH40Nrjfkd of s3://mlops-assets/")
        and "cannot be read" in message
    )


def test_a_source_version_without_the_orchestrators_hash_is_not_deployed(organization, codepipeline):
    _artifact({"ModelName": "churn-xgb"})
    s3 = deployer_module.client("s3")
    body = s3.get_object(Bucket="mlops-assets", Key="artifacts/source.zip")["Body"].read()
    s3.put_object(Bucket="mlops-assets", Key=SOURCE_KEY, Body=body)  # no content-sha256
    assert "carries no content-sha256 recorded by the orchestrator" in _failure(codepipeline, _job(organization))


def test_the_deployer_reads_the_hash_the_provisioner_writes():
    from lambdas.blueprints import source_artifact
    from lambdas.pipeline_orchestration.provisioner import CONTENT_HASH_METADATA

    assert source_artifact.CONTENT_HASH_METADATA == CONTENT_HASH_METADATA
