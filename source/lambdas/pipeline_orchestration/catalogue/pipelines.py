# SPDX-License-Identifier: Apache-2.0
"""The CodePipeline wrapper stacks that deploy a blueprint (one account, or dev/staging/prod StackSets)."""

from __future__ import annotations

from ..spec import Blueprint
from .shared import BOUNDARY_PARAMETER

SINGLE_ACCOUNT_PIPELINE = Blueprint(
    "single_account_codepipeline.yaml",
    (
        "TemplateZipFileName",
        "TemplateFileName",
        "TemplateParamsName",
        "AssetsBucket",
        "StackName",
        "NotificationsSNSTopicArn",
        BOUNDARY_PARAMETER,
    ),
)
MULTI_ACCOUNT_PIPELINE = Blueprint(
    "multi_account_codepipeline.yaml",
    (
        "TemplateZipFileName",
        "TemplateFileName",
        "DevParamsName",
        "StagingParamsName",
        "ProdParamsName",
        "NotificationsSNSTopicArn",
        "DevAccountId",
        "DevOrgId",
        "StagingAccountId",
        "StagingOrgId",
        "ProdAccountId",
        "ProdOrgId",
        "BlueprintBucket",
        "AssetsBucket",
        "StackName",
        "DelegatedAdminAccount",
        BOUNDARY_PARAMETER,
    ),
)
