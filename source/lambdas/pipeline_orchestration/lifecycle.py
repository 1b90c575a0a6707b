# SPDX-License-Identifier: Apache-2.0
"""The read side of a pipeline's life, and the events that keep it current: list, describe, and the stack and
CodePipeline state changes that continue a teardown and rewrite the pipeline index.

A pipeline's identity and lookup are in `pipelines`; tearing down in `teardown`, rolling back in `rollback`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from lambdas.shared.errors import FieldError, OrchestratorError, ValidationFailed
from lambdas.shared.logging import get_logger

from . import pipeline_index, pipeline_state, teardown
from .adapters import Aws, aws_reason, is_client_error
from .catalogue import CATALOGUE, PIPELINE_PREFIX
from .deployment import NOT_YET, deployed
from .pipeline_state import STACK_COMPLETE, STATES
from .pipelines import (  # noqa: F401  (monitoring and triggers reach a pipeline's identity through lifecycle)
    STACK_NAME,
    Pipeline,
    codepipeline_name,
    current_request,
    fill_index,
    find,
    index_pipeline,
    lookup,
    lookup_base,
    owner_fields,
    read_json,
    teardown_key,
)
from .planner import Plan, plan_pipeline
from .settings import STAGES, Settings
from .spec import SAGEMAKER_KINDS, Reads
from .validation import WRAPPER_SUFFIX, suggest, validate

logger = get_logger(__name__)

DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 50, 100
LIST_PARAMETERS = ("pipeline_type", "state", "owner", "limit", "next_token")
TOKEN_VERSION = 2


# ---------------------------------------------------------------------------------------------------------
# List


def _encode_token(last: Mapping[str, str], filters: Mapping[str, str]) -> str:
    raw = json.dumps({"v": TOKEN_VERSION, "after": [last["position"], last["pipeline_name"]], "filters": filters})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_token(token: str, filters: Mapping[str, str]) -> tuple[str, str]:
    """The (position, name) a token continues after; the filters must be those it was issued for."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        position, name = raw["after"]
        if raw["v"] != TOKEN_VERSION or not isinstance(position, str) or not STACK_NAME.fullmatch(name):
            raise ValueError("unknown token version")
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed(
            [FieldError("next_token", "is not a token this API issued; start again without next_token")]
        ) from None
    if raw.get("filters") != dict(filters):
        raise ValidationFailed(
            [FieldError("next_token", "was issued for other filters; send the same pipeline_type, state and owner")]
        )
    return position, name


def _matches(item: Mapping[str, str], key: str, value: str) -> bool:
    """`owner` matches the owner's ARN or its team; the other filters their attribute."""
    if key == "owner":
        return value in (item.get("owner"), item.get("owner_team"))
    return item.get(key) == value


def list_pipelines(query: Mapping[str, str] | None, settings: Settings, aws: Aws) -> dict[str, Any]:
    """Pipelines newest first, `limit` per page; `next_token` continues after the last one shown.

    Read from the pipeline index: one query per page (more only while filters skip items), never a call per
    pipeline. The token is a keyset cursor (the index position of the last pipeline shown) bound to the
    filters: pipelines created or deleted between pages neither repeat nor shift the ones still to come.
    """
    query = dict(query or {})
    errors = [
        FieldError(key, f"is not a query parameter of GET /pipelines{suggest(key, LIST_PARAMETERS)}")
        for key in query
        if key not in LIST_PARAMETERS
    ]
    errors += [
        FieldError(key, "must not be empty") for key in LIST_PARAMETERS if key in query and not query[key].strip()
    ]
    # Filters accept any case: pipeline types are lower case, states upper case.
    filters = {key: query[key].strip() for key in ("pipeline_type", "state", "owner") if (query.get(key) or "").strip()}
    if "pipeline_type" in filters:
        filters["pipeline_type"] = filters["pipeline_type"].lower()
    if "pipeline_type" in filters and filters["pipeline_type"] not in CATALOGUE:
        wanted = filters["pipeline_type"]
        errors.append(
            FieldError("pipeline_type", f"'{wanted}' is not a pipeline type{suggest(wanted, list(CATALOGUE))}")
        )
    if "state" in filters:
        filters["state"] = filters["state"].upper()
        if filters["state"] not in STATES:
            errors.append(FieldError("state", f"must be one of {', '.join(STATES)}"))
    limit = DEFAULT_PAGE_SIZE
    if (query.get("limit") or "").strip():
        text = query["limit"]
        if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_PAGE_SIZE:
            errors.append(FieldError("limit", f"must be a whole number from 1 to {MAX_PAGE_SIZE}"))
        else:
            limit = int(text)
    if errors:
        raise ValidationFailed(errors)
    after = _decode_token(query["next_token"], filters) if query.get("next_token") else None

    fill_index(settings, aws)
    page, more = pipeline_index.newest_first(
        lambda item: all(_matches(item, key, value) for key, value in filters.items()),
        after,
        limit,
        bool(filters),
        settings,
        aws,
    )
    return {
        "pipelines": [pipeline_index.summary_of(item) for item in page],
        "next_token": _encode_token(page[-1], filters) if more else None,
    }


