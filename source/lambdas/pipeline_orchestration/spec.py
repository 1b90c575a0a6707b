# SPDX-License-Identifier: Apache-2.0
"""The shapes the catalogue is written in: request fields, blueprints and pipeline types."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .rules import Rule
from .settings import Settings

# A cross-field check sees the normalized values of one stage (or of the single deployment).
CrossCheck = Callable[[Mapping[str, Any], Settings], list[tuple[str, str]]]
ParameterBuilder = Callable[["StageView"], dict[str, str]]
# SageMaker names a type derives from one stage's values: key -> (name, max length, source field).
NameDeriver = Callable[[Mapping[str, Any]], dict[str, tuple[str, int, str]]]


@dataclass(frozen=True)
class When:
    """A condition under which a field is required; `text` says it in words for errors and docs."""

    test: Callable[[Mapping[str, Any], Settings], bool]
    text: str
    # The same condition for the API document: a JSON Schema the body matches when the field is required, or,
    # for a condition on the orchestrator's settings, whether it holds with the default settings.
    schema_if: Mapping[str, Any] | None = None
    by_default: bool = False


@dataclass(frozen=True)
class Field:
    name: str
    rule: Rule
    required: bool | When = False
    default: Any = ""
    stage: bool = False  # may be a {"dev","staging","prod"} object in multi-account mode
    doc: str = ""

    def is_required(self, values: Mapping[str, Any], settings: Settings) -> bool:
        if isinstance(self.required, When):
            return self.required.test(values, settings)
        return self.required


@dataclass(frozen=True)
class SageMakerKind:
    """A kind of SageMaker resource: how describe reads it, and what IAM calls its ARN."""

    describe: str  # the boto3 operation
    name_parameter: str
    status_key: str
    action: str  # the IAM action of `describe`
    arn_type: str  # the resource type in its ARN


# Every SageMaker resource the orchestrator reads: the adapters describe these, and its role may read them.
SAGEMAKER_KINDS: dict[str, SageMakerKind] = {
    "endpoint": SageMakerKind("describe_endpoint", "EndpointName", "EndpointStatus", "DescribeEndpoint", "endpoint"),
    "endpoint_config": SageMakerKind(
        "describe_endpoint_config", "EndpointConfigName", "", "DescribeEndpointConfig", "endpoint-config"
    ),
    "monitoring_schedule": SageMakerKind(
        "describe_monitoring_schedule",
        "MonitoringScheduleName",
        "MonitoringScheduleStatus",
        "DescribeMonitoringSchedule",
        "monitoring-schedule",
    ),
    "processing_job": SageMakerKind(
        "describe_processing_job", "ProcessingJobName", "ProcessingJobStatus", "DescribeProcessingJob", "processing-job"
    ),
    "transform_job": SageMakerKind(
        "describe_transform_job", "TransformJobName", "TransformJobStatus", "DescribeTransformJob", "transform-job"
    ),
    "training_job": SageMakerKind(
        "describe_training_job", "TrainingJobName", "TrainingJobStatus", "DescribeTrainingJob", "training-job"
    ),
    "tuning_job": SageMakerKind(
        "describe_hyper_parameter_tuning_job",
        "HyperParameterTuningJobName",
        "HyperParameterTuningJobStatus",
        "DescribeHyperParameterTuningJob",
        "hyper-parameter-tuning-job",
    ),
    "automl_job": SageMakerKind(
        "describe_auto_ml_job_v2", "AutoMLJobName", "AutoMLJobStatus", "DescribeAutoMLJobV2", "automl-job"
    ),
    "model": SageMakerKind("describe_model", "ModelName", "", "DescribeModel", "model"),
}


@dataclass(frozen=True)
class Creates:
    """A SageMaker resource a blueprint's template creates: what its deploy role may do to it, and the
    CloudFormation type (with its name property) that holds it."""

    arn_type: str
    actions: tuple[str, ...]
    cloudformation_type: str
    name_property: str


@dataclass(frozen=True)
class Parameter:
    """A CloudFormation parameter of a blueprint, declared once: the template declares it from this, the
    plan sends its name, and the contract test compares the two. The constraints repeat the request rules
    as a last line of defence for hand-made deployments."""

    name: str
    description: str
    pattern: str | None = None
    hint: str = ""  # the constraint description
    allowed_values: tuple[str, ...] | None = None
    default: str | int | None = None
    number: tuple[int, int] | None = None  # a Number parameter: (min, max)
    min_length: int | None = None
    max_length: int | None = None

    def cloudformation(self) -> dict[str, Any]:
        """The keyword arguments of CDK's CfnParameter."""
        spec: dict[str, Any] = {"type": "Number" if self.number else "String", "description": self.description}
        if self.number:
            spec["min_value"], spec["max_value"] = self.number
        if self.pattern is not None:
            spec["allowed_pattern"] = self.pattern
        if self.hint:
            spec["constraint_description"] = self.hint
        if self.allowed_values is not None:
            spec["allowed_values"] = list(self.allowed_values)
        if self.default is not None:
            spec["default"] = self.default
        if self.min_length is not None:
            spec["min_length"] = self.min_length
        if self.max_length is not None:
            spec["max_length"] = self.max_length
        return spec

    def but(self, **changes: Any) -> Parameter:
        """The same parameter with other constraints, for a template that needs them."""
        return replace(self, **changes)


