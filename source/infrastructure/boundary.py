# SPDX-License-Identifier: Apache-2.0
"""The permissions boundary of every role a pipeline stack creates, and the conditions that enforce it.

The orchestrator stack creates the boundary (or takes the user's own, `PermissionsBoundaryArn`), passes its ARN
to every blueprint as the `PermissionsBoundaryArn` parameter, and lets the roles that deploy pipeline stacks
(its CloudFormation role, a pipeline's deploy role) create roles or write their policies only when that boundary
is attached. A role under the boundary can therefore never hold more than the boundary, whoever wrote its
template: the boundary allows the services the pipelines use, and of IAM only reading roles, passing them to
those services, and writing roles that carry this same boundary; it denies changing the boundary policy and
removing a role's boundary.
"""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import Aspects, Aws, CfnCondition, CfnParameter, Fn, IAspect, Stack
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from lambdas.pipeline_orchestration.catalogue import BOUNDARY_PARAMETER, PIPELINE_PREFIX

PARAMETER = BOUNDARY_PARAMETER  # the blueprints' parameter that names the boundary

# Services whose actions the pipelines' roles hold (identity policies name each action and scope its resources;
# the boundary caps by service, because the named actions would exceed IAM's 6,144-character policy limit).
BOUNDED_SERVICES = (
    "apigateway",
    "application-autoscaling",
    "cloudformation",
    "cloudwatch",
    "codebuild",
    "codepipeline",
    "ecr",
    "events",
    "kms",
    "lambda",
    "logs",
    "s3",
    "sagemaker",
    "sns",
    "states",
    "xray",
)
# IAM and account-level actions the pipelines' roles hold, by name: nothing here writes IAM beyond a role that
# carries this boundary.
NAMED_ACTIONS = (
    "organizations:DescribeOrganization",
    "organizations:ListDelegatedAdministrators",
    "sts:AssumeRole",
    # What SageMaker and CodeBuild do with a role's permissions to run containers in the user's VPC (the
    # roles' own policies scope them to the given subnets and security groups).
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
)
ROLE_LIFECYCLE_ACTIONS = (
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:ListRolePolicies",
    "iam:ListAttachedRolePolicies",
    "iam:ListRoleTags",
    "iam:DeleteRole",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
    "iam:UpdateAssumeRolePolicy",
    "iam:TagRole",
    "iam:UntagRole",
)
# Actions that give a role permissions: allowed only when the role carries the boundary (iam:PermissionsBoundary).
ROLE_PERMISSION_WRITES = (
    "iam:CreateRole",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
)
BOUNDARY_POLICY_WRITES = (
    "iam:CreatePolicyVersion",
    "iam:DeletePolicy",
    "iam:DeletePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:TagPolicy",
    "iam:UntagPolicy",
)
BOUNDARY_REMOVALS = ("iam:DeleteRolePermissionsBoundary",)
# Services the pipelines' roles are passed to.
PASSED_TO = (
    "apigateway.amazonaws.com",
    "cloudformation.amazonaws.com",
    "codebuild.amazonaws.com",
    "codepipeline.amazonaws.com",
    "events.amazonaws.com",
    "lambda.amazonaws.com",
    "sagemaker.amazonaws.com",
    "states.amazonaws.com",
)
AUTOSCALING_SERVICE = "sagemaker.application-autoscaling.amazonaws.com"


def pipeline_roles() -> str:
    return f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/{PIPELINE_PREFIX}*"


def with_boundary(boundary_arn: str) -> dict[str, Any]:
    """The condition under which a role may be created or given permissions."""
    return {"StringEquals": {"iam:PermissionsBoundary": boundary_arn}}


def guard_statements(boundary_arn: str) -> list[iam.PolicyStatement]:
    """Denies for every role that deploys pipeline stacks: never change the boundary, never remove one."""
    return [
        iam.PolicyStatement(
            sid="BoundaryPolicyIsFixed",
            effect=iam.Effect.DENY,
            actions=list(BOUNDARY_POLICY_WRITES),
            resources=[boundary_arn],
        ),
        iam.PolicyStatement(
            # Resource "*": no role, whatever its name, may lose its boundary through this principal.
            sid="BoundaryStaysAttached",
            effect=iam.Effect.DENY,
            actions=list(BOUNDARY_REMOVALS),
            resources=["*"],
        ),
    ]


