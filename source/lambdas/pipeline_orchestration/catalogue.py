# SPDX-License-Identifier: Apache-2.0
"""The one catalogue of pipeline types.

For each type: its request fields (with their rules, defaults and stage capability), its blueprint
template and the parameters that template declares, its stack-name postfix, and the builder that turns
validated values into those parameters. The validator, the planner, the CDK blueprint stacks, the CLI and
the published schema all read this module; nothing else lists pipeline types.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from . import images
from .rules import (
    ECR_IMAGE_URI,
    ECR_REPO_NAME,
    KMS_KEY_ARN,
    MODEL_PACKAGE_ARN,
    AssetKey,
    Attribute,
    BoolText,
    BucketPath,
    Choice,
    Cron,
    Fraction,
    InstanceType,
    Integer,
    JsonObject,
    Name,
    Pattern,
    Text,
)
from .settings import Settings
from .spec import Blueprint, Field, PipelineType, StageView, When

PIPELINE_PREFIX = "mlops-pipeline"
PROBLEM_TYPES = ("Regression", "BinaryClassification", "MulticlassClassification")

# ---------------------------------------------------------------------------------------------------------
# Conditions


def _registry_on(_: Mapping[str, Any], settings: Settings) -> bool:
    return settings.model_registry


def _registry_off(_: Mapping[str, Any], settings: Settings) -> bool:
    return not settings.model_registry


REGISTRY = When(_registry_on, "required when the orchestrator uses the model registry")
NO_REGISTRY = When(_registry_off, "required unless the orchestrator uses the model registry", by_default=True)


def _problem_in(*types: str) -> When:
    return When(
        lambda values, _: values.get("problem_type") in types,
        f"required when problem_type is {' or '.join(types)}",
        {"properties": {"problem_type": {"enum": list(types)}}, "required": ["problem_type"]},
    )


# ---------------------------------------------------------------------------------------------------------
# Fields shared by several types

# Kept as given (tags and parameters carry it); only stack names are lower-cased.
MODEL_NAME = Field("model_name", Name(max_len=63), True, doc="Name of the model; part of every stack name.")
KMS_KEY = Field("kms_key_arn", KMS_KEY_ARN, stage=True, doc="KMS key for outputs and volumes.")
ENDPOINT_NAME_OPTIONAL = Field(
    "endpoint_name", Name(max_len=63, lower=True, allow_empty=True), stage=True, doc="Custom endpoint name."
)
INFERENCE_INSTANCE = Field(
    "inference_instance", InstanceType(), True, stage=True, doc="Instance type of the endpoint or transform job."
)
MODEL_FRAMEWORK = Field(
    "model_framework",
    Text(
        max_len=64,
        pattern=r"[a-z0-9][a-z0-9-]*",
        pattern_hint="must be a SageMaker framework or algorithm name such as xgboost",
        numbers_ok=False,
    ),
    NO_REGISTRY,
    doc="Built-in algorithm or framework whose image serves the model.",
)
MODEL_FRAMEWORK_VERSION = Field(
    "model_framework_version",
    Text(max_len=32, pattern=r"[A-Za-z0-9][A-Za-z0-9.-]*", pattern_hint="must be a version such as 1.7-1"),
    NO_REGISTRY,
    doc="Version of the framework image.",
)
MODEL_ARTIFACT = Field(
    "model_artifact_location", AssetKey(), NO_REGISTRY, doc="Key of model.tar.gz in the assets bucket."
)
MODEL_PACKAGE = Field(
    "model_package_name", MODEL_PACKAGE_ARN, REGISTRY, doc="Model package version ARN from the model registry."
)
CUSTOM_IMAGE = Field("custom_image_uri", ECR_IMAGE_URI, NO_REGISTRY, doc="ECR URI of the custom inference image.")
DATA_CAPTURE = Field(
    "data_capture_location", BucketPath(), True, stage=True, doc="bucket/prefix for the endpoint's captured data."
)
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
)
SERVERLESS_MEMORY_SIZES = ("1024", "2048", "3072", "4096", "5120", "6144")
DEPLOYMENT_STRATEGIES = ("ALL_AT_ONCE", "CANARY", "LINEAR")
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


# Fields that only make sense with (or without) the registry: given in the other mode they are ignored.
REGISTRY_ONLY = ("model_package_name",)
NON_REGISTRY_ONLY = ("model_framework", "model_framework_version", "model_artifact_location", "custom_image_uri")

MONITOR_COMMON = (
    MODEL_NAME,
    Field("endpoint_name", Name(max_len=63, lower=True), True, stage=True, doc="Endpoint to monitor."),
    Field("baseline_data", AssetKey(), True, doc="Key of the baseline CSV (with header) in the assets bucket."),
    Field(
        "baseline_job_output_location",
        BucketPath(),
        True,
        stage=True,
        doc="bucket/prefix for the baseline job's output.",
    ),
    DATA_CAPTURE,
    Field("monitoring_output_location", BucketPath(), True, stage=True, doc="bucket/prefix for monitoring reports."),
    Field("schedule_expression", Cron(), True, stage=True, doc="Monitoring schedule, e.g. cron(0 * ? * * *)."),
    Field(
        "monitor_max_runtime_seconds",
        Integer(1, 86400),
        default=1800,
        stage=True,
        doc="Maximum runtime of each monitoring job.",
    ),
    Field("instance_type", InstanceType(), True, stage=True, doc="Instance type of the baseline and monitoring jobs."),
    Field(
        "instance_volume_size",
        Integer(1, 16384),
        True,
        stage=True,
        doc="Volume size (GB) of the baseline and monitoring jobs.",
    ),
    Field(
        "baseline_max_runtime_seconds",
        Integer(1, 86400, allow_empty=True),
        stage=True,
        doc="Maximum runtime of the baseline job.",
    ),
    KMS_KEY,
)
PROBLEM_TYPE = Field(
    "problem_type",
    Choice(values=PROBLEM_TYPES),
    True,
    doc="Regression, BinaryClassification or MulticlassClassification.",
)
MONITOR_INFERENCE = Field(
    "monitor_inference_attribute",
    Attribute(allow_empty=True),
    _problem_in("Regression", "MulticlassClassification"),
    doc="Index or JSONPath of the prediction in the endpoint's output.",
)
MONITOR_PROBABILITY = Field(
    "monitor_probability_attribute",
    Attribute(allow_empty=True),
    doc="Index or JSONPath of the probability in the endpoint's output.",
)
PROBABILITY_THRESHOLD = Field(
    "probability_threshold_attribute",
    Fraction(allow_empty=True),
    doc="Threshold that turns a probability into a label.",
)
GROUND_TRUTH = Field(
    "monitor_ground_truth_input", BucketPath(), True, stage=True, doc="bucket/prefix of the ground-truth labels."
)
FEATURES = Field(
    "features_attribute", Attribute(allow_empty=True), doc="JSONPath or index of the features in the endpoint's input."
)


def _allowed_keys(allowed: tuple[str, ...], required: tuple[str, ...] = ()):
    def check(obj: Mapping[str, Any]) -> list[str]:
        problems = [f"needs the key '{key}'" for key in required if key not in obj]
        problems += [f"has the unknown key '{key}' (known: {', '.join(allowed)})" for key in obj if key not in allowed]
        return problems

    return check


def _hyperparameter_ranges(obj: Mapping[str, Any]) -> list[str]:
    problems = []
    for name, spec in obj.items():
        ok = isinstance(spec, list) and len(spec) == 2 and isinstance(spec[1], list)
        if ok and spec[0] in ("continuous", "integer"):
            ok = len(spec[1]) == 2 and all(isinstance(v, int | float) and not isinstance(v, bool) for v in spec[1])
            ok = ok and spec[1][0] <= spec[1][1]
        elif ok and spec[0] == "categorical":
            ok = len(spec[1]) > 0
        else:
            ok = False
        if not ok:
            problems.append(
                f'\'{name}\' must be ["continuous"|"integer", [min, max]] with min <= max, '
                'or ["categorical", [values...]]'
            )
    return problems


def _tuner_configs(obj: Mapping[str, Any]) -> list[str]:
    problems = []
    enums = {
        "objective_type": ("Maximize", "Minimize"),
        "strategy": ("Bayesian", "Random", "Hyperband", "Grid"),
        "early_stopping_type": ("Off", "Auto"),
    }
    for key, allowed in enums.items():
        if key in obj and obj[key] not in allowed:
            problems.append(f"'{key}' must be one of {', '.join(allowed)}")
    for key in ("max_jobs", "max_parallel_jobs"):
        if key in obj and (isinstance(obj[key], bool) or not isinstance(obj[key], int) or obj[key] < 1):
            problems.append(f"'{key}' must be a whole number of at least 1")
    jobs, parallel = obj.get("max_jobs"), obj.get("max_parallel_jobs")
    if isinstance(jobs, int) and isinstance(parallel, int) and parallel > jobs:
        problems.append("'max_parallel_jobs' must not exceed 'max_jobs'")
    return problems


TRAINING_COMMON = (
    MODEL_NAME,
    Field(
        "training_data", AssetKey(max_len=128), True, doc="Key (or prefix) of the training data in the assets bucket."
    ),
    Field("job_output_location", AssetKey(max_len=128), True, doc="Prefix in the assets bucket for the job's output."),
    # Lower-cased: SageMaker lower-cases job names in ARNs, and the blueprints' IAM policies name the job's ARN.
    Field(
        "job_name", Name(max_len=63, lower=True, allow_empty=True), doc="Job name; default <model_name>-<kind>-<hash>."
    ),
    Field("encrypt_inner_traffic", BoolText(), default="True", doc="Encrypt traffic between training containers."),
    Field(
        "max_runtime_per_job", Integer(600, 259200), default=86400, doc="Maximum runtime of one training job (seconds)."
    ),
    Field("compression_type", Choice(values=("Gzip",), allow_empty=True), doc="Compression of the input data."),
    Field("kms_key_arn", KMS_KEY_ARN, doc="KMS key for outputs and volumes."),
)
BUILTIN_TRAINING = (
    *TRAINING_COMMON,
    Field("model_framework", MODEL_FRAMEWORK.rule, True, doc="Built-in algorithm, e.g. xgboost."),
    Field("model_framework_version", MODEL_FRAMEWORK_VERSION.rule, True, doc="Algorithm version, e.g. 1.7-1."),
    Field(
        "algo_hyperparamaters",
        JsonObject(),
        True,
        doc="Hyperparameters of the algorithm (field name as the predecessor spelled it).",
    ),
    Field(
        "validation_data",
        AssetKey(max_len=128, allow_empty=True),
        doc="Key of the validation data in the assets bucket.",
    ),
    Field("instance_type", InstanceType(), default="ml.m4.xlarge", doc="Training instance type."),
    Field("instance_count", Integer(1, 100), default=1, doc="Number of training instances."),
    Field("instance_volume_size", Integer(1, 16384), default=20, doc="Volume size (GB) of each instance."),
    Field("use_spot_instances", BoolText(), default="True", doc="Use managed spot training with checkpoints."),
    Field(
        "max_wait_time_spot_instances",
        Integer(1, 259200),
        default=172800,
        doc="Maximum wait for spot capacity (seconds).",
    ),
    Field("content_type", Text(max_len=256), default="csv", doc="MIME type of the training data."),
    Field("s3_data_type", Choice(values=("S3Prefix", "ManifestFile", "AugmentedManifestFile")), default="S3Prefix"),
    Field("data_distribution", Choice(values=("FullyReplicated", "ShardedByS3Key")), default="FullyReplicated"),
    Field("data_input_mode", Choice(values=("File", "Pipe", "FastFile")), default="File"),
    Field("data_record_wrapping", Choice(values=("RecordIO",), allow_empty=True)),
    Field(
        "attribute_names",
        Text(max_len=2048, allow_empty=True),
        doc="JSON list of attribute names (AugmentedManifestFile).",
    ),
)


# ---------------------------------------------------------------------------------------------------------
# Cross-field checks: (field, message) pairs


def _image_check(scope: str):
    def check(values: Mapping[str, Any], settings: Settings) -> list[tuple[str, str]]:
        framework, version = values.get("model_framework"), values.get("model_framework_version")
        if not framework or not version:
            return []
        problem = images.framework_problem(framework, version, settings.region, scope)
        if not problem:
            return []
        return [("model_framework" if problem.startswith("unknown framework") else "model_framework_version", problem)]

    return check


_check_image = _image_check("inference")
_check_training_image = _image_check("training")


def _given(values: Mapping[str, Any], name: str) -> bool:
    return values.get(name) not in (None, "")


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


def _check_model_quality(values: Mapping[str, Any], _: Settings) -> list[tuple[str, str]]:
    if values.get("problem_type") != "BinaryClassification":
        return []
    problems = []
    if not values.get("baseline_probability_attribute"):
        problems.append(("baseline_probability_attribute", "is required when problem_type is BinaryClassification"))
    has_probability = values.get("monitor_probability_attribute") and values.get("probability_threshold_attribute")
    if not (has_probability or values.get("monitor_inference_attribute")):
        problems.append(
            (
                "monitor_inference_attribute",
                "BinaryClassification needs monitor_inference_attribute, or both monitor_probability_attribute "
                "and probability_threshold_attribute",
            )
        )
    return problems


def _check_spot(values: Mapping[str, Any], _: Settings) -> list[tuple[str, str]]:
    wait, runtime = values.get("max_wait_time_spot_instances"), values.get("max_runtime_per_job")
    if (
        values.get("use_spot_instances") == "True"
        and isinstance(wait, int)
        and isinstance(runtime, int)
        and wait <= runtime
    ):
        return [
            (
                "max_wait_time_spot_instances",
                f"must be greater than max_runtime_per_job ({runtime}) with spot instances",
            )
        ]
    return []


def _check_attribute_names(values: Mapping[str, Any], _: Settings) -> list[tuple[str, str]]:
    names = values.get("attribute_names")
    if not names:
        if values.get("s3_data_type") == "AugmentedManifestFile":
            return [("attribute_names", "is required when s3_data_type is AugmentedManifestFile")]
        return []
    try:
        parsed = json.loads(names)
    except ValueError:
        parsed = None
    if not (isinstance(parsed, list) and all(isinstance(n, str) for n in parsed)):
        return [("attribute_names", 'must be a JSON list of strings, e.g. ["source-ref", "label"]')]
    return []


AUTOPILOT_OBJECTIVES = {
    "Regression": ("MSE",),
    "BinaryClassification": ("Accuracy", "F1", "AUC"),
    "MulticlassClassification": ("Accuracy", "F1macro"),
}


def _check_autopilot(values: Mapping[str, Any], _: Settings) -> list[tuple[str, str]]:
    problem, objective = values.get("problem_type"), values.get("job_objective")
    if bool(problem) != bool(objective):
        missing = "job_objective" if problem else "problem_type"
        return [(missing, "problem_type and job_objective must be given together, or both left empty")]
    if problem and objective not in AUTOPILOT_OBJECTIVES[problem]:
        return [("job_objective", f"must be one of {', '.join(AUTOPILOT_OBJECTIVES[problem])} for {problem}")]
    return []


# ---------------------------------------------------------------------------------------------------------
# Derived names


def short_hash(*parts: Any) -> str:
    """Four hex digits that change when the given values change, and only then."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:4]


