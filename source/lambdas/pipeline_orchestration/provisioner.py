# SPDX-License-Identifier: Apache-2.0
"""Carry out a plan: AWS side effects in a safe order, idempotent, undone when a later step fails.

Order for a wrapped pipeline: write template.zip (and the request, for history) to the assets bucket,
then create the CodePipeline stack. The stack's pipeline starts from the object, so the object must exist
first; if the stack cannot be created the objects written for a new pipeline are removed again.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from lambdas.shared.errors import Conflict, ProvisioningFailed
from lambdas.shared.logging import get_logger

from .adapters import Aws, aws_reason, error_code, http_status, is_client_error
from .planner import BLUEPRINTS_PREFIX, Plan, template_url
from .settings import Settings

logger = get_logger(__name__)

CREATED = "success: stack creation started"
# Stack states from which no update is possible: the stack must be deleted before the name is reused.
DEAD_STATES = {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_FAILED", "DELETE_IN_PROGRESS"}
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
# S3 metadata of a template.zip version: the version id of the request.json written with it.
REQUEST_VERSION_METADATA = "request-version"
# S3 metadata of a template.zip version: the SHA-256 of its bytes (an ETag is no content hash under SSE-KMS).
CONTENT_HASH_METADATA = "content-sha256"
# Fixed timestamp for zip entries: the same plan always gives the same bytes (and S3 ETag).
ZIP_DATE = (2020, 1, 1, 0, 0, 0)


def updating(stack_name: str) -> str:
    return f"Pipeline {stack_name} is already provisioned. Updating template parameters."


def unchanged(stack_name: str) -> str:
    return f"Pipeline {stack_name} is already provisioned. No updates are to be performed."


def template_zip(plan: Plan, blueprint_template: bytes) -> bytes:
    """The pipeline's source artifact: the blueprint template and one parameter file per deployment."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        entries = {plan.template: blueprint_template}
        entries.update({stage.params_file: stage.params_file_content().encode() for stage in plan.stages})
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.external_attr = 0o644 << 16
            archive.writestr(info, entries[name], zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def _tags(plan: Plan) -> list[dict[str, str]]:
    return [
        {"Key": "stack_name", "Value": plan.stack_name},
        {"Key": "mlops:pipeline-name", "Value": plan.pipeline_name},
        {"Key": "mlops:pipeline-type", "Value": plan.pipeline_type},
    ]


def _stack_arguments(plan: Plan, settings: Settings) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "StackName": plan.stack_name,
        "TemplateURL": template_url(settings, plan.stack_template),
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in plan.stack_parameters.items()],
        "Capabilities": CAPABILITIES,
        "Tags": _tags(plan),
    }
    if settings.cfn_role_arn:
        arguments["RoleARN"] = settings.cfn_role_arn
    return arguments


def _check_usable(plan: Plan, stack: dict[str, Any] | None) -> None:
    if stack and stack["StackStatus"] in DEAD_STATES:
        raise Conflict(
            f"Stack {plan.stack_name} is in state {stack['StackStatus']} and cannot be updated. "
            f"Delete the pipeline (DELETE /pipelines/{plan.pipeline_name}) and provision it again."
        )


def provision(plan: Plan, settings: Settings, aws: Aws) -> dict[str, Any]:
    """Create or update the pipeline the plan describes; answers {message, pipeline_id}."""
    if plan.direct:
        return _provision_direct_stack(plan, settings, aws)

    existing = aws.stacks.describe(plan.stack_name)
    _check_usable(plan, existing)
    blueprint = aws.storage.get(settings.blueprint_bucket, f"{BLUEPRINTS_PREFIX}/{plan.template}")
    artifact = template_zip(plan, blueprint)
    written = _write_artifacts(plan, settings, aws, artifact)
    # Written nothing: the pipeline already runs from this very plan (an identical re-post, or a concurrent twin).
    answer = updating(plan.stack_name) if written else unchanged(plan.stack_name)
    if existing:
        return {"message": answer, "pipeline_id": existing["StackId"]}
    try:
        stack_id = aws.stacks.create(**_stack_arguments(plan, settings), OnFailure="DELETE")
    except Exception as error:
        if is_client_error(error) and error_code(error) == "AlreadyExistsException":
            # A concurrent request created it between our look-up and our create: ours becomes an update.
            winner = aws.stacks.describe(plan.stack_name)
            return {"message": answer, "pipeline_id": winner["StackId"] if winner else ""}
        left = _undo(settings, aws, written)
        detail = f"Could not create stack {plan.stack_name}: {aws_reason(error)}."
        detail += f" Left behind: {', '.join(left)}." if left else " Nothing was left behind."
        raise ProvisioningFailed(detail, http_status(error), left) from error
    logger.info("created stack %s for pipeline %s", stack_id, plan.pipeline_name)
    return {"message": CREATED, "pipeline_id": stack_id}


