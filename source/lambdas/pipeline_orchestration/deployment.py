# SPDX-License-Identifier: Apache-2.0
"""What a pipeline's stack has deployed: its CodePipeline, and the blueprint stack or each stage's StackSet instance.

Read by `pipeline_state` to derive the one state, and by status and describe to show it.
"""

from __future__ import annotations

from typing import Any

from .adapters import Aws, is_client_error
from .settings import STAGES, Settings
from .validation import WRAPPER_SUFFIX

NOT_YET = "pipeline cloudformation stack has not provisioned the pipeline yet."


def stack_uuid_prefix(stack_id: str) -> str:
    """First 8 hex digits of the UUID in a stack ARN: the suffix of the pipeline's StackSet names."""
    return stack_id.rsplit("/", 1)[-1].replace("-", "")[:8]


def stackset_name(pipeline_name: str, stage: str, wrapper_stack_id: str) -> str:
    return f"{pipeline_name}-{stage}-{stack_uuid_prefix(wrapper_stack_id)}"


def codepipeline_name(stack: dict[str, Any], aws: Aws) -> str | None:
    """The CodePipeline a pipeline stack created, or None before it exists."""
    pipelines = [
        r["PhysicalResourceId"]
        for r in aws.stacks.resources(stack["StackId"])
        if r["ResourceType"] == "AWS::CodePipeline::Pipeline" and r.get("PhysicalResourceId")
    ]
    return pipelines[-1] if pipelines else None


def _parameters(stack: dict[str, Any]) -> dict[str, str]:
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}


def deployed(stack: dict[str, Any], settings: Settings, aws: Aws) -> dict[str, Any]:
    """The blueprint stack (single account) or each stage's StackSet instance (multi-account)."""
    parameters = _parameters(stack)
    if "StackName" not in parameters:  # a direct stack (image builder) deploys nothing further
        return {}
    pipeline_name = parameters["StackName"] or stack["StackName"].removesuffix(WRAPPER_SUFFIX)
    if "DevParamsName" not in parameters:
        blueprint = aws.stacks.describe(pipeline_name)
        summary = _stack_summary(blueprint)
        if blueprint is not None and _failed(blueprint["StackStatus"]):
            # "The following resource(s) failed to create: [X]" names X; its own event says why.
            event = _read_or_none(aws.stacks.first_failure, blueprint["StackId"])
            if event and event not in summary.get("reason", ""):
                summary["reason"] = f"{summary['reason']}; {event}" if summary.get("reason") else event
        return {"stack_name": pipeline_name, **summary}
    call_as = "DELEGATED_ADMIN" if parameters.get("DelegatedAdminAccount", "Yes") == "Yes" else "SELF"
    stages = {}
    for stage in STAGES:
        name = stackset_name(pipeline_name, stage, stack["StackId"])
        account = parameters.get(f"{stage.capitalize()}AccountId", "")
        instance = aws.stacks.stack_instance(name, account, settings.region, call_as)
        stages[stage] = {
            "stackset_name": name,
            "account_id": account,
            "region": settings.region,
            **_instance_summary(instance),
        }
    return {"stages": stages}


def _failed(stack_status: str) -> bool:
    return stack_status.endswith("_FAILED") or stack_status in ("ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_COMPLETE")


def _read_or_none(read: Any, *args: Any) -> Any:
    try:
        return read(*args)
    except Exception as error:  # the events are extra detail: a reason without them still answers
        if not is_client_error(error):
            raise
        return None


def _stack_summary(stack: dict[str, Any] | None) -> dict[str, Any]:
    if stack is None:
        return {"status": "NOT_DEPLOYED"}
    summary = {"status": stack["StackStatus"], "stack_id": stack["StackId"]}
    if stack.get("StackStatusReason"):
        summary["reason"] = stack["StackStatusReason"]
    if stack.get("Outputs"):
        summary["outputs"] = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    return summary


def _instance_summary(instance: dict[str, Any] | None) -> dict[str, Any]:
    if instance is None:
        return {"status": "NOT_DEPLOYED"}
    detail = instance.get("StackInstanceStatus", {}).get("DetailedStatus")
    summary = {"status": detail or instance.get("Status", "UNKNOWN")}
    if instance.get("StatusReason"):
        summary["reason"] = instance["StatusReason"]
    if instance.get("StackId"):
        summary["stack_id"] = instance["StackId"]
    return summary
