# SPDX-License-Identifier: Apache-2.0
"""The orchestrator's buckets: server access logs, assets (unless an existing bucket is given), blueprints."""

from __future__ import annotations

from aws_cdk import Aws, CfnCondition, Fn, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infrastructure.checkov import skip_checks
from infrastructure.nag import acknowledge
from lambdas.pipeline_orchestration.catalogue import ARTIFACT_WRITERS_PATH
from lambdas.pipeline_orchestration.planner import PROVISIONED_PREFIX
from lambdas.pipeline_orchestration.rules import BLUEPRINTS_PREFIX

from . import permissions
from .conditional import only_if
from .logical_ids import StackLevel
from .stage_access import stage_read

# Writes to the objects a pipeline deploys from: reserved to the orchestrator (see the assets bucket's policy).
PIPELINE_OBJECT_WRITES = (
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:PutObjectTagging",
    "s3:DeleteObjectTagging",
)


def secure_bucket(scope: Construct, construct_id: str, **kwargs) -> s3.Bucket:
    return s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        versioned=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        removal_policy=RemovalPolicy.RETAIN,
        **kwargs,
    )


def artifact_writers() -> str:
    """The wrapper pipelines' own roles (their IAM path), the only principals that write pipeline artifacts.

    `aws:PrincipalArn` is the role's ARN, path included, for a request signed with the role's session
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns)."""
    return permissions.arn("iam", f"role{ARTIFACT_WRITERS_PATH}*", region="")


class Storage(StackLevel):
    """The access-logs bucket, the assets bucket (created when `create_assets_bucket` holds, else
    `existing_assets_bucket`), the blueprints bucket and the pipelines' artifact bucket; `stage_accounts` may read
    assets and blueprints."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        create_assets_bucket: CfnCondition,
        existing_assets_bucket: str,
        stage_accounts: list[str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs_bucket = secure_bucket(self, "AccessLogsBucket")
        skip_checks(
            self.access_logs_bucket,
            (
                "CKV_AWS_18",
                "This bucket receives the other buckets' server access logs; logging it into itself would loop",
            ),
        )
        acknowledge(
            self.access_logs_bucket,
            (
                "AwsSolutions-S1",
                "This bucket receives the server access logs of the other buckets; logging it into itself would loop.",
            ),
        )

        self.created_assets = created_assets = secure_bucket(self, "AssetsS3Bucket")
        # Logging configured on the L1 so that the access-log bucket's policy names the bucket by its name,
        # not by a reference to a resource that does not exist when ExistingS3Bucket is used.
        assets_cfn = created_assets.node.default_child
        # Pipelines start when their template.zip changes: the S3 source actions listen through EventBridge.
        # (Set on the L1: CDK's event_bridge_enabled would add a notifications custom resource for it.)
        assets_cfn.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
        )
        assets_cfn.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
            destination_bucket_name=self.access_logs_bucket.bucket_name, log_file_prefix="assets_bucket_access_logs/"
        )
        self.assets_bucket_name = Fn.condition_if(
            create_assets_bucket.logical_id, created_assets.bucket_name, existing_assets_bucket
        ).to_string()
        self.access_logs_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AssetsBucketServerAccessLogs",
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[self.access_logs_bucket.arn_for_objects("assets_bucket_access_logs/*")],
                conditions={
                    "ArnLike": {"aws:SourceArn": permissions.bucket_arn(self.assets_bucket_name)},
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                },
            )
        )

        self.blueprints_bucket = secure_bucket(
            self,
            "BlueprintRepository",
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="blueprint_repository_bucket_access_logs/",
        )

        # -- CodePipeline's artifacts: a bucket of their own, created whatever ExistingS3Bucket says, so that its
        # policy (below) is always the solution's and no request-scoped grant on the assets bucket reaches it.
        self.artifact_bucket = secure_bucket(
            self,
            "PipelineArtifactsBucket",
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="pipeline_artifacts_bucket_access_logs/",
        )
        self.artifact_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="ArtifactsOnlyByPipelineRoles",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=list(PIPELINE_OBJECT_WRITES),
                resources=[self.artifact_bucket.arn_for_objects("*")],
                conditions={"ArnNotLike": {"aws:PrincipalArn": artifact_writers()}},
            )
        )

        if stage_accounts:
            # The stages read models and data under the users' prefixes, never what a pipeline deploys (its template
            # reaches a stage only through the orchestrator's StackSet deployer), and of the blueprints only the
            # functions' code and the monitoring engine under blueprints/.
            created_assets.add_to_resource_policy(
                stage_read("StageAccountsRead", stage_accounts, ["s3:GetObject"], [created_assets.arn_for_objects("*")])
            )
            created_assets.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="StageAccountsNeverReadPipelineSources",
                    effect=iam.Effect.DENY,
                    principals=[iam.AccountPrincipal(account) for account in stage_accounts],
                    actions=["s3:GetObject", "s3:GetObjectVersion"],
                    resources=[
                        created_assets.arn_for_objects(f"{PROVISIONED_PREFIX}/*"),
                        created_assets.arn_for_objects(f"{permissions.PIPELINE_PREFIX}*"),
                    ],
                )
            )
            self.blueprints_bucket.add_to_resource_policy(
                stage_read(
                    "StageAccountsRead",
                    stage_accounts,
                    ["s3:GetObject"],
                    [self.blueprints_bucket.arn_for_objects(f"{BLUEPRINTS_PREFIX}/*")],
                    deployer=True,
                )
            )
        only_if(create_assets_bucket, created_assets)

    def reserve_pipeline_objects(self, orchestrator_role_arn: str) -> None:
        """A pipeline deploys only a template the orchestrator wrote: nobody else may write its source objects,
        nor, besides the pipelines' own roles, the artifacts a pipeline passes between its stages."""
        writes = list(PIPELINE_OBJECT_WRITES)
        self.created_assets.add_to_resource_policy(
            iam.PolicyStatement(
                sid="PipelineSourcesOnlyByOrchestrator",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=writes,
                resources=[self.created_assets.arn_for_objects(f"{PROVISIONED_PREFIX}/*")],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": orchestrator_role_arn}},
            )
        )
        self.created_assets.add_to_resource_policy(
            iam.PolicyStatement(
                # CodePipeline keeps artifacts under the first 20 characters of the pipeline's name (the image
                # builder's, and pipelines created before the artifact bucket existed).
                sid="PipelineArtifactsOnlyByPipelines",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=writes,
                resources=[self.created_assets.arn_for_objects(f"{permissions.PIPELINE_PREFIX}*")],
                conditions={
                    "ArnNotLike": {
                        # Not `role/mlops-pipeline*`: the pipelines' job roles match that too.
                        "aws:PrincipalArn": [orchestrator_role_arn, artifact_writers()]
                    }
                },
            )
        )
