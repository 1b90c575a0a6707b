# SPDX-License-Identifier: Apache-2.0
"""`mlops logs` against a deployed orchestrator: one pipeline's events, read with the caller's credentials.

The events have the shape local mode's runner serves ({time, stage, source, message}, oldest first): the
CodePipeline's action executions, the CloudFormation events of its stacks and the CloudWatch Logs lines of
the functions its Lambda actions run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from lambdas.pipeline_orchestration.validation import WRAPPER_SUFFIX

LOG_DAYS = 14  # how far back function log lines are read
MAX_LOG_LINES = 1000  # per function


def aws_session(profile: str | None, region: str | None, local: bool = False) -> Any:
    import boto3

    if local:  # the emulator takes any credentials; never the user's own
        return boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=region)
    return boto3.Session(profile_name=profile, region_name=region)


def _event(time: datetime, stage: str, source: str, message: str) -> dict[str, Any]:
    return {"time": time.astimezone(UTC).isoformat(), "stage": stage, "source": source, "message": message.strip()}


def stack_events(cloudformation: Any, stack_name: str, stage: str = "") -> list[dict[str, Any]]:
    """The stack's events, oldest first; none for a stack that does not exist."""
    try:
        pages = cloudformation.get_paginator("describe_stack_events").paginate(StackName=stack_name)
        found = [e for page in pages for e in page["StackEvents"]]
    except ClientError as error:
        if "does not exist" in str(error):
            return []
        raise
    return [
        _event(
            e["Timestamp"],
            stage,
            "stack",
            f"{_resource_of(e)} {e['ResourceStatus']} {e.get('ResourceStatusReason') or ''}",
        )
        for e in reversed(found)
    ]


def _resource_of(event: dict[str, Any]) -> str:
    stack, resource = event["StackName"], event["LogicalResourceId"]
    return stack if resource == stack else f"{stack}/{resource}"


def _resources(cloudformation: Any, stack_name: str, resource_type: str) -> list[str]:
    try:
        summaries = cloudformation.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    except ClientError as error:
        if "does not exist" in str(error):
            return []
        raise
    return [
        r["PhysicalResourceId"] for r in summaries if r["ResourceType"] == resource_type and r.get("PhysicalResourceId")
    ]


def action_events(codepipeline: Any, pipeline: str) -> list[dict[str, Any]]:
    """Each action execution of the CodePipeline, with its outcome and summary."""
    events = []
    for page in codepipeline.get_paginator("list_action_executions").paginate(pipelineName=pipeline):
        for execution in page.get("actionExecutionDetails", []):
            result = execution.get("output", {}).get("executionResult", {})
            summary = result.get("externalExecutionSummary") or ""
            message = f"{execution.get('actionName', '')}: {execution.get('status', '')} {summary}"
            time = execution.get("lastUpdateTime") or execution.get("startTime")
            events.append(_event(time, execution.get("stageName", ""), "action", message))
    return events


def function_events(logs: Any, function: str, since: datetime) -> list[dict[str, Any]]:
    """The CloudWatch Logs lines of a function since a time; none before it has logged."""
    events: list[dict[str, Any]] = []
    try:
        pages = logs.get_paginator("filter_log_events").paginate(
            logGroupName=f"/aws/lambda/{function}", startTime=int(since.timestamp() * 1000)
        )
        for page in pages:
            for line in page.get("events", []):
                time = datetime.fromtimestamp(line["timestamp"] / 1000, UTC)
                events.append(_event(time, "", "function", f"{function}: {line['message']}"))
            if len(events) >= MAX_LOG_LINES:
                break
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    return events[-MAX_LOG_LINES:]


def aws_events(name: str, stage: str | None, profile: str | None, region: str | None) -> list[dict[str, Any]]:
    """Every event of pipeline `name` (its wrapper stack, CodePipeline, functions and deployed stack)."""
    session = aws_session(profile, region)
    cloudformation = session.client("cloudformation")
    name = name.removesuffix(WRAPPER_SUFFIX)
    wrapper = f"{name}{WRAPPER_SUFFIX}"
    wrapper_events, direct_events = stack_events(cloudformation, wrapper), stack_events(cloudformation, name)
    if not wrapper_events and not direct_events:
        raise LookupError(f"no pipeline named {name}: neither stack {wrapper} nor {name} exists")
    events = wrapper_events + direct_events
    owner = wrapper if wrapper_events else name  # the image builder is one stack, without a wrapper
    for pipeline in _resources(cloudformation, owner, "AWS::CodePipeline::Pipeline"):
        events += action_events(session.client("codepipeline"), pipeline)
    since = datetime.now(UTC) - timedelta(days=LOG_DAYS)
    for function in _resources(cloudformation, owner, "AWS::Lambda::Function"):
        events += function_events(session.client("logs"), function, since)
    events.sort(key=lambda e: e["time"])
    if stage:
        events = [e for e in events if not e["stage"] or stage.lower() in e["stage"].lower()]
    return events
