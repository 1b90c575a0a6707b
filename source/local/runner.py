# SPDX-License-Identifier: Apache-2.0
"""The local pipeline runner: executes the CodePipelines that the orchestrator's stacks define.

moto stores CloudFormation stacks but does not run CodePipeline. The runner reads each deployed
`mlops-pipeline*` stack's `AWS::CodePipeline::Pipeline` definition (intrinsics resolved against the stack),
starts an execution when the S3 source object changes, and carries out the actions: S3 source, CloudFormation
deploy into the emulator, Lambda invoke (the function's own handler, called in this process), manual approval
(approved through the API or the CLI) and CodeBuild (emulated: no container engine is needed or used).
A CodeConnections source (GitHub, GitLab, Bitbucket) reads a branch of a local git repository instead, and starts
when a commit changes what the pipeline's trigger filters name. Its state is served in the shape of CodePipeline's
GetPipelineState.
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import json
import logging
import subprocess
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from lambdas.blueprints import image_build
from lambdas.pipeline_orchestration.adapters import Notifier
from lambdas.pipeline_orchestration.catalogue import PIPELINE_PREFIX
from lambdas.pipeline_orchestration.lifecycle import STACK_SET_OPERATION_EVENT, STACK_SET_OPERATION_FINISHED
from lambdas.pipeline_orchestration.pipeline_state import STACK_COMPLETE
from lambdas.pipeline_orchestration.validation import WRAPPER_SUFFIX
from lambdas.shared.aws import client
from lambdas.shared.logging import get_logger

from .emulator import JOB_RESULTS, fail_stack
from .event_delivery import EventDelivery
from .git_trigger import git
from .inprocess import call_handler
from .template_resolver import StackContext

logger = get_logger(__name__)
# The concise lines `mlops local` shows on its terminal: executions starting and ending, actions changing state.
progress = get_logger("mlops.progress")
JOURNAL_LIMIT = 5000  # events kept per pipeline, newest
RECONCILE_SECONDS = 30.0  # the index's reconciliation, on the runner's clock (every 15 minutes on AWS)
TERMINAL_OK = STACK_COMPLETE
TERMINAL_FAILED = {
    "CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_FAILED",
    "DELETE_COMPLETE", "DELETE_FAILED",
}  # fmt: skip
UNUPDATABLE = {"CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED", "UPDATE_ROLLBACK_FAILED"}


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ActionRun:
    name: str
    definition: dict[str, Any]
    status: str = ""  # "", InProgress, Succeeded, Failed
    summary: str = ""
    token: str = ""
    changed: datetime | None = None

    def set(self, status: str, summary: str = "") -> None:
        self.status, self.summary, self.changed = status, summary, now()

    def state(self) -> dict[str, Any]:
        out: dict[str, Any] = {"actionName": self.name}
        if self.status:
            execution: dict[str, Any] = {"status": self.status, "lastStatusChange": self.changed}
            if self.summary:
                execution["summary"] = self.summary
            if self.token:
                execution["token"] = self.token
            out["latestExecution"] = execution
        return out


@dataclass
class StageRun:
    name: str
    actions: list[ActionRun]
    status: str = ""


@dataclass
class Execution:
    id: str
    stages: list[StageRun]
    status: str = "InProgress"
    source_version: str = ""
    started: datetime = field(default_factory=now)
    artifacts: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (bucket, key)
    revisions: dict[str, str] = field(default_factory=dict)  # artifact name -> the S3 source's object version
    continuations: dict[str, str] = field(default_factory=dict)


@dataclass
class LocalPipeline:
    name: str
    stack_name: str
    definition: dict[str, Any]
    context: StackContext
    logical_id: str = "Pipeline"
    stack_version: Any = None  # the stack's LastUpdatedTime when its template was read
    created: datetime = field(default_factory=now)
    updated: datetime = field(default_factory=now)
    executions: list[Execution] = field(default_factory=list)
    deployed: bool = True  # False: a pipeline of a stack local mode does not deploy, registered by the session

    @property
    def label(self) -> str:
        """How progress lines name it: the pipeline's name as the user gave it, or the registered pipeline's."""
        return self.stack_name.removesuffix(WRAPPER_SUFFIX) if self.deployed else self.name

    @property
    def latest(self) -> Execution | None:
        return self.executions[-1] if self.executions else None

    def source(self) -> tuple[str, str] | None:
        for stage in self.definition.get("Stages", []):
            for action in stage.get("Actions", []):
                if action["ActionTypeId"]["Category"] == "Source" and action["ActionTypeId"]["Provider"] == "S3":
                    config = action.get("Configuration", {})
                    return config["S3Bucket"], config["S3ObjectKey"]
        return None

    def connection_source(self) -> dict[str, Any] | None:
        """The definition of the pipeline's CodeConnections source action, if it has one."""
        for stage in self.definition.get("Stages", []):
            for action in stage.get("Actions", []):
                if action["ActionTypeId"]["Provider"] == "CodeStarSourceConnection":
                    return action
        return None

    def triggered_by(self, branch: str, changed: set[str]) -> bool:
        """Whether a push of these paths to the branch starts the pipeline, by its V2 push filters."""

        def matches(criteria: dict[str, Any] | None, values: set[str]) -> bool:
            if not criteria:
                return True
            included = {v for v in values if any(fnmatch.fnmatch(v, p) for p in criteria.get("Includes", ["*"]))}
            return any(not any(fnmatch.fnmatch(v, p) for p in criteria.get("Excludes", [])) for v in included)

        filters = [
            push
            for trigger in self.definition.get("Triggers", [])
            for push in trigger.get("GitConfiguration", {}).get("Push", [])
        ]
        if not filters:
            return bool(changed)  # no filter: every push to the source's branch
        return any(
            matches(push.get("Branches"), {branch}) and matches(push.get("FilePaths"), changed) for push in filters
        )


