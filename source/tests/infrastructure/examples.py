# SPDX-License-Identifier: Apache-2.0
"""One request body per pipeline type: the predecessor's documented examples, and the settings to plan them."""

from __future__ import annotations

from typing import Any

from lambdas.pipeline_orchestration.catalogue import NON_REGISTRY_ONLY
from lambdas.pipeline_orchestration.settings import STAGES, Settings, StageTarget

ACCOUNT = "123456789012"
REGION = "us-east-1"
PACKAGE = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/churn-models/3"

EXAMPLES: dict[str, dict[str, Any]] = {
    "byom_realtime_builtin": {
        "model_name": "churn-xgb",
        "model_framework": "xgboost",
        "model_framework_version": "1.7-1",
        "model_artifact_location": "models/churn/model.tar.gz",
        "inference_instance": "ml.m5.large",
        "data_capture_location": "my-assets-bucket/datacapture/churn",
        "endpoint_name": "churn-xgb-endpoint",
        "kms_key_arn": "",
    },
    "byom_realtime_custom": {
        "model_name": "fraud-sklearn",
        "custom_image_uri": "111122223333.dkr.ecr.eu-west-1.amazonaws.com/mlops-custom-algos:sklearn-v4",
        "model_artifact_location": "models/fraud/model.tar.gz",
        "inference_instance": "ml.c5.large",
        "data_capture_location": "my-assets-bucket/datacapture/fraud",
    },
    "byom_batch_builtin": {
        "model_name": "churn-xgb",
        "model_framework": "xgboost",
        "model_framework_version": "1.7-1",
        "model_artifact_location": "models/churn/model.tar.gz",
        "inference_instance": "ml.m5.large",
        "batch_inference_data": "my-assets-bucket/batch/input/customers.csv",
        "batch_job_output_location": "my-assets-bucket/batch/output",
    },
    "byom_batch_custom": {
        "model_name": "fraud-sklearn",
        "custom_image_uri": "111122223333.dkr.ecr.eu-west-1.amazonaws.com/mlops-custom-algos:sklearn-v4",
        "model_artifact_location": "models/fraud/model.tar.gz",
        "inference_instance": "ml.m5.large",
        "batch_inference_data": "input-bucket/fraud/2024-06.csv",
        "batch_job_output_location": "output-bucket/fraud/scored",
        "kms_key_arn": "arn:aws:kms:eu-west-1:111122223333:key/11111111-2222-3333-4444-555555555555",
    },
    "byom_data_quality_monitor": {
        "model_name": "churn-xgb",
        "endpoint_name": "churn-xgb-endpoint",
        "baseline_data": "monitoring/churn/train_with_header.csv",
        "baseline_job_output_location": "my-assets-bucket/monitoring/baselines",
        "data_capture_location": "my-assets-bucket/datacapture/churn",
        "monitoring_output_location": "my-assets-bucket/monitoring/reports",
        "schedule_expression": "cron(0 * ? * * *)",
        "instance_type": "ml.m5.large",
        "instance_volume_size": 20,
        "baseline_max_runtime_seconds": 3600,
        "monitor_max_runtime_seconds": 1800,
    },
    "byom_model_quality_monitor": {
        "model_name": "churn-xgb",
        "endpoint_name": "churn-xgb-endpoint",
        "baseline_data": "monitoring/churn/baseline_with_predictions.csv",
        "baseline_job_output_location": "my-assets-bucket/monitoring/baselines",
        "data_capture_location": "my-assets-bucket/datacapture/churn",
        "monitoring_output_location": "my-assets-bucket/monitoring/reports",
        "schedule_expression": "cron(0 0 ? * * *)",
        "instance_type": "ml.m5.large",
        "instance_volume_size": 20,
        "monitor_max_runtime_seconds": 1800,
        "problem_type": "BinaryClassification",
        "baseline_inference_attribute": "prediction",
        "baseline_probability_attribute": "probability",
        "baseline_ground_truth_attribute": "label",
        "monitor_probability_attribute": "0",
        "probability_threshold_attribute": "0.5",
        "monitor_ground_truth_input": "my-assets-bucket/monitoring/groundtruth/churn",
    },
    "byom_model_bias_monitor": {
        "model_name": "credit-xgb",
        "endpoint_name": "credit-xgb-endpoint",
        "baseline_data": "monitoring/credit/baseline_label_first.csv",
        "baseline_job_output_location": "my-assets-bucket/monitoring/baselines",
        "data_capture_location": "my-assets-bucket/datacapture/credit",
        "monitoring_output_location": "my-assets-bucket/monitoring/reports",
        "schedule_expression": "cron(0 * ? * * *)",
        "instance_type": "ml.m5.large",
        "instance_volume_size": 20,
        "monitor_max_runtime_seconds": 1800,
        "problem_type": "BinaryClassification",
        "monitor_ground_truth_input": "my-assets-bucket/monitoring/groundtruth/credit",
        "model_predicted_label_config": {"probability_threshold": 0.6},
        "bias_config": {"label_values_or_threshold": [1], "facet_name": "age", "facet_values_or_threshold": [40]},
        "features_attribute": "",
    },
    "byom_model_explainability_monitor": {
        "model_name": "credit-xgb",
        "endpoint_name": "credit-xgb-endpoint",
        "baseline_data": "monitoring/credit/baseline_label_first.csv",
        "baseline_job_output_location": "my-assets-bucket/monitoring/baselines",
        "data_capture_location": "my-assets-bucket/datacapture/credit",
        "monitoring_output_location": "my-assets-bucket/monitoring/reports",
        "schedule_expression": "cron(0 * ? * * *)",
        "instance_type": "ml.m5.large",
        "instance_volume_size": 20,
        "monitor_max_runtime_seconds": 3600,
        "problem_type": "Regression",
        "monitor_inference_attribute": "0",
        "shap_config": {
            "baseline": "monitoring/credit/shap_baseline.csv",
            "num_samples": 200,
            "agg_method": "mean_abs",
        },
        "model_scores": 0,
    },
    "byom_image_builder": {
        "custom_algorithm_docker": "containers/sklearn_serving.zip",
        "ecr_repo_name": "mlops-custom-algos",
        "image_tag": "sklearn-v4",
    },
    "model_training_builtin": {
        "model_name": "churn-xgb",
        "training_data": "training/churn/train.csv",
        "validation_data": "training/churn/validation.csv",
        "job_output_location": "training/churn/output",
        "model_framework": "xgboost",
        "model_framework_version": "1.7-1",
        "algo_hyperparamaters": {"objective": "binary:logistic", "num_round": 200, "eval_metric": "auc"},
        "instance_type": "ml.m5.xlarge",
        "instance_count": 1,
        "instance_volume_size": 30,
        "use_spot_instances": "False",
    },
    "model_tuner_builtin": {
        "model_name": "churn-xgb",
        "training_data": "training/churn/train.csv",
        "validation_data": "training/churn/validation.csv",
        "job_output_location": "training/churn/hpo",
        "model_framework": "xgboost",
        "model_framework_version": "1.7-1",
        "algo_hyperparamaters": {"objective": "binary:logistic", "num_round": 200, "eval_metric": "auc"},
        "tuner_configs": {
            "objective_metric_name": "validation:auc",
            "objective_type": "Maximize",
            "strategy": "Bayesian",
            "max_jobs": 12,
            "max_parallel_jobs": 3,
            "early_stopping_type": "Auto",
        },
        "hyperparamaters_ranges": {
            "eta": ["continuous", [0.05, 0.4]],
            "max_depth": ["integer", [3, 10]],
            "booster": ["categorical", ["gbtree", "dart"]],
        },
    },
    "model_autopilot_training": {
        "model_name": "churn-auto",
        "training_data": "training/churn/full.csv",
        "target_attribute": "churned",
        "job_output_location": "training/churn/autopilot",
        "problem_type": "BinaryClassification",
        "job_objective": "F1",
        "job_max_candidates": 5,
        "total_max_runtime": 14400,
    },
}
INFERENCE_TYPES = ("byom_realtime_builtin", "byom_realtime_custom", "byom_batch_builtin", "byom_batch_custom")


def settings(multi_account: bool = False, model_registry: bool = False) -> Settings:
    return Settings(
        region=REGION,
        account_id=ACCOUNT,
        assets_bucket="mlops-assets",
        blueprint_bucket="mlops-blueprints",
        ecr_repo_name="mlops-custom-algos",
        ecr_repo_arn=f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/mlops-custom-algos",
        sns_topic_arn=f"arn:aws:sns:{REGION}:{ACCOUNT}:mlops-notifications",
        multi_account=multi_account,
        model_registry=model_registry,
        stage_targets={
            stage: StageTarget(f"{index + 2}" * 12, f"ou-ab12-{stage}0000000") for index, stage in enumerate(STAGES)
        }
        if multi_account
        else None,
    )


def body(pipeline_type: str, model_registry: bool = False) -> dict[str, Any]:
    """The example request; with the registry the model fields give way to a model package."""
    values = dict(EXAMPLES[pipeline_type])
    if model_registry and pipeline_type in INFERENCE_TYPES:
        values = {k: v for k, v in values.items() if k not in NON_REGISTRY_ONLY}
        values["model_package_name"] = PACKAGE
    return {"pipeline_type": pipeline_type, **values}
