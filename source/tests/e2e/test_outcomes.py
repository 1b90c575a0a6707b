# SPDX-License-Identifier: Apache-2.0
"""Outcomes over HTTP as a user sees them after things go wrong: the one pipeline state and its reason in list,
describe and /pipelinestatus; approvals that name their stage exactly."""

from __future__ import annotations

import time

from local.cli import EXIT_FAILED, EXIT_OK, main
from tests.e2e.conftest import LocalScene
from tests.e2e.test_pipelines import delete_until_gone, pipeline_name, provision

MONITOR = "mlops-pipeline-churn-xgb-byomdataqualitymonitor"


def settled(scene: LocalScene, name: str, timeout: float = 60) -> dict:
    """Describe the pipeline once its state is final (ACTIVE, FAILED, ROLLED_BACK) or waits for approval."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = scene.call("GET", f"/pipelines/{name}").body
        if described.get("state") in ("ACTIVE", "FAILED", "ROLLED_BACK", "WAITING_APPROVAL"):
            return described
        time.sleep(0.25)
    raise TimeoutError(f"{name} did not settle in {timeout} s")


def listed(scene: LocalScene, name: str, **query: str) -> dict | None:
    answer = scene.call("GET", "/pipelines", query=query)
    assert answer.status == 200, answer.body
    return next((p for p in answer.body["pipelines"] if p["pipeline_name"] == name), None)


def check_failed_everywhere(scene: LocalScene, name: str, pipeline_id: str, reason_part: str) -> dict:
    described = settled(scene, name)
    assert described["state"] == "FAILED", described
    assert reason_part in described["reason"], described["reason"]
    status = scene.call("POST", "/pipelinestatus", {"pipeline_id": pipeline_id}).body
    assert (status["state"], status["reason"]) == ("FAILED", described["reason"])
    # The index heard the pipeline's events: the list says FAILED too, and the filter takes any case.
    for state in ("FAILED", "failed"):
        found = listed(scene, name, state=state)
        assert found is not None and found["reason"] == described["reason"], found
    assert listed(scene, name, state="active") is None
    return described


def test_a_monitor_whose_output_bucket_is_missing_is_failed_with_the_reason(single_account: LocalScene):
    body = single_account.request("byom_data_quality_monitor")
    body["baseline_job_output_location"] = "no-such-bucket/baselines"
    answer = single_account.call("POST", "/provisionpipeline", body)
    assert answer.status == 200, answer.body

    described = check_failed_everywhere(single_account, MONITOR, answer.body["pipeline_id"], "NoSuchBucket")
    assert described["stage"] == "DeployCloudFormation"
    assert described["deployed"]["status"] != "CREATE_COMPLETE"
    # The baseline job the failed stack started is not reported Completed beside the failure.
    assert described["sagemaker"]["baseline_job"]["status"] == "STACK_FAILED", described["sagemaker"]
    delete_until_gone(single_account, MONITOR)


def test_an_image_builder_whose_source_zip_is_missing_fails_at_its_source_within_seconds(
    single_account: LocalScene, capsys
):
    body = single_account.request("byom_image_builder")
    body["custom_algorithm_docker"] = "containers/never-uploaded.zip"
    started = time.monotonic()
    answer = single_account.call("POST", "/provisionpipeline", body)
    assert answer.status == 200, answer.body
    name = pipeline_name(single_account, "byom_image_builder", body)

    described = check_failed_everywhere(
        single_account, name, answer.body["pipeline_id"], "containers/never-uploaded.zip cannot be read: NoSuchKey"
    )
    assert time.monotonic() - started < 30
    assert described["stage"] == "Source"
    # The CLI says so and exits 1, with and without --watch.
    for watch in ([], ["--watch", "--timeout", "30"]):
        code = main(["status", answer.body["pipeline_id"], *watch, "--endpoint", single_account.api.endpoint])
        out = capsys.readouterr().out
        assert code == EXIT_FAILED and f"FAILED: {described['reason']}" in out
    delete_until_gone(single_account, name)


def test_an_endpoint_keeps_the_name_the_request_gives_it(single_account: LocalScene):
    body = single_account.request("byom_realtime_builtin")
    name, _ = provision(single_account, "byom_realtime_builtin")
    described = settled(single_account, name)
    assert described["state"] == "ACTIVE", described.get("reason")
    assert described["sagemaker"]["endpoint"] == {"name": body["endpoint_name"], "status": "InService"}
    endpoints = single_account.aws("sagemaker").list_endpoints()["Endpoints"]
    assert body["endpoint_name"] in [e["EndpointName"] for e in endpoints]
    delete_until_gone(single_account, name)


def approval(scene: LocalScene, name: str, stage: str, approved: bool = True, comment: str = ""):
    body = {"stage": stage, "approved": approved, "comment": comment}
    return scene.call("POST", f"/pipelines/{name}/approval", body)


def test_a_batch_pipeline_whose_transform_job_fails_is_failed_with_the_jobs_reason(single_account: LocalScene):
    """The stack completes once its transform job is created; the job's failure is the pipeline's."""
    body = single_account.request("byom_batch_builtin")
    body["batch_inference_data"] = "no-such-bucket/batch/input.csv"
    answer = single_account.call("POST", "/provisionpipeline", body)
    assert answer.status == 200, answer.body
    name = pipeline_name(single_account, "byom_batch_builtin", body)

    described = check_failed_everywhere(single_account, name, answer.body["pipeline_id"], "transform job")
    assert described["deployed"]["status"] == "CREATE_COMPLETE"  # the stack itself worked
    job = described["sagemaker"]["transform_job"]
    assert job["status"] == "Failed" and f"transform job {job['name']} Failed: " in described["reason"], described
    assert job["failure_reason"] in described["reason"]
    delete_until_gone(single_account, name)


def test_a_model_artifact_that_does_not_exist_fails_the_deploy_with_sagemakers_reason(single_account: LocalScene):
    """SageMaker's CreateModel refuses model data that is not there; the endpoint is never created."""
    body = single_account.request("byom_realtime_builtin")
    body["model_artifact_location"] = "models/never-uploaded/model.tar.gz"
    answer = single_account.call("POST", "/provisionpipeline", body)
    assert answer.status == 200, answer.body
    name = pipeline_name(single_account, "byom_realtime_builtin", body)

    uri = f"s3://{single_account.settings.assets_bucket}/models/never-uploaded/model.tar.gz"
    described = check_failed_everywhere(
        single_account, name, answer.body["pipeline_id"], f"Model: Could not find model data at {uri}."
    )
    assert described["stage"] == "DeployCloudFormation"
    assert described["deployed"]["status"] == "CREATE_FAILED"
    endpoints = single_account.aws("sagemaker").list_endpoints()["Endpoints"]
    assert body["endpoint_name"] not in [e["EndpointName"] for e in endpoints]
    delete_until_gone(single_account, name)


