# SPDX-License-Identifier: Apache-2.0
"""The orchestrator stack's log groups, encrypted with the stack's own key.

CloudWatch Logs uses the key only for log groups of this account and region: its key policy statement names the
service principal and the `kms:EncryptionContext:aws:logs:arn` condition AWS documents for it
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html).
"""

from __future__ import annotations

import jsii
from aws_cdk import AspectPriority, Aspects, Aws, IAspect, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

from .logical_ids import StackLevel
from .notifications import KMS_ADMIN_ACTIONS

# What CloudWatch Logs does with the key of an encrypted log group: the documented statement's Encrypt*, Decrypt*,
# ReEncrypt*, GenerateDataKey* and Describe*, named one by one (data keys of a symmetric key, no key pairs).
LOGS_KEY_ACTIONS = [
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:DescribeKey",
]


class LogsKey(StackLevel):
    """The key of every log group of the stack (an aspect sets it on each one, CDK's own included)."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "LogsKey",
            description="Encrypts the MLOps orchestrator's log groups",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,  # logs written with it stay readable after the stack is gone
            policy=iam.PolicyDocument(
                statements=[
                    # In a key policy, Resource "*" is the key itself.
                    iam.PolicyStatement(
                        sid="AccountAdministers",
                        principals=[iam.AccountRootPrincipal()],
                        actions=KMS_ADMIN_ACTIONS,
                        resources=["*"],
                    ),
                    iam.PolicyStatement(
                        sid="CloudWatchLogsEncrypts",
                        principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
                        actions=LOGS_KEY_ACTIONS,
                        resources=["*"],
                        conditions={
                            "ArnLike": {
                                "kms:EncryptionContext:aws:logs:arn": (
                                    f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:*"
                                )
                            }
                        },
                    ),
                ]
            ),
        )
        Aspects.of(Stack.of(self)).add(_EncryptLogGroups(self.key), priority=AspectPriority.MUTATING)


@jsii.implements(IAspect)
class _EncryptLogGroups:
    def __init__(self, key: kms.IKey) -> None:
        self.key = key

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, logs.CfnLogGroup) and node.kms_key_id is None:
            node.kms_key_id = self.key.key_arn
            node.add_dependency(self.key.node.default_child)  # type: ignore[arg-type]
