# SPDX-License-Identifier: Apache-2.0
"""Local mode's Model Monitor: schedules that run executions, alarms that are evaluated, notifications kept."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from local import emulator, persistence
from local.emulator import cloudwatch, monitoring

ACCOUNT, REGION = "123456789012", "us-east-1"
ENDPOINT, SCHEDULE, ALARM = "churn-endpoint", "churn-schedule", "churn-monitor-violations"
BASELINE = "s3://data/baselines/churn"
REPORTS = "s3://data/monitoring/reports"
ANALYZER = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"


def alarm(comparison: str = "GreaterThanOrEqualToThreshold", missing: str | None = "notBreaching", **more: Any):
    values = {
        "comparison_operator": comparison,
        "statistic": "Maximum",
        "threshold": 1.0,
        "period": 300,
        "evaluation_periods": 1,
        "datapoints_to_alarm": None,
        "treat_missing_data": missing,
        "metric_data_queries": [],
    }
    return SimpleNamespace(**{**values, **more})


NOW = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


def point(value: float, seconds_ago: float = 10) -> tuple[datetime, float]:
    return (NOW - timedelta(seconds=seconds_ago), value)


@pytest.mark.parametrize(
    ("comparison", "alarming", "calm"),
    [
        ("GreaterThanOrEqualToThreshold", 1.0, 0.0),
        ("GreaterThanThreshold", 2.0, 1.0),
        ("LessThanThreshold", 0.0, 1.0),
        ("LessThanOrEqualToThreshold", 1.0, 2.0),
    ],
)
def test_each_comparison_alarms_on_its_side_of_the_threshold(comparison: str, alarming: float, calm: float):
    assert cloudwatch.evaluate(alarm(comparison), [point(alarming)], NOW).state == "ALARM"  # type: ignore[union-attr]
    assert cloudwatch.evaluate(alarm(comparison), [point(calm)], NOW).state == "OK"  # type: ignore[union-attr]


def test_the_statistic_is_taken_over_the_period_and_older_data_is_not_read():
    # Maximum of the period: one breaching datapoint among calm ones alarms; one older than the period does not.
    assert cloudwatch.evaluate(alarm(), [point(0), point(3), point(0)], NOW).state == "ALARM"  # type: ignore[union-attr]
    verdict = cloudwatch.evaluate(alarm(), [point(3, seconds_ago=400), point(0)], NOW)
    assert verdict is not None and verdict.state == "OK"
    assert "1 datapoint [0] was not greater than or equal to the threshold (1)" in verdict.reason


def test_missing_data_counts_as_treat_missing_data_says():
    calm = cloudwatch.evaluate(alarm(missing="notBreaching"), [], NOW)
    assert calm is not None and calm.state == "OK"
    assert "no datapoint in 1 period: 1 missing datapoint was treated as not breaching" in calm.reason
    assert cloudwatch.evaluate(alarm(missing="breaching"), [], NOW).state == "ALARM"  # type: ignore[union-attr]
    assert cloudwatch.evaluate(alarm(missing="missing"), [], NOW).state == "INSUFFICIENT_DATA"  # type: ignore[union-attr]
    assert cloudwatch.evaluate(alarm(missing=None), [], NOW).state == "INSUFFICIENT_DATA"  # type: ignore[union-attr]
    assert cloudwatch.evaluate(alarm(missing="ignore"), [], NOW) is None  # the state is kept


def test_m_out_of_n_datapoints_alarm():
    two_of_three = alarm(evaluation_periods=3, datapoints_to_alarm=2, period=60)
    assert cloudwatch.evaluate(two_of_three, [point(1, 10), point(0, 70), point(0, 130)], NOW).state == "OK"  # type: ignore[union-attr]
    assert cloudwatch.evaluate(two_of_three, [point(1, 10), point(0, 70), point(1, 130)], NOW).state == "ALARM"  # type: ignore[union-attr]


def test_an_alarm_the_emulator_cannot_evaluate_is_left_alone():
    assert cloudwatch.evaluate(alarm("LessThanLowerOrGreaterThanUpperThreshold"), [point(5)], NOW) is None
    assert cloudwatch.evaluate(alarm(statistic="p90"), [point(5)], NOW) is None


@pytest.mark.parametrize(
    ("expression", "hours"),
    [
        ("cron(0 * ? * * *)", 1),
        ("cron(0 */6 ? * * *)", 6),
        ("cron(0 8 ? * * *)", 24),
        ("cron(0 8,20 ? * * *)", 12),
        ("something else", 24),
    ],
)
def test_schedule_expressions_give_their_period(expression: str, hours: int):
    assert monitoring.schedule_period_hours(expression) == hours


def test_data_quality_checks_missing_features_and_completeness_only():
    statistics = {
        "dataset": {"item_count": 10},
        "features": [
            {"name": "age", "numerical_statistics": {"common": {"num_present": 10}}},
            {"name": "income", "numerical_statistics": {"common": {"num_present": 8}}},
        ],
    }
    constraints = {
        "features": [
            {"name": "age", "completeness": 1.0},
            {"name": "income", "completeness": 0.9},
            {"name": "tenure", "completeness": 1.0},
        ]
    }
    found = monitoring.data_quality_violations(constraints, statistics)
    assert [(v["feature_name"], v["constraint_check_type"]) for v in found] == [
        ("income", "completeness_check"),
        ("tenure", "missing_column_check"),
    ]
    assert "0.8, below the baseline's 0.9" in found[0]["description"]
    disabled = {**constraints, "monitoring_config": {"evaluate_constraints": "Disabled"}}
    assert monitoring.data_quality_violations(disabled, statistics) == []


# --- through the emulator ---------------------------------------------------------------------------------

MONITOR_TEMPLATE = {
    "Resources": {
        "JobDefinition": {
            "Type": "AWS::SageMaker::DataQualityJobDefinition",
            "Properties": {
                "EndpointName": ENDPOINT,
                "DataQualityAppSpecification": {"ImageUri": ANALYZER},
                "DataQualityBaselineConfig": {"ConstraintsResource": {"S3Uri": f"{BASELINE}/constraints.json"}},
                "DataQualityJobInput": {"EndpointInput": {"EndpointName": ENDPOINT, "LocalPath": "/in"}},
                "DataQualityJobOutputConfig": {
                    "MonitoringOutputs": [{"S3Output": {"LocalPath": "/out", "S3Uri": REPORTS}}]
                },
                "JobResources": {
                    "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 20}
                },
                "RoleArn": "arn:aws:iam::123456789012:role/monitor",
                "StoppingCondition": {"MaxRuntimeInSeconds": 1800},
            },
        },
        "Schedule": {
            "Type": "AWS::SageMaker::MonitoringSchedule",
            "Properties": {
                "MonitoringScheduleName": SCHEDULE,
                "EndpointName": ENDPOINT,
                "MonitoringScheduleConfig": {
                    "MonitoringJobDefinitionName": {
                        "Fn::Select": [1, {"Fn::Split": ["/", {"Fn::GetAtt": ["JobDefinition", "JobDefinitionArn"]}]}]
                    },
                    "MonitoringType": "DataQuality",
                    "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
                },
            },
        },
        "Alarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmName": ALARM,
                "Namespace": "MLOps/ModelMonitor",
                "MetricName": "ConstraintViolations",
                "Dimensions": [{"Name": "MonitoringSchedule", "Value": SCHEDULE}],
                "Statistic": "Maximum",
                "Period": 300,
                "EvaluationPeriods": 1,
                "Threshold": 1,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "TreatMissingData": "notBreaching",
            },
        },
    }
}


def _monitor(features: list[str] = ["age", "income"]) -> None:  # noqa: B006 - read only
    """The monitored endpoint, a data-quality baseline and a monitor stack in the running emulator."""
    from lambdas.shared.aws import client

    s3, sagemaker = client("s3"), client("sagemaker")
    s3.create_bucket(Bucket="data")
    constraints = {"features": [{"name": f, "completeness": 1.0} for f in features]}
    statistics = {
        "dataset": {"item_count": 2},
        "features": [{"name": f, "numerical_statistics": {"common": {"num_present": 2}}} for f in features],
    }
    s3.put_object(Bucket="data", Key="baselines/churn/constraints.json", Body=json.dumps(constraints).encode())
    s3.put_object(Bucket="data", Key="baselines/churn/statistics.json", Body=json.dumps(statistics).encode())
    sagemaker.create_model(
        ModelName=ENDPOINT,
        PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/model:1"},
        ExecutionRoleArn="arn:aws:iam::123456789012:role/model",
    )
    variant = {"VariantName": "AllTraffic", "ModelName": ENDPOINT, "InstanceType": "ml.m5.large"}
    sagemaker.create_endpoint_config(
        EndpointConfigName=ENDPOINT, ProductionVariants=[{**variant, "InitialInstanceCount": 1}]
    )
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=ENDPOINT)
    client("cloudformation").create_stack(StackName="churn-monitor", TemplateBody=json.dumps(MONITOR_TEMPLATE))


def cloud_backend() -> Any:
    from moto.cloudwatch.models import cloudwatch_backends

    return cloudwatch_backends[ACCOUNT][REGION]


def _run_now(clock: monitoring.MonitoringClock) -> None:
    """The schedule's next execution, now (as if its time had come)."""
    monitoring.MONITORING_RUNS[(ACCOUNT, REGION, SCHEDULE)].next_at = 0
    clock.tick()


