# SPDX-License-Identifier: Apache-2.0
"""Config-file triggers report every outcome where the user looks: SNS, the commit, a result file."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from lambdas.pipeline_orchestration.adapters import Aws, Notifier
from lambdas.pipeline_orchestration.service import OrchestratorService
from tests.unit.conftest import example, make_settings

CONFIG_BUCKET = "team-config-bucket"


class RecordingNotifier(Notifier):
    def __init__(self):
        self.messages: list[tuple[str, str]] = []

    def publish(self, topic_arn, subject, message):
        super().publish(topic_arn, subject, message)
        self.messages.append((subject, message))


class FakeCodeCommit:
    """moto implements no GetFile, GetDifferences or comments: an in-memory repository."""

    def __init__(self, files_by_commit: dict[str, dict[str, bytes]], changed: set[str]):
        self.files_by_commit, self.changed = files_by_commit, changed
        self.comments: list[tuple[str, str | None, str, str]] = []
        self.fail_comments = False

    def get_file(self, repository, commit, path):
        return self.files_by_commit.get(commit, {}).get(path)

    def changed_paths(self, repository, before, after):
        return self.changed

    def post_comment(self, repository, before, after, content):
        if self.fail_comments:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PostCommentForComparedCommit")
        self.comments.append((repository, before, after, content))


def s3_event(key: str, bucket: str = CONFIG_BUCKET) -> dict:
    return {"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": bucket}, "object": {"key": key}}}]}


def push_event(branch="main", before="aaa111", after="bbb222", event="referenceUpdated") -> dict:
    return {
        "source": "aws.codecommit",
        "detail-type": "CodeCommit Repository State Change",
        "detail": {
            "event": event, "referenceType": "branch", "referenceName": branch, "repositoryName": "ml-configs",
            "commitId": after, "oldCommitId": before,
        },
    }  # fmt: skip


@pytest.fixture
def notifier():
    return RecordingNotifier()


@pytest.fixture
def config_bucket(aws_scene):
    aws_scene.create_bucket(Bucket=CONFIG_BUCKET)
    return aws_scene


def result_file(s3) -> dict:
    return json.loads(s3.get_object(Bucket=CONFIG_BUCKET, Key="mlops-config.result.json")["Body"].read())


def test_upload_provisions_and_reports_success(config_bucket, notifier):
    service = OrchestratorService(make_settings(), Aws(notifier=notifier))
    config_bucket.put_object(
        Bucket=CONFIG_BUCKET, Key="mlops-config.json", Body=json.dumps(example("byom_realtime_builtin"))
    )
    (result,) = service.on_s3_upload(s3_event("mlops-config.json"))
    assert result["status"] == "success" and result["message"] == "success: stack creation started"
    report = result_file(config_bucket)
    assert (
        report["pipeline_id"] == result["pipeline_id"] and report["source"] == f"s3://{CONFIG_BUCKET}/mlops-config.json"
    )
    subject, message = notifier.messages[0]
    assert subject == "MLOps config success" and result["pipeline_id"] in message


def test_upload_with_invalid_request_reports_every_error(config_bucket, notifier):
    service = OrchestratorService(make_settings(), Aws(notifier=notifier))
    body = {"pipeline_type": "byom_realtime_builtin", "model_name": "bad name"}
    config_bucket.put_object(Bucket=CONFIG_BUCKET, Key="mlops-config.json", Body=json.dumps(body))
    (result,) = service.on_s3_upload(s3_event("mlops-config.json"))
    assert result["status"] == "error"
    fields = {e["field"] for e in result_file(config_bucket)["errors"]}
    assert {"model_name", "inference_instance", "data_capture_location"} <= fields
    assert "- model_name:" in notifier.messages[0][1]
    assert boto3.client("cloudformation", region_name="us-east-1").describe_stacks()["Stacks"] == []


def test_upload_that_is_not_json_is_reported(config_bucket, notifier):
    service = OrchestratorService(make_settings(), Aws(notifier=notifier))
    config_bucket.put_object(Bucket=CONFIG_BUCKET, Key="mlops-config.json", Body=b"{not json")
    (result,) = service.on_s3_upload(s3_event("mlops-config.json"))
    assert result["status"] == "error" and "not valid JSON" in result["message"]
    assert "not valid JSON" in result_file(config_bucket)["message"]


def test_unreadable_upload_is_reported_not_swallowed(config_bucket, notifier):
    service = OrchestratorService(make_settings(), Aws(notifier=notifier))
    (result,) = service.on_s3_upload(s3_event("mlops-config.json"))  # the object does not exist
    assert result["status"] == "error" and "Could not read mlops-config.json" in result["message"]
    assert notifier.messages and "Could not read" in notifier.messages[0][1]


@pytest.mark.parametrize("key", ["mlops-config.json.bak", "team/mlops-config.json", "mlops-config.result.json"])
def test_other_objects_are_ignored(config_bucket, notifier, key):
    service = OrchestratorService(make_settings(), Aws(notifier=notifier))
    config_bucket.put_object(Bucket=CONFIG_BUCKET, Key=key, Body=json.dumps(example("byom_realtime_builtin")))
    assert service.on_s3_upload(s3_event(key)) == []
    assert notifier.messages == []


def test_url_encoded_keys_are_decoded(config_bucket, notifier):
    service = OrchestratorService(make_settings(), Aws(notifier=notifier))
    config_bucket.put_object(
        Bucket=CONFIG_BUCKET, Key="mlops-config.json", Body=json.dumps(example("byom_image_builder"))
    )
    (result,) = service.on_s3_upload(s3_event("mlops%2Dconfig.json"))
    assert result["status"] == "success"


def test_push_to_main_provisions_and_comments_on_the_commit(aws_scene, notifier):
    repo = FakeCodeCommit(
        {"bbb222": {"mlops-config.json": json.dumps(example("byom_batch_custom")).encode()}}, {"mlops-config.json"}
    )
    service = OrchestratorService(make_settings(), Aws(notifier=notifier, codecommit=repo))
    result = service.on_codecommit_push(push_event())
    assert result["status"] == "success"
    (repository, before, after, content) = repo.comments[0]
    assert (repository, before, after) == ("ml-configs", "aaa111", "bbb222")
    assert "success" in content and result["pipeline_id"] in content
    assert notifier.messages[0][0] == "MLOps config success"


def test_push_with_invalid_config_comments_every_error(aws_scene, notifier):
    bad = {"pipeline_type": "model_training_builtin", "model_name": "x", "instance_count": 0}
    repo = FakeCodeCommit({"bbb222": {"mlops-config.json": json.dumps(bad).encode()}}, {"mlops-config.json"})
    service = OrchestratorService(make_settings(), Aws(notifier=notifier, codecommit=repo))
    result = service.on_codecommit_push(push_event())
    assert result["status"] == "error"
    content = repo.comments[0][3]
    for field in ("instance_count", "training_data", "job_output_location", "algo_hyperparamaters"):
        assert f"- {field}:" in content


def test_push_that_does_not_touch_the_config_is_ignored(aws_scene, notifier):
    repo = FakeCodeCommit({}, {"README.md"})
    service = OrchestratorService(make_settings(), Aws(notifier=notifier, codecommit=repo))
    assert service.on_codecommit_push(push_event())["status"] == "ignored"
    assert repo.comments == [] and notifier.messages == []


@pytest.mark.parametrize("event", [push_event(branch="dev"), push_event(event="referenceDeleted")])
def test_other_branches_and_deletions_are_ignored(aws_scene, notifier, event):
    repo = FakeCodeCommit({}, {"mlops-config.json"})
    assert (
        OrchestratorService(make_settings(), Aws(notifier=notifier, codecommit=repo)).on_codecommit_push(event)[
            "status"
        ]
        == "ignored"
    )


def test_deleted_config_file_is_ignored(aws_scene, notifier):
    repo = FakeCodeCommit({"bbb222": {}}, {"mlops-config.json"})
    result = OrchestratorService(make_settings(), Aws(notifier=notifier, codecommit=repo)).on_codecommit_push(
        push_event()
    )
    assert result["status"] == "ignored" and "deleted" in result["message"]


def test_comment_failure_is_reported_in_the_notification(aws_scene, notifier):
    repo = FakeCodeCommit(
        {"bbb222": {"mlops-config.json": json.dumps(example("byom_image_builder")).encode()}}, {"mlops-config.json"}
    )
    repo.fail_comments = True
    result = OrchestratorService(make_settings(), Aws(notifier=notifier, codecommit=repo)).on_codecommit_push(
        push_event()
    )
    assert result["status"] == "success" and "could not comment" in result["report_error"]
    assert notifier.messages


def test_a_config_file_nested_too_deeply_is_reported_not_raised():
    from lambdas.pipeline_orchestration.triggers import outcome

    def provision(body):
        raise AssertionError("a config file that cannot be parsed is never provisioned")

    deep = outcome(provision, lambda: b"[" * 50_000 + b"]" * 50_000)
    assert deep["status"] == "error" and "too deeply" in deep["message"]
