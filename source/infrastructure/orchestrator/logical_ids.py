# SPDX-License-Identifier: Apache-2.0
"""Logical IDs that do not move when resources move into constructs.

The orchestrator's resources were first written at the stack's root; a deployed stack would replace every
resource whose logical ID changes. A `StackLevel` construct groups resources for the code's sake only: the
resources under it keep the logical IDs they would have at the stack's root.
"""

from __future__ import annotations

import functools
import hashlib
import re
from typing import Any

from aws_cdk import CfnElement, Stack
from constructs import Construct, IConstruct

# CDK's own rules for logical IDs (core/lib/private/uniqueid.ts): "Default" is left out of the path,
# "Resource" out of the readable part, and an 8-character MD5 of the path ends the ID.
_HIDDEN = "Default"
_HIDDEN_FROM_HUMAN = "Resource"
_MAX_HUMAN_LENGTH = 240
_MAX_ID_LENGTH = 255


class StackLevel(Construct):
    """A construct whose resources keep the logical IDs they would have directly under the stack.

    The IDs are set as soon as a subclass's `__init__` returns, before other constructs reference them (in
    cdk-nag acknowledgments, for one); the stack sets them once more for children added later."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__init__

        @functools.wraps(init)
        def init_then_keep_ids(self: StackLevel, *args: Any, **kw: Any) -> None:
            init(self, *args, **kw)
            keep_stack_level_logical_ids(self)

        cls.__init__ = init_then_keep_ids  # type: ignore[method-assign]


def logical_id(components: list[str]) -> str:
    """The logical ID CDK gives the construct path `components` (below the stack)."""
    components = [component for component in components if component != _HIDDEN]
    if len(components) == 1:
        candidate = _alphanumeric(components[0])
        if len(candidate) <= _MAX_ID_LENGTH:
            return candidate
    digest = hashlib.md5("/".join(components).encode(), usedforsecurity=False).hexdigest()[:8].upper()
    readable: list[str] = []
    for component in components:
        if not readable or not readable[-1].endswith(component):
            readable.append(component)
    human = "".join(_alphanumeric(part) for part in readable if part != _HIDDEN_FROM_HUMAN)
    return human[:_MAX_HUMAN_LENGTH] + digest


def _alphanumeric(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", text)


def stack_level_logical_id(element: CfnElement) -> str:
    """The logical ID of `element` with every `StackLevel` construct left out of its path."""
    scopes = element.node.scopes
    stack = Stack.of(element)
    below = scopes[next(i for i, scope in enumerate(scopes) if scope is stack) + 1 :]
    return logical_id([scope.node.id for scope in below if not isinstance(scope, StackLevel)])


def keep_stack_level_logical_ids(scope: IConstruct) -> None:
    """Give every resource under a `StackLevel` construct in `scope` its stack-level logical ID."""
    for construct in scope.node.find_all():
        if isinstance(construct, CfnElement) and any(isinstance(scope, StackLevel) for scope in construct.node.scopes):
            construct.override_logical_id(stack_level_logical_id(construct))