class PipelineRunner:
    """Discovers pipelines in the emulator and advances their executions from a background thread."""

    def __init__(
        self,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        poll_seconds: float = 0.3,
        deploy_timeout: float = 900.0,
        on_stack_event: Callable[[dict[str, Any]], Any] | None = None,
        on_pipeline_event: Callable[[dict[str, Any]], Any] | None = None,
        git_repository: Path | None = None,
    ):
        self.region, self.account_id, self.poll_seconds = region, account_id, poll_seconds
        # The local repository standing in for the repositories of CodeConnections sources.
        self.git_repository = git_repository
        # Functions served in this process by name, in place of their stack's definition (the orchestrator's own).
        self.functions: dict[str, Callable[[dict[str, Any]], Any]] = {}
        self._heads_seen: dict[str, str] = {}  # pipeline -> the branch head its trigger filters last judged
        self.deploy_timeout = deploy_timeout
        self.pipelines: dict[str, LocalPipeline] = {}
        # EventBridge's part: CloudFormation status changes of mlops-pipeline stacks, delivered to a handler.
        self.on_stack_event = on_stack_event
        # ... and CodePipeline's execution, stage and approval state changes, as EventBridge delivers them.
        self.on_pipeline_event = on_pipeline_event
        self._stack_statuses: dict[str, tuple[str, str]] = {}  # stack id -> (name, status)
        # EventBridge's delivery: retries with backoff, then a dead-letter list.
        self.delivery = EventDelivery()
        # The scheduled reconciliation of the index with the stacks and executions (the orchestrator's own code).
        self.on_reconcile: Callable[[], Any] | None = None
        self.reconcile_seconds = RECONCILE_SECONDS
        self._reconciled_at = time.monotonic()
        self._operations_told: set[str] = set()  # StackSet operations whose end was delivered
        # What happened to each pipeline, oldest first (served by `mlops logs`): stage and action transitions,
        # and the log lines of the Lambda actions' functions.
        self.journal: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.RLock()
        self._discovery = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- life cycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="pipeline-runner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # the runner must keep serving; the failure is logged with its traceback
                logger.exception("pipeline runner step failed")
            self._stop.wait(self.poll_seconds)

    def tick(self) -> None:
        """One step: discover pipelines, start executions for new sources, advance running executions."""
        self._deliver_status_changes(self.discover())
        self._deliver_stack_set_operations()
        self.delivery.retry_due()
        self._maybe_reconcile()
        for pipeline in list(self.pipelines.values()):
            self._maybe_start(pipeline)
            execution = pipeline.latest
            if execution and execution.status == "InProgress":
                self._advance(pipeline, execution)

    def _maybe_reconcile(self) -> None:
        """Every `reconcile_seconds`, bring the index in line with the stacks and executions, as the scheduled
        invocation does on AWS: what a lost event left wrong is mended."""
        if self.on_reconcile is None or time.monotonic() - self._reconciled_at < self.reconcile_seconds:
            return
        self._reconciled_at = time.monotonic()
        try:
            self.on_reconcile()
        except Exception:  # the next period tries again
            logger.exception("reconciliation of the pipeline index failed")

    # --- discovery --------------------------------------------------------------------------------------
    def discover(self) -> dict[str, tuple[str, str]]:
        """Register the pipelines of new or updated stacks; answers every mlops-pipeline stack's status.

        The API's thread calls this too (a pipeline created a moment ago): one discovery at a time, or both
        would register the same new pipeline and the second would replace the first with its execution.
        """
        with self._discovery:
            return self._discover()

    def _discover(self) -> dict[str, tuple[str, str]]:
        cloudformation = client("cloudformation")
        seen = set()
        statuses: dict[str, tuple[str, str]] = {}
        for page in cloudformation.get_paginator("describe_stacks").paginate():
            for stack in page["Stacks"]:
                if stack["StackName"].startswith(PIPELINE_PREFIX):
                    statuses[stack["StackId"]] = (stack["StackName"], stack["StackStatus"])
                if not stack["StackName"].startswith(PIPELINE_PREFIX) or stack["StackStatus"] not in TERMINAL_OK:
                    continue
                seen.add(stack["StackId"])
                with self._lock:  # by stack id: a stack deleted and created again under its name is another stack
                    known = next((p for p in self.pipelines.values() if p.context.stack_id == stack["StackId"]), None)
                # Read a stack's template again only when the stack is new or was updated since.
                if (
                    known
                    and known.context.stack_id == stack["StackId"]
                    and known.stack_version == stack.get("LastUpdatedTime")
                ):
                    continue
                self._register(stack, known)
        with self._lock:
            for name in [n for n, p in self.pipelines.items() if p.deployed and p.context.stack_id not in seen]:
                del self.pipelines[name]  # the stack was deleted: so is its pipeline
        return statuses

    def _deliver_status_changes(self, statuses: dict[str, tuple[str, str]]) -> None:
        """Send a status-change event for each stack whose status changed, or that is gone, since last time."""
        gone = {stack_id: (name, "DELETE_COMPLETE") for stack_id, (name, _) in self._stack_statuses.items()}
        changes = {**gone, **statuses}
        previous, self._stack_statuses = self._stack_statuses, statuses
        if self.on_stack_event is None:
            return
        for stack_id, (name, status) in changes.items():
            if previous.get(stack_id, (name, ""))[1] == status:
                continue
            event = {
                "source": "aws.cloudformation",
                "detail-type": "CloudFormation Stack Status Change",
                "account": self.account_id,
                "region": self.region,
                "time": now().isoformat(),
                "resources": [stack_id],
                "detail": {"stack-id": stack_id, "status-details": {"status": status}},
            }
            self.delivery.deliver(self.on_stack_event, event, f"status change of {name} ({status})")

    def _deliver_stack_set_operations(self) -> None:
        """EventBridge's "CloudFormation StackSet Operation Status Change" for each operation on a mlops-pipeline
        StackSet that finished since last time, in the shape AWS documents (`stack-set-arn`,
        `stack-set-operation-id`, `status-details.status`):
        https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/event-detail-stackset-operation-status-change.html
        """
        if self.on_stack_event is None:
            return
        cloudformation = client("cloudformation")
        try:
            summaries = cloudformation.list_stack_sets(Status="ACTIVE").get("Summaries", [])
        except ClientError:
            logger.exception("could not list the StackSets")
            return
        for summary in summaries:
            name = summary["StackSetName"]
            if not name.startswith(PIPELINE_PREFIX):
                continue
            try:
                stack_set_arn = cloudformation.describe_stack_set(StackSetName=name)["StackSet"]["StackSetARN"]
                operations = cloudformation.list_stack_set_operations(StackSetName=name).get("Summaries", [])
                for operation in operations:
                    key = f"{name}/{operation['OperationId']}"
                    if key in self._operations_told:
                        continue
                    status = cloudformation.describe_stack_set_operation(
                        StackSetName=name, OperationId=operation["OperationId"]
                    )["StackSetOperation"]["Status"]
                    if status not in STACK_SET_OPERATION_FINISHED:
                        continue
                    self._operations_told.add(key)
                    self._deliver_stack_set_operation(stack_set_arn, operation["OperationId"], status)
            except ClientError:
                logger.exception("could not read the operations of StackSet %s", name)

    def _deliver_stack_set_operation(self, stack_set_arn: str, operation_id: str, status: str) -> None:
        assert self.on_stack_event is not None
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "source": "aws.cloudformation",
            "detail-type": STACK_SET_OPERATION_EVENT,
            "account": self.account_id,
            "region": self.region,
            "time": now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "resources": [stack_set_arn],
            "detail": {
                "stack-set-arn": stack_set_arn,
                "stack-set-operation-id": operation_id,
                "status-details": {"status": status},
            },
        }
        self.delivery.deliver(self.on_stack_event, event, f"StackSet operation {operation_id} ({status})")

    def _register(self, stack: dict[str, Any], known: LocalPipeline | None) -> None:
        cloudformation = client("cloudformation")
        body = cloudformation.get_template(StackName=stack["StackId"])["TemplateBody"]
        template = body if isinstance(body, dict) else json.loads(body)
        resources = template.get("Resources", {})
        pipelines = [(lid, r) for lid, r in resources.items() if r.get("Type") == "AWS::CodePipeline::Pipeline"]
        if not pipelines:
            return
        physical = {
            r["LogicalResourceId"]: r.get("PhysicalResourceId") or r["LogicalResourceId"]
            for r in cloudformation.list_stack_resources(StackName=stack["StackId"])["StackResourceSummaries"]
        }
        parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
        context = StackContext(
            template, parameters, stack["StackName"], stack["StackId"], self.region, self.account_id, physical
        )
        logical_id, resource = pipelines[-1]
        definition = context.resolve(resource.get("Properties", {}))
        name = definition.get("Name") or physical.get(logical_id) or f"{stack['StackName']}-{logical_id}"[:100]
        with self._lock:
            if known and known.name == name:
                known.definition, known.context, known.updated = definition, context, now()
                known.stack_version = stack.get("LastUpdatedTime")
            else:
                self.pipelines[name] = LocalPipeline(name, stack["StackName"], definition, context, logical_id)
                self.pipelines[name].stack_version = stack.get("LastUpdatedTime")

    def register(self, pipeline: LocalPipeline) -> None:
        """Run a pipeline whose stack local mode does not deploy (discovery leaves it alone)."""
        pipeline.deployed = False
        with self._lock:
            known = self.pipelines.get(pipeline.name)
            if known is not None:  # a restart: keep its executions
                pipeline.executions = known.executions
            self.pipelines[pipeline.name] = pipeline

    def pipeline_for_stack(self, stack_name_or_id: str) -> LocalPipeline | None:
        with self._lock:
            return next(
                (p for p in self.pipelines.values() if stack_name_or_id in (p.stack_name, p.context.stack_id)), None
            )

    # --- executions -------------------------------------------------------------------------------------
    def _branch_head(self, action: dict[str, Any]) -> str:
        """The commit at the head of the source's branch in the local repository; "" when there is none."""
        if self.git_repository is None:
            return ""
        branch = action["Configuration"]["BranchName"]
        ref = f"refs/heads/{branch}^{{commit}}"
        return git(self.git_repository, "rev-parse", "--verify", "--quiet", ref, check=False)

    def _connection_version(self, pipeline: LocalPipeline, action: dict[str, Any]) -> str | None:
        """The commit an execution would take from the branch; None while no push since the last one starts it."""
        head = self._branch_head(action)
        latest = pipeline.latest
        if latest is None or not latest.source_version or not head or head == latest.source_version:
            return head  # the first execution runs at once, as CodePipeline runs a new pipeline
        if self._heads_seen.get(pipeline.name) == head:
            return None  # judged before: its push filters did not start the pipeline
        assert self.git_repository is not None
        changed = set(git(self.git_repository, "diff", "--name-only", latest.source_version, head).splitlines())
        if pipeline.triggered_by(action["Configuration"]["BranchName"], changed):
            return head  # (started once the running execution, if any, has ended)
        self._heads_seen[pipeline.name] = head
        return None

    def _maybe_start(self, pipeline: LocalPipeline) -> None:
        source = pipeline.source()
        version = ""
        connection = pipeline.connection_source()
        if connection:
            found = self._connection_version(pipeline, connection)
            if found is None:
                return
            version = found
        if source:
            try:
                head = client("s3").head_object(Bucket=source[0], Key=source[1])
                version = head.get("VersionId") or head["ETag"]
            except ClientError as error:
                # CodePipeline runs a new pipeline at once, and its S3 source action fails when the object is
                # missing; so does this one's, and it runs again when the object is written. A removed object
                # starts nothing: the rule that starts a pipeline hears "Object Created" only.
                logger.debug("source of %s not readable: %s", pipeline.name, error)
                if pipeline.latest is not None:
                    return
        latest = pipeline.latest
        if latest is not None and (latest.source_version == version or latest.status == "InProgress"):
            return
        stages = [
            StageRun(
                stage["Name"],
                [ActionRun(a["Name"], a) for a in sorted(stage["Actions"], key=lambda a: a.get("RunOrder", 1))],
            )
            for stage in pipeline.definition.get("Stages", [])
        ]
        execution = Execution(str(uuid.uuid4()), stages, source_version=version)
        pipeline.executions.append(execution)
        self.record(pipeline.name, "", "pipeline", f"execution {execution.id} started")
        progress.info("%s: execution started", pipeline.label)
        self._deliver_pipeline_event(pipeline, execution, "STARTED")

    def _advance(self, pipeline: LocalPipeline, execution: Execution) -> None:
        for stage in execution.stages:
            for action in stage.actions:
                if execution.status != "InProgress":  # stopped while an action ran
                    return
                if action.status == "Succeeded":
                    continue
                if action.status == "Failed":
                    stage.status = execution.status = "Failed"
                    self._notify_outcome(pipeline, execution)
                    return
                if stage.status != "InProgress":
                    stage.status = "InProgress"
                    self._deliver_pipeline_event(pipeline, execution, "STARTED", stage.name)
                self._step(pipeline, execution, action)
                if action.status != "Succeeded":
                    if action.status == "Failed":
                        stage.status = execution.status = "Failed"
                        self._notify_outcome(pipeline, execution)
                    return
            stage.status = "Succeeded"
        execution.status = "Succeeded"
        self._notify_outcome(pipeline, execution)

    def _notify_outcome(self, pipeline: LocalPipeline, execution: Execution) -> None:
        failed = next((a for s in execution.stages for a in s.actions if a.status == "Failed"), None)
        reason = f" at {failed.name}: {failed.summary}" if failed else ""
        self.record(pipeline.name, "", "pipeline", f"execution {execution.id} {execution.status.lower()}{reason}")
        progress.info("%s: execution %s%s", pipeline.label, execution.status.lower(), reason)
        self._deliver_pipeline_event(pipeline, execution, execution.status.upper())

    def _deliver_pipeline_event(
        self, pipeline: LocalPipeline, execution: Execution, state: str, stage: str = "", action: str = ""
    ) -> None:
        """EventBridge's part for CodePipeline: an execution (or, named, a stage or approval action) changed."""
        if self.on_pipeline_event is None:
            return
        kind = "Action" if action else "Stage" if stage else "Pipeline"
        detail: dict[str, Any] = {"pipeline": pipeline.name, "execution-id": execution.id, "state": state}
        if stage:
            detail["stage"] = stage
        if action:
            detail.update(action=action, type={"owner": "AWS", "category": "Approval", "provider": "Manual"})
        event = {
            "source": "aws.codepipeline",
            "detail-type": f"CodePipeline {kind} Execution State Change",
            "account": self.account_id,
            "region": self.region,
            "time": now().isoformat(),
            "resources": [f"arn:aws:codepipeline:{self.region}:{self.account_id}:{pipeline.name}"],
            "detail": detail,
        }
        self.delivery.deliver(self.on_pipeline_event, event, f"{kind.lower()} event of {pipeline.name} ({state})")

    def _step(self, pipeline: LocalPipeline, execution: Execution, action: ActionRun) -> None:
        type_id = action.definition["ActionTypeId"]
        handler = {
            ("Source", "S3"): self._source_s3,
            ("Source", "CodeStarSourceConnection"): self._source_connection,
            ("Deploy", "CloudFormation"): self._deploy_cloudformation,
            ("Invoke", "Lambda"): self._invoke_lambda,
            ("Approval", "Manual"): self._manual_approval,
            ("Build", "CodeBuild"): self._build_codebuild,
        }.get((type_id["Category"], type_id["Provider"]))
        if handler is None:
            action.set("Failed", f"{type_id['Category']}/{type_id['Provider']} actions are not emulated")
            return
        before = (action.status, action.summary)
        stage = next((s.name for s in execution.stages if action in s.actions), "")
        try:
            with _function_log(self, pipeline.name, stage, action.name):
                handler(pipeline, execution, action)
        except Exception as error:  # an action failure fails the execution with its reason, as CodePipeline does
            logger.exception("action %s of %s failed", action.name, pipeline.name)
            action.set("Failed", failure_reason(error))
        if (action.status, action.summary) != before:
            self.record(pipeline.name, stage, "action", f"{action.name}: {action.status} {action.summary}".strip())
            if action.status != before[0]:
                progress.info("%s: %s %s", pipeline.label, action.name, action.status)

    def _artifact_files(self, execution: Execution, name: str) -> dict[str, bytes]:
        bucket, key = execution.artifacts[name]
        body = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            return {n: archive.read(n) for n in archive.namelist()}

    def _source_s3(self, pipeline: LocalPipeline, execution: Execution, action: ActionRun) -> None:
        config = action.definition["Configuration"]
        s3 = client("s3")
        where = f"s3://{config['S3Bucket']}/{config['S3ObjectKey']}"
        try:
            source = s3.get_object(Bucket=config["S3Bucket"], Key=config["S3ObjectKey"])
            body = source["Body"].read()
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            message = error.response.get("Error", {}).get("Message", str(error))
            action.set("Failed", f"the source object {where} cannot be read: {code}: {message}")
            return
        store = pipeline.definition.get("ArtifactStore", {}).get("Location") or config["S3Bucket"]
        for output in action.definition.get("OutputArtifacts", []):
            key = f"{pipeline.name[:20]}/{output['Name'][:20]}/{execution.id}.zip"
            s3.put_object(Bucket=store, Key=key, Body=body)
            execution.artifacts[output["Name"]] = (store, key)
            if source.get("VersionId"):  # CodePipeline pins the version it copied as the artifact's revision
                execution.revisions[output["Name"]] = source["VersionId"]
        action.set("Succeeded", where)

    def _source_connection(self, pipeline: LocalPipeline, execution: Execution, action: ActionRun) -> None:
        """The branch's files at the execution's commit, zipped as CODE_ZIP, from the local repository."""
        config = action.definition["Configuration"]
        where = f"{config['FullRepositoryId']}@{config['BranchName']}"
        if self.git_repository is None:
            action.set("Failed", f"no local git repository stands in for {where} (start local mode with --git-repo)")
            return
        if not execution.source_version:
            branch = config["BranchName"]
            action.set("Failed", f"the branch {branch} is not in the local repository {self.git_repository}")
            return
        archive = subprocess.run(
            ["git", "-C", str(self.git_repository), "archive", "--format=zip", execution.source_version],
            capture_output=True,
            check=True,
        ).stdout
        store = pipeline.definition["ArtifactStore"]["Location"]
        for output in action.definition.get("OutputArtifacts", []):
            key = f"{pipeline.name[:20]}/{output['Name'][:20]}/{execution.id}.zip"
            client("s3").put_object(Bucket=store, Key=key, Body=archive)
            execution.artifacts[output["Name"]] = (store, key)
        action.set("Succeeded", f"{where} at {execution.source_version[:8]}")

    def _deploy_cloudformation(self, pipeline: LocalPipeline, execution: Execution, action: ActionRun) -> None:
        config = action.definition["Configuration"]
        cloudformation = client("cloudformation")
        stack_name = config["StackName"]
        if action.status == "InProgress":  # waiting for the stack started on an earlier step
            stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
            if stack["StackStatus"] in TERMINAL_OK:
                action.set("Succeeded", f"stack {stack_name}: {stack['StackStatus']}")
            elif stack["StackStatus"] in TERMINAL_FAILED:
                reason = stack.get("StackStatusReason", "")
                action.set("Failed", f"stack {stack_name}: {stack['StackStatus']} {reason}".strip())
            elif action.changed and (now() - action.changed).total_seconds() > self.deploy_timeout:
                # A resource that never answers (a custom resource waiting on work the emulator cannot do):
                # the stack fails as CloudFormation fails it, with the reason, and can then be deleted.
                reason = f"still {stack['StackStatus']} after {self.deploy_timeout:.0f} s: a resource never answered"
                fail_stack(stack["StackId"], reason)
                action.set("Failed", f"stack {stack_name}: {reason}")
            return
        artifact, template_file = config["TemplatePath"].split("::", 1)
        files = self._artifact_files(execution, artifact)
        template = files[template_file].decode()
        parameters: dict[str, str] = {}
        if config.get("TemplateConfiguration"):
            config_artifact, config_file = config["TemplateConfiguration"].split("::", 1)
            parameters.update(
                json.loads(self._artifact_files(execution, config_artifact)[config_file]).get("Parameters", {})
            )
        if config.get("ParameterOverrides"):
            parameters.update(json.loads(config["ParameterOverrides"]))
        arguments = {
            "StackName": stack_name,
            "TemplateBody": template,
            "Parameters": [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in parameters.items()],
            "Capabilities": [c.strip() for c in config.get("Capabilities", "CAPABILITY_IAM").split(",") if c.strip()],
        }
        existing = self._live_stack(stack_name)
        if existing and existing["StackStatus"] in UNUPDATABLE:
            # A stack in a failed state cannot be updated; CREATE_UPDATE deletes it and creates it again.
            cloudformation.delete_stack(StackName=existing["StackId"])
            existing = None
        try:
            if existing:
                cloudformation.update_stack(**arguments)
            else:
                cloudformation.create_stack(**arguments)
        except Exception as error:
            if "No updates are to be performed" in str(error):
                action.set("Succeeded", f"stack {stack_name}: no changes")
                return
            # moto can stop part-way and leave the stack in progress; CloudFormation would fail it.
            stack = self._live_stack(stack_name)
            if stack and stack["StackStatus"].endswith("_IN_PROGRESS"):
                fail_stack(stack["StackId"], f"{type(error).__name__}: {error}"[:1000])
            raise
        action.set("InProgress", f"deploying stack {stack_name}")

    @staticmethod
    def _live_stack(stack_name: str) -> dict[str, Any] | None:
        """The stack of this name that is not deleted, looked up by name (a listing would be paged)."""
        try:
            stack = client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
        except ClientError as error:
            if "does not exist" in str(error):
                return None
            raise
        return None if stack["StackStatus"] == "DELETE_COMPLETE" else stack

    def _function_resource(self, pipeline: LocalPipeline, function_name: str) -> dict[str, Any]:
        context = pipeline.context
        for logical_id, resource in context.template.get("Resources", {}).items():
            if resource.get("Type") != "AWS::Lambda::Function":
                continue
            if function_name in (logical_id, context.physical_ids.get(logical_id), context.get_att(logical_id, "Arn")):
                return context.resolve(resource.get("Properties", {}))
        raise LookupError(f"function {function_name} is not defined by stack {pipeline.stack_name}")

    def _invoke_lambda(self, pipeline: LocalPipeline, execution: Execution, action: ActionRun) -> None:
        config = action.definition["Configuration"]
        served = self.functions.get(config["FunctionName"])
        function = {} if served else self._function_resource(pipeline, config["FunctionName"])
        connection = pipeline.connection_source()
        from_connection = {a["Name"] for a in (connection or {}).get("OutputArtifacts", [])}
        job_id = str(uuid.uuid4())
        user_parameters = config.get("UserParameters", "")
        inputs = []
        for artifact in action.definition.get("InputArtifacts", []):
            bucket, key = execution.artifacts[artifact["Name"]]
            location = {"type": "S3", "s3Location": {"bucketName": bucket, "objectKey": key}}
            entry = {"name": artifact["Name"], "location": location}
            if artifact["Name"] in from_connection:  # CodePipeline gives a source artifact's commit as its revision
                entry["revision"] = execution.source_version
            elif artifact["Name"] in execution.revisions:  # and an S3 source artifact's object version
                entry["revision"] = execution.revisions[artifact["Name"]]
            inputs.append(entry)
        data: dict[str, Any] = {
            "actionConfiguration": {
                "configuration": {"FunctionName": config["FunctionName"], "UserParameters": user_parameters}
            },
            "inputArtifacts": inputs,
            "outputArtifacts": [],
            # The job's own credentials, as CodePipeline hands a job temporary ones of its artifact store (the
            # emulator takes any).
            "artifactCredentials": {
                "accessKeyId": "codepipeline-job",
                "secretAccessKey": "codepipeline-job",
                "sessionToken": "codepipeline-job",
            },
        }
        if action.name in execution.continuations:
            data["continuationToken"] = execution.continuations.pop(action.name)
        event = {"CodePipeline.job": {"id": job_id, "accountId": self.account_id, "data": data}}
        if served:
            served(event)
        else:
            self._call_handler(function, event)
        result = JOB_RESULTS.pop(job_id, None)
        if result is None:
            action.set("Failed", "the function returned without reporting the job's result")
        elif result["kind"] == "failure":
            action.set("Failed", result.get("message", "job failed"))
        elif result.get("continuationToken"):
            execution.continuations[action.name] = result["continuationToken"]
            action.set("InProgress", "in progress")
        else:
            action.set("Succeeded", result.get("summary", ""))

    def _call_handler(self, function: dict[str, Any], event: dict[str, Any]) -> Any:
        variables = function.get("Environment", {}).get("Variables", {})
        return call_handler(function["Handler"], variables, event)

    def _manual_approval(self, pipeline: LocalPipeline, execution: Execution, action: ActionRun) -> None:
        if action.status == "InProgress":
            return  # waits for approve()
        action.token = str(uuid.uuid4())
        action.set("InProgress", action.definition.get("Configuration", {}).get("CustomData", "waiting for approval"))
        stage = next(s.name for s in execution.stages if action in s.actions)
        self._deliver_pipeline_event(pipeline, execution, "STARTED", stage, action.name)
        topic = action.definition.get("Configuration", {}).get("NotificationArn")
        if topic:  # CodePipeline's notice; a failed publish is logged and never blocks the approval
            Notifier().publish(topic, f"Approval needed: {action.name} of {pipeline.name}", action.summary)

    def _build_codebuild(self, pipeline: LocalPipeline, execution: Execution, action: ActionRun) -> None:
        inputs = action.definition.get("InputArtifacts", [])
        files = self._artifact_files(execution, inputs[0]["Name"]) if inputs else {}
        if not any(name.rsplit("/", 1)[-1] == "Dockerfile" for name in files):
            action.set("Failed", "the source holds no Dockerfile")
            return
        # The project's buildspec rules, without a container engine: a tag that exists is refused, and Docker Hub
        # FROM lines are resolved through the pull-through cache the project names (shown in the summary).
        variables = self._build_variables(pipeline, action)
        repository, tag = variables.get("REPOSITORY", ""), variables.get("IMAGE_TAG", "")
        ecr = client("ecr")
        if repository and tag:
            taken = ecr.list_images(repositoryName=repository, filter={"tagStatus": "TAGGED"})["imageIds"]
            if any(image.get("imageTag") == tag for image in taken):
                action.set("Failed", f"refused: {repository}:{tag} exists already; tags are immutable")
                return
        notes = ["docker hub cache: none; FROM lines are pulled as written"]
        if variables.get("DOCKER_HUB_CACHE") and "Dockerfile" in files:
            _, changes = image_build.rewrite(files["Dockerfile"].decode(), variables["DOCKER_HUB_CACHE"])
            notes = [f"docker hub cache: {change}" for change in changes] or [
                "docker hub cache: no FROM line names a Docker Hub image"
            ]
        for note in notes:
            self.record(pipeline.name, "Build", "action", note)
        if repository and tag:  # the image a build would push: later builds of the tag are refused
            manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}
            ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)
        action.set(
            "Succeeded", "; ".join(["emulated build: the Dockerfile was found; no container was built locally", *notes])
        )

    def _build_variables(self, pipeline: LocalPipeline, action: ActionRun) -> dict[str, str]:
        """The environment variables of the action's CodeBuild project, as its stack resolved them."""
        project = action.definition.get("Configuration", {}).get("ProjectName", "")
        context = pipeline.context
        for logical_id, resource in context.template.get("Resources", {}).items():
            if resource.get("Type") == "AWS::CodeBuild::Project" and project in (
                logical_id,
                context.physical_ids.get(logical_id),
            ):
                environment = context.resolve(resource.get("Properties", {})).get("Environment", {})
                return {v["Name"]: str(v.get("Value", "")) for v in environment.get("EnvironmentVariables", [])}
        return {}

    # --- what the API reads -----------------------------------------------------------------------------
    def state(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            pipeline = self.pipelines.get(name)
            if pipeline is None:
                return None
            execution = pipeline.latest
            stages = []
            for index, stage in enumerate(pipeline.definition.get("Stages", [])):
                run = execution.stages[index] if execution else None
                entry: dict[str, Any] = {
                    "stageName": stage["Name"],
                    "inboundTransitionState": {"enabled": True},
                    "actionStates": [a.state() for a in run.actions]
                    if run
                    else [{"actionName": a["Name"]} for a in stage["Actions"]],
                }
                if run and run.status:
                    entry["latestExecution"] = {"pipelineExecutionId": execution.id, "status": run.status}  # type: ignore[union-attr]
                stages.append(entry)
            return {
                "pipelineName": name,
                "pipelineVersion": 1,
                "stageStates": stages,
                "created": pipeline.created,
                "updated": pipeline.updated,
            }

    def executions(self, name: str) -> list[dict[str, Any]] | None:
        """ListPipelineExecutions in its shape, newest first; None for an unknown pipeline."""
        with self._lock:
            pipeline = self.pipelines.get(name)
            if pipeline is None:
                return None
            connection = pipeline.connection_source()
            source = "Source" if pipeline.source() else connection["Name"] if connection else None
            return [
                {
                    "pipelineExecutionId": execution.id,
                    "status": execution.status,
                    "startTime": execution.started,
                    "sourceRevisions": [{"actionName": source, "revisionId": execution.source_version}]
                    if source
                    else [],
                }
                for execution in reversed(pipeline.executions)
            ]

    def put_approval_result(
        self, name: str, stage_name: str, action_name: str, token: str, approved: bool = True, comment: str = ""
    ) -> None:
        """PutApprovalResult: answer the approval action named exactly, whose waiting run holds `token`."""
        with self._lock:
            pipeline = self.pipelines.get(name)
            execution = pipeline.latest if pipeline else None
            stage = next((s for s in (execution.stages if execution else []) if s.name == stage_name), None)
            action = next((a for a in (stage.actions if stage else []) if a.name == action_name), None)
            if action is None or action.definition["ActionTypeId"]["Category"] != "Approval":
                raise LookupError(f"pipeline {name} has no approval action {stage_name}/{action_name}")
            if action.status != "InProgress" or not token or action.token != token:
                raise PermissionError(f"the approval {stage_name}/{action_name} of {name} is not waiting on this token")
            action.set("Succeeded" if approved else "Failed", comment or ("Approved" if approved else "Rejected"))
            action.token = ""

    def stop_execution(self, name: str, execution_id: str, reason: str) -> None:
        """StopPipelineExecution with abandon: the execution ends Stopped, its actions in progress Abandoned."""
        with self._lock:
            pipeline = self.pipelines.get(name)
            execution = next((e for e in pipeline.executions if e.id == execution_id), None) if pipeline else None
            if pipeline is None or execution is None:
                raise LookupError(f"pipeline {name} has no execution {execution_id}")
            if execution.status != "InProgress":
                raise PermissionError(f"execution {execution_id} of {name} is {execution.status}: it cannot be stopped")
            for stage in execution.stages:
                for action in stage.actions:
                    if action.status == "InProgress":
                        action.set("Abandoned", reason)
                        action.token = ""
                        stage.status = "Stopped"
            execution.status = "Stopped"
        self.record(name, "", "pipeline", f"execution {execution_id} stopped: {reason}")
        progress.info("%s: execution stopped", pipeline.label)
        self._deliver_pipeline_event(pipeline, execution, "STOPPED")

    def wait(self, name: str, until: str = "Succeeded", timeout: float = 120) -> dict[str, Any]:
        """Block until the latest execution of `name` reaches a status or waits for an approval."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                pipeline = self.pipelines.get(name)
                execution = pipeline.latest if pipeline else None
                if execution and (
                    execution.status in (until, "Failed") or (until == "Approval" and self._awaiting(execution))
                ):
                    return self.state(name) or {}
            time.sleep(0.1)
        raise TimeoutError(f"pipeline {name} did not reach {until} in {timeout} s")

    @staticmethod
    def _awaiting(execution: Execution) -> bool:
        return any(a.token for s in execution.stages for a in s.actions)

    def execution_status(self, name: str) -> str:
        with self._lock:
            pipeline = self.pipelines.get(name)
            return pipeline.latest.status if pipeline and pipeline.latest else ""

    # --- events and restarts --------------------------------------------------------------------------
    def record(self, pipeline_name: str, stage: str, source: str, message: str) -> None:
        """Add an event to the pipeline's journal."""
        event = {"time": now().isoformat(), "stage": stage, "source": source, "message": message}
        with self._lock:
            entries = self.journal.setdefault(pipeline_name, [])
            entries.append(event)
            del entries[:-JOURNAL_LIMIT]

    def snapshot(self) -> dict[str, Any]:
        """What a restart needs to keep managing the pipelines (see local/persistence.py)."""
        with self._lock:
            return {
                "pipelines": dict(self.pipelines),
                "journal": {k: list(v) for k, v in self.journal.items()},
                "stack_statuses": dict(self._stack_statuses),
                "dead_letters": list(self.delivery.dead_letters),
            }

    def restore(self, snapshot: dict[str, Any]) -> None:
        with self._lock:
            self.delivery.dead_letters.extend(snapshot.get("dead_letters", []))
            self.pipelines.update(snapshot.get("pipelines", {}))
            self.journal.update(snapshot.get("journal", {}))
            self._stack_statuses.update(snapshot.get("stack_statuses", {}))


def failure_reason(error: Exception) -> str:
    """An action's failure as its reason says it: never a raw answer (an HTML error page, XML the client could not
    parse) that the emulator gave in place of an AWS answer; that one's traceback is in the log."""
    from botocore.parsers import ResponseParserError

    text = f"{type(error).__name__}: {error}"
    if isinstance(error, ResponseParserError) or "<html" in text.lower() or "<!doctype" in text.lower():
        return (
            f"{type(error).__name__}: the AWS emulator failed to answer the call (an internal error, not an AWS "
            "answer); its traceback is in local mode's log"
        )
    return text


class _FunctionLog(logging.Handler):
    """Copies the log lines a Lambda action's function writes (on the runner's thread) into the journal."""

    def __init__(self, runner: PipelineRunner, pipeline: str, stage: str, action: str):
        super().__init__(logging.INFO)
        self.runner, self.pipeline, self.stage, self.action = runner, pipeline, stage, action
        self.thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread and record.name.startswith("lambdas."):
            self.runner.record(self.pipeline, self.stage, "function", f"{self.action}: {record.getMessage()}")


@contextlib.contextmanager
def _function_log(runner: PipelineRunner, pipeline: str, stage: str, action: str) -> Iterator[None]:
    handler = _FunctionLog(runner, pipeline, stage, action)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


def pipeline_events(runner: PipelineRunner, name: str, stage: str | None = None) -> list[dict[str, Any]] | None:
    """The journal of a pipeline (by pipeline name, CodePipeline name or stack name) with the CloudFormation
    events of its stacks, oldest first; None for a pipeline the runner does not know."""
    with runner._lock:
        names = {p.name: p for p in runner.pipelines.values()}
        for known in runner.pipelines.values():
            names.update(dict.fromkeys((known.stack_name, known.stack_name.removesuffix(WRAPPER_SUFFIX)), known))
        pipeline = names.get(name)
        if pipeline is None:
            return None
        events = list(runner.journal.get(pipeline.name, []))
        deploys = [
            (stage.get("Name", ""), action["Configuration"]["StackName"])
            for stage in pipeline.definition.get("Stages", [])
            for action in stage.get("Actions", [])
            if action["ActionTypeId"]["Provider"] == "CloudFormation" and "StackName" in action.get("Configuration", {})
        ]
    for stage_name, stack in [("", pipeline.stack_name), *deploys]:
        events += _stack_events(stack, stage_name)
    events.sort(key=lambda e: e["time"])
    return [e for e in events if not e["stage"] or stage.lower() in e["stage"].lower()] if stage else events


def _stack_events(stack_name: str, stage: str) -> list[dict[str, Any]]:
    try:
        found = client("cloudformation").describe_stack_events(StackName=stack_name)["StackEvents"]
    except ClientError:  # not created (yet), or deleted
        return []
    return [
        {
            "time": e["Timestamp"].astimezone(UTC).isoformat(),
            "stage": stage,
            "source": "stack",
            "message": f"{_resource_of(e)} {e['ResourceStatus']} {e.get('ResourceStatusReason') or ''}".strip(),
        }
        for e in reversed(found)
    ]


def _resource_of(event: dict[str, Any]) -> str:
    """`stack` for the stack's own events, `stack/LogicalId` for a resource's."""
    stack, resource = event["StackName"], event["LogicalResourceId"]
    return stack if resource == stack else f"{stack}/{resource}"