# ---------------------------------------------------------------------------------------------------------
# Describe


def _plan(request: Mapping[str, Any] | None, settings: Settings) -> Plan | None:
    if request is None:
        return None
    return plan_pipeline(validate({k: v for k, v in request.items() if k != "dry_run"}, settings), settings)


def _stages(name: str, state: Mapping[str, Any]) -> dict[str, Any]:
    stages = []
    for stage in state.get("stageStates", []):
        actions = []
        for action in stage.get("actionStates", []):
            latest = action.get("latestExecution", {})
            entry = {"name": action.get("actionName"), "status": latest.get("status", "NOT_RUN")}
            if latest.get("summary"):
                entry["summary"] = latest["summary"]
            if latest.get("lastStatusChange"):
                entry["last_change"] = latest["lastStatusChange"]
            actions.append(entry)
        latest = stage.get("latestExecution", {})
        stages.append(
            {
                "name": stage.get("stageName"),
                "status": latest.get("status", "NOT_RUN"),
                "execution_id": latest.get("pipelineExecutionId"),
                "actions": actions,
            }
        )
    return {"name": name, "version": state.get("pipelineVersion"), "stages": stages}


def _sagemaker_status(kind: str, name: str, aws: Aws) -> dict[str, Any]:
    try:
        found = aws.sagemaker.describe(kind, name)
    except Exception as error:
        if not is_client_error(error):
            raise
        # One unreadable resource (access denied, throttled) must not hide the rest of the description.
        return {"name": name, "status": "UNKNOWN", "error": aws_reason(error)}
    if found is None:
        return {"name": name, "status": "NOT_FOUND"}
    summary = {"name": name, "status": found.get(SAGEMAKER_KINDS[kind].status_key, "UNKNOWN")}
    if found.get("FailureReason"):
        summary["failure_reason"] = found["FailureReason"]
    return summary


_STACK_DONE = STACK_COMPLETE | {"NOT_DEPLOYED"}


def _jobs_of_failed_stack(found: dict[str, Any], deployment: Mapping[str, Any], reads: tuple[Reads, ...]) -> None:
    """A job whose stack failed is not reported as SageMaker's status of it (a Completed baseline beside a
    CREATE_FAILED stack would say the deployment worked): it carries the stack's failure instead."""
    status = deployment.get("status", "NOT_DEPLOYED")
    if status in _STACK_DONE or status.endswith("_IN_PROGRESS"):
        return
    reason = f"stack {deployment.get('stack_name', '')} is {status}"
    reason += f": {deployment['reason']}" if deployment.get("reason") else ""
    for key in (r.key for r in reads if r.started_by_stack):
        job = found.get(key)
        if isinstance(job, dict) and job.get("name"):
            found[key] = {"name": job["name"], "status": "STACK_FAILED", "reason": reason}


def sagemaker_resources(pipeline: Pipeline, plan: Plan | None, deployment: Mapping[str, Any], aws: Aws) -> Any:
    """Status of the SageMaker resources behind the pipeline, read in the orchestrator's account."""
    if plan is None:
        return {}
    declared = CATALOGUE.get(pipeline.pipeline_type)
    if declared is None:  # a type this orchestrator does not know (e.g. a later version's)
        return {}
    if plan.multi_account:
        # They live in each stage's account: the orchestrator names them, the StackSet instance shows progress.
        return {
            s.stage: {"account_id": s.account_id, "names": s.names, "endpoint_name": s.parameters.get("EndpointName")}
            for s in plan.stages
        }
    stage = plan.stages[0]
    outputs = deployment.get("outputs", {})
    found: dict[str, Any] = {}
    reads = declared.reads_of(plan.template)
    for read in reads:
        output = next((v for k, v in outputs.items() if k.endswith(read.output)), None) if read.output else None
        name = output or stage.names.get(read.name) or stage.parameters.get(read.parameter)
        if name:
            found[read.key] = _sagemaker_status(read.kind, name, aws)
        elif read.missing:
            found[read.key] = {"status": read.missing}
    if declared.inference_api:
        url = next((v for v in outputs.values() if v.startswith("https://") and ".execute-api." in v), None)
        found["inference_api_url"] = url
    _jobs_of_failed_stack(found, deployment, reads)
    return found