MONITOR_KINDS = {
    "byom_data_quality_monitor": "dataquality",
    "byom_model_quality_monitor": "modelquality",
    "byom_model_bias_monitor": "modelbias",
    "byom_model_explainability_monitor": "modelexplainability",
}
# Values of a monitor request that the baseline job reads: a change in any of them starts a new baseline.
_NOT_BASELINE_INPUTS = ("schedule_expression", "monitor_max_runtime_seconds", "monitoring_output_location")


def derived_names(pipeline_type: str, values: Mapping[str, Any]) -> dict[str, tuple[str, int, str]]:
    """SageMaker names the plan derives from one stage's values: key -> (name, max length, source field)."""
    if pipeline_type in MONITOR_KINDS:
        kind, endpoint = MONITOR_KINDS[pipeline_type], values.get("endpoint_name", "")
        inputs = {k: v for k, v in sorted(values.items()) if k not in _NOT_BASELINE_INPUTS}
        return {
            "baseline_job_name": (f"{endpoint}-{kind}-{short_hash(inputs)}", 63, "endpoint_name"),
            # One schedule per endpoint and monitor kind: its name never churns.
            "monitoring_schedule_name": (f"{endpoint}-{kind}-{short_hash(endpoint, kind)}", 63, "endpoint_name"),
        }
    kinds = {
        "model_training_builtin": ("training", 63),
        "model_tuner_builtin": ("tuner", 32),
        "model_autopilot_training": ("autopilot", 32),
    }
    if pipeline_type in kinds:
        kind, limit = kinds[pipeline_type]
        if values.get("job_name"):
            return {"job_name": (values["job_name"], limit, "job_name")}
        inputs = {k: v for k, v in sorted(values.items())}
        return {"job_name": (f"{values.get('model_name', '')}-{kind}-{short_hash(inputs)}", limit, "model_name")}
    return {}


