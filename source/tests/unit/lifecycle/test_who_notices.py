# SPDX-License-Identifier: Apache-2.0
"""The SNS notices name the principal: who changed a pipeline, who approved or rejected, with their comment."""

from __future__ import annotations

import dataclasses

import pytest

from lambdas.shared.aws import client
from tests.callers import ALICE, BOB
from tests.topic import notices, subscribed_queue

from .conftest import REALTIME, Scene

CHURN = "mlops-pipeline-churn-byompipelinerealtimebuiltin"
PIPELINE = "/pipelines/{pipeline_name}"
APPROVAL = "/pipelines/{pipeline_name}/approval"


@pytest.fixture
def heard(scene: Scene) -> tuple[Scene, str]:
    """The scene with a topic whose notices a queue keeps."""
    topic = client("sns").create_topic(Name="mlops-notices")["TopicArn"]
    scene.service.settings = dataclasses.replace(scene.service.settings, sns_topic_arn=topic)
    return scene, subscribed_queue(topic)


def _call(scene: Scene, method: str, resource: str, caller: str, body=None):
    return scene.call(method, resource, body, path={"pipeline_name": CHURN}, caller=caller)


def test_a_provision_and_an_update_name_who_made_them(heard: tuple[Scene, str]) -> None:
    scene, queue = heard
    scene.call("POST", "/provisionpipeline", REALTIME, caller=ALICE)
    scene.call("POST", "/provisionpipeline", {**REALTIME, "inference_instance": "ml.m5.xlarge"}, caller=ALICE)
    scene.call("POST", "/provisionpipeline", {**REALTIME, "inference_instance": "ml.m5.xlarge"}, caller=ALICE)

    assert notices(queue) == [
        (f"MLOps pipeline provision started: {CHURN}", f'Pipeline {CHURN}: provision started.\nBy: "{ALICE}"'),
        (f"MLOps pipeline update started: {CHURN}", f'Pipeline {CHURN}: update started.\nBy: "{ALICE}"'),
    ]  # the identical re-post changed nothing and tells nobody


def test_a_retry_and_a_delete_name_who_asked(heard: tuple[Scene, str]) -> None:
    scene, queue = heard
    scene.call("POST", "/provisionpipeline", REALTIME, caller=ALICE)
    scene.pipelines.record(CHURN, "Failed")
    notices(queue)

    assert _call(scene, "POST", PIPELINE + "/retry", ALICE)[0] == 200
    assert _call(scene, "DELETE", PIPELINE, ALICE)[0] in (200, 202)

    found = notices(queue)
    assert found[0] == (f"MLOps pipeline retry started: {CHURN}", f'Pipeline {CHURN}: retry started.\nBy: "{ALICE}"')
    subject, message = found[1]
    assert subject.startswith("MLOps pipeline delete ") and message.endswith(f'By: "{ALICE}"')


def test_a_teardown_approval_names_who_approved_and_quotes_the_comment(heard: tuple[Scene, str]) -> None:
    scene, queue = heard
    if not scene.multi:
        pytest.skip("teardown approvals are multi-account's")
    scene.call("POST", "/provisionpipeline", REALTIME, caller=ALICE)
    scene.deploy_blueprint(CHURN)
    assert _call(scene, "DELETE", PIPELINE, ALICE)[0] == 202
    notices(queue)

    comment = 'ok\nClick https://evil.example/login "now"'
    assert _call(scene, "POST", APPROVAL, BOB, {"stage": "teardown", "comment": comment})[0] == 200

    found = notices(queue)
    assert found[0] == (
        f"MLOps teardown approved: {CHURN}",
        f"The teardown approval of pipeline {CHURN} was approved.\n"
        f'Approved by: "{BOB}"\n'
        "Comment: \"ok Click evil.example/login 'now'\"",
    )
    assert found[1][0].startswith("MLOps pipeline delete ") and found[1][1].endswith(f'By: "{ALICE}"')


def test_a_rejection_names_who_rejected(heard: tuple[Scene, str]) -> None:
    scene, queue = heard
    if not scene.multi:
        pytest.skip("teardown approvals are multi-account's")
    scene.call("POST", "/provisionpipeline", REALTIME, caller=ALICE)
    scene.deploy_blueprint(CHURN)
    _call(scene, "DELETE", PIPELINE, ALICE)
    notices(queue)

    assert _call(scene, "POST", APPROVAL, ALICE, {"stage": "teardown", "approved": False})[0] == 200

    assert notices(queue) == [
        (
            f"MLOps teardown rejected: {CHURN}",
            f'The teardown approval of pipeline {CHURN} was rejected.\nRejected by: "{ALICE}"\nComment: none',
        )
    ]


def test_an_approved_rollback_tells_who_asked_and_who_approved_once(heard: tuple[Scene, str]) -> None:
    scene, queue = heard
    if not scene.multi:
        pytest.skip("rollback approvals are multi-account's")
    scene.call("POST", "/provisionpipeline", REALTIME, caller=ALICE)
    scene.deploy_blueprint(CHURN)
    scene.pipelines.record(CHURN, "Succeeded", scene.zip_version(CHURN))
    scene.call("POST", "/provisionpipeline", {**REALTIME, "inference_instance": "ml.m5.xlarge"}, caller=ALICE)
    scene.pipelines.record(CHURN, "Succeeded", scene.zip_version(CHURN))
    assert _call(scene, "POST", PIPELINE + "/rollback", ALICE)[0] == 200
    notices(queue)

    assert _call(scene, "POST", APPROVAL, BOB, {"stage": "rollback"})[0] == 200

    assert [subject for subject, _ in notices(queue)] == [
        f"MLOps rollback approved: {CHURN}",
        f"MLOps pipeline rollback started: {CHURN}",
    ]  # the rollback's own update is not told again
