# SPDX-License-Identifier: Apache-2.0
"""Event intake: a monitoring execution's end becomes a metric (and, failed, a notification); a violations
alarm becomes a notification and, when the request asks for it, a retraining.

Two events reach the orchestrator (EventBridge rules of its stack; local mode calls the same service):
- SageMaker's processing-job state change of a monitoring execution: the orchestrator finds its schedule (the
  event's `MonitoringScheduleArn` when it has one; AWS's documented example has none, so otherwise
  DescribeProcessingJob's `MonitoringScheduleArn`), reads the execution's status, publishes
  `ConstraintViolations` (0 for a clean run) and, for a failed execution, notifies at once with its reason.
- CloudWatch's state change of a monitor's alarm `<monitor stack>-violations` to ALARM: the orchestrator
  notifies with the violated constraints and re-provisions the named training pipeline, within its bounds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdas.shared.logging import get_logger

from .. import lifecycle, ownership
from ..adapters import Aws
from ..catalogue import PIPELINE_PREFIX
from ..identity import ORCHESTRATOR_PRINCIPAL
from ..notices import quoted
from ..settings import Settings
from .monitors import ALARM_SUFFIX, Monitor, find_monitor, monitor_of
from .records import latest_executions, record_execution
from .reports import (
    ENGINE_SCHEDULE_ENV,
    ENGINE_SCHEDULED_TIME_ENV,
    EXECUTION_STATUSES,
    execution_summary,
    job_output,
    read_result,
    report_location,
    violation_lines,
)
from .retraining import Provision, retrain

logger = get_logger(__name__)

PROCESSING_JOB_EVENT = "SageMaker Processing Job State Change"
ALARM_EVENT = "CloudWatch Alarm State Change"
TERMINAL_STATUSES = ("Completed", "Failed", "Stopped")
NAMESPACE = "MLOps/ModelMonitor"
METRIC = "ConstraintViolations"
DIMENSION = "MonitoringSchedule"
HISTORY = 5  # executions describe shows


def is_monitoring_event(event: Any) -> bool:
    """A monitoring execution's processing-job state change, or a CloudWatch alarm's state change."""
    if not isinstance(event, dict):
        return False
    kind = (event.get("source"), event.get("detail-type"))
    return kind in (("aws.sagemaker", PROCESSING_JOB_EVENT), ("aws.cloudwatch", ALARM_EVENT))


def on_monitoring_event(event: Mapping[str, Any], settings: Settings, aws: Aws, provision: Provision) -> dict[str, Any]:
    """A monitoring execution's or a violations alarm's state change; answers what was done, with the reason."""
    if event.get("source") == "aws.cloudwatch":
        return on_alarm(event, settings, aws, provision)
    return on_execution(event, settings, aws)


def _ignored(message: str, **fields: Any) -> dict[str, Any]:
    logger.info("monitoring event ignored: %s", message)
    return {"status": "ignored", "message": message, **fields}


def on_execution(event: Mapping[str, Any], settings: Settings, aws: Aws) -> dict[str, Any]:
    """A monitoring execution finished: publish its violations count, and notify at once when it failed."""
    detail = event.get("detail") or {}
    job = str(detail.get("ProcessingJobName", ""))
    status = str(detail.get("ProcessingJobStatus", ""))
    if status not in TERMINAL_STATUSES:
        return _ignored(f"processing job {job} is {status}, not finished")
    described: dict[str, Any] = {}
    schedule_arn = schedule_of_job(detail, aws, described)
    run = open_engine_run(described)
    if not schedule_arn and run is None:
        return _ignored(f"processing job {job} is not a monitoring execution")
    schedule = schedule_arn.rsplit("/", 1)[-1] if schedule_arn or run is None else run[0]
    monitor = find_monitor(schedule, settings, aws)
    if monitor is None:
        return _ignored(f"monitoring schedule {schedule} belongs to no pipeline of this orchestrator")
    job_arn = detail.get("ProcessingJobArn")
    execution: dict[str, Any] | None
    if run is not None:  # the open engine's analysis: its own result says how it ended
        execution = open_engine_execution(monitor, run[1], status, detail, aws)
    else:
        executions = aws.monitoring.executions(monitor.schedule, HISTORY)
        execution = next((e for e in executions if job_arn and e.get("ProcessingJobArn") == job_arn), None)
    if execution is None:  # not listed yet: the processing job's own status and reason stand in
        execution = {"MonitoringExecutionStatus": status, "ProcessingJobArn": job_arn or job}
        if detail.get("FailureReason") or detail.get("ExitMessage"):
            execution["FailureReason"] = detail.get("FailureReason") or detail.get("ExitMessage")
    summary = execution_summary(monitor, execution, aws, job_output(detail))
    if run is not None:  # SageMaker keeps no execution of the open engine's: the orchestrator records it
        record_execution(settings.assets_bucket, monitor.name, monitor.schedule, execution, summary["report"], aws)
    answer: dict[str, Any] = {
        "status": "recorded",
        "pipeline_name": monitor.name,
        "monitoring_schedule": monitor.schedule,
        "execution": summary,
        "metric": None,
        "notified": False,
    }
    if summary["status"] in ("Completed", "CompletedWithViolations"):
        count = summary.get("violations_count", 0)
        aws.monitoring.put_metric(NAMESPACE, METRIC, {DIMENSION: monitor.schedule}, count)
        answer["metric"] = {"namespace": NAMESPACE, "name": METRIC, "schedule": monitor.schedule, "value": count}
    elif summary["status"] == "Failed":
        reason = summary.get("failure_reason") or "SageMaker gave no failure reason"
        lines = [
            f"A monitoring execution of {monitor.name} failed.",
            "",
            f"Monitor: {monitor.pipeline.pipeline_type}",
            f"Endpoint: {monitor.endpoint}",
            f"Monitoring schedule: {monitor.schedule}",
            f"Processing job: {summary.get('processing_job', job)}",
            f"Failure reason: {reason}",
            f"Report location: {summary['report']}",
        ]
        answer["notified"] = aws.notifier.publish(
            settings.sns_topic_arn, f"Monitoring execution failed: {monitor.name}", "\n".join(lines)
        )
    try:  # the pipeline's state says what the latest execution found
        lifecycle.index_pipeline(monitor.name, settings, aws)
    except Exception:  # the index trails until the pipeline's next event
        logger.exception("could not index pipeline %s", monitor.name)
    return answer


def schedule_of_job(detail: Mapping[str, Any], aws: Aws, described: dict[str, Any] | None = None) -> str:
    """The ARN of the monitoring schedule that ran a processing job, "" for a job no schedule ran.

    AWS's documented "SageMaker Processing Job State Change" event has no `MonitoringScheduleArn`
    (https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html); DescribeProcessingJob
    answers it for a monitoring execution's job
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeProcessingJob.html)."""
    if detail.get("MonitoringScheduleArn"):
        return str(detail["MonitoringScheduleArn"])
    job = str(detail.get("ProcessingJobName") or str(detail.get("ProcessingJobArn", "")).rsplit("/", 1)[-1])
    if not job:
        return ""
    found = aws.sagemaker.describe("processing_job", job) or {}
    if described is not None:  # the caller reads the job's environment too
        described.update(found)
    return str(found.get("MonitoringScheduleArn") or "")


def open_engine_run(described: Mapping[str, Any]) -> tuple[str, str] | None:
    """(schedule, scheduled time) of an open-engine analysis job, from the environment its schedule gave it."""
    environment = described.get("Environment") or {}
    schedule, scheduled = environment.get(ENGINE_SCHEDULE_ENV), environment.get(ENGINE_SCHEDULED_TIME_ENV)
    return (str(schedule), str(scheduled)) if schedule and scheduled else None


def open_engine_execution(
    monitor: Monitor, scheduled_time: str, job_status: str, detail: Mapping[str, Any], aws: Aws
) -> dict[str, Any]:
    """An open-engine analysis as a monitoring execution: a job that completed says how through the `result.json`
    it wrote beside its reports (Completed, CompletedWithViolations or Failed, with the engine's message)."""
    execution: dict[str, Any] = {
        "ScheduledTime": scheduled_time,
        "ProcessingJobArn": detail.get("ProcessingJobArn") or detail.get("ProcessingJobName", ""),
        "MonitoringExecutionStatus": "Failed",
    }
    if job_status != "Completed":
        execution["FailureReason"] = str(
            detail.get("FailureReason") or detail.get("ExitMessage") or f"the analysis job {job_status.lower()}"
        )
        return execution
    result = read_result(report_location(monitor, execution), aws)
    if result.get("status") not in EXECUTION_STATUSES:
        execution["FailureReason"] = str(result.get("error") or f"result.json says {result.get('status')!r}")
        return execution
    execution["MonitoringExecutionStatus"] = result["status"]
    if result["status"] == "Failed":
        execution["FailureReason"] = str(result.get("exit_message") or "the engine gave no reason")
    return execution


def on_alarm(event: Mapping[str, Any], settings: Settings, aws: Aws, provision: Provision) -> dict[str, Any]:
    """A monitor's violations alarm went to ALARM: notify with the violations, and retrain when asked."""
    detail = event.get("detail") or {}
    name = str(detail.get("alarmName", ""))
    state = str((detail.get("state") or {}).get("value", ""))
    if not (name.startswith(PIPELINE_PREFIX) and name.endswith(ALARM_SUFFIX)):
        return _ignored(f"alarm {name} is no monitor alarm of this orchestrator")
    if state != "ALARM":
        return _ignored(f"alarm {name} is {state}: nothing to notify", alarm=name)
    pipeline = lifecycle.lookup(name.removesuffix(ALARM_SUFFIX), aws)
    monitor = monitor_of(pipeline, settings, aws) if pipeline else None
    if monitor is None:
        return _ignored(f"alarm {name} belongs to no monitor pipeline of this orchestrator", alarm=name)
    executions = latest_executions(monitor, settings, aws, HISTORY)
    violating = next((e for e in executions if e.get("MonitoringExecutionStatus") == "CompletedWithViolations"), None)
    execution = execution_summary(monitor, violating, aws) if violating else None
    retraining = retrain(monitor, name, settings, aws, provision)

    lines = [
        f"The monitor {monitor.name} found constraint violations; its alarm {name} is in ALARM.",
        "",
        f"Endpoint: {monitor.endpoint}",
        f"Monitor: {monitor.pipeline.pipeline_type}",
        f"Monitoring schedule: {monitor.schedule}",
        f"Alarm reason: {(detail.get('state') or {}).get('reason', '')}",
    ]
    count = 0
    if execution:
        count = execution.get("violations_count", 0)
        lines += [
            f"Execution: scheduled {execution['scheduled_time']}, {execution['status']}",
            f"Report location: {execution['report']}",
            f"Violated constraints ({count}):",
            *violation_lines(execution.get("violations", []), count),
        ]
        if execution.get("violations_error"):
            lines.append(f"  (the report could not be read: {execution['violations_error']})")
    else:
        lines.append(f"No execution with violations is among the schedule's last {HISTORY}.")
    lines += ["", f"Retraining: {retraining['message']}"]
    if retraining["status"] == "started":  # no person asked for it: say who did, and for whom
        record = ownership.read(monitor.name, settings, aws)
        lines.append(
            f"Started by: the orchestrator ({ORCHESTRATOR_PRINCIPAL.arn}) for the alarm {name} of the monitor "
            f"{monitor.name}" + (f", owned by {quoted(ownership.owner_label(record))}" if record else "")
        )
    subject = (
        f"Model monitor violations: {monitor.endpoint} ({count} constraint{'' if count == 1 else 's'})"
        if execution
        else f"Model monitor alarm: {monitor.endpoint}"
    )
    notified = aws.notifier.publish(settings.sns_topic_arn, subject, "\n".join(lines))
    return {
        "status": "notified" if notified else "not_notified",
        "pipeline_name": monitor.name,
        "alarm": name,
        "monitoring_schedule": monitor.schedule,
        "execution": execution,
        "retraining": retraining,
        "notified": notified,
    }
