# SPDX-License-Identifier: Apache-2.0
"""The baseline Lambda: the processing job each monitor type asks SageMaker for, and every failure."""

from __future__ import annotations

import json

import pytest
from botocore.stub import Stubber

from lambdas.blueprints import baseline
from lambdas.blueprints.baseline import BaselineSpec
from lambdas.blueprints.custom_resource import JobFailed
from lambdas.shared.aws import client

from .conftest import ASSETS, OUTPUT_BUCKET, sagemaker_backend

MONITOR_IMAGE = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
CLARIFY_IMAGE = "205585389593.dkr.ecr.us-east-1.amazonaws.com/sagemaker-clarify-processing:1.0"
ROLE = "arn:aws:iam::123456789012:role/monitor"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
JOB = "churn-endpoint-modelquality-1a2b"
OUTPUT = f"{OUTPUT_BUCKET}/baselines/{JOB}"


def props(monitor_type: str = "DataQuality", **extra: str) -> dict[str, str]:
    clarify = monitor_type in ("ModelBias", "ModelExplainability")
    return {
        "JobKind": "Baseline",
        "MonitorType": monitor_type,
        "JobName": JOB,
        "ImageUri": CLARIFY_IMAGE if clarify else MONITOR_IMAGE,
        "RoleArn": ROLE,
        "AssetsBucket": ASSETS,
        "BaselineData": "monitoring/baseline.csv",
        "OutputLocation": OUTPUT,
        "InstanceType": "ml.m5.large",
        "InstanceVolumeSize": "20",
        "MaxRuntimeSeconds": "",
        "KmsKeyArn": "",
        "StackName": "mlops-pipeline-churn-byommodelqualitymonitor",
        "EndpointName": "churn-endpoint",
        **extra,
    }


def spec(monitor_type: str = "DataQuality", **extra: str) -> BaselineSpec:
    return BaselineSpec.from_properties(props(monitor_type, **extra))


# ---------------------------------------------------------------------------------------------------------
# Data and model quality: the Model Monitor analyzer


def test_data_quality_request_field_by_field():
    request = baseline.processing_request(spec())
    assert request == {
        "ProcessingJobName": JOB,
        "ProcessingInputs": [
            {
                "InputName": "baseline_dataset_input",
                "S3Input": {
                    "S3Uri": f"s3://{ASSETS}/monitoring/baseline.csv",
                    "LocalPath": "/opt/ml/processing/input/baseline_dataset_input",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3CompressionType": "None",
                    "S3DataDistributionType": "FullyReplicated",
                },
            }
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "monitoring_output",
                    "S3Output": {
                        "S3Uri": f"s3://{OUTPUT}",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 20}
        },
        "AppSpecification": {"ImageUri": MONITOR_IMAGE},
        "RoleArn": ROLE,
        "Environment": {
            "dataset_format": '{"csv": {"header": true, "output_columns_position": "START"}}',
            "dataset_source": "/opt/ml/processing/input/baseline_dataset_input",
            "output_path": "/opt/ml/processing/output",
            "publish_cloudwatch_metrics": "Disabled",
        },
        "Tags": [{"Key": "stack_name", "Value": "mlops-pipeline-churn-byommodelqualitymonitor"}],
    }


def test_kms_key_and_runtime_reach_the_volume_the_output_and_the_stopping_condition():
    request = baseline.processing_request(spec(KmsKeyArn=KEY, MaxRuntimeSeconds="3600"))
    assert request["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == KEY
    assert request["ProcessingOutputConfig"]["KmsKeyId"] == KEY
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}


def test_without_kms_or_runtime_no_such_field_is_sent():
    request = baseline.processing_request(spec())
    assert "KmsKeyId" not in request["ProcessingOutputConfig"]
    assert "VolumeKmsKeyId" not in request["ProcessingResources"]["ClusterConfig"]
    assert "StoppingCondition" not in request


QUALITY = {
    "ProblemType": "Regression",
    "InferenceAttribute": "prediction",
    "ProbabilityAttribute": "probability",
    "GroundTruthAttribute": "label",
    "ProbabilityThresholdAttribute": "0.5",
}


