# SPDX-License-Identifier: Apache-2.0
"""Training, tuning and Autopilot job Lambdas: the request each sends to SageMaker, and every failure."""

from __future__ import annotations

import json

import pytest
from botocore.stub import Stubber

from lambdas.blueprints import autopilot, training
from lambdas.blueprints.autopilot import AutopilotSpec
from lambdas.blueprints.custom_resource import JobFailed
from lambdas.blueprints.training import TrainingSpec
from lambdas.shared.aws import client

from .conftest import ASSETS

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/training"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def training_props(**extra: str) -> dict[str, str]:
    return {
        "JobKind": "TrainingJob",
        "JobName": "churn-training-1a2b",
        "ImageUri": IMAGE,
        "RoleArn": ROLE,
        "AssetsBucket": ASSETS,
        "KmsKeyArn": "",
        "JobOutputLocation": "training/churn/output",
        "TrainingData": "training/churn/train.csv",
        "ValidationData": "",
        "InstanceType": "ml.m5.xlarge",
        "JobInstanceCount": "2",
        "InstanceVolumeSize": "30",
        "EncryptInnerTraffic": "True",
        "MaxRuntimePerJob": "86400",
        "UseSpotInstances": "False",
        "MaxWaitTimeForSpotInstances": "172800",
        "ContentType": "csv",
        "S3DataType": "S3Prefix",
        "DataDistribution": "FullyReplicated",
        "CompressionType": "",
        "DataInputMode": "File",
        "DataRecordWrapping": "",
        "AttributeNames": "",
        "AlgoHyperparameteres": json.dumps({"objective": "binary:logistic", "num_round": 200, "eta": 0.2}),
        "StackName": "mlops-pipeline-churn-modeltraining",
        **extra,
    }


def train_spec(**extra: str) -> TrainingSpec:
    return TrainingSpec.from_properties(training_props(**extra))


def test_training_request_field_by_field():
    assert training.training_request(train_spec()) == {
        "TrainingJobName": "churn-training-1a2b",
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "HyperParameters": {"objective": "binary:logistic", "num_round": "200", "eta": "0.2"},
        "RoleArn": ROLE,
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{ASSETS}/training/churn/train.csv",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "CompressionType": "None",
                "RecordWrapperType": "None",
                "InputMode": "File",
                "ContentType": "csv",
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{ASSETS}/training/churn/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "EnableNetworkIsolation": False,
        "EnableInterContainerTrafficEncryption": True,
        "EnableManagedSpotTraining": False,
        "Tags": [{"Key": "stack_name", "Value": "mlops-pipeline-churn-modeltraining"}],
    }


def test_spot_training_waits_and_checkpoints_under_the_job_output():
    request = training.training_request(train_spec(UseSpotInstances="True"))
    assert request["EnableManagedSpotTraining"] is True
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400, "MaxWaitTimeInSeconds": 172800}
    assert request["CheckpointConfig"] == {
        "S3Uri": f"s3://{ASSETS}/training/churn/output/churn-training-1a2b/checkpoint"
    }


def test_spot_wait_not_above_runtime_fails():
    with pytest.raises(JobFailed, match=r"MaxWaitTimeForSpotInstances \(3600\) must exceed MaxRuntimePerJob"):
        training.training_request(train_spec(UseSpotInstances="True", MaxWaitTimeForSpotInstances="3600"))


