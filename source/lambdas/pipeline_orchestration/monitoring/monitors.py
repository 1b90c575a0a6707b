# SPDX-License-Identifier: Apache-2.0
"""Monitor lookup: which monitor pipeline of this orchestrator a schedule, an alarm or a pipeline name is.

A schedule belongs to the monitor pipeline whose stored request derives its name (the catalogue names a
schedule from the endpoint and the monitor kind), looked up among the pipeline index's monitors of that kind:
the orchestrator's own record of what it provisioned, so a tag edited by hand or a schedule some other tool
created is never taken for one of ours.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from lambdas.shared.errors import OrchestratorError
from lambdas.shared.logging import get_logger

from .. import lifecycle, pipeline_index
from ..adapters import Aws
from ..catalogue import CATALOGUE, monitor_kinds
from ..catalogue.monitors import on_open_engine
from ..planner import REQUEST_FILE, pipeline_key
from ..settings import STAGES, Settings
from ..validation import validate

logger = get_logger(__name__)

ALARM_SUFFIX = "-violations"
DEFAULT_RETRAIN_INTERVAL_MINUTES = 60


def alarm_name(monitor_stack: str) -> str:
    """The name of a monitor's violations alarm (the blueprint names it so; the orchestrator's rule matches it)."""
    return f"{monitor_stack}{ALARM_SUFFIX}"


@dataclass(frozen=True)
class Monitor:
    """A monitor pipeline of this orchestrator, with the request it was provisioned with."""

    pipeline: lifecycle.Pipeline
    request: Mapping[str, Any]
    schedule: str
    # On the open engine its schedule is EventBridge Scheduler's and the orchestrator records its executions.
    open_engine: bool = False

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
    if pipeline.pipeline_type not in monitor_kinds() or pipeline.multi_account:
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
    return Monitor(pipeline, request, names.pop(), on_open_engine(request, settings))


def _claimants(schedule: str, settings: Settings, aws: Aws) -> list[str]:
    """The monitor pipelines of the index whose stored request derives this schedule name (any account mode)."""
    kinds = [t for t, kind in monitor_kinds().items() if f"-{kind}-" in schedule.lower()]
    if not kinds:
        return []
    lifecycle.fill_index(settings, aws)
    candidates, _ = pipeline_index.newest_first(
        lambda item: item.get("pipeline_type") in kinds, None, 1000, True, settings, aws
    )
    found = []
    for item in candidates:
        # The stored request alone says whether this is the schedule's monitor: one read per candidate.
        raw = aws.storage.find(settings.assets_bucket, pipeline_key(item["pipeline_name"], REQUEST_FILE))
        try:
            named = schedule_names(json.loads(raw), settings) if raw else set()
        except (OrchestratorError, ValueError):
            continue
        if schedule.lower() in {n.lower() for n in named}:
            found.append(str(item["pipeline_name"]))
    return found


def find_monitor(schedule: str, settings: Settings, aws: Aws) -> Monitor | None:
    """The monitor pipeline whose request derives this schedule name, or None."""
    for name in _claimants(schedule, settings, aws):
        pipeline = lifecycle.lookup(name, aws)
        monitor = monitor_of(pipeline, settings, aws) if pipeline else None
        if monitor and monitor.schedule.lower() == schedule.lower():
            return monitor
    return None


def schedule_taken(pipeline_name: str, schedules: set[str], settings: Settings, aws: Aws) -> str | None:
    """Why a monitor cannot have these schedules: another monitor of this orchestrator already has one of them.

    A schedule is named from the endpoint and the monitor kind, so a second monitor of one kind on one endpoint
    would take over the first's schedule (and deleting it would leave the first with none): it is refused."""
    for schedule in sorted(schedules):
        others = [name for name in _claimants(schedule, settings, aws) if name != pipeline_name]
        if others:
            return (
                f"the endpoint already has a monitor of this kind: {others[0]} owns the monitoring schedule "
                f"{schedule}. Update {others[0]} (POST its request with your changes), or delete it first"
            )
    return None


def is_monitor_type(pipeline_type: str) -> bool:
    return pipeline_type in monitor_kinds() and pipeline_type in CATALOGUE
