# SPDX-License-Identifier: Apache-2.0
"""Resources grouped in a StackLevel construct keep the logical IDs they would have at the stack's root
(a changed logical ID makes CloudFormation replace the deployed resource)."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infrastructure.orchestrator.logical_ids import StackLevel, keep_stack_level_logical_ids, logical_id


class Queues(StackLevel):
    def __init__(self, scope, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.queue = sqs.Queue(self, "FailedOrchestratorEvents", enforce_ssl=True)


def _logical_id(stack: cdk.Stack, construct) -> str:
    return stack.resolve(construct.node.default_child.logical_id)


@pytest.mark.parametrize(
    "path",
    [
        ["CopyBlueprints"],
        ["FailedOrchestratorEvents"],
        ["PipelineOrchestration", "LambdaRestApi"],
        ["Default", "OrchestratorRole"],
        ["Bucket", "Bucket", "Policy"],
        ["X" * 200, "Y" * 100],
    ],
)
def test_logical_id_is_the_one_cdk_gives(path):
    stack = cdk.Stack(cdk.App(), "Ids")
    scope = stack
    for component in path[:-1]:
        scope = Construct(scope, component)
    resource = cdk.CfnResource(scope, path[-1], type="AWS::SQS::Queue")
    assert logical_id(path) == stack.resolve(resource.logical_id)


def test_resources_in_a_stack_level_construct_keep_their_root_logical_ids():
    app = cdk.App()
    at_root = cdk.Stack(app, "AtRoot")
    root_queue = sqs.Queue(at_root, "FailedOrchestratorEvents", enforce_ssl=True)
    grouped = cdk.Stack(app, "Grouped")
    queues = Queues(grouped, "Queues")
    # Set when the construct is built: a reference taken now (an acknowledgment's text) names the final ID.
    assert _logical_id(grouped, queues.queue) == _logical_id(at_root, root_queue) == "FailedOrchestratorEventsE335E88B"
    # A child added later (here the queue's policy) gets its root ID from the stack's final pass.
    queues.queue.grant_send_messages(iam.AccountRootPrincipal())
    keep_stack_level_logical_ids(grouped)
    root_queue.grant_send_messages(iam.AccountRootPrincipal())
    assert set(app.synth().get_stack_by_name("Grouped").template["Resources"]) == set(
        app.synth().get_stack_by_name("AtRoot").template["Resources"]
    )
