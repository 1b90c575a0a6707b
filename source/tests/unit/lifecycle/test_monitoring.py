# SPDX-License-Identifier: Apache-2.0
"""The monitoring loop: executions become a metric and notifications, alarms notify and retrain within bounds.

moto models no monitoring schedules (no DescribeMonitoringSchedule, no ListMonitoringExecutions), so
`RecordedExecutions` (and `SchedulesOf` for describe's SageMaker reads) stand in at the adapter boundary for
those two calls only; S3 (the reports), CloudWatch
(the metric), SNS (the notifications, read back through an SQS subscription) and CloudFormation are moto's.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lambdas.blueprints import open_engine
from lambdas.pipeline_orchestration import index, monitoring
from lambdas.pipeline_orchestration.adapters import Aws, Monitoring, SageMaker
from lambdas.pipeline_orchestration.monitoring import reports
from lambdas.pipeline_orchestration.service import OrchestratorService
from lambdas.pipeline_orchestration.settings import MODEL_MONITOR_ENGINE
from lambdas.shared.aws import client
from tests.callers import ALICE
from tests.topic import notices

from .conftest import MULTI, SINGLE, TRAINING, FakePipelines, Scene, StandInStacks

REGION, ACCOUNT = "us-east-1", "123456789012"
MONITOR = {
    "pipeline_type": "byom_data_quality_monitor",
    "model_name": "churn",
    "endpoint_name": "churn-endpoint",
    "baseline_data": "monitoring/baseline.csv",
    "baseline_job_output_location": "reports-bucket/baselines",
    "data_capture_location": "reports-bucket/capture",
    "monitoring_output_location": "reports-bucket/monitoring",
    "schedule_expression": "cron(0 * ? * * *)",
    "instance_type": "ml.m5.large",
    "instance_volume_size": 20,
}
MONITOR_NAME = "mlops-pipeline-churn-byomdataqualitymonitor"
TRAINING_NAME = "mlops-pipeline-house-modeltraining"
SCHEDULED = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
VIOLATIONS = {
    "violations": [
        {"feature_name": f"f{i}", "constraint_check_type": "baseline_drift_check", "description": f"drift {i}"}
        for i in range(7)
    ]
}


class RecordedExecutions(Monitoring):
    """Executions recorded by the test, newest first; the metric goes to moto's CloudWatch."""

    def __init__(self) -> None:
        self.runs: dict[str, list[dict[str, Any]]] = {}

    def add(self, schedule: str, status: str, job: str, reason: str = "") -> dict[str, Any]:
        run = {
            "MonitoringScheduleName": schedule,
            "ScheduledTime": SCHEDULED + timedelta(hours=len(self.runs.get(schedule, []))),
            "MonitoringExecutionStatus": status,
            "ProcessingJobArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:processing-job/{job}",
            **({"FailureReason": reason} if reason else {}),
        }
        self.runs.setdefault(schedule, []).insert(0, run)
        return run

    def executions(self, schedule: str, limit: int) -> list[dict[str, Any]]:
        return self.runs.get(schedule, [])[:limit]

    def schedule(self, name: str) -> dict[str, Any] | None:
        runs = self.runs.get(name, [])
        described = {"MonitoringScheduleName": name, "MonitoringScheduleStatus": "Scheduled"}
        return described | ({"LastMonitoringExecutionSummary": runs[0]} if runs else {})


class SchedulesOf(SageMaker):
    """SageMaker's describe calls, with the monitoring schedule (which moto lacks) read from the recorded runs."""

    def __init__(self, recorded: RecordedExecutions) -> None:
        self.recorded = recorded

    def describe(self, kind: str, name: str) -> dict[str, Any] | None:
        return self.recorded.schedule(name) if kind == "monitoring_schedule" else super().describe(kind, name)


@pytest.fixture
def loop(moto_aws: None) -> tuple[Scene, RecordedExecutions, str]:
    """A single-account orchestrator with a topic whose messages an SQS queue keeps."""
    sns, sqs = client("sns"), client("sqs")
    topic = sns.create_topic(Name="mlops-notifications")["TopicArn"]
    queue = sqs.create_queue(QueueName="notifications")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    client("s3").create_bucket(Bucket="reports-bucket")
    # Model Monitor's executions unless a request names the open engine (whose tests below do).
    settings = dataclasses.replace(SINGLE, sns_topic_arn=topic, monitoring_engine=MODEL_MONITOR_ENGINE)
    executions = RecordedExecutions()
    pipelines = FakePipelines()
    aws = Aws(stacks=StandInStacks(), pipelines=pipelines, monitoring=executions, sagemaker=SchedulesOf(executions))
    return Scene(settings, OrchestratorService(settings, aws), pipelines), executions, queue


