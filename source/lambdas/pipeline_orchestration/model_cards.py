# SPDX-License-Identifier: Apache-2.0
"""Model-card operations, posted to /provisionpipeline with `pipeline_type` naming the operation.

Their fields are declared here with the same rules as the pipeline types' fields, so validation, the OpenAPI
document and the docs read them the same way. The request keeps the predecessor's shape (snake_case sections,
`inference_environment` as a list of image URIs, a flat `objective_function`); `card_content` turns it into
the SageMaker model-card JSON schema. Everything goes through the boto3 adapters: no SageMaker SDK.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Mapping
from typing import Any

from lambdas.shared.errors import Conflict, FieldError, NotFound, ValidationFailed

from .rules import Choice, Integer, JsonObject, ListOf, Name, Number, Pattern, Rule, Struct, Text
from .settings import Settings
from .spec import Field, Operation

CARD_STATUSES = ("Draft", "PendingReview", "Approved", "Archived")
RISK_RATINGS = ("High", "Medium", "Low", "Unknown")
METRIC_FILE_TYPES = (
    "model_card_metric_schema",
    "clarify_bias",
    "clarify_explainability",
    "regression",
    "binary_classification",
    "multiclass_classification",
)
METRIC_DATA_TYPES = ("number", "string", "boolean", "linear_graph", "bar_chart", "matrix")
EXPORT_PREFIX = "model_card_exports"

_SHORT = Text(max_len=1024)
_LONG = Text(max_len=2048)
_URIS = ListOf(Text(max_len=1024), max_items=15)
S3_URL = Pattern(pattern=r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/\S+", hint="must be an S3 URL: s3://<bucket>/<key>")


def _metric_file_pair(obj: Mapping[str, Any]) -> list[tuple[str, str]]:
    has_url, has_type = bool(obj.get("metric_file_s3_url")), bool(obj.get("metric_type"))
    if has_url and not has_type:
        return [("metric_type", "is required when metrics are loaded from metric_file_s3_url")]
    if has_type and not has_url:
        return [("metric_file_s3_url", "is required when metric_type is given")]
    return []


_METRIC = Struct(keys=(("name", Text(max_len=255)), ("value", Number()), ("notes", _SHORT)), required=("name", "value"))
_METRIC_DATA = Struct(
    keys=(
        ("name", Text(max_len=255)),
        ("type", Choice(values=METRIC_DATA_TYPES)),
        ("value", Rule()),
        ("notes", _SHORT),
        ("x_axis_name", Rule()),
        ("y_axis_name", Rule()),
    ),
    required=("name", "type", "value"),
)
_METRIC_GROUP = Struct(
    keys=(("name", Text(max_len=63)), ("metric_data", ListOf(_METRIC_DATA))), required=("name", "metric_data")
)

MODEL_OVERVIEW = Struct(
    keys=(
        ("model_name", Name(max_len=63)),
        ("model_id", _SHORT),
        ("model_description", _SHORT),
        ("model_version", Number()),
        ("problem_type", _SHORT),
        ("algorithm_type", _SHORT),
        ("model_creator", _SHORT),
        ("model_owner", _SHORT),
        ("model_artifact", _URIS),
        ("inference_environment", _URIS),
    ),
    doc="With model_name, the model's ARN, artifact and images are read from SageMaker.",
)
INTENDED_USES = Struct(
    keys=(
        ("purpose_of_model", _LONG),
        ("intended_uses", _LONG),
        ("factors_affecting_model_efficiency", _LONG),
        ("risk_rating", Choice(values=RISK_RATINGS)),
        ("explanations_for_risk_rating", _LONG),
    )
)
BUSINESS_DETAILS = Struct(
    keys=(("business_problem", _LONG), ("business_stakeholders", _LONG), ("line_of_business", _LONG))
)
TRAINING_DETAILS = Struct(
    keys=(
        ("training_job_name", Name(max_len=63)),
        (
            "objective_function",
            Struct(
                keys=(
                    ("function", Choice(values=("Maximize", "Minimize"))),
                    ("facet", Text(max_len=63)),
                    ("condition", Text(max_len=63)),
                    ("notes", _SHORT),
                )
            ),
        ),
        ("training_observations", _SHORT),
        (
            "training_job_details",
            Struct(
                keys=(
                    ("training_arn", _SHORT),
                    ("training_datasets", _URIS),
                    ("training_environment", _URIS),
                    ("training_metrics", ListOf(_METRIC, max_items=50)),
                    ("user_provided_training_metrics", ListOf(_METRIC, max_items=50)),
                )
            ),
        ),
    ),
    doc="With training_job_name, the job's ARN, data sets, image and final metrics are read from SageMaker.",
)
EVALUATION = Struct(
    keys=(
        ("name", Text(max_len=63)),
        ("metric_file_s3_url", S3_URL),
        ("metric_type", Choice(values=METRIC_FILE_TYPES)),
        ("evaluation_observation", _LONG),
        ("evaluation_job_arn", _SHORT),
        ("datasets", ListOf(Text(max_len=1024), max_items=10)),
        ("metadata", JsonObject()),
        ("metric_groups", ListOf(_METRIC_GROUP, max_items=10)),
    ),
    required=("name",),
    checks=(_metric_file_pair,),
)
ADDITIONAL_INFORMATION = Struct(
    keys=(("ethical_considerations", _LONG), ("caveats_and_recommendations", _LONG), ("custom_details", JsonObject()))
)

CARD_NAME = Field("name", Name(max_len=63), True, doc="Name of the model card.")
SECTIONS = (
    Field("model_overview", MODEL_OVERVIEW, default=None, doc="Overview of the model."),
    Field("intended_uses", INTENDED_USES, default=None, doc="Intended uses and risk rating."),
    Field("business_details", BUSINESS_DETAILS, default=None, doc="How the model supports business goals."),
    Field("training_details", TRAINING_DETAILS, default=None, doc="Training job, objective and metrics."),
    Field(
        "evaluation_details",
        ListOf(EVALUATION, max_items=50),
        default=None,
        doc="Evaluations; metrics inline or loaded from an S3 file (metric_file_s3_url + metric_type).",
    ),
    Field("additional_information", ADDITIONAL_INFORMATION, default=None, doc="Ethics, caveats, custom details."),
)
SECTION_NAMES = tuple(f.name for f in SECTIONS)

# ---------------------------------------------------------------------------------------------------------
# Request -> model-card content


def _s3_location(url: str) -> tuple[str, str]:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    return bucket, key


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def metric_groups_from_file(metric_type: str, document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Model-card metric groups from a metrics file of a known kind (Model Monitor/Autopilot quality, Clarify)."""
    if metric_type == "model_card_metric_schema":
        return list(document.get("metric_groups", []))
    if metric_type in ("regression", "binary_classification", "multiclass_classification"):
        metrics = document.get(f"{metric_type}_metrics", {})
        data = []
        for name, metric in metrics.items():
            value = metric.get("value") if isinstance(metric, dict) else metric
            if _number(value):
                data.append({"name": name, "type": "number", "value": value})
            elif isinstance(value, list) and value and all(isinstance(row, list) for row in value):
                data.append({"name": name, "type": "matrix", "value": value})
        return [{"name": metric_type.replace("_", " "), "metric_data": data}] if data else []
    if metric_type == "clarify_bias":
        groups = []
        for section in ("pre_training_bias_metrics", "post_training_bias_metrics"):
            data = []
            for facet, entries in document.get(section, {}).get("facets", {}).items():
                for entry in entries:
                    for metric in entry.get("metrics", []):
                        if _number(metric.get("value")):
                            label = f"{facet}={entry.get('value_or_threshold', '')} {metric.get('name', '')}"
                            data.append({"name": label.strip(), "type": "number", "value": metric["value"]})
            if data:
                groups.append({"name": section.replace("_", " "), "metric_data": data})
        return groups
    groups = []
    for method, labels in document.get("explanations", {}).items():
        for label, result in labels.items():
            values = result.get("global_shap_values", {}) if isinstance(result, dict) else {}
            data = [{"name": f, "type": "number", "value": v} for f, v in values.items() if _number(v)]
            if data:
                groups.append({"name": f"{method} {label}"[:63], "metric_data": data})
    return groups


