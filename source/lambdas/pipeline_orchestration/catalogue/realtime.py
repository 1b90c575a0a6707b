# SPDX-License-Identifier: Apache-2.0
"""Real-time endpoints (byom_realtime_inference_pipeline.yaml): fields, checks, builder, types."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..rules import BucketPath, Choice, Integer, Pattern
from ..settings import Settings
from ..spec import Blueprint, Creates, Field, PipelineType, Reads, StageView, When
from . import parameters as P
from .shared import (
    CUSTOM_IMAGE,
    ENDPOINT_NAME_OPTIONAL,
    INFERENCE_INSTANCE,
    KEEP_ASYNC_OUTPUT,
    KEEP_DATA_CAPTURE,
    KEEP_MODEL_ARTIFACT,
    KEEP_MODEL_PACKAGE,
    KMS_KEY,
    MODEL,
    MODEL_ARTIFACT,
    MODEL_FRAMEWORK,
    MODEL_FRAMEWORK_VERSION,
    MODEL_NAME,
    MODEL_PACKAGE,
    NETWORK_FIELDS,
    _check_image,
    _common,
    _given,
    _inference_image,
    _model_source,
    check_network,
    isolated_network,
)
from .values import DEPLOYMENT_STRATEGIES, SERVERLESS_MEMORY_SIZES

# ---------------------------------------------------------------------------------------------------------
# Real-time endpoint options beyond the predecessor: every one is optional and off by default, so each
# request the predecessor accepted deploys exactly the endpoint it deployed.


def _serverless(values: Mapping[str, Any], _: Settings) -> bool:
    return values.get("serverless_memory_size") not in (None, "")


NOT_SERVERLESS = When(
    lambda values, settings: not _serverless(values, settings),
    "required unless serverless_memory_size is given",
    {
        "not": {
            "properties": {"serverless_memory_size": {"not": {"enum": ["", None]}}},
            "required": ["serverless_memory_size"],
        }
    },
)
SNS_TOPIC_ARN = Pattern(
    pattern=r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?",
    hint="must be an SNS topic ARN such as arn:aws:sns:<region>:<account>:<topic>",
    allow_empty=True,
    reaches="sns_topic",
)
# The defaults the parameter builder fills in when a feature is on and the field was left out.
AUTOSCALING_DEFAULTS = {"autoscaling_min_instances": "1", "autoscaling_target_invocations": "70"}
TRAFFIC_SHIFT_DEFAULTS = {"traffic_shift_percent": "10", "traffic_shift_wait_seconds": "300"}
SERVERLESS_DEFAULTS = {"serverless_max_concurrency": "20"}

REALTIME_INSTANCE = Field(
    "inference_instance",
    INFERENCE_INSTANCE.rule,
    NOT_SERVERLESS,
    stage=True,
    doc="Instance type of the endpoint; not used by a serverless endpoint.",
)
REALTIME_DATA_CAPTURE = Field(
    "data_capture_location",
    BucketPath(),
    NOT_SERVERLESS,
    stage=True,
    doc="bucket/prefix for the endpoint's captured data (serverless endpoints do not capture data).",
)
REALTIME_OPTIONS = (
    Field(
        "autoscaling_max_instances",
        Integer(1, 1000, allow_empty=True),
        stage=True,
        doc="Turns on endpoint autoscaling: the most instances the endpoint scales out to.",
    ),
    Field(
        "autoscaling_min_instances",
        Integer(1, 1000, allow_empty=True),
        stage=True,
        doc="Fewest instances with autoscaling (default 1); also the initial instance count.",
    ),
    Field(
        "autoscaling_target_invocations",
        Integer(1, 1_000_000, allow_empty=True),
        stage=True,
        doc="Invocations per instance per minute that autoscaling keeps the endpoint at (default 70).",
    ),
    Field(
        "deployment_strategy",
        Choice(values=DEPLOYMENT_STRATEGIES, allow_empty=True),
        stage=True,
        doc="Blue/green traffic shifting when the endpoint is updated (ALL_AT_ONCE, CANARY or LINEAR), "
        "rolled back automatically when the endpoint's 5XX-error alarm fires; needs endpoint_name.",
    ),
    Field(
        "traffic_shift_percent",
        Integer(1, 99, allow_empty=True),
        stage=True,
        doc="Percent of capacity shifted by the canary step or by each linear step (default 10).",
    ),
    Field(
        "traffic_shift_wait_seconds",
        Integer(0, 3600, allow_empty=True),
        stage=True,
        doc="Seconds to watch the alarm between traffic-shifting steps (default 300).",
    ),
    Field(
        "serverless_memory_size",
        Choice(values=SERVERLESS_MEMORY_SIZES, allow_empty=True),
        doc="Turns on serverless inference: memory (MB) of each serverless worker, 1024 to 6144 in steps of 1024.",
    ),
    Field(
        "serverless_max_concurrency",
        Integer(1, 200, allow_empty=True),
        stage=True,
        doc="Most concurrent invocations of the serverless endpoint (default 20).",
    ),
    Field(
        "async_output_location",
        BucketPath(allow_empty=True),
        stage=True,
        doc="Turns on asynchronous inference: bucket/prefix for the results (requests are staged under it).",
    ),
    Field(
        "async_success_topic_arn",
        SNS_TOPIC_ARN,
        stage=True,
        doc="SNS topic told when an asynchronous inference succeeds.",
    ),
    Field(
        "async_error_topic_arn",
        SNS_TOPIC_ARN,
        stage=True,
        doc="SNS topic told when an asynchronous inference fails.",
    ),
)


def _check_realtime(values: Mapping[str, Any], settings: Settings) -> list[tuple[str, str]]:
    """Combinations of the real-time options that SageMaker (or the blueprint) cannot deploy."""
    problems: list[tuple[str, str]] = []
    autoscaling = ("autoscaling_max_instances", "autoscaling_min_instances", "autoscaling_target_invocations")
    if _serverless(values, settings):
        problems += [
            (
                name,
                "cannot be combined with serverless inference (serverless_memory_size): "
                "a serverless endpoint scales by its max concurrency",
            )
            for name in autoscaling
            if _given(values, name)
        ]
        if _given(values, "async_output_location"):
            problems.append(
                ("async_output_location", "cannot be combined with serverless inference (serverless_memory_size)")
            )
        if _given(values, "data_capture_location"):
            problems.append(
                ("data_capture_location", "is not supported by serverless endpoints (serverless_memory_size)")
            )
        # SageMaker Serverless Inference runs outside any VPC and cannot isolate the container.
        problems += [
            (name, "is not supported by serverless endpoints (serverless_memory_size)")
            for name in ("subnet_ids", "security_group_ids")
            if _given(values, name)
        ]
        if values.get("enable_network_isolation") == "True":
            problems.append(
                ("enable_network_isolation", "is not supported by serverless endpoints (serverless_memory_size)")
            )
    else:
        if _given(values, "serverless_max_concurrency"):
            problems.append(("serverless_max_concurrency", "needs serverless_memory_size"))
        if not _given(values, "autoscaling_max_instances"):
            problems += [
                (name, "needs autoscaling_max_instances, which turns autoscaling on")
                for name in autoscaling[1:]
                if _given(values, name)
            ]
        elif _given(values, "autoscaling_min_instances"):
            low, high = values["autoscaling_min_instances"], values["autoscaling_max_instances"]
            if isinstance(low, int) and isinstance(high, int) and low > high:
                problems.append(
                    ("autoscaling_min_instances", f"must not exceed autoscaling_max_instances ({high}); got {low}")
                )
    strategy = values.get("deployment_strategy")
    shifting = ("traffic_shift_percent", "traffic_shift_wait_seconds")
    if not strategy:
        problems += [(name, "needs deployment_strategy") for name in shifting if _given(values, name)]
    else:
        if not _given(values, "endpoint_name"):
            problems.append(
                (
                    "endpoint_name",
                    "is required with deployment_strategy: the rollback alarm watches the endpoint by name",
                )
            )
        if strategy == "ALL_AT_ONCE" and _given(values, "traffic_shift_percent"):
            problems.append(("traffic_shift_percent", "applies to the CANARY and LINEAR deployment strategies only"))
    if not _given(values, "async_output_location"):
        problems += [
            (name, "needs async_output_location, which turns asynchronous inference on")
            for name in ("async_success_topic_arn", "async_error_topic_arn")
            if _given(values, name)
        ]
    return problems


def build_realtime(view: StageView) -> dict[str, str]:
    return {
        **_common(view),
        "ModelName": view.text("model_name"),
        "InferenceInstance": view.text("inference_instance"),
        "CustomAlgorithmsECRRepoArn": view.settings.ecr_repo_arn,
        **_model_source(view, _inference_image(view)),
        "DataCaptureLocation": view.text("data_capture_location"),
        "EndpointName": view.text("endpoint_name"),
        **_realtime_options(view),
        # The orchestrator's default VPC does not apply to a serverless endpoint, which cannot run in one.
        **isolated_network(view, defaults=view.get("serverless_memory_size") == ""),
    }


def _defaults_when(view: StageView, on: bool, defaults: Mapping[str, str]) -> dict[str, str]:
    """A feature's values as given, with its defaults filled in only when the feature is on."""
    return {name: view.text(name) or (default if on else "") for name, default in defaults.items()}


