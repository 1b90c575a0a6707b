# SPDX-License-Identifier: Apache-2.0
"""The embedded AWS emulator: moto's server on 127.0.0.1, with every boto3 client of this process pointed at it."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from lambdas.pipeline_orchestration.catalogue import blueprints
from lambdas.shared.aws import reset_clients

# Every fill replaces an attribute of moto (or botocore) in this process. Stopping the emulator puts each one
# back, so that code using moto in process afterwards (the unit tests' mock_aws) meets moto's own behaviour.
_REPLACED: list[tuple[Any, str, Any]] = []
_ABSENT = object()


def replace(owner: Any, name: str, replacement: Any) -> None:
    """Set `owner.name` for as long as the emulator runs."""
    original = vars(owner).get(name, _ABSENT) if isinstance(owner, type) else getattr(owner, name, _ABSENT)
    _REPLACED.append((owner, name, original))
    setattr(owner, name, replacement)


def restore_moto() -> None:
    """Undo every replacement, newest first."""
    while _REPLACED:
        owner, name, original = _REPLACED.pop()
        if original is _ABSENT:
            delattr(owner, name)
        else:
            setattr(owner, name, original)


EMULATOR_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@dataclass
class Emulator:
    """moto's threaded server. `start()` returns its endpoint and routes this process's clients there."""

    port: int = 0
    _server: object | None = field(default=None, init=False)
    _saved_env: dict[str, str | None] = field(default_factory=dict, init=False)

    @property
    def endpoint(self) -> str:
        host, port = self._server.get_host_and_port()  # type: ignore[union-attr]
        return f"http://{host}:{port}"

    def start(self) -> str:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        fill_cloudformation_gaps()
        record_codepipeline_job_results()
        state_machines_run_their_executions()
        baseline_jobs_write_their_reports()
        monitoring_schedules_are_described()
        endpoints_say_no_model_runs()
        model_card_exports_are_refused()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()  # type: ignore[attr-defined]
        # moto keeps its state in this process: a new emulator starts from an empty AWS.
        reset = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(reset, timeout=30).close()
        env = {**EMULATOR_ENV, "AWS_ENDPOINT_URL": self.endpoint}
        for name, value in env.items():
            self._saved_env[name] = os.environ.get(name)
            os.environ[name] = value
        os.environ.pop("AWS_PROFILE", None)
        reset_clients()
        return self.endpoint

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()  # type: ignore[attr-defined]
            self._server = None
        restore_moto()
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()
        reset_clients()

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# Resource types our templates use that moto's CloudFormation does not model. The emulator records them as
# placeholders (named, with ARNs for Fn::GetAtt) so that stacks holding them deploy; nothing is simulated.
# CodePipeline pipelines among them are run by the local pipeline runner.
PLACEHOLDER_TYPES = {
    "AWS::ApiGateway::Account": "",
    "AWS::ApiGateway::Model": "Name",
    "AWS::ApiGateway::RequestValidator": "Name",
    "AWS::ApiGateway::Stage": "StageName",
    "AWS::ApplicationAutoScaling::ScalableTarget": "",
    "AWS::ApplicationAutoScaling::ScalingPolicy": "PolicyName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CodeBuild::Project": "Name",
    "AWS::CodePipeline::Pipeline": "Name",
    # The SageMaker resources the blueprints create, as the catalogue declares them (moto's own are kept).
    **{c.cloudformation_type: c.name_property for b in blueprints() for c in b.creates},
}


# CodePipeline job results reported by the functions of Lambda actions, by job id (read by the runner).
JOB_RESULTS: dict[str, dict[str, Any]] = {}


def record_codepipeline_job_results() -> None:
    """moto implements no PutJobSuccessResult/PutJobFailureResult: the emulator records them for the runner."""
    from moto.codepipeline.responses import CodePipelineResponse

    def put_job_success_result(self: Any) -> str:
        JOB_RESULTS[self._get_param("jobId")] = {
            "kind": "success",
            "continuationToken": self._get_param("continuationToken") or "",
            "summary": (self._get_param("executionDetails") or {}).get("summary", ""),
        }
        return "{}"

    def put_job_failure_result(self: Any) -> str:
        details = self._get_param("failureDetails") or {}
        JOB_RESULTS[self._get_param("jobId")] = {"kind": "failure", "message": details.get("message", "")}
        return "{}"

    replace(CodePipelineResponse, "put_job_success_result", put_job_success_result)
    replace(CodePipelineResponse, "put_job_failure_result", put_job_failure_result)


def fill_cloudformation_gaps() -> None:
    """Placeholders for unmodelled types, and outputs that wait for their resources (idempotent)."""
    register_placeholder_resources()
    cloudformation_requests_take_turns()
    outputs_wait_for_resources()
    missing_stack_instances_are_not_found()
    generated_names_fit_their_limits()
    custom_resource_answers_reach_their_stack()
    stack_instances_are_stacks_of_their_account()
    sagemaker_endpoints_keep_their_names()


def sagemaker_endpoints_keep_their_names() -> None:
    """moto's CloudFormation generates a SageMaker endpoint's name even when the template names it; SageMaker
    keeps the EndpointName given (`endpoint_name`), which monitors and callers then find."""
    from moto.cloudformation import parsing
    from moto.sagemaker.models import FakeEndpoint

    replace(FakeEndpoint, "cloudformation_name_type", staticmethod(lambda: "EndpointName"))
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()


# moto's CloudFormation is not thread-safe: a stack's resource map creates a resource the first time it is read.
# A DescribeStacks or ListStackResources served while CreateStack is still creating that stack's resources
# (the runner deploying a blueprint while the API answers a status or dry-run request) then creates them out of
# dependency order, on the reader's thread: an API Gateway deployment before its methods answers the reader with
# "The REST API doesn't contain any methods". In CloudFormation a read never creates anything.
CLOUDFORMATION_TURNS = threading.RLock()


def cloudformation_requests_take_turns() -> None:
    """One CloudFormation request at a time, each seeing the stacks as the one before left them (idempotent)."""
    from moto.cloudformation.responses import CloudFormationResponse

    original = CloudFormationResponse.call_action
    if getattr(original, "_in_turn", False):
        return

    def call_action(self: Any) -> Any:
        with CLOUDFORMATION_TURNS:
            return original(self)

    call_action._in_turn = True  # type: ignore[attr-defined]
    replace(CloudFormationResponse, "call_action", call_action)


def custom_resource_answers_reach_their_stack() -> None:
    """moto files a custom resource's answer under the account of the (unsigned) answer request, the default
    one; a StackSet instance's stack lives in a stage account. The answer goes to the account in its StackId.
    moto also ignores a FAILED answer; CloudFormation fails the resource's stack with the answer's reason."""
    from moto.cloudformation.models import cloudformation_backends
    from moto.cloudformation.responses import CloudFormationResponse

    original = CloudFormationResponse.process_cfn_response
    if getattr(original, "_by_stack", False):
        return

    def process_cfn_response(self: Any) -> Any:
        if self._get_param("Status") == "FAILED":  # moto drops a failure: the resource fails its stack
            reason = self._get_param("Reason") or "the custom resource failed"
            fail_stack(self._get_param("StackId") or "", f"{self._get_param('LogicalResourceId')}: {reason}")
            return 200, {"status": 200}, json.dumps("{}")
        if self._get_param("Status") == "SUCCESS":
            stack_id = self._get_param("StackId") or ""
            parts = stack_id.split(":")
            if len(parts) > 5 and parts[4].isdigit():
                stack = cloudformation_backends[parts[4]][parts[3]].get_stack(stack_id)
                stack.get_custom_resource(self._get_param("LogicalResourceId")).set_data(self._get_param("Data"))
                stack.verify_readiness()
                return 200, {"status": 200}, json.dumps("{}")
        return original(self)

    process_cfn_response._by_stack = True  # type: ignore[attr-defined]
    replace(CloudFormationResponse, "process_cfn_response", process_cfn_response)


# How long a StackSet operation waits for its instance stacks before it fails them (CloudFormation gives a
# custom resource up to an hour; the emulator's resources answer in seconds or never).
STACK_INSTANCE_TIMEOUT = 600.0


def stack_instances_are_stacks_of_their_account() -> None:
    """moto builds a service-managed StackSet instance as a hidden stack that no account holds, so a custom
    resource in it (which looks its stack up in the account) is never sent, and the operation reports
    SUCCEEDED at once. In CloudFormation the instance is a stack of the target account: the emulator files it
    there before creating its resources, deletes it like any stack, and reports the operation RUNNING until its
    instance stacks are complete (FAILED when one failed), and each instance's status from its stack."""
    from moto.cloudformation import models
    from moto.cloudformation.models import CloudFormationBackend, Stack, StackInstance, cloudformation_backends

    original_init = StackInstance.__init__
    if getattr(original_init, "_filed", False):
        return

    def __init__(self: Any, account_id: str, region_name: str, stackset_id: str, stack_name: str, name: str,
                 template: str, parameters: Any, permission_model: str) -> None:  # fmt: skip
        if permission_model == "SELF_MANAGED":
            original_init(
                self, account_id, region_name, stackset_id, stack_name, name, template, parameters, permission_model
            )
            return
        self.account_id, self.region_name, self.stackset_id = account_id, region_name, stackset_id
        self.stack_name, self.name, self.template = stack_name, name, template
        self.parameters, self.permission_model = parameters or [], permission_model
        values = parameters if isinstance(parameters, dict) else {}
        if isinstance(parameters, list):
            values = {p["ParameterKey"]: p["ParameterValue"] for p in parameters}
        instance_name = f"StackSet-{name}-{models.mock_random.uuid4()}"  # CloudFormation's name for it
        self.stack = Stack(
            stack_id=models.generate_stack_id(instance_name, region_name, account_id),
            name=instance_name,
            template=template,
            parameters=values,
            account_id=account_id,
            region_name=region_name,
            notification_arns=[],
            tags=None,
            role_arn=None,
            cross_stack_resources={},
            enable_termination_protection=False,
        )
        self._started = time.monotonic()
        cloudformation_backends[account_id][region_name].stacks[self.stack.stack_id] = self.stack
        self.stack.create_resources()

    original_delete = StackInstance.delete

    def delete(self: Any) -> None:
        if not hasattr(self, "_started"):
            original_delete(self)
            return
        cloudformation_backends[self.account_id][self.region_name].delete_stack(self.stack.stack_id)

    original_to_dict = StackInstance.to_dict

    def to_dict(self: Any) -> dict[str, Any]:
        answer = original_to_dict(self)
        if hasattr(self, "_started"):
            answer["StackId"] = self.stack.stack_id
            detail = _instance_detail(self)
            answer["StackInstanceStatus"] = {"DetailedStatus": detail}
            if detail != "SUCCEEDED":
                answer["Status"] = "OUTDATED"
                answer["StatusReason"] = getattr(self.stack, "status_reason", None) or self.stack.status
        return answer

    original_operation = CloudFormationBackend.describe_stack_set_operation

    def describe_stack_set_operation(self: Any, stackset_name: str, operation_id: str) -> Any:
        stackset, operation = original_operation(self, stackset_name, operation_id)
        if operation["Action"] == "CREATE" and operation["Status"] in ("SUCCEEDED", "RUNNING"):
            details = {_instance_detail(i) for i in stackset.instances.stack_instances if hasattr(i, "_started")}
            operation["Status"] = next((d for d in ("FAILED", "RUNNING") if d in details), "SUCCEEDED")
        return stackset, operation

    __init__._filed = True  # type: ignore[attr-defined]
    replace(StackInstance, "__init__", __init__)
    replace(StackInstance, "delete", delete)
    replace(StackInstance, "to_dict", to_dict)
    replace(CloudFormationBackend, "describe_stack_set_operation", describe_stack_set_operation)