def notifications(queue: str) -> list[tuple[str, str]]:
    """The monitoring notices; those naming who provisioned the monitors and pipelines are test_who_notices'."""
    return [(subject, text) for subject, text in notices(queue) if not subject.startswith("MLOps pipeline ")]


def schedule_of(scene: Scene) -> str:
    return monitoring.monitor_of(
        monitoring.lifecycle.lookup(MONITOR_NAME, scene.service.aws), scene.settings, scene.service.aws
    ).schedule  # type: ignore[union-attr]


def execution_event(schedule: str, job: str, status: str, **detail: Any) -> dict[str, Any]:
    return {
        "source": "aws.sagemaker",
        "detail-type": monitoring.PROCESSING_JOB_EVENT,
        "detail": {
            "ProcessingJobName": job,
            "ProcessingJobArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:processing-job/{job}",
            "ProcessingJobStatus": status,
            "MonitoringScheduleArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:monitoring-schedule/{schedule}",
            **detail,
        },
    }


def alarm_event(name: str, state: str = "ALARM") -> dict[str, Any]:
    return {
        "source": "aws.cloudwatch",
        "detail-type": monitoring.ALARM_EVENT,
        "detail": {
            "alarmName": name,
            "state": {"value": state, "reason": "Threshold Crossed: 1 datapoint [7.0] >= 1.0"},
            "previousState": {"value": "OK"},
        },
    }


def provisioned_monitor(scene: Scene, **fields: Any) -> str:
    scene.provision({**MONITOR, **fields})
    scene.run(MONITOR_NAME)
    return schedule_of(scene)


def put_report(schedule: str, hour: datetime, body: dict[str, Any]) -> str:
    prefix = f"monitoring/churn-endpoint/{schedule}/{hour:%Y/%m/%d/%H}"
    client("s3").put_object(Bucket="reports-bucket", Key=f"{prefix}/constraint_violations.json", Body=json.dumps(body))
    return f"s3://reports-bucket/{prefix}"


def metric_values(schedule: str) -> list[float]:
    stats = client("cloudwatch").get_metric_statistics(
        Namespace=monitoring.NAMESPACE,
        MetricName=monitoring.METRIC,
        Dimensions=[{"Name": monitoring.DIMENSION, "Value": schedule}],
        StartTime=datetime.now(UTC) - timedelta(hours=1),
        EndTime=datetime.now(UTC) + timedelta(hours=1),
        Period=300,
        Statistics=["Maximum"],
    )
    return [point["Maximum"] for point in stats["Datapoints"]]


# ---------------------------------------------------------------------------------------------------------
# Executions


def test_routed_by_the_handler_and_a_violating_execution_publishes_its_count(loop):
    scene, executions, queue = loop
    schedule = provisioned_monitor(scene)
    executions.add(schedule, "CompletedWithViolations", "job-1")
    report = put_report(schedule, SCHEDULED, VIOLATIONS)

    answer = index.handle(execution_event(schedule, "job-1", "Completed"), scene.service)

    assert answer["status"] == "recorded" and answer["pipeline_name"] == MONITOR_NAME
    assert answer["execution"]["report"] == report
    assert answer["execution"]["violations_count"] == 7
    assert answer["execution"]["violations"][0] == {
        "feature": "f0",
        "kind": "feature",
        "check": "baseline_drift_check",
        "description": "drift 0",
    }
    assert metric_values(schedule) == [7.0]
    assert notifications(queue) == []  # violations notify through the alarm, not once per execution


def test_a_clean_execution_publishes_zero(loop):
    scene, executions, _ = loop
    schedule = provisioned_monitor(scene)
    executions.add(schedule, "Completed", "job-1")
    answer = scene.service.on_monitoring_event(execution_event(schedule, "job-1", "Completed"))
    assert answer["metric"]["value"] == 0 and metric_values(schedule) == [0.0]


