# SPDX-License-Identifier: Apache-2.0
"""The monitoring loop in local mode over HTTP: a monitor's schedule runs executions, a violation sets its alarm,
the orchestrator notifies and retrains (at most once per minimum interval), a failed execution notifies too."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from local.cli import EXIT_INVALID, EXIT_MONITOR_ALERT, EXIT_NOT_FOUND, EXIT_OK, main
from local.emulator import monitoring
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
    """A training pipeline, a real-time endpoint, and a data-quality monitor of it that retrains the training
    pipeline when its alarm fires (at most once an hour), all ACTIVE."""
    training, _ = provisioned(single_account, "model_training_builtin")
    realtime, _ = provisioned(single_account, "byom_realtime_builtin")
    name, body = provisioned(
        single_account,
        "byom_data_quality_monitor",
        violation_threshold=1,
        retrain_pipeline_name=training,
        retrain_min_interval_minutes=60,
    )
    schedule = single_account.call("GET", f"/pipelines/{name}").body["plan"]["names"]["monitoring_schedule_name"]
    return {"name": name, "body": body, "schedule": schedule, "realtime": realtime, "training": training}


def notifications(scene: LocalScene, subject: str) -> list[dict[str, Any]]:
    answer = scene.call("GET", "/local/notifications")
    assert answer.status == 200, answer.body
    return [n for n in answer.body["notifications"] if subject in n["subject"]]


def training_runs(scene: LocalScene, name: str) -> int:
    """How many executions of the training pipeline's CodePipeline have started (its events, over HTTP)."""
    answer = scene.call("GET", f"/pipelines/{name}/events")
    assert answer.status == 200, answer.body
    return sum(1 for e in answer.body["events"] if e["source"] == "pipeline" and e["message"].endswith(" started"))


def alarm_state(scene: LocalScene, name: str) -> str:
    return scene.aws("cloudwatch").describe_alarms(AlarmNames=[f"{name}-violations"])["MetricAlarms"][0]["StateValue"]


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


def test_a_violation_alarms_notifies_and_retrains_at_most_once_per_interval(
    single_account: LocalScene, monitor: dict[str, Any], capsys, monkeypatch: pytest.MonkeyPatch
):
    scene, name, training = single_account, monitor["name"], monitor["training"]
    # Alarm periods of 20 s (an hour of 240 s): the ALARM state lasts long enough to be read over a loaded machine.
    monkeypatch.setattr(monitoring, "MONITORING_HOUR_SECONDS", 240.0)
    # The schedule's first execution comes on its own, a few seconds after the schedule: clean (0 violations).
    first = until("the first execution", lambda: executions(scene, monitor["schedule"]))[-1]
    assert first["MonitoringExecutionStatus"] == "Completed", first
    assert first["EndpointName"] == monitor["body"]["endpoint_name"]
    until("the alarm out of INSUFFICIENT_DATA", lambda: alarm_state(scene, name) == "OK")
    runs_before = training_runs(scene, training)

    code, out, err = run(scene, capsys, "local", "simulate-violation", name)
    assert code == EXIT_OK, err
    assert "reports 1 violation(s); the monitor alarms at 1 (its alarm fires)" in out
    assert f"{monitor['schedule']} (account {scene.settings.account_id}): execution CompletedWithViolations" in out
    latest = executions(scene, monitor["schedule"])[0]
    assert latest["MonitoringExecutionStatus"] == "CompletedWithViolations"
    described = scene.aws("sagemaker").describe_monitoring_schedule(MonitoringScheduleName=monitor["schedule"])
    assert described["LastMonitoringExecutionSummary"]["ProcessingJobArn"] == latest["ProcessingJobArn"]
    report = report_of(scene, latest)
    assert report.startswith(f"s3://{monitor['body']['monitoring_output_location']}/")
    feature = read_json(scene, f"{report}/constraint_violations.json")["violations"][0]["feature_name"]
    baseline = scene.aws("s3").get_object(Bucket=scene.settings.assets_bucket, Key=monitor["body"]["baseline_data"])
    assert feature in baseline["Body"].read().decode().splitlines()[0].split(",")  # a real feature of the baseline

    # The orchestrator published the execution's violations; the stack's alarm is in ALARM.
    (alarmed,) = until("the violations notification", lambda: notifications(scene, "Model monitor violations"))
    assert alarm_state(scene, name) == "ALARM"
    message = alarmed["message"]
    assert monitor["body"]["endpoint_name"] in alarmed["subject"]
    for part in (
        f"The monitor {name} found constraint violations; its alarm {name}-violations is in ALARM.",
        f"Endpoint: {monitor['body']['endpoint_name']}",
        f"Monitoring schedule: {monitor['schedule']}",
        f"Report location: {report}",
        f"feature {feature}, check baseline_drift_check",
        f"Retraining: started: {training} re-provisioned",
    ):
        assert part in message, message

    # The training pipeline runs again, from its stored request.
    until("the retraining", lambda: training_runs(scene, training) == runs_before + 1)
    assert scene.wait(training, timeout=TIMEOUT)["state"] == "ACTIVE"
    # ... and its stack's update started a training job of the new name (the notification names it).
    retrained = alarmed["message"].split("with job_name ", 1)[1].split()[0]
    jobs = lambda: [j["TrainingJobName"] for j in scene.aws("sagemaker").list_training_jobs()["TrainingJobSummaries"]]  # noqa: E731
    until("the retraining job", lambda: retrained in jobs())
    shown_job = scene.call("GET", f"/pipelines/{training}").body["sagemaker"]["training_job"]
    assert (shown_job["name"], shown_job["status"]) == (retrained, "Completed"), shown_job

    # Describe shows the schedule and its executions, the latest with its violations; the state says so.
    described = scene.call("GET", f"/pipelines/{name}").body
    assert described["state"] == "VIOLATIONS", described
    shown = described["monitoring"]
    assert (shown["schedule"], shown["status"], shown["alarm"]) == (
        monitor["schedule"],
        "Scheduled",
        f"{name}-violations",
    ), shown
    newest = shown["executions"][0]
    assert (newest["status"], newest["report"], newest["violations_count"]) == ("CompletedWithViolations", report, 1)
    assert newest["violations"][0]["feature"] == feature
    assert shown["executions"][-1]["status"] == "Completed"  # the first, clean execution

    # A second violation within the minimum interval: notified again, with the reason it does not retrain.
    until("the alarm back to OK", lambda: alarm_state(scene, name) == "OK", timeout=60)
    code, out, err = run(scene, capsys, "local", "simulate-violation", name, "--violations", "2")
    assert code == EXIT_OK, err
    assert "reports 2 violation(s); the monitor alarms at 1 (its alarm fires)" in out
    assert (
        len(
            read_json(
                scene, f"{report_of(scene, executions(scene, monitor['schedule'])[0])}/constraint_violations.json"
            )["violations"]
        )
        == 2
    )
    alarms = lambda: notifications(scene, "Model monitor violations")  # noqa: E731
    second = until("the second notification", lambda: alarms()[1:])[0]
    assert f"Retraining: skipped: the last retraining of {training} started at" in second["message"], second
    assert "less than 60 minutes ago (retrain_min_interval_minutes)" in second["message"]
    time.sleep(2)  # what would have started a run has had time to
    assert training_runs(scene, training) == runs_before + 1