def _instance_detail(instance: Any) -> str:
    """SUCCEEDED, RUNNING or FAILED, from the instance's stack; one that waits too long is failed."""
    status = instance.stack.status
    if status.endswith("_IN_PROGRESS") and time.monotonic() - instance._started > STACK_INSTANCE_TIMEOUT:
        fail_stack(
            instance.stack.stack_id, f"still {status} after {STACK_INSTANCE_TIMEOUT:.0f} s: a resource never answered"
        )
        status = instance.stack.status
    if status.endswith("_IN_PROGRESS"):
        return "RUNNING"
    return "SUCCEEDED" if status in ("CREATE_COMPLETE", "UPDATE_COMPLETE") else "FAILED"


# Length limits of names CloudFormation generates (stack name + logical id + suffix, shortened to fit).
NAME_LIMITS = {
    "AWS::StepFunctions::StateMachine": 80,
    "AWS::Lambda::Function": 64,
    "AWS::IAM::Role": 64,
    "AWS::Events::Rule": 64,
    "AWS::SQS::Queue": 80,
}


def generated_names_fit_their_limits() -> None:
    """moto builds `<stack>-<logical id>-<suffix>` at any length; CloudFormation shortens it to the type's limit."""
    from moto.cloudformation import parsing

    original = parsing.generate_resource_name
    if getattr(original, "_fits", False):
        return

    def generate(resource_type: str, stack_name: str, logical_id: str) -> str:
        name = original(resource_type, stack_name, logical_id)
        limit = NAME_LIMITS.get(resource_type)
        if limit is None or len(name) <= limit:
            return name
        prefix, suffix = name.rsplit("-", 1)
        return f"{prefix[: limit - len(suffix) - 1].rstrip('-')}-{suffix}"

    generate._fits = True  # type: ignore[attr-defined]
    replace(parsing, "generate_resource_name", generate)


