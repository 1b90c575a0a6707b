# SPDX-License-Identifier: Apache-2.0
"""Local mode as a rehearsal of AWS after the first run: an update that renames the endpoint, a rollback watched
to its own execution, a re-run of a failed pipeline, and a delete that stops the execution in its way. One local
orchestrator serves the whole module."""

from __future__ import annotations

import time

from local.cli import EXIT_OK, main
from local.examples import pipeline_name
from tests.e2e.conftest import LocalScene

REALTIME = "byom_realtime_builtin"


def _cli(scene: LocalScene, *argv: str) -> int:
    return main([*argv, "--endpoint", scene.api.endpoint])


def _described(scene: LocalScene, name: str) -> dict:
    answer = scene.call("GET", f"/pipelines/{name}")
    assert answer.status == 200, answer.body
    return answer.body


def _endpoints(scene: LocalScene) -> set[str]:
    return {e["EndpointName"] for e in scene.aws("sagemaker").list_endpoints()["Endpoints"]}


def _gone(scene: LocalScene, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = scene.call("DELETE", f"/pipelines/{name}")
        if answer.status == 404:
            return
        time.sleep(0.3)
    raise TimeoutError(f"{name} was not torn down in {timeout} s")


def test_an_endpoint_rename_replaces_the_endpoint_and_a_watched_rollback_follows_its_own_execution(
    single_account: LocalScene, capsys
):
    scene = single_account
    body = scene.request(REALTIME)
    name = pipeline_name(body)
    assert _cli_provision(scene, body) == EXIT_OK
    first = _described(scene, name)
    assert first["state"] == "ACTIVE", first
    assert body["endpoint_name"] in _endpoints(scene)

    renamed = {**body, "endpoint_name": f"{body['endpoint_name']}-v2"}
    answer = scene.call("POST", "/provisionpipeline", renamed)
    assert answer.status == 200, answer.body
    updated = scene.wait(name)
    # CloudFormation replaces an endpoint whose name changes: the new one serves, the old one is gone.
    assert updated["state"] == "ACTIVE", updated
    assert renamed["endpoint_name"] in _endpoints(scene)
    assert body["endpoint_name"] not in _endpoints(scene)
    capsys.readouterr()

    assert _cli(scene, "rollback", name, "--watch", "--timeout", "60") == EXIT_OK
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("[")]
    # The first line is the rollback's change, not the outcome of the execution before it.
    assert not lines[0].split("] ", 1)[1].startswith("ACTIVE"), out
    assert lines[-1].split("] ", 1)[1].startswith("ACTIVE"), out
    back = _described(scene, name)
    assert back["execution_id"] not in (first["execution_id"], updated["execution_id"])
    assert body["endpoint_name"] in _endpoints(scene) and renamed["endpoint_name"] not in _endpoints(scene)
    _gone(scene, name)


def _cli_provision(scene: LocalScene, body: dict) -> int:
    import json
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as request:
        json.dump(body, request)
    return _cli(scene, "provision", request.name, "--watch", "--timeout", "60")


def test_delete_with_stop_execution_stops_the_run_and_deletes(single_account: LocalScene, capsys):
    scene = single_account
    body = {**scene.request(REALTIME), "endpoint_name": "stopped-endpoint"}
    name = pipeline_name(body)
    assert scene.call("POST", "/provisionpipeline", body).status == 200
    deadline = time.monotonic() + 30
    while scene.status(name).get("state") != "RUNNING":
        assert time.monotonic() < deadline, scene.status(name)
        time.sleep(0.05)
    refused = scene.call("DELETE", f"/pipelines/{name}")
    assert refused.status == 409 and "stop the execution" in refused.body["detailedMessage"], refused.body
    capsys.readouterr()

    assert _cli(scene, "delete", name, "--yes", "--stop-execution", "--timeout", "60") == EXIT_OK
    out = capsys.readouterr().out
    assert "Stopping execution" in out and f"pipeline {name}" in out.lower(), out
    # The teardown may already have removed the pipeline, and its events with it; while they are there, they say
    # that the execution was stopped.
    events = scene.call("GET", f"/pipelines/{name}/events").body.get("events", [])
    assert not events or any("stopped" in e["message"] for e in events), events
    _gone(scene, name)


def test_a_rejected_run_answers_how_to_retry_and_a_retry_runs_the_request_again(multi_account: LocalScene, capsys):
    scene = multi_account
    body = scene.request(REALTIME)
    name = pipeline_name(body)
    assert scene.call("POST", "/provisionpipeline", body).status == 200
    waiting = scene.wait(name, until="Approval")
    assert waiting["state"] == "WAITING_APPROVAL", waiting
    assert _cli(scene, "approve", name, "staging", "--reject") == EXIT_OK
    rejected = scene.wait(name)
    assert rejected["state"] == "FAILED", rejected

    again = scene.call("POST", "/provisionpipeline", body)
    assert again.status == 200 and again.body["state"] == "FAILED", again.body
    assert "No updates are to be performed" in again.body["message"]
    assert f"POST /pipelines/{name}/retry (mlops retry {name})" in again.body["message"]

    capsys.readouterr()
    assert _cli(scene, "retry", name, "--watch", "--timeout", "60") == EXIT_OK
    out = capsys.readouterr().out
    assert f"Retrying {name}" in out and f"mlops approve {name} staging" in out, out
    retried = _described(scene, name)
    assert retried["state"] == "WAITING_APPROVAL" and retried["execution_id"] != rejected["execution_id"], retried
    versions = scene.aws("s3").list_object_versions(
        Bucket=scene.settings.assets_bucket, Prefix=f"mlops_provisioned_pipelines/{name}/request.json"
    )
    assert len(versions["Versions"]) == 2  # recorded as any change
