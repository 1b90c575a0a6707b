# SPDX-License-Identifier: Apache-2.0
"""Provisioning against moto: the order of side effects, re-posts, races and failures part-way."""

from __future__ import annotations

import io
import json
import threading
import zipfile

import boto3
import pytest
from botocore.exceptions import ClientError

from lambdas.pipeline_orchestration.adapters import Aws, Stacks, Storage
from lambdas.pipeline_orchestration.service import OrchestratorService
from lambdas.shared.errors import Conflict, ProvisioningFailed, ValidationFailed
from tests.unit.conftest import ASSETS, example, make_settings

REALTIME_STACK = "mlops-pipeline-churn-xgb-byompipelinerealtimebuiltin-codepipeline"
REALTIME_ZIP = "mlops_provisioned_pipelines/mlops-pipeline-churn-xgb-byompipelinerealtimebuiltin/template.zip"


def zip_entries(s3, key=REALTIME_ZIP) -> dict[str, bytes]:
    body = s3.get_object(Bucket=ASSETS, Key=key)["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def stack(name):
    return boto3.client("cloudformation", region_name="us-east-1").describe_stacks(StackName=name)["Stacks"][0]


def test_new_pipeline_writes_the_artifact_and_creates_the_wrapper_stack(service, aws_scene):
    answer = service.provision(example("byom_realtime_builtin"))
    assert answer["message"] == "success: stack creation started"
    created = stack(REALTIME_STACK)
    assert answer["pipeline_id"] == created["StackId"]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in created["Parameters"]}
    assert parameters["TemplateZipFileName"] == REALTIME_ZIP
    assert parameters["StackName"] == "mlops-pipeline-churn-xgb-byompipelinerealtimebuiltin"
    assert created["RoleARN"] == service.settings.cfn_role_arn
    tags = {t["Key"]: t["Value"] for t in created["Tags"]}
    assert tags["stack_name"] == REALTIME_STACK and tags["mlops:pipeline-type"] == "byom_realtime_builtin"

    entries = zip_entries(aws_scene)
    assert set(entries) == {"byom_realtime_inference_pipeline.yaml", "template_params.json"}
    params = json.loads(entries["template_params.json"])["Parameters"]
    assert params["ModelArtifactLocation"] == "models/churn/model.tar.gz"
    history = aws_scene.get_object(Bucket=ASSETS, Key=REALTIME_ZIP.replace("template.zip", "request.json"))
    assert json.loads(history["Body"].read())["model_name"] == "churn-xgb"


def test_multi_account_artifact_has_one_parameter_list_per_stage(multi_service, aws_scene):
    multi_service.provision(example("byom_batch_builtin"))
    entries = zip_entries(aws_scene, REALTIME_ZIP.replace("realtime", "batch"))
    stages = {f"{stage}_template_params.json" for stage in ("dev", "staging", "prod")}
    assert set(entries) == {"byom_batch_pipeline.yaml", *stages}
    pairs = json.loads(entries["prod_template_params.json"])
    assert {"ParameterKey": "BatchInputBucket", "ParameterValue": "my-assets-bucket"} in pairs


class RecordingAws(Aws):
    """Records the order of the side effects the provisioner performs."""

    def __init__(self, calls: list[str]):
        class RecordingStorage(Storage):
            def put(self, bucket, key, body, *args, **kwargs):
                calls.append(f"put {key.rsplit('/', 1)[-1]}")
                return super().put(bucket, key, body, *args, **kwargs)

            def delete(self, bucket, key, version_id=None):
                calls.append(f"delete {key.rsplit('/', 1)[-1]}")
                return super().delete(bucket, key, version_id)

        class RecordingStacks(Stacks):
            def create(self, **kwargs):
                calls.append("create stack")
                return super().create(**kwargs)

        super().__init__(storage=RecordingStorage(), stacks=RecordingStacks())


def test_the_artifact_exists_before_the_stack_that_reads_it(aws_scene):
    calls: list[str] = []
    OrchestratorService(make_settings(), RecordingAws(calls)).provision(example("byom_realtime_builtin"))
    # The owner is recorded once the stack is created (nothing to own before).
    assert calls == ["put request.json", "put template.zip", "create stack", "put owner.json"]


