# SPDX-License-Identifier: Apache-2.0
"""Model Monitor and Clarify monitors (byom_*_monitor.yaml): fields, checks, names, builders, types."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .. import images
from ..rules import (
    AssetKey,
    Attribute,
    BucketPath,
    Choice,
    Cron,
    Fraction,
    InstanceType,
    Integer,
    JsonObject,
    Name,
    RuleBroken,
)
from ..settings import MODEL_MONITOR_ENGINE, MONITORING_ENGINES, Settings
from ..spec import Alternative, Blueprint, Creates, Field, NameDeriver, PipelineType, Reads, StageView
from . import parameters as P
from .shared import (
    DATA_CAPTURE,
    ENABLE_NETWORK_ISOLATION,
    ENCRYPT_INTER_CONTAINER_TRAFFIC,
    KEEP_BASELINE_OUTPUT,
    KEEP_DATA_CAPTURE,
    KEEP_MONITORING_OUTPUT,
    KMS_KEY,
    MODEL_NAME,
    PROBLEM_TYPE,
    SECURITY_GROUP_IDS,
    SUBNET_IDS,
    _allowed_keys,
    _bucket,
    _common,
    _problem_in,
    check_network,
    isolated_network,
    isolation_refused,
    short_hash,
)

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
    SUBNET_IDS,
    SECURITY_GROUP_IDS,
    ENCRYPT_INTER_CONTAINER_TRAFFIC,
    Field(
        "violation_threshold",
        Integer(1, 1000000),
        default=1,
        doc="Constraint violations of one execution that put the monitor's violations alarm in ALARM.",
    ),
    Field(
        "retrain_pipeline_name",
        Name(max_len=128, lower=True, allow_empty=True),
        doc="A model_training_builtin, model_tuner_builtin or model_autopilot_training pipeline that the "
        "orchestrator re-provisions when the violations alarm fires (off when empty).",
    ),
    Field(
        "retrain_min_interval_minutes",
        Integer(5, 525600),
        default=60,
        doc="Minimum minutes between two retrainings this monitor starts.",
    ),
    Field(
        "monitoring_engine",
        Choice(values=tuple(MONITORING_ENGINES.values()), allow_empty=True),
        doc="open: our own engine (SageMaker Processing on the scikit-learn image, EventBridge Scheduler), for "
        "every account; model_monitor: SageMaker Model Monitor and Clarify, for accounts that have them. "
        "Empty: the orchestrator's MonitoringEngine.",
    ),
)
# A Clarify job calls SageMaker to create and invoke a shadow endpoint of the model: it needs the network.
CLARIFY_ISOLATION = isolation_refused(
    "a Clarify job creates and calls a shadow endpoint of the model, which an isolated container cannot reach"
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


# Values of a monitor request that the baseline job reads: a change in any of them starts a new baseline.
_NOT_BASELINE_INPUTS = (
    "schedule_expression",
    "monitor_max_runtime_seconds",
    "monitoring_output_location",
    "violation_threshold",
    "retrain_pipeline_name",
    "retrain_min_interval_minutes",
)


def monitor_names(kind: str) -> NameDeriver:
    """The baseline job (a new name when its inputs change) and the schedule (one per endpoint and kind)."""

    def derive(values: Mapping[str, Any]) -> dict[str, tuple[str, int, str]]:
        endpoint = values.get("endpoint_name", "")
        inputs = {k: v for k, v in sorted(values.items()) if k not in _NOT_BASELINE_INPUTS}
        return {
            "baseline_job_name": (f"{endpoint}-{kind}-{short_hash(inputs)}", 63, "endpoint_name"),
            # One schedule per endpoint and monitor kind: its name never churns.
            "monitoring_schedule_name": (f"{endpoint}-{kind}-{short_hash(endpoint, kind)}", 63, "endpoint_name"),
        }

    return derive


# The monitor types and the kind each names its schedule with (`<endpoint>-<kind>-<hash>`).
MONITOR_KINDS = {
    "byom_data_quality_monitor": "dataquality",
    "byom_model_quality_monitor": "modelquality",
    "byom_model_bias_monitor": "modelbias",
    "byom_model_explainability_monitor": "modelexplainability",
}


# What a monitor's stack deploys, as describe reads it, and the user data a teardown keeps.
MONITOR_READS = (
    Reads("baseline_job", "processing_job", name="baseline_job_name", started_by_stack=True),
    Reads("monitoring_schedule", "monitoring_schedule", name="monitoring_schedule_name"),
    Reads("endpoint", "endpoint", parameter="EndpointName"),
)
# On the open engine the schedule is EventBridge Scheduler's, part of the stack: SageMaker holds no schedule.
OPEN_MONITOR_READS = tuple(read for read in MONITOR_READS if read.kind != "monitoring_schedule")
MONITOR_KEEPS = (KEEP_DATA_CAPTURE, KEEP_BASELINE_OUTPUT, KEEP_MONITORING_OUTPUT)
MONITORING_SCHEDULE = Creates(
    "monitoring-schedule",
    (
        "sagemaker:CreateMonitoringSchedule",
        "sagemaker:UpdateMonitoringSchedule",
        "sagemaker:DescribeMonitoringSchedule",
        "sagemaker:DeleteMonitoringSchedule",
    ),
    "AWS::SageMaker::MonitoringSchedule",
    "MonitoringScheduleName",
)


def _job_definition(kind: str) -> Creates:
    """A monitor's job definition, e.g. kind DataQuality: data-quality-job-definition."""
    arn_type = re.sub(r"(?<!^)(?=[A-Z])", "-", kind).lower() + "-job-definition"
    actions = tuple(f"sagemaker:{verb}{kind}JobDefinition" for verb in ("Create", "Describe", "Delete"))
    return Creates(arn_type, actions, f"AWS::SageMaker::{kind}JobDefinition", "JobDefinitionName")


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
        **isolated_network(view),
        "EncryptInterContainerTraffic": view.text("encrypt_inter_container_traffic"),
        "ViolationThreshold": view.text("violation_threshold"),
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


