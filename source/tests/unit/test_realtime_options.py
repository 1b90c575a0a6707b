# SPDX-License-Identifier: Apache-2.0
"""The real-time options beyond the predecessor: defaults, parameters, and combinations refused with a 400."""

from __future__ import annotations

from typing import Any

import pytest

from lambdas.pipeline_orchestration.catalogue import REALTIME, REALTIME_OPTION_PARAMETERS
from lambdas.pipeline_orchestration.planner import plan_pipeline
from lambdas.pipeline_orchestration.settings import Settings, StageTarget
from lambdas.pipeline_orchestration.validation import validate
from lambdas.shared.errors import ValidationFailed

SETTINGS = Settings()
BASE = {
    "pipeline_type": "byom_realtime_custom",
    "model_name": "fraud-sklearn",
    "custom_image_uri": "111122223333.dkr.ecr.us-east-1.amazonaws.com/mlops-custom-algos:sklearn-v4",
    "model_artifact_location": "models/fraud/model.tar.gz",
    "inference_instance": "ml.c5.large",
    "data_capture_location": "my-assets-bucket/datacapture/fraud",
    "endpoint_name": "fraud-endpoint",
}


def _parameters(settings: Settings = SETTINGS, **extra: Any) -> dict[str, str]:
    request = {k: v for k, v in {**BASE, **extra}.items() if v is not None}
    return plan_pipeline(validate(request, settings), settings).stages[0].parameters


def _errors(**extra: Any) -> dict[str, str]:
    request = {k: v for k, v in {**BASE, **extra}.items() if v is not None}
    with pytest.raises(ValidationFailed) as failed:
        validate(request, SETTINGS)
    assert failed.value.http_status == 400
    return {e.field: e.message for e in failed.value.errors}


def test_a_predecessor_request_turns_every_option_off():
    parameters = _parameters()
    assert {name: parameters[name] for name in REALTIME_OPTION_PARAMETERS} == dict.fromkeys(
        REALTIME_OPTION_PARAMETERS, ""
    )
    assert set(parameters) == set(REALTIME.parameters)


def test_autoscaling_fills_in_its_defaults():
    parameters = _parameters(autoscaling_max_instances=5)
    assert (parameters["AutoscalingMinInstances"], parameters["AutoscalingMaxInstances"]) == ("1", "5")
    assert parameters["AutoscalingTargetInvocations"] == "70"


def test_safe_deployment_fills_in_its_defaults_and_all_at_once_has_no_step():
    canary = _parameters(deployment_strategy="CANARY")
    assert (canary["TrafficShiftPercent"], canary["TrafficShiftWaitSeconds"]) == ("10", "300")
    all_at_once = _parameters(deployment_strategy="ALL_AT_ONCE", traffic_shift_wait_seconds=60)
    assert (all_at_once["TrafficShiftPercent"], all_at_once["TrafficShiftWaitSeconds"]) == ("", "60")


def test_serverless_needs_no_instance_type_nor_data_capture():
    parameters = _parameters(serverless_memory_size=4096, inference_instance=None, data_capture_location=None)
    assert parameters["ServerlessMemorySize"] == "4096" and parameters["ServerlessMaxConcurrency"] == "20"
    assert parameters["InferenceInstance"] == "" and parameters["DataCaptureLocation"] == ""


def test_without_serverless_instance_type_and_data_capture_stay_required():
    errors = _errors(inference_instance=None, data_capture_location=None)
    assert errors == {
        "inference_instance": "is required unless serverless_memory_size is given",
        "data_capture_location": "is required unless serverless_memory_size is given",
    }


@pytest.mark.parametrize(
    "extra, expected",
    [
        (
            {"serverless_memory_size": 2048, "autoscaling_max_instances": 3, "data_capture_location": None},
            {"autoscaling_max_instances": "cannot be combined with serverless inference"},
        ),
        (
            {"serverless_memory_size": 2048, "async_output_location": "my-bucket/async", "data_capture_location": None},
            {"async_output_location": "cannot be combined with serverless inference"},
        ),
        ({"serverless_memory_size": 2048}, {"data_capture_location": "is not supported by serverless endpoints"}),
        (
            {"autoscaling_min_instances": 4, "autoscaling_max_instances": 2},
            {"autoscaling_min_instances": "must not exceed autoscaling_max_instances (2); got 4"},
        ),
        ({"autoscaling_min_instances": 2}, {"autoscaling_min_instances": "needs autoscaling_max_instances"}),
        ({"autoscaling_target_invocations": 50}, {"autoscaling_target_invocations": "needs autoscaling_max_instances"}),
        ({"serverless_max_concurrency": 5}, {"serverless_max_concurrency": "needs serverless_memory_size"}),
        ({"traffic_shift_percent": 20}, {"traffic_shift_percent": "needs deployment_strategy"}),
        (
            {"deployment_strategy": "ALL_AT_ONCE", "traffic_shift_percent": 20},
            {"traffic_shift_percent": "applies to the CANARY and LINEAR deployment strategies only"},
        ),
        (
            {"deployment_strategy": "LINEAR", "endpoint_name": None},
            {"endpoint_name": "is required with deployment_strategy"},
        ),
        (
            {"async_error_topic_arn": "arn:aws:sns:us-east-1:123456789012:failed"},
            {"async_error_topic_arn": "needs async_output_location"},
        ),
        ({"serverless_memory_size": 1000}, {"serverless_memory_size": "must be one of 1024, 2048"}),
        ({"deployment_strategy": "canary"}, {"deployment_strategy": "must be one of ALL_AT_ONCE, CANARY, LINEAR"}),
        ({"async_success_topic_arn": "not-an-arn"}, {"async_success_topic_arn": "must be an SNS topic ARN"}),
    ],
)
def test_invalid_combinations_are_400s_naming_the_fields(extra, expected):
    errors = _errors(**extra)
    for field, text in expected.items():
        assert field in errors, errors
        assert text in errors[field]


def test_every_broken_combination_is_reported_at_once():
    errors = _errors(serverless_memory_size=2048, autoscaling_max_instances=3, async_output_location="my-bucket/async")
    assert {"autoscaling_max_instances", "async_output_location", "data_capture_location"} <= set(errors)


def test_options_may_differ_per_stage_in_multi_account_mode():
    settings = Settings(
        multi_account=True,
        stage_targets={s: StageTarget("111111111111", "ou-ab12-abcdefgh") for s in ("dev", "staging", "prod")},
    )
    request = {**BASE, "autoscaling_max_instances": {"dev": "", "staging": 2, "prod": 8}}
    stages = plan_pipeline(validate(request, settings), settings).stages
    assert [s.parameters["AutoscalingMaxInstances"] for s in stages] == ["", "2", "8"]
    assert [s.parameters["AutoscalingMinInstances"] for s in stages] == ["", "1", "1"]


def test_a_stage_with_min_above_max_names_the_field():
    settings = Settings(
        multi_account=True,
        stage_targets={s: StageTarget("111111111111", "ou-ab12-abcdefgh") for s in ("dev", "staging", "prod")},
    )
    request = {**BASE, "autoscaling_max_instances": 2, "autoscaling_min_instances": {"dev": 1, "staging": 1, "prod": 3}}
    with pytest.raises(ValidationFailed) as failed:
        validate(request, settings)
    assert [e.field for e in failed.value.errors] == ["autoscaling_min_instances"]
