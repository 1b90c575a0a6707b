# SPDX-License-Identifier: Apache-2.0
"""Every resource that runs a container, planned with and without VPC settings: with them it carries the
subnets, security groups and isolation asked for, and its role may attach network interfaces in those subnets
only; without them the resource has no VPC property at all and the role no EC2 permission."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from app import stack_id
from lambdas.pipeline_orchestration.catalogue import CATALOGUE
from lambdas.pipeline_orchestration.planner import plan_pipeline
from lambdas.pipeline_orchestration.validation import validate

from .examples import ACCOUNT, body, settings
from .policy_eval import ALLOW, IMPLICIT_DENY, Request, decide
from .resolve import of_type, resolve

pytestmark = pytest.mark.synth

SUBNETS = ["subnet-0123abcd", "subnet-0123456789abcdef0"]
GROUPS = ["sg-0123abcd"]
VPC = {"subnet_ids": SUBNETS, "security_group_ids": GROUPS}
VPC_CONFIG = {"SecurityGroupIds": GROUPS, "Subnets": SUBNETS}
# The resource of each template that runs the containers, and where its VPC configuration lives.
CONTAINERS = {
    "byom_realtime_builtin": ("AWS::SageMaker::Model", ()),
    "byom_batch_custom": ("AWS::SageMaker::Model", ()),
    "byom_data_quality_monitor": ("AWS::SageMaker::DataQualityJobDefinition", ("NetworkConfig",)),
    "byom_model_quality_monitor": ("AWS::SageMaker::ModelQualityJobDefinition", ("NetworkConfig",)),
    "byom_model_bias_monitor": ("AWS::SageMaker::ModelBiasJobDefinition", ("NetworkConfig",)),
    "byom_model_explainability_monitor": ("AWS::SageMaker::ModelExplainabilityJobDefinition", ("NetworkConfig",)),
    "byom_image_builder": ("AWS::CodeBuild::Project", ()),
}
# Types whose jobs a Lambda starts: the custom resource carries the network to it.
STARTED_BY_LAMBDA = {
    "model_training_builtin": "Custom::TrainingJob",
    "model_tuner_builtin": "Custom::HyperparameterTuningJob",
    "model_autopilot_training": "Custom::AutopilotJob",
    "byom_data_quality_monitor": "Custom::BaselineJob",
}
EC2_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcs",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
)


def _resolved(synthesized: Any, pipeline_type: str, **changes: Any) -> dict[str, Any]:
    orchestrator = settings()
    request = {**body(pipeline_type), **changes}
    if "monitor" in pipeline_type:  # the job definitions of Model Monitor; the open engine's jobs: test_open_engine
        request.setdefault("monitoring_engine", "model_monitor")
    if pipeline_type == "byom_image_builder" and "subnet_ids" in changes:
        request["vpc_id"] = "vpc-0123abcd"
    plan = plan_pipeline(validate(request, orchestrator), orchestrator)
    return resolve(synthesized.templates[stack_id(plan.template)], plan.stages[0].parameters)


def _container(resolved: dict[str, Any], pipeline_type: str) -> dict[str, Any]:
    resource_type, path = CONTAINERS[pipeline_type]
    (resource,) = of_type(resolved, resource_type).values()
    properties = resource["Properties"]
    for key in path:
        properties = properties[key]
    return properties


def _statements(resolved: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for resource in resolved["Resources"].values():
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::Role"):
            documents = [resource["Properties"].get("PolicyDocument")]
            documents += [p["PolicyDocument"] for p in resource["Properties"].get("Policies", [])]
            for document in filter(None, documents):
                statements = document["Statement"]
                found += statements if isinstance(statements, list) else [statements]
    return found


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    actions: set[str] = set()
    for statement in statements:
        listed = statement["Action"]
        actions |= set(listed if isinstance(listed, list) else [listed])
    return actions


@pytest.mark.parametrize("pipeline_type", sorted(CONTAINERS))
def test_with_a_vpc_the_container_runs_in_its_subnets(synthesized, pipeline_type):
    resolved = _resolved(synthesized, pipeline_type, **VPC)
    config = _container(resolved, pipeline_type)["VpcConfig"]
    assert {k: config[k] for k in ("SecurityGroupIds", "Subnets")} == VPC_CONFIG
    if pipeline_type == "byom_image_builder":
        assert config["VpcId"] == "vpc-0123abcd"
    assert set(EC2_ACTIONS) <= _actions(_statements(resolved))


@pytest.mark.parametrize("pipeline_type", sorted(CONTAINERS))
def test_without_vpc_settings_nothing_network_is_added(synthesized, pipeline_type):
    resolved = _resolved(synthesized, pipeline_type)
    container = _container(resolved, pipeline_type)
    assert "VpcConfig" not in container and "EnableNetworkIsolation" not in container
    assert not any(action.startswith("ec2:") for action in _actions(_statements(resolved)))


@pytest.mark.parametrize("pipeline_type", ["byom_realtime_builtin", "byom_batch_custom", "byom_data_quality_monitor"])
def test_network_isolation_reaches_the_container(synthesized, pipeline_type):
    resolved = _resolved(synthesized, pipeline_type, enable_network_isolation=True)
    assert _container(resolved, pipeline_type)["EnableNetworkIsolation"] is True


def test_the_monitor_encrypts_inter_container_traffic_unless_told_not_to(synthesized):
    on = _container(_resolved(synthesized, "byom_data_quality_monitor"), "byom_data_quality_monitor")
    off = _container(
        _resolved(synthesized, "byom_data_quality_monitor", encrypt_inter_container_traffic=False),
        "byom_data_quality_monitor",
    )
    assert on == {"EnableInterContainerTrafficEncryption": True}  # as before this setting existed
    assert off["EnableInterContainerTrafficEncryption"] is False


@pytest.mark.parametrize("pipeline_type", sorted(STARTED_BY_LAMBDA))
def test_jobs_started_by_a_lambda_get_the_network_in_their_properties(synthesized, pipeline_type):
    resolved = _resolved(synthesized, pipeline_type, **VPC)
    (job,) = of_type(resolved, STARTED_BY_LAMBDA[pipeline_type]).values()
    assert job["Properties"]["SubnetIds"] == ",".join(SUBNETS)
    assert job["Properties"]["SecurityGroupIds"] == ",".join(GROUPS)
    assert set(EC2_ACTIONS) <= _actions(_statements(resolved))


def _ec2(statements: list[dict[str, Any]], action: str, resource: str, **context: str) -> str:
    role = f"arn:aws:iam::{ACCOUNT}:role/job"
    return decide(Request(role, action, resource, context), statements)


@pytest.mark.parametrize("pipeline_type", ["byom_realtime_builtin", "model_training_builtin", "byom_image_builder"])
def test_the_role_attaches_interfaces_in_the_given_subnets_only(synthesized, pipeline_type):
    statements = [s for s in _statements(_resolved(synthesized, pipeline_type, **VPC)) if "Sid" in s]
    interface = f"arn:aws:ec2:us-east-1:{ACCOUNT}:network-interface/eni-0123abcd"
    ours = f"arn:aws:ec2:us-east-1:{ACCOUNT}:subnet/{SUBNETS[0]}"
    other = f"arn:aws:ec2:us-east-1:{ACCOUNT}:subnet/subnet-99999999"
    service = {"ec2:AuthorizedService": "codebuild.amazonaws.com"} if pipeline_type == "byom_image_builder" else {}
    assert _ec2(statements, "ec2:CreateNetworkInterface", ours) == ALLOW
    assert _ec2(statements, "ec2:CreateNetworkInterface", other) == IMPLICIT_DENY
    group = f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/{GROUPS[0]}"
    assert _ec2(statements, "ec2:CreateNetworkInterface", group) == ALLOW
    other_group = f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/sg-99999999"
    assert _ec2(statements, "ec2:CreateNetworkInterface", other_group) == IMPLICIT_DENY
    for action in ("ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface"):
        extra = service if action.endswith("Permission") else {}
        assert _ec2(statements, action, interface, **{"ec2:Subnet": ours, **extra}) == ALLOW
        assert _ec2(statements, action, interface, **{"ec2:Subnet": other, **extra}) == IMPLICIT_DENY
    assert _ec2(statements, "ec2:DescribeSubnets", "*") == ALLOW


def test_a_multi_account_stage_deploys_with_its_own_accounts_vpc(synthesized):
    base = settings(multi_account=True)
    targets = {
        stage: dataclasses.replace(target, subnet_ids=(f"subnet-{index}000abcd",), security_group_ids=("sg-0123abcd",))
        for index, (stage, target) in enumerate((base.stage_targets or {}).items())
    }
    orchestrator = dataclasses.replace(base, stage_targets=targets)
    plan = plan_pipeline(validate(body("byom_realtime_builtin"), orchestrator), orchestrator)
    template = synthesized.templates[stack_id(plan.template)]
    subnets = []
    for stage in plan.stages:
        (model,) = of_type(resolve(template, stage.parameters), "AWS::SageMaker::Model").values()
        subnets.append(model["Properties"]["VpcConfig"]["Subnets"])
    assert subnets == [["subnet-0000abcd"], ["subnet-1000abcd"], ["subnet-2000abcd"]]


def test_every_pipeline_type_is_covered():
    covered = set(CONTAINERS) | set(STARTED_BY_LAMBDA)
    # The other types share a covered type's template.
    shared = {"byom_realtime_custom": "byom_realtime_builtin", "byom_batch_builtin": "byom_batch_custom"}
    assert set(CATALOGUE) == covered | set(shared)
