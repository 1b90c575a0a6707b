# SPDX-License-Identifier: Apache-2.0
"""Manual approvals between the stages of a multi-account pipeline, answered through the API.

An approval acts on exactly the stage it names, or is refused: a stage that is not an approvable stage is a
400 listing those that are; a stage that is not the one waiting is a 409 naming the stage that is.
"""

from __future__ import annotations

from typing import Any

from lambdas.shared.errors import Conflict, FieldError, NotFound, ValidationFailed

from .adapters import Aws, error_code, is_client_error
from .deployment import codepipeline_name
from .pipeline_state import APPROVAL_STAGES, approval_action, approval_stage
from .validation import WRAPPER_SUFFIX

# CodePipeline's answers when the token no longer belongs to a waiting approval (answered a moment ago).
STALE_APPROVAL = ("ApprovalAlreadyCompletedException", "InvalidApprovalTokenException", "ActionNotFoundException")


def _waiting(state: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(CodePipeline stage, action, token) of every manual approval that waits."""
    return [
        (stage.get("stageName", ""), action.get("actionName", ""), action["latestExecution"]["token"])
        for stage in state.get("stageStates", [])
        for action in stage.get("actionStates", [])
        if (action.get("latestExecution") or {}).get("token")
        and action["latestExecution"].get("status") == "InProgress"
    ]


def approve(pipeline_name: str, body: Any, aws: Aws) -> dict[str, Any]:
    body = body if isinstance(body, dict) else {}
    errors = []
    stage, approved, comment = body.get("stage"), body.get("approved", True), body.get("comment", "")
    valid = ", ".join(APPROVAL_STAGES)
    if not isinstance(stage, str) or not stage.strip():
        errors.append(FieldError("stage", f"is required: the stage waiting for approval, one of {valid}"))
    elif stage.strip() not in APPROVAL_STAGES:
        errors.append(FieldError("stage", f"'{stage.strip()}' is not a stage that waits for approval: one of {valid}"))
    if not isinstance(approved, bool):
        errors.append(FieldError("approved", "must be true or false"))
    if not isinstance(comment, str) or len(comment) > 512:
        errors.append(FieldError("comment", "must be a string of at most 512 characters"))
    if errors:
        raise ValidationFailed(errors)
    stage = stage.strip()
    stack = aws.stacks.describe(pipeline_name + WRAPPER_SUFFIX)
    pipeline = codepipeline_name(stack, aws) if stack else None
    if pipeline is None:
        raise NotFound(f"No pipeline named {pipeline_name}.")
    waiting = _waiting(aws.pipelines.state(pipeline))
    wanted = approval_action(stage)
    match = next((w for w in waiting if w[1] == wanted), None)
    if match is None:
        others = [approval_stage(action) or action for _, action, _ in waiting]
        if others:
            raise Conflict(
                f"Pipeline {pipeline_name} has no approval waiting for {stage}: the {others[0]} stage is waiting "
                f"(mlops approve {pipeline_name} {others[0]})."
            )
        raise Conflict(f"Pipeline {pipeline_name} has no approval waiting for {stage}: no stage waits for approval.")
    stage_name, action, token = match
    try:
        aws.pipelines.put_approval(pipeline, stage_name, action, token, approved, comment)
    except Exception as error:
        if not is_client_error(error) or error_code(error) not in STALE_APPROVAL:
            raise
        raise Conflict(f"The approval of {stage} in pipeline {pipeline_name} was answered already.") from None
    verdict = "approved" if approved else "rejected"
    return {
        "message": f"{action} {verdict} in pipeline {pipeline_name}: the {stage} stage "
        + ("deploys next." if approved else "does not deploy; the pipeline's execution fails."),
        "pipeline_name": pipeline_name,
        "stage": stage,
        "action": action,
    }