@pytest.mark.parametrize(
    ("problem_type", "expected_extra"),
    [
        ("Regression", {"inference_attribute": "prediction"}),
        ("MulticlassClassification", {"inference_attribute": "prediction"}),
        (
            "BinaryClassification",
            {
                "inference_attribute": "prediction",
                "probability_attribute": "probability",
                "probability_threshold_attribute": "0.5",
            },
        ),
    ],
)
def test_model_quality_environment_for_every_problem_type(problem_type, expected_extra):
    env = baseline.analyzer_environment(spec("ModelQuality", **{**QUALITY, "ProblemType": problem_type}))
    assert env == {
        "dataset_format": '{"csv": {"header": true, "output_columns_position": "START"}}',
        "dataset_source": "/opt/ml/processing/input/baseline_dataset_input",
        "output_path": "/opt/ml/processing/output",
        "publish_cloudwatch_metrics": "Disabled",
        "analysis_type": "MODEL_QUALITY",
        "problem_type": problem_type,
        "ground_truth_attribute": "label",
        **expected_extra,
    }


def test_binary_classification_may_use_probability_and_threshold_without_inference():
    env = baseline.analyzer_environment(
        spec("ModelQuality", **{**QUALITY, "ProblemType": "BinaryClassification", "InferenceAttribute": ""})
    )
    assert "inference_attribute" not in env
    assert env["probability_attribute"] == "probability"
    assert env["probability_threshold_attribute"] == "0.5"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"GroundTruthAttribute": ""}, "ground-truth attribute is required"),
        ({"InferenceAttribute": ""}, "Regression needs the baseline inference attribute"),
        ({"ProblemType": "Clustering"}, "is not Regression"),
        (
            {"ProblemType": "BinaryClassification", "InferenceAttribute": "", "ProbabilityThresholdAttribute": ""},
            "BinaryClassification needs",
        ),
    ],
)
def test_model_quality_attributes_missing_fail_with_the_reason(changes, message):
    with pytest.raises(JobFailed, match=message):
        baseline.processing_request(spec("ModelQuality", **{**QUALITY, **changes}))


def test_unknown_monitor_type_fails():
    with pytest.raises(JobFailed, match="MonitorType must be one of"):
        spec("Drift")


def test_start_creates_the_job_in_sagemaker(sent):
    assert baseline.start_baseline(spec("ModelQuality", **QUALITY)) == JOB
    request = sent["CreateProcessingJob"][0]
    assert request == baseline.processing_request(spec("ModelQuality", **QUALITY))
    stored = client("sagemaker").describe_processing_job(ProcessingJobName=JOB)
    assert stored["AppSpecification"]["ImageUri"] == MONITOR_IMAGE
    assert stored["RoleArn"] == ROLE


def test_start_again_with_the_same_name_does_not_create_a_second_job(sent):
    baseline.start_baseline(spec())
    baseline.start_baseline(spec())
    assert len(sent["CreateProcessingJob"]) == 1


def test_sagemaker_refusing_the_job_fails_with_its_message(aws):
    # moto accepts any processing job; the stub stands in for SageMaker refusing one.
    sagemaker = client("sagemaker")
    with Stubber(sagemaker) as stub:
        stub.add_client_error(
            "describe_processing_job", "ValidationException", "Could not find requested job with name " + JOB
        )
        stub.add_client_error("create_processing_job", "ResourceLimitExceeded", "The account-level service limit")
        with pytest.raises(JobFailed, match=f"cannot create baseline job {JOB}: .*account-level service limit"):
            baseline.start_baseline(spec())


# ---------------------------------------------------------------------------------------------------------
# Bias and explainability: Clarify


HEADER = "label,age,income,score\n1,40,1000,0.2\n"
BIAS = {
    "ProblemType": "BinaryClassification",
    "BiasConfig": json.dumps(
        {"label_values_or_threshold": [1], "facet_name": "age", "facet_values_or_threshold": [40], "group_name": "g"}
    ),
    "ModelPredictedLabelConfig": json.dumps({"probability_threshold": 0.6, "label": 0}),
}
SHAP = {
    "ProblemType": "Regression",
    "SHAPConfig": json.dumps(
        {"baseline": "monitoring/shap_baseline.csv", "num_samples": 200, "agg_method": "mean_abs"}
    ),
    "ModelScores": "0",
}