def engine(values: Mapping[str, Any], settings: Settings) -> str:
    """The engine a monitor runs on: the request's `monitoring_engine`, else the orchestrator's."""
    return str(values.get("monitoring_engine") or settings.monitoring_engine)


def on_open_engine(values: Mapping[str, Any], settings: Settings) -> bool:
    return engine(values, settings) != MODEL_MONITOR_ENGINE


def _image(view: StageView, model_monitor_image: str) -> str:
    """Model Monitor's or Clarify's image, or the open engine's."""
    if on_open_engine(view.values, view.settings):
        return images.monitoring_engine_image(view.settings.region)
    return model_monitor_image


def build_data_quality(view: StageView) -> dict[str, str]:
    return _monitor_common(view, _image(view, images.model_monitor_image(view.settings.region)))


def build_model_quality(view: StageView) -> dict[str, str]:
    return {
        **_monitor_common(view, _image(view, images.model_monitor_image(view.settings.region))),
        "BaselineInferenceAttribute": view.text("baseline_inference_attribute"),
        "BaselineProbabilityAttribute": view.text("baseline_probability_attribute"),
        "BaselineGroundTruthAttribute": view.text("baseline_ground_truth_attribute"),
        **_problem_attributes(view),
        **_ground_truth(view),
    }


def build_model_bias(view: StageView) -> dict[str, str]:
    return {
        **_monitor_common(view, _image(view, images.clarify_image(view.settings.region))),
        **_problem_attributes(view),
        **_ground_truth(view),
        "ModelPredictedLabelConfig": view.text("model_predicted_label_config"),
        "BiasConfig": view.text("bias_config"),
        "FeaturesAttribute": view.text("features_attribute"),
    }


def shap_baseline_key(shap_config: Any, assets_bucket: str) -> str:
    """The assets-bucket key of a SHAP baseline given as a file (a key, or an s3:// URI of the assets bucket)."""
    baseline = shap_config.get("baseline") if isinstance(shap_config, dict) else None
    if not isinstance(baseline, str):
        return ""
    return baseline.removeprefix(f"s3://{assets_bucket}/")


