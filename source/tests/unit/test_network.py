# SPDX-License-Identifier: Apache-2.0
"""VPC and network isolation: the request fields are checked before any AWS call, and the plan sends the
request's subnets and security groups, else the orchestrator's (per stage account in multi-account mode)."""

from __future__ import annotations

import dataclasses

import pytest

from lambdas.pipeline_orchestration.catalogue import CATALOGUE
from lambdas.pipeline_orchestration.planner import plan_pipeline
from lambdas.pipeline_orchestration.settings import STAGES, Settings
from lambdas.pipeline_orchestration.validation import validate
from lambdas.shared.errors import ValidationFailed
from tests.unit.conftest import example, make_settings

SINGLE = make_settings()
SUBNETS = ["subnet-0123abcd", "subnet-0123456789abcdef0"]
GROUPS = ["sg-0123abcd"]
VPC = {"subnet_ids": SUBNETS, "security_group_ids": GROUPS}
ISOLABLE = (
    "byom_realtime_builtin",
    "byom_realtime_custom",
    "byom_batch_builtin",
    "byom_batch_custom",
    "byom_data_quality_monitor",
    "byom_model_quality_monitor",
    "model_training_builtin",
    "model_tuner_builtin",
)
NOT_ISOLABLE = {
    "model_autopilot_training": "Autopilot",
    "byom_image_builder": "CodeBuild",
    "byom_model_bias_monitor": "Clarify",
    "byom_model_explainability_monitor": "Clarify",
}


def body(pipeline_type: str, **changes):
    values = example(pipeline_type)
    values.update(changes)
    if pipeline_type == "byom_image_builder" and "subnet_ids" in changes and "vpc_id" not in changes:
        values["vpc_id"] = "vpc-0123abcd"
    return values


def errors_of(values, settings: Settings = SINGLE) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        validate(values, settings)
    return {e.field: e.message for e in caught.value.errors}


def parameters(values, settings: Settings = SINGLE) -> list[dict[str, str]]:
    return [stage.parameters for stage in plan_pipeline(validate(values, settings), settings).stages]


def test_every_pipeline_type_takes_subnets_and_security_groups():
    assert all(t.field("subnet_ids") and t.field("security_group_ids") for t in CATALOGUE.values())
    assert all(t.field("enable_network_isolation") for t in CATALOGUE.values())


@pytest.mark.parametrize("pipeline_type", sorted(CATALOGUE))
def test_the_request_vpc_reaches_the_blueprint(pipeline_type):
    (sent,) = parameters(body(pipeline_type, **VPC))
    assert sent["SubnetIds"] == "subnet-0123abcd,subnet-0123456789abcdef0"
    assert sent["SecurityGroupIds"] == "sg-0123abcd"


@pytest.mark.parametrize("pipeline_type", sorted(CATALOGUE))
def test_without_any_vpc_setting_the_blueprint_gets_none(pipeline_type):
    (sent,) = parameters(example(pipeline_type))
    assert sent["SubnetIds"] == "" and sent["SecurityGroupIds"] == ""
    assert sent.get("EnableNetworkIsolation", "False") == "False"


@pytest.mark.parametrize("pipeline_type", sorted(CATALOGUE))
def test_the_orchestrator_default_applies_when_the_request_names_no_vpc(pipeline_type):
    settings = make_settings(
        subnet_ids=("subnet-aaaabbbb",), security_group_ids=("sg-ccccdddd",), vpc_id="vpc-1234abcd"
    )
    (sent,) = parameters(example(pipeline_type), settings)
    assert (sent["SubnetIds"], sent["SecurityGroupIds"]) == ("subnet-aaaabbbb", "sg-ccccdddd")
    if pipeline_type == "byom_image_builder":
        assert sent["VpcId"] == "vpc-1234abcd"
    # The request's pair replaces the default as a whole.
    (sent,) = parameters(body(pipeline_type, **VPC), settings)
    assert (sent["SubnetIds"], sent["SecurityGroupIds"]) == (",".join(SUBNETS), "sg-0123abcd")


