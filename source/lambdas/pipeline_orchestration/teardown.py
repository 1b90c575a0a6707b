# SPDX-License-Identifier: Apache-2.0
"""Tearing a pipeline down: the deployed stacks (or StackSet instances) first, then its own stack, then its
objects; each step that cannot be taken yet waits for the stack event that unblocks it. User data is kept."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lambdas.shared.errors import Conflict, NotFound

from . import pipeline_index
from .adapters import Aws
from .catalogue import CATALOGUE
from .deployment import stackset_name
from .pipelines import Pipeline, base_name, current_request, lookup_base, read_json, running, teardown_key
from .planner import pipeline_key
from .settings import STAGES, Settings


def kept_resources(
    request: Mapping[str, Any] | None, settings: Settings, pipeline_type: str = ""
) -> list[dict[str, str]]:
    """The user data a teardown leaves in place: captured data, reports, models, images."""
    if not request:
        return []
    declared = CATALOGUE.get(pipeline_type or str(request.get("pipeline_type", "")))
    kept = []
    for keep in declared.keeps if declared else ():
        value = request.get(keep.field)
        values = value.values() if isinstance(value, dict) else [value]
        for location in dict.fromkeys(v for v in values if v):
            if keep.where == "image":
                if not request.get("ecr_repo_name"):
                    continue
                where = f"{request['ecr_repo_name']}:{location}"
            elif keep.where == "as_is":
                where = location
            elif keep.where == "assets":
                where = f"s3://{settings.assets_bucket}/{location}"
            else:
                where = f"s3://{location}"
            kept.append({"field": keep.field, "what": keep.what, "location": where})
    return kept


@dataclass
class _Progress:
    started: list[str]
    waiting_for: list[str]
    remaining: list[str]


def _delete_stack(stack: Mapping[str, Any], what: str, aws: Aws, progress: _Progress) -> bool:
    """Start deleting a stack; True once it is gone (moto and fast deletes finish within the call)."""
    status = stack["StackStatus"]
    if status == "DELETE_COMPLETE":
        return True
    if status.endswith("_IN_PROGRESS") and status != "DELETE_IN_PROGRESS":
        progress.waiting_for.append(f"{what} {stack['StackName']} to finish {status}")
        return False
    if status != "DELETE_IN_PROGRESS":
        aws.stacks.delete(stack["StackId"])
        progress.started.append(f"delete {what} {stack['StackName']}")
    now = aws.stacks.describe(stack["StackId"])
    if now and now["StackStatus"] != "DELETE_COMPLETE":
        progress.waiting_for.append(f"{what} {stack['StackName']} to be deleted ({now['StackStatus']})")
        return False
    return True


def _delete_stack_sets(pipeline: Pipeline, settings: Settings, aws: Aws, progress: _Progress) -> bool:
    call_as = "DELEGATED_ADMIN" if pipeline.parameters.get("DelegatedAdminAccount", "Yes") == "Yes" else "SELF"
    done = True
    for stage in reversed(STAGES):
        name = stackset_name(pipeline.name, stage, pipeline.stack["StackId"])
        stack_set = aws.stacks.stack_set(name, call_as)
        if stack_set is None or stack_set.get("Status") == "DELETED":
            continue
        if aws.stacks.stack_set_busy(name, call_as):
            progress.waiting_for.append(f"the running operation of StackSet {name}")
            done = False
            continue
        instances = aws.stacks.stack_instances(name, call_as)
        if instances:
            regions = sorted({i["Region"] for i in instances})
            accounts = sorted({i["Account"] for i in instances})
            org_units: list[str] = []
            if stack_set.get("PermissionModel") == "SERVICE_MANAGED":
                org_units = sorted({i["OrganizationalUnitId"] for i in instances if i.get("OrganizationalUnitId")})
            aws.stacks.delete_stack_instances(name, regions, accounts, org_units, call_as)
            progress.started.append(f"delete the {stage} stack instances of StackSet {name} ({', '.join(accounts)})")
            if aws.stacks.stack_instances(name, call_as):
                progress.waiting_for.append(f"the stack instances of StackSet {name} to be deleted")
                done = False
                continue
        aws.stacks.delete_stack_set(name, call_as)
        progress.started.append(f"delete StackSet {name}")
    return done


def advance(base: str, pipeline: Pipeline | None, settings: Settings, aws: Aws) -> _Progress:
    """Take every teardown step that can be taken now, in order; later steps wait for earlier ones."""
    progress = _Progress([], [], [])
    prefix = pipeline_key(base)
    objects = f"delete the pipeline's objects under s3://{settings.assets_bucket}/{prefix}"
    if pipeline is not None:
        wrapper = f"delete stack {pipeline.stack['StackName']}"
        if not pipeline.direct:
            # The deployed stacks first: they were created with roles the CodePipeline stack owns.
            if pipeline.multi_account:
                clear = _delete_stack_sets(pipeline, settings, aws, progress)
            else:
                blueprint = aws.stacks.describe(base)
                clear = blueprint is None or _delete_stack(blueprint, "blueprint stack", aws, progress)
            if not clear:
                progress.remaining += [wrapper, objects]
                return progress
        kind = "image builder stack" if pipeline.direct else "CodePipeline stack"
        if not _delete_stack(pipeline.stack, kind, aws, progress):
            progress.remaining.append(objects)
            return progress
    keys = aws.storage.keys(settings.assets_bucket, prefix)
    if keys:
        aws.storage.delete_keys(settings.assets_bucket, keys)
        progress.started.append(f"{objects} ({len(keys)} objects)")
    return progress


def delete_pipeline(name: str, settings: Settings, aws: Aws) -> dict[str, Any]:
    """Start (or continue) tearing a pipeline down; answers what was started, what waits and what is kept."""
    base = base_name(name)
    pipeline = lookup_base(base, aws)
    marker = read_json(settings, aws, teardown_key(base))
    if pipeline is None and marker is None:
        raise NotFound(f"No pipeline named {base}; GET /pipelines lists them.")
    if pipeline is not None and marker is None:
        reason = running(pipeline, aws)
        if reason:
            raise Conflict(
                f"Pipeline {base} is running: {reason}. Delete it once the run has finished, or stop the execution."
            )
        marker = {
            "pipeline_name": base,
            "pipeline_type": pipeline.pipeline_type,
            "requested": datetime.now(UTC).isoformat(),
            "kept": kept_resources(current_request(pipeline, settings, aws), settings, pipeline.pipeline_type),
        }
        aws.storage.put(
            settings.assets_bucket, teardown_key(base), json.dumps(marker, indent=2).encode(), "application/json"
        )
    assert marker is not None
    progress = advance(base, pipeline, settings, aws)
    done = not progress.waiting_for and not progress.remaining
    if done:
        pipeline_index.remove(base, settings, aws)
    return {
        "message": f"Pipeline {base} is deleted." if done else f"Deleting pipeline {base}.",
        "pipeline_name": base,
        "done": done,
        "started": progress.started,
        "waiting_for": progress.waiting_for,
        "remaining": progress.remaining,
        "kept": marker.get("kept", []),
    }
