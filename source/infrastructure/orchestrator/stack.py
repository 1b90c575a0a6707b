# SPDX-License-Identifier: Apache-2.0
"""The orchestrator stack: the IAM-authorized REST API, the orchestrator Lambda, its buckets, topic and triggers.

One class, two templates: `multi_account=False` deploys every pipeline into this account; `multi_account=True`
adds the dev/staging/prod targets and lets the stage accounts read what their StackSets deploy. Each part is a
construct of this package; the stack declares the parameters and wires the parts together.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Fn, Stack
from constructs import Construct

from infrastructure.boundary import Orchestrator
from infrastructure.distribution import Distribution
from infrastructure.nag import acknowledge

from .api import OrchestratorApi
from .blueprint_copy import BlueprintCopy
from .bucket_check import AssetsBucketEventsCheck
from .config_triggers import CodeCommitTrigger, ConfigBucketTrigger, ConnectionTrigger
from .function import OrchestratorFunction
from .index_table import PipelineIndexTable
from .log_encryption import LogsKey
from .logical_ids import keep_stack_level_logical_ids
from .notifications import Notifications
from .parameters import STAGE_NAMES, OrchestratorConditions, OrchestratorParameters
from .pipeline_events import PipelineEvents
from .pipeline_stack_roles import PipelineStackRoles
from .registries import ContainerRegistry, DockerHubCache, ModelRegistry
from .stage_boundary import StageBoundary
from .storage import Storage


class OrchestratorStack(Stack):
    """The MLOps orchestrator: what a platform engineer deploys once per account (or per Organization)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        multi_account: bool,
        distribution: Distribution | None = None,
        **kwargs,
    ) -> None:
        mode = "Multi Account" if multi_account else "Single Account"
        distribution = distribution or Distribution()
        kwargs.setdefault(
            "description",
            f"MLOps orchestrator for Amazon SageMaker ({mode} Option). Version {distribution.version}",
        )
        super().__init__(scope, construct_id, **kwargs)
        parameters = OrchestratorParameters.declare(self, multi_account)
        conditions = OrchestratorConditions.declare(self, parameters)
        stage_accounts = (
            [parameters.stages[stage].account_id.value_as_string for stage in STAGE_NAMES] if parameters.stages else []
        )

        storage = Storage(
            self,
            "Storage",
            create_assets_bucket=conditions.create_bucket,
            existing_assets_bucket=parameters.existing_bucket.value_as_string,
            stage_accounts=stage_accounts,
        )
        AssetsBucketEventsCheck(
            self,
            "ExistingAssetsBucketCheck",
            condition=conditions.existing_bucket_provided,
            bucket_name=parameters.existing_bucket.value_as_string,
        )
        index = PipelineIndexTable(self, "Index")
        # -- Every log group of the stack is encrypted with the stack's own key
        LogsKey(self, "Logs")
        notifications = Notifications(
            self, "Notifications", notification_email=parameters.notification_email.value_as_string
        )
        images = ContainerRegistry(
            self,
            "ContainerRegistry",
            create=conditions.create_ecr_repo,
            existing=parameters.existing_ecr_repo.value_as_string,
            stage_accounts=stage_accounts,
        )
        docker_hub = DockerHubCache(
            self, "DockerHubCache", secret_arn=parameters.images.docker_hub_secret.value_as_string
        )
        models = ModelRegistry(self, "Models", create=conditions.create_model_registry, stage_accounts=stage_accounts)
        roles = PipelineStackRoles(
            self,
            "PipelineStackRoles",
            create_boundary=conditions.create_permissions_boundary,
            existing_boundary_arn=parameters.permissions_boundary.value_as_string,
            topic_arn=notifications.topic.topic_arn,
            blueprints_bucket_arn=storage.blueprints_bucket.bucket_arn,
            bucket_names=[
                storage.assets_bucket_name,
                storage.artifact_bucket.bucket_name,
                storage.blueprints_bucket.bucket_name,
            ],
            data_buckets=parameters.perimeter.by_variable["ALLOWED_DATA_BUCKETS"].value_as_string,
        )
        # "Default": CDK leaves this construct out of logical IDs and unique names, so the function keeps the
        # names it had at the stack's root, as do the invoke permissions that EventBridge rules name after it.
        orchestrator = OrchestratorFunction(
            self,
            "Default",
            parameters=parameters,
            multi_account=multi_account,
            version=distribution.version,
            assets_bucket_name=storage.assets_bucket_name,
            blueprints_bucket=storage.blueprints_bucket,
            cfn_role=roles.cfn_role,
            boundary_arn=roles.boundary_arn,
            ecr_repo_name=images.repository_name,
            ecr_repo_arn=images.repository_arn,
            topic=notifications.topic,
            index_table=index.table,
            artifact_bucket_name=storage.artifact_bucket.bucket_name,
        )
        storage.reserve_pipeline_objects(orchestrator_role_arn=orchestrator.role.role_arn)
        if parameters.stages and parameters.delegated_admin is not None:
            # The stage accounts' boundary exists before the orchestrator can create any pipeline there.
            stage_boundary = StageBoundary(
                self,
                "StageBoundary",
                delegated_admin=parameters.delegated_admin.value_as_string,
                org_unit_ids=[parameters.stages[stage].org_unit_id.value_as_string for stage in STAGE_NAMES],
                assets_bucket=storage.assets_bucket_name,
                blueprints_bucket=storage.blueprints_bucket.bucket_name,
                repository_arn=images.repository_arn,
            )
            orchestrator.function.node.add_dependency(stage_boundary)
        # Images: the repositories builds may push to besides the orchestrator's, and the Docker Hub cache.
        tag_reads = images.grant_tag_reads(orchestrator.role)
        acknowledge(
            tag_reads,
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecr:<AWS::Region>:<AWS::AccountId>:repository/*]",
                "DescribeImages (tags and digests) in this account's repositories: AllowedImageRepositories names "
                "them, and CloudFormation cannot turn a list of names into ARNs",
            ),
        )
        orchestrator.function.add_environment(
            "ALLOWED_IMAGE_REPOSITORIES", parameters.images.allowed_repositories.value_as_string
        )
        orchestrator.function.add_environment("DOCKER_HUB_CACHE_PREFIX", docker_hub.prefix)
        # The predecessor's construct path, so that the API URL output keeps its name
        # (PipelineOrchestrationLambdaRestApiEndpoint9B628338).
        api = OrchestratorApi(self, "PipelineOrchestration", function=orchestrator.function)
        roles.guard_orchestrator(
            Orchestrator(
                function_arn=orchestrator.function.function_arn,
                role_arns=[orchestrator.role.role_arn, roles.cfn_role.role_arn],
                rest_api_id=api.api.rest_api_id,
            )
        )
        BlueprintCopy(self, "BlueprintCopy", distribution=distribution, blueprints_bucket=storage.blueprints_bucket)
        PipelineEvents(self, "PipelineEvents", function=orchestrator.function, dead_letters=orchestrator.failed_events)
        CodeCommitTrigger(
            self,
            "CodeCommitConfigTrigger",
            condition=conditions.git_address_provided,
            repository_address=parameters.codecommit_repo_address.value_as_string,
            function=orchestrator.function,
            function_role=orchestrator.role,
            dead_letters=orchestrator.failed_events,
        )
        ConfigBucketTrigger(
            self,
            "ConfigBucketConfigTrigger",
            condition=conditions.config_bucket_provided,
            bucket_name=parameters.config_bucket.value_as_string,
            function=orchestrator.function,
            function_role=orchestrator.role,
        )
        ConnectionTrigger(
            self,
            "ConnectionConfigTrigger",
            condition=conditions.connection_provided,
            connection_arn=parameters.connection.arn.value_as_string,
            repository=parameters.connection.repository.value_as_string,
            branch=parameters.connection.branch.value_as_string,
            function=orchestrator.function,
            function_role=orchestrator.role,
            access_logs_bucket=storage.access_logs_bucket,
        )

        CfnOutput(
            self,
            "BlueprintsBucket",
            value=storage.blueprints_bucket.bucket_name,
            description="S3 bucket of the MLOps blueprints (templates and Lambda code)",
        )
        CfnOutput(self, "AssetsBucket", value=storage.assets_bucket_name, description="S3 bucket for model artifacts")
        CfnOutput(self, "ECRRepoName", value=images.repository_name, description="Amazon ECR repository's name")
        CfnOutput(self, "ECRRepoArn", value=images.repository_arn, description="Amazon ECR repository's arn")
        CfnOutput(
            self,
            "ModelRegistryArn",
            value=Fn.condition_if(
                conditions.create_model_registry.logical_id,
                models.group.attr_model_package_group_arn,
                "[No Model Package Group was created]",
            ).to_string(),
            description="SageMaker model package group arn",
        )
        CfnOutput(
            self,
            "PipelineIndexTable",
            value=index.table.table_name,
            description="DynamoDB table indexing the MLOps pipelines (rebuilt from their stacks)",
        )
        CfnOutput(
            self,
            "MLOpsNotificationsTopicArn",
            value=notifications.topic.topic_arn,
            description="MLOps notifications SNS topic arn.",
        )
        acknowledge(
            self,
            (
                "CloudFormation-Validate::W1001",
                "The outputs AssetsBucket, ECRRepoName, ECRRepoArn and ModelRegistryArn name their conditional "
                "resource only in the Fn::If branch taken when that resource's own condition holds (cfn-lint agrees).",
            ),
        )
        keep_stack_level_logical_ids(self)
        roles.acknowledge_buckets()
