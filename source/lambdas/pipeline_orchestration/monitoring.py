# SPDX-License-Identifier: Apache-2.0
"""The monitoring loop: a monitor's executions become a metric, its alarm a notification and, when the request
asks for it, a retraining.

Two events reach the orchestrator (EventBridge rules of its stack; local mode calls the same service):
- SageMaker's processing-job state change of a monitoring execution: the orchestrator finds its schedule (the
  event's `MonitoringScheduleArn` when it has one; AWS's documented example has none, so otherwise
  DescribeProcessingJob's `MonitoringScheduleArn`), reads the execution's status, publishes
  `ConstraintViolations` (0 for a clean run) and, for a failed execution, notifies at once with its reason.
- CloudWatch's state change of a monitor's alarm `<monitor stack>-violations` to ALARM: the orchestrator
  notifies with the violated constraints and re-provisions the named training pipeline, within its bounds.

A schedule belongs to the monitor pipeline whose stored request derives its name (the catalogue names a
schedule from the endpoint and the monitor kind), looked up among the pipeline index's monitors of that kind:
the orchestrator's own record of what it provisioned, so a tag edited by hand or a schedule some other tool
created is never taken for one of ours.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from lambdas.shared.errors import OrchestratorError
from lambdas.shared.logging import get_logger

from . import lifecycle, pipeline_index, pipeline_state
from .adapters import Aws, aws_reason, is_client_error
from .catalogue import CATALOGUE, PIPELINE_PREFIX
from .catalogue.monitors import MONITOR_KINDS
from .planner import REQUEST_FILE, pipeline_key
from .settings import STAGES, Settings
from .validation import validate

logger = get_logger(__name__)

PROCESSING_JOB_EVENT = "SageMaker Processing Job State Change"
ALARM_EVENT = "CloudWatch Alarm State Change"
TERMINAL_STATUSES = ("Completed", "Failed", "Stopped")
NAMESPACE = "MLOps/ModelMonitor"
METRIC = "ConstraintViolations"
DIMENSION = "MonitoringSchedule"
ALARM_SUFFIX = "-violations"
VIOLATIONS_FILE = "constraint_violations.json"
SHOWN_VIOLATIONS = 5  # violations a notification or a describe lists; the report has them all
HISTORY = 5  # executions describe shows
RETRAIN_TYPES = ("model_training_builtin", "model_tuner_builtin", "model_autopilot_training")
RETRAINING_FILE = "retraining.json"  # under the training pipeline's prefix: when a monitor last retrained it
BUSY_STATES = (pipeline_state.PROVISIONING, pipeline_state.RUNNING, pipeline_state.WAITING_APPROVAL)
DEFAULT_RETRAIN_INTERVAL_MINUTES = 60

Provision = Callable[[Any], dict[str, Any]]


def is_monitoring_event(event: Any) -> bool:
    """A monitoring execution's processing-job state change, or a CloudWatch alarm's state change."""
    if not isinstance(event, dict):
        return False
    kind = (event.get("source"), event.get("detail-type"))
    return kind in (("aws.sagemaker", PROCESSING_JOB_EVENT), ("aws.cloudwatch", ALARM_EVENT))


def alarm_name(monitor_stack: str) -> str:
    """The name of a monitor's violations alarm (the blueprint names it so; the orchestrator's rule matches it)."""
    return f"{monitor_stack}{ALARM_SUFFIX}"


@dataclass(frozen=True)
class Monitor:
    """A monitor pipeline of this orchestrator, with the request it was provisioned with."""

    pipeline: lifecycle.Pipeline
    request: Mapping[str, Any]
    schedule: str

    @property
    def name(self) -> str:
        return self.pipeline.name

    @property
    def endpoint(self) -> str:
        return str(self.request.get("endpoint_name", ""))

    @property
    def output_location(self) -> str:
        return str(self.request.get("monitoring_output_location", "")).rstrip("/")

    @property
    def retrain_pipeline(self) -> str:
        return str(self.request.get("retrain_pipeline_name") or "")

    @property
    def retrain_interval(self) -> timedelta:
        minutes = self.request.get("retrain_min_interval_minutes") or DEFAULT_RETRAIN_INTERVAL_MINUTES
        return timedelta(minutes=int(minutes))


def schedule_names(request: Mapping[str, Any], settings: Settings) -> set[str]:
    """The monitoring schedules a monitor request names (one, or one per stage), as the catalogue derives them."""
    valid = validate({k: v for k, v in request.items() if k != "dry_run"}, settings)
    stages: tuple[str | None, ...] = STAGES if valid.staged else (None,)
    names = set()
    for stage in stages:
        derived = valid.pipeline.names(valid.stage_values(stage))
        if "monitoring_schedule_name" in derived:
            names.add(derived["monitoring_schedule_name"][0])
    return names


def monitor_of(pipeline: lifecycle.Pipeline, settings: Settings, aws: Aws) -> Monitor | None:
    """The pipeline as a monitor (its request and schedule), or None when it is no monitor or has no request."""
    if pipeline.pipeline_type not in MONITOR_KINDS or pipeline.multi_account:
        return None  # a multi-account monitor's schedules live in the stage accounts
    request = lifecycle.current_request(pipeline, settings, aws)
    if request is None:
        return None
    try:
        names = schedule_names(request, settings)
    except OrchestratorError as error:  # the stored request no longer validates (the settings changed)
        logger.warning("the request of %s no longer validates: %s", pipeline.name, error)
        return None
    if len(names) != 1:
        return None
    return Monitor(pipeline, request, names.pop())


def find_monitor(schedule: str, settings: Settings, aws: Aws) -> Monitor | None:
    """The monitor pipeline whose request derives this schedule name, or None."""
    kinds = [t for t, kind in MONITOR_KINDS.items() if f"-{kind}-" in schedule.lower()]
    if not kinds:
        return None
    lifecycle.fill_index(settings, aws)
    candidates, _ = pipeline_index.newest_first(
        lambda item: item.get("pipeline_type") in kinds, None, 1000, True, settings, aws
    )
    for item in candidates:
        # The stored request alone says whether this is the schedule's monitor: one read per candidate.
        raw = aws.storage.find(settings.assets_bucket, pipeline_key(item["pipeline_name"], REQUEST_FILE))
        try:
            named = schedule_names(json.loads(raw), settings) if raw else set()
        except (OrchestratorError, ValueError):
            continue
        if schedule.lower() not in {n.lower() for n in named}:
            continue
        pipeline = lifecycle.lookup(item["pipeline_name"], aws)
        monitor = monitor_of(pipeline, settings, aws) if pipeline else None
        if monitor and monitor.schedule.lower() == schedule.lower():
            return monitor
    return None


# ---------------------------------------------------------------------------------------------------------
# Executions and their reports


def report_location(monitor: Monitor, execution: Mapping[str, Any]) -> str:
    """Where Model Monitor and Clarify write an execution's reports:
    s3://<monitoring_output_location>/<endpoint>/<schedule>/<yyyy>/<mm>/<dd>/<hh> of its scheduled hour (UTC)."""
    scheduled = execution.get("ScheduledTime")
    if isinstance(scheduled, str):
        scheduled = datetime.fromisoformat(scheduled.replace("Z", "+00:00"))
    if not isinstance(scheduled, datetime):
        return ""
    hour = scheduled.astimezone(UTC).strftime("%Y/%m/%d/%H")
    return f"s3://{monitor.output_location}/{monitor.endpoint}/{monitor.schedule}/{hour}"


