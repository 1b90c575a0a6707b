# SPDX-License-Identifier: Apache-2.0
"""Training and hyperparameter tuning jobs with a built-in algorithm, created with boto3.

Every option of the predecessor's SDK Estimator / HyperparameterTuner is kept: spot instances with
checkpoints, inter-container encryption, the train and validation channels with their data options,
KMS and runtime limits. Values arrive as CloudFormation text and are typed here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from lambdas.blueprints import network
from lambdas.blueprints.custom_resource import JobFailed, create_unless_there
from lambdas.shared.aws import client

RANGE_KINDS = ("continuous", "integer", "categorical")


@dataclass(frozen=True)
class TrainingSpec:
    """The training (or tuning) job the stack asks for: the custom resource's properties, typed."""

    job_name: str
    image_uri: str
    role_arn: str
    assets_bucket: str
    job_output_location: str
    training_data: str
    validation_data: str
    instance_type: str
    instance_count: int
    volume_size: int
    encrypt_inner_traffic: bool
    max_runtime: int
    use_spot: bool
    max_wait: int
    content_type: str
    s3_data_type: str
    data_distribution: str
    compression_type: str
    input_mode: str
    record_wrapping: str
    attribute_names: list[str]
    hyperparameters: dict[str, Any]
    kms_key_arn: str = ""
    stack_name: str = ""
    tuner_config: dict[str, Any] | None = None
    ranges: dict[str, Any] | None = None
    vpc_config: dict[str, list[str]] | None = None
    network_isolation: bool = False

    @classmethod
    def from_properties(cls, props: dict[str, str]) -> TrainingSpec:
        def number(key: str) -> int:
            try:
                return int(props[key])
            except (KeyError, ValueError) as error:
                raise JobFailed(f"{key} must be a whole number, not '{props.get(key, '')}'") from error

        tuner = _json_object(props.get("HyperparametersTunerConfig", ""), "HyperparametersTunerConfig")
        ranges = _json_object(props.get("AlgoHyperparameteresRange", ""), "AlgoHyperparameteresRange")
        names = props.get("AttributeNames", "")
        attribute_names = json.loads(names) if names else []
        if not (isinstance(attribute_names, list) and all(isinstance(n, str) for n in attribute_names)):
            raise JobFailed("AttributeNames must be a JSON list of strings")
        return cls(
            job_name=props["JobName"],
            image_uri=props["ImageUri"],
            role_arn=props["RoleArn"],
            assets_bucket=props["AssetsBucket"],
            job_output_location=props["JobOutputLocation"].strip("/"),
            training_data=props["TrainingData"],
            validation_data=props.get("ValidationData", ""),
            instance_type=props["InstanceType"],
            instance_count=number("JobInstanceCount"),
            volume_size=number("InstanceVolumeSize"),
            encrypt_inner_traffic=props.get("EncryptInnerTraffic", "True") == "True",
            max_runtime=number("MaxRuntimePerJob"),
            use_spot=props.get("UseSpotInstances", "False") == "True",
            max_wait=number("MaxWaitTimeForSpotInstances"),
            content_type=props.get("ContentType", ""),
            s3_data_type=props.get("S3DataType", "S3Prefix"),
            data_distribution=props.get("DataDistribution", "FullyReplicated"),
            compression_type=props.get("CompressionType", ""),
            input_mode=props.get("DataInputMode", "File"),
            record_wrapping=props.get("DataRecordWrapping", ""),
            attribute_names=attribute_names,
            hyperparameters=_json_object(props.get("AlgoHyperparameteres", ""), "AlgoHyperparameteres") or {},
            kms_key_arn=props.get("KmsKeyArn", ""),
            stack_name=props.get("StackName", ""),
            tuner_config=tuner,
            ranges=ranges,
            vpc_config=network.vpc_config(props),
            network_isolation=network.flag(props, "EnableNetworkIsolation", False),
        )

    @property
    def output_uri(self) -> str:
        return f"s3://{self.assets_bucket}/{self.job_output_location}"

    @property
    def checkpoint_uri(self) -> str:
        return f"{self.output_uri}/{self.job_name}/checkpoint"


