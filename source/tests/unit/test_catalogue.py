# SPDX-License-Identifier: Apache-2.0
"""The catalogue's declarations hold together: a builder sends exactly its blueprint's parameters and reads
only its type's fields, every type declares what the other rooms read, and a new type needs one registration."""

from __future__ import annotations

import dataclasses
import json

import pytest

from lambdas.pipeline_orchestration.catalogue import (
    ALL_FIELDS,
    CATALOGUE,
    REALTIME,
    blueprints,
    register,
    registered,
)
from lambdas.pipeline_orchestration.catalogue.batch import BATCH, BATCH_KEEPS, BATCH_READS, build_batch
from lambdas.pipeline_orchestration.planner import plan_pipeline
from lambdas.pipeline_orchestration.spec import (
    SAGEMAKER_KINDS,
    Blueprint,
    Parameter,
    PipelineType,
    StageView,
    UnknownValue,
)
from lambdas.pipeline_orchestration.validation import validate
from tests.infrastructure.examples import MODES, body, settings


@pytest.mark.parametrize("pipeline_type, multi_account, model_registry", MODES)
def test_each_builder_reads_only_its_fields_and_sends_only_declared_parameters(
    pipeline_type: str, multi_account: bool, model_registry: bool
) -> None:
    orchestrator = settings(multi_account, model_registry)

    plan = plan_pipeline(validate(body(pipeline_type, model_registry), orchestrator), orchestrator)

    for stage in plan.stages:
        assert set(stage.parameters) == set(CATALOGUE[pipeline_type].blueprint.parameters)


def _with_builder(pipeline_type: str, builder) -> PipelineType:
    return dataclasses.replace(CATALOGUE[pipeline_type], build_parameters=builder)


def test_a_builder_reading_a_misspelt_field_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def misspelt(view: StageView) -> dict[str, str]:
        return {**build_batch(view), "KmsKeyArn": view.text("kms_key_ar")}

    monkeypatch.setitem(CATALOGUE, "byom_batch_builtin", _with_builder("byom_batch_builtin", misspelt))
    orchestrator = settings()

    with pytest.raises(UnknownValue, match="kms_key_ar is not a field of this pipeline type"):
        plan_pipeline(validate(body("byom_batch_builtin"), orchestrator), orchestrator)


def test_a_builder_reading_a_field_of_another_type_fails() -> None:
    view = StageView({}, settings(), "p", fields=frozenset(f.name for f in CATALOGUE["byom_batch_custom"].fields))

    with pytest.raises(UnknownValue):
        view.text("model_framework")  # a field of byom_batch_builtin, not of the custom type
    assert view.text("custom_image_uri") == ""


def test_a_builder_sending_a_parameter_its_blueprint_does_not_declare_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def extra(view: StageView) -> dict[str, str]:
        return {**build_batch(view), "KmsKeyARN": ""}

    monkeypatch.setitem(CATALOGUE, "byom_batch_builtin", _with_builder("byom_batch_builtin", extra))
    orchestrator = settings()

    with pytest.raises(ValueError, match="not declared: KmsKeyARN"):
        plan_pipeline(validate(body("byom_batch_builtin"), orchestrator), orchestrator)


def test_a_builder_leaving_out_a_declared_parameter_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def short(view: StageView) -> dict[str, str]:
        return {k: v for k, v in build_batch(view).items() if k != "BatchOutputLocation"}

    monkeypatch.setitem(CATALOGUE, "byom_batch_builtin", _with_builder("byom_batch_builtin", short))
    orchestrator = settings()

    with pytest.raises(ValueError, match="not built: BatchOutputLocation"):
        plan_pipeline(validate(body("byom_batch_builtin"), orchestrator), orchestrator)


def test_a_blueprint_declares_each_parameter_once() -> None:
    bucket = Parameter("AssetsBucket", "Bucket")

    with pytest.raises(ValueError, match="declares a parameter twice"):
        Blueprint("x.yaml", (bucket, bucket.but(description="Again")))


