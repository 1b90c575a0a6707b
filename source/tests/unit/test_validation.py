# SPDX-License-Identifier: Apache-2.0
"""Validation: every body the predecessor accepted passes; every bad value is named with its rule, all at once."""

from __future__ import annotations

import pytest

from lambdas.pipeline_orchestration.catalogue import CATALOGUE
from lambdas.pipeline_orchestration.planner import plan_pipeline
from lambdas.pipeline_orchestration.validation import validate, validate_request
from lambdas.shared.errors import BadRequest, ValidationFailed
from tests.unit.conftest import example, make_settings

SINGLE = make_settings()
STRICT = make_settings(strict_validation=True)
MULTI = make_settings(multi_account=True)
REGISTRY = make_settings(model_registry=True)


def errors_of(body, settings=SINGLE) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        validate(body, settings)
    return {e.field: e.message for e in caught.value.errors}


def with_(pipeline_type: str, **changes):
    body = example(pipeline_type)
    body.update(changes)
    return body


@pytest.mark.parametrize("pipeline_type", sorted(CATALOGUE))
@pytest.mark.parametrize("settings", [SINGLE, MULTI], ids=["single", "multi"])
def test_predecessor_example_bodies_are_accepted(pipeline_type, settings):
    request = validate(example(pipeline_type), settings)
    assert request.pipeline.name == pipeline_type
    assert request.warnings == ()


def test_every_problem_is_reported_at_once_with_field_and_rule():
    body = {
        "pipeline_type": "byom_realtime_builtin",
        "model_name": "churn model",
        "model_framework": "xgboost",
        "model_framework_version": "1.7-1",
        "model_artifact_location": "../secret/model.tar.gz",
        "inference_instance": "m5.large",
        "data_capture_location": "s3://my-bucket/capture",
        "kms_key_arn": "not-an-arn",
    }
    errors = errors_of(body)
    assert set(errors) == {
        "model_name",
        "model_artifact_location",
        "inference_instance",
        "data_capture_location",
        "kms_key_arn",
    }
    assert "letters, digits and hyphens" in errors["model_name"]
    assert "'..'" in errors["model_artifact_location"]
    assert "ml.m5.large" in errors["inference_instance"]
    assert "s3://" in errors["data_capture_location"]
    assert "KMS key ARN" in errors["kms_key_arn"]


def test_missing_required_fields_are_all_listed():
    errors = errors_of({"pipeline_type": "byom_batch_builtin"})
    assert set(errors) == {
        "model_name", "inference_instance", "model_framework", "model_framework_version",
        "model_artifact_location", "batch_inference_data", "batch_job_output_location",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "is required; one of"),
        ({"pipeline_type": "byom_realtime_bultin"}, "did you mean 'byom_realtime_builtin'"),
        ({"pipeline_type": 7}, "not supported"),
        ({"pipeline_type": ["byom_realtime_builtin"]}, "not supported"),
    ],
)
def test_pipeline_type_missing_or_unknown(body, message):
    assert message in errors_of(body)["pipeline_type"]


def test_pipeline_type_is_whitespace_stripped():
    body = example("byom_realtime_custom")
    body["pipeline_type"] = "  byom_realtime_custom "
    assert validate(body, SINGLE).pipeline.name == "byom_realtime_custom"


def test_body_must_be_an_object():
    with pytest.raises(BadRequest, match="JSON object"):
        validate(["not", "an", "object"], SINGLE)


def test_a_typo_is_ignored_with_a_warning_naming_the_closest_known_field():
    request = validate(with_("byom_realtime_builtin", endpiont_name="x"), SINGLE)
    assert "endpiont_name" not in request.values
    assert request.warnings == (
        "endpiont_name is not a known field of byom_realtime_builtin; did you mean 'endpoint_name'?; it was ignored",
    )


def test_a_strict_orchestrator_refuses_a_typo_naming_the_closest_known_field():
    body = with_("byom_realtime_builtin", endpiont_name="x")
    assert errors_of(body, STRICT) == {
        "endpiont_name": "is not a known field of byom_realtime_builtin; did you mean 'endpoint_name'?"
    }


def test_a_field_of_another_pipeline_type_is_ignored_with_a_warning():
    body = with_("byom_data_quality_monitor", problem_type="Regression")
    request = validate(body, SINGLE)
    assert "problem_type" not in request.values
    assert request.warnings == (
        "problem_type is a field of another pipeline type, not of byom_data_quality_monitor; it was ignored",
    )
    assert errors_of(body, STRICT) == {
        "problem_type": "is a field of another pipeline type, not of byom_data_quality_monitor"
    }


