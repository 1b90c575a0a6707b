# SPDX-License-Identifier: Apache-2.0
"""What a pipeline is doing: its CodePipeline state, and what it has really deployed."""

from __future__ import annotations

from typing import Any

from lambdas.shared.errors import NotFound

from . import pipeline_state
from .adapters import Aws
from .deployment import NOT_YET, codepipeline_name, deployed, stackset_name  # noqa: F401  (status's own names)
from .settings import Settings


def pipeline_status(pipeline_id: str, settings: Settings, aws: Aws) -> dict[str, Any]:
    stack = aws.stacks.describe(pipeline_id)
    if stack is None:
        raise NotFound(f"No pipeline with id {pipeline_id}.")
    seen = pipeline_state.observe(stack, settings, aws)
    answer: dict[str, Any] = {
        **seen.state.as_dict(),
        "stack_name": stack["StackName"],
        "stack_status": stack["StackStatus"],
    }
    if stack.get("StackStatusReason"):
        answer["stack_status_reason"] = stack["StackStatusReason"]
    if seen.state.state == pipeline_state.UNKNOWN:  # a source could not be read: say so rather than read again
        return answer
    pipeline = seen.codepipeline_name or codepipeline_name(stack, aws)
    if pipeline is None:
        return {"message": NOT_YET, **answer}
    # GetPipelineState's own keys (pipelineName, stageStates, ...), as the predecessor answered them.
    answer.update(seen.codepipeline if seen.codepipeline is not None else aws.pipelines.state(pipeline))
    answer["deployed"] = seen.deployment if seen.execution else deployed(stack, settings, aws)
    return answer
