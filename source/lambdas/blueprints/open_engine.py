# SPDX-License-Identifier: Apache-2.0
"""The open monitoring engine's jobs: its baseline, and each scheduled hour's analysis.

Both are SageMaker Processing jobs on AWS's scikit-learn framework image. The job installs the engine from the
wheels the build ships in the blueprints bucket (`pip install --no-index`, so a job in a VPC without internet
needs none) and runs `python -m monitoring_engine.job --spec <spec.json>`. The baseline writes, beside its
reports, the analysis spec and the processing request of every later hour (`engine/`); the schedule's Lambda
fills in the hour and starts the job. Nothing here imports the engine: it runs in the job.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lambdas.blueprints.custom_resource import JobFailed
from lambdas.shared.aws import client
from lambdas.shared.logging import get_logger

logger = get_logger(__name__)

OPEN = "Open"
ENGINE_PREFIX = "blueprints/monitoring_engine"  # in the blueprints bucket, from blueprints.zip: the engine's wheels
ENGINE_DIR = "/opt/ml/processing/input/engine"
SPEC_FILE = "spec.json"
ANALYSIS_SPEC = "engine/analysis_spec.json"  # under the baseline's output: the spec of every hour, less the hour
ANALYSIS_JOB = "engine/analysis_job.json"  # the CreateProcessingJob request of every hour, less its name and spec
ANALYSIS_JOB_PREFIX = "open-monitoring-"  # + the schedule's execution id (16 characters): 32 of SageMaker's 63
# The environment of an analysis job: the orchestrator reads its schedule and hour back from DescribeProcessingJob.
SCHEDULE_ENV, SCHEDULED_TIME_ENV = "MONITORING_SCHEDULE", "MONITORING_SCHEDULED_TIME"
KINDS = {
    "DataQuality": "data_quality",
    "ModelQuality": "model_quality",
    "ModelBias": "model_bias",
    "ModelExplainability": "model_explainability",
}
# The stack's endpoint-input properties, by the request field each carries.
ENDPOINT_ATTRIBUTES = {
    "EndpointInferenceAttribute": "monitor_inference_attribute",
    "EndpointProbabilityAttribute": "monitor_probability_attribute",
    "EndpointProbabilityThresholdAttribute": "probability_threshold_attribute",
    "EndpointFeaturesAttribute": "features_attribute",
}
# Installs the engine from the shipped wheels only, then hands the job's arguments to it.
INSTALL_AND_RUN = (
    f'python3 -m pip install --quiet --no-index --find-links "{ENGINE_DIR}" monitoring-engine '
    '&& exec python3 -m monitoring_engine.job "$@"'
)


def entrypoint() -> list[str]:
    """The container entrypoint: `sh -c <install and run> engine <arguments...>` ($0 is "engine")."""
    return ["/bin/sh", "-c", INSTALL_AND_RUN, "engine"]


@dataclass(frozen=True)
class EngineJob:
    """What the stack tells the baseline about the open engine (the custom resource's properties)."""

    bundle_uri: str  # s3://<blueprints bucket>/monitoring_engine/
    schedule_name: str
    monitoring_output: str  # bucket/prefix, without s3://
    capture: str  # bucket/prefix of the endpoint's data capture
    ground_truth: str = ""
    analysis_max_runtime: int | None = None
    # How to read the endpoint's captured input and output (the request's monitor_* and features attributes).
    endpoint_attributes: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_properties(cls, props: dict[str, str]) -> EngineJob:
        missing = [
            k for k in ("EngineBundle", "MonitoringScheduleName", "MonitoringOutputLocation") if not props.get(k)
        ]
        if missing:
            raise JobFailed(f"the open engine's baseline needs {', '.join(missing)}")
        return cls(
            bundle_uri=props["EngineBundle"].rstrip("/") + "/",
            schedule_name=props["MonitoringScheduleName"],
            monitoring_output=props["MonitoringOutputLocation"].rstrip("/"),
            capture=props.get("DataCaptureLocation", "").rstrip("/"),
            ground_truth=props.get("MonitorGroundTruthInput", "").rstrip("/"),
            analysis_max_runtime=int(runtime) if (runtime := props.get("MonitorMaxRuntimeSeconds")) else None,
            endpoint_attributes={
                request_name: props[prop] for prop, request_name in ENDPOINT_ATTRIBUTES.items() if props.get(prop)
            },
        )


def _json_or_empty(text: str) -> Any:
    if not text:
        return {}
    try:
        return json.loads(text)
    except ValueError as error:
        raise JobFailed(f"not JSON: {text[:80]}") from error


def engine_config(spec: Any) -> dict[str, Any]:
    """The monitor request's fields the engine reads (the custom resource's properties, by their request names)."""
    config = {
        "problem_type": spec.problem_type,
        "inference_attribute": spec.inference_attribute,
        "probability_attribute": spec.probability_attribute,
        "ground_truth_attribute": spec.ground_truth_attribute,
        "probability_threshold_attribute": spec.probability_threshold,
        "bias_config": _json_or_empty(spec.bias_config),
        "model_predicted_label_config": _json_or_empty(spec.model_predicted_label_config),
        "shap_config": _json_or_empty(spec.shap_config),
        "model_scores": spec.model_scores,
    }
    return {k: v for k, v in config.items() if v not in ("", {}, None)}


def baseline_spec(spec: Any) -> dict[str, Any]:
    """The engine's spec of a baseline (`spec` is the baseline's BaselineSpec)."""
    return {
        "kind": KINDS[spec.monitor_type],
        "mode": "baseline",
        "dataset": {"uri": spec.baseline_uri, "format": "csv", "header": True},
        "output_uri": f"{spec.output_uri}/",
        "config": engine_config(spec),
        "predictor": {"endpoint_name": spec.endpoint_name},
        "shard": {"index": 0, "count": 1},
    }


def analysis_spec(spec: Any, job: EngineJob) -> dict[str, Any]:
    """The spec of every scheduled hour, less the hour (`capture` start/end, `output_uri`: `hour_spec` adds them)."""
    out: dict[str, Any] = {
        "kind": KINDS[spec.monitor_type],
        "mode": "analysis",
        "capture": {"uri": f"s3://{job.capture}/{spec.endpoint_name}/"},
        "baseline": {
            "statistics_uri": f"{spec.output_uri}/statistics.json",
            "constraints_uri": f"{spec.output_uri}/constraints.json",
            "analysis_uri": f"{spec.output_uri}/analysis.json",
        },
        "config": {**engine_config(spec), **job.endpoint_attributes},
        "predictor": {"endpoint_name": spec.endpoint_name},
        "shard": {"index": 0, "count": 1},
        "monitoring_output": f"s3://{job.monitoring_output}/{spec.endpoint_name}/{job.schedule_name}",
    }
    if job.ground_truth:
        out["ground_truth"] = {"uri": f"s3://{job.ground_truth}/"}
    return out


def analysis_hour(scheduled_time: str) -> datetime:
    """The hour an execution analyses: the whole hour before its scheduled time, as Model Monitor's executions do."""
    try:
        scheduled = datetime.fromisoformat(scheduled_time.replace("Z", "+00:00"))
    except ValueError as error:
        raise JobFailed(f"scheduled time '{scheduled_time}' is not an ISO 8601 time") from error
    if scheduled.tzinfo is None:
        scheduled = scheduled.replace(tzinfo=UTC)
    return scheduled.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)


