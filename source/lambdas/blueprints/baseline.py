# SPDX-License-Identifier: Apache-2.0
"""Baseline jobs of the four model monitors, created with boto3 (no SageMaker SDK).

Data and model quality run the Model Monitor analyzer image; bias and explainability run the Clarify
image with an analysis configuration built here. The request fields and container paths are those the
SageMaker SDK (model_monitor, clarify) sends, so the containers see exactly what they expect.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from typing import Any

from lambdas.blueprints import network, open_engine
from lambdas.blueprints.custom_resource import JobFailed
from lambdas.shared.aws import client, is_not_found

DATA_QUALITY, MODEL_QUALITY, MODEL_BIAS, MODEL_EXPLAINABILITY = (
    "DataQuality",
    "ModelQuality",
    "ModelBias",
    "ModelExplainability",
)
MONITOR_TYPES = (DATA_QUALITY, MODEL_QUALITY, MODEL_BIAS, MODEL_EXPLAINABILITY)
CLARIFY_TYPES = (MODEL_BIAS, MODEL_EXPLAINABILITY)

PROCESSING = "/opt/ml/processing"
ANALYZER_DATASET = f"{PROCESSING}/input/baseline_dataset_input"
CLARIFY_DATASET = f"{PROCESSING}/input/data"
CLARIFY_CONFIG = f"{PROCESSING}/input/config"
OUTPUT = f"{PROCESSING}/output"
# What a finished baseline leaves behind, which the monitoring job definition then reads.
BASELINE_FILES = {
    DATA_QUALITY: ("constraints.json", "statistics.json"),
    MODEL_QUALITY: ("constraints.json",),
    MODEL_BIAS: ("analysis.json",),
    MODEL_EXPLAINABILITY: ("analysis.json",),
}
BASELINE_ANALYSIS_CONFIG = "analysis_config.json"
MONITOR_ANALYSIS_CONFIG = "monitor/analysis_config.json"
HEADER_BYTES = 65536


@dataclass(frozen=True)
class BaselineSpec:
    """What the stack asks for: the custom resource's properties, typed."""

    monitor_type: str
    job_name: str
    image_uri: str
    role_arn: str
    assets_bucket: str
    baseline_data: str
    output_location: str  # bucket/prefix/<job name>, without s3://
    instance_type: str
    volume_size: int
    max_runtime: int | None = None
    kms_key_arn: str = ""
    stack_name: str = ""
    endpoint_name: str = ""
    problem_type: str = ""
    inference_attribute: str = ""
    probability_attribute: str = ""
    ground_truth_attribute: str = ""
    probability_threshold: str = ""
    bias_config: str = ""
    model_predicted_label_config: str = ""
    shap_config: str = ""
    model_scores: str = ""
    vpc_config: dict[str, list[str]] | None = None
    network_isolation: bool = False
    encrypt_inter_container_traffic: bool = True
    # The open engine's baseline (the scikit-learn image running our engine); None: Model Monitor's or Clarify's.
    engine_job: open_engine.EngineJob | None = None

    @classmethod
    def from_properties(cls, props: dict[str, str]) -> BaselineSpec:
        monitor_type = props.get("MonitorType", "")
        if monitor_type not in MONITOR_TYPES:
            raise JobFailed(f"MonitorType must be one of {', '.join(MONITOR_TYPES)}, not '{monitor_type}'")
        runtime = props.get("MaxRuntimeSeconds", "")
        return cls(
            monitor_type=monitor_type,
            job_name=props["JobName"],
            image_uri=props["ImageUri"],
            role_arn=props["RoleArn"],
            assets_bucket=props["AssetsBucket"],
            baseline_data=props["BaselineData"],
            output_location=props["OutputLocation"].rstrip("/"),
            instance_type=props["InstanceType"],
            volume_size=int(props["InstanceVolumeSize"]),
            max_runtime=int(runtime) if runtime else None,
            kms_key_arn=props.get("KmsKeyArn", ""),
            stack_name=props.get("StackName", ""),
            endpoint_name=props.get("EndpointName", ""),
            problem_type=props.get("ProblemType", ""),
            inference_attribute=props.get("InferenceAttribute", ""),
            probability_attribute=props.get("ProbabilityAttribute", ""),
            ground_truth_attribute=props.get("GroundTruthAttribute", ""),
            probability_threshold=props.get("ProbabilityThresholdAttribute", ""),
            bias_config=props.get("BiasConfig", ""),
            model_predicted_label_config=props.get("ModelPredictedLabelConfig", ""),
            shap_config=props.get("SHAPConfig", ""),
            model_scores=props.get("ModelScores", ""),
            vpc_config=network.vpc_config(props),
            network_isolation=network.flag(props, "EnableNetworkIsolation", False),
            encrypt_inter_container_traffic=network.flag(props, "EncryptInterContainerTraffic", True),
            engine_job=open_engine.EngineJob.from_properties(props)
            if props.get("Engine") == open_engine.OPEN
            else None,
        )

    @property
    def output_uri(self) -> str:
        return f"s3://{self.output_location}"

    @property
    def baseline_uri(self) -> str:
        return f"s3://{self.assets_bucket}/{self.baseline_data}"


