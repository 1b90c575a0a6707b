# SPDX-License-Identifier: Apache-2.0
"""IAM sufficiency from ground truth: CloudFormation's own resource schemas (shipped with cfn-lint) list the
actions its handlers call for each resource type. Every such action of every resource type a template uses is
granted by the role that deploys the template, or listed in handler_permissions_not_granted.json with the
reason it is never called for our templates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.infrastructure.iam_policies import allowed_actions, allows, deploying_roles, handler_permissions

pytestmark = pytest.mark.synth

NOT_GRANTED_FILE = Path(__file__).parents[2] / "infrastructure" / "handler_permissions_not_granted.json"


def deployers(templates: dict[str, dict[str, Any]]) -> list[tuple[str, str, set[str]]]:
    """(template, deploying role's name, the role's allowed actions) for every blueprint template."""
    return [
        (name, label, allowed_actions(templates[stack], role))
        for name, label, stack, role in deploying_roles(templates)
    ]


def resource_types(template: dict[str, Any]) -> set[str]:
    return {resource["Type"] for resource in template.get("Resources", {}).values()}


def unreasoned(pairs: list[tuple[str, str, set[str]]], templates, not_granted: dict[str, dict[str, str]]) -> list[str]:
    return sorted(
        f"{name} ({role}): {resource_type} {permission}"
        for name, role, granted in pairs
        for resource_type in resource_types(templates[name])
        for permission in handler_permissions(resource_type)
        if not allows(granted, permission) and permission not in not_granted.get(resource_type, {})
    )


def stale_entries(
    pairs: list[tuple[str, str, set[str]]], templates, not_granted: dict[str, dict[str, str]]
) -> list[str]:
    """Entries that no longer describe a gap: the type is unused, the action is no handler's, or every role that
    deploys the type grants it."""
    stale = []
    for resource_type, actions in sorted(not_granted.items()):
        roles = [granted for name, _, granted in pairs if resource_type in resource_types(templates[name])]
        if not roles:
            stale.append(f"{resource_type}: no template uses it")
            continue
        for action in sorted(actions):
            if action not in handler_permissions(resource_type):
                stale.append(f"{resource_type} {action}: no handler of the type calls it")
            elif all(allows(granted, action) for granted in roles):
                stale.append(f"{resource_type} {action}: granted by every role that deploys the type")
    return stale


def _not_granted() -> dict[str, dict[str, str]]:
    return json.loads(NOT_GRANTED_FILE.read_text())


def test_every_handler_permission_is_granted_or_reasoned(synthesized):
    missing = unreasoned(deployers(synthesized.templates), synthesized.templates, _not_granted())
    assert not missing, f"{len(missing)} handler permissions neither granted nor reasoned:\n" + "\n".join(missing)


def test_every_reasoned_permission_is_still_a_gap(synthesized):
    stale = stale_entries(deployers(synthesized.templates), synthesized.templates, _not_granted())
    assert not stale, f"{NOT_GRANTED_FILE.name} lists what is no gap:\n" + "\n".join(stale)


def test_every_reason_names_why_the_handler_is_not_called():
    vague = [
        f"{resource_type} {action}: {reason!r}"
        for resource_type, actions in _not_granted().items()
        for action, reason in actions.items()
        if len(reason.split()) < 6
    ]
    assert not vague


def test_the_read_handlers_called_after_every_create_are_granted(synthesized):
    """Lambda's read handler runs after every create and update: its reads are granted, never reasoned away."""
    reads = {"lambda:GetFunctionRecursionConfig", "lambda:GetRuntimeManagementConfig", "lambda:GetFunction"}
    function_deployers = [
        (name, role, granted)
        for name, role, granted in deployers(synthesized.templates)
        if "AWS::Lambda::Function" in resource_types(synthesized.templates[name])
    ]
    assert function_deployers
    assert not [
        (name, role, read) for name, role, granted in function_deployers for read in reads if not allows(granted, read)
    ]
    assert not reads & set(_not_granted()["AWS::Lambda::Function"])


def test_the_check_reports_a_role_that_misses_a_handler_permission():
    template = {"Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {}}}}
    granted = {"lambda:*Function", "lambda:Get*"}  # wildcards expand: lambda:GetFunction is granted
    missing = unreasoned([("t", "role", granted)], {"t": template}, {})
    assert "t (role): AWS::Lambda::Function lambda:GetFunction" not in missing
    assert "t (role): AWS::Lambda::Function lambda:TagResource" in missing


def test_the_check_reports_a_reason_for_what_is_granted_or_unused():
    template = {"Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {}}}}
    not_granted = {
        "AWS::Lambda::Function": {"lambda:CreateFunction": "granted", "lambda:Invented": "no handler"},
        "AWS::SQS::Queue": {"sqs:CreateQueue": "unused type"},
    }
    stale = stale_entries([("t", "role", {"lambda:CreateFunction"})], {"t": template}, not_granted)
    assert stale == [
        "AWS::Lambda::Function lambda:CreateFunction: granted by every role that deploys the type",
        "AWS::Lambda::Function lambda:Invented: no handler of the type calls it",
        "AWS::SQS::Queue: no template uses it",
    ]