def test_each_stage_account_defaults_to_its_own_vpc_and_a_stage_object_overrides_it():
    base = make_settings(multi_account=True)
    targets = {
        stage: dataclasses.replace(target, subnet_ids=(f"subnet-{i}000aaaa",), security_group_ids=(f"sg-{i}000bbbb",))
        for i, (stage, target) in enumerate((base.stage_targets or {}).items())
    }
    settings = dataclasses.replace(base, stage_targets=targets, subnet_ids=("subnet-ffffffff",))
    plans = parameters(example("byom_realtime_builtin"), settings)
    assert [p["SubnetIds"] for p in plans] == ["subnet-0000aaaa", "subnet-1000aaaa", "subnet-2000aaaa"]
    assert [p["SecurityGroupIds"] for p in plans] == ["sg-0000bbbb", "sg-1000bbbb", "sg-2000bbbb"]
    staged = body(
        "byom_realtime_builtin",
        subnet_ids={"dev": ["subnet-dddddddd"], "staging": ["subnet-eeeeeeee"], "prod": ["subnet-ffff0000"]},
        security_group_ids={"dev": GROUPS, "staging": GROUPS, "prod": ["sg-ffff0000"]},
        enable_network_isolation={"dev": False, "staging": True, "prod": True},
    )
    plans = parameters(staged, settings)
    assert [p["SubnetIds"] for p in plans] == ["subnet-dddddddd", "subnet-eeeeeeee", "subnet-ffff0000"]
    assert [p["SecurityGroupIds"] for p in plans] == ["sg-0123abcd", "sg-0123abcd", "sg-ffff0000"]
    assert [p["EnableNetworkIsolation"] for p in plans] == ["False", "True", "True"]
    assert len(STAGES) == len(plans)


def test_a_training_job_in_multi_account_mode_uses_the_orchestrator_accounts_vpc():
    settings = make_settings(multi_account=True, subnet_ids=("subnet-aaaabbbb",), security_group_ids=("sg-ccccdddd",))
    (sent,) = parameters(example("model_training_builtin"), settings)
    assert sent["SubnetIds"] == "subnet-aaaabbbb"


@pytest.mark.parametrize("pipeline_type", ISOLABLE)
def test_network_isolation_is_sent_where_the_type_can_take_it(pipeline_type):
    (sent,) = parameters(body(pipeline_type, enable_network_isolation=True))
    assert sent["EnableNetworkIsolation"] == "True"


@pytest.mark.parametrize(("pipeline_type", "reason"), sorted(NOT_ISOLABLE.items()))
def test_network_isolation_is_refused_with_the_reason_where_it_cannot_apply(pipeline_type, reason):
    errors = errors_of(body(pipeline_type, enable_network_isolation=True))
    assert set(errors) == {"enable_network_isolation"}
    assert reason in errors["enable_network_isolation"]
    # False is what these types do anyway.
    validate(body(pipeline_type, enable_network_isolation=False), SINGLE)