def _job_output(detail: Mapping[str, Any]) -> str:
    """The report location a processing job's own output configuration names (its first S3 output)."""
    for output in (detail.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
        uri = (output.get("S3Output") or {}).get("S3Uri")
        if uri:
            return str(uri).rstrip("/")
    return ""


@dataclass(frozen=True)
class Violations:
    count: int
    first: tuple[dict[str, str], ...] = ()
    error: str = ""  # why the report could not be read

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"violations_count": self.count, "violations": list(self.first)}
        if self.error:
            out["violations_error"] = self.error
        return out


def read_violations(location: str, aws: Aws) -> Violations:
    """The violations of a report (`constraint_violations.json` under its location)."""
    if not location.startswith("s3://"):
        return Violations(0, error="the execution's report location is not known")
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    key = f"{prefix.rstrip('/')}/{VIOLATIONS_FILE}".lstrip("/")
    try:
        raw = aws.storage.find(bucket, key)
    except Exception as error:
        if not is_client_error(error):
            raise
        return Violations(0, error=f"s3://{bucket}/{key} could not be read: {aws_reason(error)}")
    if raw is None:
        return Violations(0, error=f"s3://{bucket}/{key} does not exist")
    try:
        found = json.loads(raw).get("violations") or []
    except (ValueError, AttributeError):
        return Violations(0, error=f"s3://{bucket}/{key} is not a violations report")
    shown = tuple(
        {
            # Model Monitor names the feature; Clarify names the metric.
            "feature": str(v.get("feature_name") or v.get("metric_name") or ""),
            "check": str(v.get("constraint_check_type", "")),
            "description": str(v.get("description", "")),
        }
        for v in found[:SHOWN_VIOLATIONS]
        if isinstance(v, dict)
    )
    return Violations(len(found), shown)


