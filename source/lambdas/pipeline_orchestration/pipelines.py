# SPDX-License-Identifier: Apache-2.0
"""A pipeline's identity: which stack is its root, how it is found by name, and its pipeline index item.

A pipeline is the stack the orchestrator created (the CodePipeline wrapper `<name>-codepipeline`, or the image
builder's own stack `<name>`), recognized by its `mlops:pipeline-name` tag (or, for stacks the predecessor created,
by its `stack_name` tag and postfix). `monitoring`, `triggers`, teardown and rollback build on it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lambdas.shared.errors import FieldError, NotFound, ValidationFailed

from . import deployment, pipeline_index, pipeline_state
from .adapters import Aws
from .catalogue import CATALOGUE, PIPELINE_PREFIX, type_named
from .pipeline_state import PipelineState
from .planner import REQUEST_FILE, TEMPLATE_FILE, mode_name, pipeline_key
from .settings import Settings
from .validation import WRAPPER_SUFFIX

TAG_NAME, TAG_TYPE = "mlops:pipeline-name", "mlops:pipeline-type"
RUNNING_EXECUTION = ("InProgress", "Stopping")
TEARDOWN_FILE = "teardown.json"
STACK_NAME = re.compile(r"[a-zA-Z][-a-zA-Z0-9]{0,127}")


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


def scan(aws: Aws) -> Iterator[Pipeline]:
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
    summary = {**pipeline.summary(seen.state), **owner_fields(pipeline.name, settings, aws)}
    pipeline_index.put(pipeline_index.item_of(summary, pipeline.created), settings, aws)
    return seen


def owner_fields(name: str, settings: Settings, aws: Aws) -> dict[str, str]:
    """The index's owner attributes (what GET /pipelines?owner= filters on): the owner's ARN and team."""
    from . import ownership

    found = ownership.read(name, settings, aws) or {}
    fields = {"owner": str((found.get("owner") or {}).get("arn", "")), "owner_team": str(found.get("owner_team", ""))}
    return {key: value for key, value in fields.items() if value}


def index_pipeline(name: str, settings: Settings, aws: Aws) -> pipeline_state.Observation | None:
    """Bring the pipeline's index item in line with what happened: written while it exists, removed once gone."""
    base = name.removesuffix(WRAPPER_SUFFIX)
    pipeline = lookup_base(base, aws)
    if pipeline is None:
        pipeline_index.remove(base, settings, aws)
        return None
    return record(pipeline, settings, aws)


def fill_index(settings: Settings, aws: Aws) -> None:
    """Fill an index that has never been filled from the stacks; once, then events keep it current."""
    if pipeline_index.is_built(settings, aws):
        return
    started = datetime.now(UTC).isoformat()
    for pipeline in scan(aws):
        record(pipeline, settings, aws)
    pipeline_index.mark_built(started, settings, aws)


def base_name(name: str) -> str:
    if not STACK_NAME.fullmatch(name or ""):
        raise ValidationFailed(
            [FieldError("pipeline_name", "must be a pipeline name such as mlops-pipeline-<model>-<postfix>")]
        )
    return name.removesuffix(WRAPPER_SUFFIX)


def lookup_base(base: str, aws: Aws) -> Pipeline | None:
    for candidate in (base + WRAPPER_SUFFIX, base):
        stack = aws.stacks.describe(candidate)
        pipeline = identify(stack) if stack else None
        if pipeline and pipeline.name == base:
            return pipeline
    return None


def lookup(name: str, aws: Aws) -> Pipeline | None:
    """The pipeline of this name, or None (a name no stack of this orchestrator has)."""
    return lookup_base(name.removesuffix(WRAPPER_SUFFIX), aws) if STACK_NAME.fullmatch(name or "") else None


def find(name: str, aws: Aws) -> Pipeline:
    base = base_name(name)
    pipeline = lookup_base(base, aws)
    if pipeline is None:
        raise NotFound(f"No pipeline named {base}; GET /pipelines lists them.")
    return pipeline


def history_key(base: str) -> str:
    return pipeline_key(base, REQUEST_FILE)


def artifact_key(base: str) -> str:
    return pipeline_key(base, TEMPLATE_FILE)


def teardown_key(base: str) -> str:
    return pipeline_key(base, TEARDOWN_FILE)


def read_json(settings: Settings, aws: Aws, key: str, version: str | None = None) -> dict[str, Any] | None:
    raw = aws.storage.find(settings.assets_bucket, key, version)
    return json.loads(raw) if raw is not None else None


def current_request(pipeline: Pipeline, settings: Settings, aws: Aws) -> dict[str, Any] | None:
    """The request the pipeline was last provisioned with (None for pipelines the predecessor created)."""
    return read_json(settings, aws, history_key(pipeline.name))


def codepipeline_name(pipeline: Pipeline, aws: Aws) -> str | None:
    """The CodePipeline the pipeline's stack created, or None before it exists."""
    return deployment.codepipeline_name(pipeline.stack, aws)


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