@dataclass(frozen=True)
class Blueprint:
    """A CloudFormation template we synthesize, and the parameters it declares (the contract)."""

    template: str
    declared: tuple[Parameter, ...]
    # The SageMaker resources the template creates itself (jobs its custom resources start are not among them).
    creates: tuple[Creates, ...] = ()

    def __post_init__(self) -> None:
        names = [p.name for p in self.declared]
        if len(set(names)) != len(names):
            raise ValueError(
                f"{self.template} declares a parameter twice: {sorted(n for n in names if names.count(n) > 1)}"
            )

    @property
    def parameters(self) -> tuple[str, ...]:
        """The names of the parameters, in the template's order."""
        return tuple(p.name for p in self.declared)


@dataclass(frozen=True)
class Reads:
    """A SageMaker resource a type's stack deploys, as describe reports it under `key`."""

    key: str
    kind: str  # a SAGEMAKER_KINDS key
    name: str = ""  # the plan's derived name that names it,
    parameter: str = ""  # or the stack parameter that names it,
    output: str = ""  # or the stack output whose key ends so (read first)
    missing: str = ""  # the status reported while nothing names it yet; empty: the resource is left out
    # A job the stack starts: its outcome counts only as part of the stack's.
    started_by_stack: bool = False


@dataclass(frozen=True)
class Kept:
    """User data a teardown leaves in place: the request field naming it, and where it lives."""

    field: str
    what: str
    # "s3": a bucket/prefix; "assets": a key in the assets bucket; "as_is": an ARN;
    # "image": the repository (the `ecr_repo_name` field) and this field's tag.
    where: str = "s3"


@dataclass(frozen=True)
class Alternative:
    """A type's other blueprint, deployed when `chosen` holds for a stage's values (a monitor on the open engine)."""

    blueprint: Blueprint
    build_parameters: ParameterBuilder
    chosen: Callable[[Mapping[str, Any], Settings], bool]
    # What its stack deploys, when that differs from the type's (an open-engine monitor has no SageMaker schedule).
    reads: tuple[Reads, ...] | None = None


