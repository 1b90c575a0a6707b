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

from dataclasses import dataclass
from typing import Any

import jsii
from aws_cdk import Aspects, Aws, CfnCondition, CfnParameter, Fn, IAspect, Stack
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from lambdas.pipeline_orchestration.catalogue import (
    ARTIFACT_WRITERS_PATH,
    BOUNDARY_PARAMETER,
    PIPELINE_PREFIX,
    STAGE_BOUNDARY_POLICY_NAME,
)

PARAMETER = BOUNDARY_PARAMETER  # the blueprints' parameter that names the boundary

# The boundary names resources, so that a role a compromised template writes reaches only what the pipelines own
# (IAM permissions boundaries: https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html).
# It is one managed policy, whose size IAM limits to 6,144 characters without whitespace ("Managed policy size",
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html), and only one policy can be a role's
# boundary: statements therefore pair services with resource patterns rather than list every action
# (tests/infrastructure/test_security_model.py measures the rendered policy).

# Services whose every resource the pipelines' stacks name `mlops-pipeline*` (CloudFormation's generated names start
# with the stack's name; the state machines and CodeBuild projects are named so explicitly).
NAMED_SERVICES = ("cloudformation", "cloudwatch", "codebuild", "codepipeline", "events", "lambda", "logs", "states")
# Services whose resources a request or SageMaker names: any of this account's (the requests' values are validated
# against the data perimeter, and the roles' own policies name each resource).
ACCOUNT_SERVICES = ("apigateway", "application-autoscaling", "ecr", "sagemaker", "scheduler", "sns")
# Every service a statement of the boundary allows whole, on the resources it names.
BOUNDED_SERVICES = (*NAMED_SERVICES, *ACCOUNT_SERVICES, "s3")
# What the pipelines' roles hold that AWS authorizes on "*" only (the Service Authorization Reference lists no
# resource type for them): a resource-scoped statement would cut them (tests/fidelity checks this list against the
# reference and the roles' grants).
ANY_RESOURCE_ACTIONS = (
    "cloudformation:CreateStackSet",
    "cloudformation:ValidateTemplate",
    "cloudwatch:GetMetricData",
    "cloudwatch:PutMetricData",
    "ecr:GetAuthorizationToken",
    "lambda:ListFunctions",
    "logs:DescribeIndexPolicies",
    "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "organizations:DescribeOrganization",
    "organizations:ListDelegatedAdministrators",
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
# The same, written as patterns to save the boundary's characters: each matches only actions AWS authorizes on "*"
# (test_the_boundary_patterns_match_only_any_resource_actions checks them against the reference).
ANY_RESOURCE_PATTERNS = (
    "application-autoscaling:Describe*",
    "codepipeline:PutJob*",
    "logs:*LogDelivery",
    "xray:GetSampling*",
    "xray:PutT*",
)
# KMS only on behalf of the services that store the pipelines' data (kms:ViaService,
# https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service).
KMS_ACTIONS = (
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
)
KMS_VIA = ("s3", "sagemaker")
# Bucket-level writes that would change who may read or write a bucket: no pipeline role holds them, none may.
BUCKET_POLICY_WRITES = (
    "s3:DeleteBucketPolicy",
    "s3:PutBucketAcl",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketPolicy",
    "s3:PutBucketPublicAccessBlock",
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


def pipeline_roles(path: str = "/", prefix: str = PIPELINE_PREFIX) -> str:
    return f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role{path}{prefix}*"


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


def _arn(service: str, resource: str, account: str = Aws.ACCOUNT_ID, region: str = Aws.REGION) -> str:
    return f"arn:{Aws.PARTITION}:{service}:{region}:{account}:{resource}"


def pipeline_resources(prefixes: tuple[str, ...] = (PIPELINE_PREFIX,)) -> list[str]:
    """What the pipelines' stacks create (NAMED_SERVICES, named with one of `prefixes`) and the resources of this
    account that requests or SageMaker name (ACCOUNT_SERVICES)."""
    named = [
        # Stacks, StackSets and their targets; a delegated administrator's StackSets carry the management account.
        *[_arn("cloudformation", f"stack*/{p}*", account="*") for p in prefixes],
        _arn("cloudformation", "type/resource/*", account=""),  # the handlers' schemas
    ]
    for p in prefixes:
        named += [
            _arn("cloudwatch", f"alarm:{p}*"),
            _arn("codebuild", f"*/{p}*"),  # projects and their report groups
            _arn("codepipeline", f"{p}*"),
            _arn("events", f"rule/{p}*"),
            _arn("lambda", f"function:{p}*"),
            _arn("logs", f"log-group:{p}*"),
            _arn("logs", f"log-group:/aws/*/{p}*"),  # CodeBuild's and Lambda's own log groups
        ]
    return [
        *named,
        _arn("logs", "log-group:/aws/sagemaker/*"),  # SageMaker jobs' and endpoints' logs, named by SageMaker
        *[_arn("states", f"*:{p}*") for p in prefixes],  # state machines and their executions
        _arn("apigateway", "/*", account=""),
        _arn("application-autoscaling", "scalable-target/*"),
        _arn("ecr", "repository/*"),
        _arn("sagemaker", "*"),
        _arn("sagemaker", "model-package/*", account="*"),  # a multi-account registry's packages
        _arn("scheduler", "*"),  # an open-engine monitor's schedule, named after its monitoring schedule
        _arn("sns", "*"),
    ]


def key_resources() -> str:
    """Keys of this orchestrator's accounts (the data perimeter refuses other accounts' keys in requests)."""
    return _arn("kms", "key/*", account="*")


def s3_resources(bucket_names: list[str], data_buckets: str, any_data_bucket: CfnCondition) -> list[str]:
    """The buckets the pipelines read and write: the orchestrator's (`bucket_names`), and `data_buckets` (a comma
    list; every bucket of the account when `any_data_bucket` holds, as the data perimeter allows)."""
    arn = f"arn:{Aws.PARTITION}:s3:::"
    named = [f"{arn}{name}{objects}" for name in bucket_names for objects in ("", "/*")]
    # Fn::Join takes a literal delimiter only: the listed buckets' ARNs name any partition (a bucket's name is unique
    # in its partition, and s3:ResourceAccount holds the account).
    data, any_partition = Fn.split(",", data_buckets), "arn:*:s3:::"
    named += [
        Fn.join("", [any_partition, Fn.join(f",{any_partition}", data)]),
        Fn.join("", [any_partition, Fn.join(f"/*,{any_partition}", data), "/*"]),
    ]
    return Fn.split(",", Fn.condition_if(any_data_bucket.logical_id, f"{arn}*", Fn.join(",", named)).to_string())


@dataclass(frozen=True)
class Orchestrator:
    """What no role under the boundary may change: the orchestrator's function, roles, REST API and stack."""

    function_arn: str
    role_arns: list[str]
    rest_api_id: str


# Sids of the boundary's denies that name a whole service: a Deny only narrows, and naming each action would both
# exceed the size limit and miss the actions a service adds later.
ORCHESTRATOR_GUARDS = ("OrchestratorFunctionIsFixed", "OrchestratorRolesAreFixed", "OrchestratorApiIsFixed")


def orchestrator_guard_statements(orchestrator: Orchestrator) -> list[iam.PolicyStatement]:
    """Explicit denies (they hold whatever any other policy allows: https://docs.aws.amazon.com/IAM/latest/UserGuide/
    reference_policies_evaluation-logic.html) on the orchestrator's own resources and every bucket's policy."""
    api = _arn("apigateway", f"/restapis/{orchestrator.rest_api_id}", account="")
    return [
        iam.PolicyStatement(
            sid="OrchestratorFunctionIsFixed",
            effect=iam.Effect.DENY,
            actions=["lambda:*"],
            resources=[orchestrator.function_arn, f"{orchestrator.function_arn}:*"],
        ),
        iam.PolicyStatement(
            sid="OrchestratorRolesAreFixed",
            effect=iam.Effect.DENY,
            actions=["iam:*", "sts:AssumeRole"],
            resources=list(orchestrator.role_arns),
        ),
        iam.PolicyStatement(
            sid="OrchestratorApiIsFixed", effect=iam.Effect.DENY, actions=["apigateway:*"], resources=[api, f"{api}/*"]
        ),
        iam.PolicyStatement(
            sid="OrchestratorStackIsFixed",
            effect=iam.Effect.DENY,
            actions=["cloudformation:UpdateStack", "cloudformation:DeleteStack", "cloudformation:CreateChangeSet"],
            resources=[_arn("cloudformation", f"stack/{Aws.STACK_NAME}/*")],
        ),
        iam.PolicyStatement(
            # Resource "*": no pipeline role holds these; whoever may read or write a bucket stays the owner's call.
            sid="BucketPoliciesAreFixed",
            effect=iam.Effect.DENY,
            actions=list(BUCKET_POLICY_WRITES),
            resources=["*"],
        ),
    ]


def boundary_statements(
    boundary_arn: str,
    *,
    s3: list[str],
    orchestrator: Orchestrator | None = None,
    prefixes: tuple[str, ...] = (PIPELINE_PREFIX,),
) -> list[iam.PolicyStatement]:
    """The boundary: `s3` the bucket resources it allows (`s3_resources`), `orchestrator` what it guards, `prefixes`
    how the pipelines' resources are named. Only the denies carry a Sid: every character counts against IAM's size
    limit."""
    roles = [pipeline_roles(prefix=prefix) for prefix in prefixes]
    return [
        iam.PolicyStatement(
            # A whole service per statement, on the resources above: every role's own policy names its actions.
            actions=[f"{service}:*" for service in (*NAMED_SERVICES, *ACCOUNT_SERVICES)],
            resources=pipeline_resources(prefixes),
        ),
        iam.PolicyStatement(
            actions=["s3:*"],
            resources=s3,
            conditions={"StringEquals": {"s3:ResourceAccount": Aws.ACCOUNT_ID}},
        ),
        iam.PolicyStatement(
            actions=list(KMS_ACTIONS),
            resources=[key_resources()],
            conditions={"StringEquals": {"kms:ViaService": [f"{via}.{Aws.REGION}.amazonaws.com" for via in KMS_VIA]}},
        ),
        iam.PolicyStatement(actions=[*ANY_RESOURCE_ACTIONS, *ANY_RESOURCE_PATTERNS], resources=["*"]),
        iam.PolicyStatement(actions=list(ROLE_LIFECYCLE_ACTIONS), resources=roles),
        iam.PolicyStatement(
            # The wrapper pipelines' action roles live on the artifact writers' path.
            actions=["sts:AssumeRole"],
            resources=[*roles, pipeline_roles(ARTIFACT_WRITERS_PATH)],
        ),
        iam.PolicyStatement(
            actions=list(ROLE_PERMISSION_WRITES),
            resources=roles,
            conditions=with_boundary(boundary_arn),
        ),
        iam.PolicyStatement(
            actions=["iam:PassRole"],
            resources=roles,
            conditions={"StringEquals": {"iam:PassedToService": list(PASSED_TO)}},
        ),
        iam.PolicyStatement(
            actions=["iam:CreateServiceLinkedRole"],
            resources=[
                f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/aws-service-role/{AUTOSCALING_SERVICE}/"
                "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
            ],
            conditions={"StringEquals": {"iam:AWSServiceName": AUTOSCALING_SERVICE}},
        ),
        *guard_statements(boundary_arn),
        *(orchestrator_guard_statements(orchestrator) if orchestrator else []),
    ]


# The boundary of the stacks a StackSet deploys into the stage accounts: the same policy in each stage account, under
# this name, which the stage blueprints' roles carry (catalogue/shared.boundary gives its ARN).
STAGE_BOUNDARY_NAME = STAGE_BOUNDARY_POLICY_NAME
# A StackSet's instance in an account is the stack `StackSet-<StackSet name>-<UUID>`, and the pipelines' StackSets
# are named after their pipelines: what CloudFormation names in a stage account begins with the second prefix, what
# a blueprint names itself with the first.
STAGE_PREFIXES = (PIPELINE_PREFIX, f"StackSet-{PIPELINE_PREFIX}")
# What a stage account's roles read of the orchestrator's account: its buckets' objects and its repository's images.
ORCHESTRATOR_READS = ("s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket")
REPOSITORY_READS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")


def stage_boundary_statements(
    boundary_arn: str, *, orchestrator_buckets: list[str], repository_arn: str
) -> list[iam.PolicyStatement]:
    """The boundary in a stage account: the pipelines' resources of that account (the pseudo parameters are the stage
    account's where the StackSet deploys it), any bucket of that account, the orchestrator's `orchestrator_buckets`
    and repository read-only; of the guards only those of the boundary itself (the orchestrator lives elsewhere)."""
    own_buckets = f"arn:{Aws.PARTITION}:s3:::*"
    statements = boundary_statements(boundary_arn, s3=[own_buckets, f"{own_buckets}/*"], prefixes=STAGE_PREFIXES)
    arn = f"arn:{Aws.PARTITION}:s3:::"
    statements.insert(
        2,
        iam.PolicyStatement(
            actions=list(ORCHESTRATOR_READS),
            resources=[f"{arn}{name}{objects}" for name in orchestrator_buckets for objects in ("", "/*")],
        ),
    )
    statements.insert(3, iam.PolicyStatement(actions=list(REPOSITORY_READS), resources=[repository_arn]))
    return statements


def stage_boundary_arn(account_id: str, partition: str = Aws.PARTITION) -> str:
    return f"arn:{partition}:iam::{account_id}:policy/{STAGE_BOUNDARY_NAME}"


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