def fail_stack(stack_id: str, reason: str) -> None:
    """What CloudFormation does when a resource never answers: the stack's creation fails with the reason."""
    from moto.cloudformation.models import cloudformation_backends

    for backends in cloudformation_backends.values():
        for backend in backends.values():
            stack = backend.stacks.get(stack_id)
            if stack is not None and stack.status.endswith("_IN_PROGRESS"):
                failed = "CREATE_FAILED" if stack.status.startswith("CREATE") else "UPDATE_ROLLBACK_COMPLETE"
                stack._add_stack_event(failed, resource_status_reason=reason)
                stack.status, stack.status_reason = failed, reason


def missing_stack_instances_are_not_found() -> None:
    """moto answers DescribeStackInstance for an account the StackSet has no instance in with a 500;
    CloudFormation answers StackInstanceNotFoundException, which the status routes read as "not deployed"."""
    from moto.cloudformation.exceptions import StackInstanceNotFound
    from moto.cloudformation.models import CloudFormationBackend

    original = CloudFormationBackend.describe_stack_instance
    if getattr(original, "_not_found", False):
        return

    def describe_stack_instance(self: Any, stack_set_name: str, account_id: str, region: str) -> Any:
        stack_set = self.describe_stack_set(stack_set_name)
        if stack_set.instances.get_instance(account_id, region) is None:
            raise StackInstanceNotFound()
        return original(self, stack_set_name, account_id, region)

    describe_stack_instance._not_found = True  # type: ignore[attr-defined]
    replace(CloudFormationBackend, "describe_stack_instance", describe_stack_instance)