def _read(key: str) -> Any:
    from lambdas.shared.aws import client

    return json.loads(client("s3").get_object(Bucket="data", Key=key)["Body"].read())


def test_a_schedule_runs_a_clean_execution_soon_after_it_is_created_and_sagemaker_answers_it(
    monkeypatch: pytest.MonkeyPatch,
):
    from lambdas.shared.aws import client

    monkeypatch.setattr(monitoring, "MONITORING_HOUR_SECONDS", 1.2)  # the first execution 0.1 s after creation
    delivered: list[dict[str, Any]] = []
    with emulator.Emulator():
        _monitor()
        clock = monitoring.MonitoringClock(delivered.append, tick_seconds=0.05)
        clock.start()
        deadline = time.monotonic() + 10
        while not [e for e in delivered if e["source"] == "aws.sagemaker"] and time.monotonic() < deadline:
            time.sleep(0.05)
        clock.stop()
        sagemaker = client("sagemaker")
        listed = sagemaker.list_monitoring_executions(
            MonitoringScheduleName=SCHEDULE, SortBy="ScheduledTime", SortOrder="Descending"
        )["MonitoringExecutionSummaries"]
        described = sagemaker.describe_monitoring_schedule(MonitoringScheduleName=SCHEDULE)
        job = sagemaker.describe_processing_job(ProcessingJobName=listed[0]["ProcessingJobArn"].rsplit("/", 1)[1])
        statistics = _read(
            f"monitoring/reports/{ENDPOINT}/{SCHEDULE}/{listed[0]['ScheduledTime']:%Y/%m/%d/%H}/statistics.json"
        )
        reports = client("s3").list_objects_v2(Bucket="data", Prefix="monitoring/reports/")["Contents"]
    (event,) = [e for e in delivered if e["source"] == "aws.sagemaker"]
    assert (event["source"], event["detail-type"]) == ("aws.sagemaker", "SageMaker Processing Job State Change")
    # AWS's documented event names no schedule: the orchestrator reads it from DescribeProcessingJob.
    assert "MonitoringScheduleArn" not in event["detail"]
    assert event["detail"]["ProcessingJobName"] == job["ProcessingJobName"]
    assert event["detail"]["ProcessingJobStatus"] == "Completed"
    assert listed[0]["MonitoringExecutionStatus"] == "Completed"
    assert listed[0]["EndpointName"] == ENDPOINT and "FailureReason" not in listed[0]
    assert described["LastMonitoringExecutionSummary"]["ProcessingJobArn"] == listed[0]["ProcessingJobArn"]
    assert job["MonitoringScheduleArn"] == described["MonitoringScheduleArn"]
    report = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    assert report.startswith(f"{REPORTS}/{ENDPOINT}/{SCHEDULE}/")
    assert [f["name"] for f in statistics["features"]] == ["age", "income"]
    assert not [r for r in reports if r["Key"].endswith("constraint_violations.json")]  # clean: no violations


