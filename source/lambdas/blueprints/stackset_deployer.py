# SPDX-License-Identifier: Apache-2.0
"""CodePipeline Lambda action that deploys one stage of a multi-account pipeline with the StackSets API.

First invocation: create the stage's StackSet (service-managed, Organizations targets) or update it, and
deploy its instance; the job then continues with a continuation token. Each continuation polls the
StackSet operation until it succeeds or fails; a failure fails the job with StackSets' own reason.
CodePipeline's own StackSet action cannot act as a delegated administrator, hence this Lambda.

Before anything is deployed, the artifact must be what the orchestrator wrote (source_artifact.verify_artifact):
a rewritten artifact fails the stage.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass
from typing import Any

from lambdas.blueprints.source_artifact import ArtifactRejected, read_input_artifact, verify_artifact
from lambdas.shared.aws import client
from lambdas.shared.logging import get_logger

logger = get_logger(__name__)

REQUIRED_PARAMETERS = (
    "stackset_name",
    "artifact",
    "template_file",
    "stage_params_file",
    "org_ids",
    "regions",
    "source_bucket",
    "source_key",
)
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
# CreateStackSet takes a template body of at most 51,200 bytes; larger templates go by URL.
TEMPLATE_BODY_LIMIT = 51_200
RUNNING = {"RUNNING", "QUEUED", "STOPPING"}
BUSY_INSTANCE_STATES = {"PENDING", "RUNNING"}


class DeployFailed(Exception):
    """The stage cannot be deployed; the message is what the pipeline shows."""


@dataclass(frozen=True)
class Outcome:
    """What to tell CodePipeline: done, keep polling (with a token), or failed (with a reason)."""

    state: str  # "succeeded" | "continue" | "failed"
    message: str
    token: dict[str, Any] | None = None


@dataclass(frozen=True)
class StageRequest:
    stackset_name: str
    artifact: str
    template_file: str
    stage_params_file: str
    account_ids: tuple[str, ...]
    org_ids: tuple[str, ...]
    regions: tuple[str, ...]
    template_url: str = ""
    # template.zip as the orchestrator wrote it (the source stage's object), which the artifact must match.
    source_bucket: str = ""
    source_key: str = ""

    @classmethod
    def from_user_parameters(cls, text: str) -> StageRequest:
        try:
            raw = json.loads(text or "{}")
        except ValueError as error:
            raise DeployFailed(f"UserParameters must be JSON: {error}") from None
        if not isinstance(raw, dict):
            raise DeployFailed("UserParameters must be a JSON object")
        for name in REQUIRED_PARAMETERS:
            if not raw.get(name):
                raise DeployFailed(f"Your UserParameters JSON must include {name}")
        return cls(
            stackset_name=raw["stackset_name"],
            artifact=raw["artifact"],
            template_file=raw["template_file"],
            stage_params_file=raw["stage_params_file"],
            account_ids=tuple(a for a in _as_list(raw.get("account_ids")) if a),
            org_ids=tuple(o for o in _as_list(raw["org_ids"]) if o),
            regions=tuple(_as_list(raw["regions"])),
            template_url=raw.get("template_url", ""),
            source_bucket=raw["source_bucket"],
            source_key=raw["source_key"],
        )


def _as_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)] if value not in (None, "") else []


def call_as() -> str:
    return "DELEGATED_ADMIN" if os.environ.get("CALL_AS", "SELF") == "DELEGATED_ADMIN" else "SELF"


# ---------------------------------------------------------------------------------------------------------
# Reading the input artifact with the job's own (temporary) artifact credentials


def read_artifact(job_data: dict[str, Any], request: StageRequest) -> tuple[str, list[dict[str, str]]]:
    """The template body and the stage's parameter list from the pipeline's source artifact, once verified."""
    body, revision = read_input_artifact(job_data, request.artifact)
    verify_artifact(body, revision, request.source_bucket, request.source_key)
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        names = set(archive.namelist())
        for wanted in (request.template_file, request.stage_params_file):
            if wanted not in names:
                raise DeployFailed(f"{wanted} is not in the source artifact (it holds {', '.join(sorted(names))})")
        template = archive.read(request.template_file).decode()
        parameters = json.loads(archive.read(request.stage_params_file))
    if not isinstance(parameters, list) or not all(
        isinstance(p, dict) and "ParameterKey" in p and "ParameterValue" in p for p in parameters
    ):
        raise DeployFailed(f"{request.stage_params_file} must be a list of {{ParameterKey, ParameterValue}} objects")
    return template, parameters


# ---------------------------------------------------------------------------------------------------------
# The StackSets calls


class StackSetDeployer:
    """Creates or updates one stage's StackSet and follows its operation to the end."""

    def __init__(self, cloudformation: Any, as_who: str) -> None:
        self.cfn = cloudformation
        self.call_as = as_who

    def start(self, request: StageRequest, template: str, parameters: list[dict[str, str]]) -> Outcome:
        source = self._template_source(request, template)
        stack_set = self._describe_stack_set(request.stackset_name)
        if stack_set is None:
            self.cfn.create_stack_set(
                StackSetName=request.stackset_name,
                Description=f"MLOps pipeline stage {request.stackset_name}",
                Parameters=parameters,
                Capabilities=CAPABILITIES,
                PermissionModel="SERVICE_MANAGED",
                AutoDeployment={"Enabled": False},
                CallAs=self.call_as,
                **source,
            )
            operation_id = self._create_instances(request)
            action = "create"
        else:
            instance = self._instance(request)
            if instance is None:
                # The StackSet exists but its instance was never deployed (or was removed): deploy it now,
                # with the new template and parameters.
                self.cfn.update_stack_set(
                    StackSetName=request.stackset_name,
                    Parameters=parameters,
                    Capabilities=CAPABILITIES,
                    CallAs=self.call_as,
                    **source,
                )
                operation_id = self._create_instances(request)
                action = "create"
            else:
                status = instance.get("StackInstanceStatus", {}).get("DetailedStatus", instance.get("Status"))
                if status in BUSY_INSTANCE_STATES:
                    raise DeployFailed(
                        f"StackSet {request.stackset_name} is still deploying its instance (status {status}); "
                        "retry the stage once that has finished"
                    )
                if instance.get("Status") == "INOPERABLE":
                    raise DeployFailed(
                        f"StackSet {request.stackset_name} has an inoperable instance in account "
                        f"{instance.get('Account')}: {instance.get('StatusReason', 'no reason given')}. "
                        "Delete the instance, fix the cause and retry"
                    )
                response = self.cfn.update_stack_set(
                    StackSetName=request.stackset_name,
                    Parameters=parameters,
                    Capabilities=CAPABILITIES,
                    PermissionModel="SERVICE_MANAGED",
                    DeploymentTargets=self._targets(request),
                    Regions=list(request.regions),
                    CallAs=self.call_as,
                    **source,
                )
                operation_id = response["OperationId"]
                action = "update"
        logger.info("%s of StackSet %s started: operation %s", action, request.stackset_name, operation_id)
        return Outcome(
            "continue",
            f"StackSet {request.stackset_name} {action} started (operation {operation_id})",
            {"operation_id": operation_id, "stackset_name": request.stackset_name},
        )

    def poll(self, request: StageRequest, token: dict[str, Any]) -> Outcome:
        name, operation_id = token["stackset_name"], token["operation_id"]
        operation = self.cfn.describe_stack_set_operation(
            StackSetName=name, OperationId=operation_id, CallAs=self.call_as
        )["StackSetOperation"]
        status = operation["Status"]
        if status in RUNNING:
            return Outcome("continue", f"StackSet {name} operation {operation_id} is {status}", token)
        if status != "SUCCEEDED":
            return Outcome("failed", self._failure_reason(name, operation_id, operation))
        instance = self._instance(request)
        detail = (instance or {}).get("StackInstanceStatus", {}).get("DetailedStatus", "SUCCEEDED")
        if instance is not None and detail != "SUCCEEDED":
            reason = instance.get("StatusReason") or "no reason given"
            return Outcome("failed", f"StackSet {name} instance in account {instance['Account']} is {detail}: {reason}")
        return Outcome("succeeded", f"StackSet {name} deployed (operation {operation_id})")

    def _failure_reason(self, name: str, operation_id: str, operation: dict[str, Any]) -> str:
        reasons = []
        paginator = self.cfn.get_paginator("list_stack_set_operation_results")
        for page in paginator.paginate(StackSetName=name, OperationId=operation_id, CallAs=self.call_as):
            for result in page.get("Summaries", []):
                if result.get("Status") != "SUCCEEDED":
                    where = f"{result.get('Account', '?')}/{result.get('Region', '?')}"
                    reasons.append(f"{where}: {result.get('StatusReason') or result.get('Status')}")
        if operation.get("StatusReason"):
            reasons.insert(0, operation["StatusReason"])
        text = "; ".join(reasons) or "no reason given"
        return f"StackSet {name} operation {operation_id} {operation['Status']}: {text}"

    def _template_source(self, request: StageRequest, template: str) -> dict[str, str]:
        if len(template.encode()) <= TEMPLATE_BODY_LIMIT:
            return {"TemplateBody": template}
        if not request.template_url:
            raise DeployFailed(
                f"{request.template_file} is larger than {TEMPLATE_BODY_LIMIT} bytes and no template_url was given"
            )
        return {"TemplateURL": request.template_url}

    def _targets(self, request: StageRequest) -> dict[str, Any]:
        targets: dict[str, Any] = {"OrganizationalUnitIds": list(request.org_ids)}
        if request.account_ids:
            # Deploy to the stage's account only, not to every account of its organizational unit.
            targets.update(Accounts=list(request.account_ids), AccountFilterType="INTERSECTION")
        return targets

    def _create_instances(self, request: StageRequest) -> str:
        response = self.cfn.create_stack_instances(
            StackSetName=request.stackset_name,
            DeploymentTargets=self._targets(request),
            Regions=list(request.regions),
            CallAs=self.call_as,
        )
        return response["OperationId"]

    def _describe_stack_set(self, name: str) -> dict[str, Any] | None:
        try:
            return self.cfn.describe_stack_set(StackSetName=name, CallAs=self.call_as)["StackSet"]
        except self.cfn.exceptions.StackSetNotFoundException:
            return None

    def _instance(self, request: StageRequest) -> dict[str, Any] | None:
        """The instance of the stage's account in the first region (the one the status is read from)."""
        if not request.account_ids:
            return None
        try:
            return self.cfn.describe_stack_instance(
                StackSetName=request.stackset_name,
                StackInstanceAccount=request.account_ids[0],
                StackInstanceRegion=request.regions[0],
                CallAs=self.call_as,
            )["StackInstance"]
        except (self.cfn.exceptions.StackInstanceNotFoundException, self.cfn.exceptions.StackSetNotFoundException):
            return None