def test_unknown_keys_inside_an_object_are_warned_about_at_their_path_and_dropped():
    body = {
        "pipeline_type": "create_model_card",
        "name": "churn-card",
        "intended_uses": {"purpose_of_model": "churn", "risk_ratng": "Low"},
    }
    request = validate_request(body, SINGLE)
    assert request.values["intended_uses"] == {"purpose_of_model": "churn"}
    assert [w.split(" (known")[0] for w in request.warnings] == ["intended_uses.risk_ratng is not a known key"]
    with pytest.raises(ValidationFailed) as caught:
        validate_request(body, STRICT)
    assert [e.field for e in caught.value.errors] == ["intended_uses.risk_ratng"]


def test_model_card_operations_take_the_predecessors_version_and_created_by():
    update = {
        "pipeline_type": "update_model_card",
        "name": "c",
        "version": 2,
        "created_by": "ml-team",
        "status": "Approved",
    }
    request = validate_request(update, SINGLE)
    assert request.values["version"] == 2
    assert request.warnings == (
        "created_by is recorded by SageMaker from the caller's identity; the value given was not stored",
    )


def test_model_name_is_kept_as_given_and_only_stack_names_are_lower_cased():
    request = validate(with_("byom_realtime_builtin", model_name="Churn-XGB"), SINGLE)
    assert request.values["model_name"] == "Churn-XGB"
    assert request.base_name == "mlops-pipeline-churn-xgb-byompipelinerealtimebuiltin"


def test_numbers_may_be_strings_and_booleans_may_be_json():
    body = with_("model_training_builtin", instance_count="2", instance_volume_size=50, use_spot_instances=False)
    values = validate(body, SINGLE).values
    assert (values["instance_count"], values["instance_volume_size"], values["use_spot_instances"]) == (2, 50, "False")


def test_defaults_are_the_predecessors():
    values = validate(example("model_autopilot_training"), SINGLE).values
    assert values["encrypt_inner_traffic"] == "True"
    assert values["max_runtime_per_job"] == 86400
    assert values["generate_definition_only"] == "False"
    training = validate(with_("model_training_builtin", use_spot_instances="True"), SINGLE).values
    assert (training["instance_type"], training["max_wait_time_spot_instances"], training["s3_data_type"]) == (
        "ml.m5.xlarge",
        172800,
        "S3Prefix",
    )


