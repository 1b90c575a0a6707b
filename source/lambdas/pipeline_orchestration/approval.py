# SPDX-License-Identifier: Apache-2.0
"""Manual approvals between the stages of a multi-account pipeline, answered through the API."""

from __future__ import annotations

from typing import Any

from lambdas.shared.errors import Conflict, FieldError, NotFound, ValidationFailed

from .adapters import Aws
from .status import codepipeline_name
from .validation import WRAPPER_SUFFIX


def approve(pipeline_name: str, body: Any, aws: Aws) -> dict[str, Any]:
    body = body if isinstance(body, dict) else {}
    errors = []
    stage, approved, comment = body.get("stage"), body.get("approved", True), body.get("comment", "")
    if not isinstance(stage, str) or not stage.strip():
        errors.append(FieldError("stage", "is required: the stage waiting for approval, e.g. staging or prod"))
    if not isinstance(approved, bool):
        errors.append(FieldError("approved", "must be true or false"))
    if not isinstance(comment, str) or len(comment) > 512:
        errors.append(FieldError("comment", "must be a string of at most 512 characters"))
    if errors:
        raise ValidationFailed(errors)
    stack = aws.stacks.describe(pipeline_name + WRAPPER_SUFFIX)
    pipeline = codepipeline_name(stack, aws) if stack else None
    if pipeline is None:
        raise NotFound(f"No pipeline named {pipeline_name}.")
    action = aws.pipelines.approve(pipeline, stage.strip(), approved, comment)
    if action is None:
        raise Conflict(f"Pipeline {pipeline_name} has no approval waiting for {stage}.")
    verdict = "approved" if approved else "rejected"
    return {
        "message": f"{action} {verdict} in pipeline {pipeline_name}.",
        "pipeline_name": pipeline_name,
        "action": action,
    }