def test_validation_channel_and_every_data_option():
    request = training.training_request(
        train_spec(
            ValidationData="training/churn/validation.csv",
            S3DataType="AugmentedManifestFile",
            DataDistribution="ShardedByS3Key",
            CompressionType="Gzip",
            DataInputMode="Pipe",
            DataRecordWrapping="RecordIO",
            AttributeNames='["source-ref", "label"]',
            ContentType="application/x-recordio",
            EncryptInnerTraffic="False",
        )
    )
    train, validation = request["InputDataConfig"]
    assert validation["ChannelName"] == "validation"
    assert validation["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{ASSETS}/training/churn/validation.csv"
    for channel in (train, validation):
        assert channel["DataSource"]["S3DataSource"]["S3DataType"] == "AugmentedManifestFile"
        assert channel["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "ShardedByS3Key"
        assert channel["DataSource"]["S3DataSource"]["AttributeNames"] == ["source-ref", "label"]
        assert channel["CompressionType"] == "Gzip"
        assert channel["RecordWrapperType"] == "RecordIO"
        assert channel["InputMode"] == "Pipe"
        assert channel["ContentType"] == "application/x-recordio"
    assert request["AlgorithmSpecification"]["TrainingInputMode"] == "Pipe"
    assert request["EnableInterContainerTrafficEncryption"] is False


def test_kms_key_encrypts_output_and_volumes():
    request = training.training_request(train_spec(KmsKeyArn=KEY))
    assert request["OutputDataConfig"]["KmsKeyId"] == KEY
    assert request["ResourceConfig"]["VolumeKmsKeyId"] == KEY


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"JobInstanceCount": "two"}, "JobInstanceCount must be a whole number"),
        ({"AlgoHyperparameteres": "{oops"}, "AlgoHyperparameteres is not valid JSON"),
        ({"AlgoHyperparameteres": "[1, 2]"}, "AlgoHyperparameteres must be a JSON object"),
        ({"AttributeNames": '{"a": 1}'}, "AttributeNames must be a JSON list of strings"),
    ],
)
def test_bad_training_values_fail_with_the_reason(changes, message):
    with pytest.raises(JobFailed, match=message):
        train_spec(**changes)


def test_start_training_sends_the_request_and_tolerates_a_retry(sent):
    training.start_training(train_spec())
    assert sent["CreateTrainingJob"][0] == training.training_request(train_spec())
    stored = client("sagemaker").describe_training_job(TrainingJobName="churn-training-1a2b")
    assert stored["AlgorithmSpecification"]["TrainingImage"] == IMAGE
    training.start_training(train_spec())  # CloudFormation retried or rolled back: the job exists already


def test_sagemaker_refusing_the_training_job_fails_with_its_message(aws):
    # moto accepts any training job; the stub stands in for SageMaker refusing one.
    with Stubber(client("sagemaker")) as stub:
        stub.add_client_error("create_training_job", "ResourceLimitExceeded", "ml.p4d.24xlarge limit is 0")
        with pytest.raises(JobFailed, match=r"cannot create training job churn-training-1a2b: .*limit is 0"):
            training.start_training(train_spec())


# ---------------------------------------------------------------------------------------------------------
# Tuning


TUNER = {
    "JobKind": "HyperparameterTuningJob",
    "JobName": "churn-tuner-1a2b",
    "HyperparametersTunerConfig": json.dumps(
        {
            "objective_metric_name": "validation:auc",
            "objective_type": "Maximize",
            "strategy": "Bayesian",
            "max_jobs": 12,
            "max_parallel_jobs": 3,
            "early_stopping_type": "Auto",
            "metric_definitions": [{"Name": "validation:auc", "Regex": "auc:([0-9.]+)"}],
        }
    ),
    "AlgoHyperparameteresRange": json.dumps(
        {
            "eta": ["continuous", [0.05, 0.4]],
            "max_depth": ["integer", [3, 10]],
            "booster": ["categorical", ["gbtree", "dart"]],
        }
    ),
}


def test_tuning_request_field_by_field():
    request = training.tuning_request(train_spec(**TUNER))
    assert request["HyperParameterTuningJobName"] == "churn-tuner-1a2b"
    assert request["HyperParameterTuningJobConfig"] == {
        "Strategy": "Bayesian",
        "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:auc"},
        "ResourceLimits": {"MaxParallelTrainingJobs": 3, "MaxNumberOfTrainingJobs": 12},
        "ParameterRanges": {
            "ContinuousParameterRanges": [
                {"Name": "eta", "MinValue": "0.05", "MaxValue": "0.4", "ScalingType": "Auto"}
            ],
            "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "3", "MaxValue": "10", "ScalingType": "Auto"}],
            "CategoricalParameterRanges": [{"Name": "booster", "Values": ["gbtree", "dart"]}],
        },
        "TrainingJobEarlyStoppingType": "Auto",
    }
    definition = request["TrainingJobDefinition"]
    # eta is tuned, so it is not also static
    assert definition["StaticHyperParameters"] == {"objective": "binary:logistic", "num_round": "200"}
    assert definition["AlgorithmSpecification"] == {
        "TrainingImage": IMAGE,
        "TrainingInputMode": "File",
        "MetricDefinitions": [{"Name": "validation:auc", "Regex": "auc:([0-9.]+)"}],
    }
    training_request = training.training_request(train_spec(**TUNER))
    for key in ("RoleArn", "InputDataConfig", "OutputDataConfig", "ResourceConfig", "StoppingCondition"):
        assert definition[key] == training_request[key]