def _realtime_options(view: StageView) -> dict[str, str]:
    autoscaling = _defaults_when(view, view.get("autoscaling_max_instances") != "", AUTOSCALING_DEFAULTS)
    strategy = view.text("deployment_strategy")
    shifting = _defaults_when(view, bool(strategy), TRAFFIC_SHIFT_DEFAULTS)
    if strategy == "ALL_AT_ONCE":
        shifting["traffic_shift_percent"] = ""
    serverless = _defaults_when(view, view.get("serverless_memory_size") != "", SERVERLESS_DEFAULTS)
    return {
        "AutoscalingMinInstances": autoscaling["autoscaling_min_instances"],
        "AutoscalingMaxInstances": view.text("autoscaling_max_instances"),
        "AutoscalingTargetInvocations": autoscaling["autoscaling_target_invocations"],
        "DeploymentStrategy": strategy,
        "TrafficShiftPercent": shifting["traffic_shift_percent"],
        "TrafficShiftWaitSeconds": shifting["traffic_shift_wait_seconds"],
        "ServerlessMemorySize": view.text("serverless_memory_size"),
        "ServerlessMaxConcurrency": serverless["serverless_max_concurrency"],
        "AsyncOutputLocation": view.text("async_output_location"),
        "AsyncSuccessTopicArn": view.text("async_success_topic_arn"),
        "AsyncErrorTopicArn": view.text("async_error_topic_arn"),
    }


