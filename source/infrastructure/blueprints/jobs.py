# SPDX-License-Identifier: Apache-2.0
"""The parameters of the monitor and training blueprints, declared from the catalogue's names (the CDK
helpers they share are in `functions.py`).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnParameter, Stack

from infrastructure.blueprints.parameters import PARAMETERS as SHARED_PARAMETERS
from infrastructure.boundary import PARAMETER as BOUNDARY_PARAMETER
from infrastructure.boundary import bound_every_role
from lambdas.pipeline_orchestration.catalogue import PROBLEM_TYPES
from lambdas.pipeline_orchestration.spec import Blueprint

NAME = r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$"
LOWER_NAME = r"^[a-z0-9](-*[a-z0-9])*$"
BUCKET = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
KMS_ARN = r"^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[a-zA-Z0-9/_-]+)?$"
TRUE_FALSE = ["True", "False"]


def _text(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "String", "description": description, **extra}


def _number(description: str, low: int, high: int, **extra: Any) -> dict[str, Any]:
    return {"type": "Number", "description": description, "min_value": low, "max_value": high, **extra}


def _bucket(description: str) -> dict[str, Any]:
    return _text(description, allowed_pattern=BUCKET, constraint_description="must be an S3 bucket name")


def _location(description: str) -> dict[str, Any]:
    return _text(description, min_length=3, constraint_description="must be bucket/prefix")


# Every parameter the monitor and training blueprints declare, with its constraints. The names come from
# the catalogue's Blueprint tuples; a name missing here fails synthesis.
PARAMETERS: dict[str, dict[str, Any]] = {
    "AssetsBucket": _bucket("Bucket of the solution's assets (data, baselines, outputs)"),
    "BlueprintBucket": _bucket("Bucket holding the blueprints and their Lambda code"),
    "KmsKeyArn": _text(
        "Optional KMS key for outputs and volumes", allowed_pattern=KMS_ARN, constraint_description="a KMS key ARN"
    ),
    "BaselineJobName": _text("Name of the baseline processing job", min_length=3, max_length=63, allowed_pattern=NAME),
    "BaselineOutputBucket": _bucket("Bucket of the baseline job's output"),
    "BaselineJobOutputLocation": _location("bucket/prefix/<baseline job name> of the baseline job's output"),
    "DataCaptureBucket": _bucket("Bucket of the endpoint's captured data"),
    "DataCaptureLocation": _location("bucket/prefix of the endpoint's captured data"),
    "EndpointName": _text("Endpoint to monitor", min_length=1, max_length=63, allowed_pattern=NAME),
    "ImageUri": _text("Image of the job", min_length=1),
    "InstanceType": _text(
        "Instance type of the jobs",
        allowed_pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$",
        constraint_description="must be a SageMaker instance type such as ml.m5.large",
    ),
    "InstanceVolumeSize": _number("Volume size (GB) of each instance", 1, 16384),
    "BaselineMaxRuntimeSeconds": _text(
        "Optional maximum runtime (seconds) of the baseline job", allowed_pattern=r"^(\d{1,5})?$"
    ),
    "MonitorMaxRuntimeSeconds": _number("Maximum runtime (seconds) of each monitoring job", 1, 86400, default=1800),
    "MonitoringOutputLocation": _location("bucket/prefix of the monitoring reports"),
    "MonitoringScheduleName": _text(
        "Name of the monitoring schedule", min_length=3, max_length=63, allowed_pattern=NAME
    ),
    "ScheduleExpression": _text(
        "Cron expression of the schedule, e.g. cron(0 * ? * * *)",
        allowed_pattern=r"^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$",
        constraint_description="must be cron( followed by six fields and )",
    ),
    "BaselineData": _text("Key of the baseline CSV (with header) in the assets bucket", min_length=1),
    "BaselineInferenceAttribute": _text("Column of the predictions in the baseline data", default=""),
    "BaselineProbabilityAttribute": _text("Column of the probabilities in the baseline data", default=""),
    "BaselineGroundTruthAttribute": _text("Column of the ground truth in the baseline data", default=""),
    "ProblemType": _text("Problem type of the model", allowed_values=list(PROBLEM_TYPES)),
    "MonitorInferenceAttribute": _text("Index or JSONPath of the prediction in the endpoint output", default=""),
    "MonitorProbabilityAttribute": _text("Index or JSONPath of the probability in the endpoint output", default=""),
    # No default: the template validator would read '' as the job definition's (numeric) threshold.
    "ProbabilityThresholdAttribute": _text(
        "Threshold that turns a probability into a label (may be empty)", allowed_pattern=r"^(\d*\.?\d+)?$"
    ),
    "GroundTruthBucket": _bucket("Bucket of the ground-truth labels"),
    "MonitorGroundTruthInput": _location("bucket/prefix of the ground-truth labels"),
    "ModelPredictedLabelConfig": _text("Clarify ModelPredictedLabelConfig as JSON", default=""),
    "BiasConfig": _text("Clarify BiasConfig as JSON", min_length=2),
    "SHAPConfig": _text("Clarify SHAPConfig as JSON", min_length=2),
    "ExplainabilityModelScores": _text("Index or JSONPath (as JSON) of the score to explain", default=""),
    "FeaturesAttribute": _text("JSONPath or index of the features in the endpoint input", default=""),
    "NotificationsSNSTopicArn": _text(
        "SNS topic told when the job finishes", allowed_pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]+$"
    ),
    "JobName": _text("Name of the job", min_length=1, max_length=63, allowed_pattern=LOWER_NAME),
    "JobOutputLocation": _text("Prefix in the assets bucket for the job's output", min_length=1, max_length=128),
    "TrainingData": _text("Key or prefix of the training data in the assets bucket", min_length=1, max_length=128),
    "ValidationData": _text("Optional key of the validation data in the assets bucket", max_length=128, default=""),
    "EncryptInnerTraffic": _text("Encrypt traffic between containers", allowed_values=TRUE_FALSE, default="True"),
    "MaxRuntimePerJob": _number("Maximum runtime (seconds) of one training job", 600, 259200, default=86400),
    "CompressionType": _text("Compression of the input data", allowed_values=["", "Gzip"], default=""),
    "JobInstanceCount": _number("Number of training instances", 1, 100, default=1),
    "UseSpotInstances": _text("Use managed spot training", allowed_values=TRUE_FALSE, default="True"),
    "MaxWaitTimeForSpotInstances": _number("Maximum wait (seconds) for spot capacity", 1, 259200, default=172800),
    "ContentType": _text("MIME type of the training data", default="csv"),
    "S3DataType": _text(
        "S3 data type", allowed_values=["S3Prefix", "ManifestFile", "AugmentedManifestFile"], default="S3Prefix"
    ),
    "DataDistribution": _text(
        "Distribution of the data", allowed_values=["FullyReplicated", "ShardedByS3Key"], default="FullyReplicated"
    ),
    "DataInputMode": _text("Input mode", allowed_values=["File", "Pipe", "FastFile"], default="File"),
    "DataRecordWrapping": _text("Record wrapping", allowed_values=["", "RecordIO"], default=""),
    "AttributeNames": _text("JSON list of attribute names (AugmentedManifestFile)", default=""),
    "AlgoHyperparameteres": _text("Hyperparameters of the algorithm as JSON", min_length=2),
    "HyperparametersTunerConfig": _text("Tuner settings as JSON", min_length=2),
    "AlgoHyperparameteresRange": _text("Hyperparameter ranges as JSON", min_length=2),
    "AutopilotJobObjective": _text(
        "Metric to optimize", allowed_values=["", "Accuracy", "MSE", "F1", "F1macro", "AUC"], default=""
    ),
    "TargetAttribute": _text("Name of the target column", min_length=1),
    "AutopilotMaxCandidates": _number("Maximum number of candidates", 1, 750, default=10),
    "AutopilotTotalRuntime": _number("Maximum runtime (seconds) of the whole job", 3600, 2592000, default=2592000),
    "GenerateDefinitionsOnly": _text("Only generate candidate definitions", allowed_values=TRUE_FALSE, default="False"),
}


def declare_parameters(
    stack: Stack, blueprint: Blueprint, overrides: dict[str, dict[str, Any]] | None = None
) -> dict[str, str]:
    """Declare the blueprint's CfnParameters (exactly the catalogue's names); returns name -> Ref token."""
    refs = {}
    for name in blueprint.parameters:
        if name == BOUNDARY_PARAMETER:
            # The same definition, and the same effect, as in every other blueprint.
            boundary = CfnParameter(stack, name, **SHARED_PARAMETERS[name])
            bound_every_role(stack, boundary)
            refs[name] = boundary.value_as_string
            continue
        spec = {**PARAMETERS[name], **(overrides or {}).get(name, {})}
        refs[name] = CfnParameter(stack, name, **spec).value_as_string
    return refs