def execution_summary(monitor: Monitor, execution: Mapping[str, Any], aws: Aws, location: str = "") -> dict[str, Any]:
    """One execution as describe and the notifications show it (the violations read from its report)."""
    status = str(execution.get("MonitoringExecutionStatus", ""))
    scheduled = execution.get("ScheduledTime")
    location = location or report_location(monitor, execution)
    summary: dict[str, Any] = {
        "scheduled_time": scheduled.isoformat() if isinstance(scheduled, datetime) else scheduled,
        "status": status,
        "report": location,
    }
    if execution.get("FailureReason"):
        summary["failure_reason"] = execution["FailureReason"]
    if execution.get("ProcessingJobArn"):
        summary["processing_job"] = str(execution["ProcessingJobArn"]).rsplit("/", 1)[-1]
    if status == "CompletedWithViolations":
        summary.update(read_violations(location, aws).as_dict())
    elif status == "Completed":
        summary.update(Violations(0).as_dict())
    return summary


def _violation_lines(violations: list[dict[str, str]], count: int) -> list[str]:
    lines = [f"  - feature {v['feature']}, check {v['check']}: {v['description']}" for v in violations]
    if count > len(violations):
        lines.append(f"  ... and {count - len(violations)} more in the report")
    return lines


# ---------------------------------------------------------------------------------------------------------
# Events


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
    schedule_arn = schedule_of_job(detail, aws)
    if not schedule_arn:
        return _ignored(f"processing job {job} is not a monitoring execution")
    schedule = schedule_arn.rsplit("/", 1)[-1]
    monitor = find_monitor(schedule, settings, aws)
    if monitor is None:
        return _ignored(f"monitoring schedule {schedule} belongs to no pipeline of this orchestrator")
    executions = aws.monitoring.executions(monitor.schedule, HISTORY)
    job_arn = detail.get("ProcessingJobArn")
    execution = next((e for e in executions if job_arn and e.get("ProcessingJobArn") == job_arn), None)
    if execution is None:  # not listed yet: the processing job's own status and reason stand in
        execution = {"MonitoringExecutionStatus": status, "ProcessingJobArn": job_arn or job}
        if detail.get("FailureReason") or detail.get("ExitMessage"):
            execution["FailureReason"] = detail.get("FailureReason") or detail.get("ExitMessage")
    summary = execution_summary(monitor, execution, aws, _job_output(detail))
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


