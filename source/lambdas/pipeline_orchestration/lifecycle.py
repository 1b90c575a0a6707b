# SPDX-License-Identifier: Apache-2.0
"""A pipeline's life after provisioning: list, describe, tear down and roll back.

Plain functions over the settings and the AWS adapters. A pipeline is the stack the orchestrator created
(the CodePipeline wrapper `<name>-codepipeline`, or the image builder's own stack `<name>`), recognized by
its `mlops:pipeline-name` tag (or, for stacks the predecessor created, by its `stack_name` tag and postfix).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lambdas.shared.errors import BadRequest, Conflict, FieldError, NotFound, OrchestratorError, ValidationFailed
from lambdas.shared.logging import get_logger

from . import pipeline_index, pipeline_state
from .adapters import Aws, aws_reason, is_client_error
from .catalogue import CATALOGUE, PIPELINE_PREFIX, type_named
from .pipeline_state import STACK_COMPLETE, STATES, PipelineState
from .planner import REQUEST_FILE, TEMPLATE_FILE, Plan, mode_name, pipeline_key, plan_pipeline
from .provisioner import REQUEST_VERSION_METADATA
from .settings import STAGES, Settings
from .spec import SAGEMAKER_KINDS, Reads
from .status import NOT_YET, deployed, stackset_name
from .validation import WRAPPER_SUFFIX, suggest, validate

logger = get_logger(__name__)

TAG_NAME, TAG_TYPE = "mlops:pipeline-name", "mlops:pipeline-type"
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 50, 100
LIST_PARAMETERS = ("pipeline_type", "state", "limit", "next_token")
RUNNING_EXECUTION = ("InProgress", "Stopping")
TEARDOWN_FILE = "teardown.json"
STACK_NAME = re.compile(r"[a-zA-Z][-a-zA-Z0-9]{0,127}")
TOKEN_VERSION = 2


@dataclass(frozen=True)
class Pipeline:
    name: str  # mlops-pipeline-<infix>-<postfix>
    pipeline_type: str
    stack: dict[str, Any]  # the stack the orchestrator created

    @property
    def direct(self) -> bool:
        return self.stack["StackName"] == self.name

    @property
    def parameters(self) -> dict[str, str]:
        return {p["ParameterKey"]: p.get("ParameterValue", "") for p in self.stack.get("Parameters", [])}

    @property
    def multi_account(self) -> bool:
        return "DevParamsName" in self.parameters

    @property
    def mode(self) -> str:
        return mode_name(self.multi_account)

    @property
    def created(self) -> datetime:
        return self.stack["CreationTime"]

    def summary(self, state: PipelineState) -> dict[str, Any]:
        return {
            "pipeline_name": self.name,
            "pipeline_type": self.pipeline_type,
            "mode": self.mode,
            **state.as_dict(),
            "stack_name": self.stack["StackName"],
            "stack_status": self.stack["StackStatus"],
            "pipeline_id": self.stack["StackId"],
            "created": self.created.isoformat(),
            "updated": (self.stack.get("LastUpdatedTime") or self.created).isoformat(),
        }


def _type_of(base: str) -> str:
    return type_named(base)


def identify(stack: Mapping[str, Any]) -> Pipeline | None:
    """The pipeline a stack is the root of, or None (blueprint stacks, other stacks in the account)."""
    name = stack["StackName"]
    if not name.startswith(PIPELINE_PREFIX):
        return None
    tags = {t["Key"]: t["Value"] for t in stack.get("Tags", [])}
    if TAG_NAME in tags:
        base = tags[TAG_NAME]
        if name not in (base, base + WRAPPER_SUFFIX):
            return None
        return Pipeline(base, tags.get(TAG_TYPE) or _type_of(base), dict(stack))
    if tags.get("stack_name") != name:  # the predecessor tagged only the stacks it created, with their name
        return None
    base = name.removesuffix(WRAPPER_SUFFIX)
    pipeline_type = _type_of(base)
    if not pipeline_type or (name == base) != CATALOGUE[pipeline_type].direct_stack:
        return None
    return Pipeline(base, pipeline_type, dict(stack))


def _scan(aws: Aws) -> Iterator[Pipeline]:
    """Every pipeline, read from DescribeStacks pages: one call per page of stacks, none per pipeline."""
    token: str | None = None
    while True:
        stacks, token = aws.stacks.page(token)
        for stack in stacks:
            pipeline = identify(stack)
            if pipeline:
                yield pipeline
        if not token:
            return


def record(pipeline: Pipeline, settings: Settings, aws: Aws) -> pipeline_state.Observation:
    """Derive the pipeline's state and write its summary to the pipeline index; answers what was observed."""
    seen = pipeline_state.observe(pipeline.stack, settings, aws)
    pipeline_index.put(pipeline_index.item_of(pipeline.summary(seen.state), pipeline.created), settings, aws)
    return seen