# ---------------------------------------------------------------------------------------------------------
# Parameter builders


def _bucket(path: str) -> str:
    return path.split("/", 1)[0] if path else ""


def boundary(view: StageView) -> str:
    """The orchestrator's permissions boundary, for stacks in its own account (a stage account has none)."""
    return "" if view.stage else view.settings.permissions_boundary_arn


def _common(view: StageView) -> dict[str, str]:
    return {
        "AssetsBucket": view.settings.assets_bucket,
        "KmsKeyArn": view.text("kms_key_arn"),
        "BlueprintBucket": view.settings.blueprint_bucket,
        BOUNDARY_PARAMETER: boundary(view),
    }


def _model_source(view: StageView, image_uri: str) -> dict[str, str]:
    # A model package given is deployed in either mode (the blueprint prefers it to the image and artifact).
    package_arn = view.text("model_package_name")
    group = package_arn.split("/", 1)[1].rsplit("/", 1)[0] if "/" in package_arn else ""
    if view.settings.model_registry:
        return {
            "ModelArtifactLocation": "",
            "ImageUri": "",
            "ModelPackageGroupName": group,
            "ModelPackageName": package_arn,
        }
    return {
        "ModelArtifactLocation": view.text("model_artifact_location"),
        "ImageUri": image_uri,
        "ModelPackageGroupName": group,
        "ModelPackageName": package_arn,
    }


