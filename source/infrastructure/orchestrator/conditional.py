# SPDX-License-Identifier: Apache-2.0
"""Resources that exist only when a condition holds."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aws_cdk import CfnCondition, CfnResource
from constructs import IConstruct


@contextmanager
def added_children(scope: IConstruct) -> Iterator[list[IConstruct]]:
    """The constructs added directly under `scope` inside the block (filled when the block ends)."""
    before = {child.node.id for child in scope.node.children}
    added: list[IConstruct] = []
    yield added
    added.extend(child for child in scope.node.children if child.node.id not in before)


def only_if(condition: CfnCondition, *scopes: IConstruct) -> None:
    """Create every CloudFormation resource under these constructs only when the condition holds."""
    for scope in scopes:
        for construct in scope.node.find_all():
            if isinstance(construct, CfnResource):
                construct.cfn_options.condition = condition