def test_posting_again_updates_the_artifact_and_keeps_the_stack(service, aws_scene):
    first = service.provision(example("byom_realtime_builtin"))
    body = example("byom_realtime_builtin")
    body["inference_instance"] = "ml.m5.xlarge"
    second = service.provision(body)
    assert second == {
        "message": f"Pipeline {REALTIME_STACK} is already provisioned. Updating template parameters.",
        "pipeline_id": first["pipeline_id"],
    }
    params = json.loads(zip_entries(aws_scene)["template_params.json"])["Parameters"]
    assert params["InferenceInstance"] == "ml.m5.xlarge"
    versions = aws_scene.list_object_versions(Bucket=ASSETS, Prefix=REALTIME_ZIP)["Versions"]
    assert len(versions) == 2


def test_invalid_request_creates_nothing(service, aws_scene):
    with pytest.raises(ValidationFailed):
        service.provision({"pipeline_type": "byom_realtime_builtin", "model_name": "x"})
    assert "Contents" not in aws_scene.list_objects_v2(Bucket=ASSETS)
    assert boto3.client("cloudformation", region_name="us-east-1").describe_stacks()["Stacks"] == []


def test_a_failed_stack_creation_removes_what_it_wrote(aws_scene):
    class FailingStacks(Stacks):
        def create(self, **kwargs):
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": 403}},
                "CreateStack",
            )

    service = OrchestratorService(make_settings(), Aws(stacks=FailingStacks()))
    with pytest.raises(ProvisioningFailed) as caught:
        service.provision(example("byom_realtime_builtin"))
    assert "Nothing was left behind" in caught.value.detail and caught.value.http_status == 403
    assert aws_scene.list_object_versions(Bucket=ASSETS).get("Versions", []) == []


def test_a_failed_stack_creation_after_an_update_restores_nothing_it_did_not_write(service, aws_scene):
    """Undo deletes only the versions this request wrote, so an existing pipeline keeps its artifact."""
    service.provision(example("byom_realtime_builtin"))

    class FailingStorage(Storage):
        def put(self, bucket, key, body, *args, **kwargs):
            if key.endswith("template.zip"):
                raise ClientError(
                    {"Error": {"Code": "SlowDown", "Message": "busy"}, "ResponseMetadata": {"HTTPStatusCode": 503}},
                    "PutObject",
                )
            return super().put(bucket, key, body, *args, **kwargs)

    failing = OrchestratorService(make_settings(), Aws(storage=FailingStorage()))
    changed = {**example("byom_realtime_builtin"), "inference_instance": "ml.m5.xlarge"}
    with pytest.raises(ProvisioningFailed, match="Could not write"):
        failing.provision(changed)
    keys = [v["Key"] for v in aws_scene.list_object_versions(Bucket=ASSETS)["Versions"]]
    history = [REALTIME_ZIP, REALTIME_ZIP.replace("template.zip", "request.json")]
    assert sorted(keys) == sorted([*history, REALTIME_ZIP.replace("template.zip", "owner.json")])


def test_undo_that_fails_reports_exactly_what_is_left(aws_scene):
    class FailingStacks(Stacks):
        def create(self, **kwargs):
            raise ClientError(
                {
                    "Error": {"Code": "InsufficientCapabilities", "Message": "x"},
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                },
                "CreateStack",
            )

    class UndeletableStorage(Storage):
        def delete(self, bucket, key, version_id=None):
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": 403}},
                "DeleteObject",
            )

    service = OrchestratorService(make_settings(), Aws(stacks=FailingStacks(), storage=UndeletableStorage()))
    with pytest.raises(ProvisioningFailed) as caught:
        service.provision(example("byom_realtime_builtin"))
    assert len(caught.value.left_behind) == 2
    assert all(item.startswith(f"s3://{ASSETS}/mlops_provisioned_pipelines/") for item in caught.value.left_behind)
    assert "Left behind" in caught.value.detail


