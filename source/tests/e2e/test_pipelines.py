# SPDX-License-Identifier: Apache-2.0
"""Every pipeline type through the local API: provision, status, list, describe, delete, in both modes."""

from __future__ import annotations

import time

import pytest

from lambdas.pipeline_orchestration.catalogue import CATALOGUE, STAGE_BOUNDARY_POLICY_NAME
from local.examples import pipeline_name as name_of
from tests.e2e.conftest import MONITORS, LocalScene

ALL_TYPES = sorted(CATALOGUE)
STAGED_TYPES = sorted(t for t, p in CATALOGUE.items() if not p.own_account_only)


def pipeline_name(scene: LocalScene, pipeline_type: str, body: dict) -> str:
    return name_of({**body, "pipeline_type": pipeline_type})


def provision(scene: LocalScene, pipeline_type: str) -> tuple[str, str]:
    body = scene.request(pipeline_type)
    answer = scene.call("POST", "/provisionpipeline", body)
    assert answer.status == 200, answer.body
    assert answer.body["message"] == "success: stack creation started"
    return pipeline_name(scene, pipeline_type, body), answer.body["pipeline_id"]


def delete_until_gone(scene: LocalScene, name: str, timeout: float = 60) -> dict:
    """DELETE answers 202 and continues the teardown on every call; the pipeline ends in a 404."""
    first = scene.call("DELETE", f"/pipelines/{name}")
    assert first.status == 202, first.body
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        again = scene.call("DELETE", f"/pipelines/{name}")
        if again.status == 404:
            return first.body
        assert again.status in (202, 409), again.body
        time.sleep(0.3)
    raise TimeoutError(f"{name} was not torn down in {timeout} s")


def check_listed(scene: LocalScene, name: str, pipeline_type: str) -> None:
    listed = scene.call("GET", "/pipelines", query={"pipeline_type": pipeline_type})
    assert listed.status == 200
    assert name in [p["pipeline_name"] for p in listed.body["pipelines"]]


def check_roles_bounded(scene: LocalScene, name: str) -> None:
    """Every role the pipeline's stacks created carries the orchestrator's permissions boundary."""
    boundary = scene.settings.permissions_boundary_arn
    assert boundary.endswith(":policy/mlops-orchestrator-PermissionsBoundary")
    iam = scene.aws("iam")
    assert iam.get_policy(PolicyArn=boundary)["Policy"]["Arn"] == boundary
    cloudformation = scene.aws("cloudformation")
    stacks = [s["StackName"] for s in cloudformation.describe_stacks()["Stacks"] if s["StackName"].startswith(name)]
    roles = [
        iam.get_role(RoleName=resource["PhysicalResourceId"])["Role"]
        for stack in stacks
        for resource in cloudformation.list_stack_resources(StackName=stack)["StackResourceSummaries"]
        if resource["ResourceType"] == "AWS::IAM::Role"
    ]
    assert roles, f"no roles of {name}"
    unbounded = [
        r["RoleName"] for r in roles if r.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn") != boundary
    ]
    assert not unbounded, f"roles without the boundary: {unbounded}"


@pytest.mark.parametrize("pipeline_type", ALL_TYPES)
def test_single_account_lifecycle(single_account: LocalScene, pipeline_type: str):
    name, pipeline_id = provision(single_account, pipeline_type)
    described = single_account.wait(name)
    stages = described["codepipeline"]["stages"]
    assert {s["status"] for s in stages} == {"Succeeded"}, [a for s in stages for a in s["actions"]]
    assert described["state"] == "ACTIVE", described.get("reason")
    if not CATALOGUE[pipeline_type].direct_stack:
        assert described["deployed"]["status"] == "CREATE_COMPLETE"
    if pipeline_type in MONITORS:
        found = described["sagemaker"]
        assert found["baseline_job"]["status"] == "Completed", found
        assert found["monitoring_schedule"]["status"] == "Scheduled", found

    status = single_account.call("POST", "/pipelinestatus", {"pipeline_id": pipeline_id})
    assert status.status == 200 and status.body["stageStates"], status.body
    check_listed(single_account, name, pipeline_type)
    assert described["pipeline_type"] == pipeline_type and described["request"]["pipeline_type"] == pipeline_type
    check_roles_bounded(single_account, name)

    teardown = delete_until_gone(single_account, name)
    assert "kept" in teardown
    assert single_account.call("GET", f"/pipelines/{name}").status == 404


def test_realtime_endpoint_is_in_service(single_account: LocalScene):
    name, _ = provision(single_account, "byom_realtime_custom")
    described = single_account.wait(name)
    assert described["sagemaker"]["endpoint"]["status"] == "InService"
    delete_until_gone(single_account, name)