def test_a_failed_execution_notifies_at_once_with_its_reason(loop):
    scene, executions, queue = loop
    schedule = provisioned_monitor(scene)
    executions.add(schedule, "Failed", "job-1", reason="ClientError: no data captured for the hour")

    answer = scene.service.on_monitoring_event(execution_event(schedule, "job-1", "Failed"))

    assert answer["notified"] is True and answer["metric"] is None
    [(subject, message)] = notifications(queue)
    assert subject == f"Monitoring execution failed: {MONITOR_NAME}"
    assert "Failure reason: ClientError: no data captured for the hour" in message
    assert "Endpoint: churn-endpoint" in message and f"Monitoring schedule: {schedule}" in message
    assert metric_values(schedule) == []


def processing_job(name: str, schedule_arn: str = "") -> None:
    """A processing job in moto; with `schedule_arn`, one a monitoring schedule ran (DescribeProcessingJob then
    answers its MonitoringScheduleArn, as SageMaker does for a monitoring execution's job)."""
    from moto.sagemaker.models import sagemaker_backends

    client("sagemaker").create_processing_job(
        ProcessingJobName=name,
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5}},
        AppSpecification={"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/monitor:latest"},
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/monitor",
    )
    if schedule_arn:
        sagemaker_backends[ACCOUNT][REGION].processing_jobs[name].monitoring_schedule_arn = schedule_arn


def documented_event(job: str, status: str) -> dict[str, Any]:
    """The processing-job event as AWS documents it: no MonitoringScheduleArn."""
    event = execution_event("unused", job, status)
    del event["detail"]["MonitoringScheduleArn"]
    return event