@pytest.mark.parametrize(
    ("pipeline_type", "field", "value", "message"),
    [
        ("byom_data_quality_monitor", "schedule_expression", "rate(1 hour)", "cron expression"),
        ("byom_data_quality_monitor", "schedule_expression", "cron(0 * * * *)", "6 fields"),
        ("byom_data_quality_monitor", "schedule_expression", "cron(0 * * * * *)", "'?'"),
        ("byom_data_quality_monitor", "schedule_expression", "cron(99 99 ? * * *)", "minutes field '99'"),
        ("byom_data_quality_monitor", "schedule_expression", "cron(0 99 ? * * *)", "hours field '99' must hold"),
        ("byom_data_quality_monitor", "schedule_expression", "cron(a b ? d e f)", "minutes field 'a'"),
        ("byom_data_quality_monitor", "schedule_expression", "cron(0 0 32 * ? *)", "day-of-month field '32'"),
        ("byom_data_quality_monitor", "schedule_expression", "cron(0 0 ? 13 * *)", "month field '13'"),
        ("byom_data_quality_monitor", "schedule_expression", "cron(0 0 ? * 8 *)", "day-of-week field '8'"),
        ("byom_data_quality_monitor", "schedule_expression", "cron(0 0 ? * * 1800)", "year field '1800'"),
        ("byom_data_quality_monitor", "schedule_expression", "cron(0/0 0 ? * * *)", "minutes field"),
        ("byom_data_quality_monitor", "schedule_expression", "cron(? 0 ? * * *)", "minutes field '?'"),
        ("byom_realtime_builtin", "model_framework", "xgbost", "did you mean 'xgboost'?"),
        ("byom_realtime_builtin", "inference_instance", "ml.m5.lage", "did you mean 'ml.m5.large'?"),
        ("byom_realtime_builtin", "inference_instance", "ml-m5-large", "did you mean 'ml.m5.large'?"),
        ("byom_realtime_builtin", "inference_instance", "m5.xlarge", "did you mean 'ml.m5.xlarge'?"),
        ("byom_realtime_builtin", "inference_instance", "banana", "SageMaker instance type such as ml.m5.large"),
        ("byom_data_quality_monitor", "monitor_max_runtime_seconds", 90000, "between 1 and 86400"),
        ("byom_data_quality_monitor", "instance_volume_size", "twenty", "whole number"),
        ("byom_data_quality_monitor", "instance_volume_size", True, "boolean"),
        ("byom_data_quality_monitor", "baseline_job_output_location", "My_Bucket/x", "bucket name"),
        ("byom_data_quality_monitor", "baseline_job_output_location", "ab/x", "3 to 63"),
        ("byom_data_quality_monitor", "baseline_job_output_location", "192.168.1.1/x", "IP address"),
        ("byom_data_quality_monitor", "baseline_job_output_location", "bucket//x", "empty path segment"),
        ("byom_realtime_custom", "custom_image_uri", "docker.io/library/nginx:latest", "ECR image URI"),
        ("byom_model_quality_monitor", "problem_type", "Classification", "must be one of"),
        ("byom_model_quality_monitor", "probability_threshold_attribute", "1.5", "between 0 and 1"),
        ("byom_model_bias_monitor", "bias_config", "not-json", "JSON object"),
        ("byom_model_bias_monitor", "bias_config", {"facet_name": "age"}, "label_values_or_threshold"),
        (
            "byom_model_bias_monitor",
            "bias_config",
            {"facet_name": "age", "label_values_or_threshold": [1], "x": 1},
            "unknown key 'x'",
        ),
        ("byom_model_explainability_monitor", "shap_config", {"num_sample": 10}, "unknown key 'num_sample'"),
        ("model_training_builtin", "use_spot_instances", "yes", '"True" or "False"'),
        ("model_training_builtin", "max_runtime_per_job", 10, "between 600 and 259200"),
        ("model_training_builtin", "training_data", "t" * 129, "at most 128"),
        ("model_training_builtin", "s3_data_type", "S3Object", "must be one of S3Prefix"),
        ("model_training_builtin", "model_framework", "xgbost", "unknown framework 'xgbost'"),
        ("model_training_builtin", "model_framework_version", "9.9", "available versions"),
        ("model_tuner_builtin", "hyperparamaters_ranges", {"eta": ["continuous", [0.4, 0.1]]}, "min <= max"),
        ("model_tuner_builtin", "tuner_configs", {"objective_metric_name": "auc", "strategy": "Genetic"}, "strategy"),
        ("model_tuner_builtin", "tuner_configs", {"objective_type": "Maximize"}, "objective_metric_name"),
        ("model_autopilot_training", "job_objective", "MSE", "Accuracy, F1, AUC"),
        ("model_autopilot_training", "job_max_candidates", 0, "between 1 and 750"),
        ("byom_image_builder", "ecr_repo_name", "Has Spaces", "ECR repository name"),
        ("byom_image_builder", "image_tag", "v1.0", "letters, digits and hyphens"),
    ],
)
def test_value_rules(pipeline_type, field, value, message):
    errors = errors_of(with_(pipeline_type, **{field: value}))
    assert field in errors and message in errors[field], errors


def test_without_the_registry_an_artifact_beside_a_package_is_deployed_as_the_predecessor_did():
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/3"
    request = validate(with_("byom_realtime_builtin", model_package_name=arn), SINGLE)
    assert "model_package_name" not in request.values
    assert request.warnings == (
        "model_package_name was ignored: without the model registry, a request that gives model_artifact_location "
        "deploys that artifact (as the predecessor did)",
    )
    parameters = plan_pipeline(request, SINGLE).stages[0].parameters
    assert (parameters["ModelPackageName"], parameters["ModelPackageGroupName"]) == ("", "")
    assert parameters["ModelArtifactLocation"] == request.values["model_artifact_location"]


def test_another_regions_image_key_or_model_package_is_refused_naming_both_regions():
    body = with_(
        "byom_batch_custom",
        custom_image_uri="123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops-custom-algorithms:1",
        kms_key_arn="arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555",
    )
    errors = errors_of(body)
    for field, what in (("custom_image_uri", "the image"), ("kms_key_arn", "the KMS key")):
        assert errors[field].startswith(f"{what} is in eu-west-1, but the orchestrator runs in us-east-1"), errors
    package = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/churn-models/3"
    errors = errors_of({**example("byom_realtime_builtin"), "model_package_name": package}, REGISTRY)
    assert errors["model_package_name"].startswith("the model package is in eu-west-1"), errors
    # The same values in the orchestrator's region are valid.
    assert validate(
        {**body, **{k: v.replace("eu-west-1", "us-east-1") for k, v in body.items() if "eu-west-1" in str(v)}}, SINGLE
    )