def index_pipeline(name: str, settings: Settings, aws: Aws) -> pipeline_state.Observation | None:
    """Bring the pipeline's index item in line with what happened: written while it exists, removed once gone."""
    base = name.removesuffix(WRAPPER_SUFFIX)
    pipeline = _lookup(base, aws)
    if pipeline is None:
        pipeline_index.remove(base, settings, aws)
        return None
    return record(pipeline, settings, aws)


def fill_index(settings: Settings, aws: Aws) -> None:
    """Fill an index that has never been filled from the stacks; once, then events keep it current."""
    if pipeline_index.is_built(settings, aws):
        return
    started = datetime.now(UTC).isoformat()
    for pipeline in _scan(aws):
        record(pipeline, settings, aws)
    pipeline_index.mark_built(started, settings, aws)


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
            [FieldError("next_token", "was issued for other filters; send the same pipeline_type and state")]
        )
    return position, name


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
    filters = {key: query[key] for key in ("pipeline_type", "state") if (query.get(key) or "").strip()}
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
        lambda item: all(item.get(key) == value for key, value in filters.items()),
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


def _base_name(name: str) -> str:
    if not STACK_NAME.fullmatch(name or ""):
        raise ValidationFailed(
            [FieldError("pipeline_name", "must be a pipeline name such as mlops-pipeline-<model>-<postfix>")]
        )
    return name.removesuffix(WRAPPER_SUFFIX)


def _lookup(base: str, aws: Aws) -> Pipeline | None:
    for candidate in (base + WRAPPER_SUFFIX, base):
        stack = aws.stacks.describe(candidate)
        pipeline = identify(stack) if stack else None
        if pipeline and pipeline.name == base:
            return pipeline
    return None


def lookup(name: str, aws: Aws) -> Pipeline | None:
    """The pipeline of this name, or None (a name no stack of this orchestrator has)."""
    return _lookup(name.removesuffix(WRAPPER_SUFFIX), aws) if STACK_NAME.fullmatch(name or "") else None


def find(name: str, aws: Aws) -> Pipeline:
    base = _base_name(name)
    pipeline = _lookup(base, aws)
    if pipeline is None:
        raise NotFound(f"No pipeline named {base}; GET /pipelines lists them.")
    return pipeline


def _history_key(base: str) -> str:
    return pipeline_key(base, REQUEST_FILE)


def _artifact_key(base: str) -> str:
    return pipeline_key(base, TEMPLATE_FILE)


def _teardown_key(base: str) -> str:
    return pipeline_key(base, TEARDOWN_FILE)


def _read_json(settings: Settings, aws: Aws, key: str, version: str | None = None) -> dict[str, Any] | None:
    raw = aws.storage.find(settings.assets_bucket, key, version)
    return json.loads(raw) if raw is not None else None


def current_request(pipeline: Pipeline, settings: Settings, aws: Aws) -> dict[str, Any] | None:
    """The request the pipeline was last provisioned with (None for pipelines the predecessor created)."""
    return _read_json(settings, aws, _history_key(pipeline.name))


def _plan(request: Mapping[str, Any] | None, settings: Settings) -> Plan | None:
    if request is None:
        return None
    return plan_pipeline(validate({k: v for k, v in request.items() if k != "dry_run"}, settings), settings)


def codepipeline_name(pipeline: Pipeline, aws: Aws) -> str | None:
    names = [
        r["PhysicalResourceId"]
        for r in aws.stacks.resources(pipeline.stack["StackId"])
        if r["ResourceType"] == "AWS::CodePipeline::Pipeline" and r.get("PhysicalResourceId")
    ]
    return names[-1] if names else None


