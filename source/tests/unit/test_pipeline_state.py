# SPDX-License-Identifier: Apache-2.0
"""The one pipeline state: every state, and what it says after things go wrong."""

from __future__ import annotations

from typing import Any

import pytest

from lambdas.pipeline_orchestration import pipeline_state
from lambdas.pipeline_orchestration.pipeline_state import (
    ACTIVE,
    DELETING,
    FAILED,
    PROVISIONING,
    ROLLED_BACK,
    RUNNING,
    WAITING_APPROVAL,
    derive,
)

WRAPPER = "mlops-pipeline-churn-byompipelinerealtimebuiltin-codepipeline"
BLUEPRINT = "mlops-pipeline-churn-byompipelinerealtimebuiltin"


def stack(status: str = "CREATE_COMPLETE", reason: str = "") -> dict[str, Any]:
    return {"StackName": WRAPPER, "StackStatus": status, **({"StackStatusReason": reason} if reason else {})}


def execution(status: str, execution_id: str = "e-2") -> dict[str, Any]:
    return {"pipelineExecutionId": execution_id, "status": status}


def action(name: str, status: str, summary: str = "", token: str = "", error: str = "") -> dict[str, Any]:
    latest: dict[str, Any] = {"status": status}
    if summary:
        latest["summary"] = summary
    if token:
        latest["token"] = token
    if error:
        latest["errorDetails"] = {"code": "JobFailed", "message": error}
    return {"actionName": name, "latestExecution": latest}


def stage(name: str, status: str, *actions: dict[str, Any], execution_id: str = "e-2") -> dict[str, Any]:
    return {
        "stageName": name,
        "latestExecution": {"pipelineExecutionId": execution_id, "status": status},
        "actionStates": list(actions),
    }


def codepipeline(*stages: dict[str, Any]) -> dict[str, Any]:
    return {"pipelineName": f"{WRAPPER}-Pipeline", "stageStates": list(stages)}


SOURCE_OK = stage("Source", "Succeeded", action("S3Source", "Succeeded"))
DEPLOYED = {"stack_name": BLUEPRINT, "status": "CREATE_COMPLETE"}


def multi(**statuses: str) -> dict[str, Any]:
    return {
        "stages": {
            s: {"stackset_name": f"{BLUEPRINT}-{s}-0a1b2c3d", "status": statuses.get(s, "SUCCEEDED")}
            for s in ("dev", "staging", "prod")
        }
    }


# ---------------------------------------------------------------------------------------------------------
# The stack decides alone


@pytest.mark.parametrize("status", ["CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"])
def test_a_stack_being_created_or_updated_is_provisioning(status):
    found = derive(stack(status), None, None, {})
    assert found.state == PROVISIONING and WRAPPER in found.reason


def test_a_stack_being_deleted_is_deleting():
    assert derive(stack("DELETE_IN_PROGRESS"), execution("Succeeded"), codepipeline(), DEPLOYED).state == DELETING


@pytest.mark.parametrize("status", ["CREATE_FAILED", "ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_FAILED", "DELETE_FAILED"])
def test_a_failed_stack_is_failed_with_its_reason(status):
    found = derive(stack(status, "Resource Pipeline failed: role not found"), None, None, {})
    assert found.state == FAILED
    assert found.reason == f"stack {WRAPPER} is {status}: Resource Pipeline failed: role not found"


def test_before_the_first_execution_the_pipeline_is_provisioning():
    assert derive(stack(), None, None, {}).state == PROVISIONING
    found = derive(stack(), None, codepipeline(), {})
    assert (found.state, found.reason) == (PROVISIONING, "the CodePipeline has not started its first execution yet")


# ---------------------------------------------------------------------------------------------------------
# An execution runs, waits or ends


def test_a_running_execution_names_its_stage_and_action():
    state = codepipeline(
        SOURCE_OK, stage("DeployCloudFormation", "InProgress", action("deploy_stack", "InProgress", "deploying"))
    )
    found = derive(stack(), execution("InProgress"), state, {})
    assert (found.state, found.stage, found.execution_id) == (RUNNING, "DeployCloudFormation", "e-2")
    assert found.reason == "execution e-2 is running DeployCloudFormation/deploy_stack: deploying"


def test_a_waiting_approval_names_the_stage_to_approve():
    state = codepipeline(
        SOURCE_OK,
        stage(
            "DeployDev",
            "InProgress",
            action("DeployDevStackSet", "Succeeded"),
            action("DeployStaging", "InProgress", token="tok"),
        ),
    )
    found = derive(stack(), execution("InProgress"), state, multi(staging="NOT_DEPLOYED", prod="NOT_DEPLOYED"))
    assert (found.state, found.stage, found.approval_stage) == (WAITING_APPROVAL, "DeployDev", "staging")
    assert found.as_dict()["approval_stage"] == "staging"