def _content_hash(content: bytes) -> str:
    import hashlib

    return hashlib.sha256(content).hexdigest()


def _write_artifacts(
    plan: Plan, settings: Settings, aws: Aws, artifact: bytes, attempts: int = 3
) -> list[tuple[str, str | None]]:
    """Write the request history and template.zip, unless template.zip already holds this plan; returns what was
    written, for undo (nothing when the plan is unchanged)."""
    digest = _content_hash(artifact)
    current = aws.storage.head(settings.assets_bucket, plan.artifact_key)
    if current and (current.get("Metadata") or {}).get(CONTENT_HASH_METADATA) == digest:
        return []
    written: list[tuple[str, str | None]] = []
    history = json.dumps(plan.request, indent=2, sort_keys=True).encode()
    request_version = aws.storage.put(settings.assets_bucket, plan.history_key, history, "application/json")
    written.append((plan.history_key, request_version))
    # The pipeline runs from a template.zip version; this link finds the request it came from (rollback).
    metadata = {CONTENT_HASH_METADATA: digest}
    if request_version:
        metadata[REQUEST_VERSION_METADATA] = request_version
    try:
        # Conditional on the object read above: of concurrent requests, one writes; the others see its plan.
        version = aws.storage.put(
            settings.assets_bucket,
            plan.artifact_key,
            artifact,
            "application/zip",
            metadata,
            if_match=current["ETag"] if current else "",
        )
    except Exception as error:
        left = _undo(settings, aws, written)
        lost_race = is_client_error(error) and error_code(error) in ("PreconditionFailed", "ConditionalRequestConflict")
        if lost_race and attempts > 1 and not left:
            return _write_artifacts(plan, settings, aws, artifact, attempts - 1)
        raise ProvisioningFailed(
            f"Could not write {plan.artifact_key} to the assets bucket: {aws_reason(error)}."
            + (f" Left behind: {', '.join(left)}." if left else " Nothing was left behind."),
            http_status(error),
            left,
        ) from error
    written.append((plan.artifact_key, version))
    return written


def _undo(settings: Settings, aws: Aws, written: list[tuple[str, str | None]]) -> list[str]:
    """Remove the object versions this request wrote; returns those that could not be removed."""
    left = []
    for key, version in reversed(written):
        try:
            aws.storage.delete(settings.assets_bucket, key, version)
        except Exception as error:  # reported to the caller as left behind, not hidden
            logger.error("could not remove s3://%s/%s (%s): %s", settings.assets_bucket, key, version, error)
            left.append(f"s3://{settings.assets_bucket}/{key}" + (f"?versionId={version}" if version else ""))
    return left


