# SPDX-License-Identifier: Apache-2.0
"""A pipeline's executions on request: run the current request again (retry), or stop the running one.

A pipeline whose run failed, or whose approval was rejected, keeps its request; posting it again changes nothing
(the plan is the same), so nothing would start. A retry writes the request history and template.zip again: the
new template.zip version starts the pipeline through its usual trigger, and the history holds one more version,
so describe, rollback and the pipeline's events see the re-run as they see any change.
"""

from __future__ import annotations

from typing import Any

from lambdas.shared.errors import BadRequest, Conflict

from . import pipeline_state, pipelines, provisioner
from .adapters import Aws
from .planner import Plan, plan_pipeline
from .settings import Settings
from .validation import validate


def retry_route(name: str) -> str:
    return f"POST /pipelines/{name}/retry"


def retry_pipeline(name: str, settings: Settings, aws: Aws) -> dict[str, Any]:
    """Start a new execution of the pipeline's current request; answers {message, pipeline_id, ...}."""
    pipeline = pipelines.find(name, aws)
    if pipeline.direct:
        raise BadRequest(
            f"Bad request. {pipeline.name} is a {pipeline.pipeline_type} pipeline: it runs again when its source "
            "zip (custom_algorithm_docker) is uploaded again, e.g. with mlops upload."
        )
    reason = pipelines.running(pipeline, aws)
    if reason:
        raise Conflict(f"Pipeline {pipeline.name} is running: {reason}. Retry once the run has finished.")
    codepipeline = pipelines.codepipeline_name(pipeline, aws)
    if codepipeline is None:
        raise Conflict(f"Pipeline {pipeline.name} has not created its CodePipeline yet; it runs once it has.")
    request = pipelines.current_request(pipeline, settings, aws)
    if request is None:
        raise Conflict(
            f"Pipeline {pipeline.name} has no recorded request (created before the orchestrator kept one): post "
            "its request again instead."
        )
    plan = plan_pipeline(validate({k: v for k, v in request.items() if k != "dry_run"}, settings), settings)
    latest = aws.pipelines.executions(codepipeline, limit=1)
    before = latest[0] if latest else {}
    provisioner.rerun(plan, settings, aws)
    answer: dict[str, Any] = {
        "message": (
            f"Retrying {pipeline.name}: a new execution of its current request starts through its stages and approvals."
        ),
        "pipeline_id": pipeline.stack["StackId"],
    }
    if before.get("pipelineExecutionId"):
        answer["previous_execution"] = {
            "execution_id": before["pipelineExecutionId"],
            "status": before.get("status", ""),
        }
    return answer


STOP_REASON = "stopped on request (POST /pipelines/{name}/stop)"


def stop_execution(name: str, settings: Settings, aws: Aws) -> dict[str, Any]:
    """Stop the pipeline's running execution, abandoning its actions in progress (a deploy under way finishes or
    fails on its own; the pipeline goes no further); answers the execution stopped."""
    pipeline = pipelines.find(name, aws)
    codepipeline = None if pipeline.direct else pipelines.codepipeline_name(pipeline, aws)
    latest = aws.pipelines.executions(codepipeline, limit=1) if codepipeline else []
    execution = latest[0] if latest else {}
    if execution.get("status") != "InProgress":
        busy = pipelines.running(pipeline, aws)
        raise Conflict(
            f"Pipeline {pipeline.name} has no execution in progress to stop"
            + (f" ({busy}; it ends on its own)." if busy else ".")
        )
    execution_id = execution["pipelineExecutionId"]
    aws.pipelines.stop(codepipeline, execution_id, STOP_REASON.format(name=pipeline.name))  # type: ignore[arg-type]
    return {
        "message": (
            f"Stopping execution {execution_id} of {pipeline.name}: the actions in progress are abandoned and no "
            "further stage runs. Delete the pipeline once it is stopped."
        ),
        "pipeline_name": pipeline.name,
        "execution_id": execution_id,
    }


def explain_unchanged(plan: Plan, answer: dict[str, Any], settings: Settings, aws: Aws) -> dict[str, Any]:
    """An unchanged re-post of a pipeline whose last run failed starts nothing: the answer says so and how to
    run it again, instead of only that nothing is to be updated."""
    if plan.direct or answer.get("message") != provisioner.unchanged(plan.stack_name):
        return answer  # (an image builder that failed is a failed stack: provisioning says so with a 409)
    stack = aws.stacks.describe(plan.stack_name)
    if stack is None:
        return answer
    state = pipeline_state.observe(stack, settings, aws).state
    if state.state not in pipeline_state.UNSUCCESSFUL:
        return answer
    return {
        **answer,
        "message": (
            f"{answer['message']} Pipeline {plan.pipeline_name} is {state.state}"
            + (f" ({state.reason})" if state.reason else "")
            + f"; posting the same request does not run it again. To re-run it: {retry_route(plan.pipeline_name)} "
            f"(mlops retry {plan.pipeline_name})."
        ),
        "state": state.state,
    }