def _overview(given: Mapping[str, Any], aws: Any) -> dict[str, Any]:
    overview = dict(given)
    if "model_name" in overview:
        model = aws.sagemaker.describe("model", overview["model_name"])
        if model is None:
            raise ValidationFailed(
                [FieldError("model_overview.model_name", f"no SageMaker model named {overview['model_name']}")]
            )
        containers = [model["PrimaryContainer"]] if model.get("PrimaryContainer") else model.get("Containers", [])
        overview.setdefault("model_id", model["ModelArn"])
        artifacts = [c["ModelDataUrl"] for c in containers if c.get("ModelDataUrl")]
        if artifacts:
            overview.setdefault("model_artifact", artifacts)
        images = [c["Image"] for c in containers if c.get("Image")]
        if images:
            overview.setdefault("inference_environment", images)
    if "inference_environment" in overview:
        overview["inference_environment"] = {"container_image": overview["inference_environment"]}
    return overview


def _training(given: Mapping[str, Any], aws: Any) -> dict[str, Any]:
    details = dict(given)
    job_details = dict(details.pop("training_job_details", {}))
    job_name = details.pop("training_job_name", None)
    if job_name:
        job = aws.sagemaker.describe("training_job", job_name)
        if job is None:
            raise ValidationFailed(
                [FieldError("training_details.training_job_name", f"no SageMaker training job named {job_name}")]
            )
        job_details.setdefault("training_arn", job["TrainingJobArn"])
        datasets = [
            c["DataSource"]["S3DataSource"]["S3Uri"]
            for c in job.get("InputDataConfig", [])
            if c.get("DataSource", {}).get("S3DataSource", {}).get("S3Uri")
        ]
        if datasets:
            job_details.setdefault("training_datasets", datasets)
        image = job.get("AlgorithmSpecification", {}).get("TrainingImage")
        if image:
            job_details.setdefault("training_environment", [image])
        metrics = [{"name": m["MetricName"], "value": m["Value"]} for m in job.get("FinalMetricDataList", [])]
        if metrics:
            job_details.setdefault("training_metrics", metrics)
    if "training_environment" in job_details:
        job_details["training_environment"] = {"container_image": job_details["training_environment"]}
    if job_details:
        details["training_job_details"] = job_details
    objective = details.pop("objective_function", None)
    if objective:
        function = {k: objective[k] for k in ("function", "facet", "condition") if k in objective}
        details["objective_function"] = {
            **({"function": function} if function else {}),
            **({"notes": objective["notes"]} if "notes" in objective else {}),
        }
    return details


