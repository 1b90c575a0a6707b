# SPDX-License-Identifier: Apache-2.0
"""No request location reaches what the orchestrator or CodePipeline write, nor widens a grant with IAM's wildcards:
every location field of every pipeline type refuses them with a 400 naming the field."""

from __future__ import annotations

import pytest

from lambdas.pipeline_orchestration.catalogue import CATALOGUE
from lambdas.pipeline_orchestration.rules import AssetKey, BucketPath, RuleBroken
from lambdas.pipeline_orchestration.validation import validate
from lambdas.shared.errors import ValidationFailed
from tests.unit.conftest import ASSETS, BLUEPRINTS, example, make_settings

SINGLE = make_settings()
MULTI = make_settings(multi_account=True)
ARTIFACTS = SINGLE.artifact_bucket


def _location_fields() -> list[tuple[str, str, bool]]:
    """(pipeline type, field, is a bucket/prefix) for every location field an example body sets."""
    found = []
    for name, pipeline in sorted(CATALOGUE.items()):
        body = example(name)
        for spec in pipeline.fields:
            if isinstance(spec.rule, AssetKey | BucketPath) and spec.name in body:
                found.append((name, spec.name, isinstance(spec.rule, BucketPath)))
    return found


LOCATIONS = _location_fields()


def test_every_kind_of_location_field_is_covered():
    """The cases below run on each location field the examples set; both rules must be among them."""
    assert {bucket_path for _, _, bucket_path in LOCATIONS} == {True, False}
    assert {"job_output_location", "batch_job_output_location", "model_artifact_location"} <= {
        field for _, field, _ in LOCATIONS
    }


def _refused(pipeline_type: str, field: str, value: str, settings=SINGLE) -> str:
    body = example(pipeline_type)
    body[field] = value
    with pytest.raises(ValidationFailed) as caught:
        validate(body, settings)
    errors = {e.field: e.message for e in caught.value.errors}
    assert set(errors) == {field}, errors
    return errors[field]


def _reserved_values(bucket_path: bool) -> list[str]:
    in_assets = [
        "mlops_provisioned_pipelines/mlops-pipeline-victim-codepipeline/template.zip",
        "mlops_provisioned_pipelines",
        "mlops-pipeline-victim",  # CodePipeline's artifacts of a pipeline named so (before the artifact bucket)
        "mlops-pipeline-victim/Artifact_S/Ab1Cd2E",
        "blueprints/lambdas",
        "mlops",  # a grant on `mlops*` covers both reserved prefixes
    ]
    if not bucket_path:
        return in_assets
    return [f"{ASSETS}/{key}" for key in in_assets] + [
        ASSETS,  # the whole assets bucket
        ARTIFACTS,
        f"{ARTIFACTS}/mlops-pipeline-victim/Artifact_S",
        f"{BLUEPRINTS}/blueprints",
        "mlops-pip",  # a grant on `mlops-pip*` covers the artifact bucket
    ]


@pytest.mark.parametrize(("pipeline_type", "field", "bucket_path"), LOCATIONS)
def test_a_location_under_what_the_orchestrator_writes_is_refused_naming_the_field(pipeline_type, field, bucket_path):
    for value in _reserved_values(bucket_path):
        message = _refused(pipeline_type, field, value)
        assert "orchestrator" in message, (value, message)


@pytest.mark.parametrize(("pipeline_type", "field", "bucket_path"), LOCATIONS)
def test_iam_wildcards_and_policy_variables_are_refused_in_every_location(pipeline_type, field, bucket_path):
    prefix = "my-data-bucket/" if bucket_path else ""
    for value in ("*", f"{prefix}data/*", f"{prefix}data/?.csv", f"{prefix}${{aws:username}}/out"):
        assert "wildcards or policy variables" in _refused(pipeline_type, field, value), value


def test_a_stage_location_is_judged_in_each_stage():
    body = example("byom_batch_builtin")
    body["batch_job_output_location"] = {"dev": "my-data/out", "staging": "*", "prod": f"{ARTIFACTS}/x"}
    with pytest.raises(ValidationFailed) as caught:
        validate(body, MULTI)
    errors = {e.field: e.message for e in caught.value.errors}
    assert set(errors) == {"batch_job_output_location.staging", "batch_job_output_location.prod"}


def test_locations_beside_the_reserved_ones_are_accepted():
    body = example("model_training_builtin")
    body.update(
        training_data="mlops_data/train.csv",  # not a reserved prefix, and no reserved prefix begins with it
        job_output_location="models/mlops-pipeline-victim/out",  # the reserved names deeper in a key are fine
    )
    assert validate(body, SINGLE).values["job_output_location"] == "models/mlops-pipeline-victim/out"
    batch = example("byom_batch_builtin")
    batch["batch_job_output_location"] = f"{ASSETS}/batch/mlops_provisioned_pipelines"
    batch["batch_inference_data"] = "other-bucket/mlops_provisioned_pipelines/x.csv"  # another bucket's keys
    assert validate(batch, SINGLE).values["batch_inference_data"] == "other-bucket/mlops_provisioned_pipelines/x.csv"


def test_outside_validation_the_rules_still_refuse_the_reserved_prefixes_and_wildcards():
    """Without settings (a rule used on its own) the assets bucket's name is unknown; its prefixes are not."""
    with pytest.raises(RuleBroken, match="mlops_provisioned_pipelines/"):
        AssetKey().check("mlops_provisioned_pipelines/x/template.zip")
    with pytest.raises(RuleBroken, match="wildcards"):
        BucketPath().check("bucket/a*")
    assert BucketPath().check("bucket/mlops_provisioned_pipelines") == "bucket/mlops_provisioned_pipelines"