def test_without_a_schedule_in_the_event_the_processing_job_names_it(loop):
    """AWS's documented event has no MonitoringScheduleArn: DescribeProcessingJob's answer names the schedule."""
    scene, executions, _ = loop
    schedule = provisioned_monitor(scene)
    job = "model-monitoring-202612011400-0a1b2c3d4e5f60718293a4b5"
    processing_job(job, f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:monitoring-schedule/{schedule}")
    executions.add(schedule, "CompletedWithViolations", job)
    put_report(schedule, SCHEDULED, VIOLATIONS)

    answer = index.handle(documented_event(job, "Completed"), scene.service)

    assert answer["status"] == "recorded" and answer["monitoring_schedule"] == schedule
    assert answer["execution"]["violations_count"] == 7 and metric_values(schedule) == [7.0]


def test_a_processing_job_no_schedule_ran_is_ignored_with_a_log_line(loop, caplog):
    scene, _, queue = loop
    schedule = provisioned_monitor(scene)
    processing_job("preprocess-house-data")
    with caplog.at_level("INFO"):
        answer = scene.service.on_monitoring_event(documented_event("preprocess-house-data", "Completed"))
        gone = scene.service.on_monitoring_event(documented_event("deleted-long-ago", "Failed"))
    assert answer == {
        "status": "ignored",
        "message": "processing job preprocess-house-data is not a monitoring execution",
    }
    assert gone["status"] == "ignored" and "not a monitoring execution" in gone["message"]
    assert "preprocess-house-data is not a monitoring execution" in caplog.text
    assert metric_values(schedule) == [] and notifications(queue) == []


def test_an_unfinished_or_unowned_execution_is_ignored_with_its_reason(loop, caplog):
    scene, _, queue = loop
    schedule = provisioned_monitor(scene)
    running = scene.service.on_monitoring_event(execution_event(schedule, "job-1", "InProgress"))
    assert running["status"] == "ignored" and "InProgress" in running["message"]

    with caplog.at_level("INFO"):
        other = scene.service.on_monitoring_event(execution_event("other-dataquality-abcd", "job-2", "Completed"))
    assert other == {
        "status": "ignored",
        "message": "monitoring schedule other-dataquality-abcd belongs to no pipeline of this orchestrator",
    }
    assert "belongs to no pipeline" in caplog.text
    baseline = execution_event(schedule, "baseline", "Completed")
    del baseline["detail"]["MonitoringScheduleArn"]
    assert scene.service.on_monitoring_event(baseline)["status"] == "ignored"
    assert notifications(queue) == []


# ---------------------------------------------------------------------------------------------------------
# Alarms and retraining


def test_an_alarm_notifies_the_violated_constraints_and_the_report(loop):
    scene, executions, queue = loop
    schedule = provisioned_monitor(scene)
    executions.add(schedule, "CompletedWithViolations", "job-1")
    report = put_report(schedule, SCHEDULED, VIOLATIONS)

    answer = index.handle(alarm_event(f"{MONITOR_NAME}-violations"), scene.service)

    assert answer["status"] == "notified" and answer["retraining"]["status"] == "off"
    [(subject, message)] = notifications(queue)
    assert subject == "Model monitor violations: churn-endpoint (7 constraints)"
    assert "Endpoint: churn-endpoint" in message
    assert "Monitor: byom_data_quality_monitor" in message
    assert f"Monitoring schedule: {schedule}" in message
    assert f"Report location: {report}" in message
    assert "  - feature f0, check baseline_drift_check: drift 0" in message
    assert "  ... and 2 more in the report" in message
    assert "Retraining: not requested" in message


def test_an_alarm_back_to_ok_or_of_another_stack_is_ignored(loop):
    scene, _, queue = loop
    provisioned_monitor(scene)
    assert scene.service.on_monitoring_event(alarm_event(f"{MONITOR_NAME}-violations", "OK"))["status"] == "ignored"
    assert scene.service.on_monitoring_event(alarm_event("billing-alarm"))["status"] == "ignored"
    gone = scene.service.on_monitoring_event(alarm_event("mlops-pipeline-gone-byomdataqualitymonitor-violations"))
    assert gone["status"] == "ignored" and "belongs to no monitor pipeline" in gone["message"]
    assert notifications(queue) == []


def _training(scene: Scene, status: str = "Succeeded") -> None:
    scene.provision(TRAINING)
    scene.run(TRAINING_NAME, status)


def test_an_alarm_retrains_and_records_it_then_the_interval_holds_the_next(loop):
    scene, executions, queue = loop
    _training(scene)
    schedule = provisioned_monitor(scene, retrain_pipeline_name=TRAINING_NAME, retrain_min_interval_minutes=30)
    executions.add(schedule, "CompletedWithViolations", "job-1")
    put_report(schedule, SCHEDULED, VIOLATIONS)
    versions_before = len(
        client("s3").list_object_versions(
            Bucket="mlops-assets", Prefix=f"mlops_provisioned_pipelines/{TRAINING_NAME}/request.json"
        )["Versions"]
    )

    first = scene.service.on_monitoring_event(alarm_event(f"{MONITOR_NAME}-violations"))

    assert first["retraining"]["status"] == "started", first["retraining"]
    versions = client("s3").list_object_versions(
        Bucket="mlops-assets", Prefix=f"mlops_provisioned_pipelines/{TRAINING_NAME}/request.json"
    )["Versions"]
    assert len(versions) == versions_before + 1  # re-provisioned through the same code a POST uses
    record, _ = monitoring.last_retraining(TRAINING_NAME, scene.settings, scene.service.aws)
    assert record and record["by"] == MONITOR_NAME and record["alarm"] == f"{MONITOR_NAME}-violations"
    notifications_seen = notifications(queue)
    assert "Retraining: started" in notifications_seen[0][1]
    assert (
        f"Started by: the orchestrator (mlops-orchestrator) for the alarm {MONITOR_NAME}-violations of the monitor "
        f'{MONITOR_NAME}, owned by "{ALICE}"' in notifications_seen[0][1]
    )

    # The re-provisioned pipeline finished; the alarm fires again within the interval.
    scene.pipelines.record(TRAINING_NAME, "Succeeded")
    second = scene.service.on_monitoring_event(alarm_event(f"{MONITOR_NAME}-violations"))
    assert second["retraining"]["status"] == "skipped"
    assert "less than 30 minutes ago" in second["retraining"]["reason"]
    assert "Retraining: skipped: the last retraining" in notifications(queue)[0][1]

    # Past the interval, the next alarm retrains again.
    later = datetime.now(UTC) + timedelta(minutes=31)
    monitor = monitoring.monitor_of(
        monitoring.lifecycle.lookup(MONITOR_NAME, scene.service.aws), scene.settings, scene.service.aws
    )
    assert monitor is not None
    third = monitoring.retrain(monitor, "alarm", scene.settings, scene.service.aws, scene.service.provision, later)
    assert third["status"] == "started"


def test_a_retraining_that_cannot_be_provisioned_leaves_no_claim_on_the_interval(loop):
    from lambdas.shared.errors import Conflict

    scene = loop[0]
    _training(scene)
    provisioned_monitor(scene, retrain_pipeline_name=TRAINING_NAME)
    monitor = monitoring.monitor_of(
        monitoring.lifecycle.lookup(MONITOR_NAME, scene.service.aws), scene.settings, scene.service.aws
    )
    assert monitor is not None

    def refused(_request):
        raise Conflict("Stack is being changed right now")

    failed = monitoring.retrain(monitor, "alarm", scene.settings, scene.service.aws, refused)

    assert failed["status"] == "failed" and "Stack is being changed right now" in failed["message"], failed
    assert monitoring.last_retraining(TRAINING_NAME, scene.settings, scene.service.aws) == (None, "")
    # Nothing started: the next alarm is not held by the interval.
    again = monitoring.retrain(monitor, "alarm", scene.settings, scene.service.aws, scene.service.provision)
    assert again["status"] == "started", again


def test_no_retraining_while_the_training_pipeline_runs(loop):
    scene, executions, queue = loop
    _training(scene, "InProgress")
    schedule = provisioned_monitor(scene, retrain_pipeline_name=TRAINING_NAME)
    executions.add(schedule, "CompletedWithViolations", "job-1")

    answer = scene.service.on_monitoring_event(alarm_event(f"{MONITOR_NAME}-violations"))

    assert answer["retraining"]["status"] == "skipped"
    assert f"the training pipeline {TRAINING_NAME} is RUNNING" in answer["retraining"]["reason"]
    assert monitoring.last_retraining(TRAINING_NAME, scene.settings, scene.service.aws) == (None, "")
    assert f"Retraining: skipped: the training pipeline {TRAINING_NAME} is RUNNING" in notifications(queue)[0][1]


# ---------------------------------------------------------------------------------------------------------
# The request's retrain_pipeline_name


def test_an_unknown_retrain_pipeline_is_a_400_and_nothing_is_created(loop):
    scene, _, _ = loop
    status, answer = scene.call("POST", "/provisionpipeline", {**MONITOR, "retrain_pipeline_name": TRAINING_NAME})
    assert status == 400
    assert "retrain_pipeline_name" in json.dumps(answer) and "does not exist" in json.dumps(answer)
    assert monitoring.lifecycle.lookup(MONITOR_NAME, scene.service.aws) is None


def test_a_retrain_pipeline_of_another_type_is_a_400(loop):
    scene, _, _ = loop
    provisioned_monitor(scene)
    other = {**MONITOR, "model_name": "other", "retrain_pipeline_name": MONITOR_NAME}
    status, answer = scene.call("POST", "/provisionpipeline", other)
    assert status == 400
    assert "must name a training pipeline" in json.dumps(answer)


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("violation_threshold", 0, "between 1"),
        ("retrain_min_interval_minutes", 4, "between 5"),
        ("retrain_pipeline_name", "not a name!", "retrain_pipeline_name"),
    ],
)
def test_monitoring_fields_are_validated(loop, field, value, rule):
    scene, _, _ = loop
    status, answer = scene.call("POST", "/provisionpipeline", {**MONITOR, field: value})
    assert status == 400 and field in json.dumps(answer) and rule in json.dumps(answer)


