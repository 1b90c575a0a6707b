# SPDX-License-Identifier: Apache-2.0
"""Model Monitor: monitoring schedules that run their executions on a shortened clock, as SageMaker runs them.

moto implements no monitoring schedules. The stacks' schedules and job definitions are recorded by their
placeholders; the emulator's clock runs each Scheduled schedule: every execution writes the report files
where Model Monitor writes them, leaves a processing job that DescribeProcessingJob answers, an execution
record that ListMonitoringExecutions and DescribeMonitoringSchedule answer, and delivers the processing job's
state-change event, as EventBridge would.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lambdas.shared.logging import get_logger

from .patches import replace

logger = get_logger(__name__)
progress = get_logger("mlops.progress")

# The local clock of monitoring schedules: one scheduled hour passes in this many seconds (an hourly schedule
# runs every minute, a daily one every 24 minutes), as Step Functions waits are shortened (WAIT_SECONDS_CAP).
# A new schedule runs its first execution after a twelfth of it (SageMaker's first comes within the hour).
MONITORING_HOUR_SECONDS = 60.0
TICK_SECONDS = 0.25  # how often the clock looks for due executions and events to deliver
EXECUTIONS_KEPT = 100  # execution records kept per schedule, newest
TERMINAL = ("Completed", "CompletedWithViolations", "Failed", "Stopped")
SIMULATED = "simulated by `mlops local simulate-violation`: "

# The stacks' job definitions (AWS::SageMaker::*JobDefinition), by (account, region, name).
JOB_DEFINITIONS: dict[tuple[str, str, str], dict[str, Any]] = {}


@dataclass
class ScheduleRuns:
    """The local clock and history of one schedule: when it runs next, what it ran, what it must do next."""

    origin: datetime  # the scheduled hour of its first execution
    next_at: float  # wall-clock time (epoch seconds) of its next execution
    executions: list[dict[str, Any]] = field(default_factory=list)  # ListMonitoringExecutions' summaries, oldest first
    simulate: str = ""  # "violation": the next execution reports a violation of its baseline
    simulated_violations: int = 1  # how many violations that execution reports


# The clocks and execution records of schedules, by (account, region, name).
MONITORING_RUNS: dict[tuple[str, str, str], ScheduleRuns] = {}
# Events waiting to be delivered to the orchestrator (processing job and alarm state changes), oldest first.
EVENTS: deque[dict[str, Any]] = deque()


def record_job_definition(name: str, properties: dict[str, Any], account_id: str, region: str) -> None:
    JOB_DEFINITIONS[(account_id, region, name)] = properties


def schedule_period_hours(expression: str) -> int:
    """Hours between executions of a SageMaker schedule expression: cron(0 * ...) hourly, cron(0 */N ...)
    every N hours, cron(0 H ...) daily (an hour list: 24 / its length); anything else daily."""
    found = re.fullmatch(r"\s*cron\(\s*(\S+)\s+(\S+)\s+.*\)\s*", expression or "")
    hours = found.group(2) if found else ""
    if hours == "*":
        return 1
    if hours.startswith("*/") and hours[2:].isdigit() and int(hours[2:]) > 0:
        return int(hours[2:])
    if re.fullmatch(r"\d+(,\d+)*", hours):
        return max(1, 24 // len(hours.split(",")))
    return 24


def start_clock(key: tuple[str, str, str], created: datetime) -> None:
    """A new schedule's clock: its first execution a little after now."""
    origin = created.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    MONITORING_RUNS[key] = ScheduleRuns(origin=origin, next_at=time.time() + MONITORING_HOUR_SECONDS / 12)


def simulate_violation(key: tuple[str, str, str], violations: int = 1) -> None:
    """Make the schedule's next execution run now and report `violations` violations of its baseline."""
    runs = MONITORING_RUNS[key]
    runs.simulate, runs.simulated_violations, runs.next_at = "violation", violations, time.time()


