# SPDX-License-Identifier: Apache-2.0
"""The lifecycle routes through the Lambda handler, in both account modes (the `scene` fixture)."""

from __future__ import annotations

import json

import pytest

from lambdas.shared.aws import client

from .conftest import ASSETS, BATCH, REALTIME, TRAINING, Scene

CHURN = "mlops-pipeline-churn-byompipelinerealtimebuiltin"
FRAUD = "mlops-pipeline-fraud-byompipelinebatchcustom"
HOUSE = "mlops-pipeline-house-modeltraining"
ROUTE = "/pipelines/{pipeline_name}"


def _keys(prefix: str) -> list[str]:
    listing = client("s3").list_objects_v2(Bucket=ASSETS, Prefix=prefix)
    return [o["Key"] for o in listing.get("Contents", [])]


def _stack_names() -> set[str]:
    return {s["StackName"] for s in client("cloudformation").describe_stacks()["Stacks"]}


def _fields(answer: dict) -> set[str]:
    return {e["field"] for e in answer["errors"]}


# ---------------------------------------------------------------------------------------------------------
# GET /pipelines


def test_list_shows_pipelines_newest_first_with_their_type_mode_and_state(scene: Scene) -> None:
    for body in (REALTIME, BATCH, TRAINING):
        scene.provision(body)
    scene.run(CHURN)  # it deploys a blueprint stack (or StackSets): not a pipeline of its own

    status, answer = scene.call("GET", "/pipelines")

    assert status == 200
    assert [p["pipeline_name"] for p in answer["pipelines"]] == [HOUSE, FRAUD, CHURN]
    churn = answer["pipelines"][2]
    assert churn["pipeline_type"] == "byom_realtime_builtin"
    assert churn["mode"] == ("multi-account" if scene.multi else "single-account")
    assert churn["state"] == "ACTIVE"
    assert churn["stack_name"] == f"{CHURN}-codepipeline"
    assert churn["created"] and churn["updated"]
    # Training deploys in the orchestrator's own account in every mode.
    assert answer["pipelines"][0]["mode"] == "single-account"
    assert answer["next_token"] is None


def test_list_filters_by_type_and_state(scene: Scene) -> None:
    for body in (REALTIME, BATCH, TRAINING):
        scene.provision(body)
    scene.run(CHURN)
    scene.run(FRAUD, "Failed")

    _, by_type = scene.call("GET", "/pipelines", query={"pipeline_type": "BYOM_batch_custom"})
    _, active = scene.call("GET", "/pipelines", query={"state": "active"})
    _, failed = scene.call("GET", "/pipelines", query={"state": "Failed"})
    _, provisioning = scene.call("GET", "/pipelines", query={"state": "PROVISIONING"})

    assert [p["pipeline_name"] for p in by_type["pipelines"]] == [FRAUD]
    assert [p["pipeline_name"] for p in active["pipelines"]] == [CHURN]
    assert [p["pipeline_name"] for p in failed["pipelines"]] == [FRAUD]
    assert [p["pipeline_name"] for p in provisioning["pipelines"]] == [HOUSE]


def test_list_pages_with_a_token_bound_to_its_filters(scene: Scene) -> None:
    for body in (REALTIME, BATCH, TRAINING):
        scene.provision(body)

    _, first = scene.call("GET", "/pipelines", query={"limit": "2"})
    _, second = scene.call("GET", "/pipelines", query={"limit": "2", "next_token": first["next_token"]})
    status, other_filter = scene.call(
        "GET", "/pipelines", query={"limit": "2", "state": "ACTIVE", "next_token": first["next_token"]}
    )

    assert [p["pipeline_name"] for p in first["pipelines"]] == [HOUSE, FRAUD]
    assert [p["pipeline_name"] for p in second["pipelines"]] == [CHURN]
    assert second["next_token"] is None
    assert status == 400 and _fields(other_filter) == {"next_token"}


def test_list_rejects_bad_query_parameters_all_at_once(scene: Scene) -> None:
    status, answer = scene.call(
        "GET",
        "/pipelines",
        query={"pipeline_type": "byom_realtime_bultin", "state": "sleeping", "limit": "1000", "colour": "red"},
    )

    assert status == 400
    assert _fields(answer) == {"pipeline_type", "state", "limit", "colour"}
    assert "did you mean 'byom_realtime_builtin'" in answer["detailedMessage"]