def approve(scene: LocalScene, name: str, stage: str) -> None:
    answer = scene.call("POST", f"/pipelines/{name}/approval", {"stage": stage})
    assert answer.status == 200, answer.body


def check_stage_resources(scene: LocalScene, pipeline_type: str, stage: dict, names: dict) -> None:
    """The stage's instance stack completed in the stage's account, with what its custom resources started."""
    account = stage["account_id"]
    cloudformation = scene.aws("cloudformation", account)
    stack = cloudformation.describe_stacks(StackName=stage["stack_id"])["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    # Its roles carry the boundary the orchestrator stack's StackSet created in that account before any pipeline.
    iam = scene.aws("iam", account)
    boundary = f"arn:aws:iam::{account}:policy/{STAGE_BOUNDARY_POLICY_NAME}"
    assert iam.get_policy(PolicyArn=boundary)["Policy"]["Arn"] == boundary
    roles = [
        iam.get_role(RoleName=resource["PhysicalResourceId"])["Role"]
        for resource in cloudformation.list_stack_resources(StackName=stage["stack_id"])["StackResourceSummaries"]
        if resource["ResourceType"] == "AWS::IAM::Role"
    ]
    assert roles and all(r.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn") == boundary for r in roles)
    sagemaker = scene.aws("sagemaker", account)
    if pipeline_type in MONITORS:
        baseline = sagemaker.describe_processing_job(ProcessingJobName=names["names"]["baseline_job_name"])
        assert baseline["ProcessingJobStatus"] == "Completed"
        schedule_name = names["names"]["monitoring_schedule_name"]
        schedule = sagemaker.describe_monitoring_schedule(MonitoringScheduleName=schedule_name)
        assert schedule["MonitoringScheduleStatus"] == "Scheduled"
    elif any(r.kind == "transform_job" for r in CATALOGUE[pipeline_type].reads):
        assert sagemaker.list_transform_jobs()["TransformJobSummaries"], "the batch job started in the stage account"


@pytest.mark.parametrize("pipeline_type", STAGED_TYPES)
def test_multi_account_lifecycle_passes_both_approvals(multi_account: LocalScene, pipeline_type: str):
    name, pipeline_id = provision(multi_account, pipeline_type)
    multi_account.wait(name, until="Approval")
    approve(multi_account, name, "staging")
    multi_account.wait(name, until="Approval")
    approve(multi_account, name, "prod")
    described = multi_account.wait(name)
    assert {s["status"] for s in described["codepipeline"]["stages"]} == {"Succeeded"}
    assert described["state"] == "ACTIVE", described.get("reason")
    stages = described["deployed"]["stages"]
    targets = multi_account.settings.stage_targets
    for stage in ("dev", "staging", "prod"):
        assert stages[stage]["account_id"] == targets[stage].account_id
        assert stages[stage]["status"] == "SUCCEEDED", stages[stage]
        check_stage_resources(multi_account, pipeline_type, stages[stage], described["sagemaker"][stage])
    assert len({stages[s]["account_id"] for s in stages}) == 3

    status = multi_account.call("POST", "/pipelinestatus", {"pipeline_id": pipeline_id})
    assert status.status == 200 and set(status.body["deployed"]["stages"]) == {"dev", "staging", "prod"}
    check_listed(multi_account, name, pipeline_type)
    assert described["mode"] == "multi-account"
    delete_until_gone(multi_account, name)


@pytest.mark.parametrize("pipeline_type", sorted(set(ALL_TYPES) - set(STAGED_TYPES)))
def test_multi_account_training_and_image_builder_run_in_the_own_account(multi_account: LocalScene, pipeline_type: str):
    name, _ = provision(multi_account, pipeline_type)
    described = multi_account.wait(name)
    stages = described["codepipeline"]["stages"]
    assert {s["status"] for s in stages} == {"Succeeded"}, [a for s in stages for a in s["actions"]]
    assert described["mode"] == "single-account"
    delete_until_gone(multi_account, name)


def test_rejecting_an_approval_fails_the_pipeline(multi_account: LocalScene):
    name, _ = provision(multi_account, "byom_realtime_custom")
    multi_account.wait(name, until="Approval")
    answer = multi_account.call(
        "POST", f"/pipelines/{name}/approval", {"stage": "staging", "approved": False, "comment": "no"}
    )
    assert answer.status == 200
    described = multi_account.wait(name)
    assert "Failed" in {s["status"] for s in described["codepipeline"]["stages"]}
    delete_until_gone(multi_account, name)