def _stages(name: str, aws: Aws) -> dict[str, Any]:
    state = aws.pipelines.state(name)
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
    for read in declared.reads:
        output = next((v for k, v in outputs.items() if k.endswith(read.output)), None) if read.output else None
        name = output or stage.names.get(read.name) or stage.parameters.get(read.parameter)
        if name:
            found[read.key] = _sagemaker_status(read.kind, name, aws)
        elif read.missing:
            found[read.key] = {"status": read.missing}
    if declared.inference_api:
        url = next((v for v in outputs.values() if v.startswith("https://") and ".execute-api." in v), None)
        found["inference_api_url"] = url
    _jobs_of_failed_stack(found, deployment, declared.reads)
    return found


def describe_pipeline(name: str, settings: Settings, aws: Aws) -> dict[str, Any]:
    pipeline = find(name, aws)
    seen = pipeline_state.observe(pipeline.stack, settings, aws)
    answer = pipeline.summary(seen.state)
    try:  # the pipeline was just read: the list shows what describe shows
        pipeline_index.put(pipeline_index.item_of(answer, pipeline.created), settings, aws)
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
    codepipeline = codepipeline_name(pipeline, aws)
    answer["codepipeline"] = _stages(codepipeline, aws) if codepipeline else {"message": NOT_YET}
    deployment = deployed(pipeline.stack, settings, aws) if not pipeline.direct else {}
    answer["deployed"] = deployment
    answer["sagemaker"] = sagemaker_resources(pipeline, plan, deployment, aws)
    teardown = _read_json(settings, aws, _teardown_key(pipeline.name))
    if teardown:
        answer["teardown"] = teardown
    return answer


# ---------------------------------------------------------------------------------------------------------
# Running pipelines


def running(pipeline: Pipeline, aws: Aws) -> str | None:
    """Why the pipeline is busy (a stack or CodePipeline execution in progress), or None."""
    status = pipeline.stack["StackStatus"]
    if status.endswith("_IN_PROGRESS") and status != "DELETE_IN_PROGRESS":
        return f"its stack {pipeline.stack['StackName']} is {status}"
    codepipeline = codepipeline_name(pipeline, aws)
    if codepipeline:
        latest = aws.pipelines.executions(codepipeline, limit=1)
        if latest and latest[0].get("status") in RUNNING_EXECUTION:
            return f"its CodePipeline {codepipeline} is running execution {latest[0].get('pipelineExecutionId')}"
    if not pipeline.direct and not pipeline.multi_account:
        blueprint = aws.stacks.describe(pipeline.name)
        if blueprint and blueprint["StackStatus"].endswith("_IN_PROGRESS"):
            return f"its stack {pipeline.name} is {blueprint['StackStatus']}"
    return None


# ---------------------------------------------------------------------------------------------------------
# Teardown


def kept_resources(
    request: Mapping[str, Any] | None, settings: Settings, pipeline_type: str = ""
) -> list[dict[str, str]]:
    """The user data a teardown leaves in place: captured data, reports, models, images."""
    if not request:
        return []
    declared = CATALOGUE.get(pipeline_type or str(request.get("pipeline_type", "")))
    kept = []
    for keep in declared.keeps if declared else ():
        value = request.get(keep.field)
        values = value.values() if isinstance(value, dict) else [value]
        for location in dict.fromkeys(v for v in values if v):
            if keep.where == "image":
                if not request.get("ecr_repo_name"):
                    continue
                where = f"{request['ecr_repo_name']}:{location}"
            elif keep.where == "as_is":
                where = location
            elif keep.where == "assets":
                where = f"s3://{settings.assets_bucket}/{location}"
            else:
                where = f"s3://{location}"
            kept.append({"field": keep.field, "what": keep.what, "location": where})
    return kept


@dataclass
class _Progress:
    started: list[str]
    waiting_for: list[str]
    remaining: list[str]