def _evaluations(given: list[Mapping[str, Any]], aws: Any, settings: Settings) -> list[dict[str, Any]]:
    evaluations = []
    for index, evaluation in enumerate(given):
        entry = {k: v for k, v in evaluation.items() if k not in ("metric_file_s3_url", "metric_type")}
        if evaluation.get("metric_file_s3_url"):
            where = f"evaluation_details[{index}].metric_file_s3_url"
            bucket, key = _s3_location(evaluation["metric_file_s3_url"])
            raw = aws.storage.find(bucket, key)
            if raw is None:
                raise ValidationFailed([FieldError(where, f"no object at {evaluation['metric_file_s3_url']}")])
            try:
                document = json.loads(raw)
            except ValueError as error:
                raise ValidationFailed([FieldError(where, f"is not a JSON metrics file: {error}")]) from None
            groups = metric_groups_from_file(evaluation["metric_type"], document)
            entry["metric_groups"] = [*entry.get("metric_groups", []), *groups]
        evaluations.append(entry)
    return evaluations


def card_content(values: Mapping[str, Any], settings: Settings, aws: Any) -> dict[str, Any]:
    """The model-card JSON content of the sections given in the request."""
    content: dict[str, Any] = {}
    for name in SECTION_NAMES:
        given = values.get(name)
        if given is None:
            continue
        if name == "model_overview":
            content[name] = _overview(given, aws)
        elif name == "training_details":
            content[name] = _training(given, aws)
        elif name == "evaluation_details":
            content[name] = _evaluations(given, aws, settings)
        else:
            content[name] = dict(given)
    return content