def test_a_simulated_violation_names_a_baseline_feature_and_its_alarm_fires(monkeypatch: pytest.MonkeyPatch):
    from lambdas.shared.aws import client

    delivered: list[dict[str, Any]] = []
    with emulator.Emulator():
        _monitor()
        clock = monitoring.MonitoringClock(delivered.append)
        monitoring.simulate_violation((ACCOUNT, REGION, SCHEDULE))
        clock.tick()
        sagemaker = client("sagemaker")
        (latest,) = sagemaker.list_monitoring_executions(MonitoringScheduleName=SCHEDULE)[
            "MonitoringExecutionSummaries"
        ]
        job = sagemaker.describe_processing_job(ProcessingJobName=latest["ProcessingJobArn"].rsplit("/", 1)[1])
        report = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
        violations = _read(f"{report.removeprefix('s3://data/')}/constraint_violations.json")["violations"]
        # What the orchestrator does with it: the count, as a metric the stack's alarm watches.
        metric = {"MetricName": "ConstraintViolations", "Value": float(len(violations))}
        dimensions = [{"Name": "MonitoringSchedule", "Value": SCHEDULE}]
        client("cloudwatch").put_metric_data(
            Namespace="MLOps/ModelMonitor", MetricData=[{**metric, "Dimensions": dimensions}]
        )
        state = client("cloudwatch").describe_alarms(AlarmNames=[ALARM])["MetricAlarms"][0]
        clock.tick()
        # The same value again: no change, no event.
        client("cloudwatch").put_metric_data(
            Namespace="MLOps/ModelMonitor", MetricData=[{**metric, "Dimensions": dimensions}]
        )
        clock.tick()
        # A period of the shortened clock (300 s: 5 s when an hour is 60 s) without a violation: back to OK.
        backend = cloud_backend()
        later = datetime.now(UTC) + timedelta(seconds=300 * monitoring.MONITORING_HOUR_SECONDS / 3600 + 0.5)
        assert not cloudwatch.evaluate_alarm(backend, backend.alarms[ALARM], datetime.now(UTC))
        assert cloudwatch.evaluate_alarm(backend, backend.alarms[ALARM], later)
        clock.deliver()
    assert latest["MonitoringExecutionStatus"] == "CompletedWithViolations"
    assert job["ProcessingJobStatus"] == "Completed" and job["ExitMessage"].startswith("CompletedWithViolations")
    assert [(v["feature_name"], v["constraint_check_type"]) for v in violations] == [("age", "baseline_drift_check")]
    assert "simulate-violation" in violations[0]["description"]
    assert state["StateValue"] == "ALARM" and "greater than or equal to the threshold (1)" in state["StateReason"]
    # The clock's first look finds no data (treated as not breaching), then the violation: two changes, and
    # the same value put again changes nothing.
    alarms = [e["detail"] for e in delivered if e["source"] == "aws.cloudwatch"]
    assert [(a["alarmName"], a["previousState"]["value"], a["state"]["value"]) for a in alarms] == [
        (ALARM, "INSUFFICIENT_DATA", "OK"),
        (ALARM, "OK", "ALARM"),
        (ALARM, "ALARM", "OK"),
    ]
    detail = alarms[1]
    metric_stat = detail["configuration"]["metrics"][0]["metricStat"]
    assert metric_stat["metric"] == {
        "namespace": "MLOps/ModelMonitor",
        "name": "ConstraintViolations",
        "dimensions": {"MonitoringSchedule": SCHEDULE},
    }
    assert (metric_stat["period"], metric_stat["stat"]) == (300, "Maximum")