def schedule_of_job(detail: Mapping[str, Any], aws: Aws) -> str:
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
    described = aws.sagemaker.describe("processing_job", job)
    return str((described or {}).get("MonitoringScheduleArn") or "")


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
    executions = aws.monitoring.executions(monitor.schedule, HISTORY)
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
            *_violation_lines(execution.get("violations", []), count),
        ]
        if execution.get("violations_error"):
            lines.append(f"  (the report could not be read: {execution['violations_error']})")
    else:
        lines.append(f"No execution with violations is among the schedule's last {HISTORY}.")
    lines += ["", f"Retraining: {retraining['message']}"]
    subject = (
        f"Model monitor violations: {monitor.endpoint} ({count} constraints)"
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


# ---------------------------------------------------------------------------------------------------------
# Retraining


def _retraining_key(pipeline_name: str) -> str:
    return pipeline_key(pipeline_name, RETRAINING_FILE)


def last_retraining(pipeline_name: str, settings: Settings, aws: Aws) -> tuple[dict[str, Any] | None, str]:
    """The record of the last retraining a monitor started of this pipeline, and its ETag ("" for none)."""
    key = _retraining_key(pipeline_name)
    head = aws.storage.head(settings.assets_bucket, key)
    if head is None:
        return None, ""
    raw = aws.storage.find(settings.assets_bucket, key)
    return (json.loads(raw) if raw else None), str(head.get("ETag", ""))


def _skipped(target: str, reason: str) -> dict[str, Any]:
    logger.info("retraining of %s skipped: %s", target, reason)
    return {"status": "skipped", "pipeline_name": target, "reason": reason, "message": f"skipped: {reason}"}


def retrain(
    monitor: Monitor,
    alarm: str,
    settings: Settings,
    aws: Aws,
    provision: Provision,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Re-provision the training pipeline the monitor names, unless it is busy or was retrained too recently."""
    target = monitor.retrain_pipeline
    if not target:
        return {"status": "off", "message": "not requested (the monitor names no retrain_pipeline_name)"}
    now = now or datetime.now(UTC)
    pipeline = lifecycle.lookup(target, aws)
    if pipeline is None:
        return _skipped(target, f"the training pipeline {target} no longer exists")
    if pipeline.pipeline_type not in RETRAIN_TYPES:
        return _skipped(target, f"{target} is a {pipeline.pipeline_type} pipeline, not a training pipeline")
    state = pipeline_state.observe(pipeline.stack, settings, aws).state
    if state.state in BUSY_STATES:
        why = f": {state.reason}" if state.reason else ""
        return _skipped(target, f"the training pipeline {target} is {state.state}{why}")
    record, etag = last_retraining(target, settings, aws)
    if record and record.get("started"):
        started = datetime.fromisoformat(record["started"])
        if now - started < monitor.retrain_interval:
            minutes = int(monitor.retrain_interval.total_seconds() // 60)
            after = (started + monitor.retrain_interval).isoformat()
            return _skipped(
                target,
                f"the last retraining of {target} started at {started.isoformat()}, less than {minutes} minutes "
                f"ago (retrain_min_interval_minutes); the next may start from {after}",
            )
    stored = lifecycle.current_request(pipeline, settings, aws)
    if stored is None:
        return _skipped(target, f"{target} has no stored request to re-provision")
    try:
        request = retraining_request(stored, settings, now)
    except OrchestratorError as error:
        return _skipped(target, f"the stored request of {target} no longer validates: {error}")
    claim = {"started": now.isoformat(), "by": monitor.name, "alarm": alarm, "job_name": request["job_name"]}
    try:  # claimed before provisioning: two alarms at once start one retraining
        claimed = aws.storage.put(
            settings.assets_bucket,
            _retraining_key(target),
            json.dumps(claim, indent=2).encode(),
            "application/json",
            if_match=etag,
        )
    except Exception as error:
        if not is_client_error(error):
            raise
        return _skipped(target, f"another retraining of {target} was recorded at the same moment ({aws_reason(error)})")
    try:
        answer = provision(request)
    except OrchestratorError as error:
        logger.warning("retraining of %s not started: %s", target, error)
        # Nothing started, so the interval does not count this attempt: the claim goes, the last retraining stays.
        kept = ""
        try:
            aws.storage.delete(settings.assets_bucket, _retraining_key(target), claimed)
        except Exception as undo:  # said, not hidden: the next alarm waits out the interval
            kept = f"; its claim in {_retraining_key(target)} could not be removed ({aws_reason(undo)})"
        return {
            "status": "failed",
            "pipeline_name": target,
            "reason": str(error),
            "message": f"re-provisioning {target} failed: {error}{kept}",
        }
    return {
        "status": "started",
        "pipeline_name": target,
        "started": claim["started"],
        "answer": answer.get("message", ""),
        "job_name": request["job_name"],
        "message": f"started: {target} re-provisioned from its stored request with job_name {request['job_name']} "
        f"({answer.get('message', '')})",
    }


_RETRAINED = re.compile(r"-r[0-9]{8}$")


def retraining_request(stored: Mapping[str, Any], settings: Settings, now: datetime) -> dict[str, Any]:
    """The stored request with a new job name: an identical request changes nothing (its job, named from its
    hash, already ran), so a retraining names its job `<the job's name>-r<MMDDHHMM>` and trains anew on what
    the request's data locations hold now."""
    request = {k: v for k, v in stored.items() if k != "dry_run"}
    valid = validate(request, settings)
    name, limit, _ = valid.pipeline.names(valid.stage_values(STAGES[0] if valid.staged else None))["job_name"]
    suffix = f"-r{now.astimezone(UTC):%m%d%H%M}"
    return {**request, "job_name": _RETRAINED.sub("", name)[: limit - len(suffix)].rstrip("-") + suffix}


def check_retrain_target(request: Mapping[str, Any], aws: Aws) -> str | None:
    """Why a monitor request's retrain_pipeline_name cannot be retrained (None when it can, or is not set)."""
    target = str(request.get("retrain_pipeline_name") or "")
    if not target:
        return None
    pipeline = lifecycle.lookup(target, aws)
    if pipeline is None:
        return f"names no pipeline: {target} does not exist (GET /pipelines lists them)"
    if pipeline.pipeline_type not in RETRAIN_TYPES:
        return f"must name a training pipeline ({', '.join(RETRAIN_TYPES)}); {target} is {pipeline.pipeline_type}"
    return None


def history(pipeline_name: str, settings: Settings, aws: Aws) -> dict[str, Any]:
    """Describe's monitoring section: the schedule's status and its last executions with their violations."""
    pipeline = lifecycle.lookup(pipeline_name, aws)
    monitor = monitor_of(pipeline, settings, aws) if pipeline else None
    if monitor is None:
        return {"message": "no schedule to read: the monitor has no stored request, or runs in the stage accounts"}
    section: dict[str, Any] = {
        "schedule": monitor.schedule,
        "alarm": alarm_name(monitor.name),
        "violation_threshold": monitor.request.get("violation_threshold", 1),
        "retrain_pipeline_name": monitor.retrain_pipeline or None,
    }
    try:
        described = aws.monitoring.schedule(monitor.schedule)
        executions = aws.monitoring.executions(monitor.schedule, HISTORY) if described else []
    except Exception as error:
        if not is_client_error(error):
            raise
        return {**section, "status": "UNKNOWN", "error": aws_reason(error), "executions": []}
    section["status"] = (described or {}).get("MonitoringScheduleStatus", "NOT_FOUND")
    if described and described.get("FailureReason"):
        section["failure_reason"] = described["FailureReason"]
    section["executions"] = [execution_summary(monitor, e, aws) for e in executions]
    return section


def is_monitor_type(pipeline_type: str) -> bool:
    return pipeline_type in MONITOR_KINDS and pipeline_type in CATALOGUE
