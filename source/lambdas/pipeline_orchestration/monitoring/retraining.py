# SPDX-License-Identifier: Apache-2.0
"""Retraining: a violations alarm re-provisions the training pipeline a monitor names, within its bounds."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from lambdas.shared.errors import OrchestratorError
from lambdas.shared.logging import get_logger

from .. import lifecycle, pipeline_state
from ..adapters import Aws, aws_reason, is_client_error
from ..catalogue import retrainable_types
from ..planner import pipeline_key
from ..settings import STAGES, Settings
from ..validation import validate
from .monitors import Monitor

logger = get_logger(__name__)

RETRAINING_FILE = "retraining.json"  # under the training pipeline's prefix: when a monitor last retrained it
BUSY_STATES = (pipeline_state.PROVISIONING, pipeline_state.RUNNING, pipeline_state.WAITING_APPROVAL)

Provision = Callable[[Any], dict[str, Any]]


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
    if pipeline.pipeline_type not in retrainable_types():
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
    if pipeline.pipeline_type not in retrainable_types():
        return f"must name a training pipeline ({', '.join(retrainable_types())}); {target} is {pipeline.pipeline_type}"
    return None
