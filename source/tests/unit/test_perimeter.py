# SPDX-License-Identifier: Apache-2.0
"""The data perimeter: keys, topics, model packages, images and buckets a request names stay inside the
orchestrator's accounts and the operator's allow-lists; a value outside is a 400 naming the field."""

from __future__ import annotations

import json

import pytest

from lambdas.pipeline_orchestration import images, index
from lambdas.pipeline_orchestration.adapters import Aws
from lambdas.pipeline_orchestration.catalogue import CATALOGUE
from lambdas.pipeline_orchestration.perimeter import JUDGES
from lambdas.pipeline_orchestration.rules import Rule
from lambdas.pipeline_orchestration.service import OrchestratorService
from lambdas.pipeline_orchestration.settings import Settings
from lambdas.pipeline_orchestration.validation import validate
from lambdas.shared.errors import ValidationFailed
from tests.callers import as_caller
from tests.unit.conftest import ACCOUNT, ASSETS, REGION, example, make_settings

FOREIGN = "999988887777"
SINGLE = make_settings()
MULTI = make_settings(multi_account=True)
OWN_IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/mlops-custom-algorithms:v1"
AWS_XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def errors_of(body, settings=SINGLE) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        validate(body, settings)
    return {e.field: e.message for e in caught.value.errors}


def with_(pipeline_type: str, **changes):
    return {**example(pipeline_type), **changes}


