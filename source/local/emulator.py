# SPDX-License-Identifier: Apache-2.0
"""The embedded AWS emulator: moto's server on 127.0.0.1, with every boto3 client of this process pointed at it."""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from lambdas.shared.aws import reset_clients

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
    "AWS::SageMaker::DataQualityJobDefinition": "JobDefinitionName",
    "AWS::SageMaker::ModelBiasJobDefinition": "JobDefinitionName",
    "AWS::SageMaker::ModelExplainabilityJobDefinition": "JobDefinitionName",
    "AWS::SageMaker::ModelQualityJobDefinition": "JobDefinitionName",
    "AWS::SageMaker::MonitoringSchedule": "MonitoringScheduleName",
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

    CodePipelineResponse.put_job_success_result = put_job_success_result  # type: ignore[attr-defined]
    CodePipelineResponse.put_job_failure_result = put_job_failure_result  # type: ignore[attr-defined]


def fill_cloudformation_gaps() -> None:
    """Placeholders for unmodelled types, and outputs that wait for their resources (idempotent)."""
    register_placeholder_resources()
    outputs_wait_for_resources()
    missing_stack_instances_are_not_found()
    generated_names_fit_their_limits()
    custom_resource_answers_reach_their_stack()


def custom_resource_answers_reach_their_stack() -> None:
    """moto files a custom resource's answer under the account of the (unsigned) answer request, the default
    one; a StackSet instance's stack lives in a stage account. The answer goes to the account in its StackId."""
    from moto.cloudformation.models import cloudformation_backends
    from moto.cloudformation.responses import CloudFormationResponse

    original = CloudFormationResponse.process_cfn_response
    if getattr(original, "_by_stack", False):
        return

    def process_cfn_response(self: Any) -> Any:
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
    CloudFormationResponse.process_cfn_response = process_cfn_response  # type: ignore[method-assign]


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
    parsing.generate_resource_name = generate  # type: ignore[assignment]


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
    CloudFormationBackend.describe_stack_instance = describe_stack_instance  # type: ignore[method-assign]


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
    parsing.OutputMap.__getitem__ = get_output  # type: ignore[method-assign]


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