def test_a_failed_execution_notifies_with_its_reason(single_account: LocalScene, monitor: dict[str, Any], capsys):
    scene, name, endpoint = single_account, monitor["name"], monitor["body"]["endpoint_name"]
    scene.aws("sagemaker").delete_endpoint(EndpointName=endpoint)  # the monitored endpoint is gone
    code, out, err = run(scene, capsys, "local", "simulate-violation", name)
    assert code == EXIT_MONITOR_ALERT, err
    assert "alarm does not fire" in out and "alarm fires" not in out
    reason = f"ValidationException: the monitored endpoint {endpoint} does not exist"
    assert f"execution Failed: {reason}" in out
    (failed,) = until("the failure notification", lambda: notifications(scene, "Monitoring execution failed"))
    assert name in failed["subject"]
    assert f"Failure reason: {reason}" in failed["message"]
    assert f"Monitoring schedule: {monitor['schedule']}" in failed["message"]
    code, out, _ = run(scene, capsys, "local", "notifications")
    assert code == EXIT_OK and f"Monitoring execution failed: {name}" in out and f"  Failure reason: {reason}" in out
    described = scene.call("GET", f"/pipelines/{name}").body
    assert described["state"] == "MONITORING_FAILED" and reason in described["reason"], described
    assert described["monitoring"]["executions"][0]["failure_reason"].startswith(reason)


def test_deleting_a_monitor_runs_no_source_stage(single_account: LocalScene, monitor: dict[str, Any], monkeypatch):
    """Deleting a monitor showed a failed run of its source stage. The teardown removes the pipeline's objects once
    its CodePipeline stack is gone, and a removed source object starts no execution (runs start on "Object Created"):
    the teardown leaves the executions as they were."""
    scene, name = single_account, monitor["name"]
    runner = scene.orchestrator.runner
    assert runner is not None
    (pipeline,) = [p for p in runner.pipelines.values() if p.stack_name.startswith(f"{name}-")]
    before = [(e.id, e.status) for e in pipeline.executions]
    assert before

    owner = scene.call("GET", f"/pipelines/{name}").body["owner"]["arn"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", owner.rsplit("/", 1)[1])  # as the module's fixture, its owner
    answer = scene.call("DELETE", f"/pipelines/{name}")
    assert answer.ok, answer.body
    deadline = time.monotonic() + 60
    while pipeline.name in runner.pipelines:  # the wrapper stack's deletion removes its CodePipeline
        assert time.monotonic() < deadline, "the monitor was not torn down"
        time.sleep(0.3)

    assert [(e.id, e.status) for e in pipeline.executions] == before
    journal = runner.journal.get(pipeline.name, [])
    started = [m for m in journal if m["message"].startswith("execution ") and m["message"].endswith(" started")]
    assert len(started) == len(before), started
