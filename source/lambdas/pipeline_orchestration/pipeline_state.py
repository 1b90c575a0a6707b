# SPDX-License-Identifier: Apache-2.0
"""The one state of a pipeline, derived from what happened.

Three sources, read together: the stack the orchestrator created (the CodePipeline wrapper, or the image
builder's own stack), the CodePipeline's latest execution with the state of its stages and actions, and what
that execution deployed (the blueprint stack, or each stage's StackSet instance). Every surface (list, describe,
/pipelinestatus, the CLI's exit codes, notifications, the config-trigger reports) shows the state derived here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lambdas.shared.aws import error_code, is_not_found, operation_of

from . import deployment as readings
from .adapters import Aws, aws_reason, is_client_error
from .catalogue import CATALOGUE, type_named
from .settings import STAGES, Settings
from .spec import SAGEMAKER_KINDS
from .validation import WRAPPER_SUFFIX

PROVISIONING = "PROVISIONING"  # the orchestrator's stack is being created or updated; no execution yet
RUNNING = "RUNNING"  # an execution is deploying
WAITING_APPROVAL = "WAITING_APPROVAL"  # an execution waits for a person to approve the next stage
ACTIVE = "ACTIVE"  # the latest execution succeeded and what it deployed is complete
FAILED = "FAILED"  # the latest execution (or the stack) failed; `reason` says where and why
ROLLED_BACK = "ROLLED_BACK"  # an update failed and was rolled back: the previous version is still in place
DELETING = "DELETING"
# A monitor deployed as asked whose latest monitoring execution found constraint violations, or failed.
VIOLATIONS = "VIOLATIONS"
MONITORING_FAILED = "MONITORING_FAILED"
# A source could not be read (AWS throttled or failed the read): the state is not known, and the answer says why.
# It is never written to the index, which keeps the last state read in full.
UNKNOWN = "UNKNOWN"
STATES = (
    PROVISIONING,
    RUNNING,
    WAITING_APPROVAL,
    ACTIVE,
    FAILED,
    ROLLED_BACK,
    DELETING,
    VIOLATIONS,
    MONITORING_FAILED,
)
# The states an execution ends in: the pipeline has a final outcome, reported as such.
SETTLED = (ACTIVE, FAILED, ROLLED_BACK, VIOLATIONS, MONITORING_FAILED)
# The deployment worked, but what the monitor found (or its failing execution) wants a person's attention.
MONITOR_ALERTS = (VIOLATIONS, MONITORING_FAILED)
UNSUCCESSFUL = (FAILED, ROLLED_BACK)


def has_finished(state: str | None) -> bool:
    """The one rule of "the pipeline has finished" (the CLI's --watch, the demo, the tests): it settled, ACTIVE,
    FAILED, ROLLED_BACK, or a monitor's VIOLATIONS or MONITORING_FAILED; nothing more happens without a new
    request."""
    return state in SETTLED


# The stages a person approves in a multi-account pipeline, and the approval action that gates each.
APPROVAL_STAGES = STAGES[1:]


def approval_action(stage: str) -> str:
    """The manual approval action of the multi-account blueprint that gates `stage` (DeployStaging, ...)."""
    return f"Deploy{stage.capitalize()}"


def approval_stage(action_name: str) -> str | None:
    return next((s for s in APPROVAL_STAGES if approval_action(s) == action_name), None)


# The stack statuses after which a stack holds what it was asked to (every other settled status is a failure).
STACK_COMPLETE = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"})
_INSTANCE_DONE = ("SUCCEEDED", "CURRENT")
_INSTANCE_BUSY = ("PENDING", "RUNNING")
_EXECUTION_BUSY = ("InProgress", "Stopping")


@dataclass(frozen=True)
class PipelineState:
    state: str
    reason: str = ""
    stage: str = ""  # the CodePipeline stage running, waiting or failed
    approval_stage: str = ""  # WAITING_APPROVAL: the stage `mlops approve <name> <stage>` names
    execution_id: str = ""

    def as_dict(self) -> dict[str, str]:
        """The fields that are set (the index keeps strings only)."""
        fields = {
            "state": self.state,
            "reason": self.reason,
            "stage": self.stage,
            "approval_stage": self.approval_stage,
            "execution_id": self.execution_id,
        }
        return {key: value for key, value in fields.items() if value}

    @property
    def settled(self) -> bool:
        return has_finished(self.state)


def _stack_reason(stack: Mapping[str, Any]) -> str:
    reason = stack.get("StackStatusReason") or ""
    return f"stack {stack['StackName']} is {stack['StackStatus']}" + (f": {reason}" if reason else "")


def _from_stack(stack: Mapping[str, Any]) -> PipelineState | None:
    """The state the orchestrator's stack decides alone (before, during or instead of any execution)."""
    status = stack["StackStatus"]
    if status in ("DELETE_IN_PROGRESS", "DELETE_COMPLETE"):
        return PipelineState(DELETING, _stack_reason(stack))
    if status in ("CREATE_IN_PROGRESS", "REVIEW_IN_PROGRESS") or (
        status.endswith("_IN_PROGRESS") and "ROLLBACK" not in status
    ):
        return PipelineState(PROVISIONING, _stack_reason(stack))
    if status == "UPDATE_ROLLBACK_COMPLETE":
        return None  # the previous pipeline is in place: its execution decides, reported as rolled back below
    if status not in STACK_COMPLETE:  # CREATE_FAILED, ROLLBACK_*, UPDATE_ROLLBACK_FAILED, DELETE_FAILED, ...
        return PipelineState(FAILED, _stack_reason(stack))
    return None


def _action_message(action: Mapping[str, Any]) -> str:
    latest = action.get("latestExecution") or {}
    error = (latest.get("errorDetails") or {}).get("message", "")
    summary = latest.get("summary", "")
    return " ".join(dict.fromkeys(m for m in (summary, error) if m)) or latest.get("status", "")


def _where(
    codepipeline: Mapping[str, Any] | None, status: str, execution_id: str
) -> tuple[str, Mapping[str, Any] | None]:
    """The first stage whose run in this execution has `status`, and its first action with that status.

    A stage the execution has not reached yet still shows an earlier execution's run: it does not count."""
    for stage in (codepipeline or {}).get("stageStates", []):
        latest = stage.get("latestExecution") or {}
        if latest.get("status") != status or latest.get("pipelineExecutionId") not in (None, execution_id):
            continue
        for action in stage.get("actionStates", []):
            if (action.get("latestExecution") or {}).get("status") == status:
                return stage.get("stageName", ""), action
        return stage.get("stageName", ""), None
    return "", None


def _waiting_approval(codepipeline: Mapping[str, Any] | None) -> tuple[str, str] | None:
    """(CodePipeline stage, action) of the manual approval that waits, if one does."""
    for stage in (codepipeline or {}).get("stageStates", []):
        for action in stage.get("actionStates", []):
            latest = action.get("latestExecution") or {}
            if latest.get("token") and latest.get("status") == "InProgress":
                return stage.get("stageName", ""), action.get("actionName", "")
    return None


def _deployment_problem(deployment: Mapping[str, Any]) -> tuple[str, str] | None:
    """(state, reason) when what the execution deployed is not complete; None when it is (or is nothing)."""
    if not deployment:
        return None
    if "stages" not in deployment:
        return _stack_problem(deployment.get("stack_name", ""), deployment)
    for stage, instance in deployment["stages"].items():
        status = instance.get("status", "")
        if status in _INSTANCE_DONE:
            continue
        reason = f"the {stage} StackSet instance {instance.get('stackset_name', '')} is {status}"
        reason += f": {instance['reason']}" if instance.get("reason") else ""
        return (RUNNING if status in _INSTANCE_BUSY else FAILED), reason
    return None


def _stack_problem(name: str, summary: Mapping[str, Any]) -> tuple[str, str] | None:
    status = summary.get("status", "")
    if status in STACK_COMPLETE:
        return None
    reason = f"stack {name} is {status}" + (f": {summary['reason']}" if summary.get("reason") else "")
    if status == "UPDATE_ROLLBACK_COMPLETE":
        return ROLLED_BACK, reason + "; the previous deployment is still in place"
    if status.endswith("_IN_PROGRESS") and "ROLLBACK" not in status:
        return RUNNING, reason
    return FAILED, reason


def _monitor_alert(monitoring: Mapping[str, Any] | None, execution_id: str) -> PipelineState | None:
    """VIOLATIONS or MONITORING_FAILED from a monitor's latest execution (LastMonitoringExecutionSummary)."""
    status = (monitoring or {}).get("MonitoringExecutionStatus")
    if status not in ("CompletedWithViolations", "Failed"):
        return None
    assert monitoring is not None
    scheduled = monitoring.get("ScheduledTime")
    when = scheduled.isoformat() if isinstance(scheduled, datetime) else str(scheduled or "")
    which = f"the latest monitoring execution of {monitoring.get('MonitoringScheduleName', 'the schedule')}"
    which += f" (scheduled {when})" if when else ""
    if status == "Failed":
        reason = monitoring.get("FailureReason") or "SageMaker gave no failure reason"
        return PipelineState(MONITORING_FAILED, f"{which} failed: {reason}", "", "", execution_id)
    return PipelineState(VIOLATIONS, f"{which} found constraint violations; describe lists them", "", "", execution_id)


# A job a stack starts (batch transform, training, tuning, Autopilot) runs on after its stack has completed: until
# it has finished the pipeline is running, and a job that failed or was stopped is the pipeline's failure.
JOB_RUNNING = ("InProgress", "Stopping")
JOB_UNSUCCESSFUL = ("Failed", "Stopped")


def _job_problem(jobs: Sequence[Mapping[str, str]] | None, execution_id: str) -> PipelineState | None:
    for job in jobs or []:
        what = f"{job['kind'].replace('_', ' ')} {job['name']}"
        if job["status"] in JOB_UNSUCCESSFUL:
            why = f": {job['failure_reason']}" if job.get("failure_reason") else ""
            return PipelineState(FAILED, f"{what} {job['status']}{why}", "", "", execution_id)
        if job["status"] in JOB_RUNNING:
            return PipelineState(RUNNING, f"{what} is {job['status']}", "", "", execution_id)
    return None


def derive(
    stack: Mapping[str, Any],
    execution: Mapping[str, Any] | None,
    codepipeline: Mapping[str, Any] | None,
    deployment: Mapping[str, Any],
    monitoring: Mapping[str, Any] | None = None,
    jobs: Sequence[Mapping[str, str]] | None = None,
) -> PipelineState:
    """The pipeline's state from its stack, its latest execution (ListPipelineExecutions' summary), the
    CodePipeline's GetPipelineState answer (None before the pipeline exists), what it deployed
    (`deployment.deployed`), the jobs its stack started ({kind, name, status, failure_reason}) and, for a monitor,
    its schedule's latest monitoring execution."""
    decided = _from_stack(stack)
    if decided:
        return decided
    wrapper_rolled_back = stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    if codepipeline is None:
        return PipelineState(PROVISIONING, f"stack {stack['StackName']} has not created its CodePipeline yet")
    if execution is None:
        return PipelineState(PROVISIONING, "the CodePipeline has not started its first execution yet")
    execution_id, status = execution.get("pipelineExecutionId", ""), execution.get("status", "")
    if status in _EXECUTION_BUSY:
        waiting = _waiting_approval(codepipeline)
        if waiting:
            stage, action = waiting
            gated = approval_stage(action) or action
            return PipelineState(
                WAITING_APPROVAL, f"{action} waits for approval of the {gated} stage", stage, gated, execution_id
            )
        stage, running = _where(codepipeline, "InProgress", execution_id)
        doing = f"{stage}/{running.get('actionName')}: {_action_message(running)}" if running else stage
        return PipelineState(RUNNING, f"execution {execution_id} is running {doing}".strip(), stage, "", execution_id)
    if status == "Succeeded":
        problem = _deployment_problem(deployment)
        if problem:
            return PipelineState(problem[0], problem[1], "", "", execution_id)
        if wrapper_rolled_back:
            return PipelineState(
                ROLLED_BACK,
                _stack_reason(stack) + "; the previous pipeline is in place and its last execution succeeded",
                "",
                "",
                execution_id,
            )
        return (
            _job_problem(jobs, execution_id)
            or _monitor_alert(monitoring, execution_id)
            or PipelineState(ACTIVE, "", "", "", execution_id)
        )
    # Failed, Stopped, Superseded, Cancelled: say where, and what the deployed stacks add to it.
    stage, failed = _where(codepipeline, "Failed", execution_id)
    if failed is not None:
        reason = f"stage {stage}, action {failed.get('actionName')}: {_action_message(failed)}"
    elif stage:
        reason = f"stage {stage} failed"
    else:
        reason = f"execution {execution_id} is {status}"
    problem = _deployment_problem(deployment)
    # The deploy action's message often quotes the stack's own reason already: add it only when it says more.
    if problem and problem[1].split(": ", 1)[-1] not in reason:
        reason += f" ({problem[1]})"
    if problem and problem[0] == ROLLED_BACK:
        return PipelineState(ROLLED_BACK, reason, stage, "", execution_id)
    return PipelineState(FAILED, reason, stage, "", execution_id)


# ---------------------------------------------------------------------------------------------------------
# Reading the sources


@dataclass(frozen=True)
class Observation:
    """What was read to derive a state; describe and status show it too, without reading it again."""

    codepipeline_name: str | None
    codepipeline: dict[str, Any] | None
    execution: dict[str, Any] | None
    deployment: dict[str, Any]
    state: PipelineState

    @property
    def execution_started(self) -> datetime | None:
        started = (self.execution or {}).get("startTime")
        return started if isinstance(started, datetime) else None


# AWS's answers that a pipeline, execution or resource is not there (yet, or any more).
_ABSENT = frozenset(
    {
        "PipelineNotFoundException",
        "PipelineExecutionNotFoundException",
        "StackSetNotFoundException",
        "StackInstanceNotFoundException",
    }
)


class Unreadable(Exception):
    """A source of the state could not be read: "could not read" is not "absent"."""

    def __init__(self, error: Exception) -> None:
        operation = operation_of(error)
        super().__init__(f"could not read {operation or 'a source'}: {aws_reason(error)}")


def _read_or_none(read: Any, *args: Any) -> Any:
    """The read's answer; None when AWS says the thing is not there; Unreadable for any other failure."""
    try:
        return read(*args)
    except Exception as error:
        if is_client_error(error) and (error_code(error) in _ABSENT or is_not_found(error)):
            return None  # a pipeline deleted or not created yet between two reads
        raise Unreadable(error) from error


def observe(stack: Mapping[str, Any], settings: Settings, aws: Aws) -> Observation:
    """Read the pipeline's latest execution and deployment, and derive its state (UNKNOWN, with the reason, when
    a source could not be read)."""
    decided = _from_stack(stack)
    if decided:  # the stack is created, updated, deleted or failed: nothing else to read
        return Observation(None, None, None, {}, decided)
    try:
        name = readings.codepipeline_name(dict(stack), aws)
        codepipeline = _read_or_none(aws.pipelines.state, name) if name else None
        executions = _read_or_none(aws.pipelines.executions, name, 1) if name else None
        execution = executions[0] if executions else None
        deployment = readings.deployed(dict(stack), settings, aws) if execution else {}
        monitoring = _latest_monitoring(stack, deployment, settings, aws)
        jobs = _started_jobs(stack, deployment, aws)
        not_started = _change_not_started(stack, execution, settings, aws)
    except Exception as error:
        if not isinstance(error, Unreadable) and not is_client_error(error) and not _unanswered(error):
            raise
        reason = str(error) if isinstance(error, Unreadable) else str(Unreadable(error))
        return Observation(None, None, None, {}, PipelineState(UNKNOWN, reason + "; the state is not known"))
    state = not_started or derive(stack, execution, codepipeline, deployment, monitoring, jobs)
    return Observation(name, codepipeline, execution, deployment, state)


def _unanswered(error: Exception) -> bool:
    from botocore.exceptions import ConnectionError as NoConnection
    from botocore.exceptions import HTTPClientError

    return isinstance(error, NoConnection | HTTPClientError)


# The wrapper stack's parameter naming the pipeline's source object (template.zip in the assets bucket).
SOURCE_PARAMETER = "TemplateZipFileName"


def _change_not_started(
    stack: Mapping[str, Any], execution: Mapping[str, Any] | None, settings: Settings, aws: Aws
) -> PipelineState | None:
    """PROVISIONING while a change (an update, a rollback, a retry) has written a template.zip version that no
    execution has taken yet: the pipeline starts on that object's event, a moment later, and until then the
    previous execution's outcome is not the change's."""
    if execution is None or execution.get("status") in _EXECUTION_BUSY:
        return None
    key = next(
        (p.get("ParameterValue") for p in stack.get("Parameters", []) if p["ParameterKey"] == SOURCE_PARAMETER), ""
    )
    taken = next((r.get("revisionId") for r in execution.get("sourceRevisions", []) if r.get("revisionId")), "")
    if not key or not taken:
        return None
    head = _read_or_none(aws.storage.head, settings.assets_bucket, key)
    version = (head or {}).get("VersionId")
    if not version or version in ("null", taken):
        return None
    return PipelineState(
        PROVISIONING,
        f"a change (version {version} of {key}) waits for its execution to start; the last execution, "
        f"{execution.get('pipelineExecutionId', '')}, is {execution.get('status', '')}",
    )


def _started_jobs(stack: Mapping[str, Any], deployment: Mapping[str, Any], aws: Aws) -> list[dict[str, str]]:
    """The jobs the deployed stack started, each with SageMaker's status of it, named by the stack's outputs."""
    outputs = deployment.get("outputs") or {}
    if not outputs or deployment.get("status") not in STACK_COMPLETE:
        return []
    declared = CATALOGUE.get(type_named(str(stack["StackName"]).removesuffix(WRAPPER_SUFFIX)))
    jobs = []
    for read in declared.reads if declared else ():
        name = next((v for k, v in outputs.items() if k.endswith(read.output)), None) if read.output else None
        if not (read.started_by_stack and name):
            continue
        found = _read_or_none(aws.sagemaker.describe, read.kind, name) or {}
        status = str(found.get(SAGEMAKER_KINDS[read.kind].status_key, ""))
        if status:  # an unreadable or vanished job says nothing against the deployment
            jobs.append(
                {"kind": read.kind, "name": name, "status": status, "failure_reason": found.get("FailureReason", "")}
            )
    return jobs


SCHEDULE_OUTPUT = "MonitoringScheduleJobName"  # the monitor blueprints' output naming their schedule


# The open engine's monitor blueprints have this output, its value the stack parameter's (`MonitoringEngine`).
ENGINE_OUTPUT, OPEN_ENGINE_OUTPUT = "MonitoringEngine", "Open"


def _latest_monitoring(
    stack: Mapping[str, Any], deployment: Mapping[str, Any], settings: Settings, aws: Aws
) -> dict[str, Any] | None:
    """The latest execution of the schedule a monitor's deployed stack names (None for other pipelines): SageMaker's
    LastMonitoringExecutionSummary, or for the open engine the orchestrator's latest record of one."""
    outputs = deployment.get("outputs") or {}
    schedule = next((v for k, v in outputs.items() if k.endswith(SCHEDULE_OUTPUT) and v), None)
    if not schedule:
        return None
    if any(k.endswith(ENGINE_OUTPUT) and v == OPEN_ENGINE_OUTPUT for k, v in outputs.items()):
        from .monitoring.records import recorded_executions  # monitoring imports lifecycle, which imports this

        name = str(stack["StackName"]).removesuffix(WRAPPER_SUFFIX)
        latest = _read_or_none(recorded_executions, settings.assets_bucket, name, 1, aws)
        return latest[0] if latest else None
    described = _read_or_none(aws.monitoring.schedule, schedule)
    return (described or {}).get("LastMonitoringExecutionSummary")
