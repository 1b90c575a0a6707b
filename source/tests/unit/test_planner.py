# SPDX-License-Identifier: Apache-2.0
"""The plan: stack names as the predecessor built them, and blueprint parameters per deployment."""

from __future__ import annotations

import json

import pytest

from lambdas.pipeline_orchestration.catalogue import CATALOGUE, MULTI_ACCOUNT_PIPELINE, SINGLE_ACCOUNT_PIPELINE
from lambdas.pipeline_orchestration.planner import plan_pipeline, template_url
from lambdas.pipeline_orchestration.validation import validate
from lambdas.shared.errors import ValidationFailed
from tests.unit.conftest import example, make_settings

SINGLE = make_settings()
MULTI = make_settings(multi_account=True)

STACK_NAMES = {
    "byom_realtime_builtin": "mlops-pipeline-churn-xgb-byompipelinerealtimebuiltin-codepipeline",
    "byom_realtime_custom": "mlops-pipeline-fraud-sklearn-byompipelinerealtimecustom-codepipeline",
    "byom_batch_builtin": "mlops-pipeline-churn-xgb-byompipelinebatchbuiltin-codepipeline",
    "byom_batch_custom": "mlops-pipeline-fraud-sklearn-byompipelinebatchcustom-codepipeline",
    "byom_data_quality_monitor": "mlops-pipeline-churn-xgb-byomdataqualitymonitor-codepipeline",
    "byom_model_quality_monitor": "mlops-pipeline-churn-xgb-byommodelqualitymonitor-codepipeline",
    "byom_model_bias_monitor": "mlops-pipeline-credit-xgb-byommodelbiasmonitor-codepipeline",
    "byom_model_explainability_monitor": "mlops-pipeline-credit-xgb-byommodelexplainabilitymonitor-codepipeline",
    "byom_image_builder": "mlops-pipeline-sklearn-v4-byompipelineimagebuilder",
    "model_training_builtin": "mlops-pipeline-churn-xgb-modeltraining-codepipeline",
    "model_tuner_builtin": "mlops-pipeline-churn-xgb-tunertraining-codepipeline",
    "model_autopilot_training": "mlops-pipeline-churn-auto-autopilottraining-codepipeline",
}


def plan(pipeline_type, settings=SINGLE, **changes):
    body = example(pipeline_type)
    body.update(changes)
    return plan_pipeline(validate(body, settings), settings)


def test_the_catalogue_holds_the_twelve_pipeline_types():
    assert sorted(CATALOGUE) == sorted(STACK_NAMES)


@pytest.mark.parametrize("pipeline_type", sorted(STACK_NAMES))
def test_stack_names_are_the_predecessors(pipeline_type):
    assert plan(pipeline_type).stack_name == STACK_NAMES[pipeline_type]


@pytest.mark.parametrize("pipeline_type", sorted(CATALOGUE))
@pytest.mark.parametrize(
    "settings", [SINGLE, MULTI, make_settings(model_registry=True)], ids=["single", "multi", "registry"]
)
def test_parameters_are_exactly_those_the_blueprint_declares(pipeline_type, settings):
    body = example(pipeline_type)
    if settings.model_registry and "model_artifact_location" in body:
        body["model_package_name"] = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/3"
    result = plan_pipeline(validate(body, settings), settings)
    declared = set(CATALOGUE[pipeline_type].blueprint.parameters)
    for stage in result.stages:
        assert set(stage.parameters) == declared
        assert all(isinstance(v, str) for v in stage.parameters.values())
    if not result.direct:
        wrapper = MULTI_ACCOUNT_PIPELINE if result.multi_account else SINGLE_ACCOUNT_PIPELINE
        assert set(result.stack_parameters) == set(wrapper.parameters)


def test_single_account_plan_for_a_realtime_endpoint():
    result = plan("byom_realtime_builtin")
    assert result.template == "byom_realtime_inference_pipeline.yaml"
    assert result.stack_template == "single_account_codepipeline.yaml"
    assert (
        result.artifact_key
        == "mlops_provisioned_pipelines/mlops-pipeline-churn-xgb-byompipelinerealtimebuiltin/template.zip"
    )
    (stage,) = result.stages
    assert stage.parameters["ImageUri"] == "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    assert stage.parameters["ModelArtifactLocation"] == "models/churn/model.tar.gz"
    assert stage.parameters["EndpointName"] == "churn-xgb-endpoint"
    assert stage.params_file == "template_params.json"
    assert json.loads(stage.params_file_content()) == {"Parameters": stage.parameters}
    assert result.stack_parameters["StackName"] == "mlops-pipeline-churn-xgb-byompipelinerealtimebuiltin"
    assert result.stack_parameters["TemplateParamsName"] == "template_params.json"


def test_multi_account_plan_has_one_parameter_set_per_stage():
    result = plan(
        "byom_realtime_builtin",
        MULTI,
        inference_instance={"dev": "ml.t2.medium", "staging": "ml.m5.large", "prod": "ml.m5.xlarge"},
    )
    assert result.stack_template == "multi_account_codepipeline.yaml"
    assert [s.stage for s in result.stages] == ["dev", "staging", "prod"]
    assert [s.parameters["InferenceInstance"] for s in result.stages] == ["ml.t2.medium", "ml.m5.large", "ml.m5.xlarge"]
    dev = result.stages[0]
    assert dev.params_file == "dev_template_params.json"
    pairs = json.loads(dev.params_file_content())
    assert {"ParameterKey": "InferenceInstance", "ParameterValue": "ml.t2.medium"} in pairs
    assert result.stack_parameters["DevAccountId"] == "111111111110"
    assert result.stack_parameters["ProdOrgId"] == "ou-abcd-prod0000"
    assert result.stack_parameters["DevParamsName"] == "dev_template_params.json"
    assert result.as_dict()["parameters"]["prod"]["InferenceInstance"] == "ml.m5.xlarge"