def test_training_data_that_does_not_exist_fails_the_training_stack_with_sagemakers_reason(
    single_account: LocalScene,
):
    body = single_account.request("model_training_builtin")
    body["training_data"] = "training/never-uploaded/train.csv"
    answer = single_account.call("POST", "/provisionpipeline", body)
    assert answer.status == 200, answer.body
    name = pipeline_name(single_account, "model_training_builtin", body)

    uri = f"s3://{single_account.settings.assets_bucket}/training/never-uploaded/train.csv"
    described = check_failed_everywhere(
        single_account, name, answer.body["pipeline_id"], f'No S3 objects found under S3 URL "{uri}"'
    )
    assert "CreateTrainingJob" in described["reason"] and described["deployed"]["status"] == "CREATE_FAILED"
    delete_until_gone(single_account, name)


def test_a_batch_output_in_a_bucket_that_does_not_exist_fails_the_transform_job(single_account: LocalScene):
    body = single_account.request("byom_batch_builtin")
    body["batch_job_output_location"] = "no-such-output-bucket/batch/output"
    answer = single_account.call("POST", "/provisionpipeline", body)
    assert answer.status == 200, answer.body
    name = pipeline_name(single_account, "byom_batch_builtin", body)

    described = check_failed_everywhere(single_account, name, answer.body["pipeline_id"], "no-such-output-bucket")
    job = described["sagemaker"]["transform_job"]
    assert job["status"] == "Failed" and "NoSuchBucket" in job["failure_reason"], job
    delete_until_gone(single_account, name)


def test_an_artifact_rewritten_after_the_source_stage_fails_the_single_account_deploy(
    single_account: LocalScene, monkeypatch
):
    """The same attack on a single-account pipeline: the verification action before deploy_stack refuses the
    artifact, the blueprint stack is never created, and every surface says why."""
    from lambdas.shared.aws import client
    from local.runner import PipelineRunner

    copy_source = PipelineRunner._source_s3

    def then_rewrite(self, pipeline, execution, action):
        copy_source(self, pipeline, execution, action)
        for bucket, key in execution.artifacts.values():
            client("s3").put_object(Bucket=bucket, Key=key, Body=b"PK\x05\x06" + bytes(18))

    monkeypatch.setattr(PipelineRunner, "_source_s3", then_rewrite)
    name, pipeline_id = provision(single_account, "byom_batch_builtin")
    described = check_failed_everywhere(single_account, name, pipeline_id, "the orchestrator recorded for version")
    assert described["stage"] == "DeployCloudFormation", described
    assert "verify_artifact" in described["reason"], described["reason"]
    assert "is not deployed" in described["reason"], described["reason"]
    stacks = single_account.aws("cloudformation").list_stacks()["StackSummaries"]
    assert not [s for s in stacks if s["StackName"] == name and s["StackStatus"] != "DELETE_COMPLETE"], stacks
    # Only the rewrite is undone: undo() would also restore the caller an autouse fixture set, and the delete
    # would come from another principal than the owner.
    monkeypatch.setattr(PipelineRunner, "_source_s3", copy_source)
    delete_until_gone(single_account, name)