@dataclass(frozen=True)
class PipelineType:
    name: str
    postfix: str
    blueprint: Blueprint
    fields: tuple[Field, ...]
    build_parameters: ParameterBuilder
    checks: tuple[CrossCheck, ...] = ()
    # Training types and the image builder deploy in the orchestrator's own account, in every mode.
    own_account_only: bool = False
    # The image builder is its own pipeline: its stack is created directly, with no wrapper.
    direct_stack: bool = False
    name_field: str = "model_name"
    description: str = ""
    # What the stack deploys, as describe reports it; whether the stack's outputs hold an inference API URL.
    reads: tuple[Reads, ...] = ()
    inference_api: bool = False
    # An endpoint: "serves" (deploys the one `endpoint_name` names), "monitors" (it must already serve).
    endpoint: str = ""
    # Rollback re-provisions the request of an earlier successful execution; a type without it refuses.
    rollback: bool = False
    keeps: tuple[Kept, ...] = ()
    derive_names: NameDeriver | None = None
    # A monitor: the kind its schedule is named with (`<endpoint>-<kind>-...`); "" for every other type.
    monitor_kind: str = ""
    # A training type that a monitor's violations alarm may re-provision (`retrain_pipeline_name`).
    retrainable: bool = False
    alternative: Alternative | None = None
    # The example request, a file of source/examples/ (default `<name>.json`).
    example_file: str = ""

    @property
    def example(self) -> str:
        return self.example_file or f"{self.name}.json"

    def names(self, values: Mapping[str, Any]) -> dict[str, tuple[str, int, str]]:
        """SageMaker names the plan derives from one stage's values: key -> (name, max length, source field)."""
        return self.derive_names(values) if self.derive_names else {}

    def deploys(self, values: Mapping[str, Any], settings: Settings) -> tuple[Blueprint, ParameterBuilder]:
        """The blueprint one stage's values deploy, and the builder of its parameters."""
        if self.alternative is not None and self.alternative.chosen(values, settings):
            return self.alternative.blueprint, self.alternative.build_parameters
        return self.blueprint, self.build_parameters

    def reads_of(self, template: str) -> tuple[Reads, ...]:
        """What a stack of this blueprint template deploys, as describe reports it."""
        alternative = self.alternative
        if alternative is not None and alternative.reads is not None and template == alternative.blueprint.template:
            return alternative.reads
        return self.reads

    @property
    def all_blueprints(self) -> tuple[Blueprint, ...]:
        """Every blueprint the type may deploy."""
        return (self.blueprint, *((self.alternative.blueprint,) if self.alternative else ()))

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


# An operation's action: (validated values, settings, AWS adapters) -> the answer's body.
OperationRun = Callable[[Mapping[str, Any], Settings, Any], dict[str, Any]]


@dataclass(frozen=True)
class Operation:
    """A request type that is not a pipeline (the model-card operations): fields, and what it does."""

    name: str
    fields: tuple[Field, ...]
    run: OperationRun
    description: str = ""
    # Warnings about values that are accepted but have no effect: (values) -> sentences.
    warn: Callable[[Mapping[str, Any]], list[str]] | None = None

    def notes(self, values: Mapping[str, Any]) -> list[str]:
        return self.warn(values) if self.warn else []

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


class UnknownValue(KeyError):
    """A parameter builder read a key that its pipeline type has no field for."""

    def __init__(self, key: str, known: list[str]) -> None:
        super().__init__(f"{key} is not a field of this pipeline type (its fields: {', '.join(known)})")


@dataclass(frozen=True)
class StageView:
    """What a parameter builder reads: one stage's values, the stage's names and the settings."""

    values: Mapping[str, Any]
    settings: Settings
    pipeline_name: str
    stage: str | None = None
    names: Mapping[str, str] = field(default_factory=dict)

    # The fields of the stage's pipeline type: reading any other key is a mistake in a builder, not an
    # empty value (a typo would otherwise send "" to the template and pass every check).
    fields: frozenset[str] | None = None

    # What the orchestrator read from AWS before planning (model_packages.FACTS): values no request chooses.
    facts: Mapping[str, str] = field(default_factory=dict)

    def declares(self, key: str) -> bool:
        """Whether the pipeline type has this field (builders shared by several types ask)."""
        return self.fields is None or key in self.fields

    def get(self, key: str) -> Any:
        if not self.declares(key):
            raise UnknownValue(key, sorted(self.fields or ()))
        value = self.values.get(key, "")
        return "" if value is None else value

    def text(self, key: str) -> str:
        """A value as a CloudFormation parameter string."""
        import json

        value = self.get(key)
        if isinstance(value, dict | list):
            return json.dumps(value, separators=(",", ":"), sort_keys=True) if value else ""
        return str(value)
