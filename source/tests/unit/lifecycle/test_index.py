# SPDX-License-Identifier: Apache-2.0
"""The pipeline index behind GET /pipelines follows the stacks: provisioning, status events, describe, delete."""

from __future__ import annotations

import pytest
from moto.cloudformation.models import cloudformation_backends

from lambdas.shared.aws import client

from .conftest import BATCH, REALTIME, Scene

CHURN = "mlops-pipeline-churn-byompipelinerealtimebuiltin"
FRAUD = "mlops-pipeline-fraud-byompipelinebatchcustom"


def listed(scene: Scene) -> dict[str, dict]:
    status, answer = scene.call("GET", "/pipelines")
    assert status == 200, answer
    return {p["pipeline_name"]: p for p in answer["pipelines"]}


def stack_event(stack_name: str, status: str) -> dict:
    return {
        "source": "aws.cloudformation",
        "detail-type": "CloudFormation Stack Status Change",
        "resources": [f"arn:aws:cloudformation:us-east-1:123456789012:stack/{stack_name}/0a1b2c3d"],
        "detail": {"status-details": {"status": status}},
    }


def set_stack_status(stack_name: str, status: str) -> None:
    """What CloudFormation does on its own, outside the orchestrator (moto has no failing updates)."""
    backend = cloudformation_backends["123456789012"]["us-east-1"]
    next(s for s in backend.stacks.values() if s.name == stack_name).status = status


def test_a_provisioned_pipeline_is_listed_at_once_and_active_once_its_execution_succeeded(scene: Scene) -> None:
    scene.provision(REALTIME)

    churn = listed(scene)[CHURN]
    assert churn["state"] == "PROVISIONING"
    assert churn["reason"] == "the CodePipeline has not started its first execution yet"

    scene.run(CHURN)  # CodePipeline's execution state change reaches the orchestrator through EventBridge

    churn = listed(scene)[CHURN]
    assert churn["state"] == "ACTIVE" and "reason" not in churn
    assert churn["execution_id"] == "execution-1"


def test_a_failed_execution_is_listed_failed_with_the_failing_stage(scene: Scene) -> None:
    scene.provision(REALTIME)
    scene.run(CHURN, "Failed")

    churn = listed(scene)[CHURN]
    assert churn["state"] == "FAILED"
    assert churn["reason"].startswith("stage Source, action S3Source: Failed")
    status, failed = scene.call("GET", "/pipelines", query={"state": "failed"})
    assert status == 200 and [p["pipeline_name"] for p in failed["pipelines"]] == [CHURN]


def test_a_status_change_event_updates_the_listed_state(scene: Scene) -> None:
    scene.provision(REALTIME)
    listed(scene)
    set_stack_status(f"{CHURN}-codepipeline", "UPDATE_ROLLBACK_FAILED")

    scene.service.on_stack_event(stack_event(f"{CHURN}-codepipeline", "UPDATE_ROLLBACK_FAILED"))

    churn = listed(scene)[CHURN]
    assert (churn["state"], churn["stack_status"]) == ("FAILED", "UPDATE_ROLLBACK_FAILED")


def test_describe_brings_the_listed_state_up_to_date(scene: Scene) -> None:
    scene.provision(REALTIME)
    set_stack_status(f"{CHURN}-codepipeline", "UPDATE_IN_PROGRESS")  # its event is still on the way

    status, described = scene.call("GET", "/pipelines/{pipeline_name}", path={"pipeline_name": CHURN})

    assert status == 200 and described["state"] == "PROVISIONING"
    assert listed(scene)[CHURN]["state"] == "PROVISIONING"


def test_a_deleted_pipeline_leaves_the_list(scene: Scene) -> None:
    scene.provision(REALTIME)
    scene.provision(BATCH)

    status, answer = scene.call("DELETE", "/pipelines/{pipeline_name}", path={"pipeline_name": FRAUD})

    assert status == 202 and answer["done"] is True
    assert list(listed(scene)) == [CHURN]


def test_a_pipeline_whose_stack_was_deleted_by_hand_leaves_the_list_with_its_event(scene: Scene) -> None:
    scene.provision(REALTIME)
    client("cloudformation").delete_stack(StackName=f"{CHURN}-codepipeline")

    scene.service.on_stack_event(stack_event(f"{CHURN}-codepipeline", "DELETE_COMPLETE"))

    assert listed(scene) == {}


def test_events_of_blueprint_stacks_and_other_stacks_leave_the_index_as_it_is(scene: Scene) -> None:
    scene.provision(REALTIME)
    scene.deploy_blueprint(CHURN)
    before = listed(scene)

    scene.service.on_stack_event(stack_event(CHURN, "CREATE_COMPLETE"))
    scene.service.on_stack_event(stack_event("other-application", "CREATE_COMPLETE"))

    def read(pipelines: dict[str, dict]) -> dict[str, dict]:  # what was read, not when (`observed_at`)
        return {name: {k: v for k, v in p.items() if k != "observed_at"} for name, p in pipelines.items()}

    assert read(listed(scene)) == read(before)


def test_provisioning_answers_success_when_the_index_cannot_be_written(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    listed(scene)  # the index has been filled: only events and writes keep it current from here

    def unavailable(*_: object) -> None:
        raise RuntimeError("DynamoDB is unavailable")

    monkeypatch.setattr(scene.service.aws.index, "put", unavailable)
    answer = scene.provision(REALTIME)

    assert answer["pipeline_id"].startswith("arn:aws:cloudformation:")
    monkeypatch.undo()
    assert CHURN not in listed(scene)
    # The stack's next status change reaches the index.
    scene.service.on_stack_event(stack_event(f"{CHURN}-codepipeline", "CREATE_COMPLETE"))
    assert listed(scene)[CHURN]["state"] == "PROVISIONING"


def test_describe_answers_when_the_index_cannot_be_written(scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    scene.provision(REALTIME)

    def unavailable(*_: object) -> None:
        raise RuntimeError("DynamoDB is unavailable")

    monkeypatch.setattr(scene.service.aws.index, "put", unavailable)
    status, described = scene.call("GET", "/pipelines/{pipeline_name}", path={"pipeline_name": CHURN})

    assert status == 200 and described["pipeline_name"] == CHURN
