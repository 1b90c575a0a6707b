# SPDX-License-Identifier: Apache-2.0
"""The four monitor and three training blueprints: contract with the catalogue, cfn-lint, cdk-nag and every
option of the templates."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match

from app import stack_id
from infrastructure.distribution import blueprint_lambdas_key
from lambdas.pipeline_orchestration.catalogue import (
    AUTOPILOT,
    DATA_QUALITY,
    MODEL_BIAS,
    MODEL_EXPLAINABILITY,
    MODEL_QUALITY,
    TRAINING,
    TUNER,
)

pytestmark = pytest.mark.synth

MONITORS = {
    DATA_QUALITY.template: "DataQuality",
    MODEL_QUALITY.template: "ModelQuality",
    MODEL_BIAS.template: "ModelBias",
    MODEL_EXPLAINABILITY.template: "ModelExplainability",
}
TRAININGS = (TRAINING.template, TUNER.template, AUTOPILOT.template)
ALL = (*MONITORS, *TRAININGS)


def resources(synthesized, template: str, type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in synthesized.templates[stack_id(template)]["Resources"].items() if v["Type"] == type_}


def one(synthesized, template: str, type_: str) -> dict[str, Any]:
    found = list(resources(synthesized, template, type_).values())
    assert len(found) == 1, f"{len(found)} {type_} in {template}"
    return found[0]


@pytest.mark.parametrize("template", ALL)
def test_lambda_code_comes_from_the_blueprints_bucket(synthesized, template):
    functions = resources(synthesized, template, "AWS::Lambda::Function")
    assert functions
    for function in functions.values():
        assert function["Properties"]["Code"] == {
            "S3Bucket": {"Ref": "BlueprintBucket"},
            "S3Key": blueprint_lambdas_key(),
        }
        assert function["Properties"]["Handler"].startswith("lambdas.blueprints.job_resource.")


# ---------------------------------------------------------------------------------------------------------
# Monitors


@pytest.mark.parametrize(("template", "monitor_type"), MONITORS.items())
def test_every_job_definition_publishes_cloudwatch_metrics(synthesized, template, monitor_type):
    definition = one(synthesized, template, f"AWS::SageMaker::{monitor_type}JobDefinition")["Properties"]
    environment = definition[f"{monitor_type}AppSpecification"]["Environment"]
    assert environment == {"publish_cloudwatch_metrics": "Enabled"}


@pytest.mark.parametrize("template", MONITORS)
def test_violations_alarm_on_the_orchestrators_metric_with_the_requested_threshold(synthesized, template):
    alarm = one(synthesized, template, "AWS::CloudWatch::Alarm")["Properties"]
    assert alarm == {
        "AlarmName": {"Fn::Join": ["", [{"Ref": "AWS::StackName"}, "-violations"]]},
        "AlarmDescription": alarm["AlarmDescription"],
        "Namespace": "MLOps/ModelMonitor",
        "MetricName": "ConstraintViolations",
        "Dimensions": [{"Name": "MonitoringSchedule", "Value": {"Ref": "MonitoringScheduleName"}}],
        "Statistic": "Maximum",
        "Period": 300,
        "EvaluationPeriods": 1,
        "Threshold": {"Ref": "ViolationThreshold"},
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
    }
    assert "AlarmActions" not in alarm  # EventBridge carries its state change to the orchestrator
    parameter = synthesized.templates[stack_id(template)]["Parameters"]["ViolationThreshold"]
    assert parameter["Type"] == "Number" and parameter["MinValue"] == 1 and parameter["Default"] == 1


@pytest.mark.parametrize(("template", "monitor_type"), MONITORS.items())
def test_baseline_waits_then_definition_then_schedule(synthesized, template, monitor_type):
    stack = synthesized.template(stack_id(template))
    baselines = resources(synthesized, template, "Custom::BaselineJob")
    ((baseline_id, baseline),) = baselines.items()
    assert baseline["Properties"]["ServiceTimeout"] == "3600"
    assert baseline["Properties"]["MonitorType"] == monitor_type
    assert baseline["Properties"]["JobName"] == {"Ref": "BaselineJobName"}
    assert baseline["Properties"]["OutputLocation"] == {"Ref": "BaselineJobOutputLocation"}
    definitions = resources(synthesized, template, f"AWS::SageMaker::{monitor_type}JobDefinition")
    ((definition_id, definition),) = definitions.items()
    assert baseline_id in definition["DependsOn"]
    stack.has_resource_properties(
        "AWS::SageMaker::MonitoringSchedule",
        {
            "MonitoringScheduleName": {"Ref": "MonitoringScheduleName"},
            "MonitoringScheduleConfig": {
                "MonitoringJobDefinitionName": {
                    "Fn::Select": [1, {"Fn::Split": ["/", {"Fn::GetAtt": [definition_id, "JobDefinitionArn"]}]}]
                },
                "MonitoringType": monitor_type,
                "ScheduleConfig": {"ScheduleExpression": {"Ref": "ScheduleExpression"}},
            },
        },
    )
    # The waiter loop polls the baseline until it answers CloudFormation.
    machine = one(synthesized, template, "AWS::StepFunctions::StateMachine")
    assert machine["Properties"]["TracingConfiguration"] == {"Enabled": True}
    assert machine["Properties"]["LoggingConfiguration"]["IncludeExecutionData"] is False
    stack.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "lambdas.blueprints.job_resource.on_event",
            "Environment": {"Variables": {"WAITER_STATE_MACHINE_ARN": Match.any_value()}},
        },
    )


@pytest.mark.parametrize(("template", "monitor_type"), MONITORS.items())
def test_job_definition_cluster_output_and_kms(synthesized, template, monitor_type):
    definition = one(synthesized, template, f"AWS::SageMaker::{monitor_type}JobDefinition")["Properties"]
    kms = {"Fn::If": ["KmsKeyProvided", {"Ref": "KmsKeyArn"}, {"Ref": "AWS::NoValue"}]}
    assert definition["JobResources"]["ClusterConfig"] == {
        "InstanceCount": 1,
        "InstanceType": {"Ref": "InstanceType"},
        "VolumeSizeInGB": {"Ref": "InstanceVolumeSize"},
        "VolumeKmsKeyId": kms,
    }
    output = definition[f"{monitor_type}JobOutputConfig"]
    assert output["KmsKeyId"] == kms
    assert output["MonitoringOutputs"][0]["S3Output"]["S3UploadMode"] == "EndOfJob"
    assert definition["StoppingCondition"] == {"MaxRuntimeInSeconds": {"Ref": "MonitorMaxRuntimeSeconds"}}
    endpoint = definition[f"{monitor_type}JobInput"]["EndpointInput"]
    assert endpoint["EndpointName"] == {"Ref": "EndpointName"}
    assert endpoint["LocalPath"] == "/opt/ml/processing/input/endpoint"
    conditions = synthesized.templates[stack_id(template)]["Conditions"]
    assert conditions["KmsKeyProvided"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "KmsKeyArn"}, ""]}]}
    # Every KMS policy exists only with a key, and the baseline waits for them through Refs, not DependsOn.
    kms_policies = [
        k
        for k, v in resources(synthesized, template, "AWS::IAM::Policy").items()
        if v.get("Condition") == "KmsKeyProvided"
    ]
    assert len(kms_policies) == 3
    baseline = one(synthesized, template, "Custom::BaselineJob")
    waits = {item["Fn::If"][1]["Ref"] for item in baseline["Properties"]["WaitsFor"]}
    # ... and for the VPC access policy, which exists only with a VPC (explainability: and its SHAP baseline read).
    shap = {"ShapBaselineRead"} if monitor_type == "ModelExplainability" else set()
    assert {w.rstrip("0123456789ABCDEF") for w in waits} == {
        *(k.rstrip("0123456789ABCDEF") for k in kms_policies),
        "MonitorVpcAccess",
        *shap,
    }


@pytest.mark.parametrize(
    ("template", "files"),
    [
        (DATA_QUALITY.template, {"ConstraintsResource": "constraints.json", "StatisticsResource": "statistics.json"}),
        (MODEL_QUALITY.template, {"ConstraintsResource": "constraints.json"}),
        (MODEL_BIAS.template, {"ConstraintsResource": "analysis.json"}),
        (MODEL_EXPLAINABILITY.template, {"ConstraintsResource": "analysis.json"}),
    ],
)
def test_job_definition_reads_the_baseline_files(synthesized, template, files):
    monitor_type = MONITORS[template]
    definition = one(synthesized, template, f"AWS::SageMaker::{monitor_type}JobDefinition")["Properties"]
    config = definition[f"{monitor_type}BaselineConfig"]
    assert config == {
        key: {"S3Uri": {"Fn::Join": ["", ["s3://", {"Ref": "BaselineJobOutputLocation"}, f"/{name}"]]}}
        for key, name in files.items()
    }


@pytest.mark.parametrize(
    ("template", "attributes"),
    [
        (DATA_QUALITY.template, {}),
        (
            MODEL_QUALITY.template,
            {
                "InferenceAttribute": ("InferenceAttributeProvided", "MonitorInferenceAttribute"),
                "ProbabilityAttribute": ("ProbabilityAttributeProvided", "MonitorProbabilityAttribute"),
                "ProbabilityThresholdAttribute": ("ThresholdProvided", "ProbabilityThresholdAttribute"),
            },
        ),
        (
            MODEL_BIAS.template,
            {
                "FeaturesAttribute": ("FeaturesAttributeProvided", "FeaturesAttribute"),
                "InferenceAttribute": ("InferenceAttributeProvided", "MonitorInferenceAttribute"),
                "ProbabilityAttribute": ("ProbabilityAttributeProvided", "MonitorProbabilityAttribute"),
                "ProbabilityThresholdAttribute": ("ThresholdProvided", "ProbabilityThresholdAttribute"),
            },
        ),
        (
            MODEL_EXPLAINABILITY.template,
            {
                "FeaturesAttribute": ("FeaturesAttributeProvided", "FeaturesAttribute"),
                "InferenceAttribute": ("InferenceAttributeProvided", "MonitorInferenceAttribute"),
                "ProbabilityAttribute": ("ProbabilityAttributeProvided", "MonitorProbabilityAttribute"),
            },
        ),
    ],
)
def test_endpoint_attributes_are_set_only_when_given(synthesized, template, attributes):
    monitor_type = MONITORS[template]
    endpoint = one(synthesized, template, f"AWS::SageMaker::{monitor_type}JobDefinition")["Properties"][
        f"{monitor_type}JobInput"
    ]["EndpointInput"]
    fixed = {"EndpointName", "LocalPath", "S3DataDistributionType", "S3InputMode"}
    assert set(endpoint) - fixed == set(attributes)
    for key, (condition, parameter) in attributes.items():
        assert endpoint[key] == {"Fn::If": [condition, {"Ref": parameter}, {"Ref": "AWS::NoValue"}]}


@pytest.mark.parametrize("template", MONITORS)
def test_ground_truth_only_for_model_quality_and_bias(synthesized, template):
    monitor_type = MONITORS[template]
    job_input = one(synthesized, template, f"AWS::SageMaker::{monitor_type}JobDefinition")["Properties"][
        f"{monitor_type}JobInput"
    ]
    if template in (MODEL_QUALITY.template, MODEL_BIAS.template):
        assert job_input["GroundTruthS3Input"] == {
            "S3Uri": {"Fn::Join": ["", ["s3://", {"Ref": "MonitorGroundTruthInput"}]]}
        }
    else:
        assert "GroundTruthS3Input" not in job_input


@pytest.mark.parametrize("template", MONITORS)
def test_clarify_monitors_read_the_uploaded_analysis_config_and_may_use_shadow_endpoints(synthesized, template):
    monitor_type = MONITORS[template]
    app = one(synthesized, template, f"AWS::SageMaker::{monitor_type}JobDefinition")["Properties"][
        f"{monitor_type}AppSpecification"
    ]
    text = json.dumps(synthesized.templates[stack_id(template)]["Resources"])
    if monitor_type in ("ModelBias", "ModelExplainability"):
        assert app["ConfigUri"] == {
            "Fn::Join": ["", ["s3://", {"Ref": "BaselineJobOutputLocation"}, "/monitor/analysis_config.json"]]
        }
        assert "endpoint/sm-clarify-*" in text
    else:
        assert "ConfigUri" not in app
        assert "sm-clarify" not in text
    if monitor_type == "ModelQuality":
        assert app["ProblemType"] == {"Ref": "ProblemType"}


@pytest.mark.parametrize("template", MONITORS)
def test_starter_may_create_only_its_own_baseline_job(synthesized, template):
    stack = synthesized.template(stack_id(template))
    stack.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": Match.array_with(["sagemaker:CreateProcessingJob"]),
                                "Resource": {
                                    "Fn::Join": [
                                        "",
                                        Match.array_with(
                                            [Match.string_like_regexp("processing-job/"), {"Ref": "BaselineJobName"}]
                                        ),
                                    ]
                                },
                            }
                        ),
                        Match.object_like(
                            {
                                "Action": "iam:PassRole",
                                "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                            }
                        ),
                    ]
                )
            }
        },
    )


# ---------------------------------------------------------------------------------------------------------
# Training


@pytest.mark.parametrize(
    ("template", "kind", "action", "resource"),
    [
        (TRAINING.template, "TrainingJob", "sagemaker:CreateTrainingJob", "training-job/"),
        (
            TUNER.template,
            "HyperparameterTuningJob",
            "sagemaker:CreateHyperParameterTuningJob",
            "hyper-parameter-tuning-job/",
        ),
        (AUTOPILOT.template, "AutopilotJob", "sagemaker:CreateAutoMLJobV2", "automl-job/"),
    ],
)
def test_training_job_resource_carries_every_parameter(synthesized, template, kind, action, resource):
    blueprint = {TRAINING.template: TRAINING, TUNER.template: TUNER, AUTOPILOT.template: AUTOPILOT}[template]
    job = one(synthesized, template, f"Custom::{kind}")
    expected = set(blueprint.parameters) - {"BlueprintBucket", "NotificationsSNSTopicArn"}
    for name in expected:
        assert job["Properties"][name] == {"Ref": name}
    assert job["Properties"]["JobKind"] == kind
    assert job["Properties"]["ServiceTimeout"] == "600"  # started, not waited for
    assert not resources(synthesized, template, "AWS::StepFunctions::StateMachine")
    text = json.dumps(synthesized.templates[stack_id(template)]["Resources"])
    assert f'"{action}"' in text and resource in text


@pytest.mark.parametrize(
    ("template", "detail_type", "name_field"),
    [
        (TRAINING.template, "SageMaker Training Job State Change", "TrainingJobName"),
        (TUNER.template, "SageMaker HyperParameter Tuning Job State Change", "HyperParameterTuningJobName"),
    ],
)
def test_job_outcome_is_sent_to_the_topic_with_name_status_and_reason(synthesized, template, detail_type, name_field):
    rule = one(synthesized, template, "AWS::Events::Rule")["Properties"]
    status_field = name_field.replace("Name", "Status")
    assert rule["EventPattern"] == {
        "source": ["aws.sagemaker"],
        "detail-type": [detail_type],
        "detail": {name_field: [{"Ref": "JobName"}], status_field: ["Completed", "Failed", "Stopped"]},
    }
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Ref": "NotificationsSNSTopicArn"}
    transformer = target["InputTransformer"]
    assert set(transformer["InputPathsMap"].values()) == {
        f"$.detail.{name_field}",
        f"$.detail.{status_field}",
        "$.detail.FailureReason",
    }
    assert "status is:" in transformer["InputTemplate"]


def test_autopilot_reports_its_tuning_and_failed_sub_jobs(synthesized):
    rules = [r["Properties"] for r in resources(synthesized, AUTOPILOT.template, "AWS::Events::Rule").values()]
    patterns = {r["EventPattern"]["detail-type"][0]: r["EventPattern"]["detail"] for r in rules}
    prefix = [{"prefix": {"Fn::Join": ["", [{"Ref": "JobName"}, "-"]]}}]
    assert patterns == {
        "SageMaker HyperParameter Tuning Job State Change": {
            "HyperParameterTuningJobName": prefix,
            "HyperParameterTuningJobStatus": ["Completed", "Failed", "Stopped"],
        },
        "SageMaker Processing Job State Change": {
            "ProcessingJobName": prefix,
            "ProcessingJobStatus": ["Failed", "Stopped"],
        },
        "SageMaker Training Job State Change": {"TrainingJobName": prefix, "TrainingJobStatus": ["Failed", "Stopped"]},
        "SageMaker Transform Job State Change": {
            "TransformJobName": prefix,
            "TransformJobStatus": ["Failed", "Stopped"],
        },
    }


@pytest.mark.parametrize("template", (TRAINING.template, TUNER.template))
def test_validation_data_access_and_output_only_when_given(synthesized, template):
    tpl = synthesized.templates[stack_id(template)]
    assert tpl["Conditions"]["ValidationDataProvided"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "ValidationData"}, ""]}]}
    validation = [
        p for p in resources(synthesized, template, "AWS::IAM::Policy").values() if "ValidationData" in json.dumps(p)
    ]
    assert len(validation) == 1 and validation[0]["Condition"] == "ValidationDataProvided"
    assert tpl["Outputs"]["ValidationDataLocation"]["Condition"] == "ValidationDataProvided"


@pytest.mark.parametrize("template", TRAININGS)
def test_training_role_kms_policy_only_with_a_key(synthesized, template):
    kms = [
        p
        for p in resources(synthesized, template, "AWS::IAM::Policy").values()
        if p.get("Condition") == "KmsKeyProvided"
    ]
    assert len(kms) == 1
    (statement,) = kms[0]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Resource"] == {"Ref": "KmsKeyArn"}
    assert "kms:CreateGrant" in statement["Action"]


@pytest.mark.parametrize(
    ("template", "limit"), [(TRAINING.template, 63), (TUNER.template, 32), (AUTOPILOT.template, 32)]
)
def test_job_name_is_lower_case_within_sagemaker_limits(synthesized, template, limit):
    parameter = synthesized.templates[stack_id(template)]["Parameters"]["JobName"]
    assert parameter["MaxLength"] == limit
    assert parameter["AllowedPattern"] == "^[a-z0-9](-*[a-z0-9])*$"