def _provision_direct_stack(plan: Plan, settings: Settings, aws: Aws) -> dict[str, Any]:
    """The image builder: its stack is the pipeline, created or updated directly."""
    existing = aws.stacks.describe(plan.stack_name)
    _check_usable(plan, existing)
    arguments = _stack_arguments(plan, settings)
    # The request history (describe shows it; the image builder has no template.zip to carry it).
    history = json.dumps(plan.request, indent=2, sort_keys=True).encode()
    written = [
        (plan.history_key, aws.storage.put(settings.assets_bucket, plan.history_key, history, "application/json"))
    ]
    if not existing:
        try:
            return {"message": CREATED, "pipeline_id": aws.stacks.create(**arguments, OnFailure="DELETE")}
        except Exception as error:
            if not (is_client_error(error) and error_code(error) == "AlreadyExistsException"):
                left = _undo(settings, aws, written)
                detail = f"Could not create stack {plan.stack_name}: {aws_reason(error)}."
                detail += f" Left behind: {', '.join(left)}." if left else " Nothing was left behind."
                raise ProvisioningFailed(detail, http_status(error), left) from error
            existing = aws.stacks.describe(plan.stack_name)
    stack_id = existing["StackId"] if existing else plan.stack_name
    try:
        aws.stacks.update(**arguments)
    except Exception as error:
        text = str(error)
        if is_client_error(error) and "No updates are to be performed" in text:
            return {
                "message": f"Pipeline {plan.stack_name} is already provisioned. No updates are to be performed.",
                "pipeline_id": stack_id,
            }
        if is_client_error(error) and "IN_PROGRESS state" in text:
            raise Conflict(
                f"Stack {plan.stack_name} is being changed right now; post again once it has finished."
            ) from error
        raise
    return {"message": f"Pipeline {plan.stack_name} is being updated.", "pipeline_id": stack_id}


def _changes(current: dict[str, Any] | None, wanted: dict[str, str]) -> dict[str, dict[str, str]]:
    """Parameters whose value would change: {name: {from, to}}."""
    if current is None:
        return {}
    now = {p["ParameterKey"]: p.get("ParameterValue", "") for p in current.get("Parameters", [])}
    return {k: {"from": now.get(k, ""), "to": v} for k, v in sorted(wanted.items()) if now.get(k, "") != v}


def _stack_action(existing: dict[str, Any] | None) -> str:
    if existing is None:
        return "create"
    return "blocked" if existing["StackStatus"] in DEAD_STATES else "update"


def preview(plan: Plan, settings: Settings, aws: Aws) -> dict[str, Any]:
    """What `provision` would do with the plan, read from AWS without changing anything (dry-run)."""
    from .deployment import stackset_name

    existing = aws.stacks.describe(plan.stack_name)
    stacks: list[dict[str, Any]] = [
        {
            "stack_name": plan.stack_name,
            "role": "pipeline stack (created directly)" if plan.direct else "CodePipeline stack",
            "template": plan.stack_template,
            "action": _stack_action(existing),
            "parameters": plan.stack_parameters,
            "changes": _changes(existing, plan.stack_parameters),
        }
    ]
    if existing and existing["StackStatus"] in DEAD_STATES:
        stacks[0]["reason"] = f"the stack is {existing['StackStatus']}; delete the pipeline first"
    if not plan.direct and plan.multi_account:
        call_as = "DELEGATED_ADMIN" if settings.delegated_admin else "SELF"
        for stage in plan.stages:
            name = stackset_name(plan.pipeline_name, stage.stage or "", existing["StackId"]) if existing else None
            current = aws.stacks.stack_set(name, call_as) if name else None
            stacks.append(
                {
                    "stack_name": name or f"{plan.pipeline_name}-{stage.stage}-<first 8 hex of the pipeline id>",
                    "role": f"{stage.stage} StackSet",
                    "stage": stage.stage,
                    "account_id": stage.account_id,
                    "org_unit_id": stage.org_unit_id,
                    "template": plan.template,
                    "action": "update" if current else "create",
                    "parameters": stage.parameters,
                    "changes": _changes(current, stage.parameters),
                }
            )
    elif not plan.direct:
        current = aws.stacks.describe(plan.pipeline_name)
        stacks.append(
            {
                "stack_name": plan.pipeline_name,
                "role": "blueprint stack (deployed by the CodePipeline)",
                "template": plan.template,
                "action": _stack_action(current),
                "parameters": plan.stages[0].parameters,
                "changes": _changes(current, plan.stages[0].parameters),
            }
        )
    writes = [] if plan.direct else [plan.history_key, plan.artifact_key]
    return {
        "action": "update" if existing else "create",
        "stacks": stacks,
        "writes": [f"s3://{settings.assets_bucket}/{key}" for key in writes],
    }