def test_tuner_defaults_are_the_sdk_defaults():
    request = training.tuning_request(
        train_spec(**{**TUNER, "HyperparametersTunerConfig": json.dumps({"objective_metric_name": "validation:rmse"})})
    )
    config = request["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Bayesian"
    assert config["HyperParameterTuningJobObjective"]["Type"] == "Maximize"
    assert config["ResourceLimits"] == {"MaxParallelTrainingJobs": 1, "MaxNumberOfTrainingJobs": 1}
    assert config["TrainingJobEarlyStoppingType"] == "Off"
    assert "MetricDefinitions" not in request["TrainingJobDefinition"]["AlgorithmSpecification"]


def test_grid_search_without_max_jobs_sets_no_job_limit():
    config = json.dumps({"objective_metric_name": "validation:auc", "strategy": "Grid"})
    request = training.tuning_request(train_spec(**{**TUNER, "HyperparametersTunerConfig": config}))
    assert request["HyperParameterTuningJobConfig"]["ResourceLimits"] == {"MaxParallelTrainingJobs": 1}


def test_tuner_with_spot_checkpoints_each_job():
    request = training.tuning_request(train_spec(**TUNER, UseSpotInstances="True"))
    assert request["TrainingJobDefinition"]["EnableManagedSpotTraining"] is True
    assert "CheckpointConfig" in request["TrainingJobDefinition"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"HyperparametersTunerConfig": json.dumps({"strategy": "Random"})}, "needs objective_metric_name"),
        ({"AlgoHyperparameteresRange": "{}"}, "needs at least one range"),
        ({"AlgoHyperparameteresRange": json.dumps({"eta": ["log", [1, 2]]})}, "range of eta must be"),
        ({"AlgoHyperparameteresRange": json.dumps({"eta": ["continuous", [2, 1]]})}, "min <= max"),
        ({"AlgoHyperparameteresRange": json.dumps({"b": ["categorical", []]})}, "has no values"),
    ],
)
def test_bad_tuner_settings_fail_with_the_reason(changes, message):
    with pytest.raises(JobFailed, match=message):
        training.tuning_request(train_spec(**{**TUNER, **changes}))


def test_start_tuning_sends_the_request(sent):
    training.start_tuning(train_spec(**TUNER))
    assert sent["CreateHyperParameterTuningJob"][0] == training.tuning_request(train_spec(**TUNER))
    stored = client("sagemaker").describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="churn-tuner-1a2b")
    assert stored["HyperParameterTuningJobConfig"]["Strategy"] == "Bayesian"


def test_sagemaker_refusing_the_tuning_job_fails_with_its_message(aws):
    with Stubber(client("sagemaker")) as stub:  # moto accepts any tuning job
        stub.add_client_error("create_hyper_parameter_tuning_job", "ValidationException", "metric not emitted")
        with pytest.raises(JobFailed, match=r"cannot create tuning job churn-tuner-1a2b: .*metric not emitted"):
            training.start_tuning(train_spec(**TUNER))


# ---------------------------------------------------------------------------------------------------------
# Autopilot


def autopilot_props(**extra: str) -> dict[str, str]:
    return {
        "JobKind": "AutopilotJob",
        "JobName": "churn-auto-autopilot-1a2b",
        "RoleArn": ROLE,
        "AssetsBucket": ASSETS,
        "KmsKeyArn": "",
        "TrainingData": "training/churn/full.csv",
        "JobOutputLocation": "training/churn/autopilot",
        "TargetAttribute": "churned",
        "ProblemType": "",
        "AutopilotJobObjective": "",
        "CompressionType": "",
        "AutopilotMaxCandidates": "10",
        "EncryptInnerTraffic": "True",
        "MaxRuntimePerJob": "86400",
        "AutopilotTotalRuntime": "2592000",
        "GenerateDefinitionsOnly": "False",
        "StackName": "mlops-pipeline-churn-auto-autopilottraining",
        **extra,
    }