def test_list_rejects_a_token_it_did_not_issue(scene: Scene) -> None:
    status, answer = scene.call("GET", "/pipelines", query={"next_token": "not-a-token"})

    assert status == 400 and _fields(answer) == {"next_token"}


# ---------------------------------------------------------------------------------------------------------
# GET /pipelines/{pipeline_name}


def test_describe_shows_request_plan_stages_deployment_and_sagemaker(scene: Scene) -> None:
    scene.provision(REALTIME)
    scene.deploy_blueprint(CHURN, {"SageMakerEndpointName": "churn-endpoint"})
    scene.pipelines.record(CHURN, "Succeeded", scene.zip_version(CHURN))
    client("sagemaker").create_model(
        ModelName="m",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker",
        PrimaryContainer={"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"},
    )
    client("sagemaker").create_endpoint_config(
        EndpointConfigName="churn-config",
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.m5.large"}],
    )
    client("sagemaker").create_endpoint(EndpointName="churn-endpoint", EndpointConfigName="churn-config")

    status, answer = scene.call("GET", ROUTE, path={"pipeline_name": CHURN})

    assert status == 200
    assert answer["request"]["model_name"] == "churn"
    assert answer["plan"]["stack_name"] == f"{CHURN}-codepipeline"
    assert [s["name"] for s in answer["codepipeline"]["stages"]] == ["Source", "DeployCloudFormation"]
    assert answer["codepipeline"]["stages"][1]["status"] == "Succeeded"
    if scene.multi:
        assert set(answer["deployed"]["stages"]) == {"dev", "staging", "prod"}
        assert answer["deployed"]["stages"]["prod"]["account_id"] == "333333333333"
        assert set(answer["sagemaker"]) == {"dev", "staging", "prod"}
    else:
        assert answer["deployed"]["stack_name"] == CHURN
        assert answer["deployed"]["status"] == "CREATE_COMPLETE"
        assert answer["sagemaker"]["endpoint"] == {"name": "churn-endpoint", "status": "InService"}


def test_describe_shows_the_training_job_behind_a_training_pipeline(scene: Scene) -> None:
    scene.provision(TRAINING)

    status, answer = scene.call("GET", ROUTE, path={"pipeline_name": HOUSE})

    assert status == 200
    job = answer["sagemaker"]["training_job"]
    assert job["name"].startswith("house-training-") and job["status"] == "NOT_FOUND"


def test_describe_accepts_the_codepipeline_stack_name_too(scene: Scene) -> None:
    scene.provision(REALTIME)

    status, answer = scene.call("GET", ROUTE, path={"pipeline_name": f"{CHURN}-codepipeline"})

    assert status == 200 and answer["pipeline_name"] == CHURN


def test_describe_unknown_pipeline_is_404(scene: Scene) -> None:
    status, answer = scene.call("GET", ROUTE, path={"pipeline_name": "mlops-pipeline-nope-byompipelinebatchcustom"})

    assert status == 404 and "No pipeline named" in answer["detailedMessage"]


def test_describe_a_blueprint_stack_is_not_a_pipeline(scene: Scene) -> None:
    client("cloudformation").create_stack(StackName="mlops-pipeline-other", TemplateBody=_topic())

    status, _ = scene.call("GET", ROUTE, path={"pipeline_name": "mlops-pipeline-other"})

    assert status == 404


def test_describe_malformed_name_is_400(scene: Scene) -> None:
    status, answer = scene.call("GET", ROUTE, path={"pipeline_name": "no spaces/allowed"})

    assert status == 400 and _fields(answer) == {"pipeline_name"}


def _topic() -> str:
    return json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})


# ---------------------------------------------------------------------------------------------------------
# DELETE /pipelines/{pipeline_name}


