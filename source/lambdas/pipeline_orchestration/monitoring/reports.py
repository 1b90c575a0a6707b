# SPDX-License-Identifier: Apache-2.0
"""An execution's reports: where Model Monitor, Clarify and the open engine write them, and their violations."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..adapters import Aws, aws_reason, is_client_error
from .monitors import Monitor

VIOLATIONS_FILE = "constraint_violations.json"
SHOWN_VIOLATIONS = 5  # violations a notification or a describe lists; the report has them all
RESULT_FILE = "result.json"  # the open engine's own outcome of an execution, beside its reports
EXECUTION_STATUSES = ("Completed", "CompletedWithViolations", "Failed")
# The environment the open engine's schedule gives each analysis job (lambdas/blueprints/open_engine.py).
ENGINE_SCHEDULE_ENV, ENGINE_SCHEDULED_TIME_ENV = "MONITORING_SCHEDULE", "MONITORING_SCHEDULED_TIME"


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


def job_output(detail: Mapping[str, Any]) -> str:
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
            # Data quality names the feature; model quality and Clarify name the metric (accuracy is no feature).
            "feature": str(v.get("feature_name") or v.get("metric_name") or ""),
            "kind": "feature" if v.get("feature_name") else "metric",
            "check": str(v.get("constraint_check_type", "")),
            "description": str(v.get("description", "")),
        }
        for v in found[:SHOWN_VIOLATIONS]
        if isinstance(v, dict)
    )
    return Violations(len(found), shown)


def read_result(location: str, aws: Aws) -> dict[str, Any]:
    """The open engine's `result.json` under a report location; {"error": why} when it cannot be read."""
    if not location.startswith("s3://"):
        return {"error": "the execution's report location is not known"}
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    key = f"{prefix.rstrip('/')}/{RESULT_FILE}".lstrip("/")
    try:
        raw = aws.storage.find(bucket, key)
    except Exception as error:
        if not is_client_error(error):
            raise
        return {"error": f"s3://{bucket}/{key} could not be read: {aws_reason(error)}"}
    if raw is None:
        return {"error": f"the engine wrote no s3://{bucket}/{key}"}
    try:
        result = json.loads(raw)
    except ValueError:
        return {"error": f"s3://{bucket}/{key} is not JSON"}
    return result if isinstance(result, dict) else {"error": f"s3://{bucket}/{key} is not a result"}


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


def violation_lines(violations: list[dict[str, str]], count: int) -> list[str]:
    lines = [
        f"  - {v.get('kind', 'feature')} {v['feature']}, check {v['check']}: {v['description']}" for v in violations
    ]
    if count > len(violations):
        lines.append(f"  ... and {count - len(violations)} more in the report")
    return lines