def test_approving_the_wrong_stage_is_refused_and_the_waiting_stage_still_waits(multi_account: LocalScene, capsys):
    name, pipeline_id = provision(multi_account, "byom_realtime_custom")
    described = settled(multi_account, name)
    assert (described["state"], described["approval_stage"]) == ("WAITING_APPROVAL", "staging"), described

    wrong = approval(multi_account, name, "prod")
    assert wrong.status == 409
    assert "the staging stage is waiting" in wrong.body["detailedMessage"]
    assert f"mlops approve {name} staging" in wrong.body["detailedMessage"]
    for unknown in ("Staging", "dev"):
        refused = approval(multi_account, name, unknown)
        assert refused.status == 400, refused.body
        assert refused.body["errors"][0]["field"] == "stage" and "staging, prod" in refused.body["errors"][0]["message"]

    status = multi_account.call("POST", "/pipelinestatus", {"pipeline_id": pipeline_id}).body
    assert (status["state"], status["approval_stage"]) == ("WAITING_APPROVAL", "staging")
    code = main(["status", pipeline_id, "--endpoint", multi_account.api.endpoint])
    assert code == EXIT_OK and f"mlops approve {name} staging" in capsys.readouterr().out
    assert listed(multi_account, name, state="waiting_approval") is not None

    assert approval(multi_account, name, "staging").status == 200
    deadline = time.monotonic() + 60
    while settled(multi_account, name).get("approval_stage") != "prod":
        assert time.monotonic() < deadline, "prod never waited for approval"
        time.sleep(0.25)
    assert approval(multi_account, name, "prod").status == 200
    final = settled(multi_account, name)
    deadline = time.monotonic() + 60
    while final["state"] == "WAITING_APPROVAL" and time.monotonic() < deadline:
        time.sleep(0.25)
        final = settled(multi_account, name)
    assert final["state"] == "ACTIVE", final
    delete_until_gone(multi_account, name)


def test_a_rejected_approval_fails_the_pipeline_with_the_reviewers_reason(multi_account: LocalScene):
    name, pipeline_id = provision(multi_account, "byom_batch_builtin")
    assert settled(multi_account, name)["state"] == "WAITING_APPROVAL"

    assert approval(multi_account, name, "staging", approved=False, comment="accuracy regressed").status == 200

    described = check_failed_everywhere(multi_account, name, pipeline_id, "accuracy regressed")
    assert "DeployStaging" in described["reason"]
    assert described["deployed"]["stages"]["staging"]["status"] == "NOT_DEPLOYED"
    delete_until_gone(multi_account, name)


def test_the_multi_account_demo_approves_each_stage_and_ends_active(multi_account: LocalScene, capsys):
    from local.demo import run_demo

    started = time.monotonic()
    assert run_demo(multi_account.orchestrator, timeout=90)
    out = capsys.readouterr().out
    assert time.monotonic() - started < 60
    assert "approving the staging stage" in out and "approving the prod stage" in out
    assert "state: ACTIVE" in out and "None" not in out
    for stage in ("dev", "staging", "prod"):
        assert f"{stage}: StackSet mlops-pipeline-sample-xgb-byompipelinerealtimebuiltin-{stage}-" in out
    delete_until_gone(multi_account, "mlops-pipeline-sample-xgb-byompipelinerealtimebuiltin")


def test_an_artifact_rewritten_after_the_source_stage_fails_the_stage_and_the_pipeline(
    multi_account: LocalScene, monkeypatch
):
    """A role that reached the artifact store rewrites the artifact between the source stage and the deploy:
    the deployer refuses it, and every surface says why."""
    from lambdas.shared.aws import client
    from local.runner import PipelineRunner

    copy_source = PipelineRunner._source_s3

    def then_rewrite(self, pipeline, execution, action):
        copy_source(self, pipeline, execution, action)
        for bucket, key in execution.artifacts.values():
            client("s3").put_object(Bucket=bucket, Key=key, Body=b"PK\x05\x06" + bytes(18))

    monkeypatch.setattr(PipelineRunner, "_source_s3", then_rewrite)
    name, pipeline_id = provision(multi_account, "byom_batch_builtin")
    described = check_failed_everywhere(multi_account, name, pipeline_id, "the orchestrator recorded for version")
    assert "DeployDev" in described["reason"], described["reason"]
    assert described["deployed"]["stages"]["dev"]["status"] == "NOT_DEPLOYED", described["deployed"]
    # Only the rewrite is undone: undo() would also restore the caller an autouse fixture set, and the delete
    # would come from another principal than the owner.
    monkeypatch.setattr(PipelineRunner, "_source_s3", copy_source)
    delete_until_gone(multi_account, name)