def _endpoint():
    sagemaker = client("sagemaker")
    sagemaker.create_model(
        ModelName="churn-model",
        PrimaryContainer={"Image": MONITOR_IMAGE},
        ExecutionRoleArn=ROLE,
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="churn-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "churn-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName="churn-endpoint", EndpointConfigName="churn-config")


def _read_json(key: str):
    return json.loads(client("s3").get_object(Bucket=OUTPUT_BUCKET, Key=key)["Body"].read())


def test_bias_baseline_writes_both_analysis_configs_and_starts_clarify(sent):
    client("s3").put_object(Bucket=ASSETS, Key="monitoring/baseline.csv", Body=HEADER.encode())
    _endpoint()
    baseline.start_baseline(spec("ModelBias", **BIAS))
    bias = {
        "label_values_or_threshold": [1],
        "facet": [{"name_or_index": "age", "value_or_threshold": [40]}],
        "group_variable": "g",
    }
    assert _read_json(f"baselines/{JOB}/analysis_config.json") == {
        "dataset_type": "text/csv",
        "headers": ["label", "age", "income", "score"],
        "label": "label",
        **bias,
        "methods": {
            "report": {"name": "report", "title": "Analysis Report"},
            "pre_training_bias": {"methods": "all"},
            "post_training_bias": {"methods": "all"},
        },
        "predictor": {
            "model_name": "churn-model",
            "instance_type": "ml.m5.large",
            "initial_instance_count": 1,
            "accept_type": "text/csv",
            "content_type": "text/csv",
            "label": 0,
        },
        "probability_threshold": 0.6,
    }
    assert _read_json(f"baselines/{JOB}/monitor/analysis_config.json") == {
        **bias,
        "headers": ["label", "age", "income", "score"],
        "label": "label",
    }
    request = sent["CreateProcessingJob"][0]
    assert request["AppSpecification"] == {"ImageUri": CLARIFY_IMAGE}
    assert "Environment" not in request
    assert request["ProcessingInputs"] == [
        {
            "InputName": "dataset",
            "S3Input": {
                "S3Uri": f"s3://{ASSETS}/monitoring/baseline.csv",
                "LocalPath": "/opt/ml/processing/input/data",
                "S3DataType": "S3Prefix",
                "S3InputMode": "File",
                "S3CompressionType": "None",
                "S3DataDistributionType": "FullyReplicated",
            },
        },
        {
            "InputName": "analysis_config",
            "S3Input": {
                "S3Uri": f"s3://{OUTPUT}/analysis_config.json",
                "LocalPath": "/opt/ml/processing/input/config",
                "S3DataType": "S3Prefix",
                "S3InputMode": "File",
                "S3CompressionType": "None",
            },
        },
    ]
    assert request["ProcessingOutputConfig"]["Outputs"] == [
        {
            "OutputName": "analysis_result",
            "S3Output": {
                "S3Uri": f"s3://{OUTPUT}",
                "LocalPath": "/opt/ml/processing/output",
                "S3UploadMode": "EndOfJob",
            },
        }
    ]


def test_regression_bias_without_predicted_label_config_adds_nothing_to_the_predictor():
    config, _ = baseline.clarify_analysis_configs(
        spec("ModelBias", **{**BIAS, "ProblemType": "Regression", "ModelPredictedLabelConfig": ""}),
        ["y", "x"],
        "m",
    )
    assert set(config["predictor"]) == {
        "model_name",
        "instance_type",
        "initial_instance_count",
        "accept_type",
        "content_type",
    }
    assert "probability_threshold" not in config


def test_several_facets_get_one_value_each():
    config = json.dumps(
        {"label_values_or_threshold": [1], "facet_name": ["age", "sex"], "facet_values_or_threshold": [[40], [0]]}
    )
    _, monitor = baseline.clarify_analysis_configs(spec("ModelBias", BiasConfig=config), ["y", "age", "sex"], "m")
    assert monitor["facet"] == [
        {"name_or_index": "age", "value_or_threshold": [40]},
        {"name_or_index": "sex", "value_or_threshold": [0]},
    ]