def _inference_image(view: StageView) -> str:
    if view.settings.model_registry:
        return ""
    if view.get("custom_image_uri"):
        return view.text("custom_image_uri")
    return images.framework_image(
        view.text("model_framework"), view.text("model_framework_version"), view.settings.region
    )


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


def build_batch(view: StageView) -> dict[str, str]:
    return {
        **_common(view),
        "ModelName": view.text("model_name"),
        "InferenceInstance": view.text("inference_instance"),
        "CustomAlgorithmsECRRepoArn": view.settings.ecr_repo_arn,
        **_model_source(view, _inference_image(view)),
        "BatchInputBucket": _bucket(view.text("batch_inference_data")),
        "BatchInferenceData": view.text("batch_inference_data"),
        "BatchOutputLocation": view.text("batch_job_output_location"),
    }


def _monitor_common(view: StageView, image_uri: str) -> dict[str, str]:
    baseline_job = view.names["baseline_job_name"]
    return {
        **_common(view),
        "BaselineJobName": baseline_job,
        "BaselineOutputBucket": _bucket(view.text("baseline_job_output_location")),
        "BaselineJobOutputLocation": f"{view.text('baseline_job_output_location')}/{baseline_job}",
        "DataCaptureBucket": _bucket(view.text("data_capture_location")),
        "DataCaptureLocation": view.text("data_capture_location"),
        "EndpointName": view.text("endpoint_name"),
        "ImageUri": image_uri,
        "InstanceType": view.text("instance_type"),
        "InstanceVolumeSize": view.text("instance_volume_size"),
        "BaselineMaxRuntimeSeconds": view.text("baseline_max_runtime_seconds"),
        "MonitorMaxRuntimeSeconds": view.text("monitor_max_runtime_seconds"),
        "MonitoringOutputLocation": view.text("monitoring_output_location"),
        "MonitoringScheduleName": view.names["monitoring_schedule_name"],
        "ScheduleExpression": view.text("schedule_expression"),
        "BaselineData": view.text("baseline_data"),
    }


