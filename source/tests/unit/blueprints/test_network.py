# SPDX-License-Identifier: Apache-2.0
"""The jobs the blueprints' Lambdas start run in the stack's VPC, isolated when asked; without VPC settings
their requests are what they were."""

from __future__ import annotations

import pytest

from lambdas.blueprints import autopilot, baseline, training

from .test_baseline import props as baseline_props
from .test_training import TUNER, autopilot_props, training_props

VPC = {"SubnetIds": "subnet-0123abcd,subnet-4567abcd", "SecurityGroupIds": "sg-0123abcd"}
VPC_CONFIG = {"Subnets": ["subnet-0123abcd", "subnet-4567abcd"], "SecurityGroupIds": ["sg-0123abcd"]}


def _training(**extra: str) -> dict:
    return training.training_request(training.TrainingSpec.from_properties(training_props(**extra)))


def _tuning(**extra: str) -> dict:
    spec = training.TrainingSpec.from_properties(training_props(**TUNER, **extra))
    return training.tuning_request(spec)["TrainingJobDefinition"]


@pytest.mark.parametrize("request_of", [_training, _tuning], ids=["training", "tuning"])
def test_training_and_tuning_jobs_run_in_the_vpc_and_isolated_when_asked(request_of):
    sent = request_of(**VPC, EnableNetworkIsolation="True")
    assert sent["VpcConfig"] == VPC_CONFIG
    assert sent["EnableNetworkIsolation"] is True
    assert sent["EnableInterContainerTrafficEncryption"] is True


@pytest.mark.parametrize("request_of", [_training, _tuning], ids=["training", "tuning"])
def test_without_vpc_settings_a_training_job_has_no_vpc(request_of):
    sent = request_of(SubnetIds="", SecurityGroupIds="", EnableNetworkIsolation="False")
    assert "VpcConfig" not in sent and sent["EnableNetworkIsolation"] is False
    assert request_of() == sent  # a stack of before (no such properties) sends the same


def test_the_autopilot_job_runs_in_the_vpc_through_its_security_config():
    spec = autopilot.AutopilotSpec.from_properties(autopilot_props(**VPC))
    security = autopilot.automl_request(spec)["SecurityConfig"]
    assert security["VpcConfig"] == VPC_CONFIG
    plain = autopilot.automl_request(autopilot.AutopilotSpec.from_properties(autopilot_props(SubnetIds="")))
    assert "VpcConfig" not in plain["SecurityConfig"]


@pytest.mark.parametrize("monitor_type", ["DataQuality", "ModelBias"])
def test_the_baseline_job_runs_in_the_vpc_with_the_monitors_network_config(monitor_type):
    spec = baseline.BaselineSpec.from_properties(
        baseline_props(monitor_type, **VPC, EncryptInterContainerTraffic="False")
    )
    assert baseline.processing_request(spec)["NetworkConfig"] == {
        "EnableInterContainerTrafficEncryption": False,
        "EnableNetworkIsolation": False,
        "VpcConfig": VPC_CONFIG,
    }


def test_an_isolated_baseline_outside_a_vpc_is_isolated_only():
    spec = baseline.BaselineSpec.from_properties(baseline_props(EnableNetworkIsolation="True"))
    assert baseline.processing_request(spec)["NetworkConfig"] == {
        "EnableInterContainerTrafficEncryption": True,
        "EnableNetworkIsolation": True,
    }


def test_without_vpc_settings_the_baseline_request_has_no_network_config():
    spec = baseline.BaselineSpec.from_properties(baseline_props(SubnetIds="", SecurityGroupIds=""))
    assert "NetworkConfig" not in baseline.processing_request(spec)
