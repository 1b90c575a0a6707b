# SPDX-License-Identifier: Apache-2.0
"""Approving the manual gate between stages through the API."""

from __future__ import annotations

import dataclasses
import json

import pytest

from lambdas.pipeline_orchestration import index
from lambdas.pipeline_orchestration.adapters import Aws, Pipelines
from lambdas.pipeline_orchestration.service import OrchestratorService
from tests.callers import ALICE, BOB, CAROL, context
from tests.topic import notices, subscribed_queue
from tests.unit.conftest import example, make_settings
from tests.unit.test_status import PIPELINE_NAME, StacksWithPipeline


class ApprovalPipelines(Pipelines):
    """GetPipelineState/PutApprovalResult as CodePipeline answers them (moto implements neither)."""

    def __init__(self, waiting: bool = True):
        self.waiting = waiting

    def state(self, name):
        execution = {"status": "InProgress", "token": "tok-1"} if self.waiting else {"status": "Succeeded"}
        actions = [
            {"actionName": "DeployDevStackSet", "latestExecution": {"status": "Succeeded"}},
            {"actionName": "DeployStaging", "latestExecution": execution},
        ]
        return {"pipelineName": name, "stageStates": [{"stageName": "DeployDev", "actionStates": actions}]}


@pytest.fixture
def approval_service(aws_scene, monkeypatch):
    pipelines = ApprovalPipelines()
    service = OrchestratorService(
        make_settings(multi_account=True), Aws(stacks=StacksWithPipeline(), pipelines=pipelines)
    )
    service.provision(example("byom_realtime_builtin"))
    sent = []
    from lambdas.shared import aws as shared_aws

    class FakeCodePipeline:
        def put_approval_result(self, **kwargs):
            sent.append(kwargs)

    real_client = shared_aws.client
    monkeypatch.setattr(
        "lambdas.pipeline_orchestration.adapters.client",
        lambda name, region=None: FakeCodePipeline() if name == "codepipeline" else real_client(name, region),
    )
    return service, pipelines, sent


def post(service, name, body, caller=BOB):
    event = {
        "requestContext": context(caller),
        "httpMethod": "POST",
        "resource": "/pipelines/{pipeline_name}/approval",
        "pathParameters": {"pipeline_name": name},
        "body": json.dumps(body),
    }
    response = index.handle(event, service)
    return response["statusCode"], json.loads(response["body"])


def test_approving_the_waiting_stage(approval_service):
    service, _, sent = approval_service
    status, body = post(service, PIPELINE_NAME, {"stage": "staging"})
    assert status == 200 and body["action"] == "DeployStaging"
    assert sent == [
        {
            "pipelineName": PIPELINE_NAME,
            "stageName": "DeployDev",
            "actionName": "DeployStaging",
            "result": {"summary": f"Approved by {BOB}", "status": "Approved"},
            "token": "tok-1",
        }
    ]


def test_rejecting_with_a_comment(approval_service):
    service, _, sent = approval_service
    status, _ = post(service, PIPELINE_NAME, {"stage": "staging", "approved": False, "comment": "metrics regressed"})
    assert status == 200 and sent[0]["result"] == {
        "summary": f"Rejected by {BOB}: metrics regressed",
        "status": "Rejected",
    }


def test_approving_prod_while_staging_waits_is_refused_naming_the_waiting_stage(approval_service):
    service, _, sent = approval_service
    status, answer = post(service, PIPELINE_NAME, {"stage": "prod"})
    assert status == 409 and sent == []
    assert "no approval waiting for prod: the staging stage is waiting" in answer["detailedMessage"]
    assert f"mlops approve {PIPELINE_NAME} staging" in answer["detailedMessage"]


def test_no_approval_waiting_at_all_is_a_conflict(approval_service):
    service, pipelines, sent = approval_service
    pipelines.waiting = False
    status, answer = post(service, PIPELINE_NAME, {"stage": "staging"})
    assert status == 409 and sent == []
    assert "no stage waits for approval" in answer["detailedMessage"]


@pytest.mark.parametrize("stage", ["Staging", "dev", "STAGING", "production"])
def test_a_stage_that_is_not_approvable_is_400_listing_the_valid_ones(approval_service, stage):
    service, _, sent = approval_service
    status, answer = post(service, PIPELINE_NAME, {"stage": stage})
    assert status == 400 and sent == []
    assert answer["errors"] == [
        {"field": "stage", "message": f"must be one of staging, prod, teardown, rollback; got '{stage}'"}
    ]


def test_an_approval_answered_a_moment_ago_is_a_conflict(approval_service, monkeypatch):
    from botocore.exceptions import ClientError

    service, pipelines, _ = approval_service

    def stale(*_):
        error = {"Error": {"Code": "InvalidApprovalTokenException", "Message": "token"}}
        raise ClientError(error, "PutApprovalResult")

    monkeypatch.setattr(pipelines, "put_approval", stale)
    status, answer = post(service, PIPELINE_NAME, {"stage": "staging"})
    assert status == 409 and "answered already" in answer["detailedMessage"]