# ---------------------------------------------------------------------------------------------------------
# Describe and the pipeline's state


def _deployed_monitor(scene: Scene) -> str:
    """A monitor whose CodePipeline deployed the blueprint stack with its schedule output."""
    scene.provision(MONITOR)
    schedule = schedule_of(scene)
    scene.deploy_blueprint(MONITOR_NAME, outputs={"MonitoringScheduleJobName": schedule})
    scene.pipelines.record(MONITOR_NAME, "Succeeded")
    return schedule


def test_describe_shows_the_schedule_and_its_last_executions(loop):
    scene, executions, _ = loop
    schedule = _deployed_monitor(scene)
    executions.add(schedule, "Completed", "job-1")
    executions.add(schedule, "Failed", "job-2", reason="AlgorithmError: no data")
    executions.add(schedule, "CompletedWithViolations", "job-3")
    report = put_report(schedule, SCHEDULED + timedelta(hours=2), VIOLATIONS)

    status, answer = scene.call("GET", "/pipelines/{pipeline_name}", path={"pipeline_name": MONITOR_NAME})

    assert status == 200
    section = answer["monitoring"]
    assert (section["schedule"], section["status"], section["alarm"]) == (
        schedule,
        "Scheduled",
        f"{MONITOR_NAME}-violations",
    )
    assert [e["status"] for e in section["executions"]] == ["CompletedWithViolations", "Failed", "Completed"]
    newest, failed, clean = section["executions"]
    assert newest["report"] == report and newest["violations_count"] == 7 and len(newest["violations"]) == 5
    assert failed["failure_reason"] == "AlgorithmError: no data" and "violations_count" not in failed
    assert clean["violations_count"] == 0
    assert answer["state"] == "VIOLATIONS" and schedule in answer["reason"]