def auto_spec(**extra: str) -> AutopilotSpec:
    return AutopilotSpec.from_properties(autopilot_props(**extra))


def test_autopilot_request_field_by_field_with_inferred_problem_type():
    assert autopilot.automl_request(auto_spec()) == {
        "AutoMLJobName": "churn-auto-autopilot-1a2b",
        "AutoMLJobInputDataConfig": [
            {
                "ChannelType": "training",
                "ContentType": "text/csv;header=present",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{ASSETS}/training/churn/full.csv"}
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{ASSETS}/training/churn/autopilot"},
        "AutoMLProblemTypeConfig": {
            "TabularJobConfig": {
                "TargetAttributeName": "churned",
                "CompletionCriteria": {
                    "MaxCandidates": 10,
                    "MaxRuntimePerTrainingJobInSeconds": 86400,
                    "MaxAutoMLJobRuntimeInSeconds": 2592000,
                },
                "GenerateCandidateDefinitionsOnly": False,
            }
        },
        "RoleArn": ROLE,
        "SecurityConfig": {"EnableInterContainerTrafficEncryption": True},
        "Tags": [{"Key": "stack_name", "Value": "mlops-pipeline-churn-auto-autopilottraining"}],
    }


@pytest.mark.parametrize(
    ("problem_type", "objective"),
    [
        ("Regression", "MSE"),
        ("BinaryClassification", "F1"),
        ("BinaryClassification", "AUC"),
        ("MulticlassClassification", "F1macro"),
    ],
)
def test_autopilot_problem_type_and_objective(problem_type, objective):
    request = autopilot.automl_request(auto_spec(ProblemType=problem_type, AutopilotJobObjective=objective))
    assert request["AutoMLProblemTypeConfig"]["TabularJobConfig"]["ProblemType"] == problem_type
    assert request["AutoMLJobObjective"] == {"MetricName": objective}


def test_autopilot_options_kms_gzip_definitions_only():
    request = autopilot.automl_request(
        auto_spec(KmsKeyArn=KEY, CompressionType="Gzip", GenerateDefinitionsOnly="True", EncryptInnerTraffic="False")
    )
    assert request["OutputDataConfig"]["KmsKeyId"] == KEY
    assert request["SecurityConfig"] == {"EnableInterContainerTrafficEncryption": False, "VolumeKmsKeyId": KEY}
    assert request["AutoMLJobInputDataConfig"][0]["CompressionType"] == "Gzip"
    assert request["AutoMLProblemTypeConfig"]["TabularJobConfig"]["GenerateCandidateDefinitionsOnly"] is True


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ProblemType": "Regression"}, "must be given together"),
        ({"AutopilotJobObjective": "F1"}, "must be given together"),
        ({"ProblemType": "Regression", "AutopilotJobObjective": "AUC"}, "does not fit Regression"),
        ({"AutopilotMaxCandidates": ""}, "AutopilotMaxCandidates must be a whole number"),
    ],
)
def test_bad_autopilot_values_fail_with_the_reason(changes, message):
    with pytest.raises(JobFailed, match=message):
        autopilot.automl_request(auto_spec(**changes))


def test_start_autopilot_sends_the_request(sent):
    autopilot.start_autopilot(auto_spec(ProblemType="BinaryClassification", AutopilotJobObjective="F1"))
    request = sent["CreateAutoMLJobV2"][0]
    assert request == autopilot.automl_request(
        auto_spec(ProblemType="BinaryClassification", AutopilotJobObjective="F1")
    )
    stored = client("sagemaker").describe_auto_ml_job_v2(AutoMLJobName="churn-auto-autopilot-1a2b")
    assert stored["AutoMLJobObjective"] == {"MetricName": "F1"}


def test_sagemaker_refusing_the_autopilot_job_fails_with_its_message(aws):
    with Stubber(client("sagemaker")) as stub:  # moto accepts any AutoML job
        stub.add_client_error("create_auto_ml_job_v2", "ValidationException", "target column churned not found")
        with pytest.raises(JobFailed, match=r"cannot create Autopilot job .*target column churned not found"):
            autopilot.start_autopilot(auto_spec())
