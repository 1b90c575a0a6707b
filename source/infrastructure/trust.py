# SPDX-License-Identifier: Apache-2.0
"""`aws:SourceAccount` in the trust policy of every role a service assumes, where the service documents sending it
(IAM's cross-service confused deputy guidance: https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html):
a service acting for another account can then never assume the solution's roles.

A service that does not send the key would be refused by such a condition (StringEquals fails on a missing key), so
only the services below carry it:
- CodePipeline: its service role ("Manage the CodePipeline service role",
  https://docs.aws.amazon.com/codepipeline/latest/userguide/how-to-custom-role.html).
- EventBridge: the roles of rule targets ("Cross-service confused deputy prevention in Amazon EventBridge",
  https://docs.aws.amazon.com/eventbridge/latest/userguide/cross-service-confused-deputy-prevention.html).
- EventBridge Scheduler: a schedule's execution role
  (https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html#setting-up-execution-role).
- Step Functions: a state machine's role ("Prevent cross-service confused deputy issue",
  https://docs.aws.amazon.com/step-functions/latest/dg/procedure-create-iam-role.html).
- SageMaker: only the execution role of models (endpoints, batch transform), which SageMaker's guide covers
  ("Cross-service confused deputy prevention", https://docs.aws.amazon.com/sagemaker/latest/dg/
  security-confused-deputy-prevention.html), given by the model blueprint itself (`from_this_account`); the roles of
  monitors, tuning and Autopilot jobs do not get it: the guide gives no condition for monitoring schedules,
  hyperparameter tuning or AutoML jobs, and one training role serves all three kinds of job.
Left out, for want of documented support in a role's trust policy: Lambda (an execution role; Lambda documents
`lambda:SourceFunctionArn` for the credentials' use instead), CloudFormation (its confused-deputy page covers
extensions, not a stack's service role), CodeBuild, API Gateway (its CloudWatch Logs role); Application Auto Scaling
uses a service-linked role, whose trust policy AWS writes.
"""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import Aspects, Aws, IAspect, Stack
from aws_cdk import aws_iam as iam
from constructs import IConstruct

SOURCE_ACCOUNT_SERVICES = (
    "codepipeline.amazonaws.com",
    "events.amazonaws.com",
    "scheduler.amazonaws.com",
    "states.amazonaws.com",
)


def from_this_account() -> dict[str, Any]:
    return {"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}


def _services(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal", {})
    services = principal.get("Service", []) if isinstance(principal, dict) else []
    return services if isinstance(services, list) else [services]


@jsii.implements(IAspect)
class _SourceAccountInTrust:
    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, iam.CfnRole):
            return
        document = Stack.of(node).resolve(node.assume_role_policy_document) or {}
        for index, statement in enumerate(document.get("Statement", [])):
            condition = statement.get("Condition", {})
            services = _services(statement)
            if "aws:SourceAccount" in condition.get("StringEquals", {}) or not services:
                continue
            if all(service in SOURCE_ACCOUNT_SERVICES for service in services):
                equals = {**condition.get("StringEquals", {}), "aws:SourceAccount": Aws.ACCOUNT_ID}
                node.add_property_override(
                    f"AssumeRolePolicyDocument.Statement.{index}.Condition", {**condition, "StringEquals": equals}
                )


def source_account_in_trust(scope: IConstruct) -> None:
    """Add `aws:SourceAccount` to the trust statements of every role under `scope` that these services assume."""
    Aspects.of(scope).add(_SourceAccountInTrust())
