# SPDX-License-Identifier: Apache-2.0
"""What the deployment and inference blueprints deploy, with each optional feature on and off.

Templates come from the session's one synthesis; `resolve` applies a plan's parameter values to their
conditions, as CloudFormation would, so each test reads the resources a stack would really have.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from app import stack_id
from lambdas.pipeline_orchestration.catalogue import (
    BATCH,
    IMAGE_BUILDER,
    MULTI_ACCOUNT_PIPELINE,
    REALTIME,
    SINGLE_ACCOUNT_PIPELINE,
)
from lambdas.pipeline_orchestration.planner import plan_pipeline
from lambdas.pipeline_orchestration.status import stackset_name
from lambdas.pipeline_orchestration.validation import validate

from .examples import ACCOUNT, body, settings
from .resolve import PSEUDO, of_type, one, resolve

pytestmark = pytest.mark.synth
OURS = [stack_id(b.template) for b in (REALTIME, BATCH, IMAGE_BUILDER, SINGLE_ACCOUNT_PIPELINE, MULTI_ACCOUNT_PIPELINE)]
KMS = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/abc"


def _realtime(synthesized: Any, registry: bool = False, **extra: Any) -> dict[str, Any]:
    orchestrator = settings(model_registry=registry)
    request = {**body("byom_realtime_builtin", registry), **extra}
    plan = plan_pipeline(validate({k: v for k, v in request.items() if v is not None}, orchestrator), orchestrator)
    return resolve(synthesized.templates[stack_id(REALTIME.template)], plan.stages[0].parameters)


def _variant(resolved: dict[str, Any]) -> dict[str, Any]:
    return one(resolved, "AWS::SageMaker::EndpointConfig")["ProductionVariants"][0]


def _policies(resolved: dict[str, Any]) -> set[str]:
    return {p["Properties"]["PolicyName"] for p in of_type(resolved, "AWS::IAM::Policy").values()}


# ---------------------------------------------------------------------------------------------------------
# Real-time inference


def test_realtime_as_the_predecessor_deployed_it(synthesized):
    resolved = _realtime(synthesized)
    model = one(resolved, "AWS::SageMaker::Model")
    assert model["PrimaryContainer"] == {
        "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
        "ModelDataUrl": "s3://mlops-assets/models/churn/model.tar.gz",
    }
    assert _variant(resolved) == {
        "VariantName": "AllTraffic",
        "ModelName": {"Fn::GetAtt": ["Model", "ModelName"]},
        "InitialVariantWeight": 1,
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    config = one(resolved, "AWS::SageMaker::EndpointConfig")
    assert config["DataCaptureConfig"] == {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": "s3://my-assets-bucket/datacapture/churn",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
    }
    assert "KmsKeyId" not in config and "AsyncInferenceConfig" not in config
    endpoint = one(resolved, "AWS::SageMaker::Endpoint")
    assert endpoint["EndpointName"] == "churn-xgb-endpoint" and "DeploymentConfig" not in endpoint
    for absent in ("AWS::ApplicationAutoScaling::ScalableTarget", "AWS::CloudWatch::Alarm"):
        assert of_type(resolved, absent) == {}
    assert {"DataCaptureWrite"} <= _policies(resolved)
    assert not {"EncryptionKey", "ModelRegistryRead", "AsyncInferenceReadWrite"} & _policies(resolved)


def test_inference_api_is_an_iam_authorized_post_to_the_lambda(synthesized):
    resolved = _realtime(synthesized)
    method = one(resolved, "AWS::ApiGateway::Method")
    assert method["HttpMethod"] == "POST" and method["AuthorizationType"] == "AWS_IAM"
    assert one(resolved, "AWS::ApiGateway::Resource")["PathPart"] == "inference"
    assert method["Integration"]["Type"] == "AWS_PROXY"
    function = one(resolved, "AWS::Lambda::Function")
    assert function["Handler"] == "lambdas.blueprints.inference.handler"
    assert function["Environment"]["Variables"]["SAGEMAKER_ENDPOINT_NAME"] == {
        "Fn::GetAtt": ["Endpoint", "EndpointName"]
    }
    assert function["Environment"]["Variables"]["ASYNC_INPUT_LOCATION"] == ""
    assert "InferenceApiUrl" in resolved["Outputs"]


def test_without_endpoint_name_cloudformation_names_the_endpoint(synthesized):
    resolved = _realtime(synthesized, endpoint_name=None)
    assert "EndpointName" not in one(resolved, "AWS::SageMaker::Endpoint")


def test_kms_key_encrypts_volume_and_captured_data(synthesized):
    resolved = _realtime(synthesized, kms_key_arn=KMS)
    config = one(resolved, "AWS::SageMaker::EndpointConfig")
    assert config["KmsKeyId"] == KMS and config["DataCaptureConfig"]["KmsKeyId"] == KMS
    assert "EncryptionKey" in _policies(resolved)


def test_registry_model_comes_from_the_package(synthesized):
    resolved = _realtime(synthesized, registry=True)
    assert one(resolved, "AWS::SageMaker::Model")["PrimaryContainer"] == {
        "ModelPackageName": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/churn-models/3"
    }
    assert "ModelRegistryRead" in _policies(resolved)


def test_autoscaling_tracks_invocations_per_instance(synthesized):
    resolved = _realtime(synthesized, autoscaling_min_instances=2, autoscaling_max_instances=6)
    target = one(resolved, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert (target["MinCapacity"], target["MaxCapacity"]) == ("2", "6")
    assert target["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert target["ResourceId"] == {
        "Fn::Join": ["", ["endpoint/", {"Fn::GetAtt": ["Endpoint", "EndpointName"]}, "/variant/AllTraffic"]]
    }
    policy = one(resolved, "AWS::ApplicationAutoScaling::ScalingPolicy")["TargetTrackingScalingPolicyConfiguration"]
    assert policy["TargetValue"] == "70"
    assert policy["PredefinedMetricSpecification"] == {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}
    assert _variant(resolved)["InitialInstanceCount"] == "2"


@pytest.mark.parametrize(
    "strategy, step", [("CANARY", "CanarySize"), ("LINEAR", "LinearStepSize"), ("ALL_AT_ONCE", None)]
)
def test_safe_deployment_shifts_traffic_and_rolls_back_on_the_alarm(synthesized, strategy, step):
    extra = {"traffic_shift_percent": 25} if step else {}
    resolved = _realtime(synthesized, deployment_strategy=strategy, traffic_shift_wait_seconds=120, **extra)
    config = one(resolved, "AWS::SageMaker::Endpoint")["DeploymentConfig"]
    routing = config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["Type"] == strategy and routing["WaitIntervalInSeconds"] == "120"
    assert {k for k in routing if k.endswith("Size")} == ({step} if step else set())
    if step:
        assert routing[step] == {"Type": "CAPACITY_PERCENT", "Value": "25"}
    assert config["AutoRollbackConfiguration"] == {"Alarms": [{"AlarmName": {"Ref": "RollbackAlarm"}}]}
    alarm = one(resolved, "AWS::CloudWatch::Alarm")
    assert alarm["MetricName"] == "Invocation5XXErrors"
    assert {"Name": "EndpointName", "Value": "churn-xgb-endpoint"} in alarm["Dimensions"]


def test_serverless_has_no_instances_and_no_data_capture(synthesized):
    resolved = _realtime(
        synthesized, serverless_memory_size="3072", inference_instance=None, data_capture_location=None, kms_key_arn=KMS
    )
    variant = _variant(resolved)
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 3072, "MaxConcurrency": "20"}
    assert "InstanceType" not in variant and "InitialInstanceCount" not in variant
    config = one(resolved, "AWS::SageMaker::EndpointConfig")
    assert "DataCaptureConfig" not in config and "KmsKeyId" not in config
    assert "DataCaptureWrite" not in _policies(resolved)


def test_async_inference_writes_results_and_notifies(synthesized):
    resolved = _realtime(
        synthesized,
        async_output_location="my-assets-bucket/async",
        async_success_topic_arn=f"arn:aws:sns:us-east-1:{ACCOUNT}:ok",
        kms_key_arn=KMS,
    )
    output = one(resolved, "AWS::SageMaker::EndpointConfig")["AsyncInferenceConfig"]["OutputConfig"]
    assert output == {
        "S3OutputPath": "s3://my-assets-bucket/async",
        "KmsKeyId": KMS,
        "NotificationConfig": {"SuccessTopic": f"arn:aws:sns:us-east-1:{ACCOUNT}:ok"},
    }
    function = one(resolved, "AWS::Lambda::Function")
    assert function["Environment"]["Variables"]["ASYNC_INPUT_LOCATION"] == "my-assets-bucket/async/requests"
    policies = _policies(resolved)
    assert {"AsyncInferenceReadWrite", "AsyncRequestStaging", "AsyncSuccessNotify"} <= policies
    assert "AsyncErrorNotify" not in policies
    assert resolved["Outputs"]["AsyncInferenceOutputLocation"] == "s3://my-assets-bucket/async"


def test_deployment_strategy_without_endpoint_name_is_refused_by_the_template(synthesized):
    rule = synthesized.templates[stack_id(REALTIME.template)]["Rules"]["SafeDeploymentNeedsEndpointName"]
    assert rule["Assertions"][0]["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "EndpointName"}, ""]}]}


# ---------------------------------------------------------------------------------------------------------
# Batch


@pytest.mark.parametrize("kms", ["", KMS])
def test_batch_starts_its_job_through_the_custom_resource(synthesized, kms):
    orchestrator = settings()
    request = {**body("byom_batch_builtin"), **({"kms_key_arn": kms} if kms else {})}
    plan = plan_pipeline(validate(request, orchestrator), orchestrator)
    resolved = resolve(synthesized.templates[stack_id(BATCH.template)], plan.stages[0].parameters)
    job = one(resolved, "Custom::BatchTransform")
    assert {k: v for k, v in job.items() if k not in ("ServiceToken", "FunctionName", "ModelName")} == {
        "JobPrefix": "churn-xgb",
        "InstanceType": "ml.m5.large",
        "InputLocation": "my-assets-bucket/batch/input/customers.csv",
        "OutputLocation": "my-assets-bucket/batch/output",
        "KmsKeyArn": kms,
    }
    assert job["ModelName"] == {"Fn::GetAtt": ["Model", "ModelName"]}
    handlers = {f["Properties"]["Handler"] for f in of_type(resolved, "AWS::Lambda::Function").values()}
    assert handlers == {"lambdas.blueprints.batch_transform.handler", "lambdas.blueprints.invoke_on_deploy.handler"}
    assert ("EncryptionKey" in _policies(resolved)) == bool(kms)
    assert resolved["Outputs"]["BatchTransformJobName"] == {"Fn::GetAtt": ["BatchTransformJob", "JobName"]}
    assert resolved["Outputs"]["BatchTransformOutputLocation"] == "s3://my-assets-bucket/batch/output"


# ---------------------------------------------------------------------------------------------------------
# Wrapper pipelines and the image builder


def _wrapper(synthesized: Any, multi: bool, **settings_extra: Any) -> tuple[dict[str, Any], Any]:
    orchestrator = settings(multi_account=multi)
    if settings_extra:
        from dataclasses import replace

        orchestrator = replace(orchestrator, **settings_extra)
    plan = plan_pipeline(validate(body("byom_realtime_builtin"), orchestrator), orchestrator)
    return resolve(synthesized.templates[stack_id(plan.stack_template)], plan.stack_parameters), plan


def _stages(resolved: dict[str, Any]) -> list[dict[str, Any]]:
    return one(resolved, "AWS::CodePipeline::Pipeline")["Stages"]


def test_single_account_pipeline_deploys_the_blueprint_stack_from_template_zip(synthesized):
    resolved, plan = _wrapper(synthesized, multi=False)
    source, deploy = _stages(resolved)
    assert source["Actions"][0]["Configuration"] == {
        "S3Bucket": "mlops-assets",
        "S3ObjectKey": plan.artifact_key,
        "PollForSourceChanges": False,
    }
    verify, action = deploy["Actions"]
    assert (verify["ActionTypeId"]["Provider"], verify["RunOrder"], action["RunOrder"]) == ("Lambda", 1, 2)
    assert action["ActionTypeId"]["Provider"] == "CloudFormation"
    configuration = action["Configuration"]
    assert configuration["ActionMode"] == "CREATE_UPDATE"
    assert configuration["StackName"] == plan.pipeline_name
    assert configuration["TemplatePath"] == "Artifact_Source_S3Source::byom_realtime_inference_pipeline.yaml"
    assert configuration["TemplateConfiguration"] == "Artifact_Source_S3Source::template_params.json"
    assert "CAPABILITY_NAMED_IAM" in configuration["Capabilities"]
    deploy_role = resolved["Resources"][configuration["RoleArn"]["Fn::GetAtt"][0]]["Properties"]
    assert deploy_role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "cloudformation.amazonaws.com"
    }
    assert "ManagedPolicyArns" not in deploy_role


def test_single_account_pipeline_verifies_the_artifact_before_deploy_stack(synthesized):
    resolved, plan = _wrapper(synthesized, multi=False)
    _, deploy = _stages(resolved)
    verify = deploy["Actions"][0]
    assert (verify["Name"], verify["InputArtifacts"]) == ("verify_artifact", [{"Name": "Artifact_Source_S3Source"}])
    # Checked against the template.zip the orchestrator wrote, whose version the source stage pins.
    assert json.loads(verify["Configuration"]["UserParameters"]) == {
        "artifact": "Artifact_Source_S3Source",
        "source_bucket": settings().assets_bucket,
        "source_key": plan.artifact_key,
    }
    functions = of_type(resolved, "AWS::Lambda::Function")
    function = functions[verify["Configuration"]["FunctionName"]["Ref"]]["Properties"]
    assert function["Handler"] == "lambdas.blueprints.artifact_verifier.handler"
    assert function["Code"]["S3Bucket"] == settings().blueprint_bucket
    # Its role reads the versions of template.zip and reports the job; it writes nothing, and is not one of the
    # artifact writers.
    role_id = function["Role"]["Fn::GetAtt"][0]
    role = resolved["Resources"][role_id]["Properties"]
    assert role.get("Path") is None
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    statements += [
        s
        for policy in of_type(resolved, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    granted = {
        (action, json.dumps(s["Resource"]))
        for s in statements
        for action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        if not action.startswith("logs:")
    }
    assert granted == {
        ("s3:GetObjectVersion", json.dumps(f"arn:aws:s3:::{settings().assets_bucket}/{plan.artifact_key}")),
        ("codepipeline:PutJobSuccessResult", '"*"'),
        ("codepipeline:PutJobFailureResult", '"*"'),
    }


@pytest.mark.parametrize("multi", [False, True])
def test_source_object_changes_start_the_pipeline_and_outcomes_reach_sns(synthesized, multi):
    resolved, plan = _wrapper(synthesized, multi=multi)
    rules = [r["Properties"] for r in of_type(resolved, "AWS::Events::Rule").values()]
    trigger = next(r for r in rules if r["EventPattern"]["source"] == ["aws.s3"])
    assert trigger["EventPattern"]["detail"] == {
        "bucket": {"name": ["mlops-assets"]},
        "object": {"key": [plan.artifact_key]},
    }
    outcome = next(r for r in rules if r["EventPattern"]["source"] == ["aws.codepipeline"])
    assert outcome["EventPattern"]["detail"]["state"] == ["SUCCEEDED", "FAILED"]
    assert outcome["Targets"][0]["Arn"] == settings().sns_topic_arn


def test_multi_account_pipeline_deploys_dev_then_staging_then_prod_with_approvals(synthesized):
    resolved, plan = _wrapper(synthesized, multi=True)
    stages = _stages(resolved)
    assert [s["Name"] for s in stages] == ["Source", "DeployDev", "DeployStaging", "DeployProd"]
    assert [[(a["Name"], a["RunOrder"]) for a in s["Actions"]] for s in stages[1:]] == [
        [("DeployDevStackSet", 1), ("DeployStaging", 2)],
        [("DeployStagingStackSet", 1), ("DeployProd", 2)],
        [("DeployProdStackSet", 1)],
    ]
    approval = stages[1]["Actions"][1]
    assert approval["ActionTypeId"]["Category"] == "Approval"
    assert approval["Configuration"]["NotificationArn"] == settings().sns_topic_arn
    assert approval["Configuration"]["CustomData"] == "Please approve to deploy to staging account"
    for stage, targets in zip(stages[1:], plan.stages, strict=True):
        parameters = json.loads(stage["Actions"][0]["Configuration"]["UserParameters"])
        assert parameters == {
            # The same StackSet name the orchestrator's status reads.
            "stackset_name": stackset_name(plan.pipeline_name, targets.stage, PSEUDO["AWS::StackId"]),
            "artifact": "Artifact_Source_S3Source",
            "template_file": "byom_realtime_inference_pipeline.yaml",
            "stage_params_file": f"{targets.stage}_template_params.json",
            "account_ids": [targets.account_id],
            "org_ids": [targets.org_unit_id],
            "regions": ["us-east-1"],
            "template_url": "https://mlops-blueprints.s3.us-east-1.amazonaws.com/blueprints/"
            "byom_realtime_inference_pipeline.yaml",
            # The template.zip whose recorded SHA-256 the deployer compares with the artifact it deploys.
            "source_bucket": "mlops-assets",
            "source_key": plan.artifact_key,
        }


@pytest.mark.parametrize("delegated, call_as", [(True, "DELEGATED_ADMIN"), (False, "SELF")])
def test_stackset_deployer_acts_as_delegated_admin_when_configured(synthesized, delegated, call_as):
    resolved, _ = _wrapper(synthesized, multi=True, delegated_admin=delegated)
    function = one(resolved, "AWS::Lambda::Function")
    assert function["Handler"] == "lambdas.blueprints.stackset_deployer.handler"
    assert function["Environment"]["Variables"]["CALL_AS"] == call_as
    text = json.dumps(resolved["Resources"])
    account = "*" if delegated else ACCOUNT
    assert f"arn:aws:cloudformation:us-east-1:{account}:stackset/mlops-pipeline*" in text


def test_image_builder_builds_and_pushes_the_requested_tag(synthesized):
    orchestrator = settings()
    plan = plan_pipeline(validate(body("byom_image_builder"), orchestrator), orchestrator)
    resolved = resolve(synthesized.templates[stack_id(IMAGE_BUILDER.template)], plan.stack_parameters)
    project = one(resolved, "AWS::CodeBuild::Project")
    assert project["Environment"]["PrivilegedMode"] is True
    variables = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
    assert variables["IMAGE_URI"] == f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/mlops-custom-algorithms:sklearn-v4"
    spec = json.loads(project["Source"]["BuildSpec"])
    assert spec["phases"]["post_build"]["commands"] == ["docker push $IMAGE_URI"]
    source, build = _stages(resolved)
    assert source["Actions"][0]["Configuration"]["S3ObjectKey"] == "containers/sklearn_serving.zip"
    assert build["Actions"][0]["ActionTypeId"]["Provider"] == "CodeBuild"
    assert resolved["Outputs"]["CustomAlgorithmImageURI"] == variables["IMAGE_URI"]
    push = json.dumps(resolved["Resources"])
    assert f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/mlops-custom-algorithms" in push
