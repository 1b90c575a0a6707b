# SPDX-License-Identifier: Apache-2.0
"""Re-running and stopping a pipeline's executions (POST /pipelines/{name}/retry and /stop), and the answer to an
unchanged re-post of a failed pipeline, through the Lambda handler in both account modes."""

from __future__ import annotations

import pytest

from lambdas.pipeline_orchestration import pipelines
from lambdas.shared.aws import client
from tests.unit.conftest import example

from .conftest import ASSETS, REALTIME, Scene

CHURN = "mlops-pipeline-churn-byompipelinerealtimebuiltin"
RETRY = "/pipelines/{pipeline_name}/retry"
STOP = "/pipelines/{pipeline_name}/stop"
CHURN_PATH = {"pipeline_name": CHURN}


def _versions(key: str) -> list[dict]:
    found = client("s3").list_object_versions(Bucket=ASSETS, Prefix=f"mlops_provisioned_pipelines/{CHURN}/{key}")
    return found.get("Versions", [])


def test_retry_writes_the_current_request_again_as_any_change(scene: Scene) -> None:
    scene.provision(REALTIME)
    failed_on = scene.zip_version(CHURN)
    scene.pipelines.record(CHURN, "Failed", failed_on)

    status, answer = scene.call("POST", RETRY, path=CHURN_PATH)

    assert status == 200, answer
    assert answer["message"].startswith(f"Retrying {CHURN}")
    assert answer["previous_execution"] == {"execution_id": "execution-1", "status": "Failed"}
    # Recorded as any change: one more request version, and a new template.zip version that starts the pipeline.
    assert len(_versions("request.json")) == 2 and len(_versions("template.zip")) == 2
    assert scene.zip_version(CHURN) != failed_on
    # Until an execution takes that version, the state is the change's, not the failed run's.
    _, described = scene.call("GET", "/pipelines/{pipeline_name}", path=CHURN_PATH)
    assert described["state"] == "PROVISIONING", described
    assert "waits for its execution to start" in described["reason"] and "execution-1" in described["reason"]
    # Once it has, the state is the new execution's.
    scene.pipelines.record(CHURN, "Succeeded", scene.zip_version(CHURN))
    scene.deploy_blueprint(CHURN)
    _, described = scene.call("GET", "/pipelines/{pipeline_name}", path=CHURN_PATH)
    assert described["state"] == "ACTIVE", described


def test_retry_while_running_is_409_and_writes_nothing(scene: Scene) -> None:
    scene.provision(REALTIME)
    scene.pipelines.record(CHURN, "InProgress", scene.zip_version(CHURN))

    status, answer = scene.call("POST", RETRY, path=CHURN_PATH)

    assert status == 409 and "is running" in answer["detailedMessage"], answer
    assert len(_versions("template.zip")) == 1


def test_retry_before_the_codepipeline_exists_is_409(scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    scene.provision(REALTIME)
    monkeypatch.setattr(pipelines, "codepipeline_name", lambda pipeline, aws: None)

    status, answer = scene.call("POST", RETRY, path=CHURN_PATH)

    assert status == 409 and "has not created its CodePipeline yet" in answer["detailedMessage"], answer


def test_retry_without_a_recorded_request_is_409(scene: Scene) -> None:
    scene.provision(REALTIME)
    scene.pipelines.record(CHURN, "Failed", scene.zip_version(CHURN))
    for version in _versions("request.json"):
        client("s3").delete_object(Bucket=ASSETS, Key=version["Key"], VersionId=version["VersionId"])

    status, answer = scene.call("POST", RETRY, path=CHURN_PATH)

    assert status == 409 and "no recorded request" in answer["detailedMessage"], answer


def test_retry_of_an_image_builder_is_400_and_says_how_it_runs_again(scene: Scene) -> None:
    body = example("byom_image_builder")
    scene.provision(body)
    name = next(s["StackName"] for s in client("cloudformation").describe_stacks()["Stacks"])

    status, answer = scene.call("POST", RETRY, path={"pipeline_name": name})

    assert status == 400 and "custom_algorithm_docker" in answer["detailedMessage"], answer


def test_retry_and_stop_of_an_unknown_pipeline_are_404(scene: Scene) -> None:
    for route in (RETRY, STOP):
        status, answer = scene.call("POST", route, path=CHURN_PATH)
        assert status == 404, answer


def test_an_unchanged_repost_of_a_failed_pipeline_says_it_is_failed_and_how_to_retry(scene: Scene) -> None:
    scene.provision(REALTIME)
    scene.pipelines.record(CHURN, "Failed", scene.zip_version(CHURN))

    answer = scene.provision(REALTIME)

    assert answer["state"] == "FAILED"
    assert "No updates are to be performed" in answer["message"]
    assert "is FAILED" in answer["message"] and f"POST /pipelines/{CHURN}/retry" in answer["message"]
    assert f"mlops retry {CHURN}" in answer["message"]
    assert len(_versions("template.zip")) == 1  # the re-post itself still changes nothing


def test_an_unchanged_repost_of_a_successful_pipeline_says_only_that_nothing_changes(scene: Scene) -> None:
    scene.provision(REALTIME)
    scene.run(CHURN)

    answer = scene.provision(REALTIME)

    assert answer["message"].endswith("No updates are to be performed.") and "state" not in answer


def test_stop_stops_the_execution_in_progress_and_answers_202(scene: Scene) -> None:
    scene.provision(REALTIME)
    scene.pipelines.record(CHURN, "InProgress", scene.zip_version(CHURN))
    status, _ = scene.call("DELETE", "/pipelines/{pipeline_name}", path=CHURN_PATH)
    assert status == 409

    status, answer = scene.call("POST", STOP, path=CHURN_PATH)

    assert status == 202, answer
    assert answer["execution_id"] == "execution-1" and answer["pipeline_name"] == CHURN
    execution = scene.pipelines.runs[f"{CHURN}-codepipeline-pipeline"][0]
    assert execution["status"] == "Stopped" and CHURN in execution["stopTrigger"]["reason"]
    # Nothing runs any more: the teardown starts.
    status, answer = scene.call("DELETE", "/pipelines/{pipeline_name}", path=CHURN_PATH)
    assert status == 202, answer


def test_stop_with_nothing_in_progress_is_409(scene: Scene) -> None:
    scene.provision(REALTIME)
    scene.run(CHURN)

    status, answer = scene.call("POST", STOP, path=CHURN_PATH)

    assert status == 409 and "no execution in progress" in answer["detailedMessage"], answer