def _problem_attributes(view: StageView) -> dict[str, str]:
    return {
        "ProblemType": view.text("problem_type"),
        "MonitorInferenceAttribute": view.text("monitor_inference_attribute"),
        "MonitorProbabilityAttribute": view.text("monitor_probability_attribute"),
        "ProbabilityThresholdAttribute": view.text("probability_threshold_attribute"),
    }


def _ground_truth(view: StageView) -> dict[str, str]:
    return {
        "GroundTruthBucket": _bucket(view.text("monitor_ground_truth_input")),
        "MonitorGroundTruthInput": view.text("monitor_ground_truth_input"),
    }


def build_data_quality(view: StageView) -> dict[str, str]:
    return _monitor_common(view, images.model_monitor_image(view.settings.region))


def build_model_quality(view: StageView) -> dict[str, str]:
    return {
        **_monitor_common(view, images.model_monitor_image(view.settings.region)),
        "BaselineInferenceAttribute": view.text("baseline_inference_attribute"),
        "BaselineProbabilityAttribute": view.text("baseline_probability_attribute"),
        "BaselineGroundTruthAttribute": view.text("baseline_ground_truth_attribute"),
        **_problem_attributes(view),
        **_ground_truth(view),
    }


def build_model_bias(view: StageView) -> dict[str, str]:
    return {
        **_monitor_common(view, images.clarify_image(view.settings.region)),
        **_problem_attributes(view),
        **_ground_truth(view),
        "ModelPredictedLabelConfig": view.text("model_predicted_label_config"),
        "BiasConfig": view.text("bias_config"),
        "FeaturesAttribute": view.text("features_attribute"),
    }


def build_model_explainability(view: StageView) -> dict[str, str]:
    scores = view.get("model_scores")
    return {
        **_monitor_common(view, images.clarify_image(view.settings.region)),
        **_problem_attributes(view),
        "SHAPConfig": view.text("shap_config"),
        "ExplainabilityModelScores": json.dumps(scores) if scores != "" else "",
        "FeaturesAttribute": view.text("features_attribute"),
    }


def build_image_builder(view: StageView) -> dict[str, str]:
    return {
        "NotificationsSNSTopicArn": view.settings.sns_topic_arn,
        "AssetsBucket": view.settings.assets_bucket,
        "CustomImage": view.text("custom_algorithm_docker"),
        "ECRRepoName": view.text("ecr_repo_name"),
        "ImageTag": view.text("image_tag"),
        BOUNDARY_PARAMETER: boundary(view),
    }


def _training_job(view: StageView) -> dict[str, str]:
    return {
        **_common(view),
        "NotificationsSNSTopicArn": view.settings.sns_topic_arn,
        "JobName": view.names["job_name"],
        "JobOutputLocation": view.text("job_output_location"),
        "TrainingData": view.text("training_data"),
        "EncryptInnerTraffic": view.text("encrypt_inner_traffic"),
        "MaxRuntimePerJob": view.text("max_runtime_per_job"),
        "CompressionType": view.text("compression_type"),
    }


def build_training(view: StageView) -> dict[str, str]:
    return {
        **_training_job(view),
        "ImageUri": images.framework_image(
            view.text("model_framework"), view.text("model_framework_version"), view.settings.region, "training"
        ),
        "InstanceType": view.text("instance_type"),
        "JobInstanceCount": view.text("instance_count"),
        "InstanceVolumeSize": view.text("instance_volume_size"),
        "ValidationData": view.text("validation_data"),
        "UseSpotInstances": view.text("use_spot_instances"),
        "MaxWaitTimeForSpotInstances": view.text("max_wait_time_spot_instances"),
        "ContentType": view.text("content_type"),
        "S3DataType": view.text("s3_data_type"),
        "DataDistribution": view.text("data_distribution"),
        "DataInputMode": view.text("data_input_mode"),
        "DataRecordWrapping": view.text("data_record_wrapping"),
        "AttributeNames": view.text("attribute_names"),
        "AlgoHyperparameteres": view.text("algo_hyperparamaters"),
    }


def build_tuner(view: StageView) -> dict[str, str]:
    return {
        **build_training(view),
        "HyperparametersTunerConfig": view.text("tuner_configs"),
        "AlgoHyperparameteresRange": view.text("hyperparamaters_ranges"),
    }


def build_autopilot(view: StageView) -> dict[str, str]:
    return {
        **_training_job(view),
        "ProblemType": view.text("problem_type"),
        "AutopilotJobObjective": view.text("job_objective"),
        "TargetAttribute": view.text("target_attribute"),
        "AutopilotMaxCandidates": view.text("job_max_candidates"),
        "AutopilotTotalRuntime": view.text("total_max_runtime"),
        "GenerateDefinitionsOnly": view.text("generate_definition_only"),
    }


# ---------------------------------------------------------------------------------------------------------
# Blueprints and their declared parameters (the CDK stacks declare exactly these)

