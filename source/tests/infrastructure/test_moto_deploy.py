# SPDX-License-Identifier: Apache-2.0
"""Deploy each inference blueprint, with the parameters the orchestrator plans, into moto's CloudFormation.

moto creates the SageMaker Model, EndpointConfig and Endpoint, the IAM roles and policies, the Lambda
functions, the log groups and the REST API with its resource and method. It skips, with a warning, the
types it does not implement: AWS::ApiGateway::Stage, AWS::ApiGateway::Account, AWS::ApiGateway::Model,
AWS::ApiGateway::RequestValidator, AWS::ApplicationAutoScaling::ScalableTarget and ::ScalingPolicy,
AWS::CloudWatch::Alarm and AWS::CloudFormation::WaitConditionHandle. moto does not run Lambda code, so the
batch blueprint's custom resource is answered by running our own handlers in-process (what CloudFormation
and Lambda would do), which really starts the transform job in moto's SageMaker.
"""

from __future__ import annotations

import importlib
import io
import json
import time
import zipfile
from typing import Any

import boto3
import pytest

from app import stack_id
from infrastructure.distribution import blueprint_lambdas_key
from lambdas.pipeline_orchestration.planner import plan_pipeline
from lambdas.pipeline_orchestration.validation import validate
from lambdas.shared.aws import reset_clients

from .examples import ACCOUNT, INFERENCE_TYPES, REGION, body, settings

REALTIME_OPTIONS = {
    "autoscaling": {"autoscaling_max_instances": 4, "autoscaling_min_instances": 2},
    "safe deployment": {"deployment_strategy": "CANARY", "traffic_shift_percent": 20},
    "async": {
        "async_output_location": "my-assets-bucket/async",
        "async_success_topic_arn": f"arn:aws:sns:{REGION}:{ACCOUNT}:ok",
        "async_error_topic_arn": f"arn:aws:sns:{REGION}:{ACCOUNT}:failed",
        "kms_key_arn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/abc",
    },
    "serverless": {"serverless_memory_size": 2048, "inference_instance": "", "data_capture_location": ""},
}


@pytest.fixture
def moto_cloud(monkeypatch: pytest.MonkeyPatch):
    from moto import mock_aws

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    reset_clients()
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in ("mlops-assets", "mlops-blueprints"):
            s3.create_bucket(Bucket=bucket)
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("lambdas/__init__.py", "")
        s3.put_object(Bucket="mlops-blueprints", Key=blueprint_lambdas_key(), Body=code.getvalue())
        yield boto3.client("cloudformation", region_name=REGION)
    reset_clients()


@pytest.fixture
def lambdas_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run invoked functions' own handlers in this process, and answer CloudFormation like the service."""
    from moto.awslambda.models import LambdaFunction
    from moto.cloudformation.models import cloudformation_backends

    from lambdas.blueprints import invoke_on_deploy

    def invoke(self: Any, body: str, request_headers: Any, response_headers: Any) -> str:
        module, name = self.handler.rsplit(".", 1)
        result = getattr(importlib.import_module(module), name)(json.loads(body) if body else {}, None)
        return json.dumps(result if result is not None else {})

    def respond(event: dict[str, Any], status: str, physical_id: str, reason: str = "", data: Any = None) -> None:
        assert status == "SUCCESS", reason
        stack = cloudformation_backends[ACCOUNT][REGION].get_stack(event["StackId"])
        stack.get_custom_resource(event["LogicalResourceId"]).set_data(data or {})
        stack.verify_readiness()

    monkeypatch.setattr(LambdaFunction, "invoke", invoke)
    monkeypatch.setattr(invoke_on_deploy, "respond", respond)


def _deploy(cfn: Any, template: dict[str, Any], parameters: dict[str, str], name: str) -> dict[str, Any]:
    cfn.create_stack(
        StackName=name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    from moto.cloudformation.models import cloudformation_backends

    # Wait on moto's own record: describing the stack while in progress would fix its outputs too early.
    for _ in range(200):
        if not cloudformation_backends[ACCOUNT][REGION].get_stack(name).status.endswith("IN_PROGRESS"):
            break
        time.sleep(0.05)
    return cfn.describe_stacks(StackName=name)["Stacks"][0]


def _plan(pipeline_type: str, registry: bool, extra: dict[str, Any] | None = None) -> tuple[str, dict[str, str], str]:
    orchestrator = settings(model_registry=registry)
    request = {**body(pipeline_type, registry), **(extra or {})}
    request = {k: v for k, v in request.items() if v != ""}
    plan = plan_pipeline(validate(request, orchestrator), orchestrator)
    return plan.template, plan.stages[0].parameters, plan.pipeline_name


def _outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


@pytest.mark.synth
@pytest.mark.filterwarnings("ignore:Tried to parse")
@pytest.mark.parametrize("pipeline_type", [t for t in INFERENCE_TYPES if "realtime" in t])
@pytest.mark.parametrize("registry", [False, True])
def test_realtime_blueprint_deploys(synthesized, moto_cloud, pipeline_type, registry):
    template, parameters, name = _plan(pipeline_type, registry)
    stack = _deploy(moto_cloud, synthesized.templates[stack_id(template)], parameters, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    outputs = _outputs(stack)
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    endpoint = sagemaker.describe_endpoint(EndpointName=outputs["SageMakerEndpointName"])
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    assert config["ProductionVariants"][0]["InstanceType"] == parameters["InferenceInstance"]
    assert config["DataCaptureConfig"]["DestinationS3Uri"] == f"s3://{parameters['DataCaptureLocation']}"
    model = sagemaker.describe_model(ModelName=outputs["SageMakerModelName"])
    if registry:
        assert model["PrimaryContainer"]["ModelPackageName"] == parameters["ModelPackageName"]
    else:
        assert model["PrimaryContainer"]["Image"] == parameters["ImageUri"]


@pytest.mark.synth
@pytest.mark.filterwarnings("ignore:Tried to parse")
@pytest.mark.parametrize("option", sorted(REALTIME_OPTIONS))
def test_realtime_blueprint_deploys_with_each_option(synthesized, moto_cloud, option):
    template, parameters, name = _plan("byom_realtime_builtin", False, REALTIME_OPTIONS[option])
    stack = _deploy(moto_cloud, synthesized.templates[stack_id(template)], parameters, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")


@pytest.mark.synth
@pytest.mark.filterwarnings("ignore:Tried to parse")
@pytest.mark.parametrize("pipeline_type", [t for t in INFERENCE_TYPES if "batch" in t])
@pytest.mark.parametrize("registry", [False, True])
def test_batch_blueprint_deploys_and_starts_the_job(
    synthesized, moto_cloud, lambdas_in_process, pipeline_type, registry
):
    template, parameters, name = _plan(pipeline_type, registry)
    stack = _deploy(moto_cloud, synthesized.templates[stack_id(template)], parameters, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    outputs = _outputs(stack)
    assert outputs["BatchTransformOutputLocation"] == f"s3://{parameters['BatchOutputLocation']}"
    job = boto3.client("sagemaker", region_name=REGION).describe_transform_job(
        TransformJobName=outputs["BatchTransformJobName"]
    )
    assert job["ModelName"] == outputs["SageMakerModelName"]
    assert job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{parameters['BatchInferenceData']}"
    assert job["TransformResources"]["InstanceType"] == parameters["InferenceInstance"]