def _delete_stack(stack: Mapping[str, Any], what: str, aws: Aws, progress: _Progress) -> bool:
    """Start deleting a stack; True once it is gone (moto and fast deletes finish within the call)."""
    status = stack["StackStatus"]
    if status == "DELETE_COMPLETE":
        return True
    if status.endswith("_IN_PROGRESS") and status != "DELETE_IN_PROGRESS":
        progress.waiting_for.append(f"{what} {stack['StackName']} to finish {status}")
        return False
    if status != "DELETE_IN_PROGRESS":
        aws.stacks.delete(stack["StackId"])
        progress.started.append(f"delete {what} {stack['StackName']}")
    now = aws.stacks.describe(stack["StackId"])
    if now and now["StackStatus"] != "DELETE_COMPLETE":
        progress.waiting_for.append(f"{what} {stack['StackName']} to be deleted ({now['StackStatus']})")
        return False
    return True


def _delete_stack_sets(pipeline: Pipeline, settings: Settings, aws: Aws, progress: _Progress) -> bool:
    call_as = "DELEGATED_ADMIN" if pipeline.parameters.get("DelegatedAdminAccount", "Yes") == "Yes" else "SELF"
    done = True
    for stage in reversed(STAGES):
        name = stackset_name(pipeline.name, stage, pipeline.stack["StackId"])
        stack_set = aws.stacks.stack_set(name, call_as)
        if stack_set is None or stack_set.get("Status") == "DELETED":
            continue
        if aws.stacks.stack_set_busy(name, call_as):
            progress.waiting_for.append(f"the running operation of StackSet {name}")
            done = False
            continue
        instances = aws.stacks.stack_instances(name, call_as)
        if instances:
            regions = sorted({i["Region"] for i in instances})
            accounts = sorted({i["Account"] for i in instances})
            org_units: list[str] = []
            if stack_set.get("PermissionModel") == "SERVICE_MANAGED":
                org_units = sorted({i["OrganizationalUnitId"] for i in instances if i.get("OrganizationalUnitId")})
            aws.stacks.delete_stack_instances(name, regions, accounts, org_units, call_as)
            progress.started.append(f"delete the {stage} stack instances of StackSet {name} ({', '.join(accounts)})")
            if aws.stacks.stack_instances(name, call_as):
                progress.waiting_for.append(f"the stack instances of StackSet {name} to be deleted")
                done = False
                continue
        aws.stacks.delete_stack_set(name, call_as)
        progress.started.append(f"delete StackSet {name}")
    return done


def _advance(base: str, pipeline: Pipeline | None, settings: Settings, aws: Aws) -> _Progress:
    """Take every teardown step that can be taken now, in order; later steps wait for earlier ones."""
    progress = _Progress([], [], [])
    prefix = pipeline_key(base)
    objects = f"delete the pipeline's objects under s3://{settings.assets_bucket}/{prefix}"
    if pipeline is not None:
        wrapper = f"delete stack {pipeline.stack['StackName']}"
        if not pipeline.direct:
            # The deployed stacks first: they were created with roles the CodePipeline stack owns.
            if pipeline.multi_account:
                clear = _delete_stack_sets(pipeline, settings, aws, progress)
            else:
                blueprint = aws.stacks.describe(base)
                clear = blueprint is None or _delete_stack(blueprint, "blueprint stack", aws, progress)
            if not clear:
                progress.remaining += [wrapper, objects]
                return progress
        kind = "image builder stack" if pipeline.direct else "CodePipeline stack"
        if not _delete_stack(pipeline.stack, kind, aws, progress):
            progress.remaining.append(objects)
            return progress
    keys = aws.storage.keys(settings.assets_bucket, prefix)
    if keys:
        aws.storage.delete_keys(settings.assets_bucket, keys)
        progress.started.append(f"{objects} ({len(keys)} objects)")
    return progress