# ---------------------------------------------------------------------------------------------------------
# Requests (pure)


def analyzer_environment(spec: BaselineSpec) -> dict[str, str]:
    """Environment of the Model Monitor analyzer for a data- or model-quality baseline."""
    env = {
        "dataset_format": json.dumps({"csv": {"header": True, "output_columns_position": "START"}}),
        "dataset_source": ANALYZER_DATASET,
        "output_path": OUTPUT,
        "publish_cloudwatch_metrics": "Disabled",
    }
    if spec.monitor_type != MODEL_QUALITY:
        return env
    _check_model_quality(spec)
    env["analysis_type"] = "MODEL_QUALITY"
    env["problem_type"] = spec.problem_type
    env["ground_truth_attribute"] = spec.ground_truth_attribute
    if spec.inference_attribute:
        env["inference_attribute"] = spec.inference_attribute
    # Probability and threshold only mean something for a binary classifier.
    if spec.problem_type == "BinaryClassification":
        if spec.probability_attribute:
            env["probability_attribute"] = spec.probability_attribute
        if spec.probability_threshold:
            env["probability_threshold_attribute"] = spec.probability_threshold
    return env


def _check_model_quality(spec: BaselineSpec) -> None:
    problems = []
    if spec.problem_type not in ("Regression", "BinaryClassification", "MulticlassClassification"):
        problems.append(
            f"ProblemType '{spec.problem_type}' is not Regression, BinaryClassification or MulticlassClassification"
        )
    if not spec.ground_truth_attribute:
        problems.append("the baseline ground-truth attribute is required")
    if spec.problem_type == "BinaryClassification":
        if not (spec.inference_attribute or (spec.probability_attribute and spec.probability_threshold)):
            problems.append(
                "BinaryClassification needs the baseline inference attribute, or the probability "
                "attribute and the probability threshold"
            )
    elif not spec.inference_attribute:
        problems.append(f"{spec.problem_type or 'the problem type'} needs the baseline inference attribute")
    if problems:
        raise JobFailed("Model-quality baseline: " + "; ".join(problems))


def _json(text: str, what: str, default: Any = None) -> Any:
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError as error:
        raise JobFailed(f"{what} is not valid JSON: {error}") from error


def _predictor(spec: BaselineSpec, model_name: str) -> dict[str, Any]:
    """Clarify's shadow endpoint for the baseline: the endpoint's model on the job's instance type."""
    return {
        "model_name": model_name,
        "instance_type": spec.instance_type,
        "initial_instance_count": 1,
        "accept_type": "text/csv",
        "content_type": "text/csv",
    }