def test_delete_tears_down_in_order_keeps_user_data_and_answers_202(scene: Scene) -> None:
    scene.provision(REALTIME)
    scene.deploy_blueprint(CHURN)
    prefix = f"mlops_provisioned_pipelines/{CHURN}/"

    status, answer = scene.delete(CHURN)

    assert status == 202
    assert answer["done"] is True
    steps = answer["started"]
    wrapper_step = next(i for i, s in enumerate(steps) if "CodePipeline stack" in s)
    deployed_steps = [i for i, s in enumerate(steps) if "blueprint stack" in s or "StackSet" in s]
    objects_step = next(i for i, s in enumerate(steps) if "objects" in s)
    assert deployed_steps and max(deployed_steps) < wrapper_step < objects_step
    if scene.multi:
        assert sum("delete StackSet" in s for s in steps) == 3
        stack_sets = client("cloudformation").list_stack_sets()["Summaries"]
        assert len(stack_sets) == 3 and {s["Status"] for s in stack_sets} == {"DELETED"}
    assert {"field": "data_capture_location", "what": "data captured from the endpoint"}.items() <= (
        answer["kept"][0].items()
    )
    assert any(k["location"] == "s3://mlops-assets/models/churn.tar.gz" for k in answer["kept"])
    assert not {CHURN, f"{CHURN}-codepipeline"} & _stack_names()
    assert _keys(prefix) == []