def test_concurrent_posts_end_with_one_stack_and_an_answer_each(aws_scene):
    """Both requests look up the stack before either creates it; the loser's create meets AlreadyExists."""
    barrier = threading.Barrier(2)
    # CloudFormation creates a stack name once, atomically; moto's in-process backend is not thread-safe, so the
    # creates are serialized here as AWS serializes them.
    one_create_at_a_time = threading.Lock()

    class RacingStacks(Stacks):
        def describe(self, name_or_id):
            found = super().describe(name_or_id)
            if found is None and threading.current_thread().name.startswith("post"):
                barrier.wait(timeout=5)
            return found

        def create(self, **kwargs):
            with one_create_at_a_time:
                return super().create(**kwargs)

    service = OrchestratorService(make_settings(), Aws(stacks=RacingStacks()))
    answers = []
    threads = [
        threading.Thread(
            target=lambda: answers.append(service.provision(example("byom_realtime_builtin"))), name=f"post-{i}"
        )
        for i in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    created = [a for a in answers if a["message"] == "success: stack creation started"]
    assert len(created) in (1, 2), answers
    # Which of the two writes the plan and which creates the stack is up to the scheduler; the loser is told the
    # pipeline exists, or (having met AlreadyExists and found its own plan in the stack) that it was created: the
    # same pipeline either way, and the plan is written once.
    loser = answers[1] if answers[0] is created[0] else answers[0]
    assert loser["message"] in (
        f"Pipeline {REALTIME_STACK} is already provisioned. No updates are to be performed.",
        f"Pipeline {REALTIME_STACK} is already provisioned. Updating template parameters.",
        "success: stack creation started",
    )
    assert answers[0]["pipeline_id"] == answers[1]["pipeline_id"]
    stacks = boto3.client("cloudformation", region_name="us-east-1").describe_stacks()["Stacks"]
    assert [s["StackName"] for s in stacks] == [REALTIME_STACK]
    assert len(aws_scene.list_object_versions(Bucket=ASSETS, Prefix=REALTIME_ZIP)["Versions"]) == 1


def test_a_stack_in_a_dead_state_is_a_conflict(aws_scene):
    class DeadStacks(Stacks):
        def describe(self, name_or_id):
            return {"StackName": name_or_id, "StackId": "arn:x", "StackStatus": "ROLLBACK_COMPLETE"}

    service = OrchestratorService(make_settings(), Aws(stacks=DeadStacks()))
    with pytest.raises(Conflict, match="ROLLBACK_COMPLETE"):
        service.provision(example("byom_realtime_builtin"))
    assert "Contents" not in aws_scene.list_objects_v2(Bucket=ASSETS)


def test_image_builder_creates_then_updates_its_own_stack(service, aws_scene):
    name = "mlops-pipeline-sklearn-v4-byompipelineimagebuilder"
    first = service.provision(example("byom_image_builder"))
    assert first["message"] == "success: stack creation started"
    assert stack(name)["StackId"] == first["pipeline_id"]
    same = service.provision(example("byom_image_builder"))
    assert same["message"] in (
        f"Pipeline {name} is already provisioned. No updates are to be performed.",
        f"Pipeline {name} is being updated.",
    )
    body = example("byom_image_builder")
    body["custom_algorithm_docker"] = "containers/v2.zip"
    changed = service.provision(body)
    assert changed == {"message": f"Pipeline {name} is being updated.", "pipeline_id": first["pipeline_id"]}
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack(name)["Parameters"]}
    assert parameters["CustomImage"] == "containers/v2.zip"


def test_image_builder_without_changes_says_so(aws_scene):
    class NoChangeStacks(Stacks):
        def describe(self, name_or_id):
            return {"StackName": name_or_id, "StackId": "arn:stack/x", "StackStatus": "CREATE_COMPLETE"}

        def update(self, **kwargs):
            raise ClientError(
                {"Error": {"Code": "ValidationError", "Message": "No updates are to be performed."}}, "UpdateStack"
            )

    answer = OrchestratorService(make_settings(), Aws(stacks=NoChangeStacks())).provision(example("byom_image_builder"))
    assert answer["message"].endswith("No updates are to be performed.")