# ---------------------------------------------------------------------------------------------------------
# The CodePipeline job


def run_job(job: dict[str, Any], deployer: StackSetDeployer) -> Outcome:
    """Decide the job's outcome; raises nothing a pipeline user could not read."""
    data = job["data"]
    request = StageRequest.from_user_parameters(
        data.get("actionConfiguration", {}).get("configuration", {}).get("UserParameters", "")
    )
    if data.get("continuationToken"):
        return deployer.poll(request, json.loads(data["continuationToken"]))
    template, parameters = read_artifact(data, request)
    return deployer.start(request, template, parameters)


def report(codepipeline: Any, job_id: str, outcome: Outcome, execution_id: str = "") -> None:
    if outcome.state == "failed":
        details = {"type": "JobFailed", "message": outcome.message[:5000]}
        if execution_id:  # CodePipeline rejects an empty id (a failure before any StackSet operation)
            details["externalExecutionId"] = execution_id
        codepipeline.put_job_failure_result(jobId=job_id, failureDetails=details)
        return
    arguments: dict[str, Any] = {"jobId": job_id, "executionDetails": {"summary": outcome.message[:2048]}}
    if outcome.state == "continue":
        arguments["continuationToken"] = json.dumps(outcome.token, sort_keys=True)
    codepipeline.put_job_success_result(**arguments)


def handler(event: dict[str, Any], context: Any) -> None:
    job = event["CodePipeline.job"]
    deployer = StackSetDeployer(client("cloudformation"), call_as())
    try:
        outcome = run_job(job, deployer)
    except (DeployFailed, ArtifactRejected) as error:
        outcome = Outcome("failed", str(error))
    except Exception as error:
        # The job must be failed explicitly, or the stage waits for its timeout; the error is logged in
        # full and its text becomes the stage's failure message.
        logger.exception("StackSet deployment of job %s failed", job["id"])
        outcome = Outcome("failed", f"{type(error).__name__}: {error}")
    logger.info("job %s: %s - %s", job["id"], outcome.state, outcome.message)
    report(client("codepipeline"), job["id"], outcome)