def outputs_wait_for_resources() -> None:
    """moto resolves every output whenever a stack is described, and fails on an output whose resource is not
    created yet (a stack waiting for a custom resource), which breaks DescribeStacks for every stack. Real
    CloudFormation shows outputs once they resolve; so does the emulator."""
    from moto.cloudformation import parsing
    from moto.cloudformation.exceptions import ValidationError

    original = parsing.OutputMap.__getitem__
    if getattr(original, "_waits", False):
        return

    def get_output(self: Any, key: str) -> Any:
        try:
            return original(self, key)
        except ValidationError:
            return None

    get_output._waits = True  # type: ignore[attr-defined]
    replace(parsing.OutputMap, "__getitem__", get_output)


_PLACEHOLDERS: dict[str, type] = {}


def register_placeholder_resources() -> None:
    """Teach moto's CloudFormation the PLACEHOLDER_TYPES (idempotent)."""
    from moto.cloudformation import parsing
    from moto.core.common_models import CloudFormationModel

    known = parsing.get_model_map()
    for resource_type, name_property in PLACEHOLDER_TYPES.items():
        if resource_type not in known and resource_type not in _PLACEHOLDERS:
            # Held here: moto finds models through __subclasses__, which keeps only weak references.
            _PLACEHOLDERS[resource_type] = _placeholder_model(CloudFormationModel, resource_type, name_property)
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()