def monitoring_executions_are_listed() -> None:
    """moto implements no ListMonitoringExecutions and its DescribeMonitoringSchedule (filled in sagemaker.py)
    has no LastMonitoringExecutionSummary: both answer from the schedules' execution records."""
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.responses import SageMakerResponse

    if getattr(getattr(SageMakerResponse, "list_monitoring_executions", None), "_listed", False):
        return

    def list_monitoring_executions(self: Any) -> str:
        name = self._get_param("MonitoringScheduleName")
        endpoint = self._get_param("EndpointName")
        status = self._get_param("StatusEquals")
        sort_by = self._get_param("SortBy") or "CreationTime"
        order = self._get_param("SortOrder") or "Descending"
        if sort_by not in ("CreationTime", "ScheduledTime", "Status"):
            raise ValidationError(
                message=f"Value '{sort_by}' at 'sortBy' must be CreationTime, ScheduledTime or Status"
            )
        if order not in ("Ascending", "Descending"):
            raise ValidationError(message=f"Value '{order}' at 'sortOrder' must be Ascending or Descending")
        found = [
            summary
            for (account, region, _), runs in list(MONITORING_RUNS.items())
            if (account, region) == (self.current_account, self.region)
            for summary in list(runs.executions)
            if (not name or summary["MonitoringScheduleName"] == name)
            and (not endpoint or summary.get("EndpointName") == endpoint)
            and (not status or summary["MonitoringExecutionStatus"] == status)
        ]
        field_name = "MonitoringExecutionStatus" if sort_by == "Status" else sort_by
        found.sort(key=lambda s: s[field_name], reverse=order == "Descending")
        start = int(self._get_param("NextToken") or 0)
        size = int(self._get_param("MaxResults") or 10)
        answer: dict[str, Any] = {"MonitoringExecutionSummaries": found[start : start + size]}
        if start + size < len(found):
            answer["NextToken"] = str(start + size)
        return json.dumps(answer, default=_epoch_seconds)

    list_monitoring_executions._listed = True  # type: ignore[attr-defined]
    replace(SageMakerResponse, "list_monitoring_executions", list_monitoring_executions)


def last_execution_summary(key: tuple[str, str, str]) -> dict[str, Any] | None:
    runs = MONITORING_RUNS.get(key)
    return dict(runs.executions[-1]) if runs and runs.executions else None


def _epoch_seconds(value: Any) -> Any:
    return value.timestamp() if isinstance(value, datetime) else str(value)


