# SPDX-License-Identifier: Apache-2.0
"""The role CloudFormation deploys a blueprint stack with: what blueprints create, and nothing else.

Blueprint resources get CloudFormation-generated names, which start with the stack name and so with
`mlops-pipeline` (the prefix the orchestrator gives every pipeline); SageMaker resources are named by
CloudFormation with their logical id, so they are scoped by type instead.
"""

from __future__ import annotations

from aws_cdk import Aws, Fn
from aws_cdk import aws_iam as iam
from constructs import Construct

from infrastructure.boundary import PARAMETER as BOUNDARY_PARAMETER
from infrastructure.boundary import guard_statements, with_boundary
from infrastructure.checkov import skip_checks
from infrastructure.distribution import BLUEPRINT_LAMBDAS_PATTERN
from infrastructure.iam_actions import LAMBDA_FUNCTION_ACTIONS
from infrastructure.nag import acknowledge
from lambdas.pipeline_orchestration.catalogue import CATALOGUE, PIPELINE_PREFIX, blueprints


def _created() -> dict[str, tuple[str, ...]]:
    """What the blueprints the wrapper stacks deploy create, as their catalogue declares it: ARN type -> actions."""
    found: dict[str, tuple[str, ...]] = {}
    for blueprint in blueprints(t for t in CATALOGUE.values() if not t.direct_stack):
        for creates in blueprint.creates:
            found.setdefault(creates.arn_type, creates.actions)
    return found


SAGEMAKER_TYPES = tuple(_created())
# Tag naming the blueprint stack that owns an API or a scalable target (the deploy role writes only its own).
OWNER_TAG = "mlops:pipeline-name"
# The services a blueprint's roles are passed to (their trust policies).
BLUEPRINT_ROLE_SERVICES = [
    "apigateway.amazonaws.com",
    "lambda.amazonaws.com",
    "sagemaker.amazonaws.com",
    "scheduler.amazonaws.com",
    "states.amazonaws.com",
]


def _arn(service: str, resource: str, region: str = Aws.REGION, account: str = Aws.ACCOUNT_ID) -> str:
    return f"arn:{Aws.PARTITION}:{service}:{region}:{account}:{resource}"