def test_delete_refused_by_s3_says_which_objects_are_left_and_can_be_called_again(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    scene.provision(BATCH)
    s3 = client("s3")
    real_delete_objects = s3.delete_objects

    def refused(Bucket: str, Delete: dict) -> dict:
        first = Delete["Objects"][0]["Key"]
        return {"Errors": [{"Key": first, "Code": "AccessDenied", "Message": "Access Denied"}]}

    monkeypatch.setattr(s3, "delete_objects", refused)
    status, answer = scene.call("DELETE", ROUTE, path={"pipeline_name": FRAUD})

    assert status == 500
    assert answer["message"] == "Deletion failed"
    assert f"objects in s3://{ASSETS} (the first, mlops_provisioned_pipelines/{FRAUD}/" in answer["detailedMessage"]
    assert "AccessDenied: Access Denied). Fix the cause and call DELETE again" in answer["detailedMessage"]
    assert [uri.split("/")[2:4] for uri in answer["left_behind"]] == [[ASSETS, "mlops_provisioned_pipelines"]]

    monkeypatch.setattr(s3, "delete_objects", real_delete_objects)
    status, answer = scene.call("DELETE", ROUTE, path={"pipeline_name": FRAUD})
    assert status == 202 and answer["done"] is True
    assert _keys(f"mlops_provisioned_pipelines/{FRAUD}/") == []


def test_the_service_answers_a_delete_with_its_outcome_and_the_route_with_202(scene: Scene) -> None:
    """The status is the route's: the service's result (what local mode and events use) is the outcome alone."""
    scene.provision(BATCH)

    outcome = scene.service.delete_pipeline(FRAUD)

    assert set(outcome) == {"message", "pipeline_name", "done", "started", "waiting_for", "remaining", "kept"}
    assert outcome["done"] is True and outcome["message"] == f"Pipeline {FRAUD} is deleted."


def test_delete_again_after_it_finished_is_404(scene: Scene) -> None:
    scene.provision(BATCH)
    scene.call("DELETE", ROUTE, path={"pipeline_name": FRAUD})

    status, _ = scene.call("DELETE", ROUTE, path={"pipeline_name": FRAUD})

    assert status == 404


def test_delete_waits_for_the_deployed_stacks_and_is_continued_by_stack_events(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real stack deletions take minutes: the CodePipeline stack goes only once the blueprint is gone."""
    scene.provision(REALTIME)
    scene.deploy_blueprint(CHURN)
    stacks = scene.service.aws.stacks
    deletions: list[str] = []
    monkeypatch.setattr(stacks, "delete", lambda name_or_id, role_arn="": deletions.append(name_or_id))
    monkeypatch.setattr(stacks, "delete_stack_set", lambda name, call_as: deletions.append(name))
    real_instances = stacks.stack_instances
    monkeypatch.setattr(stacks, "delete_stack_instances", lambda name, *a: deletions.append(name) or "op")

    status, answer = scene.delete(CHURN)

    assert status == 202 and answer["done"] is False
    assert answer["waiting_for"] and any(f"{CHURN}-codepipeline" in r for r in answer["remaining"])
    assert f"{CHURN}-codepipeline" not in " ".join(deletions)
    assert f"{CHURN}-codepipeline" in _stack_names()

    # The deletions complete; EventBridge delivers the status change and the teardown carries on.
    monkeypatch.undo()
    cloudformation = client("cloudformation")
    if scene.multi:
        for name in {s["StackSetName"] for s in cloudformation.list_stack_sets()["Summaries"]}:
            accounts = [i["Account"] for i in real_instances(name, "SELF")]
            cloudformation.delete_stack_instances(
                StackSetName=name, Accounts=accounts, Regions=["us-east-1"], RetainStacks=False
            )
    else:
        cloudformation.delete_stack(StackName=CHURN)
    event = {
        "source": "aws.cloudformation",
        "detail-type": "CloudFormation Stack Status Change",
        "resources": [f"arn:aws:cloudformation:us-east-1:123456789012:stack/{CHURN}/0a1b2c3d"],
        "detail": {"status-details": {"status": "DELETE_COMPLETE"}},
    }
    results = scene.service.on_stack_event(event)

    assert results[0]["pipeline_name"] == CHURN
    assert any("CodePipeline stack" in s for s in results[0]["started"])
    assert f"{CHURN}-codepipeline" not in _stack_names()
    assert _keys(f"mlops_provisioned_pipelines/{CHURN}/") == []


def test_delete_while_running_is_409_and_changes_nothing(scene: Scene) -> None:
    scene.provision(REALTIME)
    scene.pipelines.record(CHURN, "InProgress", scene.zip_version(CHURN))

    status, answer = scene.call("DELETE", ROUTE, path={"pipeline_name": CHURN})

    assert status == 409 and "is running" in answer["detailedMessage"]
    assert f"{CHURN}-codepipeline" in _stack_names()
    assert not any(k.endswith("teardown.json") for k in _keys(f"mlops_provisioned_pipelines/{CHURN}/"))


def test_delete_unknown_pipeline_is_404(scene: Scene) -> None:
    status, _ = scene.call("DELETE", ROUTE, path={"pipeline_name": "mlops-pipeline-ghost-byompipelinebatchcustom"})

    assert status == 404


def test_delete_without_a_name_is_400(scene: Scene) -> None:
    status, answer = scene.call("DELETE", ROUTE, path={})

    assert status == 400 and "pipeline_name" in answer["detailedMessage"]


# ---------------------------------------------------------------------------------------------------------
# POST /pipelines/{pipeline_name}/rollback

ROLLBACK = "/pipelines/{pipeline_name}/rollback"


def _history_versions(pipeline: str) -> int:
    versions = client("s3").list_object_versions(
        Bucket=ASSETS, Prefix=f"mlops_provisioned_pipelines/{pipeline}/request.json"
    )
    return len(versions.get("Versions", []))


def test_rollback_reprovisions_the_previous_successful_request(scene: Scene) -> None:
    scene.provision(REALTIME)
    scene.pipelines.record(CHURN, "Succeeded", scene.zip_version(CHURN))
    scene.provision({**REALTIME, "inference_instance": "ml.c5.xlarge"})
    scene.pipelines.record(CHURN, "Failed", scene.zip_version(CHURN))

    status, answer = scene.call("POST", ROLLBACK, path={"pipeline_name": CHURN})

    assert status == 200, answer
    assert answer["rolled_back_to"]["execution_id"] == "execution-1"
    expected = {s: "ml.m5.large" for s in ("dev", "staging", "prod")} if scene.multi else "ml.m5.large"
    assert answer["rolled_back_to"]["request"]["inference_instance"] == expected
    _, described = scene.call("GET", ROUTE, path={"pipeline_name": CHURN})
    assert described["request"]["inference_instance"] == expected
    assert _history_versions(CHURN) == 3  # the rollback is itself a request in the history


def test_rollback_skips_the_current_deployment(scene: Scene) -> None:
    scene.provision(BATCH)
    scene.pipelines.record(FRAUD, "Succeeded", scene.zip_version(FRAUD))

    status, answer = scene.call("POST", ROLLBACK, path={"pipeline_name": FRAUD})

    assert status == 409 and "no earlier successful request" in answer["detailedMessage"]


def test_rollback_while_running_is_409(scene: Scene) -> None:
    scene.provision(REALTIME)
    scene.pipelines.record(CHURN, "Succeeded", scene.zip_version(CHURN))
    scene.provision({**REALTIME, "inference_instance": "ml.c5.xlarge"})
    scene.pipelines.record(CHURN, "InProgress", scene.zip_version(CHURN))

    status, answer = scene.call("POST", ROLLBACK, path={"pipeline_name": CHURN})

    assert status == 409 and "is running" in answer["detailedMessage"]
    assert _history_versions(CHURN) == 2


def test_rollback_of_a_training_pipeline_is_400(scene: Scene) -> None:
    scene.provision(TRAINING)

    status, answer = scene.call("POST", ROLLBACK, path={"pipeline_name": HOUSE})

    assert status == 400 and "real-time and batch" in answer["detailedMessage"]


def test_rollback_unknown_pipeline_is_404(scene: Scene) -> None:
    status, _ = scene.call("POST", ROLLBACK, path={"pipeline_name": CHURN})

    assert status == 404


# ---------------------------------------------------------------------------------------------------------
# Dry-run


def test_dry_run_answers_the_plan_and_creates_nothing(scene: Scene) -> None:
    status, answer = scene.call("POST", "/provisionpipeline", {**REALTIME, "dry_run": True})

    assert status == 200
    assert answer["dry_run"] is True and answer["action"] == "create"
    roles = [s["role"] for s in answer["stacks"]]
    if scene.multi:
        assert roles == ["CodePipeline stack", "dev StackSet", "staging StackSet", "prod StackSet"]
        assert answer["stacks"][3]["account_id"] == "333333333333"
    else:
        assert roles == ["CodePipeline stack", "blueprint stack (deployed by the CodePipeline)"]
    assert answer["stacks"][1]["template"] == "byom_realtime_inference_pipeline.yaml"
    assert answer["stacks"][1]["parameters"]["InferenceInstance"] == "ml.m5.large"
    assert all(s["action"] == "create" for s in answer["stacks"])
    assert _stack_names() == set()
    assert _keys("mlops_provisioned_pipelines/") == []


def test_dry_run_of_an_existing_pipeline_shows_update_and_changed_parameters(scene: Scene) -> None:
    scene.provision(REALTIME)
    scene.deploy_blueprint(CHURN)

    status, answer = scene.call(
        "POST", "/provisionpipeline", {**REALTIME, "inference_instance": "ml.c5.xlarge", "dry_run": True}
    )

    assert status == 200 and answer["action"] == "update"
    assert [s["action"] for s in answer["stacks"]] == ["update"] * len(answer["stacks"])
    assert answer["stacks"][1]["changes"]["InferenceInstance"]["to"] == "ml.c5.xlarge"
    assert _history_versions(CHURN) == 1


def test_dry_run_of_an_invalid_request_is_400(scene: Scene) -> None:
    status, answer = scene.call(
        "POST", "/provisionpipeline", {**REALTIME, "inference_instance": "big", "dry_run": "yes"}
    )

    assert status == 400 and _fields(answer) == {"inference_instance", "dry_run"}


def test_every_location_field_of_each_type_is_kept_on_teardown() -> None:
    from lambdas.pipeline_orchestration.catalogue import CATALOGUE

    for pipeline_type in CATALOGUE.values():
        locations = {f.name for f in pipeline_type.fields if f.name.endswith("_location")}
        kept = {k.field for k in pipeline_type.keeps}
        assert locations <= kept, pipeline_type.name
        assert kept <= {f.name for f in pipeline_type.fields}, pipeline_type.name


def test_a_cloudformation_event_reaches_the_teardown(scene: Scene) -> None:
    from lambdas.pipeline_orchestration import index

    event = {"source": "aws.cloudformation", "resources": ["arn:aws:cloudformation:us-east-1:1:stack/other/1"]}

    assert index.handle(event, scene.service) == []


def test_an_unreadable_sagemaker_resource_does_not_hide_the_description():
    from botocore.exceptions import ClientError

    from lambdas.pipeline_orchestration import lifecycle

    class DeniedSageMaker:
        def describe(self, kind, name):
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DescribeEndpoint")

    class Scene:
        sagemaker = DeniedSageMaker()

    summary = lifecycle._sagemaker_status("endpoint", "churn-endpoint", Scene())
    assert summary["status"] == "UNKNOWN" and summary["error"].startswith("AccessDeniedException")
