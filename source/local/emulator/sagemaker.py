# SPDX-License-Identifier: Apache-2.0
"""SageMaker: baseline reports, monitoring schedules, endpoints and model-card exports as the service answers them."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from .monitoring import EVENTS, MONITORING_RUNS, job_state_change, last_execution_summary, start_clock
from .open_engine import is_engine_job, run_engine_job
from .patches import replace

# Images of SageMaker's own baseline containers (by repository name) and the reports each leaves in its output.
BASELINE_IMAGES = {"sagemaker-model-monitor-analyzer": "analyzer", "sagemaker-clarify-processing": "clarify"}


def baseline_jobs_write_their_reports() -> None:
    """moto completes a processing job as soon as it is created, but runs no container, so a baseline job
    leaves nothing behind. A job on the Model Monitor analyzer or Clarify image writes what those containers
    write to the job's output: statistics.json and constraints.json (data quality), constraints.json (model
    quality, from its analysis_type), analysis.json (Clarify), with the columns of the baseline data. A job on
    the open engine's entrypoint runs the engine in process (see open_engine) and ends as its result says. A job
    with an S3 input that is not there fails instead, with the reason, and writes nothing."""
    from moto.s3.models import s3_backends
    from moto.sagemaker.responses import SageMakerResponse

    original = SageMakerResponse.create_processing_job
    if getattr(original, "_reports", False):
        return

    def create_processing_job(self: Any) -> Any:
        answer = original(self)
        job = self.sagemaker_backend.processing_jobs[self._get_param("ProcessingJobName")]
        s3 = s3_backends[self.current_account]["aws"]
        uris = [str(item.get("S3Input", {}).get("S3Uri", "")) for item in job.processing_inputs or []]
        missing = next((reason for uri in uris if uri and (reason := _missing_input(s3, uri))), "")
        if missing:
            job.processing_job_status, job.failure_reason = "Failed", missing
            return answer
        environment = self._get_param("Environment") or {}
        job.environment = environment or None  # moto keeps none; DescribeProcessingJob answers it, as SageMaker does
        if is_engine_job(job.app_specification):
            run_engine_job(self.current_account, self.region, job)
            described = self.sagemaker_backend.describe_processing_job(job.processing_job_name)
            EVENTS.append(job_state_change(self.current_account, self.region, job.arn, described))
            return answer
        repository = str((job.app_specification or {}).get("ImageUri", "")).rsplit("/", 1)[-1].split(":")[0]
        if repository in BASELINE_IMAGES:
            _write_reports(self.current_account, job, BASELINE_IMAGES[repository], environment)
        return answer

    create_processing_job._reports = True  # type: ignore[attr-defined]
    replace(SageMakerResponse, "create_processing_job", create_processing_job)


def transform_jobs_fail_without_their_input() -> None:
    """moto completes every transform job at once, even one whose input does not exist, so a batch pipeline
    reading from a wrong bucket would look done. A job whose S3 input has no object (a missing bucket, or
    nothing under the key or prefix) fails, as SageMaker fails a job that can download no data; so does one
    whose output bucket does not exist, as SageMaker fails a job that cannot upload its results."""
    from moto.s3.models import s3_backends
    from moto.sagemaker.responses import SageMakerResponse

    original = SageMakerResponse.create_transform_job
    if getattr(original, "_checks_input", False):
        return

    def create_transform_job(self: Any) -> Any:
        answer = original(self)
        job = self.sagemaker_backend.transform_jobs[self._get_param("TransformJobName")]
        uri = str(job.transform_input.get("DataSource", {}).get("S3DataSource", {}).get("S3Uri", ""))
        s3 = s3_backends[self.current_account]["aws"]
        missing = _missing_input(s3, uri) or _unwritable_output(s3, str(job.transform_output.get("S3OutputPath", "")))
        if missing:
            job.transform_job_status, job.failure_reason = "Failed", missing
        return answer

    create_transform_job._checks_input = True  # type: ignore[attr-defined]
    replace(SageMakerResponse, "create_transform_job", create_transform_job)


def models_need_what_they_serve() -> None:
    """moto creates a model whatever its containers name; SageMaker's CreateModel refuses a ModelDataUrl with no
    object ("Could not find model data at s3://..."; ValidationException, 400) and a model package that does not
    exist. A blueprint's AWS::SageMaker::Model then fails its stack with that reason, as on AWS (see
    cloudformation.refused_resources_fail_their_stack).
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateModel.html"""
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import SageMakerModelBackend

    original = SageMakerModelBackend.create_model
    if getattr(original, "_needs_its_data", False):
        return

    def create_model(self: Any, *args: Any, **kwargs: Any) -> Any:
        containers = [kwargs.get("primary_container") or {}, *(kwargs.get("containers") or [])]
        for container in containers:
            refusal = _container_refusal(self.account_id, self.region_name, container)
            if refusal:
                raise ValidationError(message=refusal)
        return original(self, *args, **kwargs)

    create_model._needs_its_data = True  # type: ignore[attr-defined]
    replace(SageMakerModelBackend, "create_model", create_model)


def _container_refusal(account_id: str, region: str, container: dict[str, Any]) -> str:
    """Why SageMaker refuses the container ('' when it does not)."""
    from moto.s3.exceptions import MissingBucket
    from moto.s3.models import s3_backends
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import sagemaker_backends

    package = str(container.get("ModelPackageName") or "")
    if package:
        parts = package.split(":")  # an ARN names the package's account and region
        owner, where = (parts[4], parts[3]) if len(parts) > 5 else (account_id, region)
        try:
            sagemaker_backends[owner][where].describe_model_package(package)
        except ValidationError:
            return f"Could not find model package {package}."
        return ""
    source = (container.get("ModelDataSource") or {}).get("S3DataSource") or {}
    uri = str(container.get("ModelDataUrl") or source.get("S3Uri") or "")
    if not uri.startswith("s3://"):
        return ""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        keys = s3_backends[account_id]["aws"].get_bucket(bucket).keys
    except MissingBucket:
        return f"Could not find model data at {uri}."
    found = any(str(k).startswith(key) for k in keys) if key.endswith("/") or not key else key in keys
    return "" if found else f"Could not find model data at {uri}."


def training_jobs_need_their_input() -> None:
    """moto completes a training or tuning job whatever its channels name. SageMaker's CreateTrainingJob and
    CreateHyperParameterTuningJob refuse a channel whose S3 location holds no object (ValidationException: "No S3
    objects found under S3 URL ... given in input data source ..."), so the blueprint's job resource fails its
    stack with that reason, as on AWS.
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_S3DataSource.html"""
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.responses import SageMakerResponse

    training, tuning = SageMakerResponse.create_training_job, SageMakerResponse.create_hyper_parameter_tuning_job
    if getattr(training, "_needs_its_input", False):
        return

    def refuse_without_input(self: Any, channels: list[dict[str, Any]], role: str) -> None:
        from moto.s3.models import s3_backends

        s3 = s3_backends[self.current_account]["aws"]
        for channel in channels or []:
            uri = str(channel.get("DataSource", {}).get("S3DataSource", {}).get("S3Uri", ""))
            if uri and _missing_input(s3, uri):
                bucket = uri.removeprefix("s3://").split("/", 1)[0]
                raise ValidationError(
                    message=f'No S3 objects found under S3 URL "{uri}" given in input data source. Please ensure '
                    f"that the bucket exists in the selected region ({self.region}), that objects exist under "
                    f'that S3 prefix, and that the role "{role}" has "s3:ListBucket" permissions on bucket '
                    f'"{bucket}".'
                )

    def create_training_job(self: Any) -> Any:
        refuse_without_input(self, self._get_param("InputDataConfig"), self._get_param("RoleArn") or "")
        return training(self)

    def create_hyper_parameter_tuning_job(self: Any) -> Any:
        definition = self._get_param("TrainingJobDefinition") or {}
        refuse_without_input(self, definition.get("InputDataConfig"), definition.get("RoleArn") or "")
        return tuning(self)

    create_training_job._needs_its_input = True  # type: ignore[attr-defined]
    replace(SageMakerResponse, "create_training_job", create_training_job)
    replace(SageMakerResponse, "create_hyper_parameter_tuning_job", create_hyper_parameter_tuning_job)


def automl_jobs_finish() -> None:
    """moto leaves every AutoML job InProgress for ever (beside a secondary status of Completed), so an Autopilot
    pipeline would run without end. A job completes at once, as moto's training and transform jobs do; one whose
    S3 input has no object fails with the reason, as SageMaker fails a job that can read no data."""
    from moto.s3.models import s3_backends
    from moto.sagemaker.responses import SageMakerResponse

    original = SageMakerResponse.create_auto_ml_job_v2
    if getattr(original, "_finishes", False):
        return

    def create_auto_ml_job_v2(self: Any) -> Any:
        answer = original(self)
        job = self.sagemaker_backend.auto_ml_jobs[self._get_param("AutoMLJobName")]
        s3 = s3_backends[self.current_account]["aws"]
        uris = [
            str(c.get("DataSource", {}).get("S3DataSource", {}).get("S3Uri", ""))
            for c in job.auto_ml_job_input_data_config or []
        ]
        missing = next((reason for uri in uris if uri and (reason := _missing_input(s3, uri))), "")
        job.auto_ml_job_status = "Failed" if missing else "Completed"
        if missing:
            job.failure_reason = missing
        return answer

    create_auto_ml_job_v2._finishes = True  # type: ignore[attr-defined]
    replace(SageMakerResponse, "create_auto_ml_job_v2", create_auto_ml_job_v2)


def _missing_input(s3: Any, uri: str) -> str:
    """Why the job's input cannot be read ('' when at least one object is there)."""
    from moto.s3.exceptions import MissingBucket

    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    try:
        objects = s3.get_bucket(bucket).keys
    except MissingBucket:
        return f"ClientError: the input {uri} cannot be read: bucket {bucket} does not exist"
    if not any(str(key).startswith(prefix) for key in objects):
        return f"ClientError: the input {uri} cannot be read: no object under it"
    return ""


def _unwritable_output(s3: Any, uri: str) -> str:
    """Why the job cannot write its output ('' when its bucket exists): the job runs, then fails to upload."""
    from moto.s3.exceptions import MissingBucket

    bucket = uri.removeprefix("s3://").split("/", 1)[0]
    try:
        s3.get_bucket(bucket)
    except MissingBucket:
        return f"ClientError: the output {uri} cannot be written: NoSuchBucket: bucket {bucket} does not exist"
    return ""


def _write_reports(account_id: str, job: Any, container: str, environment: dict[str, str]) -> None:
    from moto.s3.models import s3_backends

    s3 = s3_backends[account_id]["aws"]
    columns = _baseline_columns(s3, job.processing_inputs)
    if container == "clarify":
        reports = {"analysis.json": _clarify_analysis(columns)}
    elif environment.get("analysis_type") == "MODEL_QUALITY":
        reports = {"constraints.json": _model_quality_constraints(environment.get("problem_type", ""))}
    else:
        reports = _data_quality_reports(columns)
    for output in (job.processing_output_config or {}).get("Outputs", []):
        bucket, _, prefix = output["S3Output"]["S3Uri"].removeprefix("s3://").partition("/")
        for name, content in reports.items():
            key = f"{prefix.rstrip('/')}/{name}".lstrip("/")
            s3.put_object(bucket, key, json.dumps(content, indent=2).encode())


def _baseline_columns(s3: Any, inputs: list[dict[str, Any]]) -> list[str]:
    """The header of the job's first CSV input (the baseline data), or generic names."""
    from moto.s3.exceptions import MissingBucket

    for item in inputs or []:
        uri = item.get("S3Input", {}).get("S3Uri", "")
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        try:
            found = s3.get_object(bucket, key)
        except MissingBucket:  # an input in a bucket that does not exist: SageMaker would fail the job
            continue
        if found is None:  # a prefix, or a key that was never written
            continue
        first = found.value.decode("utf-8-sig", errors="replace").splitlines()[:1]
        if first and not key.endswith(".json"):
            return [c.strip() for c in first[0].split(",")]
    return ["_c0", "_c1"]


def _data_quality_reports(columns: list[str]) -> dict[str, Any]:
    statistics = {
        "version": 0.0,
        "dataset": {"item_count": 1},
        "features": [
            {"name": c, "inferred_type": "Fractional", "numerical_statistics": {"common": {"num_present": 1}}}
            for c in columns
        ],
    }
    constraints = {
        "version": 0.0,
        "features": [{"name": c, "inferred_type": "Fractional", "completeness": 1.0} for c in columns],
        "monitoring_config": {"evaluate_constraints": "Enabled", "emit_metrics": "Enabled"},
    }
    return {"statistics.json": statistics, "constraints.json": constraints}


def _model_quality_constraints(problem_type: str) -> dict[str, Any]:
    kinds = {
        "Regression": ("regression_constraints", "mae", "GreaterThanThreshold"),
        "BinaryClassification": ("binary_classification_constraints", "accuracy", "LessThanThreshold"),
    }
    kind, metric, operator = kinds.get(
        problem_type, ("multiclass_classification_constraints", "accuracy", "LessThanThreshold")
    )
    return {"version": 0.0, kind: {metric: {"threshold": 0.5, "comparison_operator": operator}}}


def _clarify_analysis(columns: list[str]) -> dict[str, Any]:
    features = columns[1:] or columns
    return {
        "version": "1.0",
        "explanations": {
            "kernel_shap": {"label0": {"global_shap_values": dict.fromkeys(features, 0.0), "expected_value": 0.0}}
        },
        "pre_training_bias_metrics": {"label": columns[0] if columns else "", "facets": {}},
        "post_training_bias_metrics": {"label": columns[0] if columns else "", "facets": {}},
    }


# Monitoring schedules that stacks created (moto models none), by (account, region, name).
MONITORING_SCHEDULES: dict[tuple[str, str, str], dict[str, Any]] = {}


def monitoring_schedules_are_described() -> None:
    """moto implements no monitoring schedules: the stacks' AWS::SageMaker::MonitoringSchedule placeholders
    record theirs, and DescribeMonitoringSchedule answers from them as SageMaker would (status Scheduled, and
    the summary of the latest execution the monitoring clock ran)."""
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.responses import SageMakerResponse

    if getattr(getattr(SageMakerResponse, "describe_monitoring_schedule", None), "_recorded", False):
        return

    def describe_monitoring_schedule(self: Any) -> str:
        name = self._get_param("MonitoringScheduleName")
        schedule = MONITORING_SCHEDULES.get((self.current_account, self.region, name))
        if schedule is None:
            raise ValidationError(message=f"Monitoring Schedule {name} not found")
        last = last_execution_summary((self.current_account, self.region, name))
        answer = {**schedule, **({"LastMonitoringExecutionSummary": last} if last else {})}
        return json.dumps(answer, default=lambda v: v.timestamp() if hasattr(v, "timestamp") else str(v))

    describe_monitoring_schedule._recorded = True  # type: ignore[attr-defined]
    replace(SageMakerResponse, "describe_monitoring_schedule", describe_monitoring_schedule)


def _record_monitoring_schedule(name: str, properties: dict[str, Any], account_id: str, region: str) -> None:
    from moto.core.utils import utcnow

    created = utcnow()
    now = created.isoformat()
    config = properties.get("MonitoringScheduleConfig", {})
    key = (account_id, region, name)
    if key not in MONITORING_RUNS:  # an update keeps the schedule's clock and history
        start_clock(key, created.replace(tzinfo=UTC))
    MONITORING_SCHEDULES[key] = {
        "MonitoringScheduleArn": f"arn:aws:sagemaker:{region}:{account_id}:monitoring-schedule/{name.lower()}",
        "MonitoringScheduleName": name,
        "MonitoringScheduleStatus": "Scheduled",
        "MonitoringType": config.get("MonitoringType", "DataQuality"),
        "CreationTime": now,
        "LastModifiedTime": now,
        "MonitoringScheduleConfig": config,
        **({"EndpointName": properties["EndpointName"]} if properties.get("EndpointName") else {}),
    }


NO_MODEL_RUNS = (
    "local mode runs no model container: endpoint {name} is InService in the emulator, but no model serves it, "
    "so there is no prediction to return. Deployed to AWS, the endpoint answers with the model's output."
)


def endpoints_say_no_model_runs() -> None:
    """moto answers InvokeEndpoint with the static text 'body', which reads like a prediction. The emulator
    answers as SageMaker does when the model fails (ModelError, 424), saying that no model runs locally, and
    as SageMaker does for an endpoint that does not exist (ValidationError)."""
    from moto.core.exceptions import JsonRESTError
    from moto.sagemaker.models import sagemaker_backends
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

    if getattr(SageMakerRuntimeResponse.invoke_endpoint, "_says_no_model", False):
        return

    def invoke_endpoint(self: Any) -> Any:
        name = self._get_params().get("EndpointName") or self.path.split("/")[2]
        if name not in sagemaker_backends[self.current_account][self.region].endpoints:
            error = JsonRESTError("ValidationError", f"Endpoint {name} of account {self.current_account} not found.")
        else:
            error = JsonRESTError("ModelError", NO_MODEL_RUNS.format(name=name))
            error.code = 424
        raise error

    invoke_endpoint._says_no_model = True  # type: ignore[attr-defined]
    replace(SageMakerRuntimeResponse, "invoke_endpoint", invoke_endpoint)


def model_card_exports_are_refused() -> None:
    """moto implements no CreateModelCardExportJob and answers a bare 500; the emulator renders no PDF either,
    so it refuses the export as SageMaker refuses a request it cannot serve, saying why (idempotent)."""
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.responses import SageMakerResponse

    if getattr(getattr(SageMakerResponse, "create_model_card_export_job", None), "_refused", False):
        return

    def create_model_card_export_job(self: Any) -> str:
        raise ValidationError(message="Local mode does not export model cards: the emulator renders no PDF.")

    create_model_card_export_job._refused = True  # type: ignore[attr-defined]
    replace(SageMakerResponse, "create_model_card_export_job", create_model_card_export_job)
