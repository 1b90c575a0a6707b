# SPDX-License-Identifier: Apache-2.0
"""The registries pipelines use: the container images of custom algorithms, and the model package group."""

from __future__ import annotations

from aws_cdk import Aws, CfnCondition, Fn, RemovalPolicy
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from infrastructure.checkov import skip_checks

from . import permissions
from .conditional import only_if
from .logical_ids import StackLevel


class ContainerRegistry(StackLevel):
    """Custom algorithm images: a new repository when `create` holds, else the `existing` one;
    `stage_accounts` may pull its images."""

    def __init__(
        self, scope: Construct, construct_id: str, *, create: CfnCondition, existing: str, stage_accounts: list[str]
    ) -> None:
        super().__init__(scope, construct_id)
        repository = ecr.Repository(self, "ECRRepo", image_scan_on_push=True, removal_policy=RemovalPolicy.RETAIN)
        skip_checks(
            repository,
            (
                "CKV_AWS_136",
                "ECR encrypts images at rest (AES-256); the images hold algorithm code, not data, and a customer "
                "managed key would need a key policy for every account that pulls them",
            ),
            (
                "CKV_AWS_51",
                "The image-builder pipeline pushes the user's ImageTag again on every change of the image's source; "
                "immutable tags would fail each rebuild",
            ),
        )
        if stage_accounts:
            repository.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="StageAccountsPull",
                    principals=[iam.AccountPrincipal(account) for account in stage_accounts],
                    actions=[
                        "ecr:DescribeImages",
                        "ecr:DescribeRepositories",
                        "ecr:GetDownloadUrlForLayer",
                        "ecr:BatchGetImage",
                        "ecr:BatchCheckLayerAvailability",
                    ],
                )
            )
        only_if(create, repository)
        self.repository_name = Fn.condition_if(create.logical_id, repository.repository_name, existing).to_string()
        self.repository_arn = Fn.condition_if(
            create.logical_id,
            repository.repository_arn,
            permissions.arn("ecr", f"repository/{existing}"),
        ).to_string()


class ModelRegistry(StackLevel):
    """The optional model package group (when `create` holds), kept on delete: it holds the user's model
    versions; `stage_accounts` may use it."""

    def __init__(self, scope: Construct, construct_id: str, *, create: CfnCondition, stage_accounts: list[str]) -> None:
        super().__init__(scope, construct_id)
        # First 8 hex digits of the stack's UUID: stable for the stack's life, no random value at synth time.
        suffix = Fn.select(0, Fn.split("-", Fn.select(2, Fn.split("/", Aws.STACK_ID))))
        self.group_name = Fn.join("", ["mlops-model-registry-", suffix])
        group = sagemaker.CfnModelPackageGroup(
            self,
            "ModelRegistry",
            model_package_group_name=self.group_name,
            model_package_group_description="MLOps model registry",
        )
        group.apply_removal_policy(RemovalPolicy.RETAIN)
        if stage_accounts:
            group_arn = permissions.arn("sagemaker", f"model-package-group/{self.group_name}")
            package_arn = permissions.arn("sagemaker", f"model-package/{self.group_name}/*")
            group.model_package_group_policy = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "StageAccountsUseModelGroup",
                        "Effect": "Allow",
                        "Principal": {
                            "AWS": [f"arn:{Aws.PARTITION}:iam::{account}:root" for account in stage_accounts]
                        },
                        "Action": [
                            "sagemaker:CreateModel",
                            "sagemaker:DescribeModelPackage",
                            "sagemaker:DescribeModelPackageGroup",
                            "sagemaker:ListModelPackages",
                            "sagemaker:UpdateModelPackage",
                        ],
                        "Resource": [group_arn, package_arn],
                    }
                ],
            }
        only_if(create, group)
        self.group = group
