# SPDX-License-Identifier: Apache-2.0
"""Describe's monitoring section: the schedule's status and its last executions with their violations.

Model Monitor's and Clarify's come from SageMaker's schedule; the open engine's from the orchestrator's records of
its executions (its schedule is EventBridge Scheduler's, and its stack's state says whether it exists).
"""

from __future__ import annotations

from typing import Any

from .. import lifecycle
from ..adapters import Aws, aws_reason, is_client_error
from ..settings import Settings
from .events import HISTORY
from .monitors import alarm_name, monitor_of
from .records import recorded_executions
from .reports import execution_summary


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
        "engine": "open" if monitor.open_engine else "model_monitor",
    }
    if monitor.open_engine:
        try:
            executions = recorded_executions(settings.assets_bucket, monitor.name, HISTORY, aws)
        except Exception as error:
            if not is_client_error(error):
                raise
            return {**section, "status": "UNKNOWN", "error": aws_reason(error), "executions": []}
        section["status"] = "Scheduled"  # EventBridge Scheduler's schedule, deployed and removed with the stack
        section["executions"] = [execution_summary(monitor, e, aws) for e in executions]
        return section
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