@pytest.mark.parametrize(
    ("pipeline_type", "field", "value"),
    [
        ("byom_batch_builtin", "kms_key_arn", f"arn:aws:kms:{REGION}:{FOREIGN}:key/abc"),
        ("byom_realtime_builtin", "kms_key_arn", f"arn:aws:kms:{REGION}:{FOREIGN}:alias/theirs"),
        ("model_training_builtin", "kms_key_arn", f"arn:aws:kms:{REGION}:{FOREIGN}:key/abc"),
        ("byom_realtime_builtin", "model_package_name", f"arn:aws:sagemaker:{REGION}:{FOREIGN}:model-package/g/1"),
        ("byom_realtime_custom", "custom_image_uri", f"{FOREIGN}.dkr.ecr.{REGION}.amazonaws.com/loot:latest"),
        ("byom_batch_custom", "custom_image_uri", f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/payments-service:1"),
    ],
)
def test_a_value_of_another_account_or_repository_is_refused_naming_the_field(pipeline_type, field, value):
    # Beside an artifact, a package is ignored without the registry (as the predecessor did): judge it with one.
    settings = make_settings(model_registry=True) if field == "model_package_name" else SINGLE
    errors = errors_of(with_(pipeline_type, **{field: value}), settings)
    assert list(errors) == [field]
    assert "outside the orchestrator's data perimeter" in errors[field]


def test_async_topics_of_another_account_are_refused_both_at_once():
    topic = f"arn:aws:sns:{REGION}:{FOREIGN}:results"
    body = with_(
        "byom_realtime_builtin",
        async_output_location="my-bucket/async",
        async_success_topic_arn=topic,
        async_error_topic_arn=topic,
        kms_key_arn=f"arn:aws:kms:{REGION}:{FOREIGN}:key/abc",
    )
    errors = errors_of(body)
    assert set(errors) == {"async_success_topic_arn", "async_error_topic_arn", "kms_key_arn"}
    assert f"account {FOREIGN} is outside" in errors["async_error_topic_arn"]
    assert f"({ACCOUNT})" in errors["kms_key_arn"]


def test_values_of_the_orchestrators_and_its_stage_accounts_are_accepted():
    own = with_("byom_batch_builtin", kms_key_arn=f"arn:aws:kms:{REGION}:{ACCOUNT}:key/abc")
    assert validate(own, SINGLE).values["kms_key_arn"].endswith(":key/abc")
    stage_account = MULTI.stage_targets["prod"].account_id  # type: ignore[index]
    staged = with_("byom_batch_builtin", kms_key_arn={"prod": f"arn:aws:kms:{REGION}:{stage_account}:key/abc"})
    assert validate(staged, MULTI).values["kms_key_arn"]["prod"].endswith(":key/abc")
    # In one account mode the stage account is just another account.
    errors = errors_of(with_("byom_batch_builtin", kms_key_arn=f"arn:aws:kms:{REGION}:{stage_account}:key/abc"))
    assert list(errors) == ["kms_key_arn"]


def test_a_stage_value_outside_is_named_with_its_stage():
    foreign = f"arn:aws:kms:{REGION}:{FOREIGN}:key/abc"
    errors = errors_of(with_("byom_batch_builtin", kms_key_arn={"staging": foreign}), MULTI)
    assert list(errors) == ["kms_key_arn.staging"]
    assert "or its stage accounts" in errors["kms_key_arn.staging"]


def test_images_of_the_orchestrators_repository_aws_and_the_listed_repositories_are_accepted():
    for image in (OWN_IMAGE, f"{OWN_IMAGE.split(':')[0]}@sha256:{'a' * 64}", AWS_XGBOOST):
        assert validate(with_("byom_realtime_custom", custom_image_uri=image), SINGLE).values["custom_image_uri"]
    listed = f"{FOREIGN}.dkr.ecr.{REGION}.amazonaws.com/shared/models"
    team = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/team-images:3"
    arn = f"arn:aws:ecr:{REGION}:{FOREIGN}:repository/by-arn"
    settings = make_settings(allowed_image_repositories=(listed, "team-images", arn))
    for image in (f"{listed}:7", team, f"{FOREIGN}.dkr.ecr.{REGION}.amazonaws.com/by-arn:1"):
        assert validate(with_("byom_batch_custom", custom_image_uri=image), settings).values["custom_image_uri"]
    # An AWS image account of another region is not one of this region's.
    elsewhere = "683313688378.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    assert "eu-west-1" in errors_of(with_("byom_realtime_custom", custom_image_uri=elsewhere))["custom_image_uri"]


def test_the_aws_image_accounts_are_the_tables_registries():
    accounts = images.aws_image_accounts("us-east-1")
    assert "683313688378" in accounts and ACCOUNT not in accounts
    assert images.aws_image_accounts("nowhere-1") == frozenset()


def test_allowed_data_buckets_narrow_every_location_and_keep_the_assets_bucket():
    settings = make_settings(allowed_data_buckets=("ml-data", "ml-results"))
    body = with_(
        "byom_batch_builtin",
        batch_inference_data="hr-payroll/exports/input.csv",
        batch_job_output_location="attacker-external-bucket/loot",
    )
    errors = errors_of(body, settings)
    assert set(errors) == {"batch_inference_data", "batch_job_output_location"}
    assert "'attacker-external-bucket'" in errors["batch_job_output_location"]
    assert "AllowedDataBuckets: ml-data, ml-results" in errors["batch_job_output_location"]
    inside = with_(
        "byom_batch_builtin", batch_inference_data="ml-data/in.csv", batch_job_output_location=f"{ASSETS}/out"
    )
    assert validate(inside, settings).values["batch_job_output_location"] == f"{ASSETS}/out"
    # Without the list, any bucket name passes validation (the grants keep it in the role's account).
    assert validate(body, SINGLE).values["batch_job_output_location"] == "attacker-external-bucket/loot"


def test_offline_validation_without_an_account_judges_no_account():
    offline = make_settings(account_id="<orchestrator-account-id>")
    body = with_("byom_batch_custom", kms_key_arn=f"arn:aws:kms:{REGION}:{FOREIGN}:key/abc")
    body["custom_image_uri"] = f"{FOREIGN}.dkr.ecr.{REGION}.amazonaws.com/loot:latest"
    assert validate(body, offline).values["kms_key_arn"].startswith("arn:aws:kms")


def test_every_perimeter_kind_a_rule_declares_has_a_judge():
    declared = {spec.rule.reaches for pipeline in CATALOGUE.values() for spec in pipeline.fields if spec.rule.reaches}
    assert declared == set(JUDGES)
    assert Rule().reaches == ""


def test_the_perimeter_settings_are_read_from_the_environment():
    settings = Settings.from_env(
        {
            "ALLOWED_DATA_BUCKETS": "ml-data, ml-results,",
            "ALLOWED_IMAGE_REPOSITORIES": "team-images",
        }
    )
    assert settings.allowed_data_buckets == ("ml-data", "ml-results")
    assert settings.allowed_image_repositories == ("team-images",)
    assert Settings.from_env({}).allowed_data_buckets == ()


def test_a_dry_run_outside_the_perimeter_is_a_400_naming_the_field(aws_scene):
    service = OrchestratorService(make_settings(), Aws())
    body = with_("byom_realtime_custom", custom_image_uri=f"{FOREIGN}.dkr.ecr.{REGION}.amazonaws.com/x:1")
    event = as_caller(
        {"httpMethod": "POST", "resource": "/provisionpipeline", "body": json.dumps({**body, "dry_run": True})}
    )
    response = index.handle(event, service)
    assert response["statusCode"] == 400
    assert [e["field"] for e in json.loads(response["body"])["errors"]] == ["custom_image_uri"]


def test_a_shap_baseline_file_is_a_key_of_the_assets_bucket():
    def shap(baseline):
        config = {**example("byom_model_explainability_monitor")["shap_config"], "baseline": baseline}
        return with_("byom_model_explainability_monitor", shap_config=config)

    assert "s3://other-bucket" not in str(validate(shap(f"s3://{ASSETS}/shap/base.csv"), SINGLE).values)
    errors = errors_of(shap("s3://other-bucket/shap/base.csv"))
    assert list(errors) == ["shap_config.baseline"] and f"assets bucket ({ASSETS})" in errors["shap_config.baseline"]
    assert "'..'" in errors_of(shap("../other/base.csv"))["shap_config"]
    # Inline rows are no file: the role reads no object for them.
    assert validate(shap([[1, 2, 3]]), SINGLE).values["shap_config"]["baseline"] == [[1, 2, 3]]