def test_a_constraint_the_baseline_data_breaks_is_a_violation_without_simulation():
    from lambdas.shared.aws import client

    with emulator.Emulator():
        _monitor()
        constraints = _read("baselines/churn/constraints.json")
        constraints["features"].append({"name": "tenure", "completeness": 1.0})  # a feature the data lacks
        client("s3").put_object(
            Bucket="data", Key="baselines/churn/constraints.json", Body=json.dumps(constraints).encode()
        )
        _run_now(monitoring.MonitoringClock())
        (latest,) = client("sagemaker").list_monitoring_executions(MonitoringScheduleName=SCHEDULE)[
            "MonitoringExecutionSummaries"
        ]
        report = f"monitoring/reports/{ENDPOINT}/{SCHEDULE}/{latest['ScheduledTime']:%Y/%m/%d/%H}"
        violations = _read(f"{report}/constraint_violations.json")["violations"]
    assert latest["MonitoringExecutionStatus"] == "CompletedWithViolations"
    assert [(v["feature_name"], v["constraint_check_type"]) for v in violations] == [("tenure", "missing_column_check")]


def test_an_execution_fails_with_the_reason_when_its_endpoint_or_report_bucket_is_gone():
    from lambdas.shared.aws import client

    delivered: list[dict[str, Any]] = []
    with emulator.Emulator():
        _monitor()
        clock = monitoring.MonitoringClock(delivered.append)
        client("sagemaker").delete_endpoint(EndpointName=ENDPOINT)
        _run_now(clock)
        monitoring.simulate_violation((ACCOUNT, REGION, SCHEDULE))  # a failure wins over a simulated violation
        _monitor_endpoint_only()
        _move_reports_to("gone-bucket")
        clock.tick()
        listed = client("sagemaker").list_monitoring_executions(
            MonitoringScheduleName=SCHEDULE, SortBy="ScheduledTime", SortOrder="Ascending"
        )["MonitoringExecutionSummaries"]
    assert [s["MonitoringExecutionStatus"] for s in listed] == ["Failed", "Failed"]
    assert f"endpoint {ENDPOINT} does not exist" in listed[0]["FailureReason"]
    assert "bucket gone-bucket does not exist" in listed[1]["FailureReason"]
    assert listed[0]["ScheduledTime"] + timedelta(hours=1) == listed[1]["ScheduledTime"]
    jobs = [e["detail"] for e in delivered if e["source"] == "aws.sagemaker"]
    assert [(j["ProcessingJobStatus"], j["FailureReason"]) for j in jobs] == [
        ("Failed", listed[0]["FailureReason"]),
        ("Failed", listed[1]["FailureReason"]),
    ]


