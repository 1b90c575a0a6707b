# SPDX-License-Identifier: Apache-2.0
"""Training, tuning and Autopilot (model_*_pipeline.yaml): fields, checks, names, builders, types."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .. import images
from ..rules import KMS_KEY_ARN, AssetKey, Attribute, BoolText, Choice, InstanceType, Integer, JsonObject, Name, Text
from ..settings import Settings
from ..spec import Blueprint, Field, NameDeriver, Parameter, PipelineType, Reads, StageView
from . import parameters as P
from .shared import (
    KEEP_JOB_OUTPUT,
    MODEL_FRAMEWORK,
    MODEL_FRAMEWORK_VERSION,
    MODEL_NAME,
    NETWORK_FIELDS,
    PROBLEM_TYPES,
    SECURITY_GROUP_IDS,
    SUBNET_IDS,
    _allowed_keys,
    _check_training_image,
    _common,
    check_network,
    isolated_network,
    isolation_refused,
    network,
    short_hash,
)
from .values import (
    AUTOPILOT_METRICS,
    COMPRESSION_TYPES,
    DATA_DISTRIBUTIONS,
    DATA_INPUT_MODES,
    RECORD_WRAPPINGS,
    S3_DATA_TYPES,
)


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
    Field("compression_type", Choice(values=COMPRESSION_TYPES, allow_empty=True), doc="Compression of the input data."),
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
    Field("s3_data_type", Choice(values=S3_DATA_TYPES), default="S3Prefix"),
    Field("data_distribution", Choice(values=DATA_DISTRIBUTIONS), default="FullyReplicated"),
    Field("data_input_mode", Choice(values=DATA_INPUT_MODES), default="File"),
    Field("data_record_wrapping", Choice(values=RECORD_WRAPPINGS, allow_empty=True)),
    Field(
        "attribute_names",
        Text(max_len=2048, allow_empty=True),
        doc="JSON list of attribute names (AugmentedManifestFile).",
    ),
    *NETWORK_FIELDS,
)


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
        **isolated_network(view),
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
        **network(view),
    }


# SageMaker's longest name: 63 characters for a training job, 32 for a tuning or Autopilot job.
TRAINING_NAME_LIMIT, SHORT_NAME_LIMIT = 63, 32


def _job_parameters(name_limit: int) -> tuple[Parameter, ...]:
    return (
        *P.COMMON,
        P.NOTIFICATIONS_TOPIC_ARN,
        P.JOB_NAME.but(max_length=name_limit),
        P.JOB_OUTPUT_LOCATION,
        P.TRAINING_DATA,
        P.ENCRYPT_INNER_TRAFFIC,
        P.MAX_RUNTIME_PER_JOB,
        P.COMPRESSION_TYPE,
    )


def _training_parameters(name_limit: int) -> tuple[Parameter, ...]:
    return (
        *_job_parameters(name_limit),
        P.JOB_IMAGE_URI,
        P.INSTANCE_TYPE,
        P.JOB_INSTANCE_COUNT,
        P.INSTANCE_VOLUME_SIZE,
        P.VALIDATION_DATA,
        P.USE_SPOT_INSTANCES,
        P.MAX_WAIT_TIME_FOR_SPOT_INSTANCES,
        P.CONTENT_TYPE,
        P.S3_DATA_TYPE,
        P.DATA_DISTRIBUTION,
        P.DATA_INPUT_MODE,
        P.DATA_RECORD_WRAPPING,
        P.ATTRIBUTE_NAMES,
        P.ALGO_HYPERPARAMETERES,
        *P.ISOLATED_NETWORK,
    )


TRAINING = Blueprint("model_training_pipeline.yaml", _training_parameters(TRAINING_NAME_LIMIT))
TUNER = Blueprint(
    "model_hyperparameter_tunning_pipeline.yaml",
    (*_training_parameters(SHORT_NAME_LIMIT), P.HYPERPARAMETERS_TUNER_CONFIG, P.ALGO_HYPERPARAMETERES_RANGE),
)
AUTOPILOT = Blueprint(
    "autopilot_training_pipeline.yaml",
    (
        *_job_parameters(SHORT_NAME_LIMIT),
        P.AUTOPILOT_PROBLEM_TYPE,
        P.AUTOPILOT_JOB_OBJECTIVE,
        P.TARGET_ATTRIBUTE,
        P.AUTOPILOT_MAX_CANDIDATES,
        P.AUTOPILOT_TOTAL_RUNTIME,
        P.GENERATE_DEFINITIONS_ONLY,
        *P.NETWORK,
    ),
)


def job_names(kind: str, limit: int) -> NameDeriver:
    """The job's name: the one given, else <model_name>-<kind>-<hash of the request>."""

    def derive(values: Mapping[str, Any]) -> dict[str, tuple[str, int, str]]:
        if values.get("job_name"):
            return {"job_name": (values["job_name"], limit, "job_name")}
        inputs = {k: v for k, v in sorted(values.items())}
        return {"job_name": (f"{values.get('model_name', '')}-{kind}-{short_hash(inputs)}", limit, "model_name")}

    return derive


def _job(kind: str) -> tuple[Reads, ...]:
    """The one job a training stack starts, named by its <kind>JobName output (the plan's job_name)."""
    return (Reads(kind, kind, name="job_name", output="JobName", started_by_stack=True),)


TYPES = (
    PipelineType(
        "model_training_builtin",
        "ModelTraining",
        TRAINING,
        BUILTIN_TRAINING,
        build_training,
        (_check_training_image, _check_spot, _check_attribute_names, check_network),
        own_account_only=True,
        description="Training job with a SageMaker built-in algorithm.",
        reads=_job("training_job"),
        keeps=(KEEP_JOB_OUTPUT,),
        derive_names=job_names("training", TRAINING_NAME_LIMIT),
        retrainable=True,
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
        (_check_training_image, _check_spot, _check_attribute_names, check_network),
        own_account_only=True,
        description="Hyperparameter tuning job with a SageMaker built-in algorithm.",
        reads=_job("tuning_job"),
        keeps=(KEEP_JOB_OUTPUT,),
        derive_names=job_names("tuner", SHORT_NAME_LIMIT),
        retrainable=True,
    ),
    PipelineType(
        "model_autopilot_training",
        "AutopilotTraining",
        AUTOPILOT,
        (
            *TRAINING_COMMON,
            Field("target_attribute", Attribute(), True, doc="Name of the target column."),
            Field("problem_type", Choice(values=PROBLEM_TYPES, allow_empty=True), doc="Empty lets Autopilot infer it."),
            Field(
                "job_objective",
                Choice(values=AUTOPILOT_METRICS, allow_empty=True),
                doc="Metric to optimize.",
            ),
            Field("job_max_candidates", Integer(1, 750), default=10, doc="Maximum number of candidates."),
            Field(
                "total_max_runtime",
                Integer(3600, 2592000),
                default=2592000,
                doc="Maximum runtime of the whole job (seconds).",
            ),
            Field("generate_definition_only", BoolText(), default="False", doc="Only generate candidate definitions."),
            SUBNET_IDS,
            SECURITY_GROUP_IDS,
            # AutoML's SecurityConfig has a VPC but no network isolation.
            isolation_refused("an Autopilot (AutoML) job has no network isolation setting"),
        ),
        build_autopilot,
        (_check_autopilot, check_network),
        own_account_only=True,
        description="Autopilot (AutoML) job that explores candidates for a tabular data set.",
        reads=_job("automl_job"),
        keeps=(KEEP_JOB_OUTPUT,),
        derive_names=job_names("autopilot", SHORT_NAME_LIMIT),
        retrainable=True,
    ),
)