def test_the_monitors_encrypt_inter_container_traffic_unless_told_not_to():
    (sent,) = parameters(example("byom_data_quality_monitor"))
    assert sent["EncryptInterContainerTraffic"] == "True"
    (sent,) = parameters(body("byom_data_quality_monitor", encrypt_inter_container_traffic=False))
    assert sent["EncryptInterContainerTraffic"] == "False"
    assert (
        "must be"
        in errors_of(body("byom_data_quality_monitor", encrypt_inter_container_traffic="maybe"))[
            "encrypt_inter_container_traffic"
        ]
    )


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"subnet_ids": ["subnet-123"], "security_group_ids": GROUPS}, "subnet_ids[0]", "subnet id"),
        ({"subnet_ids": ["subnet-0123ABCD"], "security_group_ids": GROUPS}, "subnet_ids[0]", "8 or 17 hex"),
        ({"subnet_ids": ["sg-0123abcd"], "security_group_ids": GROUPS}, "subnet_ids[0]", "subnet id"),
        ({"subnet_ids": SUBNETS, "security_group_ids": ["sg-xyz"]}, "security_group_ids[0]", "security group id"),
        ({"subnet_ids": "subnet-0123abcd", "security_group_ids": GROUPS}, "subnet_ids", "JSON list"),
        ({"subnet_ids": [], "security_group_ids": GROUPS}, "subnet_ids", "at least 1"),
        ({"subnet_ids": SUBNETS, "security_group_ids": []}, "security_group_ids", "at least 1"),
        (
            {"subnet_ids": [f"subnet-{i:08x}" for i in range(17)], "security_group_ids": GROUPS},
            "subnet_ids",
            "at most 16",
        ),
        (
            {"subnet_ids": SUBNETS, "security_group_ids": [f"sg-{i:08x}" for i in range(6)]},
            "security_group_ids",
            "at most 5",
        ),
        ({"subnet_ids": SUBNETS}, "security_group_ids", "needs both"),
        ({"security_group_ids": GROUPS}, "subnet_ids", "needs both"),
        ({"enable_network_isolation": "yes"}, "enable_network_isolation", '"True" or "False"'),
    ],
)
@pytest.mark.parametrize("pipeline_type", ["byom_realtime_builtin", "byom_data_quality_monitor", "model_tuner_builtin"])
def test_a_bad_network_value_is_refused_naming_the_field(pipeline_type, changes, field, words):
    errors = errors_of(body(pipeline_type, **changes))
    assert field in errors, errors
    assert words in errors[field]


def test_a_serverless_endpoint_refuses_a_vpc_and_isolation_and_ignores_the_default():
    serverless = {"serverless_memory_size": "2048", "inference_instance": "", "data_capture_location": ""}
    errors = errors_of(body("byom_realtime_builtin", **serverless, **VPC, enable_network_isolation=True))
    assert {"subnet_ids", "security_group_ids", "enable_network_isolation"} <= set(errors)
    assert all("serverless" in errors[name] for name in ("subnet_ids", "security_group_ids"))
    settings = make_settings(subnet_ids=("subnet-aaaabbbb",), security_group_ids=("sg-ccccdddd",))
    (sent,) = parameters(body("byom_realtime_builtin", **serverless), settings)
    assert sent["SubnetIds"] == "" and sent["SecurityGroupIds"] == ""


def test_the_image_builder_needs_the_vpc_id_with_its_subnets():
    values = example("byom_image_builder")
    values.update(VPC)
    assert "CodeBuild" in errors_of(values)["vpc_id"]
    assert "vpc-" in errors_of(body("byom_image_builder", **VPC, vpc_id="vpc-12"))["vpc_id"]
    assert "subnet_ids" in errors_of(body("byom_image_builder", vpc_id="vpc-0123abcd"))
    (sent,) = parameters(body("byom_image_builder", **VPC, vpc_id="vpc-0123abcd"))
    assert sent["VpcId"] == "vpc-0123abcd"


def test_settings_read_the_network_defaults_from_the_environment():
    settings = Settings.from_env(
        {
            "SUBNET_IDS": "subnet-aaaabbbb, subnet-ccccdddd",
            "SECURITY_GROUP_IDS": "sg-aaaabbbb",
            "VPC_ID": "vpc-aaaabbbb",
            "IS_MULTI_ACCOUNT": "True",
            "PROD_SUBNET_IDS": "subnet-11112222",
            "PROD_SECURITY_GROUP_IDS": "sg-11112222",
        }
    )
    assert settings.network(None) == (("subnet-aaaabbbb", "subnet-ccccdddd"), ("sg-aaaabbbb",))
    assert settings.network("prod") == (("subnet-11112222",), ("sg-11112222",))
    assert settings.network("dev") == ((), ())
    assert settings.vpc_id == "vpc-aaaabbbb"
    assert Settings.from_env({}).network(None) == ((), ())
