# SPDX-License-Identifier: Apache-2.0
"""Manual approvals between the stages of a multi-account pipeline, answered through the API.

An approval acts on exactly the stage it names, or is refused: a stage that is not an approvable stage is a
400 listing those that are; a stage that is not the one waiting is a 409 naming the stage that is. The
principal who provisioned or last updated the request now waiting may not approve it (403) unless the operator
allows self-approval; anyone may reject. CodePipeline's approval summary names who decided.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lambdas.shared.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed

from . import audit, notices, ownership
from .adapters import Aws, error_code, is_client_error
from .catalogue.approvals import APPROVAL_BODY, MAX_COMMENT
from .deployment import codepipeline_name
from .identity import Principal
from .pipeline_state import approval_action, approval_stage
from .rules import IGNORED_KEYS, RuleBroken
from .settings import Settings
from .validation import WRAPPER_SUFFIX

# CodePipeline's answers when the token no longer belongs to a waiting approval (answered a moment ago).
STALE_APPROVAL = ("ApprovalAlreadyCompletedException", "InvalidApprovalTokenException", "ActionNotFoundException")


@dataclass(frozen=True)
class Decision:
    stage: str
    approved: bool
    comment: str
    warnings: tuple[str, ...] = ()

    @property
    def verdict(self) -> str:
        return "approved" if self.approved else "rejected"


def decision_of(body: Any, settings: Settings) -> Decision:
    """The approval body, checked by the catalogue's rules: every problem at once."""
    if not isinstance(body, dict):
        raise ValidationFailed([FieldError("(body)", f"must be a JSON object, got {type(body).__name__}")])
    ignored: list[tuple[str, str]] | None = None if settings.strict_validation else []
    token = IGNORED_KEYS.set(ignored)
    try:
        values = APPROVAL_BODY.check(body)
    except RuleBroken as broken:
        raise ValidationFailed([FieldError(path or "(body)", message) for path, message in broken.problems]) from None
    finally:
        IGNORED_KEYS.reset(token)
    warnings = tuple(f"{path} {message}" for path, message in ignored or [])
    return Decision(values["stage"], values.get("approved", True), values.get("comment", ""), warnings)


def summary(decision: Decision, principal: Principal) -> str:
    """CodePipeline's approval summary: who decided, then their comment, within its 512 characters."""
    text = f"{decision.verdict.capitalize()} by {principal.label}"
    if decision.comment:
        text += f": {decision.comment}"
    return text if len(text) <= MAX_COMMENT else text[: MAX_COMMENT - 1] + "…"


def refuse_self_approval(
    name: str, what: str, askers: list[Principal], principal: Principal, settings: Settings
) -> None:
    if settings.allow_self_approval:
        return
    if any(principal.same_as(asker) for asker in askers):
        raise Forbidden(
            f"{principal.label} asked for {what} of pipeline {name} and may not approve it: another principal must "
            "(separation of duties; the operator may allow self-approval with AllowSelfApproval=Yes)."
        )


def _waiting(state: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(CodePipeline stage, action, token, execution id) of every manual approval that waits."""
    return [
        (
            stage.get("stageName", ""),
            action.get("actionName", ""),
            action["latestExecution"]["token"],
            (stage.get("latestExecution") or {}).get("pipelineExecutionId", ""),
        )
        for stage in state.get("stageStates", [])
        for action in stage.get("actionStates", [])
        if (action.get("latestExecution") or {}).get("token")
        and action["latestExecution"].get("status") == "InProgress"
    ]


def approve_stage(
    pipeline_name: str, decision: Decision, principal: Principal, settings: Settings, aws: Aws
) -> dict[str, Any]:
    stage = decision.stage
    stack = aws.stacks.describe(pipeline_name + WRAPPER_SUFFIX)
    pipeline = codepipeline_name(stack, aws) if stack else None
    if pipeline is None:
        raise NotFound(f"No pipeline named {pipeline_name}.")
    waiting = _waiting(aws.pipelines.state(pipeline))
    wanted = approval_action(stage)
    match = next((w for w in waiting if w[1] == wanted), None)
    if match is None:
        others = [approval_stage(action) or action for _, action, _, _ in waiting]
        if others:
            raise Conflict(
                f"Pipeline {pipeline_name} has no approval waiting for {stage}: the {others[0]} stage is waiting "
                f"(mlops approve {pipeline_name} {others[0]})."
            )
        raise Conflict(f"Pipeline {pipeline_name} has no approval waiting for {stage}: no stage waits for approval.")
    if decision.approved:
        askers = ownership.principals_of(ownership.read(pipeline_name, settings, aws))
        refuse_self_approval(pipeline_name, f"the request now waiting for {stage}", askers, principal, settings)
    stage_name, action, token, execution_id = match
    try:
        aws.pipelines.put_approval(pipeline, stage_name, action, token, decision.approved, summary(decision, principal))
    except Exception as error:
        if not is_client_error(error) or error_code(error) not in STALE_APPROVAL:
            raise
        raise Conflict(f"The approval of {stage} in pipeline {pipeline_name} was answered already.") from None
    audit.append(
        pipeline_name,
        audit.APPROVE if decision.approved else audit.REJECT,
        principal,
        "done",
        settings,
        aws,
        stage=stage,
        comment=decision.comment,
        execution_id=execution_id,
    )
    notices.decision(settings, aws, pipeline_name, stage, decision.verdict, principal, decision.comment)
    answer = {
        "message": f"{action} {decision.verdict} in pipeline {pipeline_name} by {principal.label}: the {stage} stage "
        + ("deploys next." if decision.approved else "does not deploy; the pipeline's execution fails."),
        "pipeline_name": pipeline_name,
        "stage": stage,
        "action": action,
        f"{decision.verdict}_by": principal.as_dict(),
    }
    if decision.warnings:
        answer["warnings"] = list(decision.warnings)
    return answer
