# SPDX-License-Identifier: Apache-2.0
"""Teardowns and rollbacks that wait for another principal's approval.

In multi-account mode, deleting or rolling back a pipeline whose staging or prod stage is deployed changes
what other accounts serve: like a stage's deployment, it waits for an approval by a principal other than the
one who asked (unless the operator allows self-approval), through the same approval route. What waits is
`pending-approval.json` beside the pipeline's request.
"""

from __future__ import annotations

import json
from typing import Any

from lambdas.shared.errors import Conflict

from .adapters import Aws
from .audit import now
from .catalogue.approvals import ROLLBACK, TEARDOWN
from .deployment import deployed
from .identity import Principal
from .pipelines import Pipeline
from .planner import pipeline_key
from .settings import Settings

PENDING_FILE = "pending-approval.json"
GATED_STAGES = ("staging", "prod")


def pending_key(pipeline_name: str) -> str:
    return pipeline_key(pipeline_name, PENDING_FILE)


def read(pipeline_name: str, settings: Settings, aws: Aws) -> dict[str, Any] | None:
    raw = aws.storage.find(settings.assets_bucket, pending_key(pipeline_name))
    return json.loads(raw) if raw is not None else None


def needs_approval(pipeline: Pipeline, settings: Settings, aws: Aws) -> list[str]:
    """The gated stages (staging, prod) the pipeline has deployed; empty when a teardown or rollback may run at
    once (single-account, dev only, or self-approval allowed)."""
    if settings.allow_self_approval or not pipeline.multi_account or pipeline.direct:
        return []
    stages = deployed(pipeline.stack, settings, aws).get("stages", {})
    return [stage for stage in GATED_STAGES if stages.get(stage, {}).get("status", "NOT_DEPLOYED") != "NOT_DEPLOYED"]


def request(
    pipeline_name: str, action: str, principal: Principal, stages: list[str], settings: Settings, aws: Aws
) -> dict[str, Any]:
    """Record that `action` waits for approval (the first request stands: asking again changes nothing)."""
    found = read(pipeline_name, settings, aws)
    if found is not None:
        if found["action"] != action:
            raise Conflict(
                f"Pipeline {pipeline_name} has a {found['action']} waiting for approval; approve or reject it first "
                f"(mlops approve {pipeline_name} {found['action']} [--reject])."
            )
        return found
    record = {"action": action, "requested_by": principal.as_dict(), "requested_at": now(), "stages": stages}
    body = json.dumps(record, indent=2, sort_keys=True).encode()
    aws.storage.put(settings.assets_bucket, pending_key(pipeline_name), body, "application/json")
    return record


def clear(pipeline_name: str, settings: Settings, aws: Aws) -> None:
    aws.storage.delete(settings.assets_bucket, pending_key(pipeline_name))


def waiting_answer(pipeline_name: str, record: dict[str, Any]) -> dict[str, Any]:
    """The answer to a teardown or rollback that now waits for approval."""
    action = record["action"]
    asker = Principal.from_dict(record.get("requested_by"))
    what = "Teardown" if action == TEARDOWN else "Rollback"
    deployed_stages = " and ".join(record.get("stages", [])) or "staging or prod"
    return {
        "message": (
            f"{what} of pipeline {pipeline_name} waits for approval by a principal other than "
            f"{asker.label if asker else 'the one who asked'}: its {deployed_stages} stage is deployed in another "
            f"account. Approve with mlops approve {pipeline_name} {action} (or reject with --reject)."
        ),
        "pipeline_name": pipeline_name,
        "done": False,
        "pending_approval": record,
        "approval_stage": action,
    }


__all__ = ["ROLLBACK", "TEARDOWN", "clear", "needs_approval", "read", "request", "waiting_answer"]
