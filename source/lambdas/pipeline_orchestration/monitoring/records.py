# SPDX-License-Identifier: Apache-2.0
"""The open engine's executions as the orchestrator records them: SageMaker keeps no monitoring schedule or
execution for a monitor on the open engine, so the intake writes each outcome beside the monitor's request,
`mlops_provisioned_pipelines/<monitor>/monitoring_executions/<yyyy-mm-ddThh>.json`, in the shape of
ListMonitoringExecutions' summaries. Describe's history, the pipeline's state and the alarm's notification read
them back, newest first.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..adapters import Aws
from ..planner import pipeline_key
from ..settings import Settings
from .monitors import Monitor

EXECUTIONS_FOLDER = "monitoring_executions"
RECORDED_FIELDS = ("MonitoringScheduleName", "ScheduledTime", "MonitoringExecutionStatus", "ProcessingJobArn")


def _hour(scheduled: Any) -> str:
    if isinstance(scheduled, str):
        scheduled = datetime.fromisoformat(scheduled.replace("Z", "+00:00"))
    if not isinstance(scheduled, datetime):
        raise ValueError(f"an execution's scheduled time is needed, not {scheduled!r}")
    moment = scheduled if scheduled.tzinfo else scheduled.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H")


def record_key(monitor_name: str, scheduled: Any) -> str:
    return pipeline_key(monitor_name, f"{EXECUTIONS_FOLDER}/{_hour(scheduled)}.json")


def record_execution(
    bucket: str, monitor_name: str, schedule: str, execution: Mapping[str, Any], report: str, aws: Aws
) -> str:
    """Write one execution's outcome (a later outcome of the same hour replaces it); returns its key."""
    scheduled = execution.get("ScheduledTime")
    record: dict[str, Any] = {
        "MonitoringScheduleName": schedule,
        "ScheduledTime": f"{_hour(scheduled)}:00:00+00:00",
        "MonitoringExecutionStatus": str(execution.get("MonitoringExecutionStatus", "")),
        "ProcessingJobArn": str(execution.get("ProcessingJobArn", "")),
        "Report": report,
        "RecordedAt": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if execution.get("FailureReason"):
        record["FailureReason"] = str(execution["FailureReason"])
    key = record_key(monitor_name, scheduled)
    aws.storage.put(bucket, key, json.dumps(record, indent=2).encode(), "application/json")
    return key


def recorded_executions(bucket: str, monitor_name: str, limit: int, aws: Aws) -> list[dict[str, Any]]:
    """The monitor's recorded executions, newest scheduled hour first (at most `limit`)."""
    keys = sorted(aws.storage.keys(bucket, pipeline_key(monitor_name, f"{EXECUTIONS_FOLDER}/")), reverse=True)
    found = []
    for key in keys[:limit]:
        raw = aws.storage.find(bucket, key)
        try:
            record = json.loads(raw) if raw else None
        except ValueError:
            record = None
        if isinstance(record, dict) and all(field in record for field in RECORDED_FIELDS):
            found.append(record)
    return found


def latest_executions(monitor: Monitor, settings: Settings, aws: Aws, limit: int) -> list[dict[str, Any]]:
    """The monitor's latest executions, newest first: SageMaker's list for Model Monitor and Clarify, the
    orchestrator's records for the open engine."""
    if monitor.open_engine:
        return recorded_executions(settings.assets_bucket, monitor.name, limit, aws)
    return list(aws.monitoring.executions(monitor.schedule, limit))