def _monitor_endpoint_only() -> None:
    from lambdas.shared.aws import client

    client("sagemaker").create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=ENDPOINT)


def _move_reports_to(bucket: str) -> None:
    definition = next(d for (a, r, _), d in monitoring.JOB_DEFINITIONS.items() if (a, r) == (ACCOUNT, REGION))
    definition["DataQualityJobOutputConfig"]["MonitoringOutputs"][0]["S3Output"]["S3Uri"] = f"s3://{bucket}/reports"


def test_list_monitoring_executions_refuses_an_unknown_sort():
    from botocore.exceptions import ClientError

    from lambdas.shared.aws import client

    with emulator.Emulator(), pytest.raises(ClientError) as refused:
        client("sagemaker").list_monitoring_executions(SortBy="Name")
    assert "CreationTime, ScheduledTime or Status" in str(refused.value)


def test_published_messages_are_recorded_with_their_time_and_subject():
    from lambdas.shared.aws import client

    with emulator.Emulator():
        topic = client("sns").create_topic(Name="mlops-notifications")["TopicArn"]
        client("sns").publish(TopicArn=topic, Subject="Monitor alarm", Message="churn-endpoint: 1 violation")
        recorded = list(emulator.NOTIFICATIONS)
    assert [(n["topic_arn"], n["subject"], n["message"]) for n in recorded] == [
        (topic, "Monitor alarm", "churn-endpoint: 1 violation")
    ]