def test_a_succeeded_execution_whose_deployment_is_complete_is_active():
    assert derive(stack(), execution("Succeeded"), codepipeline(SOURCE_OK), DEPLOYED).state == ACTIVE
    assert derive(stack(), execution("Succeeded"), codepipeline(SOURCE_OK), multi()).state == ACTIVE
    assert derive(stack(), execution("Succeeded"), codepipeline(SOURCE_OK), {}).state == ACTIVE  # image builder


def test_a_deployed_monitor_whose_latest_execution_found_violations_or_failed_says_so():
    from datetime import UTC, datetime

    latest = {
        "MonitoringScheduleName": "ep-dataquality-1a2b",
        "ScheduledTime": datetime(2026, 12, 1, 14, tzinfo=UTC),
        "MonitoringExecutionStatus": "CompletedWithViolations",
    }
    found = derive(stack(), execution("Succeeded"), codepipeline(SOURCE_OK), DEPLOYED, latest)
    assert found.state == pipeline_state.VIOLATIONS
    assert found.reason == (
        "the latest monitoring execution of ep-dataquality-1a2b (scheduled 2026-12-01T14:00:00+00:00) found "
        "constraint violations; describe lists them"
    )
    failed = {**latest, "MonitoringExecutionStatus": "Failed", "FailureReason": "no captured data"}
    found = derive(stack(), execution("Succeeded"), codepipeline(SOURCE_OK), DEPLOYED, failed)
    assert found.state == pipeline_state.MONITORING_FAILED and found.reason.endswith("failed: no captured data")
    clean = {**latest, "MonitoringExecutionStatus": "Completed"}
    assert derive(stack(), execution("Succeeded"), codepipeline(SOURCE_OK), DEPLOYED, clean).state == ACTIVE
    # A deployment that is not complete says so first: the monitor's findings come after.
    running = derive(stack(), execution("InProgress"), codepipeline(SOURCE_OK), DEPLOYED, latest)
    assert running.state == pipeline_state.RUNNING


def test_a_failed_deploy_names_the_stage_the_action_and_the_stack_event():
    # A monitor whose baseline writes to a bucket that does not exist.
    reason = "Resource BaselineJob failed: NoSuchBucket: The specified bucket does not exist"
    state = codepipeline(
        SOURCE_OK,
        stage(
            "DeployCloudFormation",
            "Failed",
            action("deploy_stack", "Failed", f"stack {BLUEPRINT}: CREATE_FAILED {reason}"),
        ),
    )
    found = derive(stack(), execution("Failed"), state, {"stack_name": BLUEPRINT, "status": "CREATE_FAILED"})
    assert (found.state, found.stage) == (FAILED, "DeployCloudFormation")
    assert found.reason.startswith("stage DeployCloudFormation, action deploy_stack: stack")
    assert "NoSuchBucket" in found.reason


def test_a_stack_reason_the_deploy_action_already_quotes_is_said_once():
    reason = "Baseline013357C7: cannot create baseline job: NoSuchBucket"
    state = codepipeline(
        SOURCE_OK,
        stage(
            "DeployCloudFormation",
            "Failed",
            action("deploy_stack", "Failed", f"stack {BLUEPRINT}: CREATE_FAILED {reason}"),
        ),
    )
    deployed = {"stack_name": BLUEPRINT, "status": "CREATE_FAILED", "reason": reason}
    found = derive(stack(), execution("Failed"), state, deployed)
    assert found.reason == f"stage DeployCloudFormation, action deploy_stack: stack {BLUEPRINT}: CREATE_FAILED {reason}"


def test_a_missing_source_object_fails_at_the_source_stage():
    state = codepipeline(
        stage("Source", "Failed", action("S3Source", "Failed", error="The object with key 'x.zip' does not exist.")),
        stage("Build", "", action("BuildImage", "")),
    )
    found = derive(stack(), execution("Failed"), state, {})
    assert found.state == FAILED
    assert found.reason == "stage Source, action S3Source: The object with key 'x.zip' does not exist."


def test_a_rejected_approval_fails_with_the_reviewers_comment():
    state = codepipeline(
        SOURCE_OK,
        stage("DeployDev", "Failed", action("DeployDevStackSet", "Succeeded"), action("DeployStaging", "Failed", "no")),
    )
    found = derive(stack(), execution("Failed"), state, multi(staging="NOT_DEPLOYED", prod="NOT_DEPLOYED"))
    assert found.state == FAILED
    assert found.reason.startswith("stage DeployDev, action DeployStaging: no")