def test_the_state_follows_the_latest_execution_and_the_list_filters_on_it(loop):
    scene, executions, _ = loop
    schedule = _deployed_monitor(scene)
    executions.add(schedule, "Failed", "job-1", reason="ClientError: no capture")

    scene.service.on_monitoring_event(execution_event(schedule, "job-1", "Failed"))

    status, page = scene.call("GET", "/pipelines", query={"state": "monitoring_failed"})
    assert status == 200
    [listed] = page["pipelines"]
    assert listed["pipeline_name"] == MONITOR_NAME and listed["reason"].endswith("failed: ClientError: no capture")

    executions.add(schedule, "Completed", "job-2")
    scene.service.on_monitoring_event(execution_event(schedule, "job-2", "Completed"))
    status, page = scene.call("GET", "/pipelines", query={"state": "ACTIVE"})
    assert [p["pipeline_name"] for p in page["pipelines"]] == [MONITOR_NAME]


def test_a_multi_account_monitor_says_its_schedules_run_in_the_stage_accounts(moto_aws):
    executions = RecordedExecutions()
    aws = Aws(stacks=StandInStacks(), pipelines=FakePipelines(), monitoring=executions)
    scene = Scene(MULTI, OrchestratorService(MULTI, aws), aws.pipelines)  # type: ignore[arg-type]
    client("s3").create_bucket(Bucket="reports-bucket")
    scene.provision(MONITOR)

    status, answer = scene.call("GET", "/pipelines/{pipeline_name}", path={"pipeline_name": MONITOR_NAME})

    assert status == 200
    assert answer["monitoring"] == {
        "message": "no schedule to read: the monitor has no stored request, or runs in the stage accounts"
    }
    alarm = scene.service.on_monitoring_event(alarm_event(f"{MONITOR_NAME}-violations"))
    assert alarm["status"] == "ignored"


def test_a_second_monitor_of_one_kind_on_one_endpoint_is_refused_with_the_owner(loop):
    """Both would derive one schedule name: the second would take over the first's schedule."""
    scene, _, _ = loop
    schedule = provisioned_monitor(scene)
    status, answer = scene.call("POST", "/provisionpipeline", {**MONITOR, "model_name": "churn-second"})
    assert status == 409, answer
    reason = answer["detailedMessage"]
    assert MONITOR_NAME in reason and schedule in reason and "delete it first" in reason
    assert monitoring.lifecycle.lookup("mlops-pipeline-churn-second-byomdataqualitymonitor", scene.service.aws) is None
    # The owner itself may update its request (its schedule stays its own), and another kind is another schedule.
    assert scene.call("POST", "/provisionpipeline", {**MONITOR, "violation_threshold": 3})[0] == 200
    other_kind = {
        **MONITOR,
        "pipeline_type": "byom_model_quality_monitor",
        "problem_type": "Regression",
        "baseline_inference_attribute": "prediction",
        "baseline_ground_truth_attribute": "label",
        "monitor_inference_attribute": "0",
        "monitor_ground_truth_input": "reports-bucket/ground-truth",
    }
    assert scene.call("POST", "/provisionpipeline", other_kind)[0] == 200


# ---------------------------------------------------------------------------------------------------------
# The open engine: its analysis jobs report their own outcome (no SageMaker monitoring schedule, no execution list)


