# SPDX-License-Identifier: Apache-2.0
"""The CodePipeline wrapper stacks that deploy a blueprint (one account, or dev/staging/prod StackSets)."""

from __future__ import annotations

from ..spec import Blueprint
from . import parameters as P

SINGLE_ACCOUNT_PIPELINE = Blueprint(
    "single_account_codepipeline.yaml",
    (
        P.TEMPLATE_ZIP_FILE_NAME,
        P.TEMPLATE_FILE_NAME,
        P.TEMPLATE_PARAMS_NAME,
        P.ASSETS_BUCKET,
        P.ARTIFACT_BUCKET,
        P.BLUEPRINT_BUCKET,
        P.STACK_NAME,
        P.NOTIFICATIONS_TOPIC_ARN,
        P.PERMISSIONS_BOUNDARY_ARN,
    ),
)
MULTI_ACCOUNT_PIPELINE = Blueprint(
    "multi_account_codepipeline.yaml",
    (
        P.TEMPLATE_ZIP_FILE_NAME,
        P.TEMPLATE_FILE_NAME,
        P.DEV_PARAMS_NAME,
        P.STAGING_PARAMS_NAME,
        P.PROD_PARAMS_NAME,
        P.NOTIFICATIONS_TOPIC_ARN,
        P.DEV_ACCOUNT_ID,
        P.DEV_ORG_ID,
        P.STAGING_ACCOUNT_ID,
        P.STAGING_ORG_ID,
        P.PROD_ACCOUNT_ID,
        P.PROD_ORG_ID,
        P.BLUEPRINT_BUCKET,
        P.ASSETS_BUCKET,
        P.ARTIFACT_BUCKET,
        P.STACK_NAME,
        P.DELEGATED_ADMIN_ACCOUNT,
        P.PERMISSIONS_BOUNDARY_ARN,
    ),
)