def hour_spec(template: dict[str, Any], scheduled_time: str) -> dict[str, Any]:
    """One execution's spec: the template with the hour's capture window and report location.

    Reports go where Model Monitor writes an execution's (`<output>/<endpoint>/<schedule>/<yyyy>/<mm>/<dd>/<hh>`),
    the hour being the execution's scheduled hour, so describe and the notifications find them alike."""
    start = analysis_hour(scheduled_time)
    scheduled = start + timedelta(hours=1)
    spec = {k: v for k, v in template.items() if k != "monitoring_output"}
    spec["capture"] = {
        **template["capture"],
        "start": start.isoformat().replace("+00:00", "Z"),
        "end": scheduled.isoformat().replace("+00:00", "Z"),
    }
    spec["output_uri"] = f"{template['monitoring_output']}/{scheduled:%Y/%m/%d/%H}/"
    return spec


def processing_request(
    spec: Any, job: EngineJob, name: str, spec_uri: str, max_runtime: int | None = None
) -> dict[str, Any]:
    """A CreateProcessingJob request of the engine: its wheels as the job's one input, the spec as its argument.

    The engine reads and writes S3 itself (the spec names every location), so the request has no output."""
    cluster: dict[str, Any] = {
        "InstanceCount": 1,
        "InstanceType": spec.instance_type,
        "VolumeSizeInGB": spec.volume_size,
    }
    if spec.kms_key_arn:
        cluster["VolumeKmsKeyId"] = spec.kms_key_arn
    request: dict[str, Any] = {
        "ProcessingJobName": name,
        "ProcessingInputs": [
            {
                "InputName": "engine",
                "S3Input": {
                    "S3Uri": job.bundle_uri,
                    "LocalPath": ENGINE_DIR,
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated",
                    "S3CompressionType": "None",
                },
            }
        ],
        "ProcessingResources": {"ClusterConfig": cluster},
        "AppSpecification": {
            "ImageUri": spec.image_uri,
            "ContainerEntrypoint": entrypoint(),
            "ContainerArguments": ["--spec", spec_uri],
        },
        "Environment": {SCHEDULE_ENV: job.schedule_name},
        "RoleArn": spec.role_arn,
    }
    if max_runtime:
        request["StoppingCondition"] = {"MaxRuntimeInSeconds": max_runtime}
    if spec.stack_name:
        request["Tags"] = [{"Key": "stack_name", "Value": spec.stack_name}]
    if spec.vpc_config or spec.network_isolation:
        config: dict[str, Any] = {
            "EnableInterContainerTrafficEncryption": spec.encrypt_inter_container_traffic,
            "EnableNetworkIsolation": spec.network_isolation,
        }
        if spec.vpc_config:
            config["VpcConfig"] = spec.vpc_config
        request["NetworkConfig"] = config
    return request


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def put_json(uri: str, content: dict[str, Any], kms_key_arn: str = "") -> None:
    bucket, key = _split(uri)
    extra: dict[str, str] = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_arn} if kms_key_arn else {}
    client("s3").put_object(
        Bucket=bucket, Key=key, Body=json.dumps(content, indent=2).encode(), ContentType="application/json", **extra
    )