# Every blueprint takes the permissions boundary of the roles it creates.
BOUNDARY_PARAMETER = "PermissionsBoundaryArn"
_COMMON_PARAMETERS = ("AssetsBucket", "KmsKeyArn", "BlueprintBucket", BOUNDARY_PARAMETER)
_MODEL_PARAMETERS = (
    "ModelName",
    "InferenceInstance",
    "CustomAlgorithmsECRRepoArn",
    "ModelArtifactLocation",
    "ImageUri",
    "ModelPackageGroupName",
    "ModelPackageName",
)
_MONITOR_PARAMETERS = (
    *_COMMON_PARAMETERS,
    "BaselineJobName",
    "BaselineOutputBucket",
    "BaselineJobOutputLocation",
    "DataCaptureBucket",
    "DataCaptureLocation",
    "EndpointName",
    "ImageUri",
    "InstanceType",
    "InstanceVolumeSize",
    "BaselineMaxRuntimeSeconds",
    "MonitorMaxRuntimeSeconds",
    "MonitoringOutputLocation",
    "MonitoringScheduleName",
    "ScheduleExpression",
    "BaselineData",
)
_PROBLEM_PARAMETERS = (
    "ProblemType",
    "MonitorInferenceAttribute",
    "MonitorProbabilityAttribute",
    "ProbabilityThresholdAttribute",
)
_TRAINING_JOB_PARAMETERS = (
    *_COMMON_PARAMETERS,
    "NotificationsSNSTopicArn",
    "JobName",
    "JobOutputLocation",
    "TrainingData",
    "EncryptInnerTraffic",
    "MaxRuntimePerJob",
    "CompressionType",
)
_TRAINING_PARAMETERS = (
    *_TRAINING_JOB_PARAMETERS,
    "ImageUri",
    "InstanceType",
    "JobInstanceCount",
    "InstanceVolumeSize",
    "ValidationData",
    "UseSpotInstances",
    "MaxWaitTimeForSpotInstances",
    "ContentType",
    "S3DataType",
    "DataDistribution",
    "DataInputMode",
    "DataRecordWrapping",
    "AttributeNames",
    "AlgoHyperparameteres",
)

# Parameters of the real-time options beyond the predecessor (empty: the option is off).
REALTIME_OPTION_PARAMETERS = (
    "AutoscalingMinInstances",
    "AutoscalingMaxInstances",
    "AutoscalingTargetInvocations",
    "DeploymentStrategy",
    "TrafficShiftPercent",
    "TrafficShiftWaitSeconds",
    "ServerlessMemorySize",
    "ServerlessMaxConcurrency",
    "AsyncOutputLocation",
    "AsyncSuccessTopicArn",
    "AsyncErrorTopicArn",
)
REALTIME = Blueprint(
    "byom_realtime_inference_pipeline.yaml",
    (*_COMMON_PARAMETERS, *_MODEL_PARAMETERS, "DataCaptureLocation", "EndpointName", *REALTIME_OPTION_PARAMETERS),
)
BATCH = Blueprint(
    "byom_batch_pipeline.yaml",
    (*_COMMON_PARAMETERS, *_MODEL_PARAMETERS, "BatchInputBucket", "BatchInferenceData", "BatchOutputLocation"),
)
DATA_QUALITY = Blueprint("byom_data_quality_monitor.yaml", _MONITOR_PARAMETERS)
MODEL_QUALITY = Blueprint(
    "byom_model_quality_monitor.yaml",
    (
        *_MONITOR_PARAMETERS,
        "BaselineInferenceAttribute",
        "BaselineProbabilityAttribute",
        "BaselineGroundTruthAttribute",
        *_PROBLEM_PARAMETERS,
        "GroundTruthBucket",
        "MonitorGroundTruthInput",
    ),
)
MODEL_BIAS = Blueprint(
    "byom_model_bias_monitor.yaml",
    (
        *_MONITOR_PARAMETERS,
        *_PROBLEM_PARAMETERS,
        "GroundTruthBucket",
        "MonitorGroundTruthInput",
        "ModelPredictedLabelConfig",
        "BiasConfig",
        "FeaturesAttribute",
    ),
)
MODEL_EXPLAINABILITY = Blueprint(
    "byom_model_explainability_monitor.yaml",
    (*_MONITOR_PARAMETERS, *_PROBLEM_PARAMETERS, "SHAPConfig", "ExplainabilityModelScores", "FeaturesAttribute"),
)
IMAGE_BUILDER = Blueprint(
    "byom_custom_algorithm_image_builder.yaml",
    ("NotificationsSNSTopicArn", "AssetsBucket", "CustomImage", "ECRRepoName", "ImageTag", BOUNDARY_PARAMETER),
)
TRAINING = Blueprint("model_training_pipeline.yaml", _TRAINING_PARAMETERS)
TUNER = Blueprint(
    "model_hyperparameter_tunning_pipeline.yaml",
    (*_TRAINING_PARAMETERS, "HyperparametersTunerConfig", "AlgoHyperparameteresRange"),
)
AUTOPILOT = Blueprint(
    "autopilot_training_pipeline.yaml",
    (
        *_TRAINING_JOB_PARAMETERS,
        "ProblemType",
        "AutopilotJobObjective",
        "TargetAttribute",
        "AutopilotMaxCandidates",
        "AutopilotTotalRuntime",
        "GenerateDefinitionsOnly",
    ),
)