# ---------------------------------------------------------------------------------------------------------
# The operations


def _described(card: Mapping[str, Any]) -> dict[str, Any]:
    """The DescribeModelCard answer with its content as an object rather than a JSON string."""
    answer = dict(card)
    if isinstance(answer.get("Content"), str):
        with contextlib.suppress(ValueError):  # keep SageMaker's text as it is
            answer["Content"] = json.loads(answer["Content"])
    return answer


def _existing(name: str, aws: Any, version: int | None = None) -> dict[str, Any]:
    card = aws.sagemaker.describe_model_card(name, version)
    if card is None:
        which = f" version {version}" if version is not None else ""
        raise NotFound(f"No model card named {name}{which}.")
    return card


def create_card(values: Mapping[str, Any], settings: Settings, aws: Any) -> dict[str, Any]:
    name = values["name"]
    if aws.sagemaker.describe_model_card(name) is not None:
        raise Conflict(f"A model card named {name} already exists; post update_model_card to change it.")
    arguments: dict[str, Any] = {
        "ModelCardName": name,
        "Content": json.dumps(card_content(values, settings, aws)),
        "ModelCardStatus": values["status"],
    }
    if values.get("kms_key_id"):
        arguments["SecurityConfig"] = {"KmsKeyId": values["kms_key_id"]}
    aws.sagemaker.create_model_card(**arguments)
    return {"message": _described(_existing(name, aws))}


def update_card(values: Mapping[str, Any], settings: Settings, aws: Any) -> dict[str, Any]:
    name = values["name"]
    if not values.get("status") and not any(values.get(s) is not None for s in SECTION_NAMES):
        raise ValidationFailed(
            [FieldError("name", f"nothing to update: give status or one of {', '.join(SECTION_NAMES)}")]
        )
    # The predecessor's `version`: the card version the update starts from (default the latest).
    current = json.loads(_existing(name, aws, values.get("version")).get("Content") or "{}")
    for section, given in card_content(values, settings, aws).items():
        # Only the attributes given replace the card's own; a list section (evaluations) is replaced whole.
        if isinstance(given, dict) and isinstance(current.get(section), dict):
            current[section] = {**current[section], **given}
        else:
            current[section] = given
    arguments: dict[str, Any] = {"ModelCardName": name, "Content": json.dumps(current)}
    if values.get("status"):
        arguments["ModelCardStatus"] = values["status"]
    aws.sagemaker.update_model_card(**arguments)
    return {"message": _described(_existing(name, aws))}


def describe_card(values: Mapping[str, Any], settings: Settings, aws: Any) -> dict[str, Any]:
    return {"message": _described(_existing(values["name"], aws, values.get("version")))}


def delete_card(values: Mapping[str, Any], settings: Settings, aws: Any) -> dict[str, Any]:
    name = values["name"]
    _existing(name, aws)
    aws.sagemaker.delete_model_card(name)
    return {"message": f"Model card with the name: {name} has been deleted"}