def clarify_analysis_configs(
    spec: BaselineSpec, headers: list[str], model_name: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(analysis config of the baseline job, analysis config the monitoring job reads)."""
    if not headers:
        raise JobFailed(f"baseline data {spec.baseline_uri} has no header row")
    label = headers[0]  # the predecessor's contract: the label is the first column of the baseline CSV
    data = {"dataset_type": "text/csv", "headers": headers, "label": label}
    predictor = _predictor(spec, model_name)
    report = {"report": {"name": "report", "title": "Analysis Report"}}
    if spec.monitor_type == MODEL_BIAS:
        bias = _bias_config(_json(spec.bias_config, "BiasConfig", {}))
        baseline = {
            **data,
            **bias,
            "methods": {
                **report,
                "pre_training_bias": {"methods": "all"},
                "post_training_bias": {"methods": "all"},
            },
            "predictor": predictor,
        }
        labels = _json(spec.model_predicted_label_config, "ModelPredictedLabelConfig", {}) or {}
        unknown = set(labels) - {"label", "probability", "probability_threshold", "label_headers"}
        if unknown:
            raise JobFailed(f"ModelPredictedLabelConfig has unknown keys: {', '.join(sorted(unknown))}")
        for key in ("label", "probability", "label_headers"):
            if labels.get(key) is not None:
                predictor[key] = labels[key]
        if labels.get("probability_threshold") is not None:
            baseline["probability_threshold"] = float(labels["probability_threshold"])
        monitor = {**bias, "headers": headers, "label": label}
        return baseline, monitor
    shap = _shap_config(spec, _json(spec.shap_config, "SHAPConfig", {}))
    scores = _json(spec.model_scores, "ModelScores")
    label_headers = None
    if isinstance(scores, dict):  # ModelPredictedLabelConfig-like: label and label_headers
        label_headers = scores.get("label_headers")
        scores = scores.get("label")
    if scores is not None and scores != "":
        predictor["label"] = scores
    if label_headers:
        predictor["label_headers"] = label_headers
    baseline = {**data, "predictor": predictor, "methods": {**report, "shap": shap}}
    # Explainability of the live traffic needs no label: the monitor sees features only.
    monitor = {"methods": {"shap": shap}, "predictor": dict(predictor), "headers": headers[1:]}
    return baseline, monitor


def _bias_config(config: dict[str, Any]) -> dict[str, Any]:
    """Clarify's form of sagemaker.clarify.BiasConfig(**config)."""
    if "label_values_or_threshold" not in config or "facet_name" not in config:
        raise JobFailed("BiasConfig needs label_values_or_threshold and facet_name")
    names, values = config["facet_name"], config.get("facet_values_or_threshold")
    if isinstance(names, list):
        if not names:
            raise JobFailed("BiasConfig facet_name must name at least one facet")
        if values is not None and (not isinstance(values, list) or len(values) != len(names)):
            raise JobFailed("BiasConfig facet_values_or_threshold must give one value per facet_name")
        facets = [
            {"name_or_index": name, **({"value_or_threshold": values[i]} if values is not None else {})}
            for i, name in enumerate(names)
        ]
    else:
        facets = [{"name_or_index": names, **({"value_or_threshold": values} if values is not None else {})}]
    result = {"label_values_or_threshold": config["label_values_or_threshold"], "facet": facets}
    if config.get("group_name") is not None:
        result["group_variable"] = config["group_name"]
    return result


def _shap_config(spec: BaselineSpec, config: dict[str, Any]) -> dict[str, Any]:
    """Clarify's form of sagemaker.clarify.SHAPConfig(**config); a text baseline is a key in the assets bucket."""
    if config.get("agg_method") not in (None, "mean_abs", "median", "mean_sq"):
        raise JobFailed("SHAPConfig agg_method must be mean_abs, median or mean_sq")
    if config.get("baseline") is not None and config.get("num_clusters") is not None:
        raise JobFailed("SHAPConfig takes baseline or num_clusters, not both")
    shap: dict[str, Any] = {
        "use_logit": bool(config.get("use_logit", False)),
        "save_local_shap_values": bool(config.get("save_local_shap_values", True)),
    }
    baseline = config.get("baseline")
    if isinstance(baseline, str) and not baseline.startswith("s3://"):
        baseline = f"s3://{spec.assets_bucket}/{baseline}"
    extras = {
        "baseline": baseline,
        "num_samples": config.get("num_samples"),
        "agg_method": config.get("agg_method"),
        "seed": config.get("seed"),
        "num_clusters": config.get("num_clusters"),
        "text_config": config.get("text_config"),
        "image_config": config.get("image_config"),
        "features_to_explain": config.get("features_to_explain"),
    }
    shap.update({k: v for k, v in extras.items() if v is not None})
    return shap


def processing_request(spec: BaselineSpec) -> dict[str, Any]:
    """The CreateProcessingJob request of the baseline."""
    s3_input = {"S3DataType": "S3Prefix", "S3InputMode": "File", "S3CompressionType": "None"}
    if spec.monitor_type in CLARIFY_TYPES:
        inputs = [
            {
                "InputName": "dataset",
                "S3Input": {
                    "S3Uri": spec.baseline_uri,
                    "LocalPath": CLARIFY_DATASET,
                    **s3_input,
                    "S3DataDistributionType": "FullyReplicated",
                },
            },
            {
                "InputName": "analysis_config",
                "S3Input": {
                    "S3Uri": f"{spec.output_uri}/{BASELINE_ANALYSIS_CONFIG}",
                    "LocalPath": CLARIFY_CONFIG,
                    **s3_input,
                },
            },
        ]
        output_name, environment = "analysis_result", None
    else:
        inputs = [
            {
                "InputName": "baseline_dataset_input",
                "S3Input": {
                    "S3Uri": spec.baseline_uri,
                    "LocalPath": ANALYZER_DATASET,
                    **s3_input,
                    "S3DataDistributionType": "FullyReplicated",
                },
            }
        ]
        output_name, environment = "monitoring_output", analyzer_environment(spec)
    cluster: dict[str, Any] = {
        "InstanceCount": 1,
        "InstanceType": spec.instance_type,
        "VolumeSizeInGB": spec.volume_size,
    }
    output_config: dict[str, Any] = {
        "Outputs": [
            {
                "OutputName": output_name,
                "S3Output": {"S3Uri": spec.output_uri, "LocalPath": OUTPUT, "S3UploadMode": "EndOfJob"},
            }
        ]
    }
    if spec.kms_key_arn:
        cluster["VolumeKmsKeyId"] = spec.kms_key_arn
        output_config["KmsKeyId"] = spec.kms_key_arn
    request: dict[str, Any] = {
        "ProcessingJobName": spec.job_name,
        "ProcessingInputs": inputs,
        "ProcessingOutputConfig": output_config,
        "ProcessingResources": {"ClusterConfig": cluster},
        "AppSpecification": {"ImageUri": spec.image_uri},
        "RoleArn": spec.role_arn,
    }
    if environment:
        request["Environment"] = environment
    if spec.max_runtime:
        request["StoppingCondition"] = {"MaxRuntimeInSeconds": spec.max_runtime}
    if spec.stack_name:
        request["Tags"] = [{"Key": "stack_name", "Value": spec.stack_name}]
    if spec.vpc_config or spec.network_isolation:
        request["NetworkConfig"] = _network_config(spec)
    return request


def _network_config(spec: BaselineSpec) -> dict[str, Any]:
    """The baseline's NetworkConfig, as the monitoring job definition's (a job without VPC or isolation has none)."""
    config: dict[str, Any] = {
        "EnableInterContainerTrafficEncryption": spec.encrypt_inter_container_traffic,
        "EnableNetworkIsolation": spec.network_isolation,
    }
    if spec.vpc_config:
        config["VpcConfig"] = spec.vpc_config
    return config


# ---------------------------------------------------------------------------------------------------------
# AWS side


def _split(uri_or_path: str) -> tuple[str, str]:
    bucket, _, key = uri_or_path.removeprefix("s3://").partition("/")
    return bucket, key


def read_header(spec: BaselineSpec) -> list[str]:
    """Column names of the baseline CSV (first line), read without downloading the whole file."""
    from botocore.exceptions import ClientError

    try:
        body = (
            client("s3")
            .get_object(Bucket=spec.assets_bucket, Key=spec.baseline_data, Range=f"bytes=0-{HEADER_BYTES - 1}")["Body"]
            .read()
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "InvalidRange":  # S3's answer for an empty object
            return []
        raise JobFailed(f"cannot read baseline data {spec.baseline_uri}: {error}") from error
    first_line = body.decode("utf-8-sig", errors="replace").splitlines()[:1]
    headers = next(csv.reader(first_line), []) if first_line else []
    return [h.strip() for h in headers]


def endpoint_model(endpoint_name: str) -> str:
    """The SageMaker model behind the endpoint (its first production variant)."""
    from botocore.exceptions import ClientError

    sagemaker = client("sagemaker")
    try:
        config_name = sagemaker.describe_endpoint(EndpointName=endpoint_name)["EndpointConfigName"]
        variants = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)["ProductionVariants"]
    except ClientError as error:
        raise JobFailed(f"cannot find the model of endpoint '{endpoint_name}': {error}") from error
    if not variants or not variants[0].get("ModelName"):
        raise JobFailed(f"endpoint '{endpoint_name}' has no production variant with a model")
    return variants[0]["ModelName"]


def _put_json(spec: BaselineSpec, key_suffix: str, content: dict[str, Any]) -> None:
    bucket, prefix = _split(spec.output_location)
    extra: dict[str, str] = {}
    if spec.kms_key_arn:
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": spec.kms_key_arn}
    client("s3").put_object(
        Bucket=bucket,
        Key=f"{prefix}/{key_suffix}",
        Body=json.dumps(content, indent=2).encode(),
        ContentType="application/json",
        **extra,
    )


def start_baseline(spec: BaselineSpec) -> str:
    """Create the baseline job (writing Clarify's analysis configs first); idempotent on the job name."""
    from botocore.exceptions import ClientError

    sagemaker = client("sagemaker")
    if _existing_status(spec.job_name) is not None:
        return spec.job_name  # a retried or rolled-back request: the job is already there
    if spec.engine_job is not None:
        request = open_engine.start_baseline(spec, spec.engine_job)
    else:
        request = processing_request(spec)
    if spec.monitor_type in CLARIFY_TYPES and spec.engine_job is None:
        baseline_config, monitor_config = clarify_analysis_configs(
            spec, read_header(spec), endpoint_model(spec.endpoint_name)
        )
        _put_json(spec, BASELINE_ANALYSIS_CONFIG, baseline_config)
        _put_json(spec, MONITOR_ANALYSIS_CONFIG, monitor_config)
    try:
        sagemaker.create_processing_job(**request)
    except ClientError as error:
        raise JobFailed(f"cannot create baseline job {spec.job_name}: {error}") from error
    return spec.job_name


def _existing_status(job_name: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        return client("sagemaker").describe_processing_job(ProcessingJobName=job_name)
    except ClientError as error:
        if is_not_found(error):
            return None
        raise


def baseline_finished(spec: BaselineSpec) -> bool:
    """True once the job completed and left its baseline files; JobFailed when it failed or stopped."""
    job = _existing_status(spec.job_name)
    if job is None:
        raise JobFailed(f"baseline job {spec.job_name} does not exist")
    status = job["ProcessingJobStatus"]
    if status in ("InProgress", "Stopping"):
        return False
    if status != "Completed":
        reason = job.get("FailureReason") or job.get("ExitMessage") or "no reason given"
        raise JobFailed(f"baseline job {spec.job_name} {status.lower()}: {reason}")
    missing = [name for name in BASELINE_FILES[spec.monitor_type] if not _exists(spec, name)]
    if missing:
        raise JobFailed(
            f"baseline job {spec.job_name} completed but wrote no {', '.join(missing)} under {spec.output_uri}"
        )
    return True


def _exists(spec: BaselineSpec, name: str) -> bool:
    from botocore.exceptions import ClientError

    bucket, prefix = _split(spec.output_location)
    try:
        client("s3").head_object(Bucket=bucket, Key=f"{prefix}/{name}")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def stop_if_running(job_name: str) -> None:
    """Stop a baseline that is still running (the stack is being deleted or rolled back)."""
    job = _existing_status(job_name)
    if job is not None and job["ProcessingJobStatus"] == "InProgress":
        client("sagemaker").stop_processing_job(ProcessingJobName=job_name)