def test_a_parameter_renders_as_cloudformation_declares_it() -> None:
    optional = Parameter("EndpointName", "Endpoint", pattern="(a)?", hint="a or empty", default="")
    number = Parameter("Count", "How many", number=(1, 10), default=1)

    assert optional.cloudformation() == {
        "type": "String",
        "description": "Endpoint",
        "allowed_pattern": "(a)?",
        "constraint_description": "a or empty",
        "default": "",
    }
    assert number.cloudformation() == {
        "type": "Number",
        "description": "How many",
        "min_value": 1,
        "max_value": 10,
        "default": 1,
    }


def test_allowed_values_come_from_the_request_rules() -> None:
    """A value the request field allows, the template allows too (they are read from one constant)."""
    realtime = {p.name: p for p in REALTIME.declared}
    memory = CATALOGUE["byom_realtime_builtin"].field("serverless_memory_size")
    assert memory is not None
    for size in memory.rule.values:  # type: ignore[attr-defined]
        assert f"|{size}|" in f"|{realtime['ServerlessMemorySize'].pattern.strip('()?')}|"
    tuner = {p.name: p for p in CATALOGUE["model_tuner_builtin"].blueprint.declared}
    data_type = CATALOGUE["model_tuner_builtin"].field("s3_data_type")
    assert data_type is not None
    assert tuner["S3DataType"].allowed_values == data_type.rule.values  # type: ignore[attr-defined]


def test_every_declaration_names_what_exists() -> None:
    """What the other rooms read from a type names a field, a parameter or a kind that exists."""
    for pipeline_type in CATALOGUE.values():
        fields = {f.name for f in pipeline_type.fields}
        assert {k.field for k in pipeline_type.keeps} <= fields, pipeline_type.name
        assert pipeline_type.endpoint in ("", "serves", "monitors"), pipeline_type.name
        for read in pipeline_type.reads:
            assert read.kind in SAGEMAKER_KINDS, (pipeline_type.name, read)
            assert read.parameter in ("", *pipeline_type.blueprint.parameters), (pipeline_type.name, read)
            assert read.name or read.parameter or read.output, (pipeline_type.name, read)
    assert {c.arn_type for b in blueprints() for c in b.creates} >= {"model", "endpoint", "monitoring-schedule"}


def test_a_type_registers_once_and_leaves_with_its_block() -> None:
    nightly = dataclasses.replace(
        CATALOGUE["byom_batch_builtin"], name="nightly_batch", postfix="NightlyBatch", description="Nightly."
    )

    with registered(nightly):
        assert CATALOGUE["nightly_batch"] is nightly
        with pytest.raises(ValueError, match="already registered"):
            register(nightly)
        with pytest.raises(ValueError, match="postfix NightlyBatch is already taken"):
            register(dataclasses.replace(nightly, name="other"))
    assert "nightly_batch" not in CATALOGUE
    assert {f.name for t in CATALOGUE.values() for f in t.fields} == ALL_FIELDS


def test_a_new_type_on_an_existing_blueprint_validates_and_plans() -> None:
    """One declaration and one registration: the validator and the planner know the type."""
    nightly = PipelineType(
        "nightly_batch",
        "NightlyBatch",
        BATCH,
        CATALOGUE["byom_batch_builtin"].fields,
        build_batch,
        description="Nightly batch transform.",
        reads=BATCH_READS,
        keeps=BATCH_KEEPS,
    )
    orchestrator = settings()
    request = {**body("byom_batch_builtin"), "pipeline_type": "nightly_batch"}

    with registered(nightly):
        plan = plan_pipeline(validate(request, orchestrator), orchestrator)

    assert plan.template == BATCH.template
    assert plan.stack_name == "mlops-pipeline-churn-xgb-nightlybatch-codepipeline"


def test_every_type_has_its_example_request() -> None:
    from tests.infrastructure.examples import EXAMPLES_DIR

    for pipeline_type in CATALOGUE.values():
        example = json.loads((EXAMPLES_DIR / pipeline_type.example).read_text())
        assert example["pipeline_type"] == pipeline_type.name
