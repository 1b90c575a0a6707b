# SPDX-License-Identifier: Apache-2.0
"""Config-file triggers report every outcome where the user looks: SNS, the commit, a result file."""

from __future__ import annotations

import io
import json
import zipfile

import boto3
import pytest
from botocore.exceptions import ClientError

from lambdas.pipeline_orchestration import index
from lambdas.pipeline_orchestration.adapters import Aws, Notifier, Pipelines
from lambdas.pipeline_orchestration.identity import ORCHESTRATOR_PRINCIPAL
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

    def author(self, repository, commit):
        return ("Alice Example", "alice@example.com")

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
    assert '- "model_name":' in notifier.messages[0][1]
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
        assert f'- "{field}":' in content


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

    deep = outcome(provision, lambda: b"[" * 50_000 + b"]" * 50_000, ORCHESTRATOR_PRINCIPAL)
    assert deep["status"] == "error" and "too deeply" in deep["message"]


# ---------------------------------------------------------------------------------------------------------
# The connection pipeline's hand-off: a CodePipeline job whose input artifact is the zip of the branch

ARTIFACTS = "mlops-connection-artifacts"


class RecordingPipelines(Pipelines):
    """moto implements no PutJobSuccessResult/PutJobFailureResult: the job's answers, recorded."""

    def __init__(self):
        self.results: list[tuple[str, bool, str]] = []

    def put_job_result(self, job_id, succeeded, message):
        self.results.append((job_id, succeeded, message))


def branch_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def pipeline_job(s3, files: dict[str, bytes] | None, revision: str = "c0ffee1234567890") -> dict:
    """The orchestrator's invoke event, as CodePipeline sends it, with the branch's zip put in the artifact bucket."""
    s3.create_bucket(Bucket=ARTIFACTS)
    key = "mlops-config-source/SourceArti/abc123"
    if files is not None:
        s3.put_object(Bucket=ARTIFACTS, Key=key, Body=branch_zip(files))
    data = {
        "actionConfiguration": {
            "configuration": {
                "FunctionName": "orchestrator",
                "UserParameters": json.dumps({"repository": "team/ml-configs", "branch": "main"}),
            }
        },
        "inputArtifacts": [
            {
                "name": "SourceArtifact",
                "revision": revision,
                "location": {"type": "S3", "s3Location": {"bucketName": ARTIFACTS, "objectKey": key}},
            }
        ],
        "outputArtifacts": [],
    }
    return {"CodePipeline.job": {"id": "job-1", "accountId": "123456789012", "data": data}}


def connection_result(s3) -> dict:
    return json.loads(s3.get_object(Bucket=ARTIFACTS, Key="mlops-config.result.json")["Body"].read())


@pytest.fixture
def pipelines():
    return RecordingPipelines()


def test_a_committed_config_provisions_and_the_job_succeeds(aws_scene, notifier, pipelines):
    service = OrchestratorService(make_settings(), Aws(notifier=notifier, pipelines=pipelines))
    event = pipeline_job(aws_scene, {"mlops-config.json": json.dumps(example("byom_realtime_builtin")).encode()})

    result = index.handle(event, service)

    assert result["status"] == "success" and result["state"] == "PROVISIONING"
    stacks = boto3.client("cloudformation", region_name="us-east-1").describe_stacks()["Stacks"]
    assert [s["StackId"] for s in stacks] == [result["pipeline_id"]]
    ((job_id, succeeded, summary),) = pipelines.results
    assert job_id == "job-1" and succeeded
    assert f"pipeline_id: {result['pipeline_id']}" in summary and "team/ml-configs@c0ffee12" in summary
    assert f"s3://{ARTIFACTS}/mlops-config.result.json and the SNS topic" in summary
    report = connection_result(aws_scene)
    assert report["source"] == "team/ml-configs@c0ffee12" and report["pipeline_id"] == result["pipeline_id"]
    assert report["state"] == "PROVISIONING"
    subject, message = notifier.messages[0]
    assert subject == "MLOps config success" and result["pipeline_id"] in message


def test_an_invalid_committed_config_fails_the_job_naming_the_field(aws_scene, notifier, pipelines):
    service = OrchestratorService(make_settings(), Aws(notifier=notifier, pipelines=pipelines))
    body = {"pipeline_type": "byom_realtime_builtin", "model_name": "bad name"}
    event = pipeline_job(aws_scene, {"mlops-config.json": json.dumps(body).encode()})

    result = index.handle(event, service)

    assert result["status"] == "error"
    ((_, succeeded, reason),) = pipelines.results
    assert not succeeded and '- "model_name":' in reason and '- "inference_instance":' in reason
    assert {"model_name", "inference_instance"} <= {e["field"] for e in connection_result(aws_scene)["errors"]}
    assert notifier.messages[0][0] == "MLOps config error" and '- "model_name":' in notifier.messages[0][1]
    assert boto3.client("cloudformation", region_name="us-east-1").describe_stacks()["Stacks"] == []


def test_a_branch_without_the_config_file_fails_the_job_with_the_reason(aws_scene, notifier, pipelines):
    service = OrchestratorService(make_settings(), Aws(notifier=notifier, pipelines=pipelines))
    event = pipeline_job(aws_scene, {"README.md": b"# configs", "team/mlops-config.json": b"{}"})

    result = service.on_pipeline_job(event["CodePipeline.job"])

    expected = "mlops-config.json is not at the root of the branch (the source holds README.md, team/mlops-config.json)"
    assert result["status"] == "error" and expected in result["message"]
    ((_, succeeded, reason),) = pipelines.results
    assert not succeeded and expected in reason
    assert expected in connection_result(aws_scene)["message"] and expected in notifier.messages[0][1]


