# SPDX-License-Identifier: Apache-2.0
"""CloudWatch: metric alarms that are evaluated, and whose state changes are delivered, as the service does.

moto stores alarms and metric data but evaluates nothing, and its CloudFormation does not model
AWS::CloudWatch::Alarm. The stacks' alarms are created in moto's backend by their placeholders; whenever
metric data is put (and on every tick of the monitoring clock, for periods that pass without data) each alarm
on a metric is evaluated and, when its state changes, its state is set in moto and the `CloudWatch Alarm
State Change` event is queued for the orchestrator, as EventBridge would deliver it.

Alarms run on the monitoring schedules' shortened clock (monitoring.MONITORING_HOUR_SECONDS): a period of 300 s
lasts 5 s when an hour lasts 60 s, so an alarm that a violation set returns to OK as soon as a period passes
without one, as it does on AWS after an hourly schedule's next clean execution.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from lambdas.shared.logging import get_logger

from . import monitoring
from .monitoring import EVENTS
from .patches import replace

logger = get_logger(__name__)
progress = get_logger("mlops.progress")

COMPARISONS = {
    "GreaterThanOrEqualToThreshold": (lambda value, threshold: value >= threshold, "greater than or equal to"),
    "GreaterThanThreshold": (lambda value, threshold: value > threshold, "greater than"),
    "LessThanThreshold": (lambda value, threshold: value < threshold, "less than"),
    "LessThanOrEqualToThreshold": (lambda value, threshold: value <= threshold, "less than or equal to"),
}
STATISTICS = {
    "Maximum": max,
    "Minimum": min,
    "Sum": sum,
    "Average": lambda values: sum(values) / len(values),
    "SampleCount": lambda values: float(len(values)),
}


@dataclass(frozen=True)
class Verdict:
    state: str  # OK, ALARM, INSUFFICIENT_DATA
    reason: str


def evaluate(
    alarm: Any, datapoints: list[tuple[datetime, float]], now: datetime, period: float | None = None
) -> Verdict | None:
    """The state of a metric alarm over its last EvaluationPeriods periods (of `period` seconds, else the
    alarm's own) ending at `now` (None: the alarm is not one the emulator evaluates, or TreatMissingData=ignore
    keeps its state). Missing periods count as TreatMissingData says: missing (the default; none present is
    INSUFFICIENT_DATA), notBreaching, breaching."""
    compare = COMPARISONS.get(alarm.comparison_operator)
    statistic = STATISTICS.get(alarm.statistic or "")
    if compare is None or statistic is None or alarm.metric_data_queries:
        return None
    test, words = compare
    periods, period = int(alarm.evaluation_periods), float(alarm.period if period is None else period)
    needed = int(alarm.datapoints_to_alarm or periods)
    values: list[float | None] = []
    for index in range(periods):
        end = now - timedelta(seconds=index * period)
        inside = [v for t, v in datapoints if end - timedelta(seconds=period) < t <= end]
        values.append(float(statistic(inside)) if inside else None)
    present = [v for v in values if v is not None]
    missing = alarm.treat_missing_data or "missing"
    if not present and missing in ("missing", "ignore"):
        if missing == "ignore":
            return None
        return Verdict("INSUFFICIENT_DATA", f"Insufficient Data: no datapoint in the last {periods} period(s).")
    breaching = sum(1 for v in present if test(v, float(alarm.threshold)))
    if missing == "breaching":
        breaching += len(values) - len(present)
    if not present:
        treated = "breaching" if missing == "breaching" else "not breaching"
        gap = f"no datapoint in {periods} period{'s' if periods != 1 else ''}"
        state = "ALARM" if breaching >= needed else "OK"
        return Verdict(state, f"Threshold Crossed: {gap}: {periods} missing datapoint was treated as {treated}.")
    shown = ", ".join(f"{v:g}" for v in present)
    count = f"{len(present)} datapoint{'s' if len(present) != 1 else ''} [{shown}]"
    if breaching >= needed:
        return Verdict("ALARM", f"Threshold Crossed: {count} was {words} the threshold ({float(alarm.threshold):g}).")
    return Verdict("OK", f"Threshold Crossed: {count} was not {words} the threshold ({float(alarm.threshold):g}).")


def alarms_are_evaluated() -> None:
    """PutMetricData evaluates the alarms on the metrics it put (idempotent)."""
    from moto.cloudwatch.models import CloudWatchBackend

    original = CloudWatchBackend.put_metric_data
    if getattr(original, "_evaluates", False):
        return

    def put_metric_data(self: Any, namespace: str, metric_data: list[dict[str, Any]]) -> None:
        original(self, namespace, metric_data)
        names = {m["MetricName"] for m in metric_data}
        for alarm in list(self.alarms.values()):
            if alarm.namespace == namespace and alarm.metric_name in names:
                evaluate_alarm(self, alarm)

    put_metric_data._evaluates = True  # type: ignore[attr-defined]
    replace(CloudWatchBackend, "put_metric_data", put_metric_data)


def evaluate_all_alarms() -> None:
    """Every metric alarm of every account, so that a period passing without data is seen too."""
    from moto.cloudwatch.models import cloudwatch_backends

    for regions in list(cloudwatch_backends.values()):
        for backend in list(regions.values()):
            for alarm in list(backend.alarms.values()):
                evaluate_alarm(backend, alarm)


def evaluate_alarm(backend: Any, alarm: Any, now: datetime | None = None) -> bool:
    """Evaluate one alarm; on a change, set its state in moto and queue its event. Answers whether it changed."""
    now = now or datetime.now(UTC)
    local_period = float(alarm.period) * monitoring.MONITORING_HOUR_SECONDS / 3600
    verdict = evaluate(alarm, _datapoints(backend, alarm), now, local_period)
    if verdict is None or verdict.state == alarm.state_value:
        return False
    previous = {
        "value": alarm.state_value,
        "reason": alarm.state_reason,
        "timestamp": _iso(alarm.state_updated_timestamp),
    }
    reason_data = json.dumps({"version": "1.0", "queryDate": _iso(now), "threshold": float(alarm.threshold)})
    alarm.update_state(verdict.reason, reason_data, verdict.state)
    EVENTS.append(alarm_event(backend, alarm, previous, reason_data))
    progress.info("alarm %s: %s -> %s (%s)", alarm.name, previous["value"], verdict.state, verdict.reason)
    return True


def alarm_event(backend: Any, alarm: Any, previous: dict[str, Any], reason_data: str) -> dict[str, Any]:
    """EventBridge's `CloudWatch Alarm State Change` for a metric alarm."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "source": "aws.cloudwatch",
        "detail-type": "CloudWatch Alarm State Change",
        "account": backend.account_id,
        "region": backend.region_name,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resources": [alarm.alarm_arn],
        "detail": {
            "alarmName": alarm.name,
            "state": {
                "value": alarm.state_value,
                "reason": alarm.state_reason,
                "reasonData": reason_data,
                "timestamp": _iso(alarm.state_updated_timestamp),
            },
            "previousState": previous,
            "configuration": {
                "description": alarm.description or "",
                "metrics": [
                    {
                        "id": "m1",
                        "metricStat": {
                            "metric": {
                                "namespace": alarm.namespace,
                                "name": alarm.metric_name,
                                "dimensions": {d.name: d.value for d in alarm.dimensions},
                            },
                            "period": int(alarm.period),
                            "stat": alarm.statistic,
                        },
                        "returnData": True,
                    }
                ],
            },
        },
    }