def _shap_baseline_in_assets(shap_config: Mapping[str, Any]) -> list[str]:
    """A baseline file is a key of the assets bucket (or its s3:// URI): the role reads that object only."""
    baseline = shap_config.get("baseline")
    if not isinstance(baseline, str):
        return []
    if baseline.startswith("s3://"):
        return []  # judged against the assets bucket by _check_shap_baseline, which sees the settings
    try:
        AssetKey().check(baseline)
    except RuleBroken as broken:
        return [f"baseline {broken}"]
    return []


def _check_shap_baseline(values: Mapping[str, Any], settings: Settings) -> list[tuple[str, str]]:
    config = values.get("shap_config")
    baseline = config.get("baseline") if isinstance(config, dict) else None
    inside = f"s3://{settings.assets_bucket}/"
    if not isinstance(baseline, str) or not baseline.startswith("s3://") or baseline.startswith(inside):
        return []
    message = (
        f"must be a key in the assets bucket ({settings.assets_bucket}) or its s3:// URI: the monitor's role reads "
        "that object only"
    )
    return [("shap_config.baseline", message)]


def build_model_explainability(view: StageView) -> dict[str, str]:
    scores = view.get("model_scores")
    return {
        **_monitor_common(view, _image(view, images.clarify_image(view.settings.region))),
        **_problem_attributes(view),
        "SHAPConfig": view.text("shap_config"),
        P.SHAP_BASELINE_KEY.name: shap_baseline_key(view.get("shap_config"), view.settings.assets_bucket),
        "ExplainabilityModelScores": json.dumps(scores) if scores != "" else "",
        "FeaturesAttribute": view.text("features_attribute"),
    }


_MONITOR_PARAMETERS = (
    *P.COMMON,
    P.BASELINE_JOB_NAME,
    P.BASELINE_OUTPUT_BUCKET,
    P.BASELINE_JOB_OUTPUT_LOCATION,
    P.DATA_CAPTURE_BUCKET,
    P.MONITOR_DATA_CAPTURE_LOCATION,
    P.MONITORED_ENDPOINT_NAME,
    P.JOB_IMAGE_URI,
    P.INSTANCE_TYPE,
    P.INSTANCE_VOLUME_SIZE,
    P.BASELINE_MAX_RUNTIME_SECONDS,
    P.MONITOR_MAX_RUNTIME_SECONDS,
    P.MONITORING_OUTPUT_LOCATION,
    P.MONITORING_SCHEDULE_NAME,
    P.SCHEDULE_EXPRESSION,
    P.BASELINE_DATA,
    *P.ISOLATED_NETWORK,
    P.ENCRYPT_INTER_CONTAINER_TRAFFIC,
    P.VIOLATION_THRESHOLD,
)
_PROBLEM_PARAMETERS = (
    P.PROBLEM_TYPE,
    P.MONITOR_INFERENCE_ATTRIBUTE,
    P.MONITOR_PROBABILITY_ATTRIBUTE,
    P.PROBABILITY_THRESHOLD_ATTRIBUTE,
)
DATA_QUALITY = Blueprint(
    "byom_data_quality_monitor.yaml",
    _MONITOR_PARAMETERS,
    (MONITORING_SCHEDULE, _job_definition("DataQuality")),
)
MODEL_QUALITY = Blueprint(
    "byom_model_quality_monitor.yaml",
    (
        *_MONITOR_PARAMETERS,
        P.BASELINE_INFERENCE_ATTRIBUTE,
        P.BASELINE_PROBABILITY_ATTRIBUTE,
        P.BASELINE_GROUND_TRUTH_ATTRIBUTE,
        *_PROBLEM_PARAMETERS,
        P.GROUND_TRUTH_BUCKET,
        P.MONITOR_GROUND_TRUTH_INPUT,
    ),
    (MONITORING_SCHEDULE, _job_definition("ModelQuality")),
)
MODEL_BIAS = Blueprint(
    "byom_model_bias_monitor.yaml",
    (
        *_MONITOR_PARAMETERS,
        *_PROBLEM_PARAMETERS,
        P.GROUND_TRUTH_BUCKET,
        P.MONITOR_GROUND_TRUTH_INPUT,
        P.MODEL_PREDICTED_LABEL_CONFIG,
        P.BIAS_CONFIG,
        P.FEATURES_ATTRIBUTE,
    ),
    (MONITORING_SCHEDULE, _job_definition("ModelBias")),
)
MODEL_EXPLAINABILITY = Blueprint(
    "byom_model_explainability_monitor.yaml",
    (
        *_MONITOR_PARAMETERS,
        *_PROBLEM_PARAMETERS,
        P.SHAP_CONFIG,
        P.EXPLAINABILITY_MODEL_SCORES,
        P.FEATURES_ATTRIBUTE,
        P.SHAP_BASELINE_KEY,
    ),
    (MONITORING_SCHEDULE, _job_definition("ModelExplainability")),
)