def test_unknown_pipeline_is_404(approval_service):
    service, _, _ = approval_service
    assert post(service, "mlops-pipeline-nothing", {"stage": "staging"})[0] == 404


@pytest.mark.parametrize(
    "body", [{}, {"stage": ""}, {"stage": "staging", "approved": "yes"}, {"stage": "x", "comment": 5}]
)
def test_bad_approval_bodies_are_400(approval_service, body):
    service, _, _ = approval_service
    status, answer = post(service, PIPELINE_NAME, body)
    assert status == 400 and answer["errors"]


def _provisioned_by(service, caller, instance="ml.c5.xlarge"):
    """`caller` provisions the pipeline, or updates it to `instance` (an identical re-post changes nothing)."""
    from lambdas.pipeline_orchestration.identity import from_arn

    service.provision({**example("byom_realtime_builtin"), "inference_instance": instance}, from_arn(caller))


def test_the_principal_who_provisioned_may_not_approve_and_nothing_is_sent(approval_service):
    service, _, sent = approval_service
    _provisioned_by(service, ALICE)
    status, answer = post(service, PIPELINE_NAME, {"stage": "staging"}, caller=ALICE)
    assert status == 403 and sent == []
    assert ALICE in answer["detailedMessage"] and "AllowSelfApproval=Yes" in answer["detailedMessage"]


def test_the_principal_who_last_updated_may_not_approve_either(approval_service):
    service, _, sent = approval_service
    _provisioned_by(service, ALICE)
    service.settings = dataclasses.replace(service.settings, admin_principal_arns=(CAROL,))
    _provisioned_by(service, CAROL, "ml.m5.xlarge")  # an admin updates alice's pipeline
    status, _ = post(service, PIPELINE_NAME, {"stage": "staging"}, caller=CAROL)
    assert status == 403 and sent == []
    status, answer = post(service, PIPELINE_NAME, {"stage": "staging"}, caller=BOB)
    assert status == 200 and answer["approved_by"]["arn"] == BOB


def test_another_session_of_the_same_role_may_approve_but_the_same_session_may_not(approval_service):
    service, _, sent = approval_service
    role = "arn:aws:sts::123456789012:assumed-role/DataScience/alice@example.com"
    _provisioned_by(service, role)
    status, _ = post(service, PIPELINE_NAME, {"stage": "staging"}, caller=role)
    assert status == 403
    other = "arn:aws:sts::123456789012:assumed-role/DataScience/bob@example.com"
    status, answer = post(service, PIPELINE_NAME, {"stage": "staging"}, caller=other)
    assert status == 200 and answer["approved_by"]["session"] == "bob@example.com"
    assert sent[0]["result"]["summary"] == (
        "Approved by arn:aws:iam::123456789012:role/DataScience (session bob@example.com)"
    )


def test_the_provisioner_may_reject_their_own_request(approval_service):
    service, _, sent = approval_service
    _provisioned_by(service, ALICE)
    status, answer = post(service, PIPELINE_NAME, {"stage": "staging", "approved": False}, caller=ALICE)
    assert status == 200 and answer["rejected_by"]["arn"] == ALICE and sent[0]["result"]["status"] == "Rejected"


def test_self_approval_is_allowed_when_the_operator_allows_it(approval_service):
    service, _, sent = approval_service
    service.settings = dataclasses.replace(service.settings, allow_self_approval=True)
    _provisioned_by(service, ALICE)
    status, _ = post(service, PIPELINE_NAME, {"stage": "staging"}, caller=ALICE)
    assert status == 200 and len(sent) == 1


def test_an_approval_is_in_the_history_with_its_principal_and_comment(approval_service):
    service, _, _ = approval_service
    _provisioned_by(service, ALICE)
    post(service, PIPELINE_NAME, {"stage": "staging", "comment": "metrics fine"}, caller=BOB)
    entries = service.pipeline_history(PIPELINE_NAME)["history"]
    assert [(e["action"], e["principal"]["arn"]) for e in entries][-2:] == [("update", ALICE), ("approve", BOB)]
    assert entries[-1]["stage"] == "staging" and entries[-1]["comment"] == "metrics fine"


def test_a_long_comment_keeps_the_summary_within_codepipelines_512_characters(approval_service):
    service, _, sent = approval_service
    status, _ = post(service, PIPELINE_NAME, {"stage": "staging", "comment": "x" * 512})
    assert status == 200 and len(sent[0]["result"]["summary"]) == 512
    assert sent[0]["result"]["summary"].startswith(f"Approved by {BOB}: xxx")


def test_a_stage_decision_is_told_on_the_topic_naming_who_decided_with_the_comment_quoted(approval_service):
    service, _, _ = approval_service
    queue = subscribed_queue(service.settings.sns_topic_arn)

    status, _ = post(service, PIPELINE_NAME, {"stage": "staging", "comment": "looks fine\nsee http://x.example"})

    assert status == 200
    assert notices(queue) == [
        (
            f"MLOps staging approved: {PIPELINE_NAME}",
            f"The staging approval of pipeline {PIPELINE_NAME} was approved.\n"
            f'Approved by: "{BOB}"\n'
            'Comment: "looks fine see x.example"',
        )
    ]
