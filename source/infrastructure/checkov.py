# SPDX-License-Identifier: Apache-2.0
"""checkov findings that do not apply, skipped in the template's metadata with the reason: the one way.

Checks that do not apply to any resource of a type are skipped for the whole type by an aspect; the rest are
skipped on their resource, where it is built (`skip_checks`). checkov runs in the infrastructure test tier
(tests/infrastructure/test_checkov.py) and must report no failed check.
"""

from __future__ import annotations

import jsii
from aws_cdk import Aspects, CfnResource, IAspect, aws_lambda, aws_logs
from constructs import IConstruct

# resource type -> (check id, why it does not apply to any resource of that type in the solution)
TYPE_WIDE_SKIPS: dict[str, list[tuple[str, str]]] = {
    "AWS::Lambda::Function": [
        (
            "CKV_AWS_117",
            "The function calls AWS APIs only (TLS, IAM-signed) and reaches no private network resource; a VPC "
            "would need a NAT gateway or an interface endpoint for every service it calls",
        ),
        (
            "CKV_AWS_115",
            "Reserved concurrency would take capacity from the account's shared pool; invocations are bounded by "
            "the caller: a pipeline action, a CloudFormation custom resource or a throttled API stage",
        ),
        (
            "CKV_AWS_173",
            "The environment holds resource names, ARNs and settings, no secret; Lambda encrypts it at rest with "
            "its AWS managed key",
        ),
    ],
    "AWS::Logs::LogGroup": [
        (
            "CKV_AWS_158",
            "The blueprints' log groups (CloudWatch Logs encrypts every log group at rest) hold states and job "
            "names, no model data; a customer managed key would need a key in every stage account. The "
            "orchestrator stack's log groups use its LogsKey, and this skip leaves them",
        ),
    ],
    "AWS::ApiGateway::Stage": [
        (
            "CKV_AWS_120",
            "Every answer reflects the moment it is asked (a pipeline's state, the deployed model's prediction); "
            "a cache would serve stale answers",
        ),
    ],
}
# Functions with no dead-letter queue whose caller waits for the answer (unless skipped with their own reason).
SYNCHRONOUS_CALLER = (
    "CKV_AWS_116",
    "Its caller waits for the answer (a CloudFormation custom resource, a CodePipeline action, a Step Functions "
    "task or the inference API), so a failed invocation fails that caller visibly and a dead-letter queue would "
    "keep nothing to act on",
)


def _skipped(resource: CfnResource) -> list[dict[str, str]]:
    metadata = resource.get_metadata("checkov") or {}
    return list(metadata.get("skip", []))


def skip_checks(construct: IConstruct, *skips: tuple[str, str]) -> None:
    """Skip checkov checks on the construct's CloudFormation resource, each with the reason it does not apply."""
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to carry checkov metadata")
    known = {skip["id"] for skip in _skipped(resource)}
    added = [{"id": check, "comment": comment} for check, comment in skips if check not in known]
    resource.add_metadata("checkov", {"skip": [*_skipped(resource), *added]})


@jsii.implements(IAspect)
class _TypeWideSkips:
    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, CfnResource):
            return
        skips = list(TYPE_WIDE_SKIPS.get(node.cfn_resource_type, []))
        if isinstance(node, aws_logs.CfnLogGroup) and node.kms_key_id is not None:
            skips = [skip for skip in skips if skip[0] != "CKV_AWS_158"]  # encrypted with a key of the stack
        # CDK's own handlers (bucket notifications) are plain CfnResources, without a dead-letter queue.
        has_queue = isinstance(node, aws_lambda.CfnFunction) and node.dead_letter_config is not None
        if node.cfn_resource_type == "AWS::Lambda::Function" and not has_queue:
            skips.append(SYNCHRONOUS_CALLER)
        if skips:
            skip_checks(node, *skips)


def add_type_wide_skips(app: IConstruct) -> None:
    Aspects.of(app).add(_TypeWideSkips())