def _placeholder_model(base: type, resource_type: str, name_property: str) -> type:
    _, service, kind = resource_type.split("::")

    class Placeholder(base):  # type: ignore[misc, valid-type]
        def __init__(self, name: str, properties: dict, account_id: str, region: str) -> None:
            self.name, self.properties = name, properties
            self.arn = f"arn:aws:{service.lower()}:{region}:{account_id}:{kind.lower()}/{name}"
            if resource_type == "AWS::SageMaker::MonitoringSchedule":
                _record_monitoring_schedule(name, properties, account_id, region)
                self._key = (account_id, region, name)

        def delete(self, account_id: str, region: str) -> None:
            MONITORING_SCHEDULES.pop(getattr(self, "_key", ("", "", "")), None)

        @property
        def physical_resource_id(self) -> str:
            return self.name

        @staticmethod
        def cloudformation_name_type() -> str:
            return name_property

        @staticmethod
        def cloudformation_type() -> str:
            return resource_type

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return True

        def get_cfn_attribute(self, attribute_name: str) -> str:
            return self.arn if attribute_name.endswith("Arn") else self.name

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # type: ignore[no-untyped-def]
            return cls(resource_name, cloudformation_json.get("Properties", {}), account_id, region_name)

        @classmethod
        def update_from_cloudformation_json(
            cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
        ):  # type: ignore[no-untyped-def]
            return cls(original_resource.name, cloudformation_json.get("Properties", {}), account_id, region_name)

        @classmethod
        def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):  # type: ignore[no-untyped-def]
            return None

    Placeholder.__name__ = Placeholder.__qualname__ = f"Placeholder{service}{kind}"
    return Placeholder


# The emulator's Step Functions passes a Wait state in at most this many seconds (the waits in our state
# machines pace polls of jobs that the emulator finishes at once).
WAIT_SECONDS_CAP = 0.5
# An execution that runs this many states without ending fails, as one past its timeout would.
MAX_TRANSITIONS = 2000


def state_machines_run_their_executions() -> None:
    """moto records StartExecution and leaves the execution RUNNING for ever (its own interpreter, behind a
    global setting, runs tasks through Lambda clients outside the machine's account and outside this process).
    The emulator runs each execution on a thread, as Step Functions would: Wait (shortened), Task on a Lambda
    function of the machine's account (with the state's Retry), Choice, Pass, Succeed and Fail (idempotent)."""
    from moto.stepfunctions.models import StateMachine

    original = StateMachine.start_execution
    if getattr(original, "_runs", False):
        return

    def start_execution(self: Any, region_name: str, account_id: str, execution_name: str, execution_input: str) -> Any:
        execution: Any = original(self, region_name, account_id, execution_name, execution_input)
        if execution.status == "RUNNING" and getattr(execution, "_thread", None) is None:
            # An idempotent repeat of StartExecution returns the running execution: it is not started again.
            execution._thread = threading.Thread(
                target=_run_execution, args=(self.definition, execution), name=f"sfn-{execution_name}", daemon=True
            )
            execution._thread.start()
        return execution

    start_execution._runs = True  # type: ignore[attr-defined]
    replace(StateMachine, "start_execution", start_execution)


class _StateFailed(Exception):
    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error, self.cause = error, cause


def _run_execution(definition: str, execution: Any) -> None:
    from moto.core.utils import utcnow

    try:
        output = _run_states(json.loads(definition), json.loads(execution.execution_input or "{}"), execution)
    except _StateFailed as failure:
        execution.error, execution.cause, status, output = failure.error, failure.cause, "FAILED", None
    except Exception as error:  # a definition the emulator cannot run fails as the service would report it
        execution.error, execution.cause, status, output = "States.Runtime", str(error), "FAILED", None
    else:
        status = "SUCCEEDED"
    if execution.status == "RUNNING":  # not stopped meanwhile
        execution.output = None if output is None else json.dumps(output)
        execution.status, execution.stop_date = status, utcnow()


