# SPDX-License-Identifier: Apache-2.0
"""The contract between the orchestrator and the templates: for every pipeline type, account mode and
registry mode, the parameters the plan sends are exactly the parameters the synthesized template declares,
and every value sent passes the template's own constraint."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from app import stack_id
from lambdas.pipeline_orchestration.catalogue import (
    CATALOGUE,
    MULTI_ACCOUNT_PIPELINE,
    SINGLE_ACCOUNT_PIPELINE,
    blueprints,
)
from lambdas.pipeline_orchestration.catalogue.monitors import OPEN_SUFFIX
from lambdas.pipeline_orchestration.planner import plan_pipeline
from lambdas.pipeline_orchestration.settings import MODEL_MONITOR_ENGINE, OPEN_ENGINE
from lambdas.pipeline_orchestration.validation import validate

from .examples import MODES, body, settings

CASES = MODES


def _declared(synthesized: Any, template: str) -> dict[str, dict[str, Any]]:
    assert stack_id(template) in synthesized.templates, f"{template} is not registered in BLUEPRINT_STACKS"
    return synthesized.templates[stack_id(template)].get("Parameters", {})


def _check(declared: dict[str, dict[str, Any]], sent: dict[str, str], what: str) -> None:
    missing = sorted(name for name, spec in declared.items() if name not in sent and "Default" not in spec)
    unknown = sorted(name for name in sent if name not in declared)
    assert not missing, f"{what}: the template needs parameters the plan does not send: {missing}"
    assert not unknown, f"{what}: the plan sends parameters the template does not declare: {unknown}"
    assert set(sent) == set(declared), f"{what}: parameters differ"
    for name, value in sent.items():
        spec = declared[name]
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], value), f"{what}: {name}={value!r} breaks its AllowedPattern"
        if "AllowedValues" in spec:
            assert value in spec["AllowedValues"], f"{what}: {name}={value!r} is not an allowed value"


@pytest.mark.synth
@pytest.mark.parametrize("pipeline_type, multi_account, model_registry", CASES)
def test_parameters_sent_equal_parameters_declared(synthesized, pipeline_type, multi_account, model_registry):
    orchestrator = settings(multi_account, model_registry)
    plan = plan_pipeline(validate(body(pipeline_type, model_registry), orchestrator), orchestrator)
    what = f"{pipeline_type} ({'multi' if multi_account else 'single'}-account, registry {model_registry})"

    blueprint = _declared(synthesized, plan.template)
    for stage in plan.stages:
        _check(blueprint, stage.parameters, f"{what} {plan.template} stage {stage.stage or 'single'}")

    if not plan.direct:
        _check(_declared(synthesized, plan.stack_template), plan.stack_parameters, f"{what} {plan.stack_template}")
    else:
        assert plan.stack_template == plan.template and plan.stack_parameters == plan.stages[0].parameters


@pytest.mark.synth
def test_every_optional_realtime_feature_fits_the_template(synthesized):
    """The real-time options, all on (instance-based), still give parameters the template accepts."""
    orchestrator = settings()
    request = {
        **body("byom_realtime_builtin"),
        "autoscaling_min_instances": 2,
        "autoscaling_max_instances": 6,
        "deployment_strategy": "LINEAR",
        "async_output_location": "my-assets-bucket/async",
        "async_success_topic_arn": f"arn:aws:sns:us-east-1:{orchestrator.account_id}:ok",
        "kms_key_arn": f"arn:aws:kms:us-east-1:{orchestrator.account_id}:key/abc",
    }
    plan = plan_pipeline(validate(request, orchestrator), orchestrator)
    _check(_declared(synthesized, plan.template), plan.stages[0].parameters, "all real-time options")


_CLOUDFORMATION_KEYS = {
    "type": "Type",
    "description": "Description",
    "allowed_pattern": "AllowedPattern",
    "constraint_description": "ConstraintDescription",
    "allowed_values": "AllowedValues",
    "default": "Default",
    "min_value": "MinValue",
    "max_value": "MaxValue",
    "min_length": "MinLength",
    "max_length": "MaxLength",
}


@pytest.mark.synth
@pytest.mark.parametrize(
    "blueprint", [*blueprints(), SINGLE_ACCOUNT_PIPELINE, MULTI_ACCOUNT_PIPELINE], ids=lambda b: b.template
)
def test_each_template_declares_its_parameters_as_the_catalogue_does(synthesized, blueprint):
    """Names, order and constraints of every template's parameters are the catalogue's declarations."""
    declared = _declared(synthesized, blueprint.template)
    expected = {p.name: {_CLOUDFORMATION_KEYS[k]: v for k, v in p.cloudformation().items()} for p in blueprint.declared}

    assert list(declared) == list(expected)
    assert declared == expected


VPC_REQUEST = {
    "subnet_ids": ["subnet-0123abcd", "subnet-0123456789abcdef0"],
    "security_group_ids": ["sg-0123abcd", "sg-0123456789abcdef0"],
}


@pytest.mark.synth
@pytest.mark.parametrize("pipeline_type, multi_account", [(n, m) for n, m, registry in CASES if not registry])
@pytest.mark.parametrize("source", ["request", "orchestrator"])
def test_vpc_settings_fit_every_template(synthesized, pipeline_type, multi_account, source):
    """Subnets and security groups, from the request or the orchestrator's defaults, pass the template's own
    constraints and reach it unchanged."""
    orchestrator = settings(multi_account)
    request = body(pipeline_type)
    if source == "request":
        request.update(VPC_REQUEST)
        if pipeline_type == "byom_image_builder":
            request["vpc_id"] = "vpc-0123abcd"
    else:
        network = {"subnet_ids": tuple(VPC_REQUEST["subnet_ids"]), "security_group_ids": ("sg-0123abcd",)}
        targets = {s: dataclasses.replace(t, **network) for s, t in (orchestrator.stage_targets or {}).items()}
        orchestrator = dataclasses.replace(orchestrator, **network, vpc_id="vpc-0123abcd", stage_targets=targets)
    plan = plan_pipeline(validate(request, orchestrator), orchestrator)
    blueprint = _declared(synthesized, plan.template)
    for stage in plan.stages:
        _check(blueprint, stage.parameters, f"{pipeline_type} with a VPC from the {source}, stage {stage.stage}")
        assert stage.parameters["SubnetIds"] == "subnet-0123abcd,subnet-0123456789abcdef0"


@pytest.mark.synth
@pytest.mark.parametrize("multi_account", [False, True], ids=["single", "multi"])
def test_the_orchestrator_hands_its_vpc_parameters_to_its_lambda(synthesized, multi_account):
    """The orchestrator stack's network parameters reach the Lambda's settings under the names it reads."""
    template = synthesized.templates[
        "mlops-orchestrator-multi-account" if multi_account else "mlops-orchestrator-single-account"
    ]
    names = {"SubnetIds": "SUBNET_IDS", "SecurityGroupIds": "SECURITY_GROUP_IDS", "VpcId": "VPC_ID"}
    if multi_account:
        for stage in ("Dev", "Staging", "Prod"):
            names[f"{stage}SubnetIds"] = f"{stage.upper()}_SUBNET_IDS"
            names[f"{stage}SecurityGroupIds"] = f"{stage.upper()}_SECURITY_GROUP_IDS"
    (function,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and "SUBNET_IDS" in r["Properties"].get("Environment", {}).get("Variables", {})
    ]
    variables = function["Properties"]["Environment"]["Variables"]
    for parameter, variable in names.items():
        assert parameter in template["Parameters"], parameter
        assert variables[variable] == {"Ref": parameter}
        assert template["Parameters"][parameter]["Default"] == ""
    rules = template.get("Rules", {})
    assert "SubnetsWithSecurityGroups" in rules and "VpcIdWithSubnets" in rules
    if multi_account:
        assert {"DevSubnetsWithSecurityGroups", "ProdSubnetsWithSecurityGroups"} <= set(rules)


def _holds(expression: Any, values: dict[str, str]) -> Any:
    """A rule assertion's value for these parameter values (the functions Rules allow that ours use)."""
    if isinstance(expression, dict):
        (function, argument), *_ = expression.items()
        if function == "Ref":
            return values.get(argument, "")
        if function == "Fn::Equals":
            return _holds(argument[0], values) == _holds(argument[1], values)
        if function == "Fn::Not":
            return not _holds(argument[0], values)
        if function == "Fn::And":
            return all(_holds(item, values) for item in argument)
        if function == "Fn::Or":
            return any(_holds(item, values) for item in argument)
        raise AssertionError(f"unexpected rule function {function}")
    return expression