@pytest.mark.parametrize(
    "pipeline_type", ["model_training_builtin", "model_tuner_builtin", "model_autopilot_training", "byom_image_builder"]
)
def test_training_and_image_builder_deploy_in_the_own_account_in_multi_account_mode(pipeline_type):
    result = plan(pipeline_type, MULTI)
    assert not result.multi_account and len(result.stages) == 1
    assert result.stack_template in ("single_account_codepipeline.yaml", "byom_custom_algorithm_image_builder.yaml")


def test_image_builder_is_a_direct_stack():
    result = plan("byom_image_builder")
    assert result.direct and result.artifact_key == ""
    assert result.stack_parameters == {
        "NotificationsSNSTopicArn": SINGLE.sns_topic_arn,
        "AssetsBucket": SINGLE.assets_bucket,
        # CodePipeline's artifacts: the bucket only the pipelines' own roles write, not the assets bucket.
        "ArtifactBucket": SINGLE.artifact_bucket,
        "CustomImage": "containers/sklearn_serving.zip",
        "ECRRepoName": "mlops-custom-algorithms",
        "ImageTag": "sklearn-v4",
        # What the build may push to, from the settings: never the request's name alone.
        "ImageRepositoryArns": SINGLE.ecr_repo_arn,
        "DockerHubCachePrefix": "",
        "PermissionsBoundaryArn": SINGLE.permissions_boundary_arn,
        # No VPC unless the request or the orchestrator names one.
        "VpcId": "",
        "SubnetIds": "",
        "SecurityGroupIds": "",
    }


def test_registry_mode_derives_the_package_group():
    settings = make_settings(model_registry=True)
    body = example("byom_batch_builtin")
    body["model_package_name"] = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/3"
    (stage,) = plan_pipeline(validate(body, settings), settings).stages
    assert stage.parameters["ModelPackageGroupName"] == "churn-models"
    assert stage.parameters["ImageUri"] == "" and stage.parameters["ModelArtifactLocation"] == ""
    assert stage.parameters["BatchInputBucket"] == "my-assets-bucket"


def test_monitor_names_are_stable_for_the_same_values_and_change_with_the_baseline():
    first, again = plan("byom_data_quality_monitor"), plan("byom_data_quality_monitor")
    assert first.stages[0].names == again.stages[0].names
    names = first.stages[0].names
    assert names["baseline_job_name"].startswith("churn-xgb-endpoint-dataquality-")
    new_schedule = plan("byom_data_quality_monitor", schedule_expression="cron(0 0 ? * * *)").stages[0].names
    assert new_schedule == names  # a schedule change runs no new baseline
    new_data = plan("byom_data_quality_monitor", baseline_data="monitoring/churn/v2.csv").stages[0].names
    assert new_data["baseline_job_name"] != names["baseline_job_name"]
    assert new_data["monitoring_schedule_name"] == names["monitoring_schedule_name"]
    parameters = first.stages[0].parameters
    assert (
        parameters["BaselineJobOutputLocation"] == f"my-assets-bucket/monitoring/baselines/{names['baseline_job_name']}"
    )
    assert parameters["ImageUri"].endswith("/sagemaker-scikit-learn:1.2-1-cpu-py3")  # the open engine by default
    on_model_monitor = plan("byom_data_quality_monitor", monitoring_engine="model_monitor")
    assert on_model_monitor.stages[0].parameters["ImageUri"].endswith("/sagemaker-model-monitor-analyzer")
    assert on_model_monitor.template == "byom_data_quality_monitor.yaml"
    assert first.template == "byom_data_quality_monitor_open.yaml"
    # Another engine is another baseline job: its own name, so neither engine's job stands for the other's.
    assert on_model_monitor.stages[0].names["baseline_job_name"] != names["baseline_job_name"]


def test_an_unknown_monitoring_engine_is_refused_with_the_engines():
    with pytest.raises(ValidationFailed) as refused:
        plan("byom_data_quality_monitor", monitoring_engine="clarify")
    assert {e.field: e.message for e in refused.value.errors} == {
        "monitoring_engine": "must be one of open, model_monitor; got 'clarify'"
    }


def test_clarify_monitors_use_the_clarify_image_and_json_parameters():
    parameters = plan("byom_model_bias_monitor", monitoring_engine="model_monitor").stages[0].parameters
    assert "sagemaker-clarify-processing" in parameters["ImageUri"]
    assert json.loads(parameters["BiasConfig"]) == {
        "facet_name": "age",
        "facet_values_or_threshold": [40],
        "label_values_or_threshold": [1],
    }
    explain = plan("byom_model_explainability_monitor").stages[0].parameters
    assert explain["ExplainabilityModelScores"] == "0"
    assert json.loads(explain["SHAPConfig"])["num_samples"] == 200


def test_training_job_name_defaults_and_custom():
    parameters = plan("model_training_builtin").stages[0].parameters
    assert parameters["JobName"].startswith("churn-xgb-training-")
    assert parameters["ImageUri"].endswith("/sagemaker-xgboost:1.7-1")
    assert json.loads(parameters["AlgoHyperparameteres"])["num_round"] == 200
    assert plan("model_training_builtin", job_name="nightly-1").stages[0].parameters["JobName"] == "nightly-1"


def test_plan_is_pure_and_deterministic():
    assert plan("model_tuner_builtin").as_dict() == plan("model_tuner_builtin").as_dict()


def test_template_url_points_at_the_blueprints_bucket():
    assert (
        template_url(SINGLE, "x.yaml") == "https://mlops-blueprints-test.s3.us-east-1.amazonaws.com/blueprints/x.yaml"
    )