def _epoch_ms(value: Any) -> Any:
    if isinstance(value, datetime):
        return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp() * 1000)
    if isinstance(value, dict):
        return {k: _epoch_ms(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_epoch_ms(v) for v in value]
    return value


class MonitoringClock:
    """Runs due executions of every schedule and delivers the waiting events, on a background thread."""

    def __init__(self, on_event: Callable[[dict[str, Any]], Any] | None = None, tick_seconds: float = TICK_SECONDS):
        self.on_event, self.tick_seconds = on_event, tick_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="monitoring-clock", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.wait(self.tick_seconds):
            try:
                self.tick()
            except Exception:  # the clock must keep running; the failure is in the log with its traceback
                logger.exception("monitoring clock step failed")

    def tick(self) -> None:
        from .cloudwatch import evaluate_all_alarms
        from .open_engine import run_due_schedules

        now = time.time()
        for key, runs in list(MONITORING_RUNS.items()):
            schedule = _schedule(key)
            if schedule is None or schedule.get("MonitoringScheduleStatus") != "Scheduled" or runs.next_at > now:
                continue
            EVENTS.append(run_execution(key, schedule, runs))
            period = _period(schedule["MonitoringScheduleConfig"])
            runs.next_at = now + period * MONITORING_HOUR_SECONDS
        run_due_schedules(now)
        evaluate_all_alarms()
        self.deliver()

    def deliver(self) -> None:
        while EVENTS:
            event = EVENTS.popleft()
            if self.on_event is None:
                continue
            try:
                self.on_event(event)
            except Exception:  # one failed delivery must not stop the others; EventBridge would retry it
                logger.exception("%s event was not handled", event.get("detail-type"))


def _schedule(key: tuple[str, str, str]) -> dict[str, Any] | None:
    from .sagemaker import MONITORING_SCHEDULES

    return MONITORING_SCHEDULES.get(key)


def run_execution(key: tuple[str, str, str], schedule: dict[str, Any], runs: ScheduleRuns) -> dict[str, Any]:
    """One monitoring execution: its reports, its processing job, its record; answers its state-change event."""
    from moto.core.utils import utcnow
    from moto.s3.exceptions import MissingBucket
    from moto.s3.models import s3_backends
    from moto.sagemaker.models import sagemaker_backends

    account, region, name = key
    config = schedule["MonitoringScheduleConfig"]
    kind = config.get("MonitoringType", "DataQuality")
    definition_name = config.get("MonitoringJobDefinitionName", "")
    definition = JOB_DEFINITIONS.get((account, region, definition_name), {})
    endpoint = schedule.get("EndpointName") or definition.get(f"{kind}JobInput", {}).get("EndpointInput", {}).get(
        "EndpointName", ""
    )
    scheduled = runs.origin + timedelta(hours=len(runs.executions) * _period(config))
    output = _output_uri(definition, kind)
    report = f"{output.rstrip('/')}/{endpoint}/{name}/{scheduled:%Y/%m/%d/%H}" if output else ""
    simulate, runs.simulate = runs.simulate, ""
    s3 = s3_backends[account]["aws"]
    sagemaker = sagemaker_backends[account][region]
    violations: list[dict[str, Any]] = []
    reports: dict[str, Any] = {}
    if not definition:
        failure = f"ValidationException: the job definition {definition_name} of the schedule does not exist"
    elif endpoint not in sagemaker.endpoints:
        failure = f"ValidationException: the monitored endpoint {endpoint} does not exist in account {account}"
    else:
        try:
            baseline = _baseline(s3, definition, kind)
            failure = ""
        except LookupError as error:
            baseline, failure = {}, f"ClientError: {error}"
    if not failure:
        if simulate == "violation":
            violations = _simulated_violations(kind, baseline, runs.simulated_violations)
        elif kind == "DataQuality":
            violations = data_quality_violations(baseline.get("constraints", {}), baseline.get("statistics", {}))
        if kind == "DataQuality" and baseline.get("statistics"):
            reports["statistics.json"] = baseline["statistics"]
        if violations:
            reports["constraint_violations.json"] = {"violations": violations}
        bucket, _, prefix = report.removeprefix("s3://").partition("/")
        try:
            s3.get_bucket(bucket)
        except MissingBucket:
            failure = f"ClientError: the report location {report} cannot be written: bucket {bucket} does not exist"
        else:
            for file_name, content in reports.items():
                s3.put_object(bucket, f"{prefix}/{file_name}", json.dumps(content, indent=2).encode())
    status = "Failed" if failure else "CompletedWithViolations" if violations else "Completed"
    job = _processing_job(sagemaker, schedule, definition, kind, scheduled, report, status, failure, len(violations))
    summary: dict[str, Any] = {
        "MonitoringScheduleName": name,
        "ScheduledTime": scheduled,
        "CreationTime": utcnow().replace(tzinfo=UTC),
        "LastModifiedTime": utcnow().replace(tzinfo=UTC),
        "MonitoringExecutionStatus": status,
        "ProcessingJobArn": job.arn,
        "EndpointName": endpoint,
        "MonitoringJobDefinitionName": definition_name,
        "MonitoringType": kind,
        **({"FailureReason": failure} if failure else {}),
    }
    runs.executions.append(summary)
    del runs.executions[:-EXECUTIONS_KEPT]
    reason = f": {failure}" if failure else f", {len(violations)} violation(s) in {report}" if violations else ""
    progress.info("monitoring schedule %s: execution %s%s", name, status, reason)
    return job_state_change(account, region, job.arn, sagemaker.describe_processing_job(job.processing_job_name))


def job_state_change(account: str, region: str, arn: str, described: dict[str, Any]) -> dict[str, Any]:
    """SageMaker's "SageMaker Processing Job State Change" event of a job (DescribeProcessingJob's answer)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "source": "aws.sagemaker",
        "detail-type": "SageMaker Processing Job State Change",
        "account": account,
        "region": region,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resources": [arn],
        "detail": _event_detail(described),
    }


def _event_detail(described: dict[str, Any]) -> dict[str, Any]:
    """The processing job as SageMaker's state-change event shows it: DescribeProcessingJob's fields, times in epoch
    milliseconds, without `MonitoringScheduleArn`, which AWS's documented example event does not carry
    (https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html): the orchestrator
    asks DescribeProcessingJob for the schedule, as it must in AWS."""
    detail = {k: v for k, v in described.items() if k != "MonitoringScheduleArn"}
    return dict(_epoch_ms(detail))


def _period(config: dict[str, Any]) -> int:
    return schedule_period_hours(config.get("ScheduleConfig", {}).get("ScheduleExpression", ""))


def _output_uri(definition: dict[str, Any], kind: str) -> str:
    outputs = definition.get(f"{kind}JobOutputConfig", {}).get("MonitoringOutputs", [])
    return str(outputs[0].get("S3Output", {}).get("S3Uri", "")) if outputs else ""


def _baseline(s3: Any, definition: dict[str, Any], kind: str) -> dict[str, Any]:
    """The baseline's constraints, and the statistics written beside them (when there are any)."""
    config = definition.get(f"{kind}BaselineConfig", {})
    uri = str(config.get("ConstraintsResource", {}).get("S3Uri", ""))
    constraints = _read_json(s3, uri)
    if constraints is None:
        raise LookupError(f"the baseline constraints {uri} cannot be read")
    statistics_uri = (
        str(config.get("StatisticsResource", {}).get("S3Uri", "")) or f"{uri.rsplit('/', 1)[0]}/statistics.json"
    )
    return {"constraints": constraints, "statistics": _read_json(s3, statistics_uri) or {}}


def _read_json(s3: Any, uri: str) -> Any:
    from moto.s3.exceptions import MissingBucket

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        found = s3.get_object(bucket, key)
    except MissingBucket:
        return None
    if found is None:
        return None
    try:
        return json.loads(found.value)
    except ValueError:
        return None


def data_quality_violations(constraints: dict[str, Any], statistics: dict[str, Any]) -> list[dict[str, Any]]:
    """What the emulator checks of a data-quality baseline. No model runs locally, so no traffic is captured:
    the data checked is the one the baseline job analysed (its statistics.json). A constraint's feature that
    the statistics lack is a missing_column_check violation; a feature present in fewer rows than the
    constraint's completeness requires is a completeness_check violation. Nothing else is checked."""
    if constraints.get("monitoring_config", {}).get("evaluate_constraints", "Enabled") != "Enabled":
        return []
    rows = float(statistics.get("dataset", {}).get("item_count") or 0)
    seen = {f.get("name"): f for f in statistics.get("features", [])}
    violations = []
    for feature in constraints.get("features", []):
        name = feature.get("name", "")
        if name not in seen:
            violations.append(
                {
                    "feature_name": name,
                    "constraint_check_type": "missing_column_check",
                    "description": f"The baseline constrains feature {name}, which the analysed data does not have",
                }
            )
            continue
        required = feature.get("completeness")
        common = next((v.get("common", {}) for k, v in seen[name].items() if k.endswith("_statistics")), {})
        present = common.get("num_present")
        if required is not None and present is not None and rows and present / rows < float(required):
            violations.append(
                {
                    "feature_name": name,
                    "constraint_check_type": "completeness_check",
                    "description": f"Data completeness of {name} is {present / rows:.4g}, below the baseline's "
                    f"{float(required):.4g}",
                }
            )
    return violations


def _simulated_violations(kind: str, baseline: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """`count` violations naming real features (or, for model quality, metrics) of the baseline, one feature after
    another and then the next check type, as a report of many violations names each feature and check once."""
    constraints = baseline.get("constraints", {})
    if kind == "ModelQuality":
        metrics = next((v for k, v in constraints.items() if k.endswith("_constraints") and isinstance(v, dict)), {})
        names = [*metrics] or ["metric"]
        return [
            {
                "metric_name": metric,
                "feature_name": metric,
                "constraint_check_type": f"{metric}_check",
                "description": f"{SIMULATED}{metric} is reported as breaking its baseline threshold; "
                "no data was compared",
            }
            for metric in (names[i % len(names)] for i in range(count))
        ]
    features = [f.get("name") for f in constraints.get("features", []) if f.get("name")]
    facets = [*constraints.get("post_training_bias_metrics", {}).get("facets", {})]
    names = features or facets or ["label"]
    checks = ("baseline_drift_check", "data_type_check", "completeness_check")
    violations = []
    for i in range(count):
        feature, check = names[i % len(names)], checks[(i // len(names)) % len(checks)]
        violations.append(
            {
                "feature_name": feature,
                "constraint_check_type": check,
                "description": f"{SIMULATED}{feature} is reported as failing {check} against the baseline; "
                "no data was compared",
            }
        )
    return violations


def _processing_job(
    sagemaker: Any,
    schedule: dict[str, Any],
    definition: dict[str, Any],
    kind: str,
    scheduled: datetime,
    report: str,
    status: str,
    failure: str,
    violations: int,
) -> Any:
    cluster = definition.get("JobResources", {}).get("ClusterConfig", {})
    job = sagemaker.create_processing_job(
        app_specification=definition.get(f"{kind}AppSpecification", {}),
        experiment_config={},
        network_config=definition.get("NetworkConfig", {}),
        processing_inputs=[],
        processing_job_name=f"model-monitoring-{scheduled:%Y%m%d%H%M}-{uuid.uuid4().hex[:24]}",
        processing_output_config={
            "Outputs": [
                {
                    "OutputName": "monitoring_output",
                    "S3Output": {"S3Uri": report, "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob"},
                }
            ]
        },
        role_arn=definition.get("RoleArn", ""),
        tags=[],
        stopping_condition=definition.get("StoppingCondition", {}),
    )
    job.processing_resources = {"ClusterConfig": cluster} if cluster else None
    job.monitoring_schedule_arn = schedule["MonitoringScheduleArn"]
    job.processing_start_time = job.creation_time
    job.processing_job_status = "Failed" if failure else "Completed"
    if failure:
        job.failure_reason = failure
        job.exit_message = failure
    elif violations:
        job.exit_message = f"CompletedWithViolations: Job completed successfully with {violations} violations."
    else:
        job.exit_message = "Completed: Job completed successfully with no violations."
    return job