def _run_states(machine: dict[str, Any], data: Any, execution: Any) -> Any:
    name = machine["StartAt"]
    for _ in range(MAX_TRANSITIONS):
        if execution.status != "RUNNING":
            return data
        state = machine["States"][name]
        kind = state["Type"]
        if kind == "Wait":
            time.sleep(min(float(state.get("Seconds", 0)), WAIT_SECONDS_CAP))
        elif kind == "Task":
            data = _run_task(state, data, execution.account_id, execution.region_name)
        elif kind == "Pass":
            data = state.get("Result", data)
        elif kind == "Choice":
            name = next((c["Next"] for c in state.get("Choices", []) if _matches(c, data)), state.get("Default", ""))
            if not name:
                raise _StateFailed("States.NoChoiceMatched", "no choice matched and there is no default")
            continue
        elif kind == "Succeed":
            return data
        elif kind == "Fail":
            raise _StateFailed(state.get("Error", "States.Fail"), state.get("Cause", ""))
        else:
            raise _StateFailed("States.Runtime", f"the emulator does not run {kind} states")
        if state.get("End"):
            return data
        name = state["Next"]
    raise _StateFailed("States.Timeout", f"no end after {MAX_TRANSITIONS} states")


def _matches(choice: dict[str, Any], data: Any) -> bool:
    value = _path(data, choice.get("Variable", "$"))
    for operator, compare in (
        ("BooleanEquals", lambda a, b: a is b),
        ("StringEquals", lambda a, b: a == b),
        ("NumericEquals", lambda a, b: a == b),
    ):
        if operator in choice:
            return compare(value, choice[operator])
    if "And" in choice:
        return all(_matches(c, data) for c in choice["And"])
    if "Or" in choice:
        return any(_matches(c, data) for c in choice["Or"])
    if "Not" in choice:
        return not _matches(choice["Not"], data)
    raise _StateFailed("States.Runtime", f"the emulator does not evaluate choice {sorted(choice)}")


def _path(data: Any, path: str) -> Any:
    for part in path.removeprefix("$").split(".")[1:] if path != "$" else []:
        data = data.get(part) if isinstance(data, dict) else None
    return data


def _run_task(state: dict[str, Any], data: Any, account_id: str, region: str) -> Any:
    """A Lambda task: the state's Resource is the function's ARN (the result is the function's answer)."""
    from moto.awslambda.utils import get_backend

    resource = state["Resource"]
    if ":lambda:" not in resource or ":function:" not in resource:
        raise _StateFailed("States.Runtime", f"the emulator runs Lambda tasks only, not {resource}")
    attempts: dict[int, int] = {}
    while True:
        function = get_backend(account_id, region).get_function(resource)
        payload, errored, _ = function._invoke_lambda(json.dumps(data))
        if not errored:
            return json.loads(payload) if payload else None
        body = json.loads(payload or "{}")
        error, cause = body.get("errorType", "Lambda.Unknown"), body.get("errorMessage", "")
        for index, rule in enumerate(state.get("Retry", [])):
            if error in rule["ErrorEquals"] or "States.ALL" in rule["ErrorEquals"]:
                attempts[index] = attempts.get(index, 0) + 1
                if attempts[index] <= rule.get("MaxAttempts", 3):
                    time.sleep(min(float(rule.get("IntervalSeconds", 1)), WAIT_SECONDS_CAP))
                    break
        else:
            raise _StateFailed(error, cause)


# Images of SageMaker's own baseline containers (by repository name) and the reports each leaves in its output.
BASELINE_IMAGES = {"sagemaker-model-monitor-analyzer": "analyzer", "sagemaker-clarify-processing": "clarify"}