def describe_pipeline(name: str, settings: Settings, aws: Aws) -> dict[str, Any]:
    pipeline = find(name, aws)
    seen = pipeline_state.observe(pipeline.stack, settings, aws)
    answer = pipeline.summary(seen.state)
    try:  # the pipeline was just read: the list shows what describe shows
        item = {**answer, **owner_fields(pipeline.name, settings, aws)}
        pipeline_index.put(pipeline_index.item_of(item, pipeline.created), settings, aws)
    except Exception:  # the index trails until the pipeline's next event; describe answers all the same
        logger.exception("could not index pipeline %s", pipeline.name)
    request = current_request(pipeline, settings, aws)
    answer["request"] = request
    plan = None
    try:
        plan = _plan(request, settings)
        answer["plan"] = plan.as_dict() if plan else None
    except OrchestratorError as error:  # the request no longer validates (e.g. the settings changed): say so
        answer["plan"] = {"error": error.detail}
    # What the state was derived from is shown as it was read; only what the stack alone decided leaves it unread.
    codepipeline = seen.codepipeline_name or codepipeline_name(pipeline, aws)
    if codepipeline and seen.codepipeline is not None:
        answer["codepipeline"] = _stages(codepipeline, seen.codepipeline)
    elif codepipeline:
        answer["codepipeline"] = _stages(codepipeline, aws.pipelines.state(codepipeline))
    else:
        answer["codepipeline"] = {"message": NOT_YET}
    if pipeline.direct:
        deployment: dict[str, Any] = {}
    else:
        deployment = seen.deployment if seen.execution else deployed(pipeline.stack, settings, aws)
    answer["deployed"] = deployment
    answer["sagemaker"] = sagemaker_resources(pipeline, plan, deployment, aws)
    marker = read_json(settings, aws, teardown_key(pipeline.name))
    if marker:
        answer["teardown"] = marker
    return answer


# The StackSet event the orchestrator hears: an operation on a pipeline's StackSet that finished (a teardown waits
# for its delete-instances operation). Its detail names `stack-set-arn`, `stack-set-operation-id` and
# `status-details.status`:
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/event-detail-stackset-operation-status-change.html
STACK_SET_OPERATION_EVENT = "CloudFormation StackSet Operation Status Change"
STACK_SET_OPERATION_FINISHED = ("SUCCEEDED", "FAILED", "STOPPED")

_STAGE_SUFFIX = re.compile(r"-(?:" + "|".join(STAGES) + r")-[0-9a-f]{8}$")


Observed = Callable[[str, pipeline_state.Observation], None]


def on_stack_event(
    event: Mapping[str, Any], settings: Settings, aws: Aws, observed: Observed | None = None
) -> list[dict[str, Any]]:
    """A CloudFormation stack status change, or a StackSet operation's (EventBridge delivers them): continue the
    teardown it may unblock, and bring the pipeline's index item in line with its stacks; `observed` hears the
    state derived. The stack is named by `stack-id`, the StackSet by `stack-set-arn`, both also in `resources`."""
    names: set[str] = set()
    detail = event.get("detail") or {}
    for arn in [*event.get("resources", []), detail.get("stack-id", ""), detail.get("stack-set-arn", "")]:
        match = re.match(r"arn:[^:]+:cloudformation:[^:]*:[^:]*:stack(?:set)?/([^/:]+)", arn or "")
        if match:
            names.add(match.group(1))
    results = []
    for stack_name in sorted(names):
        base = _STAGE_SUFFIX.sub("", stack_name.removesuffix(WRAPPER_SUFFIX))
        if not base.startswith(PIPELINE_PREFIX):
            continue
        if read_json(settings, aws, teardown_key(base)) is not None:
            progress = teardown.advance(base, lookup_base(base, aws), settings, aws)
            logger.info("teardown of %s: started %s, waiting for %s", base, progress.started, progress.waiting_for)
            results.append({"pipeline_name": base, "started": progress.started, "waiting_for": progress.waiting_for})
        seen = index_pipeline(base, settings, aws)
        if seen and observed:
            observed(base, seen)
    return results


def pipeline_of_codepipeline(codepipeline: str) -> str | None:
    """The pipeline whose stack created the CodePipeline of this name (CloudFormation names it after the
    stack: `<pipeline>-codepipeline-<logical id>-<suffix>`, or `<pipeline>-<logical id>-<suffix>`)."""
    if not codepipeline.startswith(PIPELINE_PREFIX):
        return None
    ends = []
    for pipeline_type in CATALOGUE.values():
        marker = f"-{pipeline_type.postfix.lower()}"
        at = codepipeline.lower().rfind(marker)
        end = at + len(marker)
        if at > 0 and codepipeline[end : end + 1] in ("", "-"):
            ends.append(end)
    return codepipeline[: max(ends)] if ends else None


def on_pipeline_event(
    event: Mapping[str, Any], settings: Settings, aws: Aws, observed: Observed | None = None
) -> dict[str, Any]:
    """A CodePipeline execution, stage or approval state change (EventBridge delivers them): bring the
    pipeline's index item in line with what happened; `observed` hears the state derived."""
    detail = event.get("detail") or {}
    base = pipeline_of_codepipeline(str(detail.get("pipeline", "")))
    if base is None:
        return {"status": "ignored", "message": f"{detail.get('pipeline')} is not a pipeline of this orchestrator"}
    seen = index_pipeline(base, settings, aws)
    if seen is None:
        return {"status": "ignored", "pipeline_name": base, "message": "the pipeline no longer exists"}
    if observed:
        observed(base, seen)
    return {"status": "indexed", "pipeline_name": base, **seen.state.as_dict()}