# The CodePipeline wrapper stacks that deploy a blueprint (one account, or dev/staging/prod StackSets).
SINGLE_ACCOUNT_PIPELINE = Blueprint(
    "single_account_codepipeline.yaml",
    (
        "TemplateZipFileName",
        "TemplateFileName",
        "TemplateParamsName",
        "AssetsBucket",
        "StackName",
        "NotificationsSNSTopicArn",
        BOUNDARY_PARAMETER,
    ),
)
MULTI_ACCOUNT_PIPELINE = Blueprint(
    "multi_account_codepipeline.yaml",
    (
        "TemplateZipFileName",
        "TemplateFileName",
        "DevParamsName",
        "StagingParamsName",
        "ProdParamsName",
        "NotificationsSNSTopicArn",
        "DevAccountId",
        "DevOrgId",
        "StagingAccountId",
        "StagingOrgId",
        "ProdAccountId",
        "ProdOrgId",
        "BlueprintBucket",
        "AssetsBucket",
        "StackName",
        "DelegatedAdminAccount",
        BOUNDARY_PARAMETER,
    ),
)

# ---------------------------------------------------------------------------------------------------------
# The pipeline types

_BATCH_DATA = (
    Field("batch_inference_data", BucketPath(), True, stage=True, doc="bucket/key-or-prefix of the CSV input."),
    Field("batch_job_output_location", BucketPath(), True, stage=True, doc="bucket/prefix for the job's output."),
)

