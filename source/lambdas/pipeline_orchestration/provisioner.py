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

from lambdas.shared.aws import unavailable
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
# S3 metadata of an object version the orchestrator wrote: a token of the request that wrote it, so that a write
# whose answer was lost is recognised as our own when the SDK's retry meets PreconditionFailed.
WRITER_METADATA = "writer"
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
    return _create_stack(plan, settings, aws, written, answer)


def _create_stack(
    plan: Plan, settings: Settings, aws: Aws, written: list[tuple[str, str | None]], answer: str
) -> dict[str, Any]:
    """CreateStack with a ClientRequestToken, so that the SDK's retry of a create whose answer was lost is the
    same request to CloudFormation; a stack found after an ambiguous failure is ours when it holds our plan."""
    arguments = {**_stack_arguments(plan, settings), "OnFailure": "DELETE", "ClientRequestToken": _token()}
    try:
        stack_id = aws.stacks.create(**arguments)
    except Exception as error:
        found = _stack_after_failed_create(plan, aws, error)
        if found is not None:
            if written and _holds_plan(found, plan):  # ours: the answer of our create was lost on the way
                logger.info("stack %s was created although CreateStack's answer was lost", plan.stack_name)
                return {"message": CREATED, "pipeline_id": found["StackId"]}
            # A concurrent request created it between our look-up and our create: ours becomes an update.
            return {"message": answer, "pipeline_id": found["StackId"]}
        busy = unavailable(error)
        left = [] if busy else _undo(settings, aws, written)
        detail = f"Could not create stack {plan.stack_name}: {aws_reason(error)}."
        if busy:  # the object versions written stay: a repeat of the request finds them and carries on
            detail += " The request's objects are kept; post the request again."
        else:
            detail += f" Left behind: {', '.join(left)}." if left else " Nothing was left behind."
        raise ProvisioningFailed(*_failure(error, detail), left) from error
    logger.info("created stack %s for pipeline %s", stack_id, plan.pipeline_name)
    return {"message": CREATED, "pipeline_id": stack_id}


def rerun(plan: Plan, settings: Settings, aws: Aws) -> None:
    """Write the plan's request history and template.zip again, unchanged: the new template.zip version starts the
    pipeline's next execution through its usual trigger (a retry)."""
    blueprint = aws.storage.get(settings.blueprint_bucket, f"{BLUEPRINTS_PREFIX}/{plan.template}")
    _write_artifacts(plan, settings, aws, template_zip(plan, blueprint), again=True)


def _token() -> str:
    import uuid

    return f"mlops-{uuid.uuid4().hex}"


def _stack_after_failed_create(plan: Plan, aws: Aws, error: Exception) -> dict[str, Any] | None:
    """The stack a failed CreateStack may have created anyway (AlreadyExists, or no answer); None otherwise."""
    if not (is_client_error(error) and error_code(error) == "AlreadyExistsException") and not unavailable(error):
        return None
    try:
        return aws.stacks.describe(plan.stack_name)
    except Exception:  # cannot tell: reported with the create's own failure
        logger.exception("could not read stack %s after its create failed", plan.stack_name)
        return None


def _holds_plan(stack: dict[str, Any], plan: Plan) -> bool:
    found = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    return all(found.get(k) == v for k, v in plan.stack_parameters.items())


def _failure(error: Exception, detail: str) -> tuple[str, int | None]:
    """The detail and the status of an answer about a failed AWS call (503/502/504 when it may be tried again)."""
    busy = unavailable(error)
    return detail, busy.status if busy else http_status(error)


def _retry_after(error: Exception) -> int | None:
    busy = unavailable(error)
    return busy.retry_after if busy else None


def _content_hash(content: bytes) -> str:
    import hashlib

    return hashlib.sha256(content).hexdigest()


class _LostRace(Exception):
    """Another request wrote a different object between our read and our conditional write."""


class _Unknown(Exception):
    """A write failed without a clear answer and the object could not be read back: it may have landed."""


def _put_once(
    aws: Aws, bucket: str, key: str, body: bytes, content_type: str, metadata: dict[str, str], force: bool = False
) -> tuple[str | None, bool]:
    """Write `body` as a new version of `key` unless the current version already holds it (or `force`: a retry
    writes a new version of the same bytes); returns the version id that holds it and whether this call wrote it.

    The write is conditional on the version read. When its answer is lost and the SDK sends it again, the
    retry meets PreconditionFailed: the object then holds our own bytes (our writer token), which is success."""
    digest, writer = _content_hash(body), _token()
    current = aws.storage.head(bucket, key)
    if not force and current and _holds(current, digest, aws, bucket, key):
        return current.get("VersionId"), False
    tagged = {**metadata, CONTENT_HASH_METADATA: digest, WRITER_METADATA: writer}
    try:
        version = aws.storage.put(bucket, key, body, content_type, tagged, if_match=current["ETag"] if current else "")
        return version, True
    except Exception as error:
        conflict = is_client_error(error) and error_code(error) in ("PreconditionFailed", "ConditionalRequestConflict")
        if not (conflict or unavailable(error)):
            raise
        try:
            now = aws.storage.head(bucket, key)
        except Exception as unread:
            # The failure to answer with: AWS's own (try again), or the read's when the write met a precondition.
            raise _Unknown(key) from (error if unavailable(error) else unread)
        if now and (now.get("Metadata") or {}).get(WRITER_METADATA) == writer:
            return now.get("VersionId"), True  # our write landed; only its answer was lost
        if now and conflict and _holds(now, digest, aws, bucket, key):
            return now.get("VersionId"), False  # a twin wrote the same bytes first
        if conflict:
            raise _LostRace(key) from error
        raise