def test_without_the_registry_the_model_fields_stay_required_beside_a_package():
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/3"
    body = with_("byom_realtime_builtin", model_package_name=arn)
    del body["model_framework"]
    assert set(errors_of(body)) == {"model_framework"}


def test_registry_mode_requires_the_model_package_instead_of_model_fields():
    body = example("byom_realtime_builtin")
    errors = errors_of(body, REGISTRY)
    assert errors == {"model_package_name": "is required when the orchestrator uses the model registry"}
    body["model_package_name"] = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/3"
    request = validate(body, REGISTRY)
    assert "model_framework" not in request.values
    assert any("model_framework is not used" in w for w in request.warnings)


def test_registry_mode_checks_the_package_arn():
    body = with_("byom_batch_custom", model_package_name="arn:aws:sagemaker:us-east-1:1:model-package/g")
    assert "model package version ARN" in errors_of(body, REGISTRY)["model_package_name"]


def test_stage_objects_are_resolved_per_stage_in_multi_account_mode():
    body = with_(
        "byom_realtime_builtin",
        inference_instance={"dev": "ml.t2.medium", "staging": "ml.m5.large", "prod": "ml.m5.xlarge"},
    )
    request = validate(body, MULTI)
    assert request.stage_values("dev")["inference_instance"] == "ml.t2.medium"
    assert request.stage_values("prod")["inference_instance"] == "ml.m5.xlarge"
    # A plain value goes to every stage.
    assert {request.stage_values(s)["data_capture_location"] for s in ("dev", "staging", "prod")} == {
        "my-assets-bucket/datacapture/churn"
    }


def test_stage_object_problems_name_the_stage():
    body = with_(
        "byom_realtime_builtin", inference_instance={"dev": "ml.t2.medium", "staging": "large", "qa": "ml.m5.large"}
    )
    errors = errors_of(body, MULTI)
    assert "ml.m5.large" in errors["inference_instance.staging"]
    assert errors["inference_instance.qa"].startswith("is not a stage")
    assert "needs all of dev, staging and prod" in errors["inference_instance.prod"]


def test_optional_stage_field_may_omit_stages():
    body = with_(
        "byom_realtime_builtin", endpoint_name={"dev": "churn-dev", "staging": "churn-stg", "prod": "churn-prd"}
    )
    body["kms_key_arn"] = {"prod": "arn:aws:kms:us-east-1:123456789012:key/abc"}
    request = validate(body, MULTI)
    assert request.stage_values("dev")["kms_key_arn"] == ""
    assert request.stage_values("prod")["kms_key_arn"].endswith("key/abc")


def test_stage_objects_are_rejected_in_single_account_mode():
    body = with_(
        "byom_realtime_builtin",
        inference_instance={"dev": "ml.t2.medium", "staging": "ml.m5.large", "prod": "ml.m5.xlarge"},
    )
    assert "this orchestrator is single-account" in errors_of(body)["inference_instance"]


def test_stage_objects_are_rejected_for_types_that_deploy_in_the_own_account():
    body = with_("model_training_builtin", kms_key_arn={"dev": "", "staging": "", "prod": ""})
    message = errors_of(body, MULTI)["kms_key_arn"]
    assert "own account only" in message or "JSON" in message or "must be" in message


def test_stage_objects_only_for_stage_capable_fields():
    body = with_("byom_realtime_builtin", model_name={"dev": "a", "staging": "b", "prod": "c"})
    assert "must be a string" in errors_of(body, MULTI)["model_name"]


def test_model_quality_binary_needs_probability_and_threshold_or_inference():
    body = with_("byom_model_quality_monitor", monitor_probability_attribute="", probability_threshold_attribute="")
    errors = errors_of(body)
    assert "monitor_inference_attribute" in errors
    body["monitor_inference_attribute"] = "0"
    validate(body, SINGLE)


def test_model_quality_required_attributes_depend_on_problem_type():
    body = with_("byom_model_quality_monitor", problem_type="Regression")
    del body["monitor_probability_attribute"]
    assert errors_of(body) == {
        "monitor_inference_attribute": "is required when problem_type is Regression or MulticlassClassification"
    }


