# SPDX-License-Identifier: Apache-2.0
"""The monitoring loop in local mode over HTTP: a monitor's schedule runs executions, a violation sets its alarm,
the orchestrator notifies and retrains (at most once per minimum interval), a failed execution notifies too."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from local.cli import EXIT_INVALID, EXIT_NOT_FOUND, EXIT_OK, main
from tests.e2e.conftest import LocalScene
from tests.e2e.test_pipelines import pipeline_name

TIMEOUT = 90


def run(scene: LocalScene, capsys, *args: str) -> tuple[int, str, str]:
    code = main([*args, "--endpoint", scene.orchestrator.server.url])
    out = capsys.readouterr()
    return code, out.out, out.err


def until(what: str, check: Any, timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.25)
    raise TimeoutError(f"{what}: not seen in {timeout} s")


def provisioned(scene: LocalScene, pipeline_type: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    """The example request of the type (with `fields`), provisioned and ACTIVE."""
    body = {**scene.request(pipeline_type), **fields}
    answer = scene.call("POST", "/provisionpipeline", body)
    assert answer.status == 200, answer.body
    name = pipeline_name(scene, pipeline_type, body)
    described = scene.wait(name, timeout=TIMEOUT)
    assert described["state"] == "ACTIVE", described
    return name, body


def executions(scene: LocalScene, schedule: str) -> list[dict[str, Any]]:
    """The schedule's executions as SageMaker lists them, newest first."""
    return scene.aws("sagemaker").list_monitoring_executions(
        MonitoringScheduleName=schedule, SortBy="ScheduledTime", SortOrder="Descending"
    )["MonitoringExecutionSummaries"]


def report_of(scene: LocalScene, execution: dict[str, Any]) -> str:
    job = scene.aws("sagemaker").describe_processing_job(ProcessingJobName=execution["ProcessingJobArn"].split("/")[-1])
    return job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]


def read_json(scene: LocalScene, uri: str) -> Any:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return json.loads(scene.aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


@pytest.fixture(scope="module")
def monitor(single_account: LocalScene) -> dict[str, Any]:
    """A real-time endpoint, and a data-quality monitor of it, both ACTIVE."""
    realtime, _ = provisioned(single_account, "byom_realtime_builtin")
    name, body = provisioned(single_account, "byom_data_quality_monitor")
    schedule = single_account.call("GET", f"/pipelines/{name}").body["plan"]["names"]["monitoring_schedule_name"]
    return {"name": name, "body": body, "schedule": schedule, "realtime": realtime}


def test_a_monitor_runs_clean_executions_and_a_simulated_one_reports_a_baseline_feature(
    single_account: LocalScene, monitor: dict[str, Any], capsys
):
    scene, schedule = single_account, monitor["schedule"]
    # The schedule's first execution comes on its own, a few seconds after the schedule: clean.
    first = until("the first execution", lambda: executions(scene, schedule))[-1]
    assert first["MonitoringExecutionStatus"] == "Completed", first
    assert first["EndpointName"] == monitor["body"]["endpoint_name"]

    code, out, err = run(scene, capsys, "local", "simulate-violation", monitor["name"])
    assert code == EXIT_OK, err
    assert f"{schedule} (account {scene.settings.account_id}): execution CompletedWithViolations" in out
    latest = executions(scene, schedule)[0]
    assert latest["MonitoringExecutionStatus"] == "CompletedWithViolations"
    report = report_of(scene, latest)
    assert report.startswith(f"s3://{monitor['body']['monitoring_output_location']}/")
    violations = read_json(scene, f"{report}/constraint_violations.json")["violations"]
    baseline = scene.aws("s3").get_object(Bucket=scene.settings.assets_bucket, Key=monitor["body"]["baseline_data"])
    columns = baseline["Body"].read().decode().splitlines()[0].split(",")
    assert violations[0]["feature_name"] in columns
    described = scene.aws("sagemaker").describe_monitoring_schedule(MonitoringScheduleName=schedule)
    assert described["LastMonitoringExecutionSummary"]["ProcessingJobArn"] == latest["ProcessingJobArn"]


def test_simulate_violation_refuses_an_unknown_pipeline_and_one_that_is_not_a_monitor(
    single_account: LocalScene, monitor: dict[str, Any], capsys
):
    code, _, err = run(
        single_account, capsys, "local", "simulate-violation", "mlops-pipeline-none-byomdataqualitymonitor"
    )
    assert code == EXIT_NOT_FOUND and "error 404" in err
    code, _, err = run(single_account, capsys, "local", "simulate-violation", monitor["realtime"])
    assert code == EXIT_INVALID
    assert "is a byom_realtime_builtin pipeline, not a monitor" in err
