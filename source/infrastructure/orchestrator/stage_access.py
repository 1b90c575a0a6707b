# SPDX-License-Identifier: Apache-2.0
"""What the stage accounts of a multi-account orchestrator may read of its own account, and through whom: each
resource policy names the stage accounts as principals and narrows them, with `aws:PrincipalArn`
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn),
to the roles the pipelines' StackSets create there, never the whole account."""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam

from infrastructure.boundary import STAGE_PREFIXES

# The execution role service-managed StackSets create in each target account ("stacksets-exec-*": https://
# docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-custom-execution-role.html). CloudFormation
# calls the services with it while it deploys a stage, so it is the caller of CreateFunction (which reads the
# function's code from the blueprints bucket) and of CreateModel (which reads a registry's model package).
STACKSET_EXECUTION_ROLE = "stacksets-exec-"


def stage_roles(accounts: list[str], *, deployer: bool = False) -> list[str]:
    """The stage accounts' pipeline roles (`deployer`: and the StackSets' execution role) as ARN patterns."""
    prefixes = (*STAGE_PREFIXES, STACKSET_EXECUTION_ROLE) if deployer else STAGE_PREFIXES
    return [f"arn:{Aws.PARTITION}:iam::{account}:role/{prefix}*" for account in accounts for prefix in prefixes]


def stage_read(
    sid: str, accounts: list[str], actions: list[str], resources: list[str] | None = None, *, deployer: bool = False
) -> iam.PolicyStatement:
    """A resource policy's statement: these stage accounts' pipeline roles (and their deployer) may do `actions`."""
    statement = iam.PolicyStatement(
        sid=sid,
        principals=[iam.AccountPrincipal(account) for account in accounts],
        actions=actions,
        conditions={"ArnLike": {"aws:PrincipalArn": stage_roles(accounts, deployer=deployer)}},
    )
    if resources:
        statement.add_resources(*resources)
    return statement