# The open engine's blueprints: the same parameters, a baseline job and an EventBridge Scheduler schedule of
# analysis jobs instead of a job definition and a SageMaker monitoring schedule.
OPEN_SUFFIX = "_open"


def open_blueprint(blueprint: Blueprint) -> Blueprint:
    """The open engine's blueprint of a Model Monitor / Clarify blueprint (it creates no SageMaker resource)."""
    return Blueprint(blueprint.template.replace(".yaml", f"{OPEN_SUFFIX}.yaml"), blueprint.declared)


def _open(blueprint: Blueprint, build: Any) -> Alternative:
    return Alternative(open_blueprint(blueprint), build, on_open_engine, OPEN_MONITOR_READS)


TYPES = (
    PipelineType(
        "byom_data_quality_monitor",
        "BYOMDataQualityMonitor",
        DATA_QUALITY,
        (*MONITOR_COMMON, ENABLE_NETWORK_ISOLATION),
        build_data_quality,
        (check_network,),
        description="Data-quality baseline and monitoring schedule for a deployed endpoint.",
        reads=MONITOR_READS,
        endpoint="monitors",
        keeps=MONITOR_KEEPS,
        derive_names=monitor_names(MONITOR_KINDS["byom_data_quality_monitor"]),
        monitor_kind=MONITOR_KINDS["byom_data_quality_monitor"],
        alternative=_open(DATA_QUALITY, build_data_quality),
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
            ENABLE_NETWORK_ISOLATION,
        ),
        build_model_quality,
        (_check_model_quality, check_network),
        description="Model-quality baseline and monitoring schedule.",
        reads=MONITOR_READS,
        endpoint="monitors",
        keeps=MONITOR_KEEPS,
        derive_names=monitor_names(MONITOR_KINDS["byom_model_quality_monitor"]),
        monitor_kind=MONITOR_KINDS["byom_model_quality_monitor"],
        alternative=_open(MODEL_QUALITY, build_model_quality),
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
            CLARIFY_ISOLATION,
        ),
        build_model_bias,
        (check_network,),
        description="Clarify bias baseline and monitoring schedule.",
        reads=MONITOR_READS,
        endpoint="monitors",
        keeps=MONITOR_KEEPS,
        derive_names=monitor_names(MONITOR_KINDS["byom_model_bias_monitor"]),
        monitor_kind=MONITOR_KINDS["byom_model_bias_monitor"],
        alternative=_open(MODEL_BIAS, build_model_bias),
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
                        _shap_baseline_in_assets,
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
            CLARIFY_ISOLATION,
        ),
        build_model_explainability,
        (check_network, _check_shap_baseline),
        description="Clarify explainability (SHAP) baseline and monitoring schedule.",
        reads=MONITOR_READS,
        endpoint="monitors",
        keeps=MONITOR_KEEPS,
        derive_names=monitor_names(MONITOR_KINDS["byom_model_explainability_monitor"]),
        monitor_kind=MONITOR_KINDS["byom_model_explainability_monitor"],
        alternative=_open(MODEL_EXPLAINABILITY, build_model_explainability),
    ),
)