def test_explainability_configs_resolve_the_shap_baseline_and_drop_the_label(sent):
    client("s3").put_object(Bucket=ASSETS, Key="monitoring/baseline.csv", Body=HEADER.encode())
    _endpoint()
    baseline.start_baseline(spec("ModelExplainability", **SHAP))
    shap = {
        "use_logit": False,
        "save_local_shap_values": True,
        "baseline": f"s3://{ASSETS}/monitoring/shap_baseline.csv",
        "num_samples": 200,
        "agg_method": "mean_abs",
    }
    predictor = {
        "model_name": "churn-model",
        "instance_type": "ml.m5.large",
        "initial_instance_count": 1,
        "accept_type": "text/csv",
        "content_type": "text/csv",
        "label": 0,
    }
    assert _read_json(f"baselines/{JOB}/analysis_config.json") == {
        "dataset_type": "text/csv",
        "headers": ["label", "age", "income", "score"],
        "label": "label",
        "predictor": predictor,
        "methods": {"report": {"name": "report", "title": "Analysis Report"}, "shap": shap},
    }
    assert _read_json(f"baselines/{JOB}/monitor/analysis_config.json") == {
        "methods": {"shap": shap},
        "predictor": predictor,
        "headers": ["age", "income", "score"],
    }
    assert sent["CreateProcessingJob"][0]["AppSpecification"]["ImageUri"] == CLARIFY_IMAGE


def test_shap_baseline_rows_and_label_headers_are_kept():
    shap = json.dumps({"baseline": [[40, 1000, 0.2]], "use_logit": True})
    config, monitor = baseline.clarify_analysis_configs(
        spec(
            "ModelExplainability", SHAPConfig=shap, ModelScores=json.dumps({"label": "score", "label_headers": ["a"]})
        ),
        ["y", "x"],
        "m",
    )
    assert config["methods"]["shap"]["baseline"] == [[40, 1000, 0.2]]
    assert config["methods"]["shap"]["use_logit"] is True
    assert monitor["predictor"]["label"] == "score"
    assert monitor["predictor"]["label_headers"] == ["a"]


def test_analysis_configs_are_written_with_the_kms_key(sent):
    client("s3").put_object(Bucket=ASSETS, Key="monitoring/baseline.csv", Body=HEADER.encode())
    _endpoint()
    baseline.start_baseline(spec("ModelExplainability", **SHAP, KmsKeyArn=KEY))
    head = client("s3").head_object(Bucket=OUTPUT_BUCKET, Key=f"baselines/{JOB}/analysis_config.json")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert sent["CreateProcessingJob"][0]["ProcessingOutputConfig"]["KmsKeyId"] == KEY


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"BiasConfig": "{not json"}, "BiasConfig is not valid JSON"),
        ({"BiasConfig": json.dumps({"facet_name": "age"})}, "needs label_values_or_threshold and facet_name"),
        (
            {
                "BiasConfig": json.dumps(
                    {"label_values_or_threshold": [1], "facet_name": ["a", "b"], "facet_values_or_threshold": [1]}
                )
            },
            "one value per facet_name",
        ),
        ({"BiasConfig": json.dumps({"label_values_or_threshold": [1], "facet_name": []})}, "at least one facet"),
        ({"ModelPredictedLabelConfig": json.dumps({"colour": 1})}, "unknown keys: colour"),
    ],
)
def test_bad_bias_configuration_fails_with_the_reason(changes, message):
    with pytest.raises(JobFailed, match=message):
        baseline.clarify_analysis_configs(spec("ModelBias", **{**BIAS, **changes}), ["y", "x"], "m")


@pytest.mark.parametrize(
    ("shap", "message"),
    [
        ({"agg_method": "max"}, "agg_method must be"),
        ({"baseline": "b.csv", "num_clusters": 2}, "baseline or num_clusters"),
    ],
)
def test_bad_shap_configuration_fails_with_the_reason(shap, message):
    with pytest.raises(JobFailed, match=message):
        baseline.clarify_analysis_configs(spec("ModelExplainability", SHAPConfig=json.dumps(shap)), ["y"], "m")