def engine_job(name: str, schedule: str, scheduled: datetime = SCHEDULED) -> None:
    """An analysis job as the open engine's schedule starts it: its environment names the schedule and the hour
    (moto keeps no Environment of a processing job: the test sets it where DescribeProcessingJob reads it)."""
    from moto.sagemaker.models import sagemaker_backends

    environment = {
        open_engine.SCHEDULE_ENV: schedule,
        open_engine.SCHEDULED_TIME_ENV: scheduled.isoformat().replace("+00:00", "Z"),
    }
    client("sagemaker").create_processing_job(
        ProcessingJobName=name,
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5}},
        AppSpecification={
            "ImageUri": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
        },
        Environment=environment,
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/monitor",
    )
    sagemaker_backends[ACCOUNT][REGION].processing_jobs[name].environment = environment


def put_result(schedule: str, hour: datetime, result: dict[str, Any]) -> None:
    key = f"monitoring/churn-endpoint/{schedule}/{hour:%Y/%m/%d/%H}/result.json"
    client("s3").put_object(Bucket="reports-bucket", Key=key, Body=json.dumps(result))


def test_the_open_engines_result_feeds_the_metric_without_sagemakers_monitoring(loop):
    scene, executions, _ = loop
    schedule = provisioned_monitor(scene)
    engine_job("open-monitoring-d32c5kddcf5bb8c3", schedule)
    location = put_report(schedule, SCHEDULED, VIOLATIONS)
    put_result(schedule, SCHEDULED, {"status": "CompletedWithViolations", "violations": VIOLATIONS["violations"]})

    answer = index.handle(documented_event("open-monitoring-d32c5kddcf5bb8c3", "Completed"), scene.service)

    assert executions.runs == {}  # nothing was asked of SageMaker's monitoring executions
    assert answer["status"] == "recorded" and answer["monitoring_schedule"] == schedule
    assert answer["execution"]["status"] == "CompletedWithViolations" and answer["execution"]["report"] == location
    assert answer["execution"]["violations_count"] == 7 and metric_values(schedule) == [7.0]


def test_a_clean_open_engine_hour_publishes_zero(loop):
    scene, _, _ = loop
    schedule = provisioned_monitor(scene)
    engine_job("open-monitoring-clean", schedule)
    put_result(schedule, SCHEDULED, {"status": "Completed", "violations": []})
    answer = scene.service.on_monitoring_event(documented_event("open-monitoring-clean", "Completed"))
    assert answer["metric"]["value"] == 0 and metric_values(schedule) == [0.0]


@pytest.mark.parametrize(
    "job_status, result, reason",
    [
        ("Failed", None, "AlgorithmError: pip could not install monitoring-engine"),
        ("Completed", {"status": "Failed", "exit_message": "baseline constraints.json is missing"}, "constraints"),
        ("Completed", None, "the engine wrote no s3://reports-bucket/monitoring/churn-endpoint/"),
        ("Completed", {"status": "Exploded"}, "result.json says 'Exploded'"),
    ],
)
def test_a_failed_open_engine_hour_notifies_at_once_with_its_reason(loop, job_status, result, reason):
    scene, _, queue = loop
    schedule = provisioned_monitor(scene)
    engine_job("open-monitoring-failed", schedule)
    if result is not None:
        put_result(schedule, SCHEDULED, result)
    event = documented_event("open-monitoring-failed", job_status)
    if job_status == "Failed":
        event["detail"]["FailureReason"] = reason

    answer = scene.service.on_monitoring_event(event)

    assert answer["execution"]["status"] == "Failed" and reason in answer["execution"]["failure_reason"]
    assert answer["notified"] and metric_values(schedule) == []
    ((subject, message),) = notifications(queue)
    assert subject == f"Monitoring execution failed: {MONITOR_NAME}" and reason in message


def test_the_engines_environment_names_match_the_orchestrators():
    assert (open_engine.SCHEDULE_ENV, open_engine.SCHEDULED_TIME_ENV) == (
        reports.ENGINE_SCHEDULE_ENV,
        reports.ENGINE_SCHEDULED_TIME_ENV,
    )


