# SPDX-License-Identifier: Apache-2.0
"""Notifications: an encrypted topic that EventBridge rules, SNS-calling roles and the orchestrator publish to."""

from __future__ import annotations

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infrastructure.checkov import skip_checks

from .logical_ids import StackLevel

KMS_ADMIN_ACTIONS = [
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:RetireGrant",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
]


class Notifications(StackLevel):
    """The MLOps notifications topic, encrypted with its own key, mailed to `notification_email`."""

    def __init__(self, scope: Construct, construct_id: str, *, notification_email: str) -> None:
        super().__init__(scope, construct_id)
        key = kms.Key(
            self,
            "NotificationsKey",
            description="Encrypts the MLOps notifications topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
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
                        # Any principal of this account publishing through SNS, as AWS's own aws/sns key allows:
                        # the pipelines' roles do not know this key.
                        sid="PublishThroughSns",
                        principals=[iam.AnyPrincipal()],
                        actions=["kms:Decrypt", "kms:GenerateDataKey"],
                        resources=["*"],
                        conditions={
                            "StringEquals": {
                                "kms:CallerAccount": Aws.ACCOUNT_ID,
                                "kms:ViaService": f"sns.{Aws.REGION}.amazonaws.com",
                            }
                        },
                    ),
                    # EventBridge rules (pipeline outcomes, job notifications) publishing to the encrypted topic.
                    # AWS documents this statement without a condition ("Enable compatibility between event
                    # sources from AWS services and encrypted topics",
                    # https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services):
                    # EventBridge is not documented to send aws:SourceAccount to KMS, so a statement needing it could
                    # drop every EventBridge notification. The topic's own policy (EventBridgePublish) keeps
                    # sns:Publish to rules of this account.
                    iam.PolicyStatement(
                        sid="EventBridgePublish",
                        principals=[iam.ServicePrincipal("events.amazonaws.com")],
                        actions=["kms:Decrypt", "kms:GenerateDataKey"],
                        resources=["*"],
                    ),
                    iam.PolicyStatement(
                        sid="ServicesPublish",
                        principals=[
                            iam.ServicePrincipal("codestar-notifications.amazonaws.com"),
                            iam.ServicePrincipal("cloudwatch.amazonaws.com"),
                        ],
                        actions=["kms:Decrypt", "kms:GenerateDataKey"],
                        resources=["*"],
                        conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
                    ),
                ]
            ),
        )
        skip_checks(
            key,
            (
                "CKV_AWS_33",
                "The one statement for any principal is bounded by kms:CallerAccount (this account) and "
                "kms:ViaService (SNS in this region): the key is usable only through SNS, to publish to the topic",
            ),
        )
        self.topic = sns.Topic(
            self, "MLOpsNotificationsTopic", display_name="MLOps notifications", master_key=key, enforce_ssl=True
        )
        self.topic.add_subscription(subscriptions.EmailSubscription(notification_email))
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="EventBridgePublish",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