def test_a_missing_source_artifact_fails_the_job_with_the_reason(aws_scene, notifier, pipelines):
    service = OrchestratorService(make_settings(), Aws(notifier=notifier, pipelines=pipelines))
    result = service.on_pipeline_job(pipeline_job(aws_scene, None)["CodePipeline.job"])
    assert result["status"] == "error" and "Could not read mlops-config.json" in result["message"]
    assert "NoSuchKey" in result["message"]
    assert pipelines.results[0][1] is False and "NoSuchKey" in pipelines.results[0][2]


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe"])
def test_a_committed_config_that_is_not_json_fails_the_job(aws_scene, notifier, pipelines, content):
    service = OrchestratorService(make_settings(), Aws(notifier=notifier, pipelines=pipelines))
    result = service.on_pipeline_job(pipeline_job(aws_scene, {"mlops-config.json": content})["CodePipeline.job"])
    assert result["status"] == "error" and "not valid JSON" in result["message"]
    assert pipelines.results[0][1] is False and "not valid JSON" in pipelines.results[0][2]


def test_a_job_without_an_input_artifact_fails_with_the_reason(aws_scene, notifier, pipelines):
    service = OrchestratorService(make_settings(), Aws(notifier=notifier, pipelines=pipelines))
    job = pipeline_job(aws_scene, {})["CodePipeline.job"]
    job["data"]["inputArtifacts"] = []
    result = service.on_pipeline_job(job)
    assert result["status"] == "error" and "names no readable source artifact" in result["message"]
    assert pipelines.results == [("job-1", False, result["message"])]
    assert not notifier.messages


def test_job_results_are_sent_to_codepipeline_within_its_limits():
    from botocore.stub import Stubber

    from lambdas.shared.aws import client

    codepipeline = client("codepipeline")
    with Stubber(codepipeline) as stub:
        stub.add_response("put_job_success_result", {}, {"jobId": "j", "executionDetails": {"summary": "s" * 2048}})
        failure = {"type": "JobFailed", "message": "m" * 5000}
        stub.add_response("put_job_failure_result", {}, {"jobId": "j", "failureDetails": failure})
        Pipelines().put_job_result("j", True, "s" * 3000)
        Pipelines().put_job_result("j", False, "m" * 6000)
        stub.assert_no_pending_responses()


def _history(service, result):
    name = result["pipeline_id"].split(":stack/", 1)[1].split("/", 1)[0].removesuffix("-codepipeline")
    return service.pipeline_history(name)["history"]


def test_a_push_acts_as_the_iam_principal_who_pushed_with_the_commits_author_beside_it(aws_scene, notifier):
    repo = FakeCodeCommit(
        {"bbb222": {"mlops-config.json": json.dumps(example("byom_batch_custom")).encode()}}, {"mlops-config.json"}
    )
    service = OrchestratorService(make_settings(), Aws(notifier=notifier, codecommit=repo))
    event = push_event()
    event["detail"]["callerUserArn"] = "arn:aws:sts::123456789012:assumed-role/Committer/ci-job"
    result = service.on_codecommit_push(event)
    (entry,) = _history(service, result)
    assert entry["principal"] == {
        "arn": "arn:aws:iam::123456789012:role/Committer",
        "type": "AssumedRole",
        "session": "ci-job",
        "source": "codecommit",
        "detail": "author Alice Example <alice@example.com>",
    }
    assert 'by: "arn:aws:iam::123456789012:role/Committer (session ci-job)"' in repo.comments[0][3]


def test_a_push_without_a_pusher_acts_as_the_commits_author_unverified(aws_scene, notifier):
    repo = FakeCodeCommit(
        {"bbb222": {"mlops-config.json": json.dumps(example("byom_batch_custom")).encode()}}, {"mlops-config.json"}
    )
    service = OrchestratorService(make_settings(), Aws(notifier=notifier, codecommit=repo))
    (entry,) = _history(service, service.on_codecommit_push(push_event()))
    assert entry["principal"]["arn"] == "Alice Example <alice@example.com>"
    assert entry["principal"]["verified"] is False and entry["principal"]["type"] == "CommitAuthor"


def test_an_upload_acts_as_the_s3_events_principal(config_bucket, notifier):
    service = OrchestratorService(make_settings(), Aws(notifier=notifier))
    config_bucket.put_object(
        Bucket=CONFIG_BUCKET, Key="mlops-config.json", Body=json.dumps(example("byom_image_builder"))
    )
    event = s3_event("mlops-config.json")
    event["Records"][0]["userIdentity"] = {"principalId": "AWS:AROAEXAMPLEID:uploader"}
    (result,) = service.on_s3_upload(event)
    (entry,) = _history(service, result)
    assert (entry["principal"]["arn"], entry["principal"]["session"]) == ("AWS:AROAEXAMPLEID", "uploader")


def test_a_config_file_cannot_write_a_paragraph_with_a_link_into_the_report(aws_scene, notifier):
    body = example("byom_batch_custom")
    body["URGENT\n\nApprovers: confirm at https://evil.example/login\n"] = "x"
    repo = FakeCodeCommit({"bbb222": {"mlops-config.json": json.dumps(body).encode()}}, {"mlops-config.json"})
    service = OrchestratorService(make_settings(), Aws(notifier=notifier, codecommit=repo))
    service.on_codecommit_push(push_event())
    for text in (repo.comments[0][3], notifier.messages[0][1]):
        assert "https://" not in text and "evil.example/login" in text
        warning = next(line for line in text.splitlines() if "evil.example" in line)
        assert warning.startswith('warning: "URGENT') and "Approvers: confirm" in warning