def test_image_builder_busy_stack_is_a_conflict(aws_scene):
    class BusyStacks(Stacks):
        def describe(self, name_or_id):
            return {"StackName": name_or_id, "StackId": "arn:stack/x", "StackStatus": "UPDATE_IN_PROGRESS"}

        def update(self, **kwargs):
            message = "Stack:x is in UPDATE_IN_PROGRESS state and can not be updated."
            raise ClientError({"Error": {"Code": "ValidationError", "Message": message}}, "UpdateStack")

    with pytest.raises(Conflict):
        OrchestratorService(make_settings(), Aws(stacks=BusyStacks())).provision(example("byom_image_builder"))


def test_dry_run_plans_and_changes_nothing(service, aws_scene):
    body = example("byom_realtime_builtin")
    body["dry_run"] = True
    answer = service.provision(body)
    assert answer["dry_run"] is True and answer["action"] == "create"
    assert answer["plan"]["stack_name"] == REALTIME_STACK
    assert "Contents" not in aws_scene.list_objects_v2(Bucket=ASSETS)
    service.provision(example("byom_realtime_builtin"))
    assert service.provision(body)["action"] == "update"


def test_warnings_are_part_of_the_answer(service):
    body = example("byom_realtime_builtin")
    body["problem_type"] = "Regression"
    assert service.provision(body)["warnings"] == [
        "problem_type is a field of another pipeline type, not of byom_realtime_builtin; it was ignored"
    ]


def test_the_artifact_is_byte_identical_for_the_same_request(service, aws_scene):
    service.provision(example("byom_realtime_builtin"))
    first = aws_scene.get_object(Bucket=ASSETS, Key=REALTIME_ZIP)["ETag"]
    service.provision(example("byom_realtime_builtin"))
    assert aws_scene.get_object(Bucket=ASSETS, Key=REALTIME_ZIP)["ETag"] == first


def test_an_identical_re_post_writes_nothing_and_says_so(service, aws_scene):
    first = service.provision(example("byom_realtime_builtin"))
    again = service.provision(example("byom_realtime_builtin"))

    assert again == {
        "message": f"Pipeline {REALTIME_STACK} is already provisioned. No updates are to be performed.",
        "pipeline_id": first["pipeline_id"],
    }
    versions = aws_scene.list_object_versions(Bucket=ASSETS, Prefix=REALTIME_ZIP.rsplit("/", 1)[0])["Versions"]
    # The request's history (owner.json, beside it, records who owns the pipeline).
    assert sorted(v["Key"].rsplit("/", 1)[-1] for v in versions) == ["owner.json", "request.json", "template.zip"]


def test_a_changed_re_post_writes_once(service, aws_scene):
    service.provision(example("byom_realtime_builtin"))
    changed = {**example("byom_realtime_builtin"), "inference_instance": "ml.m5.xlarge"}
    service.provision(changed)
    service.provision(changed)

    versions = aws_scene.list_object_versions(Bucket=ASSETS, Prefix=REALTIME_ZIP)["Versions"]
    assert len(versions) == 2


def test_a_twin_request_that_writes_first_leaves_one_version_and_one_stack(aws_scene):
    """Two identical requests at once: the second one's conditional write fails, it finds the plan written."""
    twin = OrchestratorService(make_settings(), Aws())

    class RacedStorage(Storage):
        raced = False

        def put(self, bucket, key, body, *args, **kwargs):
            if key.endswith("template.zip") and not RacedStorage.raced:
                RacedStorage.raced = True
                twin.provision(example("byom_realtime_builtin"))  # lands between our read and our write
            return super().put(bucket, key, body, *args, **kwargs)

    ours = OrchestratorService(make_settings(), Aws(storage=RacedStorage()))
    answer = ours.provision(example("byom_realtime_builtin"))

    assert answer["message"].endswith("No updates are to be performed.")
    versions = aws_scene.list_object_versions(Bucket=ASSETS, Prefix=REALTIME_ZIP.rsplit("/", 1)[0])["Versions"]
    # The request's history (owner.json, beside it, records who owns the pipeline).
    assert sorted(v["Key"].rsplit("/", 1)[-1] for v in versions) == ["owner.json", "request.json", "template.zip"]
    stacks = boto3.client("cloudformation", region_name="us-east-1").describe_stacks()["Stacks"]
    assert [s["StackName"] for s in stacks] == [REALTIME_STACK]