def boundary_statements(boundary_arn: str) -> list[iam.PolicyStatement]:
    return [
        iam.PolicyStatement(
            # Resource "*": the cap is per service; every role's own policy names the resources it may touch.
            sid="PipelineServices",
            actions=[f"{service}:*" for service in BOUNDED_SERVICES] + list(NAMED_ACTIONS),
            resources=["*"],
        ),
        iam.PolicyStatement(
            sid="PipelineRoleLifecycle", actions=list(ROLE_LIFECYCLE_ACTIONS), resources=[pipeline_roles()]
        ),
        iam.PolicyStatement(
            sid="RolesCarryThisBoundary",
            actions=list(ROLE_PERMISSION_WRITES),
            resources=[pipeline_roles()],
            conditions=with_boundary(boundary_arn),
        ),
        iam.PolicyStatement(
            sid="PassPipelineRoles",
            actions=["iam:PassRole"],
            resources=[pipeline_roles()],
            conditions={"StringEquals": {"iam:PassedToService": list(PASSED_TO)}},
        ),
        iam.PolicyStatement(
            sid="EndpointAutoscalingServiceRole",
            actions=["iam:CreateServiceLinkedRole"],
            resources=[
                f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/aws-service-role/{AUTOSCALING_SERVICE}/"
                "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
            ],
            conditions={"StringEquals": {"iam:AWSServiceName": AUTOSCALING_SERVICE}},
        ),
        *guard_statements(boundary_arn),
    ]


def boundary_policy_name() -> str:
    """The orchestrator's boundary is named after its stack, so the policy can name its own ARN."""
    return f"{Aws.STACK_NAME}-PermissionsBoundary"


def boundary_policy_arn() -> str:
    return f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:policy/{boundary_policy_name()}"


@jsii.implements(IAspect)
class _BoundEveryRole:
    """Sets the boundary on every role of a stack, when the boundary parameter is not empty."""

    def __init__(self, boundary: CfnParameter, condition: CfnCondition) -> None:
        self.boundary = boundary
        self.condition = condition

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, iam.CfnRole):
            node.permissions_boundary = Fn.condition_if(
                self.condition.logical_id, self.boundary.value_as_string, Aws.NO_VALUE
            ).to_string()


@jsii.implements(IAspect)
class PassRolesOnlyTo:
    """Adds `iam:PassedToService` to the PassRole statements CDK writes into the policies under a construct
    (e.g. a CodePipeline CloudFormation action passing its deployment role), which CDK leaves unconditioned."""

    def __init__(self, service: str) -> None:
        self.service = service

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, iam.CfnPolicy):
            return
        document = Stack.of(node).resolve(node.policy_document)
        for index, statement in enumerate(document.get("Statement", [])):
            actions = statement.get("Action", [])
            if "iam:PassRole" in (actions if isinstance(actions, list) else [actions]) and not statement.get(
                "Condition"
            ):
                node.add_property_override(
                    f"PolicyDocument.Statement.{index}.Condition",
                    {"StringEquals": {"iam:PassedToService": self.service}},
                )


@jsii.implements(IAspect)
class OnAnyResource:
    """Moves actions that AWS authorizes on `"*"` only out of the statements CDK writes on a resource ARN under a
    construct (e.g. CDK's CodePipeline CloudFormation action grants `cloudformation:ValidateTemplate` on the stack),
    into one statement on `"*"`: on an ARN they authorize nothing (the Service Authorization Reference lists no
    resource type for them)."""

    def __init__(self, *actions: str) -> None:
        self.actions = actions

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, iam.CfnPolicy):
            return
        statements = Stack.of(node).resolve(node.policy_document).get("Statement", [])
        moved: list[str] = []
        for index, statement in enumerate(statements):
            actions = statement.get("Action", [])
            actions = actions if isinstance(actions, list) else [actions]
            if statement.get("Resource") == "*" or not set(actions) & set(self.actions):
                continue
            moved += [action for action in actions if action in self.actions]
            node.add_property_override(
                f"PolicyDocument.Statement.{index}.Action", [a for a in actions if a not in self.actions]
            )
        if moved:
            node.add_property_override(
                f"PolicyDocument.Statement.{len(statements)}",
                {"Action": sorted(set(moved)), "Effect": "Allow", "Resource": "*"},
            )


def bound_every_role(stack: Stack, boundary: CfnParameter) -> CfnCondition:
    """Give every role the stack creates the boundary the parameter names (none when it is empty: a stage
    account of a multi-account deployment, where the orchestrator's boundary does not exist)."""
    condition = CfnCondition(
        stack,
        "PermissionsBoundaryGiven",
        expression=Fn.condition_not(Fn.condition_equals(boundary.value_as_string, "")),
    )
    Aspects.of(stack).add(_BoundEveryRole(boundary, condition))
    return condition
