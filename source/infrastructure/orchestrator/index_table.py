# SPDX-License-Identifier: Apache-2.0
"""The pipeline index: what GET /pipelines reads, one query per page."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infrastructure.checkov import skip_checks
from lambdas.pipeline_orchestration import pipeline_index

from .logical_ids import StackLevel


class PipelineIndexTable(StackLevel):
    """The DynamoDB table indexing the pipelines, with its newest-first index; rebuilt from their stacks."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "PipelineIndex",
            partition_key=dynamodb.Attribute(name=pipeline_index.KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # Encrypted with the AWS managed key aws/dynamodb: its key policy lets any principal of the account
            # that may use the table use the key through DynamoDB, so the orchestrator needs no KMS permission.
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            # The index is rebuilt from the mlops-pipeline* CloudFormation stacks: deleting it loses nothing.
            removal_policy=RemovalPolicy.DESTROY,
        )
        skip_checks(
            self.table,
            (
                "CKV_AWS_119",
                "The index holds pipeline names, types and states, a cache of what CloudFormation says; the AWS "
                "managed key encrypts it at rest and needs no key policy or KMS grant for the orchestrator",
            ),
        )
        self.table.add_global_secondary_index(
            index_name=pipeline_index.NEWEST_FIRST,
            partition_key=dynamodb.Attribute(name=pipeline_index.PARTITION, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=pipeline_index.SORT, type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )
