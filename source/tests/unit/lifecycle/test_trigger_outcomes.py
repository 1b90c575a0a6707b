# SPDX-License-Identifier: Apache-2.0
"""The config triggers report the final outcome of the pipeline they started, where the request came from."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest

from lambdas.pipeline_orchestration.adapters import Notifier
from lambdas.shared.aws import client
from tests.unit.test_triggers import FakeCodeCommit, RecordingNotifier, push_event, s3_event

from .conftest import REALTIME, Scene

CHURN = "mlops-pipeline-churn-byompipelinerealtimebuiltin"
CONFIG_BUCKET = "team-config-bucket"
TOPIC = "arn:aws:sns:us-east-1:123456789012:mlops-notifications"


@pytest.fixture
def notifier(scene: Scene) -> RecordingNotifier:
    client("sns").create_topic(Name="mlops-notifications")
    recording = RecordingNotifier()
    scene.service.aws.notifier = recording
    scene.service.settings = scene.settings.__class__(**{**vars(scene.settings), "sns_topic_arn": TOPIC})
    return recording


def result_file() -> dict:
    body = client("s3").get_object(Bucket=CONFIG_BUCKET, Key="mlops-config.result.json")["Body"].read()
    return json.loads(body)


@pytest.mark.parametrize("outcome", ["Succeeded", "Failed"])
def test_the_result_file_tells_the_pipelines_final_state(scene: Scene, notifier: RecordingNotifier, outcome: str):
    s3 = client("s3")
    s3.create_bucket(Bucket=CONFIG_BUCKET)
    s3.put_object(Bucket=CONFIG_BUCKET, Key="mlops-config.json", Body=json.dumps(REALTIME))

    (accepted,) = scene.service.on_s3_upload(s3_event("mlops-config.json"))

    assert accepted["status"] == "success" and result_file()["state"] == "PROVISIONING"
    assert "reported here when it ends" in result_file()["reason"]

    scene.run(CHURN, outcome)

    final = result_file()
    if outcome == "Succeeded":
        assert final["state"] == "ACTIVE" and "reason" not in final
    else:
        assert final["state"] == "FAILED" and final["reason"].startswith("stage Source, action S3Source")
    assert final["message"] == f"Pipeline {CHURN} is {final['state']}."
    subject, message = notifier.messages[-1]
    assert subject == f"MLOps pipeline {final['state']}: {CHURN}" and f"state: {final['state']}" in message

    # Reported once: later events of the same pipeline leave the report as it is.
    count = len(notifier.messages)
    scene.run(CHURN, "Succeeded" if outcome == "Failed" else "Failed")
    assert len(notifier.messages) == count and result_file()["state"] == final["state"]


def test_the_commit_hears_the_final_state_in_a_second_comment(scene: Scene, notifier: RecordingNotifier):
    repository = FakeCodeCommit({"bbb222": {"mlops-config.json": json.dumps(REALTIME).encode()}}, {"mlops-config.json"})
    scene.service.aws.codecommit = repository

    scene.service.on_codecommit_push(push_event())
    assert len(repository.comments) == 1 and "state: PROVISIONING" in repository.comments[0][3]
    scene.run(CHURN, "Failed")

    assert len(repository.comments) == 2
    (name, before, after, text) = repository.comments[1]
    assert (name, before, after) == ("ml-configs", "aaa111", "bbb222")
    assert "state: FAILED (stage Source, action S3Source" in text


def test_an_execution_that_ended_before_the_request_is_not_its_outcome(scene: Scene, notifier: RecordingNotifier):
    scene.provision(REALTIME)
    scene.run(CHURN, "Succeeded")  # an earlier request's execution, a while ago
    scene.pipelines.runs[f"{CHURN}-codepipeline-pipeline"][0]["startTime"] -= timedelta(minutes=5)
    repository = FakeCodeCommit({"bbb222": {"mlops-config.json": json.dumps(REALTIME).encode()}}, {"mlops-config.json"})
    scene.service.aws.codecommit = repository
    scene.service.on_codecommit_push(push_event())

    scene.service.on_stack_event(
        {
            "source": "aws.cloudformation",
            "resources": [f"arn:aws:cloudformation:us-east-1:1:stack/{CHURN}-codepipeline/x"],
        }
    )

    assert len(repository.comments) == 1  # still waiting for the execution the request starts


def test_notices_keep_sns_subjects_under_100_characters_and_a_failed_publish_never_raises(
    scene: Scene, caplog: pytest.LogCaptureFixture
):
    client("sns").create_topic(Name="mlops-notifications")
    long_name = "mlops-pipeline-" + "x" * 120

    assert Notifier().publish(TOPIC, f"MLOps pipeline FAILED:\n{long_name}", "text") is True
    with caplog.at_level(logging.ERROR):
        sent = Notifier().publish("arn:aws:sns:us-east-1:123456789012:no-such-topic", "subject", "text")
    assert sent is False
    assert "not sent" in caplog.text and "NotFound" in caplog.text


def test_a_connection_sourced_config_hears_the_final_state_in_its_result_file(
    scene: Scene, notifier: RecordingNotifier
):
    from tests.unit.test_triggers import ARTIFACTS, RecordingPipelines, pipeline_job

    answers = RecordingPipelines()
    scene.pipelines.put_job_result = answers.put_job_result  # type: ignore[method-assign]
    event = pipeline_job(client("s3"), {"mlops-config.json": json.dumps(REALTIME).encode()})

    accepted = scene.service.on_pipeline_job(event["CodePipeline.job"])
    assert accepted["status"] == "success" and answers.results[0][1] is True
    scene.run(CHURN, "Failed")

    body = client("s3").get_object(Bucket=ARTIFACTS, Key="mlops-config.result.json")["Body"].read()
    final = json.loads(body)
    assert final["state"] == "FAILED" and final["reason"].startswith("stage Source, action S3Source")
    assert final["source"] == "team/ml-configs@c0ffee12"
    assert notifier.messages[-1][0] == f"MLOps pipeline FAILED: {CHURN}"
