# SPDX-License-Identifier: Apache-2.0
"""Rolling a pipeline back: re-provision the request of its last successful execution before the current one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lambdas.shared.errors import BadRequest, Conflict

from .adapters import Aws
from .catalogue import CATALOGUE
from .pipelines import Pipeline, artifact_key, codepipeline_name, find, history_key, read_json, running
from .provisioner import REQUEST_VERSION_METADATA
from .settings import Settings


def _request_of(base: str, zip_version: str, settings: Settings, aws: Aws) -> tuple[dict[str, Any], str] | None:
    """The request a template.zip version was made from, with the request.json version id."""
    head = aws.storage.head(settings.assets_bucket, artifact_key(base), zip_version)
    if head is None:
        return None
    version = (head.get("Metadata") or {}).get(REQUEST_VERSION_METADATA)
    if not version:
        # Written before the link existed: the request is the last one written before the zip.
        earlier = [
            v
            for v in aws.storage.versions(settings.assets_bucket, history_key(base))
            if not v["DeleteMarker"] and v["LastModified"] <= head["LastModified"]
        ]
        if not earlier:
            return None
        version = earlier[0]["VersionId"]
    request = read_json(settings, aws, history_key(base), version)
    return (request, version) if request is not None else None


def check_rollback(pipeline: Pipeline, settings: Settings, aws: Aws) -> str:
    """Refuse a rollback that cannot run (a type without one, a run in progress, no CodePipeline yet); answers the
    pipeline's CodePipeline."""
    declared = CATALOGUE.get(pipeline.pipeline_type)
    if declared is None or not declared.rollback:
        rollback_types = ", ".join(t.name for t in CATALOGUE.values() if t.rollback)
        raise BadRequest(
            f"Bad request. Rollback re-deploys real-time and batch pipelines ({rollback_types}); "
            f"{pipeline.name} is a {pipeline.pipeline_type} pipeline."
        )
    reason = running(pipeline, aws)
    if reason:
        raise Conflict(f"Pipeline {pipeline.name} is running: {reason}. Roll back once the run has finished.")
    codepipeline = codepipeline_name(pipeline, aws)
    if codepipeline is None:
        raise Conflict(f"Pipeline {pipeline.name} has not created its CodePipeline yet; nothing to roll back.")
    return codepipeline


def rollback_pipeline(
    name: str, settings: Settings, aws: Aws, provision: Callable[[Any], dict[str, Any]]
) -> dict[str, Any]:
    """Re-provision the request of the last successful execution before the current one."""
    pipeline = find(name, aws)
    codepipeline = check_rollback(pipeline, settings, aws)
    current = aws.storage.head(settings.assets_bucket, artifact_key(pipeline.name))
    current_version = current.get("VersionId") if current else None
    for execution in aws.pipelines.executions(codepipeline):
        if execution.get("status") != "Succeeded":
            continue
        revision = next(
            (r.get("revisionId") for r in execution.get("sourceRevisions", []) if r.get("revisionId")), None
        )
        if not revision or revision == current_version:
            continue
        found = _request_of(pipeline.name, revision, settings, aws)
        if found is None:
            continue
        request, request_version = found
        answer = provision({k: v for k, v in request.items() if k != "dry_run"})
        return {
            **answer,
            "message": (
                f"Rolling back {pipeline.name} to the request of its successful execution "
                f"{execution.get('pipelineExecutionId')}; the pipeline deploys it through its stages and approvals."
            ),
            "rolled_back_to": {
                "execution_id": execution.get("pipelineExecutionId"),
                "request_version": request_version,
                "request": request,
            },
        }
    raise Conflict(f"Pipeline {pipeline.name} has no earlier successful request to roll back to.")