def test_a_failed_stage_instance_is_named_when_the_action_says_little():
    state = codepipeline(SOURCE_OK, stage("DeployStaging", "Failed", action("DeployStagingStackSet", "Failed")))
    deployment = multi(staging="FAILED", prod="NOT_DEPLOYED")
    deployment["stages"]["staging"]["reason"] = (
        "Account 222222222222 should have 'AWSCloudFormationStackSetExecutionRole'"
    )
    found = derive(stack(), execution("Failed"), state, deployment)
    assert found.state == FAILED
    assert "staging StackSet instance" in found.reason and "ExecutionRole" in found.reason


def test_a_stage_that_cannot_start_fails_with_the_execution():
    # CodePipeline stops an execution before any action runs (its role cannot be assumed, say).
    state = codepipeline(stage("Source", "Failed"))
    assert derive(stack(), execution("Failed"), state, {}).reason == "stage Source failed"
    assert derive(stack(), execution("Stopped"), codepipeline(), {}).reason == "execution e-2 is Stopped"


def test_an_execution_that_succeeded_but_left_an_incomplete_deployment_is_not_active():
    found = derive(
        stack(), execution("Succeeded"), codepipeline(SOURCE_OK), {"stack_name": BLUEPRINT, "status": "NOT_DEPLOYED"}
    )
    assert (found.state, found.reason) == (FAILED, f"stack {BLUEPRINT} is NOT_DEPLOYED")


# ---------------------------------------------------------------------------------------------------------
# Rolled back, restarted


def test_an_update_that_rolled_back_is_rolled_back_not_active():
    state = codepipeline(
        SOURCE_OK,
        stage("DeployCloudFormation", "Failed", action("deploy_stack", "Failed", "stack: UPDATE_ROLLBACK_COMPLETE")),
    )
    deployment = {"stack_name": BLUEPRINT, "status": "UPDATE_ROLLBACK_COMPLETE", "reason": "Endpoint update failed"}
    found = derive(stack(), execution("Failed"), state, deployment)
    assert found.state == ROLLED_BACK
    assert "previous deployment is still in place" in found.reason


def test_a_wrapper_stack_whose_update_rolled_back_is_rolled_back():
    found = derive(
        stack("UPDATE_ROLLBACK_COMPLETE", "bad parameter"), execution("Succeeded"), codepipeline(SOURCE_OK), DEPLOYED
    )
    assert found.state == ROLLED_BACK and "bad parameter" in found.reason


def test_a_re_execution_after_a_failure_is_running_not_failed():
    # The new execution e-3 runs its first stage; the later stage still shows e-2's failure.
    state = codepipeline(
        stage("Source", "InProgress", action("S3Source", "InProgress"), execution_id="e-3"),
        stage("DeployCloudFormation", "Failed", action("deploy_stack", "Failed", "old failure"), execution_id="e-2"),
    )
    found = derive(stack(), execution("InProgress", "e-3"), state, {"stack_name": BLUEPRINT, "status": "CREATE_FAILED"})
    assert (found.state, found.stage) == (RUNNING, "Source")


def test_a_re_execution_that_fails_reports_its_own_failure_not_the_earlier_one():
    state = codepipeline(
        stage("Source", "Failed", action("S3Source", "Failed", "source gone"), execution_id="e-3"),
        stage("DeployCloudFormation", "Failed", action("deploy_stack", "Failed", "old failure"), execution_id="e-2"),
    )
    found = derive(stack(), execution("Failed", "e-3"), state, DEPLOYED)
    assert found.reason == "stage Source, action S3Source: source gone"
    assert found.execution_id == "e-3"


def test_a_re_execution_that_succeeds_after_a_failure_is_active():
    state = codepipeline(
        stage("Source", "Succeeded", action("S3Source", "Succeeded"), execution_id="e-3"),
        stage("DeployCloudFormation", "Succeeded", action("deploy_stack", "Succeeded"), execution_id="e-3"),
    )
    assert derive(stack(), execution("Succeeded", "e-3"), state, DEPLOYED).state == ACTIVE


# ---------------------------------------------------------------------------------------------------------
# Reading the sources: the stack event that says why


class _Events:
    def __init__(self, events):
        self.events = events

    def get_paginator(self, name):
        assert name == "describe_stack_events"
        return self

    def paginate(self, **_):
        return [{"StackEvents": self.events}]


def _event(logical_id: str, resource_type: str, status: str, reason: str = "") -> dict[str, Any]:
    return {
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        "ResourceStatus": status,
        **({"ResourceStatusReason": reason} if reason else {}),
    }