def delete_pipeline(name: str, settings: Settings, aws: Aws) -> dict[str, Any]:
    """Start (or continue) tearing a pipeline down; answers what was started, what waits and what is kept."""
    base = _base_name(name)
    pipeline = _lookup(base, aws)
    marker = _read_json(settings, aws, _teardown_key(base))
    if pipeline is None and marker is None:
        raise NotFound(f"No pipeline named {base}; GET /pipelines lists them.")
    if pipeline is not None and marker is None:
        reason = running(pipeline, aws)
        if reason:
            raise Conflict(
                f"Pipeline {base} is running: {reason}. Delete it once the run has finished, or stop the execution."
            )
        marker = {
            "pipeline_name": base,
            "pipeline_type": pipeline.pipeline_type,
            "requested": datetime.now(UTC).isoformat(),
            "kept": kept_resources(current_request(pipeline, settings, aws), settings, pipeline.pipeline_type),
        }
        aws.storage.put(
            settings.assets_bucket, _teardown_key(base), json.dumps(marker, indent=2).encode(), "application/json"
        )
    assert marker is not None
    progress = _advance(base, pipeline, settings, aws)
    done = not progress.waiting_for and not progress.remaining
    if done:
        pipeline_index.remove(base, settings, aws)
    return {
        "message": f"Pipeline {base} is deleted." if done else f"Deleting pipeline {base}.",
        "pipeline_name": base,
        "done": done,
        "started": progress.started,
        "waiting_for": progress.waiting_for,
        "remaining": progress.remaining,
        "kept": marker.get("kept", []),
    }


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
        if _read_json(settings, aws, _teardown_key(base)) is not None:
            progress = _advance(base, _lookup(base, aws), settings, aws)
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


# ---------------------------------------------------------------------------------------------------------
# Rollback


def _request_of(base: str, zip_version: str, settings: Settings, aws: Aws) -> tuple[dict[str, Any], str] | None:
    """The request a template.zip version was made from, with the request.json version id."""
    head = aws.storage.head(settings.assets_bucket, _artifact_key(base), zip_version)
    if head is None:
        return None
    version = (head.get("Metadata") or {}).get(REQUEST_VERSION_METADATA)
    if not version:
        # Written before the link existed: the request is the last one written before the zip.
        earlier = [
            v
            for v in aws.storage.versions(settings.assets_bucket, _history_key(base))
            if not v["DeleteMarker"] and v["LastModified"] <= head["LastModified"]
        ]
        if not earlier:
            return None
        version = earlier[0]["VersionId"]
    request = _read_json(settings, aws, _history_key(base), version)
    return (request, version) if request is not None else None


def rollback_pipeline(
    name: str, settings: Settings, aws: Aws, provision: Callable[[Any], dict[str, Any]]
) -> dict[str, Any]:
    """Re-provision the request of the last successful execution before the current one."""
    pipeline = find(name, aws)
    declared = CATALOGUE.get(pipeline.pipeline_type)
    if declared is None or not declared.rollback:
        rollback_types = ", ".join(t.name for t in CATALOGUE.values() if t.rollback)
        raise BadRequest(
            f"Bad request. Rollback re-deploys real-time and batch pipelines ({rollback_types}); "
            f"{pipeline.name} is a {pipeline.pipeline_type} pipeline."
        )
    reason = running(pipeline, aws)
    if reason:
        raise Conflict(f"Pipeline {pipeline.name} is running: {reason}. Roll back once the run has finished.")
    codepipeline = codepipeline_name(pipeline, aws)
    if codepipeline is None:
        raise Conflict(f"Pipeline {pipeline.name} has not created its CodePipeline yet; nothing to roll back.")
    current = aws.storage.head(settings.assets_bucket, _artifact_key(pipeline.name))
    current_version = current.get("VersionId") if current else None
    for execution in aws.pipelines.executions(codepipeline):
        if execution.get("status") != "Succeeded":
            continue
        revision = next(
            (r.get("revisionId") for r in execution.get("sourceRevisions", []) if r.get("revisionId")), None
        )
        if not revision or revision == current_version:
            continue
        found = _request_of(pipeline.name, revision, settings, aws)
        if found is None:
            continue
        request, request_version = found
        answer = provision({k: v for k, v in request.items() if k != "dry_run"})
        return {
            **answer,
            "message": (
                f"Rolling back {pipeline.name} to the request of its successful execution "
                f"{execution.get('pipelineExecutionId')}; the pipeline deploys it through its stages and approvals."
            ),
            "rolled_back_to": {
                "execution_id": execution.get("pipelineExecutionId"),
                "request_version": request_version,
                "request": request,
            },
        }
    raise Conflict(f"Pipeline {pipeline.name} has no earlier successful request to roll back to.")