# Parameters of the real-time options beyond the predecessor (empty: the option is off).
_REALTIME_OPTION_PARAMETERS = (
    P.AUTOSCALING_MIN_INSTANCES,
    P.AUTOSCALING_MAX_INSTANCES,
    P.AUTOSCALING_TARGET_INVOCATIONS,
    P.DEPLOYMENT_STRATEGY,
    P.TRAFFIC_SHIFT_PERCENT,
    P.TRAFFIC_SHIFT_WAIT_SECONDS,
    P.SERVERLESS_MEMORY_SIZE,
    P.SERVERLESS_MAX_CONCURRENCY,
    P.ASYNC_OUTPUT_LOCATION,
    P.ASYNC_SUCCESS_TOPIC_ARN,
    P.ASYNC_ERROR_TOPIC_ARN,
)
REALTIME_OPTION_PARAMETERS = tuple(p.name for p in _REALTIME_OPTION_PARAMETERS)
ENDPOINT_CONFIG = Creates(
    "endpoint-config",
    ("sagemaker:CreateEndpointConfig", "sagemaker:DescribeEndpointConfig", "sagemaker:DeleteEndpointConfig"),
    "AWS::SageMaker::EndpointConfig",
    "EndpointConfigName",
)
ENDPOINT = Creates(
    "endpoint",
    ("sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint", "sagemaker:DescribeEndpoint", "sagemaker:DeleteEndpoint"),
    "AWS::SageMaker::Endpoint",
    "EndpointName",
)
REALTIME = Blueprint(
    "byom_realtime_inference_pipeline.yaml",
    (
        *P.COMMON,
        *P.model_parameters(P.REALTIME_INFERENCE_INSTANCE),
        P.DATA_CAPTURE_LOCATION,
        P.ENDPOINT_NAME,
        *_REALTIME_OPTION_PARAMETERS,
        *P.ISOLATED_NETWORK,
    ),
    (MODEL, ENDPOINT_CONFIG, ENDPOINT),
)
# The stack output naming the endpoint (describe reads the output whose key ends so), else endpoint_name.
ENDPOINT_OUTPUT = "SageMakerEndpointName"
REALTIME_READS = (Reads("endpoint", "endpoint", parameter="EndpointName", output=ENDPOINT_OUTPUT),)
REALTIME_KEEPS = (KEEP_DATA_CAPTURE, KEEP_ASYNC_OUTPUT, KEEP_MODEL_ARTIFACT, KEEP_MODEL_PACKAGE)


TYPES = (
    PipelineType(
        "byom_realtime_builtin",
        "BYOMPipelineRealtimeBuiltIn",
        REALTIME,
        (
            MODEL_NAME,
            REALTIME_INSTANCE,
            MODEL_FRAMEWORK,
            MODEL_FRAMEWORK_VERSION,
            MODEL_ARTIFACT,
            MODEL_PACKAGE,
            REALTIME_DATA_CAPTURE,
            ENDPOINT_NAME_OPTIONAL,
            KMS_KEY,
            *REALTIME_OPTIONS,
            *NETWORK_FIELDS,
        ),
        build_realtime,
        (_check_image, _check_realtime, check_network),
        description="Real-time endpoint serving a model on a SageMaker built-in or framework image.",
        reads=REALTIME_READS,
        inference_api=True,
        endpoint="serves",
        rollback=True,
        keeps=REALTIME_KEEPS,
    ),
    PipelineType(
        "byom_realtime_custom",
        "BYOMPipelineRealtimeCustom",
        REALTIME,
        (
            MODEL_NAME,
            REALTIME_INSTANCE,
            CUSTOM_IMAGE,
            MODEL_ARTIFACT,
            MODEL_PACKAGE,
            REALTIME_DATA_CAPTURE,
            ENDPOINT_NAME_OPTIONAL,
            KMS_KEY,
            *REALTIME_OPTIONS,
            *NETWORK_FIELDS,
        ),
        build_realtime,
        (_check_realtime, check_network),
        description="Real-time endpoint serving a model on a custom ECR image.",
        reads=REALTIME_READS,
        inference_api=True,
        endpoint="serves",
        rollback=True,
        keeps=REALTIME_KEEPS,
    ),
)