def test_the_monitoring_clock_history_and_notifications_survive_a_restart(tmp_path):
    from lambdas.shared.aws import client

    state = tmp_path / persistence.STATE_FILE
    with emulator.Emulator():
        _monitor()
        _run_now(monitoring.MonitoringClock())
        topic = client("sns").create_topic(Name="mlops-notifications")["TopicArn"]
        client("sns").publish(TopicArn=topic, Subject="kept", Message="kept")
        next_at = monitoring.MONITORING_RUNS[(ACCOUNT, REGION, SCHEDULE)].next_at
        persistence.dump(state, "single-account", settings=None, runner={})
    with emulator.Emulator():
        assert not monitoring.MONITORING_RUNS and not emulator.NOTIFICATIONS  # a new emulator starts empty
        persistence.load(state, "single-account")
        restored_next_at = monitoring.MONITORING_RUNS[(ACCOUNT, REGION, SCHEDULE)].next_at
        listed = client("sagemaker").list_monitoring_executions(MonitoringScheduleName=SCHEDULE)
        alarm_state = client("cloudwatch").describe_alarms(AlarmNames=[ALARM])["MetricAlarms"][0]["StateValue"]
        notifications = list(emulator.NOTIFICATIONS)
        _run_now(monitoring.MonitoringClock())  # the clock carries on: the next scheduled hour
        after = client("sagemaker").list_monitoring_executions(MonitoringScheduleName=SCHEDULE, SortOrder="Ascending")
    assert restored_next_at == next_at
    assert [s["MonitoringExecutionStatus"] for s in listed["MonitoringExecutionSummaries"]] == ["Completed"]
    first, second = after["MonitoringExecutionSummaries"]
    assert second["ScheduledTime"] - first["ScheduledTime"] == timedelta(hours=1)
    assert alarm_state == "OK"  # as the first emulator's evaluation left it
    assert [n["subject"] for n in notifications] == ["kept"]


# --- the local-only route ---------------------------------------------------------------------------------


def _simulate(described: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    from local.session import SIMULATE_VIOLATION_ROUTE, LocalOrchestrator

    orchestrator = LocalOrchestrator()
    settings = SimpleNamespace(detailed_errors=True)
    orchestrator.service = SimpleNamespace(describe_pipeline=lambda name: described, settings=settings)  # type: ignore[assignment]
    method, resource = SIMULATE_VIOLATION_ROUTE
    event = {"httpMethod": method, "resource": resource, "pathParameters": {"pipeline_name": "p"}}
    answer = orchestrator.handle(event)
    return answer["statusCode"], json.loads(answer["body"])


def test_simulating_a_violation_of_a_monitor_whose_schedule_is_not_deployed_is_a_conflict_saying_so():
    monitoring.MONITORING_RUNS.clear()
    plan = {"names": {"monitoring_schedule_name": SCHEDULE}}
    status, body = _simulate({"pipeline_type": "byom_data_quality_monitor", "state": "IN_PROGRESS", "plan": plan})
    assert status == 409
    assert "has no monitoring schedule deployed yet (its state is IN_PROGRESS)" in body["detailedMessage"]


def test_simulating_a_violation_of_a_pipeline_that_is_not_a_monitor_is_refused_naming_its_type():
    status, body = _simulate({"pipeline_type": "model_training_builtin", "state": "ACTIVE", "plan": {}})
    assert status == 400
    assert "is a model_training_builtin pipeline, not a monitor" in body["detailedMessage"]


def test_a_simulated_execution_reports_as_many_violations_as_asked_each_a_feature_and_check_once():
    baseline = {"constraints": {"features": [{"name": "age"}, {"name": "income"}]}}
    violations = monitoring._simulated_violations("DataQuality", baseline, 5)
    pairs = [(v["feature_name"], v["constraint_check_type"]) for v in violations]
    assert len(pairs) == 5 and len(set(pairs)) == 5
    assert {feature for feature, _ in pairs} == {"age", "income"}
    assert all(v["description"].startswith(monitoring.SIMULATED) for v in violations)


@pytest.mark.parametrize("body", ['{"violations": 0}', '{"violations": "3"}', '{"violations": true}', "[1]", "{"])
def test_simulate_violation_refuses_a_count_that_is_not_1_to_1000(body):
    from lambdas.shared.errors import BadRequest
    from local.session import _violations_asked

    with pytest.raises(BadRequest, match=r"violations: must be an integer from 1 to 1000|\(body\)"):
        _violations_asked(body)
    assert _violations_asked('{"violations": 3}') == 3 and _violations_asked(None) is None