def baseline_jobs_write_their_reports() -> None:
    """moto completes a processing job as soon as it is created, but runs no container, so a baseline job
    leaves nothing behind. A job on the Model Monitor analyzer or Clarify image writes what those containers
    write to the job's output: statistics.json and constraints.json (data quality), constraints.json (model
    quality, from its analysis_type), analysis.json (Clarify), with the columns of the baseline data."""
    from moto.sagemaker.responses import SageMakerResponse

    original = SageMakerResponse.create_processing_job
    if getattr(original, "_reports", False):
        return

    def create_processing_job(self: Any) -> Any:
        answer = original(self)
        job = self.sagemaker_backend.processing_jobs[self._get_param("ProcessingJobName")]
        repository = str((job.app_specification or {}).get("ImageUri", "")).rsplit("/", 1)[-1].split(":")[0]
        if repository in BASELINE_IMAGES:
            environment = self._get_param("Environment") or {}  # moto keeps no Environment
            _write_reports(self.current_account, job, BASELINE_IMAGES[repository], environment)
        return answer

    create_processing_job._reports = True  # type: ignore[attr-defined]
    replace(SageMakerResponse, "create_processing_job", create_processing_job)


def _write_reports(account_id: str, job: Any, container: str, environment: dict[str, str]) -> None:
    from moto.s3.models import s3_backends

    s3 = s3_backends[account_id]["aws"]
    columns = _baseline_columns(s3, job.processing_inputs)
    if container == "clarify":
        reports = {"analysis.json": _clarify_analysis(columns)}
    elif environment.get("analysis_type") == "MODEL_QUALITY":
        reports = {"constraints.json": _model_quality_constraints(environment.get("problem_type", ""))}
    else:
        reports = _data_quality_reports(columns)
    for output in (job.processing_output_config or {}).get("Outputs", []):
        bucket, _, prefix = output["S3Output"]["S3Uri"].removeprefix("s3://").partition("/")
        for name, content in reports.items():
            key = f"{prefix.rstrip('/')}/{name}".lstrip("/")
            s3.put_object(bucket, key, json.dumps(content, indent=2).encode())


def _baseline_columns(s3: Any, inputs: list[dict[str, Any]]) -> list[str]:
    """The header of the job's first CSV input (the baseline data), or generic names."""
    for item in inputs or []:
        uri = item.get("S3Input", {}).get("S3Uri", "")
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        try:
            first = s3.get_object(bucket, key).value.decode("utf-8-sig", errors="replace").splitlines()[:1]
        except Exception:  # a prefix, or an input that is not the data
            continue
        if first and not key.endswith(".json"):
            return [c.strip() for c in first[0].split(",")]
    return ["_c0", "_c1"]


def _data_quality_reports(columns: list[str]) -> dict[str, Any]:
    statistics = {
        "version": 0.0,
        "dataset": {"item_count": 1},
        "features": [
            {"name": c, "inferred_type": "Fractional", "numerical_statistics": {"common": {"num_present": 1}}}
            for c in columns
        ],
    }
    constraints = {
        "version": 0.0,
        "features": [{"name": c, "inferred_type": "Fractional", "completeness": 1.0} for c in columns],
        "monitoring_config": {"evaluate_constraints": "Enabled", "emit_metrics": "Enabled"},
    }
    return {"statistics.json": statistics, "constraints.json": constraints}


def _model_quality_constraints(problem_type: str) -> dict[str, Any]:
    kinds = {
        "Regression": ("regression_constraints", "mae", "GreaterThanThreshold"),
        "BinaryClassification": ("binary_classification_constraints", "accuracy", "LessThanThreshold"),
    }
    kind, metric, operator = kinds.get(
        problem_type, ("multiclass_classification_constraints", "accuracy", "LessThanThreshold")
    )
    return {"version": 0.0, kind: {metric: {"threshold": 0.5, "comparison_operator": operator}}}


def _clarify_analysis(columns: list[str]) -> dict[str, Any]:
    features = columns[1:] or columns
    return {
        "version": "1.0",
        "explanations": {
            "kernel_shap": {"label0": {"global_shap_values": dict.fromkeys(features, 0.0), "expected_value": 0.0}}
        },
        "pre_training_bias_metrics": {"label": columns[0] if columns else "", "facets": {}},
        "post_training_bias_metrics": {"label": columns[0] if columns else "", "facets": {}},
    }