def _deployed_open_monitor(scene: Scene) -> str:
    """A monitor on the open engine whose CodePipeline deployed its blueprint (no SageMaker schedule exists)."""
    scene.provision({**MONITOR, "monitoring_engine": "open"})
    schedule = schedule_of(scene)
    outputs = {"MonitoringScheduleJobName": schedule, "MonitoringEngine": open_engine.OPEN}
    scene.deploy_blueprint(MONITOR_NAME, outputs=outputs)
    scene.pipelines.record(MONITOR_NAME, "Succeeded")
    return schedule


def _open_hour(scene: Scene, schedule: str, hour: int, result: dict[str, Any], job_status: str = "Completed") -> None:
    scheduled = SCHEDULED + timedelta(hours=hour)
    engine_job(f"open-monitoring-hour-{hour}", schedule, scheduled)
    if result.get("status") == "CompletedWithViolations":
        put_report(schedule, scheduled, VIOLATIONS)
    put_result(schedule, scheduled, result)
    scene.service.on_monitoring_event(documented_event(f"open-monitoring-hour-{hour}", job_status))


def test_the_open_engines_outcomes_are_recorded_and_describe_and_the_state_read_them(loop):
    scene, executions, _ = loop
    schedule = _deployed_open_monitor(scene)
    _open_hour(scene, schedule, 0, {"status": "Completed", "violations": []})
    _open_hour(scene, schedule, 1, {"status": "Failed", "exit_message": "no capture could be parsed"})
    _open_hour(scene, schedule, 2, {"status": "CompletedWithViolations"})

    keys = client("s3").list_objects_v2(
        Bucket=SINGLE.assets_bucket, Prefix=f"mlops_provisioned_pipelines/{MONITOR_NAME}/"
    )
    recorded = sorted(o["Key"].rsplit("/", 1)[-1] for o in keys["Contents"] if "/monitoring_executions/" in o["Key"])
    assert recorded == ["2026-12-01T14.json", "2026-12-01T15.json", "2026-12-01T16.json"]
    status, answer = scene.call("GET", "/pipelines/{pipeline_name}", path={"pipeline_name": MONITOR_NAME})

    assert status == 200 and executions.runs == {}  # SageMaker's monitoring was never asked
    section = answer["monitoring"]
    assert (section["engine"], section["schedule"], section["status"]) == ("open", schedule, "Scheduled")
    assert [e["status"] for e in section["executions"]] == ["CompletedWithViolations", "Failed", "Completed"]
    newest, failed, clean = section["executions"]
    assert newest["violations_count"] == 7 and newest["processing_job"] == "open-monitoring-hour-2"
    assert failed["failure_reason"] == "no capture could be parsed" and clean["violations_count"] == 0
    assert answer["state"] == "VIOLATIONS" and schedule in answer["reason"]
    assert "monitoring_schedule" not in answer["sagemaker"]  # the stack deploys none on the open engine


def test_an_open_monitors_failed_hour_is_monitoring_failed_and_a_clean_one_after_it_active(loop):
    scene, _, _ = loop
    schedule = _deployed_open_monitor(scene)
    _open_hour(scene, schedule, 0, {}, job_status="Failed")
    status, answer = scene.call("GET", "/pipelines/{pipeline_name}", path={"pipeline_name": MONITOR_NAME})
    assert status == 200 and answer["state"] == "MONITORING_FAILED" and "the analysis job failed" in answer["reason"]
    _open_hour(scene, schedule, 1, {"status": "Completed", "violations": []})
    status, answer = scene.call("GET", "/pipelines/{pipeline_name}", path={"pipeline_name": MONITOR_NAME})
    assert status == 200 and answer["state"] == "ACTIVE", answer["reason"]


def test_an_open_monitors_alarm_notifies_the_recorded_executions_violations(loop):
    scene, _, queue = loop
    schedule = _deployed_open_monitor(scene)
    _open_hour(scene, schedule, 0, {"status": "CompletedWithViolations"})

    answer = scene.service.on_monitoring_event(alarm_event(f"{MONITOR_NAME}-violations"))

    assert answer["status"] == "notified" and answer["execution"]["violations_count"] == 7
    ((subject, message),) = notifications(queue)
    assert subject == "Model monitor violations: churn-endpoint (7 constraints)"
    assert "feature f0, check baseline_drift_check: drift 0" in message and "... and 2 more in the report" in message