@pytest.mark.synth
@pytest.mark.parametrize(
    ("values", "accepted"),
    [
        ({}, True),
        ({"SubnetIds": "subnet-0123abcd", "SecurityGroupIds": "sg-0123abcd", "VpcId": "vpc-0123abcd"}, True),
        ({"SubnetIds": "subnet-0123abcd", "VpcId": "vpc-0123abcd"}, False),
        ({"SecurityGroupIds": "sg-0123abcd"}, False),
        ({"SubnetIds": "subnet-0123abcd", "SecurityGroupIds": "sg-0123abcd"}, False),
        ({"ProdSubnetIds": "subnet-0123abcd"}, False),
        ({"ProdSubnetIds": "subnet-0123abcd", "ProdSecurityGroupIds": "sg-0123abcd"}, True),
    ],
)
def test_the_orchestrator_refuses_half_a_vpc(synthesized, values, accepted):
    """CloudFormation's rules refuse subnets without security groups (or the reverse), and subnets without VpcId."""
    rules = synthesized.templates["mlops-orchestrator-multi-account"]["Rules"]
    failed = [
        name
        for name, rule in rules.items()
        if _holds(rule.get("RuleCondition", True), values)  # a rule with a condition applies only when it holds
        for assertion in rule["Assertions"]
        if not _holds(assertion["Assert"], values)
    ]
    assert (not failed) == accepted, failed


