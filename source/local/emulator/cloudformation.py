# SPDX-License-Identifier: Apache-2.0
"""CloudFormation: what moto's stacks and StackSets do differently from the service, made as the service does it."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from .patches import replace
from .placeholders import register_placeholder_resources


def fill_cloudformation_gaps() -> None:
    """Placeholders for unmodelled types, and outputs that wait for their resources (idempotent)."""
    register_placeholder_resources()
    cloudformation_requests_take_turns()
    outputs_wait_for_resources()
    missing_stack_instances_are_not_found()
    generated_names_fit_their_limits()
    custom_resource_answers_reach_their_stack()
    custom_resources_gate_their_dependents()
    custom_resources_hear_their_updates()
    custom_resource_answers_name_loopback()
    stack_instances_are_stacks_of_their_account()
    sagemaker_endpoints_keep_their_names()
    sagemaker_models_keep_their_network_isolation()
    sagemaker_endpoints_carry_their_stack_tags()
    refused_resources_fail_their_stack()


def sagemaker_models_keep_their_network_isolation() -> None:
    """moto's CloudFormation creates an AWS::SageMaker::Model without its EnableNetworkIsolation (DescribeModel
    answers false); SageMaker keeps the value the template gives."""
    from moto.sagemaker.models import Model

    original = vars(Model)["create_from_cloudformation_json"].__func__
    if getattr(original, "_keeps_isolation", False):
        return

    def create_from_cloudformation_json(cls: Any, resource_name: str, cloudformation_json: Any, *args: Any, **kw: Any):
        model = original(cls, resource_name, cloudformation_json, *args, **kw)
        isolation = cloudformation_json["Properties"].get("EnableNetworkIsolation", False)
        model.enable_network_isolation = isolation in (True, "true", "True")
        return model

    create_from_cloudformation_json._keeps_isolation = True  # type: ignore[attr-defined]
    replace(Model, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))


def sagemaker_endpoints_carry_their_stack_tags() -> None:
    """CloudFormation tags the resources it creates with aws:cloudformation:stack-name, stack-id and logical-id;
    moto's CloudFormation does not. The orchestrator reads an endpoint's stack-name tag to know it deployed it."""
    from moto.sagemaker.models import FakeEndpoint

    original = vars(FakeEndpoint)["create_from_cloudformation_json"].__func__
    if getattr(original, "_stack_tags", False):
        return

    def create_from_cloudformation_json(cls: Any, resource_name: str, cloudformation_json: Any, *args: Any, **kw: Any):
        stack_id = str(kw.get("StackId") or "")
        stack_tags = [
            {"Key": "aws:cloudformation:stack-name", "Value": stack_id.split("/")[1] if "/" in stack_id else ""},
            {"Key": "aws:cloudformation:stack-id", "Value": stack_id},
            {"Key": "aws:cloudformation:logical-id", "Value": str(kw.get("LogicalId") or "")},
        ]
        properties = dict(cloudformation_json["Properties"])
        properties["Tags"] = [*(properties.get("Tags") or []), *stack_tags]
        return original(cls, resource_name, {**cloudformation_json, "Properties": properties}, *args, **kw)

    create_from_cloudformation_json._stack_tags = True  # type: ignore[attr-defined]
    replace(FakeEndpoint, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))


def sagemaker_endpoints_keep_their_names() -> None:
    """moto's CloudFormation generates a SageMaker endpoint's name even when the template names it; SageMaker
    keeps the EndpointName given (`endpoint_name`), which monitors and callers then find. An update that changes
    EndpointName replaces the endpoint (the property's "Update requires: Replacement"); moto's update keeps the
    old name.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sagemaker-endpoint.html"""
    from moto.cloudformation import parsing
    from moto.sagemaker.models import FakeEndpoint

    replace(FakeEndpoint, "cloudformation_name_type", staticmethod(lambda: "EndpointName"))

    def update_from_cloudformation_json(
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        if original_resource is not None:
            cls.delete_from_cloudformation_json(original_resource.arn, cloudformation_json, account_id, region_name)
        name = cloudformation_json.get("Properties", {}).get("EndpointName") or (
            original_resource.endpoint_name if original_resource is not None else new_resource_name
        )
        return cls.create_from_cloudformation_json(name, cloudformation_json, account_id, region_name)

    replace(FakeEndpoint, "update_from_cloudformation_json", classmethod(update_from_cloudformation_json))
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


def custom_resources_gate_their_dependents() -> None:
    """moto creates every resource of a stack at once and only waits for a custom resource's answer before calling
    the stack complete, so a resource that depends on it (a monitor's job definition on its baseline, the schedule on
    the job definition) is created before the answer, even though CloudFormation would create it only after. The
    emulator creates a resource once every resource it depends on (DependsOn, Ref, Fn::GetAtt, Fn::Sub) is created
    and every custom resource among them has answered SUCCESS; the rest wait for the answer, which creates them. A
    FAILED answer fails the stack, and what waits for it is never created.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/template-custom-resources.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-dependson.html"""
    from moto.cloudformation.models import Stack
    from moto.cloudformation.parsing import ResourceMap

    original_getitem = ResourceMap.__getitem__
    if getattr(original_getitem, "_gated", False):
        return
    original_creation_complete = ResourceMap.creation_complete
    original_verify_readiness = Stack.verify_readiness

    def getitem(self: Any, key: str) -> Any:
        if key in getattr(self, "_waiting", ()):
            return None  # not created yet: a read never creates a resource that waits for an answer
        return original_getitem(self, key)

    def create(self: Any, template: dict[str, Any]) -> bool:
        self._template = template
        self._resource_json_map = template["Resources"]
        stack_tags = {"aws:cloudformation:stack-name": "AWS::StackName", "aws:cloudformation:stack-id": "AWS::StackId"}
        self.tags.update({tag: self[name] for tag, name in stack_tags.items()})
        self._waiting = set(self._resource_json_map)
        _create_what_no_longer_waits(self)
        return not self._waiting and original_creation_complete(self)

    def creation_complete(self: Any) -> bool:
        return not getattr(self, "_waiting", None) and original_creation_complete(self)

    def verify_readiness(self: Any) -> None:
        if self.status != "CREATE_IN_PROGRESS":
            # A custom resource answering after the stack's creation (an update's answer, a late one) completes no
            # creation: moto would add a CREATE_COMPLETE event after UPDATE_COMPLETE and call the stack created.
            return
        if getattr(self.resource_map, "_waiting", None):
            try:
                _create_what_no_longer_waits(self.resource_map)
            except Exception as error:  # a resource refused after the answer fails its stack as CloudFormation does
                fail_stack(self.stack_id, f"{getattr(error, 'message', None) or error}")
                return
        original_verify_readiness(self)

    def stack_resources(self: Any) -> list[Any]:
        return [resource for resource in self.resource_map.values() if resource is not None]

    getitem._gated = True  # type: ignore[attr-defined]
    replace(ResourceMap, "__getitem__", getitem)
    replace(ResourceMap, "create", create)
    replace(ResourceMap, "creation_complete", creation_complete)
    replace(Stack, "verify_readiness", verify_readiness)
    replace(Stack, "stack_resources", property(stack_resources))


def _create_what_no_longer_waits(resource_map: Any) -> None:
    """Create, in dependency order, each waiting resource whose dependencies are created and answered."""
    from moto.cloudformation.custom_model import CustomModel

    waiting: set[str] = resource_map._waiting
    progressed = True
    while waiting and progressed:
        progressed = False
        for logical_id in resource_map._ResourceMap__get_resources_in_dependency_order():
            if logical_id not in waiting:
                continue
            needs = _dependencies(resource_map._resource_json_map[logical_id]) & set(resource_map._resource_json_map)
            if needs & waiting:
                continue
            unanswered = [
                need
                for need in needs
                if isinstance(resource_map._parsed_resources.get(need), CustomModel)
                and not resource_map._parsed_resources[need].is_created()
            ]
            if unanswered:
                continue
            waiting.discard(logical_id)
            resource_map[logical_id]  # creates it (a lazy map creates a resource when first read)
            progressed = True


def _dependencies(resource_json: dict[str, Any]) -> set[str]:
    """The logical ids a resource's definition names: DependsOn, Ref, Fn::GetAtt and Fn::Sub's ${Name}."""
    import re

    found: set[str] = set()
    depends_on = resource_json.get("DependsOn", [])
    found.update([depends_on] if isinstance(depends_on, str) else depends_on)

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "Ref" and isinstance(value, str):
                    found.add(value)
                elif key == "Fn::GetAtt":
                    found.add(value.split(".")[0] if isinstance(value, str) else value[0])
                elif key == "Fn::Sub":
                    text = value if isinstance(value, str) else value[0]
                    found.update(name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text))
                    if not isinstance(value, str):
                        visit(value[1])
                else:
                    visit(value)
        elif isinstance(node, list):
            for item in node:
                visit(item)

    visit(resource_json.get("Properties", {}))
    return found


def custom_resource_answers_name_loopback() -> None:
    """moto finds the host of a custom resource's ResponseURL by asking Docker's socket when it runs in a container,
    and prints a warning when no Docker answers, then names host.docker.internal. Local mode has no Docker and serves
    moto on 127.0.0.1: the URL names loopback (the in-process Lambdas put the emulator's port in)."""
    from moto import settings

    replace(settings, "moto_server_host", lambda: "http://127.0.0.1")


def custom_resources_hear_their_updates() -> None:
    """moto's custom resource has no update: a stack update that changes its properties (a retraining's new job
    name) reaches no Lambda and drops the resource from the stack. CloudFormation sends the resource's Lambda an
    Update with the new and the old properties and the physical id; so does the emulator, and the answer is filed
    under the updated resource."""
    import threading
    import uuid

    from moto import settings
    from moto.awslambda.utils import get_backend as get_lambda_backend
    from moto.cloudformation.custom_model import CustomModel
    from moto.cloudformation.models import cloudformation_backends

    if getattr(CustomModel, "_hears_updates", False):
        return
    original_create = CustomModel.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create(cls: Any, resource_name: str, cloudformation_json: Any, *args: Any, **kwargs: Any) -> Any:
        created = original_create(cls, resource_name, cloudformation_json, *args, **kwargs)
        created.properties = cloudformation_json["Properties"]  # the Update's OldResourceProperties
        return created

    def update(
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        backend = cloudformation_backends[account_id][region_name]
        stack = next(
            s
            for s in backend.stacks.values()
            if s.custom_resources.get(original_resource.logical_id) is original_resource
        )
        properties = cloudformation_json["Properties"]
        updated = CustomModel(
            region_name, str(uuid.uuid4()), original_resource.logical_id, original_resource.resource_name
        )
        updated.properties = properties  # type: ignore[attr-defined]
        stack.add_custom_resource(updated)
        host = f"{settings.moto_server_host()}:{settings.moto_server_port()}"
        event = {
            "RequestType": "Update",
            "ServiceToken": properties["ServiceToken"],
            "ResponseURL": f"{host}/cloudformation_{region_name}/cfnresponse?stack={stack.stack_id}",
            "StackId": stack.stack_id,
            "RequestId": updated.request_id,
            "LogicalResourceId": original_resource.logical_id,
            "PhysicalResourceId": original_resource.physical_resource_id,
            "ResourceType": cloudformation_json["Type"],
            "ResourceProperties": properties,
            "OldResourceProperties": getattr(original_resource, "properties", {}),
        }
        function = get_lambda_backend(account_id, region_name).get_function(properties["ServiceToken"])
        threading.Thread(target=function.invoke, args=(json.dumps(event), {}, {}), daemon=True).start()
        return updated

    replace(CustomModel, "create_from_cloudformation_json", classmethod(create))
    replace(CustomModel, "update_from_cloudformation_json", classmethod(update))
    replace(CustomModel, "_hears_updates", True)


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


def refused_resources_fail_their_stack() -> None:
    """moto creates a stack's resources inside CreateStack (and UpdateStack) and lets a service's refusal escape:
    the request answers a 500 and leaves a half-made stack whose next read tries the refused resource again.
    CloudFormation files the refusal as the resource's CREATE_FAILED (UPDATE_FAILED) event with the service's
    message, and the stack fails with it; so does the emulator, once moto has stopped creating."""
    from moto.cloudformation import parsing
    from moto.cloudformation.models import Event, Stack
    from moto.core.exceptions import ServiceException
    from moto.core.exceptions import _RESTError as RESTError

    original_create, original_change = parsing.parse_and_create_resource, parsing.parse_and_update_resource
    if getattr(original_create, "_refusals_named", False):
        return

    def naming_the_resource(original: Any) -> Any:
        def parse(logical_id: str, resource_json: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return original(logical_id, resource_json, *args, **kwargs)
            except (ServiceException, RESTError) as error:
                error.refused_resource = (logical_id, resource_json.get("Type", ""))  # type: ignore[union-attr]
                raise

        parse._refusals_named = True  # type: ignore[attr-defined]
        return parse

    def refused(stack: Any, error: Exception, operation: str) -> None:
        logical_id, resource_type = getattr(error, "refused_resource", ("", ""))
        code = getattr(error, "code", None) or getattr(error, "error_type", "")
        message = f"{getattr(error, 'message', '') or error} (Error Code: {code})"
        if logical_id:
            stack.events.append(
                Event(stack.stack_id, stack.name, logical_id, "", resource_type, f"{operation}_FAILED", message, None)
            )
            message = f"{logical_id}: {message}"
        # What moto did not create yet is not created by a later read either: the stack holds what it made, and
        # shows no outputs (a failed stack has none to show).
        resources = stack.resource_map
        resources._resource_json_map = {
            k: v for k, v in resources._resource_json_map.items() if k in resources._parsed_resources
        }
        stack.output_map = parsing.OutputMap(resources, {"Outputs": {}}, stack.stack_id)
        failed = "CREATE_FAILED" if operation == "CREATE" else "UPDATE_ROLLBACK_COMPLETE"
        stack._add_stack_event(failed, resource_status_reason=message)
        stack.status, stack.status_reason = failed, message

    original_resources, original_update = Stack.create_resources, Stack.update

    def create_resources(self: Any) -> None:
        try:
            original_resources(self)
        except (ServiceException, RESTError) as error:
            refused(self, error, "CREATE")

    def update(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            original_update(self, *args, **kwargs)
        except (ServiceException, RESTError) as error:
            refused(self, error, "UPDATE")

    replace(parsing, "parse_and_create_resource", naming_the_resource(original_create))
    replace(parsing, "parse_and_update_resource", naming_the_resource(original_change))
    replace(Stack, "create_resources", create_resources)
    replace(Stack, "update", update)


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
