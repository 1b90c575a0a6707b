# SPDX-License-Identifier: Apache-2.0
"""Monitors watch only the endpoints this orchestrator deployed, or those the operator lists.

A monitor's jobs read the endpoint's captured data and, for the Clarify monitors, call a shadow copy of its model:
a monitor on any endpoint of the account would give its caller a view of workloads the orchestrator never
governed. In the orchestrator's account the endpoint itself says who made it (CloudFormation's
`aws:cloudformation:stack-name` tag, on a `mlops-pipeline-*` stack); the stage accounts cannot be read from here,
so there the pipeline index and the stored requests of the real-time pipelines say which endpoints they deploy.
`AllowedMonitoredEndpoints` lists others.
"""

from __future__ import annotations

import json
from typing import Any

from lambdas.shared.errors import FieldError, ValidationFailed

from . import pipeline_index
from .adapters import Aws
from .catalogue import CATALOGUE, PIPELINE_PREFIX
from .planner import REQUEST_FILE, pipeline_key
from .settings import STAGES, Settings
from .validation import ValidRequest

FIELD = "endpoint_name"
STACK_TAG = "aws:cloudformation:stack-name"
SERVING_TYPES = frozenset(t.name for t in CATALOGUE.values() if t.endpoint == "serves")
LISTED = "list it in the orchestrator's AllowedMonitoredEndpoints to monitor it anyway"


def check(request: ValidRequest, settings: Settings, aws: Aws) -> None:
    """Raise a 400 naming endpoint_name (per stage) when a monitor watches an endpoint that is not the
    orchestrator's nor listed; nothing for other pipeline types."""
    if request.pipeline.endpoint != "monitors":
        return
    errors = []
    if request.staged:
        deployed: dict[str, set[str]] | None = None
        for stage in STAGES:
            name = str(request.stage_values(stage).get(FIELD) or "")
            if not name or name in settings.allowed_monitored_endpoints:
                continue
            deployed = deployed if deployed is not None else _staged_endpoints(settings, aws)
            if name not in deployed[stage]:
                errors.append(
                    FieldError(
                        f"{FIELD}.{stage}",
                        f"names {name}, which no real-time pipeline of this orchestrator deploys in the {stage} "
                        f"account (GET /pipelines lists them); {LISTED}",
                    )
                )
    else:
        name = str(request.values.get(FIELD) or "")
        problem = _own_account_problem(name, settings, aws) if name else None
        if problem:
            errors.append(FieldError(FIELD, problem))
    if errors:
        raise ValidationFailed(errors)


def _own_account_problem(name: str, settings: Settings, aws: Aws) -> str | None:
    if name in settings.allowed_monitored_endpoints:
        return None
    tags = aws.sagemaker.endpoint_tags(name)
    if tags is None:
        return (
            f"names no endpoint: {name} does not exist in this account and region; deploy it with a real-time "
            f"pipeline first, or {LISTED}"
        )
    stack = tags.get(STACK_TAG, "")
    if stack.startswith(PIPELINE_PREFIX):
        return None
    made_by = f"by the stack {stack}" if stack else "outside CloudFormation"
    return f"names {name}, an endpoint this orchestrator did not deploy (it was created {made_by}); {LISTED}"


def _staged_endpoints(settings: Settings, aws: Aws) -> dict[str, set[str]]:
    """The endpoint names each stage's real-time pipelines deploy, from their stored requests."""
    items, _ = pipeline_index.newest_first(
        lambda item: item.get("pipeline_type") in SERVING_TYPES, None, 10_000, True, settings, aws
    )
    found: dict[str, set[str]] = {stage: set() for stage in STAGES}
    for item in items:
        raw = aws.storage.find(settings.assets_bucket, pipeline_key(item["pipeline_name"], REQUEST_FILE))
        request: Any = json.loads(raw) if raw is not None else {}
        value = request.get(FIELD) if isinstance(request, dict) else None
        for stage in STAGES:
            name = value.get(stage) if isinstance(value, dict) else value
            if isinstance(name, str) and name:
                found[stage].add(name)
    return found
