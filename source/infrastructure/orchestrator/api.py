# SPDX-License-Identifier: Apache-2.0
"""The orchestrator's REST API: IAM-authorized, throttled, every route the handler serves and only those."""

from __future__ import annotations

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_lambda as aws_lambda
from aws_cdk import aws_logs as logs
from constructs import Construct

from infrastructure.nag import acknowledge
from infrastructure.rest_api import logged_stage
from lambdas.pipeline_orchestration.index import BODY_ROUTES
from lambdas.pipeline_orchestration.index import ROUTES as API_ROUTES
from lambdas.pipeline_orchestration.lifecycle import LIST_PARAMETERS

from .logical_ids import logical_id

THROTTLING_RATE = 50
THROTTLING_BURST = 100


class OrchestratorApi(Construct):
    """The REST API in front of `function`; every method requires IAM (SigV4) authorization."""

    def __init__(self, scope: Construct, construct_id: str, *, function: aws_lambda.IFunction) -> None:
        super().__init__(scope, construct_id)
        access_logs = logs.LogGroup(self, "ApiAccessLogs", retention=logs.RetentionDays.ONE_YEAR)
        # The log group was first written at the stack's root.
        access_logs.node.default_child.override_logical_id(logical_id(["ApiAccessLogs", "Resource"]))
        api = apigateway.RestApi(
            self,
            "LambdaRestApi",
            rest_api_name=f"{Aws.STACK_NAME}-orchestrator",
            description="MLOps orchestrator API (IAM authorization)",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=logged_stage(
                access_logs, rate_limit=THROTTLING_RATE, burst_limit=THROTTLING_BURST, data_trace_enabled=False
            ),
            default_method_options=apigateway.MethodOptions(authorization_type=apigateway.AuthorizationType.IAM),
        )
        json_object = api.add_model(
            "JsonObject",
            content_type="application/json",
            model_name="JsonObject",
            schema=apigateway.JsonSchema(
                schema=apigateway.JsonSchemaVersion.DRAFT4, type=apigateway.JsonSchemaType.OBJECT
            ),
        )
        body_validator = api.add_request_validator(
            "BodyValidator", validate_request_body=True, validate_request_parameters=True
        )
        parameter_validator = api.add_request_validator("ParameterValidator", validate_request_parameters=True)
        integration = apigateway.LambdaIntegration(function, proxy=True, allow_test_invoke=False)
        # Every route the handler serves, and only those.
        for method, path in sorted(API_ROUTES, key=lambda route: (route[1], route[0])):
            has_body = (method, path) in BODY_ROUTES
            path_parameters = {
                f"method.request.path.{part[1:-1]}": True
                for part in path.split("/")
                if part.startswith("{") and part.endswith("}")
            }
            query = (
                {f"method.request.querystring.{name}": False for name in LIST_PARAMETERS}
                if (method, path) == ("GET", "/pipelines")
                else {}
            )
            api.root.resource_for_path(path).add_method(
                method,
                integration,
                authorization_type=apigateway.AuthorizationType.IAM,
                request_validator=body_validator if has_body else parameter_validator,
                request_models={"application/json": json_object} if has_body else None,
                request_parameters={**path_parameters, **query} or None,
            )
        self.api = api
        acknowledge(
            api,
            (
                "AwsSolutions-APIG3",
                "Every method requires IAM (SigV4) authorization and the stage is throttled; a WAF web ACL is "
                "left to the deployer, who can associate one with the stage.",
            ),
            (
                "AwsSolutions-COG4",
                "Callers are IAM principals (SigV4), as with the predecessor's API; there is no Cognito user pool.",
            ),
            (
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]",
                "The account-level role API Gateway needs to write the stage's access and execution logs.",
            ),
        )