# Monitoring schedules that stacks created (moto models none), by (account, region, name).
MONITORING_SCHEDULES: dict[tuple[str, str, str], dict[str, Any]] = {}


def monitoring_schedules_are_described() -> None:
    """moto implements no monitoring schedules: the stacks' AWS::SageMaker::MonitoringSchedule placeholders
    record theirs, and DescribeMonitoringSchedule answers from them as SageMaker would (status Scheduled)."""
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.responses import SageMakerResponse

    if getattr(getattr(SageMakerResponse, "describe_monitoring_schedule", None), "_recorded", False):
        return

    def describe_monitoring_schedule(self: Any) -> str:
        name = self._get_param("MonitoringScheduleName")
        schedule = MONITORING_SCHEDULES.get((self.current_account, self.region, name))
        if schedule is None:
            raise ValidationError(message=f"Monitoring Schedule {name} not found")
        return json.dumps(schedule, default=str)

    describe_monitoring_schedule._recorded = True  # type: ignore[attr-defined]
    replace(SageMakerResponse, "describe_monitoring_schedule", describe_monitoring_schedule)


def _record_monitoring_schedule(name: str, properties: dict[str, Any], account_id: str, region: str) -> None:
    from moto.core.utils import utcnow

    now = utcnow().isoformat()
    config = properties.get("MonitoringScheduleConfig", {})
    MONITORING_SCHEDULES[(account_id, region, name)] = {
        "MonitoringScheduleArn": f"arn:aws:sagemaker:{region}:{account_id}:monitoring-schedule/{name.lower()}",
        "MonitoringScheduleName": name,
        "MonitoringScheduleStatus": "Scheduled",
        "MonitoringType": config.get("MonitoringType", "DataQuality"),
        "CreationTime": now,
        "LastModifiedTime": now,
        "MonitoringScheduleConfig": config,
        **({"EndpointName": properties["EndpointName"]} if properties.get("EndpointName") else {}),
    }


NO_MODEL_RUNS = (
    "local mode runs no model container: endpoint {name} is InService in the emulator, but no model serves it, "
    "so there is no prediction to return. Deployed to AWS, the endpoint answers with the model's output."
)


def endpoints_say_no_model_runs() -> None:
    """moto answers InvokeEndpoint with the static text 'body', which reads like a prediction. The emulator
    answers as SageMaker does when the model fails (ModelError, 424), saying that no model runs locally, and
    as SageMaker does for an endpoint that does not exist (ValidationError)."""
    from moto.core.exceptions import JsonRESTError
    from moto.sagemaker.models import sagemaker_backends
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

    if getattr(SageMakerRuntimeResponse.invoke_endpoint, "_says_no_model", False):
        return

    def invoke_endpoint(self: Any) -> Any:
        name = self._get_params().get("EndpointName") or self.path.split("/")[2]
        if name not in sagemaker_backends[self.current_account][self.region].endpoints:
            error = JsonRESTError("ValidationError", f"Endpoint {name} of account {self.current_account} not found.")
        else:
            error = JsonRESTError("ModelError", NO_MODEL_RUNS.format(name=name))
            error.code = 424
        raise error

    invoke_endpoint._says_no_model = True  # type: ignore[attr-defined]
    replace(SageMakerRuntimeResponse, "invoke_endpoint", invoke_endpoint)


def model_card_exports_are_refused() -> None:
    """moto implements no CreateModelCardExportJob and answers a bare 500; the emulator renders no PDF either,
    so it refuses the export as SageMaker refuses a request it cannot serve, saying why (idempotent)."""
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.responses import SageMakerResponse

    if getattr(getattr(SageMakerResponse, "create_model_card_export_job", None), "_refused", False):
        return

    def create_model_card_export_job(self: Any) -> str:
        raise ValidationError(message="Local mode does not export model cards: the emulator renders no PDF.")

    create_model_card_export_job._refused = True  # type: ignore[attr-defined]
    replace(SageMakerResponse, "create_model_card_export_job", create_model_card_export_job)