def create_stack_alarm(name: str, properties: dict[str, Any], account_id: str, region: str) -> None:
    """A stack's AWS::CloudWatch::Alarm, in moto's backend (in INSUFFICIENT_DATA, as CloudWatch creates it)."""
    from moto.cloudwatch.models import cloudwatch_backends

    backend = cloudwatch_backends[account_id][region]
    alarm = backend.put_metric_alarm(
        name=name,
        namespace=properties.get("Namespace", ""),
        metric_name=properties.get("MetricName", ""),
        comparison_operator=properties.get("ComparisonOperator", ""),
        evaluation_periods=int(properties.get("EvaluationPeriods", 1)),
        period=int(properties.get("Period", 60)),
        threshold=float(properties.get("Threshold", 0)),
        statistic=properties.get("Statistic", ""),
        description=properties.get("AlarmDescription", ""),
        dimensions=list(properties.get("Dimensions", [])),
        alarm_actions=list(properties.get("AlarmActions", [])),
        datapoints_to_alarm=int(properties["DatapointsToAlarm"]) if properties.get("DatapointsToAlarm") else None,
        ok_actions=list(properties.get("OKActions", [])),
        insufficient_data_actions=list(properties.get("InsufficientDataActions", [])),
        unit=properties.get("Unit"),
        actions_enabled=properties.get("ActionsEnabled", True) not in (False, "false"),
        treat_missing_data=properties.get("TreatMissingData"),
    )
    alarm.state_value, alarm.state_reason = "INSUFFICIENT_DATA", "Unchecked: Initial alarm creation"


def delete_stack_alarm(name: str, account_id: str, region: str) -> None:
    from moto.cloudwatch.models import cloudwatch_backends

    cloudwatch_backends[account_id][region].alarms.pop(name, None)


def _datapoints(backend: Any, alarm: Any) -> list[tuple[datetime, float]]:
    wanted = {(d.name, d.value) for d in alarm.dimensions}
    points = []
    for datum in list(backend.metric_data):
        if datum.namespace != alarm.namespace or datum.name != alarm.metric_name:
            continue
        if {(d.name, d.value) for d in datum.dimensions} != wanted:
            continue
        value = getattr(datum, "value", None)
        if value is None:  # statistic values: the one the alarm reads
            value = {"Maximum": "max", "Minimum": "min", "SampleCount": "sample_count"}.get(alarm.statistic, "sum")
            value = getattr(datum, value, None)
        if value is not None:
            points.append((_aware(datum.timestamp), float(value)))
    return points


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _iso(value: datetime) -> str:
    return _aware(value).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