def blueprint_deploy_statements() -> list[iam.PolicyStatement]:
    prefix = f"{PIPELINE_PREFIX}*"
    # The wrapper's own parameter: the boundary its roles, and the roles this deploy role writes, carry.
    boundary = Fn.ref(BOUNDARY_PARAMETER)
    # The blueprint stack this role deploys: its API and scalable target carry the stack's name as owner tag.
    owner = Fn.ref("StackName")
    return [
        iam.PolicyStatement(
            sid="BlueprintRoles",
            actions=[
                "iam:DeleteRole",
                "iam:GetRole",
                "iam:UpdateRole",
                "iam:UpdateRoleDescription",
                "iam:GetRolePolicy",
                "iam:TagRole",
                "iam:UntagRole",
            ],
            resources=[f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/{prefix}"],
        ),
        iam.PolicyStatement(
            # A blueprint role gets permissions only with the orchestrator's boundary attached: never more than it.
            sid="BlueprintRolesCarryTheBoundary",
            actions=["iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:PutRolePermissionsBoundary"],
            resources=[f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/{prefix}"],
            conditions=with_boundary(boundary),
        ),
        iam.PolicyStatement(
            sid="PassBlueprintRoles",
            actions=["iam:PassRole"],
            resources=[f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/{prefix}"],
            conditions={"StringEquals": {"iam:PassedToService": BLUEPRINT_ROLE_SERVICES}},
        ),
        iam.PolicyStatement(
            # The inference API's logging role is the one blueprint role with an AWS-managed policy.
            sid="ApiGatewayLoggingRolePolicy",
            actions=["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
            resources=[f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/{prefix}"],
            conditions={
                "ArnEquals": {
                    "iam:PolicyARN": f"arn:{Aws.PARTITION}:iam::aws:policy/service-role/"
                    "AmazonAPIGatewayPushToCloudWatchLogs"
                },
                **with_boundary(boundary),
            },
        ),
        iam.PolicyStatement(
            sid="EndpointAutoscalingServiceRole",
            actions=["iam:CreateServiceLinkedRole"],
            resources=[
                f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/aws-service-role/"
                "sagemaker.application-autoscaling.amazonaws.com/"
                "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
            ],
            conditions={"StringEquals": {"iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"}},
        ),
        iam.PolicyStatement(
            sid="BlueprintFunctions",
            actions=LAMBDA_FUNCTION_ACTIONS,
            resources=[_arn("lambda", f"function:{prefix}")],
        ),
        iam.PolicyStatement(
            # The blueprints bucket is named in the blueprint's parameters, which this wrapper does not see.
            sid="BlueprintFunctionCode",
            actions=["s3:GetObject"],
            resources=[f"arn:{Aws.PARTITION}:s3:::*/{BLUEPRINT_LAMBDAS_PATTERN}"],
            conditions={"StringEquals": {"aws:ResourceAccount": Aws.ACCOUNT_ID}},
        ),
        iam.PolicyStatement(
            sid="BlueprintLogGroups",
            actions=[
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:PutRetentionPolicy",
                "logs:DeleteRetentionPolicy",
                "logs:TagResource",
                "logs:UntagResource",
                "logs:ListTagsForResource",
            ],
            resources=[_arn("logs", f"log-group:{prefix}")],
        ),
        iam.PolicyStatement(
            sid="SageMakerResources",
            actions=[
                *(action for actions in _created().values() for action in actions),
                "sagemaker:AddTags",
                "sagemaker:DeleteTags",
                "sagemaker:ListTags",
            ],
            resources=[_arn("sagemaker", f"{kind}/*") for kind in SAGEMAKER_TYPES],
        ),
        iam.PolicyStatement(
            sid="ModelPackages",
            actions=["sagemaker:DescribeModelPackage"],
            resources=[_arn("sagemaker", "model-package/*", account="*")],
        ),
        iam.PolicyStatement(
            sid="InferenceApiReads",
            actions=["apigateway:GET"],
            resources=[
                f"arn:{Aws.PARTITION}:apigateway:{Aws.REGION}::/restapis",
                f"arn:{Aws.PARTITION}:apigateway:{Aws.REGION}::/restapis/*",
                f"arn:{Aws.PARTITION}:apigateway:{Aws.REGION}::/account",
                f"arn:{Aws.PARTITION}:apigateway:{Aws.REGION}::/tags/*",
            ],
        ),
        iam.PolicyStatement(
            # A new REST API only with the blueprint stack's owner tag.
            sid="InferenceApiCreate",
            actions=["apigateway:POST"],
            resources=[f"arn:{Aws.PARTITION}:apigateway:{Aws.REGION}::/restapis"],
            conditions={"StringEquals": {f"aws:RequestTag/{OWNER_TAG}": owner}},
        ),
        iam.PolicyStatement(
            # Only the blueprint's own API: its resources, methods, deployments and stages inherit its tags.
            sid="InferenceApiOwnWrites",
            actions=["apigateway:POST", "apigateway:PUT", "apigateway:PATCH", "apigateway:DELETE"],
            resources=[
                f"arn:{Aws.PARTITION}:apigateway:{Aws.REGION}::/restapis/*",
                f"arn:{Aws.PARTITION}:apigateway:{Aws.REGION}::/tags/*",
            ],
            conditions={"StringEquals": {f"aws:ResourceTag/{OWNER_TAG}": owner}},
        ),
        iam.PolicyStatement(
            # The region's API Gateway logging role (AWS::ApiGateway::Account): one setting, no tags.
            sid="ApiGatewayAccountLogging",
            actions=["apigateway:PATCH"],
            resources=[f"arn:{Aws.PARTITION}:apigateway:{Aws.REGION}::/account"],
        ),
        iam.PolicyStatement(
            # Describe calls have no resource-level permissions: Resource "*".
            sid="EndpointAutoscalingReads",
            actions=[
                "application-autoscaling:DescribeScalableTargets",
                "application-autoscaling:DescribeScalingPolicies",
            ],
            resources=["*"],
        ),
        iam.PolicyStatement(
            # A scalable target's id is generated: Resource "*", limited to targets registered with the
            # blueprint stack's owner tag.
            sid="EndpointAutoscalingRegister",
            actions=["application-autoscaling:RegisterScalableTarget", "application-autoscaling:TagResource"],
            resources=["*"],
            conditions={"StringEquals": {f"aws:RequestTag/{OWNER_TAG}": owner}},
        ),
        iam.PolicyStatement(
            # Only the scalable targets that carry the blueprint stack's owner tag (generated ids: Resource "*").
            sid="EndpointAutoscalingOwnTargets",
            actions=[
                "application-autoscaling:RegisterScalableTarget",
                "application-autoscaling:DeregisterScalableTarget",
                "application-autoscaling:PutScalingPolicy",
                "application-autoscaling:DeleteScalingPolicy",
                "application-autoscaling:TagResource",
                "application-autoscaling:UntagResource",
                "application-autoscaling:ListTagsForResource",
            ],
            resources=["*"],
            conditions={"StringEquals": {f"aws:ResourceTag/{OWNER_TAG}": owner}},
        ),
        iam.PolicyStatement(
            sid="RollbackAlarms",
            actions=["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms"],
            resources=[_arn("cloudwatch", f"alarm:{prefix}")],
        ),
        iam.PolicyStatement(
            sid="JobNotificationRules",
            actions=[
                "events:PutRule",
                "events:DeleteRule",
                "events:DescribeRule",
                "events:PutTargets",
                "events:RemoveTargets",
            ],
            resources=[_arn("events", f"rule/{prefix}")],
        ),
        iam.PolicyStatement(
            # The open monitoring engine's schedule, in the default group, named as the catalogue names a monitor's
            # schedule (<endpoint>-<kind>-<hash>); CloudFormation's handler reads it back after each change.
            sid="MonitoringEngineSchedules",
            actions=[
                "scheduler:CreateSchedule",
                "scheduler:UpdateSchedule",
                "scheduler:GetSchedule",
                "scheduler:DeleteSchedule",
            ],
            resources=[_arn("scheduler", "schedule/default/*")],
        ),
        iam.PolicyStatement(
            sid="EncryptionKeysThroughSageMaker",
            actions=["kms:CreateGrant", "kms:DescribeKey"],
            # The key is the request's (KmsKeyArn): Resource "*", only for calls SageMaker makes (kms:ViaService).
            resources=["*"],
            conditions={"StringEquals": {"kms:ViaService": f"sagemaker.{Aws.REGION}.amazonaws.com"}},
        ),
        *guard_statements(boundary),
        *_handler_statements(prefix),
    ]


def _handler_statements(prefix: str) -> list[iam.PolicyStatement]:
    """What CloudFormation's handlers call beyond create and delete: reads after each change, role updates,
    the baseline waiter's state machine (see tests/infrastructure/test_handler_permissions.py)."""
    return [
        iam.PolicyStatement(
            sid="BlueprintRoleUpdates",
            actions=["iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:UpdateAssumeRolePolicy"],
            resources=[f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/{prefix}"],
        ),
        iam.PolicyStatement(
            # CloudFormation names a state machine after its logical id, not the stack.
            sid="BaselineWaiterStateMachines",
            actions=[
                "states:CreateStateMachine",
                "states:UpdateStateMachine",
                "states:DeleteStateMachine",
                "states:DescribeStateMachine",
                "states:ListTagsForResource",
            ],
            resources=[_arn("states", "stateMachine:*")],
        ),
        iam.PolicyStatement(
            sid="BlueprintResourceReads",
            actions=[
                "cloudwatch:ListTagsForResource",
                "events:ListTagsForResource",
                "events:ListTargetsByRule",
                "logs:GetDataProtectionPolicy",
                "logs:DeleteDataProtectionPolicy",
            ],
            resources=[
                _arn("cloudwatch", f"alarm:{prefix}"),
                _arn("events", f"rule/{prefix}"),
                _arn("logs", f"log-group:{prefix}"),
            ],
        ),
        iam.PolicyStatement(
            sid="EndpointAutoscalingTags",
            actions=["application-autoscaling:ListTagsForResource"],
            resources=[_arn("application-autoscaling", "scalable-target/*")],
        ),
        iam.PolicyStatement(
            # These reads take no resource: the scaling policy handler reads the target's metric, the target
            # handler its scheduled actions, the log-group handler the log groups and the account's log resource
            # and index policies. The Service Authorization Reference lists no resource type for any of them
            # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html).
            sid="HandlerReadsWithoutResource",
            actions=[
                "application-autoscaling:DescribeScheduledActions",
                "cloudwatch:GetMetricData",
                "logs:DescribeLogGroups",
                "logs:DescribeIndexPolicies",
                "logs:DescribeResourcePolicies",
            ],
            resources=["*"],
        ),
    ]


def blueprint_deploy_role(scope: Construct, construct_id: str) -> iam.Role:
    role = iam.Role(
        scope,
        construct_id,
        assumed_by=iam.ServicePrincipal("cloudformation.amazonaws.com"),
        description="Deploys the pipeline's blueprint stack",
        inline_policies={"DeployBlueprint": iam.PolicyDocument(statements=blueprint_deploy_statements())},
    )
    acknowledge_deploy_role(role)
    skip_checks(
        role,
        (
            "CKV_AWS_111",
            "Its writes on Resource * are Application Auto Scaling's, for the endpoint's scalable target whose id "
            "is generated, allowed only with the stack's owner tag, and kms:CreateGrant, limited by kms:ViaService "
            "to SageMaker; the rest is scoped by name",
        ),
    )
    return role


def acknowledge_deploy_role(role: iam.Role) -> None:
    acknowledge(
        role,
        (
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/mlops-pipeline*]",
            "Blueprint roles get CloudFormation-generated names that start with the pipeline's stack name, "
            "which always starts with mlops-pipeline",
        ),
        (
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:lambda:<AWS::Region>:<AWS::AccountId>:function:mlops-pipeline*]",
            "Blueprint functions get CloudFormation-generated names that start with the pipeline's stack name",
        ),
        (
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:mlops-pipeline*]",
            "Blueprint log groups get CloudFormation-generated names that start with the pipeline's stack name",
        ),
        (
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:mlops-pipeline*]",
            "Rollback alarms get CloudFormation-generated names that start with the pipeline's stack name",
        ),
        (
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:rule/mlops-pipeline*]",
            "Job notification rules get CloudFormation-generated names that start with the pipeline's stack name",
        ),
        (
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/default/*]",
            "An open-engine monitor's schedule is named from its endpoint, which the request chooses",
        ),
        *[
            (
                f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:{kind}/*]",
                "CloudFormation names SageMaker resources after their logical id, not the stack, so they are "
                "scoped by resource type in this account and region",
            )
            for kind in SAGEMAKER_TYPES
        ],
        (
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:*:model-package/*]",
            "The model package a pipeline deploys is chosen per request and may live in the registry account",
        ),
        (
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:apigateway:<AWS::Region>::/restapis/*]",
            "The inference API gets a generated id; API Gateway authorizes by path, so its REST APIs are scoped "
            "by path in this region",
        ),
        (
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:apigateway:<AWS::Region>::/tags/*]",
            "Tagging the inference API and its stage, whose ids are generated",
        ),
        (
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::*/{BLUEPRINT_LAMBDAS_PATTERN}]",
            "Lambda reads blueprint function code with the deployer's credentials: only the code object, only "
            "in buckets of this account (aws:ResourceAccount)",
        ),
        (
            "AwsSolutions-IAM5[Resource::*]",
            "Application Auto Scaling: Describe calls take no resource, and scalable-target ids are generated, so "
            "writes are limited by the stack's owner tag (aws:RequestTag/aws:ResourceTag) instead; the KMS grant "
            "statement is limited to calls made through SageMaker by kms:ViaService, for keys chosen per request",
        ),
        (
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:stateMachine:*]",
            "CloudFormation names the baseline waiter's state machine after its logical id, not the stack, so "
            "state machines are scoped by type in this account and region",
        ),
        (
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:application-autoscaling:<AWS::Region>:<AWS::AccountId>:scalable-target/*]",
            "The endpoint's scalable target gets an id Application Auto Scaling generates",
        ),
    )
