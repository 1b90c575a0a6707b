# SPDX-License-Identifier: Apache-2.0
"""The custom algorithm image builder (byom_custom_algorithm_image_builder.yaml)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..rules import ECR_REPO_NAME, AssetKey, BoolText, Name, Pattern
from ..settings import Settings
from ..spec import Blueprint, Field, Kept, PipelineType, StageView
from . import parameters as P
from .shared import (
    BOUNDARY_PARAMETER,
    SECURITY_GROUP_IDS,
    SUBNET_IDS,
    _given,
    boundary,
    check_network,
    isolation_refused,
    network,
)

# CodeBuild's VPC configuration names the VPC besides its subnets.
VPC_ID = Field(
    "vpc_id",
    Pattern(pattern=P.VPC_ID, hint="must be a VPC id: vpc- and 8 or 17 hex digits", allow_empty=True),
    doc="VPC of subnet_ids (CodeBuild needs it); default: the orchestrator's.",
)


def _check_vpc_id(values: Mapping[str, Any], _: Settings) -> list[tuple[str, str]]:
    if "vpc_id" not in values or "subnet_ids" not in values:
        return []  # broken, and reported as such
    if _given(values, "subnet_ids") and not _given(values, "vpc_id"):
        return [("vpc_id", "is required with subnet_ids: CodeBuild's VPC configuration names the VPC")]
    if _given(values, "vpc_id") and not _given(values, "subnet_ids"):
        return [("subnet_ids", "is required with vpc_id: the build runs in subnets of that VPC")]
    return []


def _check_repository(values: Mapping[str, Any], settings: Settings) -> list[tuple[str, str]]:
    """Builds push only to the orchestrator's repository or those the operator lists (AllowedImageRepositories)."""
    name = values.get("ecr_repo_name")
    allowed = settings.image_repositories
    if not isinstance(name, str) or not name or name in allowed:
        return []
    listed = ", ".join(allowed[1:]) or "none"
    return [
        (
            "ecr_repo_name",
            f"must be the orchestrator's repository {settings.ecr_repo_name} or one the stack parameter "
            f"AllowedImageRepositories lists (listed: {listed}); '{name}' is neither",
        )
    ]


def repository_arn(settings: Settings, name: str) -> str:
    partition = settings.ecr_repo_arn.split(":")[1] if settings.ecr_repo_arn.startswith("arn:") else "aws"
    return f"arn:{partition}:ecr:{settings.region}:{settings.account_id}:repository/{name}"


def _docker_hub_cache(view: StageView) -> str:
    """The cache prefix the build resolves Docker Hub FROM lines through; empty when opted out or absent."""
    return view.settings.docker_hub_cache_prefix if view.text("use_docker_hub_cache") == "True" else ""


def _build_network(view: StageView) -> dict[str, str]:
    vpc = view.text("vpc_id") if view.get("subnet_ids") else view.settings.vpc_id
    return {**network(view), P.VPC_ID_PARAMETER.name: vpc}


def build_image_builder(view: StageView) -> dict[str, str]:
    repositories = view.settings.image_repositories
    return {
        "NotificationsSNSTopicArn": view.settings.sns_topic_arn,
        "AssetsBucket": view.settings.assets_bucket,
        P.ARTIFACT_BUCKET.name: view.settings.artifact_bucket,
        "CustomImage": view.text("custom_algorithm_docker"),
        "ECRRepoName": view.text("ecr_repo_name"),
        "ImageTag": view.text("image_tag"),
        P.IMAGE_REPOSITORY_ARNS.name: ",".join(repository_arn(view.settings, name) for name in repositories),
        P.DOCKER_HUB_CACHE_PREFIX.name: _docker_hub_cache(view),
        BOUNDARY_PARAMETER: boundary(view),
        **_build_network(view),
    }


IMAGE_BUILDER = Blueprint(
    "byom_custom_algorithm_image_builder.yaml",
    (
        P.NOTIFICATIONS_TOPIC_ARN,
        P.ASSETS_BUCKET,
        P.ARTIFACT_BUCKET,
        P.CUSTOM_IMAGE,
        P.ECR_REPO_NAME,
        P.IMAGE_TAG,
        P.IMAGE_REPOSITORY_ARNS,
        P.DOCKER_HUB_CACHE_PREFIX,
        P.PERMISSIONS_BOUNDARY_ARN,
        P.VPC_ID_PARAMETER,
        *P.NETWORK,
    ),
)


TYPES = (
    PipelineType(
        "byom_image_builder",
        "BYOMPipelineImageBuilder",
        IMAGE_BUILDER,
        (
            Field(
                "custom_algorithm_docker",
                AssetKey(),
                True,
                doc="Key of a zip (Dockerfile and assets) in the assets bucket.",
            ),
            Field(
                "ecr_repo_name",
                ECR_REPO_NAME,
                True,
                doc="ECR repository to push to: the orchestrator's, or one of AllowedImageRepositories.",
            ),
            Field(
                "image_tag",
                Name(max_len=128),
                True,
                doc="Tag of the image; also names the stack. Tags are immutable: a tag that exists is refused.",
            ),
            Field(
                "use_docker_hub_cache",
                BoolText(),
                default="True",
                doc="Pull Docker Hub base images through the orchestrator's pull-through cache when it has one.",
            ),
            VPC_ID,
            SUBNET_IDS,
            SECURITY_GROUP_IDS,
            # CodeBuild has no network isolation: the build pulls base images and packages over the network.
            isolation_refused("CodeBuild has no network isolation; the build needs the network to pull and push"),
        ),
        build_image_builder,
        (check_network, _check_vpc_id, _check_repository),
        own_account_only=True,
        direct_stack=True,
        name_field="image_tag",
        description="Builds a custom algorithm image with CodeBuild and pushes it to ECR.",
        keeps=(Kept("image_tag", "container image", "image"),),
    ),
)
