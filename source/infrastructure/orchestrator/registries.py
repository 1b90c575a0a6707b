# SPDX-License-Identifier: Apache-2.0
"""The registries pipelines use: the container images of custom algorithms, and the model package group."""

from __future__ import annotations

from aws_cdk import Aws, CfnCondition, Duration, Fn, RemovalPolicy
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from infrastructure.checkov import skip_checks

from . import permissions
from .conditional import only_if
from .logical_ids import StackLevel
from .stage_access import stage_read, stage_roles


class ContainerRegistry(StackLevel):
    """Custom algorithm images: a new repository when `create` holds, else the `existing` one;
    `stage_accounts` may pull its images."""

    def __init__(
        self, scope: Construct, construct_id: str, *, create: CfnCondition, existing: str, stage_accounts: list[str]
    ) -> None:
        super().__init__(scope, construct_id)
        # Immutable tags: an image a model or job names cannot be replaced behind it; a rebuild takes a new tag.
        # Tagged images are never expired (deployed models run them); untagged ones are left by failed pushes.
        repository = ecr.Repository(
            self,
            "ECRRepo",
            image_scan_on_push=True,
            image_tag_mutability=ecr.TagMutability.IMMUTABLE,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                ecr.LifecycleRule(
                    description="Expire untagged images (left by failed pushes) 30 days after their push",
                    tag_status=ecr.TagStatus.UNTAGGED,
                    max_image_age=Duration.days(30),
                )
            ],
        )
        skip_checks(
            repository,
            (
                "CKV_AWS_136",
                "ECR encrypts images at rest (AES-256); the images hold algorithm code, not data, and a customer "
                "managed key would need a key policy for every account that pulls them",
            ),
        )
        if stage_accounts:
            repository.add_to_resource_policy(
                stage_read(
                    "StageAccountsPull",
                    stage_accounts,
                    [
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

    def grant_tag_reads(self, role: iam.IRole) -> iam.Policy:
        """`role` may read which tags exist in the repositories of this account: a build of an existing tag is
        refused before anything is written. Every repository, as AllowedImageRepositories is a list of names that
        CloudFormation cannot turn into ARNs (a join's delimiter is a literal); DescribeImages reads tags and
        digests, never layers."""
        return iam.Policy(
            self,
            "ImageTagReads",
            roles=[role],
            statements=[
                iam.PolicyStatement(actions=["ecr:DescribeImages"], resources=[permissions.arn("ecr", "repository/*")])
            ],
        )


class DockerHubCache(StackLevel):
    """An ECR pull-through cache rule for Docker Hub under `PREFIX`, created when `secret_arn` is given: image
    builds pull Docker Hub base images through the account's registry with the secret's Docker Hub credentials,
    not anonymously (Docker Hub limits anonymous pulls).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecr-pullthroughcacherule.html
    https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-creating-rule.html
    """

    PREFIX = "mlops-docker-hub"
    UPSTREAM = "registry-1.docker.io"  # Docker Hub's registry URL for ECR

    def __init__(self, scope: Construct, construct_id: str, *, secret_arn: str) -> None:
        super().__init__(scope, construct_id)
        self.created = CfnCondition(
            self, "DockerHubCacheCreated", expression=Fn.condition_not(Fn.condition_equals(secret_arn, ""))
        )
        rule = ecr.CfnPullThroughCacheRule(
            self,
            "DockerHubPullThroughCache",
            ecr_repository_prefix=self.PREFIX,
            upstream_registry="docker-hub",
            upstream_registry_url=self.UPSTREAM,
            credential_arn=secret_arn,
        )
        only_if(self.created, rule)
        # What the orchestrator tells the builds: the prefix when the rule exists, else empty.
        self.prefix = Fn.condition_if(self.created.logical_id, self.PREFIX, "").to_string()


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
                        # CloudFormation's CreateModel from a package is the StackSets' execution role's call.
                        "Condition": {"ArnLike": {"aws:PrincipalArn": stage_roles(stage_accounts, deployer=True)}},
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