def test_bias_monitor_needs_predicted_label_config_for_classification():
    body = with_("byom_model_bias_monitor")
    del body["model_predicted_label_config"]
    assert "model_predicted_label_config" in errors_of(body)
    body.update(problem_type="Regression", monitor_inference_attribute="0")
    validate(body, SINGLE)


def test_spot_wait_must_exceed_runtime():
    body = with_(
        "model_training_builtin", use_spot_instances="True", max_runtime_per_job=7200, max_wait_time_spot_instances=3600
    )
    assert "greater than max_runtime_per_job" in errors_of(body)["max_wait_time_spot_instances"]


def test_augmented_manifest_needs_attribute_names_as_json_list():
    body = with_("model_training_builtin", s3_data_type="AugmentedManifestFile")
    assert "attribute_names" in errors_of(body)
    body["attribute_names"] = "source-ref,label"
    assert "JSON list" in errors_of(body)["attribute_names"]
    body["attribute_names"] = '["source-ref", "label"]'
    validate(body, SINGLE)


def test_autopilot_problem_type_and_objective_go_together():
    body = with_("model_autopilot_training", job_objective="")
    assert "given together" in errors_of(body)["job_objective"]


def test_derived_names_must_stay_legal():
    # Autopilot job names are limited to 32 characters by SageMaker.
    body = with_("model_autopilot_training", model_name="a-rather-long-model-name")
    assert "SageMaker allows 32" in errors_of(body)["model_name"]
    body["job_name"] = "short-job"
    validate(body, SINGLE)
    # Baseline job names derive from the endpoint name.
    monitor = with_("byom_model_explainability_monitor", endpoint_name="e" * 50)
    assert (
        "name" in errors_of(monitor)["endpoint_name"] and "SageMaker allows 63" in errors_of(monitor)["endpoint_name"]
    )


def test_stack_names_must_fit_cloudformation():
    body = with_("byom_image_builder", image_tag="t" * 120)
    assert "stack name" in errors_of(body)["image_tag"]


def test_dry_run_must_be_boolean():
    assert errors_of(with_("byom_realtime_builtin", dry_run="yes")) == {"dry_run": "must be true or false"}
    assert validate(with_("byom_realtime_builtin", dry_run=True), SINGLE).dry_run is True


def test_wrong_types_are_named():
    errors = errors_of(with_("byom_realtime_builtin", model_name=12, inference_instance=["ml.m5.large"]))
    assert errors["model_name"] == "must be a string, got int"
    assert "must be a string" in errors["inference_instance"]


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 * ? * * *)",
        "cron(0/15 8-17 ? * MON-FRI *)",
        "cron(30 2 L * ? *)",
        "cron(0 12 15W * ? 2030)",
        "cron(0 6 ? JAN,JUL 2#1 *)",
        "cron(0 0 ? * 6L *)",
        "cron(*/5 * ? * * *)",
    ],
)
def test_cron_expressions_sagemaker_accepts_pass(expression):
    values = validate(with_("byom_data_quality_monitor", schedule_expression=expression), SINGLE).values
    assert values["schedule_expression"] == expression


def test_a_real_instance_type_is_not_second_guessed():
    values = validate(with_("byom_realtime_builtin", inference_instance="ml.g6e.12xlarge"), SINGLE).values
    assert values["inference_instance"] == "ml.g6e.12xlarge"


def test_a_registry_request_without_the_registry_says_how_to_use_it():
    body = example("byom_realtime_builtin")
    for key in ("model_framework", "model_framework_version", "model_artifact_location"):
        del body[key]
    body["model_package_name"] = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/3"
    errors = errors_of(body)
    assert "model_artifact_location" in errors
    assert "only when the orchestrator uses the model registry" in errors["model_package_name"]
    assert "--model-registry" in errors["model_package_name"]


def test_a_request_nested_past_the_limit_is_refused_naming_the_body():
    from lambdas.pipeline_orchestration.validation import MAX_NESTING

    nested: object = "x"
    for _ in range(MAX_NESTING + 1):
        nested = {"a": nested}
    with pytest.raises(ValidationFailed) as caught:
        validate_request({**example("byom_realtime_builtin"), "model_name": nested}, SINGLE)
    assert [(e.field, e.message) for e in caught.value.errors] == [
        ("(body)", f"nests objects or lists more than {MAX_NESTING} levels deep")
    ]
