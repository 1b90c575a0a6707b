# SPDX-License-Identifier: Apache-2.0
"""Autopilot (AutoML V2, tabular) job, created with boto3."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lambdas.blueprints import network
from lambdas.blueprints.custom_resource import JobFailed, create_unless_there
from lambdas.shared.aws import client

PROBLEM_OBJECTIVES = {
    "Regression": ("MSE",),
    "BinaryClassification": ("Accuracy", "F1", "AUC"),
    "MulticlassClassification": ("Accuracy", "F1macro"),
}


@dataclass(frozen=True)
class AutopilotSpec:
    job_name: str
    role_arn: str
    assets_bucket: str
    training_data: str
    job_output_location: str
    target_attribute: str
    problem_type: str
    objective: str
    compression_type: str
    max_candidates: int
    encrypt_inner_traffic: bool
    max_runtime_per_job: int
    total_runtime: int
    definitions_only: bool
    kms_key_arn: str = ""
    stack_name: str = ""
    vpc_config: dict[str, list[str]] | None = None

    @classmethod
    def from_properties(cls, props: dict[str, str]) -> AutopilotSpec:
        def number(key: str) -> int:
            try:
                return int(props[key])
            except (KeyError, ValueError) as error:
                raise JobFailed(f"{key} must be a whole number, not '{props.get(key, '')}'") from error

        return cls(
            job_name=props["JobName"],
            role_arn=props["RoleArn"],
            assets_bucket=props["AssetsBucket"],
            training_data=props["TrainingData"],
            job_output_location=props["JobOutputLocation"].strip("/"),
            target_attribute=props["TargetAttribute"],
            problem_type=props.get("ProblemType", ""),
            objective=props.get("AutopilotJobObjective", ""),
            compression_type=props.get("CompressionType", ""),
            max_candidates=number("AutopilotMaxCandidates"),
            encrypt_inner_traffic=props.get("EncryptInnerTraffic", "True") == "True",
            max_runtime_per_job=number("MaxRuntimePerJob"),
            total_runtime=number("AutopilotTotalRuntime"),
            definitions_only=props.get("GenerateDefinitionsOnly", "False") == "True",
            kms_key_arn=props.get("KmsKeyArn", ""),
            stack_name=props.get("StackName", ""),
            vpc_config=network.vpc_config(props),
        )


def automl_request(spec: AutopilotSpec) -> dict[str, Any]:
    """The CreateAutoMLJobV2 request for a tabular data set."""
    if bool(spec.problem_type) != bool(spec.objective):
        raise JobFailed("ProblemType and AutopilotJobObjective must be given together, or both left empty")
    if spec.problem_type and spec.objective not in PROBLEM_OBJECTIVES.get(spec.problem_type, ()):
        allowed = ", ".join(PROBLEM_OBJECTIVES.get(spec.problem_type, ())) or "none"
        raise JobFailed(f"objective {spec.objective} does not fit {spec.problem_type} (allowed: {allowed})")
    channel: dict[str, Any] = {
        "ChannelType": "training",
        "ContentType": "text/csv;header=present",
        "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{spec.assets_bucket}/{spec.training_data}"}
        },
    }
    if spec.compression_type:
        channel["CompressionType"] = spec.compression_type
    tabular: dict[str, Any] = {
        "TargetAttributeName": spec.target_attribute,
        "CompletionCriteria": {
            "MaxCandidates": spec.max_candidates,
            "MaxRuntimePerTrainingJobInSeconds": spec.max_runtime_per_job,
            "MaxAutoMLJobRuntimeInSeconds": spec.total_runtime,
        },
        "GenerateCandidateDefinitionsOnly": spec.definitions_only,
    }
    if spec.problem_type:
        tabular["ProblemType"] = spec.problem_type
    output: dict[str, Any] = {"S3OutputPath": f"s3://{spec.assets_bucket}/{spec.job_output_location}"}
    security: dict[str, Any] = {"EnableInterContainerTrafficEncryption": spec.encrypt_inner_traffic}
    if spec.kms_key_arn:
        output["KmsKeyId"] = spec.kms_key_arn
        security["VolumeKmsKeyId"] = spec.kms_key_arn
    if spec.vpc_config:
        security["VpcConfig"] = spec.vpc_config
    request: dict[str, Any] = {
        "AutoMLJobName": spec.job_name,
        "AutoMLJobInputDataConfig": [channel],
        "OutputDataConfig": output,
        "AutoMLProblemTypeConfig": {"TabularJobConfig": tabular},
        "RoleArn": spec.role_arn,
        "SecurityConfig": security,
    }
    if spec.objective:
        request["AutoMLJobObjective"] = {"MetricName": spec.objective}
    if spec.stack_name:
        request["Tags"] = [{"Key": "stack_name", "Value": spec.stack_name}]
    return request


def start_autopilot(spec: AutopilotSpec) -> str:
    create_unless_there(
        client("sagemaker").create_auto_ml_job_v2, automl_request(spec), f"Autopilot job {spec.job_name}"
    )
    return spec.job_name