def test_the_first_failed_resource_of_the_latest_operation_gives_the_reason(monkeypatch):
    from lambdas.pipeline_orchestration import adapters

    stack_type = "AWS::CloudFormation::Stack"
    events = [  # newest first
        _event(BLUEPRINT, stack_type, "ROLLBACK_COMPLETE"),
        _event("Schedule", "AWS::SageMaker::MonitoringSchedule", "CREATE_FAILED", "Resource creation cancelled"),
        _event(BLUEPRINT, stack_type, "ROLLBACK_IN_PROGRESS", "The following resource(s) failed to create: [X]"),
        _event("BaselineJob", "Custom::InvokeLambda", "CREATE_FAILED", "NoSuchBucket: no-such-bucket"),
        _event(BLUEPRINT, stack_type, "CREATE_IN_PROGRESS", "User Initiated"),
        _event("Old", "AWS::SNS::Topic", "CREATE_FAILED", "an earlier operation"),
    ]
    monkeypatch.setattr(adapters, "client", lambda name, region=None: _Events(events))

    assert adapters.Stacks().first_failure(BLUEPRINT) == "BaselineJob: NoSuchBucket: no-such-bucket"


def test_a_failed_blueprint_stack_adds_its_resource_event_to_the_reason():
    from lambdas.pipeline_orchestration.adapters import Aws, Pipelines, Stacks
    from lambdas.pipeline_orchestration.pipeline_state import observe
    from lambdas.pipeline_orchestration.settings import Settings

    class FailedBlueprint(Stacks):
        def describe(self, name_or_id):
            reason = "The following resource(s) failed to create: [BaselineJob]."
            return {
                "StackName": BLUEPRINT,
                "StackId": "id",
                "StackStatus": "ROLLBACK_COMPLETE",
                "StackStatusReason": reason,
            }

        def first_failure(self, name_or_id):
            return "BaselineJob: NoSuchBucket: The specified bucket does not exist"

        def resources(self, name_or_id):
            return [{"ResourceType": "AWS::CodePipeline::Pipeline", "PhysicalResourceId": f"{WRAPPER}-Pipeline"}]

    class FailedDeploy(Pipelines):
        def state(self, name):
            return codepipeline(
                SOURCE_OK,
                stage("DeployCloudFormation", "Failed", action("deploy_stack", "Failed", error="Stack failed")),
            )

        def executions(self, name, limit=100):
            return [execution("Failed")]

    wrapper = {
        **stack(),
        "StackId": "wrapper-id",
        "Parameters": [{"ParameterKey": "StackName", "ParameterValue": BLUEPRINT}],
    }
    seen = observe(wrapper, Settings(), Aws(stacks=FailedBlueprint(), pipelines=FailedDeploy()))

    assert seen.state.state == FAILED
    assert "BaselineJob: NoSuchBucket: The specified bucket does not exist" in seen.state.reason
    assert seen.state.reason.startswith("stage DeployCloudFormation, action deploy_stack: Stack failed")


def test_a_pipeline_has_finished_once_it_settled_and_not_while_it_waits_or_works():
    finished = {state: pipeline_state.has_finished(state) for state in pipeline_state.STATES}
    assert {state for state, done in finished.items() if done} == {
        "ACTIVE",
        "FAILED",
        "ROLLED_BACK",
        "VIOLATIONS",
        "MONITORING_FAILED",
    }
    assert pipeline_state.has_finished(None) is False


def test_a_job_the_stack_started_runs_on_or_fails_after_the_stack_completed():
    job = {"kind": "transform_job", "name": "churn-batch-1a2b", "status": "InProgress", "failure_reason": ""}
    running = derive(stack(), execution("Succeeded"), codepipeline(SOURCE_OK), DEPLOYED, None, [job])
    assert (running.state, running.reason) == (pipeline_state.RUNNING, "transform job churn-batch-1a2b is InProgress")
    failed = {**job, "status": "Failed", "failure_reason": "ClientError: no data at s3://b/in.csv"}
    found = derive(stack(), execution("Succeeded"), codepipeline(SOURCE_OK), DEPLOYED, None, [failed])
    assert (found.state, found.reason) == (
        pipeline_state.FAILED,
        "transform job churn-batch-1a2b Failed: ClientError: no data at s3://b/in.csv",
    )
    stopped = derive(
        stack(), execution("Succeeded"), codepipeline(SOURCE_OK), DEPLOYED, None, [{**job, "status": "Stopped"}]
    )
    assert (stopped.state, stopped.reason) == (pipeline_state.FAILED, "transform job churn-batch-1a2b Stopped")
    done = {**job, "status": "Completed"}
    assert derive(stack(), execution("Succeeded"), codepipeline(SOURCE_OK), DEPLOYED, None, [done]).state == ACTIVE