CATALOGUE: dict[str, PipelineType] = {
    t.name: t
    for t in (
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
            ),
            build_realtime,
            (_check_image, _check_realtime),
            description="Real-time endpoint serving a model on a SageMaker built-in or framework image.",
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
            ),
            build_realtime,
            (_check_realtime,),
            description="Real-time endpoint serving a model on a custom ECR image.",
        ),
        PipelineType(
            "byom_batch_builtin",
            "BYOMPipelineBatchBuiltIn",
            BATCH,
            (
                MODEL_NAME,
                INFERENCE_INSTANCE,
                MODEL_FRAMEWORK,
                MODEL_FRAMEWORK_VERSION,
                MODEL_ARTIFACT,
                MODEL_PACKAGE,
                *_BATCH_DATA,
                KMS_KEY,
            ),
            build_batch,
            (_check_image,),
            description="Batch transform with a SageMaker built-in or framework image.",
        ),
        PipelineType(
            "byom_batch_custom",
            "BYOMPipelineBatchCustom",
            BATCH,
            (MODEL_NAME, INFERENCE_INSTANCE, CUSTOM_IMAGE, MODEL_ARTIFACT, MODEL_PACKAGE, *_BATCH_DATA, KMS_KEY),
            build_batch,
            description="Batch transform with a custom ECR image.",
        ),
        PipelineType(
            "byom_data_quality_monitor",
            "BYOMDataQualityMonitor",
            DATA_QUALITY,
            MONITOR_COMMON,
            build_data_quality,
            description="Data-quality baseline and monitoring schedule for a deployed endpoint.",
        ),
        PipelineType(
            "byom_model_quality_monitor",
            "BYOMModelQualityMonitor",
            MODEL_QUALITY,
            (
                *MONITOR_COMMON,
                PROBLEM_TYPE,
                Field(
                    "baseline_inference_attribute",
                    Attribute(),
                    True,
                    doc="Column of the predictions in the baseline data.",
                ),
                Field(
                    "baseline_probability_attribute",
                    Attribute(allow_empty=True),
                    doc="Column of the probabilities in the baseline data (BinaryClassification).",
                ),
                Field(
                    "baseline_ground_truth_attribute",
                    Attribute(),
                    True,
                    doc="Column of the ground-truth labels in the baseline data.",
                ),
                MONITOR_INFERENCE,
                MONITOR_PROBABILITY,
                PROBABILITY_THRESHOLD,
                GROUND_TRUTH,
            ),
            build_model_quality,
            (_check_model_quality,),
            description="Model-quality baseline and monitoring schedule.",
        ),
        PipelineType(
            "byom_model_bias_monitor",
            "BYOMModelBiasMonitor",
            MODEL_BIAS,
            (
                *MONITOR_COMMON,
                PROBLEM_TYPE,
                MONITOR_INFERENCE,
                GROUND_TRUTH,
                Field(
                    "model_predicted_label_config",
                    JsonObject(
                        allow_empty=True,
                        inner=(_allowed_keys(("label", "probability", "probability_threshold", "label_headers")),),
                    ),
                    _problem_in("BinaryClassification", "MulticlassClassification"),
                    doc="Clarify ModelPredictedLabelConfig: label, probability, probability_threshold, label_headers.",
                ),
                Field(
                    "bias_config",
                    JsonObject(
                        inner=(
                            _allowed_keys(
                                ("label_values_or_threshold", "facet_name", "facet_values_or_threshold", "group_name"),
                                ("label_values_or_threshold", "facet_name"),
                            ),
                        )
                    ),
                    True,
                    doc="Clarify BiasConfig: label_values_or_threshold, facet_name, facet_values_or_threshold, ...",
                ),
                FEATURES,
                MONITOR_PROBABILITY,
                PROBABILITY_THRESHOLD,
            ),
            build_model_bias,
            description="Clarify bias baseline and monitoring schedule.",
        ),
        PipelineType(
            "byom_model_explainability_monitor",
            "BYOMModelExplainabilityMonitor",
            MODEL_EXPLAINABILITY,
            (
                *MONITOR_COMMON,
                PROBLEM_TYPE,
                MONITOR_INFERENCE,
                Field(
                    "shap_config",
                    JsonObject(
                        inner=(
                            _allowed_keys(
                                (
                                    "baseline",
                                    "num_samples",
                                    "agg_method",
                                    "use_logit",
                                    "save_local_shap_values",
                                    "seed",
                                    "num_clusters",
                                    "text_config",
                                    "image_config",
                                    "features_to_explain",
                                )
                            ),
                        )
                    ),
                    True,
                    doc="Clarify SHAPConfig: baseline (assets-bucket key or rows), num_samples, agg_method, ...",
                ),
                Field(
                    "model_scores",
                    Attribute(keep_numbers=True, allow_empty=True),
                    doc="Index or JSONPath of the score to explain.",
                ),
                FEATURES,
                MONITOR_PROBABILITY,
                PROBABILITY_THRESHOLD,
            ),
            build_model_explainability,
            description="Clarify explainability (SHAP) baseline and monitoring schedule.",
        ),
        PipelineType(
            "byom_image_builder",
            "BYOMPipelineImageBuilder",
            IMAGE_BUILDER,
            (
                Field(
                    "custom_algorithm_docker",
                    AssetKey(),
                    True,
                    doc="Key of a zip (Dockerfile and assets) in the assets bucket.",
                ),
                Field("ecr_repo_name", ECR_REPO_NAME, True, doc="ECR repository to push to."),
                Field("image_tag", Name(max_len=128), True, doc="Tag of the image; also names the stack."),
            ),
            build_image_builder,
            own_account_only=True,
            direct_stack=True,
            name_field="image_tag",
            description="Builds a custom algorithm image with CodeBuild and pushes it to ECR.",
        ),
        PipelineType(
            "model_training_builtin",
            "ModelTraining",
            TRAINING,
            BUILTIN_TRAINING,
            build_training,
            (_check_training_image, _check_spot, _check_attribute_names),
            own_account_only=True,
            description="Training job with a SageMaker built-in algorithm.",
        ),
        PipelineType(
            "model_tuner_builtin",
            "TunerTraining",
            TUNER,
            (
                *BUILTIN_TRAINING,
                Field(
                    "tuner_configs",
                    JsonObject(
                        inner=(
                            _allowed_keys(
                                (
                                    "objective_metric_name",
                                    "objective_type",
                                    "strategy",
                                    "max_jobs",
                                    "max_parallel_jobs",
                                    "early_stopping_type",
                                    "metric_definitions",
                                    "base_tuning_job_name",
                                ),
                                ("objective_metric_name",),
                            ),
                            _tuner_configs,
                        )
                    ),
                    True,
                    doc="Tuner settings: objective_metric_name, objective_type, strategy, max_jobs, ...",
                ),
                Field(
                    "hyperparamaters_ranges",
                    JsonObject(inner=(_hyperparameter_ranges,)),
                    True,
                    doc="Ranges to search (field name as the predecessor spelled it).",
                ),
            ),
            build_tuner,
            (_check_training_image, _check_spot, _check_attribute_names),
            own_account_only=True,
            description="Hyperparameter tuning job with a SageMaker built-in algorithm.",
        ),
        PipelineType(
            "model_autopilot_training",
            "AutopilotTraining",
            AUTOPILOT,
            (
                *TRAINING_COMMON,
                Field("target_attribute", Attribute(), True, doc="Name of the target column."),
                Field(
                    "problem_type", Choice(values=PROBLEM_TYPES, allow_empty=True), doc="Empty lets Autopilot infer it."
                ),
                Field(
                    "job_objective",
                    Choice(values=("Accuracy", "MSE", "F1", "F1macro", "AUC"), allow_empty=True),
                    doc="Metric to optimize.",
                ),
                Field("job_max_candidates", Integer(1, 750), default=10, doc="Maximum number of candidates."),
                Field(
                    "total_max_runtime",
                    Integer(3600, 2592000),
                    default=2592000,
                    doc="Maximum runtime of the whole job (seconds).",
                ),
                Field(
                    "generate_definition_only", BoolText(), default="False", doc="Only generate candidate definitions."
                ),
            ),
            build_autopilot,
            (_check_autopilot,),
            own_account_only=True,
            description="Autopilot (AutoML) job that explores candidates for a tabular data set.",
        ),
    )
}

# Names of every field of every type: a field of another type is ignored with a warning, not rejected.
ALL_FIELDS: frozenset[str] = frozenset(f.name for t in CATALOGUE.values() for f in t.fields)
# Options every request may carry besides its type's fields.
COMMON_OPTIONS = ("pipeline_type", "dry_run")


def stack_base_name(pipeline: PipelineType, infix: str) -> str:
    """`mlops-pipeline-<infix>-<postfix>`, lower-cased, exactly as the predecessor named its stacks."""
    return f"{PIPELINE_PREFIX}-{infix}-{pipeline.postfix}".lower()