def start_baseline(spec: Any, job: EngineJob) -> dict[str, Any]:
    """Write the baseline's spec and every hour's templates beside its output; the baseline's request."""
    spec_uri = f"{spec.output_uri}/engine/baseline_{SPEC_FILE}"
    put_json(spec_uri, baseline_spec(spec), spec.kms_key_arn)
    template = processing_request(spec, job, "", "", job.analysis_max_runtime)
    put_json(f"{spec.output_uri}/{ANALYSIS_SPEC}", analysis_spec(spec, job), spec.kms_key_arn)
    put_json(f"{spec.output_uri}/{ANALYSIS_JOB}", template, spec.kms_key_arn)
    return processing_request(spec, job, spec.job_name, spec_uri, spec.max_runtime)


def _get_json(uri: str) -> dict[str, Any]:
    from botocore.exceptions import ClientError

    bucket, key = _split(uri)
    try:
        return json.loads(client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as error:
        raise JobFailed(f"cannot read {uri}: {error}") from error


def run_scheduled(event: dict[str, Any], _context: Any = None) -> dict[str, str]:
    """EventBridge Scheduler's invocation: start the analysis of the hour before `scheduled_time`.

    The schedule's input carries its context attributes `<aws.scheduler.scheduled-time>` and
    `<aws.scheduler.execution-id>` (https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html);
    the execution id names the job, so a retried invocation of the same execution starts no second job."""
    from botocore.exceptions import ClientError

    scheduled_time, execution_id = str(event.get("scheduled_time", "")), str(event.get("execution_id", ""))
    if not scheduled_time or not execution_id:
        raise JobFailed("the schedule's input needs scheduled_time and execution_id")
    baseline_output = os.environ["BASELINE_OUTPUT"].rstrip("/")
    kms_key_arn = os.environ.get("KMS_KEY_ARN", "")
    spec = hour_spec(_get_json(f"{baseline_output}/{ANALYSIS_SPEC}"), scheduled_time)
    request = _get_json(f"{baseline_output}/{ANALYSIS_JOB}")
    spec_uri = f"{spec['output_uri']}{SPEC_FILE}"
    put_json(spec_uri, spec, kms_key_arn)
    request["ProcessingJobName"] = f"{ANALYSIS_JOB_PREFIX}{execution_id}"[:63]
    request["AppSpecification"]["ContainerArguments"] = ["--spec", spec_uri]
    request["Environment"] = {**request.get("Environment", {}), SCHEDULED_TIME_ENV: scheduled_time}
    try:
        client("sagemaker").create_processing_job(**request)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceInUse":  # this execution's job already started
            logger.info("analysis job %s already exists", request["ProcessingJobName"])
        else:
            raise
    logger.info("started %s for the hour before %s", request["ProcessingJobName"], scheduled_time)
    return {"processing_job": request["ProcessingJobName"], "spec": spec_uri}