# Every monitor type, in both account modes, on each engine: chosen by the orchestrator's MonitoringEngine, or
# by the request's monitoring_engine against the other default.
ENGINE_CASES = [
    (name, multi, engine, chosen_by)
    for name, multi, _ in MODES
    if CATALOGUE[name].alternative is not None
    for engine in (OPEN_ENGINE, MODEL_MONITOR_ENGINE)
    for chosen_by in ("orchestrator", "request")
]


@pytest.mark.synth
@pytest.mark.parametrize("pipeline_type, multi_account, engine, chosen_by", ENGINE_CASES)
def test_each_engine_deploys_its_template_with_its_parameters(
    synthesized, pipeline_type, multi_account, engine, chosen_by
):
    other = MODEL_MONITOR_ENGINE if engine == OPEN_ENGINE else OPEN_ENGINE
    orchestrator = dataclasses.replace(
        settings(multi_account), monitoring_engine=engine if chosen_by == "orchestrator" else other
    )
    request = {**body(pipeline_type), **({"monitoring_engine": engine} if chosen_by == "request" else {})}
    plan = plan_pipeline(validate(request, orchestrator), orchestrator)

    assert plan.template.endswith(f"{OPEN_SUFFIX}.yaml") == (engine == OPEN_ENGINE), plan.template
    for stage in plan.stages:
        _check(_declared(synthesized, plan.template), stage.parameters, f"{pipeline_type} on {engine} ({chosen_by})")
    if not plan.direct:
        assert plan.stack_parameters["TemplateFileName"] == plan.template
