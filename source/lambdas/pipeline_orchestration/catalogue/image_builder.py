# SPDX-License-Identifier: Apache-2.0
"""The custom algorithm image builder (byom_custom_algorithm_image_builder.yaml)."""

from __future__ import annotations

from ..rules import ECR_REPO_NAME, AssetKey, Name
from ..spec import Blueprint, Field, Kept, PipelineType, StageView
from . import parameters as P
from .shared import BOUNDARY_PARAMETER, boundary


def build_image_builder(view: StageView) -> dict[str, str]:
    return {
        "NotificationsSNSTopicArn": view.settings.sns_topic_arn,
        "AssetsBucket": view.settings.assets_bucket,
        "CustomImage": view.text("custom_algorithm_docker"),
        "ECRRepoName": view.text("ecr_repo_name"),
        "ImageTag": view.text("image_tag"),
        BOUNDARY_PARAMETER: boundary(view),
    }


IMAGE_BUILDER = Blueprint(
    "byom_custom_algorithm_image_builder.yaml",
    (
        P.NOTIFICATIONS_TOPIC_ARN,
        P.ASSETS_BUCKET,
        P.CUSTOM_IMAGE,
        P.ECR_REPO_NAME,
        P.IMAGE_TAG,
        P.PERMISSIONS_BOUNDARY_ARN,
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
            Field("ecr_repo_name", ECR_REPO_NAME, True, doc="ECR repository to push to."),
            Field("image_tag", Name(max_len=128), True, doc="Tag of the image; also names the stack."),
        ),
        build_image_builder,
        own_account_only=True,
        direct_stack=True,
        name_field="image_tag",
        description="Builds a custom algorithm image with CodeBuild and pushes it to ECR.",
        keeps=(Kept("image_tag", "container image", "image"),),
    ),
)
