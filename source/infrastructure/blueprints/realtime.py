# SPDX-License-Identifier: Apache-2.0
"""byom_realtime_inference_pipeline.yaml: Model, EndpointConfig, Endpoint and the inference API.

Beyond the predecessor, each off unless its parameter is set: autoscaling, blue/green deployment with
canary or linear traffic shifting and automatic rollback, serverless inference and asynchronous inference.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnCondition, CfnMapping, CfnOutput, CfnRule, CfnTag, Duration, Fn, Stack, Tags, Token
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_applicationautoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from infrastructure.blueprints.deploy_role import OWNER_TAG
from infrastructure.blueprints.functions import BlueprintFunction, in_own_account, provided, s3_arn, s3_uri
from infrastructure.blueprints.model import (
    after_policies,
    conditional_policy,
    if_,
    if_str,
    no_value,
    sagemaker_model,
)
from infrastructure.blueprints.parameters import declare
from infrastructure.nag import acknowledge
from infrastructure.rest_api import logged_stage
from lambdas.pipeline_orchestration.catalogue import REALTIME, SERVERLESS_MEMORY_SIZES
from lambdas.pipeline_orchestration.catalogue.realtime import ENDPOINT_OUTPUT

VARIANT = "AllTraffic"
ASYNC_REQUESTS_PREFIX = "requests"
REQUEST_SCHEMA = apigw.JsonSchema(
    schema=apigw.JsonSchemaVersion.DRAFT4,
    type=apigw.JsonSchemaType.OBJECT,
    required=["payload"],
    properties={
        "payload": apigw.JsonSchema(description="The model input: text, or JSON sent as JSON text"),
        "content_type": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING),
    },
)


class RealtimeInferenceStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(
            scope,
            construct_id,
            description="MLOps blueprint: real-time SageMaker endpoint and its inference API",
            **kwargs,
        )
        p = declare(self, REALTIME)
        parts = sagemaker_model(self, p)
        self.memory_sizes = CfnMapping(
            self, "ServerlessMemorySizes", mapping={size: {"MB": int(size)} for size in SERVERLESS_MEMORY_SIZES}
        )
        c = self._conditions(p, parts.kms)
        self._feature_policies(p, parts, c)
        config = self._endpoint_config(p, parts, c)
        endpoint = self._endpoint(p, config, c)
        self._autoscaling(p, endpoint, c)
        self._inference_api(p, endpoint, c)

        CfnOutput(self, "SageMakerModelName", value=parts.model.attr_model_name)
        CfnOutput(self, "SageMakerEndpointConfigName", value=config.attr_endpoint_config_name)
        CfnOutput(self, ENDPOINT_OUTPUT, value=endpoint.attr_endpoint_name)
        CfnOutput(
            self,
            "EndpointDataCaptureLocation",
            value=if_str(c["capture"], s3_uri(p["DataCaptureLocation"].value_as_string), "none"),
        )
        async_output = CfnOutput(
            self, "AsyncInferenceOutputLocation", value=s3_uri(p["AsyncOutputLocation"].value_as_string)
        )
        async_output.condition = c["async"]

    def _conditions(self, p: dict[str, Any], kms: CfnCondition) -> dict[str, CfnCondition]:
        serverless = provided(self, "ServerlessEnabled", p["ServerlessMemorySize"])
        strategy = p["DeploymentStrategy"].value_as_string
        conditions = {
            "kms": kms,
            "named": provided(self, "EndpointNameProvided", p["EndpointName"]),
            "capture": provided(self, "DataCaptureEnabled", p["DataCaptureLocation"]),
            "autoscaling": provided(self, "AutoscalingEnabled", p["AutoscalingMaxInstances"]),
            "serverless": serverless,
            "instances": CfnCondition(self, "InstanceBased", expression=Fn.condition_not(serverless)),
            "async": provided(self, "AsyncEnabled", p["AsyncOutputLocation"]),
            "success_topic": provided(self, "AsyncSuccessTopicProvided", p["AsyncSuccessTopicArn"]),
            "error_topic": provided(self, "AsyncErrorTopicProvided", p["AsyncErrorTopicArn"]),
            "safe": provided(self, "SafeDeploymentEnabled", p["DeploymentStrategy"]),
            "canary": CfnCondition(self, "CanaryTrafficShift", expression=Fn.condition_equals(strategy, "CANARY")),
            "linear": CfnCondition(self, "LinearTrafficShift", expression=Fn.condition_equals(strategy, "LINEAR")),
        }
        conditions["kms_on_instances"] = CfnCondition(
            self, "KmsKeyOnInstances", expression=Fn.condition_and(kms, conditions["instances"])
        )
        CfnRule(
            self,
            "SafeDeploymentNeedsEndpointName",
            rule_condition=Fn.condition_not(Fn.condition_equals(strategy, "")),
            assertions=[
                {
                    "assert": Fn.condition_not(Fn.condition_equals(p["EndpointName"].value_as_string, "")),
                    "assertDescription": "DeploymentStrategy needs EndpointName: the rollback alarm watches it",
                }
            ],
        )
        return conditions

    def _feature_policies(self, p: dict[str, Any], parts: Any, c: dict[str, CfnCondition]) -> None:
        capture = conditional_policy(
            self,
            "DataCaptureWrite",
            parts.role,
            c["capture"],
            [
                {
                    "Effect": "Allow",
                    "Action": ["s3:PutObject"],
                    "Resource": s3_arn(Fn.join("", [p["DataCaptureLocation"].value_as_string, "/*"])),
                    "Condition": in_own_account(),
                }
            ],
        )
        async_io = conditional_policy(
            self,
            "AsyncInferenceReadWrite",
            parts.role,
            c["async"],
            [
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject"],
                    "Resource": s3_arn(Fn.join("", [p["AsyncOutputLocation"].value_as_string, "/*"])),
                    "Condition": in_own_account(),
                }
            ],
        )
        success = conditional_policy(
            self,
            "AsyncSuccessNotify",
            parts.role,
            c["success_topic"],
            [{"Effect": "Allow", "Action": "sns:Publish", "Resource": p["AsyncSuccessTopicArn"].value_as_string}],
        )
        error = conditional_policy(
            self,
            "AsyncErrorNotify",
            parts.role,
            c["error_topic"],
            [{"Effect": "Allow", "Action": "sns:Publish", "Resource": p["AsyncErrorTopicArn"].value_as_string}],
        )
        self.feature_policies = [capture, async_io, success, error]
        acknowledge(
            capture,
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<DataCaptureLocation>/*]",
                "The endpoint writes captured data under the requested bucket/prefix only",
            ),
        )
        acknowledge(
            async_io,
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<AsyncOutputLocation>/*]",
                "The endpoint reads staged requests and writes results under the requested bucket/prefix only",
            ),
        )

    def _endpoint_config(
        self, p: dict[str, Any], parts: Any, c: dict[str, CfnCondition]
    ) -> sagemaker.CfnEndpointConfig:
        kms_key = p["KmsKeyArn"].value_as_string
        config = sagemaker.CfnEndpointConfig(
            self,
            "EndpointConfig",
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=VARIANT, model_name=parts.model.attr_model_name, initial_variant_weight=1
                )
            ],
            tags=[
                CfnTag(
                    key="endpoint_config_name", value=Fn.join("", [p["ModelName"].value_as_string, "-endpoint-config"])
                )
            ],
        )
        variant = "ProductionVariants.0."
        config.add_property_override(
            variant + "InitialInstanceCount",
            if_(c["serverless"], no_value(), if_(c["autoscaling"], p["AutoscalingMinInstances"].value_as_string, 1)),
        )
        config.add_property_override(
            variant + "InstanceType", if_(c["serverless"], no_value(), p["InferenceInstance"].value_as_string)
        )
        config.add_property_override(
            variant + "ServerlessConfig",
            if_(
                c["serverless"],
                {
                    # Through a mapping, the memory size is a number, as SageMaker's schema types it.
                    "MemorySizeInMB": self.memory_sizes.find_in_map(p["ServerlessMemorySize"].value_as_string, "MB"),
                    "MaxConcurrency": p["ServerlessMaxConcurrency"].value_as_string,
                },
                no_value(),
            ),
        )
        # SageMaker takes no volume key for serverless endpoints.
        config.add_property_override("KmsKeyId", if_(c["kms_on_instances"], kms_key, no_value()))
        config.add_property_override(
            "DataCaptureConfig",
            if_(
                c["capture"],
                {
                    "EnableCapture": True,
                    "InitialSamplingPercentage": 100,
                    "DestinationS3Uri": s3_uri(p["DataCaptureLocation"].value_as_string),
                    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                    "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
                    "KmsKeyId": if_(c["kms"], kms_key, no_value()),
                },
                no_value(),
            ),
        )
        config.add_property_override(
            "AsyncInferenceConfig",
            if_(
                c["async"],
                {
                    "OutputConfig": {
                        "S3OutputPath": s3_uri(p["AsyncOutputLocation"].value_as_string),
                        "KmsKeyId": if_(c["kms"], kms_key, no_value()),
                        "NotificationConfig": {
                            "SuccessTopic": if_(
                                c["success_topic"], p["AsyncSuccessTopicArn"].value_as_string, no_value()
                            ),
                            "ErrorTopic": if_(c["error_topic"], p["AsyncErrorTopicArn"].value_as_string, no_value()),
                        },
                    }
                },
                no_value(),
            ),
        )
        config.node.add_dependency(after_policies(self, "EndpointConfigPermissions", self.feature_policies))
        return config

    def _endpoint(
        self, p: dict[str, Any], config: sagemaker.CfnEndpointConfig, c: dict[str, CfnCondition]
    ) -> sagemaker.CfnEndpoint:
        endpoint_name = p["EndpointName"].value_as_string
        alarm = cloudwatch.CfnAlarm(
            self,
            "RollbackAlarm",
            alarm_description="Rolls a blue/green endpoint update back when the new fleet answers with 5XX errors",
            namespace="AWS/SageMaker",
            metric_name="Invocation5XXErrors",
            dimensions=[
                cloudwatch.CfnAlarm.DimensionProperty(name="EndpointName", value=endpoint_name),
                cloudwatch.CfnAlarm.DimensionProperty(name="VariantName", value=VARIANT),
            ],
            statistic="Sum",
            period=60,
            evaluation_periods=1,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",
        )
        alarm.cfn_options.condition = c["safe"]
        endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_config_name=config.attr_endpoint_config_name,
            tags=[CfnTag(key="endpoint_name", value=Fn.join("", [p["ModelName"].value_as_string, "-endpoint"]))],
        )
        endpoint.add_property_override("EndpointName", if_(c["named"], endpoint_name, no_value()))
        shift = p["TrafficShiftPercent"].value_as_string
        endpoint.add_property_override(
            "DeploymentConfig",
            if_(
                c["safe"],
                {
                    "BlueGreenUpdatePolicy": {
                        "TrafficRoutingConfiguration": {
                            "Type": p["DeploymentStrategy"].value_as_string,
                            "CanarySize": if_(c["canary"], {"Type": "CAPACITY_PERCENT", "Value": shift}, no_value()),
                            "LinearStepSize": if_(
                                c["linear"], {"Type": "CAPACITY_PERCENT", "Value": shift}, no_value()
                            ),
                            "WaitIntervalInSeconds": p["TrafficShiftWaitSeconds"].value_as_string,
                        },
                    },
                    "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": alarm.ref}]},
                },
                no_value(),
            ),
        )
        return endpoint

    def _autoscaling(self, p: dict[str, Any], endpoint: sagemaker.CfnEndpoint, c: dict[str, CfnCondition]) -> None:
        target = autoscaling.CfnScalableTarget(
            self,
            "ScalableTarget",
            service_namespace="sagemaker",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            resource_id=Fn.join("", ["endpoint/", endpoint.attr_endpoint_name, f"/variant/{VARIANT}"]),
            min_capacity=Token.as_number(p["AutoscalingMinInstances"].value_as_string),
            max_capacity=Token.as_number(p["AutoscalingMaxInstances"].value_as_string),
            # The deploy role changes only scalable targets that carry their stack's owner tag.
            tags=[CfnTag(key=OWNER_TAG, value=Aws.STACK_NAME)],
        )
        target.cfn_options.condition = c["autoscaling"]
        policy = autoscaling.CfnScalingPolicy(
            self,
            "InvocationsScaling",
            policy_name="InvocationsPerInstance",
            policy_type="TargetTrackingScaling",
            scaling_target_id=target.ref,
            target_tracking_scaling_policy_configuration=autoscaling.CfnScalingPolicy.TargetTrackingScalingPolicyConfigurationProperty(
                target_value=Token.as_number(p["AutoscalingTargetInvocations"].value_as_string),
                predefined_metric_specification=autoscaling.CfnScalingPolicy.PredefinedMetricSpecificationProperty(
                    predefined_metric_type="SageMakerVariantInvocationsPerInstance"
                ),
                scale_in_cooldown=300,
                scale_out_cooldown=60,
            ),
        )
        policy.cfn_options.condition = c["autoscaling"]

    def _inference_api(self, p: dict[str, Any], endpoint: sagemaker.CfnEndpoint, c: dict[str, CfnCondition]) -> None:
        async_requests = Fn.join("/", [p["AsyncOutputLocation"].value_as_string, ASYNC_REQUESTS_PREFIX])
        function = BlueprintFunction(
            self,
            "Inference",
            handler="lambdas.blueprints.inference.handler",
            code_bucket=s3.Bucket.from_bucket_name(self, "Blueprints", p["BlueprintBucket"].value_as_string),
            description="Invokes the pipeline's SageMaker endpoint for POST /inference",
            environment={
                "SAGEMAKER_ENDPOINT_NAME": endpoint.attr_endpoint_name,
                "ASYNC_INPUT_LOCATION": if_str(c["async"], async_requests, ""),
            },
            timeout=Duration.seconds(60),
            memory_size=512,
            statements=[
                iam.PolicyStatement(
                    actions=["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointAsync"], resources=[endpoint.ref]
                )
            ],
        )
        staging = conditional_policy(
            self,
            "AsyncRequestStaging",
            function.role,
            c["async"],
            [
                {
                    "Effect": "Allow",
                    "Action": "s3:PutObject",
                    "Resource": s3_arn(Fn.join("", [async_requests, "/*"])),
                    "Condition": in_own_account(),
                }
            ],
        )
        acknowledge(
            staging,
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<AsyncOutputLocation>/requests/*]",
                "The API stages each asynchronous request as a new object under the requests prefix",
            ),
        )

        access_logs = logs.LogGroup(self, "InferenceApiAccessLogs", retention=logs.RetentionDays.ONE_YEAR)
        api = apigw.RestApi(
            self,
            "InferenceApi",
            rest_api_name=f"{Aws.STACK_NAME}-inference",
            description="IAM-authorized inference API of the pipeline's SageMaker endpoint",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,
            deploy_options=logged_stage(access_logs, rate_limit=100, burst_limit=50, metrics_enabled=True),
        )
        # The deploy role writes only the REST API (and stage) that carry their stack's owner tag.
        Tags.of(api).add(
            OWNER_TAG, Aws.STACK_NAME, include_resource_types=["AWS::ApiGateway::RestApi", "AWS::ApiGateway::Stage"]
        )
        validator = api.add_request_validator(
            "RequestValidator", validate_request_body=True, validate_request_parameters=True
        )
        model = api.add_model(
            "InferenceRequest", content_type="application/json", model_name="InferenceRequest", schema=REQUEST_SCHEMA
        )
        api.root.add_resource("inference").add_method(
            "POST",
            apigw.LambdaIntegration(function.function),
            authorization_type=apigw.AuthorizationType.IAM,
            request_validator=validator,
            request_models={"application/json": model},
        )
        acknowledge(
            api,
            (
                "AwsSolutions-APIG3",
                "Callers are authenticated with IAM (SigV4) on the only method; a WAF web ACL is an account-wide "
                "choice left to the operator",
            ),
            ("AwsSolutions-COG4", "The API is authorized with IAM (SigV4), not with a Cognito user pool"),
            (
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
                "API Gateway's account-wide logging role: the AWS-managed policy is the documented one for it",
            ),
        )
        CfnOutput(self, "InferenceApiUrl", value=api.url_for_path("/inference"), description="POST here to infer")