def _json_object(text: str, what: str) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError as error:
        raise JobFailed(f"{what} is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise JobFailed(f"{what} must be a JSON object")
    return value


def _text(value: Any) -> str:
    """A hyperparameter value as SageMaker takes it: text (JSON for lists and objects)."""
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


# ---------------------------------------------------------------------------------------------------------
# Requests (pure)


def channel(spec: TrainingSpec, name: str, key: str) -> dict[str, Any]:
    """One input channel with the request's data options."""
    source: dict[str, Any] = {
        "S3DataType": spec.s3_data_type,
        "S3Uri": f"s3://{spec.assets_bucket}/{key}",
        "S3DataDistributionType": spec.data_distribution,
    }
    if spec.attribute_names:
        source["AttributeNames"] = spec.attribute_names
    result: dict[str, Any] = {
        "ChannelName": name,
        "DataSource": {"S3DataSource": source},
        "CompressionType": spec.compression_type or "None",
        "RecordWrapperType": spec.record_wrapping or "None",
        "InputMode": spec.input_mode,
    }
    if spec.content_type:
        result["ContentType"] = spec.content_type
    return result


def _job_definition(spec: TrainingSpec) -> dict[str, Any]:
    """The parts a training job and a tuning job's training definition share."""
    channels = [channel(spec, "train", spec.training_data)]
    if spec.validation_data:
        channels.append(channel(spec, "validation", spec.validation_data))
    output: dict[str, Any] = {"S3OutputPath": spec.output_uri}
    resources: dict[str, Any] = {
        "InstanceType": spec.instance_type,
        "InstanceCount": spec.instance_count,
        "VolumeSizeInGB": spec.volume_size,
    }
    if spec.kms_key_arn:
        output["KmsKeyId"] = spec.kms_key_arn
        resources["VolumeKmsKeyId"] = spec.kms_key_arn
    stopping: dict[str, Any] = {"MaxRuntimeInSeconds": spec.max_runtime}
    definition: dict[str, Any] = {
        "RoleArn": spec.role_arn,
        "InputDataConfig": channels,
        "OutputDataConfig": output,
        "ResourceConfig": resources,
        "StoppingCondition": stopping,
        "EnableNetworkIsolation": spec.network_isolation,
        "EnableInterContainerTrafficEncryption": spec.encrypt_inner_traffic,
        "EnableManagedSpotTraining": spec.use_spot,
    }
    if spec.vpc_config:
        definition["VpcConfig"] = spec.vpc_config
    if spec.use_spot:
        if spec.max_wait <= spec.max_runtime:
            raise JobFailed(
                f"MaxWaitTimeForSpotInstances ({spec.max_wait}) must exceed MaxRuntimePerJob ({spec.max_runtime})"
            )
        stopping["MaxWaitTimeInSeconds"] = spec.max_wait
        definition["CheckpointConfig"] = {"S3Uri": spec.checkpoint_uri}
    return definition


def _tags(spec: TrainingSpec) -> dict[str, Any]:
    return {"Tags": [{"Key": "stack_name", "Value": spec.stack_name}]} if spec.stack_name else {}


def training_request(spec: TrainingSpec) -> dict[str, Any]:
    """The CreateTrainingJob request."""
    return {
        "TrainingJobName": spec.job_name,
        "AlgorithmSpecification": {"TrainingImage": spec.image_uri, "TrainingInputMode": spec.input_mode},
        "HyperParameters": {name: _text(value) for name, value in spec.hyperparameters.items()},
        **_job_definition(spec),
        **_tags(spec),
    }


def parameter_ranges(ranges: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """{name: ["continuous"|"integer", [min, max]] | ["categorical", [values]]} -> ParameterRanges."""
    result: dict[str, list[dict[str, Any]]] = {
        "ContinuousParameterRanges": [],
        "IntegerParameterRanges": [],
        "CategoricalParameterRanges": [],
    }
    for name, spec in ranges.items():
        if not (isinstance(spec, list) and len(spec) == 2 and spec[0] in RANGE_KINDS and isinstance(spec[1], list)):
            raise JobFailed(f'range of {name} must be ["continuous"|"integer", [min, max]] or ["categorical", [...]]')
        kind, values = spec
        if kind == "categorical":
            if not values:
                raise JobFailed(f"categorical range of {name} has no values")
            result["CategoricalParameterRanges"].append({"Name": name, "Values": [_text(v) for v in values]})
            continue
        if len(values) != 2 or values[0] > values[1]:
            raise JobFailed(f"{kind} range of {name} must be [min, max] with min <= max")
        key = "ContinuousParameterRanges" if kind == "continuous" else "IntegerParameterRanges"
        cast = float if kind == "continuous" else int
        result[key].append(
            {"Name": name, "MinValue": str(cast(values[0])), "MaxValue": str(cast(values[1])), "ScalingType": "Auto"}
        )
    return result


def tuning_request(spec: TrainingSpec) -> dict[str, Any]:
    """The CreateHyperParameterTuningJob request (defaults as the SDK's HyperparameterTuner)."""
    config = spec.tuner_config or {}
    if not config.get("objective_metric_name"):
        raise JobFailed("HyperparametersTunerConfig needs objective_metric_name")
    if not spec.ranges:
        raise JobFailed("AlgoHyperparameteresRange needs at least one range")
    strategy = config.get("strategy", "Bayesian")
    limits: dict[str, Any] = {"MaxParallelTrainingJobs": int(config.get("max_parallel_jobs", 1))}
    if strategy != "Grid" or "max_jobs" in config:  # Grid search enumerates the ranges itself
        limits["MaxNumberOfTrainingJobs"] = int(config.get("max_jobs", 1))
    tuned = set(spec.ranges)
    algorithm: dict[str, Any] = {"TrainingImage": spec.image_uri, "TrainingInputMode": spec.input_mode}
    if config.get("metric_definitions"):
        algorithm["MetricDefinitions"] = [
            {"Name": m["Name"], "Regex": m["Regex"]} for m in config["metric_definitions"]
        ]
    return {
        "HyperParameterTuningJobName": spec.job_name,
        "HyperParameterTuningJobConfig": {
            "Strategy": strategy,
            "HyperParameterTuningJobObjective": {
                "Type": config.get("objective_type", "Maximize"),
                "MetricName": config["objective_metric_name"],
            },
            "ResourceLimits": limits,
            "ParameterRanges": parameter_ranges(spec.ranges),
            "TrainingJobEarlyStoppingType": config.get("early_stopping_type", "Off"),
        },
        "TrainingJobDefinition": {
            # A hyperparameter that is tuned is not also static.
            "StaticHyperParameters": {
                name: _text(value) for name, value in spec.hyperparameters.items() if name not in tuned
            },
            "AlgorithmSpecification": algorithm,
            **_job_definition(spec),
        },
        **_tags(spec),
    }


# ---------------------------------------------------------------------------------------------------------
# AWS side


def start_training(spec: TrainingSpec) -> str:
    create_unless_there(
        client("sagemaker").create_training_job, training_request(spec), f"training job {spec.job_name}"
    )
    return spec.job_name


def start_tuning(spec: TrainingSpec) -> str:
    create_unless_there(
        client("sagemaker").create_hyper_parameter_tuning_job, tuning_request(spec), f"tuning job {spec.job_name}"
    )
    return spec.job_name
