# SPDX-License-Identifier: Apache-2.0
"""What the real-time and batch blueprints share: their conditions, the SageMaker execution role, the Model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Aws, CfnCondition, CfnParameter, CfnResource, CfnTag, Fn, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker

from infrastructure.blueprints.functions import (
    KMS_FOR_JOBS,
    kms_via_services,
    provided,
    s3_arn,
    s3_uri,
    sagemaker_arn,
)
from infrastructure.blueprints.network import declare_network
from infrastructure.checkov import skip_checks
from infrastructure.nag import acknowledge
from infrastructure.trust import from_this_account


def no_value() -> str:
    return Aws.NO_VALUE


def if_(condition: CfnCondition, yes: Any, no: Any) -> Any:
    return Fn.condition_if(condition.logical_id, yes, no)


def if_str(condition: CfnCondition, yes: Any, no: Any) -> str:
    return Token.as_string(Fn.condition_if(condition.logical_id, yes, no))


@dataclass
class ModelParts:
    role: iam.Role
    model: sagemaker.CfnModel
    policies: list[iam.CfnPolicy]
    kms: CfnCondition
    registry: CfnCondition


def conditional_policy(
    stack: Stack, construct_id: str, role: iam.Role, condition: CfnCondition, statements: list[dict[str, Any]]
) -> iam.CfnPolicy:
    """An inline policy that exists only when its feature is on."""
    policy = iam.CfnPolicy(
        stack,
        construct_id,
        policy_name=construct_id,
        roles=[role.role_name],
        policy_document={"Version": "2012-10-17", "Statement": statements},
    )
    policy.cfn_options.condition = condition
    return policy


def after_policies(stack: Stack, construct_id: str, policies: list[iam.CfnPolicy]) -> CfnResource:
    """A resource that exists once every (conditional) policy does: depend on it to start after them.

    DependsOn cannot name a resource whose condition may be false; a reference inside Fn::If can."""
    gate = CfnResource(stack, construct_id, type="AWS::CloudFormation::WaitConditionHandle")
    gate.add_metadata(
        "Policies",
        [Fn.condition_if(policy.cfn_options.condition.logical_id, policy.ref, "") for policy in policies],
    )
    return gate


def sagemaker_model(stack: Stack, p: dict[str, CfnParameter]) -> ModelParts:
    """The execution role (model read, ECR pull, KMS when given) and the Model: image + artifact, or package."""
    kms = provided(stack, "KmsKeyProvided", p["KmsKeyArn"])
    ecr = provided(stack, "CustomECRRepoProvided", p["CustomAlgorithmsECRRepoArn"])
    registry = provided(stack, "ModelRegistryProvided", p["ModelPackageName"])
    package_artifacts = provided(stack, "ModelPackageArtifactsProvided", p["ModelPackageArtifacts"])
    artifact_only = CfnCondition(stack, "ModelArtifactGiven", expression=Fn.condition_not(registry))
    assets = p["AssetsBucket"].value_as_string
    group = p["ModelPackageGroupName"].value_as_string

    role = iam.Role(
        stack,
        "SageMakerRole",
        # SageMaker's guide documents aws:SourceAccount for the roles of models (infrastructure/trust.py).
        assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com").with_conditions(from_this_account()),
        description="Execution role of the pipeline's SageMaker model",
        inline_policies={
            "ModelAndLogs": iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(
                        sid="Logs",
                        actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                        resources=[
                            f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:/aws/sagemaker/*"
                        ],
                    ),
                    iam.PolicyStatement(
                        sid="Metrics",
                        actions=["cloudwatch:PutMetricData"],
                        # PutMetricData has no resource; the namespace condition limits it to SageMaker's.
                        resources=["*"],
                        conditions={"StringLike": {"cloudwatch:namespace": ["AWS/SageMaker", "/aws/sagemaker/*"]}},
                    ),
                ]
            )
        },
    )
    policies = [
        conditional_policy(
            stack,
            "CustomImagePull",
            role,
            ecr,
            [
                {
                    "Effect": "Allow",
                    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                    "Resource": p["CustomAlgorithmsECRRepoArn"].value_as_string,
                },
                # GetAuthorizationToken has no resource: it returns the registry login, not an image.
                {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            ],
        ),
        conditional_policy(
            stack,
            "EncryptionKey",
            role,
            kms,
            [
                {
                    "Effect": "Allow",
                    "Action": KMS_FOR_JOBS,
                    "Resource": p["KmsKeyArn"].value_as_string,
                    "Condition": kms_via_services("sagemaker", "s3"),
                }
            ],
        ),
        conditional_policy(
            stack,
            "ModelRegistryRead",
            role,
            registry,
            [
                {
                    "Effect": "Allow",
                    "Action": ["sagemaker:DescribeModelPackage", "sagemaker:DescribeModelPackageGroup"],
                    "Resource": [
                        sagemaker_arn(f"model-package/{group}/*"),
                        sagemaker_arn(f"model-package-group/{group}"),
                    ],
                }
            ],
        ),
    ]
    # The model reads its artifact and nothing else of the buckets: the request's key in the assets bucket, or the
    # objects the registered package names (read by the orchestrator before planning, inside its buckets).
    policies += [
        conditional_policy(
            stack,
            "ModelArtifactRead",
            role,
            artifact_only,
            [
                {
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": s3_arn(Fn.join("/", [assets, p["ModelArtifactLocation"].value_as_string])),
                }
            ],
        ),
        conditional_policy(
            stack,
            "ModelPackageArtifactsRead",
            role,
            package_artifacts,
            [
                {
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": Fn.split(",", p["ModelPackageArtifacts"].value_as_string),
                }
            ],
        ),
    ]
    network = declare_network(stack, p)
    policies.append(network.grant(role, "VpcAccess"))
    model = sagemaker.CfnModel(
        stack,
        "Model",
        execution_role_arn=role.role_arn,
        vpc_config=network.vpc_config(),
        enable_network_isolation=network.isolation(),
        primary_container=if_(
            registry,
            {"ModelPackageName": p["ModelPackageName"].value_as_string},
            {
                "Image": p["ImageUri"].value_as_string,
                "ModelDataUrl": s3_uri(Fn.join("/", [assets, p["ModelArtifactLocation"].value_as_string])),
            },
        ),
        tags=[CfnTag(key="model_name", value=p["ModelName"].value_as_string)],
    )
    model.node.add_dependency(after_policies(stack, "ModelPermissions", policies))
    skip_checks(
        model,
        (
            "CKV_AWS_370",
            "Network isolation is the request's choice (enable_network_isolation): the container may be the "
            "user's own image that calls AWS at run time. The model runs with its own least-privilege role",
        ),
    )
    acknowledge(
        role,
        (
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/sagemaker/*]",
            "SageMaker writes to log groups it names after the endpoint or job, under /aws/sagemaker/",
        ),
        (
            "AwsSolutions-IAM5[Resource::*]",
            "cloudwatch:PutMetricData has no resource-level permissions (limited to SageMaker's namespaces); "
            "ecr:GetAuthorizationToken has none either",
        ),
    )
    acknowledge(
        policies[0], ("AwsSolutions-IAM5[Resource::*]", "ecr:GetAuthorizationToken has no resource-level permissions")
    )
    acknowledge(
        policies[2],
        (
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:"
            "model-package/<ModelPackageGroupName>/*]",
            "Any version of the pipeline's model package group: the version deployed is chosen per request",
        ),
    )
    return ModelParts(role, model, policies, kms, registry)