def _cause(error: Exception) -> Exception:
    """The AWS failure behind a write whose outcome is unknown (the error itself otherwise)."""
    return error.__cause__ if isinstance(error, _Unknown) and isinstance(error.__cause__, Exception) else error


def _holds(head: dict[str, Any], digest: str, aws: Aws, bucket: str, key: str) -> bool:
    """The object version holds the bytes whose SHA-256 is `digest` (read when it was written without the hash)."""
    recorded = (head.get("Metadata") or {}).get(CONTENT_HASH_METADATA)
    if recorded:
        return bool(recorded == digest)
    if key.endswith(".zip"):  # written before hashes were recorded: a plan written anew is harmless
        return False
    return _content_hash(aws.storage.get(bucket, key, head.get("VersionId"))) == digest


def _write_artifacts(
    plan: Plan, settings: Settings, aws: Aws, artifact: bytes, attempts: int = 3, again: bool = False
) -> list[tuple[str, str | None]]:
    """Write the request history and template.zip, unless template.zip already holds this plan (and it is not
    written `again`, a retry); returns what this request wrote, for undo (nothing when the plan is unchanged).

    Crash-safe: a request.json version is removed again only when template.zip was certainly not written with it,
    and an identical request.json is not written twice (the current version is linked instead)."""
    bucket = settings.assets_bucket
    current = aws.storage.head(bucket, plan.artifact_key)
    if not again and current and (current.get("Metadata") or {}).get(CONTENT_HASH_METADATA) == _content_hash(artifact):
        return []
    history = json.dumps(plan.request, indent=2, sort_keys=True).encode()
    try:
        request_version, wrote_request = _put_once(
            aws, bucket, plan.history_key, history, "application/json", {}, force=again
        )
    except _LostRace:
        if attempts > 1:
            return _write_artifacts(plan, settings, aws, artifact, attempts - 1, again)
        raise Conflict(f"{plan.history_key} is being written by another request; post again.") from None
    except Exception as error:
        cause = _cause(error)  # a write whose outcome is unknown is answered as the AWS failure behind it
        reason = f"Could not write {plan.history_key} to the assets bucket: {aws_reason(cause)}."
        detail, status = _failure(cause, reason)
        if isinstance(error, _Unknown):  # a request.json version without its template.zip changes no pipeline
            detail += " Whether it was written is not known; post the request again."
        else:
            detail += " Nothing was left behind."
        raise ProvisioningFailed(detail, status, [], _retry_after(cause)) from cause
    written: list[tuple[str, str | None]] = [(plan.history_key, request_version)] if wrote_request else []
    # The pipeline runs from a template.zip version; this link finds the request it came from (rollback).
    metadata = {REQUEST_VERSION_METADATA: request_version} if request_version else {}
    try:
        version, wrote_zip = _put_once(
            aws, bucket, plan.artifact_key, artifact, "application/zip", metadata, force=again
        )
    except _LostRace:  # a different plan was written first: our request.json version is certainly unused
        left = _undo(settings, aws, written)
        if attempts > 1 and not left:
            return _write_artifacts(plan, settings, aws, artifact, attempts - 1, again)
        raise ProvisioningFailed(
            f"Could not write {plan.artifact_key}: another request changed it at the same time."
            + (f" Left behind: {', '.join(left)}." if left else " Nothing was left behind."),
            409,
            left,
        ) from None
    except Exception as error:
        cause = _cause(error)
        # Whether the write landed is unknown only when it could not be read back: then nothing is removed.
        unknown = isinstance(error, _Unknown)
        left = [] if unknown else _undo(settings, aws, written)
        detail, status = _failure(
            cause, f"Could not write {plan.artifact_key} to the assets bucket: {aws_reason(cause)}."
        )
        if unknown and written:
            kept = ", ".join(f"s3://{bucket}/{key}?versionId={v}" for key, v in written)
            detail += f" Kept: {kept} (whether the write landed is not known); post the request again."
        else:
            detail += f" Left behind: {', '.join(left)}." if left else " Nothing was left behind."
        raise ProvisioningFailed(detail, status, left, _retry_after(cause)) from cause
    if not wrote_zip:  # a twin request wrote this very plan first
        return []
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
    # The request history (describe shows it; the image builder has no template.zip to carry it). An identical
    # re-post links the current version rather than writing another.
    history = json.dumps(plan.request, indent=2, sort_keys=True).encode()
    try:
        version, wrote = _put_once(aws, settings.assets_bucket, plan.history_key, history, "application/json", {})
    except _LostRace:
        raise Conflict(f"{plan.history_key} is being written by another request; post again.") from None
    written = [(plan.history_key, version)] if wrote else []
    if not existing:
        return _create_stack(plan, settings, aws, written, updating(plan.stack_name))
    stack_id = existing["StackId"]
    try:
        aws.stacks.update(**arguments)
    except Exception as error:
        text = str(error)
        if is_client_error(error) and "No updates are to be performed" in text:
            return {"message": unchanged(plan.stack_name), "pipeline_id": stack_id}
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