def test_the_label_is_the_first_column_even_with_quotes_and_a_bom(aws):
    client("s3").put_object(Bucket=ASSETS, Key="monitoring/baseline.csv", Body='\ufeff"the label", age\n1,2\n'.encode())
    assert baseline.read_header(spec("ModelBias")) == ["the label", "age"]


def test_missing_baseline_file_fails(aws):
    with pytest.raises(JobFailed, match=r"cannot read baseline data s3://mlops-assets/monitoring/baseline.csv"):
        baseline.read_header(spec("ModelBias"))


def test_empty_baseline_file_fails(aws):
    client("s3").put_object(Bucket=ASSETS, Key="monitoring/baseline.csv", Body=b"")
    with pytest.raises(JobFailed, match="has no header row"):
        baseline.clarify_analysis_configs(spec("ModelBias", **BIAS), baseline.read_header(spec("ModelBias")), "m")


def test_missing_endpoint_fails_before_any_job_starts(sent):
    client("s3").put_object(Bucket=ASSETS, Key="monitoring/baseline.csv", Body=HEADER.encode())
    with pytest.raises(JobFailed, match="cannot find the model of endpoint 'churn-endpoint'"):
        baseline.start_baseline(spec("ModelBias", **BIAS))
    assert "CreateProcessingJob" not in sent


# ---------------------------------------------------------------------------------------------------------
# Waiting for the baseline


def _put_output(*names: str) -> None:
    for name in names:
        client("s3").put_object(Bucket=OUTPUT_BUCKET, Key=f"baselines/{JOB}/{name}", Body=b"{}")


def test_finished_once_completed_with_constraints_and_statistics(aws):
    baseline.start_baseline(spec())
    _put_output("constraints.json", "statistics.json")
    assert baseline.baseline_finished(spec()) is True


def test_completed_without_constraints_fails(aws):
    baseline.start_baseline(spec())
    _put_output("statistics.json")
    with pytest.raises(JobFailed, match=r"completed but wrote no constraints.json"):
        baseline.baseline_finished(spec())


def test_clarify_baseline_needs_its_analysis(aws):
    baseline.start_baseline(spec("ModelQuality", **QUALITY))
    _put_output("constraints.json")
    assert baseline.baseline_finished(spec("ModelQuality", **QUALITY))
    # moto creates the job as it is asked; a Clarify job is judged by analysis.json
    clarify = spec("ModelBias", **BIAS)
    with pytest.raises(JobFailed, match=r"wrote no analysis.json"):
        baseline.baseline_finished(clarify)


@pytest.mark.parametrize("status", ["InProgress", "Stopping"])
def test_not_finished_while_running(aws, status):
    baseline.start_baseline(spec())
    sagemaker_backend().processing_jobs[JOB].processing_job_status = status
    assert baseline.baseline_finished(spec()) is False


@pytest.mark.parametrize("status", ["Failed", "Stopped"])
def test_a_failed_job_fails_with_its_own_reason(aws, status):
    baseline.start_baseline(spec())
    job = sagemaker_backend().processing_jobs[JOB]
    job.processing_job_status = status
    job.failure_reason = "ClientError: baseline.csv has 3 columns in row 2, expected 4"
    with pytest.raises(JobFailed, match=f"{status.lower()}: ClientError: baseline.csv has 3 columns"):
        baseline.baseline_finished(spec())


def test_a_job_that_vanished_fails(aws):
    with pytest.raises(JobFailed, match="does not exist"):
        baseline.baseline_finished(spec())


def test_stop_if_running_stops_only_a_running_job(sent):
    baseline.start_baseline(spec())
    baseline.stop_if_running(JOB)
    assert "StopProcessingJob" not in sent
    sagemaker_backend().processing_jobs[JOB].processing_job_status = "InProgress"
    baseline.stop_if_running(JOB)
    assert sent["StopProcessingJob"] == [{"ProcessingJobName": JOB}]
    baseline.stop_if_running("no-such-job")