def export_card(values: Mapping[str, Any], settings: Settings, aws: Any) -> dict[str, Any]:
    name, version = values["name"], values.get("model_card_version")
    _existing(name, aws, version)
    # Export job names are unique per account: the default carries the time it was asked for.
    job_name = values.get("export_job_name") or f"{name[:50]}-{int(time.time())}"
    output = f"s3://{settings.assets_bucket}/{EXPORT_PREFIX}"
    arguments: dict[str, Any] = {
        "ModelCardName": name,
        "ModelCardExportJobName": job_name,
        "OutputConfig": {"S3OutputPath": output},
    }
    if version is not None:
        arguments["ModelCardVersion"] = version
    job_arn = aws.sagemaker.export_model_card(**arguments)
    return {
        "message": f"Model card with the name: {name} is being exported to {output} (export job {job_name})",
        "export_job_arn": job_arn,
        "output_location": output,
    }


def list_cards(values: Mapping[str, Any], settings: Settings, aws: Any) -> dict[str, Any]:
    filters = {}
    if values.get("name_contains"):
        filters["NameContains"] = values["name_contains"]
    if values.get("status"):
        filters["ModelCardStatus"] = values["status"]
    return {"message": {"ModelCardSummaries": aws.sagemaker.list_model_cards(**filters)}}


_STATUS = Choice(values=CARD_STATUSES)
_VERSION = Integer(1, 2**31 - 1)
# The predecessor read a `created_by`; SageMaker records the card's creator from the caller's identity.
CREATED_BY = Field("created_by", Rule(), default=None, doc="Accepted for compatibility; SageMaker records the creator.")


def _created_by_note(values: Mapping[str, Any]) -> list[str]:
    if values.get("created_by") is None:
        return []
    return ["created_by is recorded by SageMaker from the caller's identity; the value given was not stored"]


def _create_notes(values: Mapping[str, Any]) -> list[str]:
    notes = _created_by_note(values)
    if values.get("version") not in (None, 1):
        notes.append(f"version {values['version']} was not used: a new model card is version 1")
    return notes


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation(
            "create_model_card",
            (
                CARD_NAME,
                Field("status", _STATUS, default="Draft", doc="Draft, PendingReview, Approved or Archived."),
                Field("kms_key_id", Text(max_len=2048), default=None, doc="KMS key that encrypts the card."),
                Field("version", _VERSION, default=None, doc="Accepted for compatibility; a new card is version 1."),
                CREATED_BY,
                *SECTIONS,
            ),
            create_card,
            "Creates a SageMaker model card; answers its DescribeModelCard output.",
            _create_notes,
        ),
        Operation(
            "update_model_card",
            (
                CARD_NAME,
                Field("status", _STATUS, default=None, doc="New status of the card."),
                Field(
                    "version", _VERSION, default=None, doc="Card version the update starts from; default the latest."
                ),
                CREATED_BY,
                *SECTIONS,
            ),
            update_card,
            "Updates the attributes given (others are kept); answers the DescribeModelCard output.",
            _created_by_note,
        ),
        Operation(
            "describe_model_card",
            (CARD_NAME, Field("version", _VERSION, default=None, doc="Version to describe; default the latest.")),
            describe_card,
            "Answers the DescribeModelCard output.",
        ),
        Operation("delete_model_card", (CARD_NAME,), delete_card, "Deletes the model card."),
        Operation(
            "export_model_card",
            (
                CARD_NAME,
                Field("export_job_name", Name(max_len=63), default=None, doc="Name of the export job."),
                Field("model_card_version", _VERSION, default=None, doc="Version to export; default the latest."),
            ),
            export_card,
            f"Starts a PDF export of the card to s3://<assets bucket>/{EXPORT_PREFIX}.",
        ),
        Operation(
            "list_model_cards",
            (
                Field("name_contains", Text(max_len=63), default=None, doc="Only cards whose name contains this."),
                Field("status", _STATUS, default=None, doc="Only cards with this status."),
            ),
            list_cards,
            "Answers the ListModelCards output.",
        ),
    )
}
