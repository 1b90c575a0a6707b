# SPDX-License-Identifier: Apache-2.0
"""The security figures of the built templates, each of which must be 0.

- roles in the blueprint templates without a permissions boundary;
- Allow statements that create roles or write their policies without an `iam:PermissionsBoundary` condition;
- `iam:PassRole` grants without an `iam:PassedToService` condition.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.synth

# Actions that give a role permissions: each must be conditioned on the boundary being attached.
ROLE_WRITES = {
    "iam:createrole",
    "iam:putrolepolicy",
    "iam:attachrolepolicy",
    "iam:putrolepermissionsboundary",
}


def _blueprint_stacks() -> set[str]:
    from app import stack_id
    from infrastructure.blueprints import BLUEPRINT_STACKS

    return {stack_id(template) for template in BLUEPRINT_STACKS}


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _identity_statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Allow statements of the policies a role, user or group holds (inline and managed, not trust policies)."""
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        documents = []
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append(properties.get("PolicyDocument", {}))
        if resource["Type"] == "AWS::IAM::Role":
            documents += [policy.get("PolicyDocument", {}) for policy in properties.get("Policies", [])]
        for document in documents:
            for statement in _listed(document.get("Statement", [])):
                if statement.get("Effect") == "Allow":
                    yield logical_id, statement


def _actions(statement: dict[str, Any]) -> set[str]:
    return {str(action).lower() for action in _listed(statement.get("Action", []))}


def _condition_keys(statement: dict[str, Any]) -> set[str]:
    return {key.lower() for operator in statement.get("Condition", {}).values() for key in operator}


def roles_without_boundary(templates: dict[str, dict[str, Any]]) -> list[str]:
    return [
        f"{stack}/{logical_id}"
        for stack in sorted(set(templates) & _blueprint_stacks())
        for logical_id, resource in templates[stack].get("Resources", {}).items()
        if resource["Type"] == "AWS::IAM::Role" and "PermissionsBoundary" not in resource.get("Properties", {})
    ]


def unconditioned_role_writes(templates: dict[str, dict[str, Any]]) -> list[str]:
    return [
        f"{stack}/{logical_id}: {sorted(_actions(statement) & ROLE_WRITES)}"
        for stack, template in sorted(templates.items())
        for logical_id, statement in _identity_statements(template)
        if _actions(statement) & ROLE_WRITES and "iam:permissionsboundary" not in _condition_keys(statement)
    ]


def pass_role_without_service(templates: dict[str, dict[str, Any]]) -> list[str]:
    return [
        f"{stack}/{logical_id}"
        for stack, template in sorted(templates.items())
        for logical_id, statement in _identity_statements(template)
        if "iam:passrole" in _actions(statement) and "iam:passedtoservice" not in _condition_keys(statement)
    ]


def test_every_blueprint_role_has_a_permissions_boundary(synthesized):
    missing = roles_without_boundary(synthesized.templates)
    assert not missing, f"{len(missing)} roles without a permissions boundary:\n" + "\n".join(missing)


def test_every_role_write_requires_the_permissions_boundary(synthesized):
    found = unconditioned_role_writes(synthesized.templates)
    assert not found, f"{len(found)} role writes without iam:PermissionsBoundary:\n" + "\n".join(found)


def test_every_pass_role_names_the_service(synthesized):
    found = pass_role_without_service(synthesized.templates)
    assert not found, f"{len(found)} iam:PassRole grants without iam:PassedToService:\n" + "\n".join(found)


def test_the_measures_catch_what_they_count():
    """Each measure counts a statement or role that breaks its rule, and passes one that keeps it."""
    template = {
        "Resources": {
            "Bare": {"Type": "AWS::IAM::Role", "Properties": {}},
            "Bounded": {"Type": "AWS::IAM::Role", "Properties": {"PermissionsBoundary": "arn"}},
            "Writes": {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "PolicyDocument": {
                        "Statement": [
                            {"Effect": "Allow", "Action": ["iam:CreateRole", "iam:PassRole"], "Resource": "*"},
                            {
                                "Effect": "Allow",
                                "Action": "iam:PutRolePolicy",
                                "Resource": "*",
                                "Condition": {"StringEquals": {"iam:PermissionsBoundary": "arn"}},
                            },
                            {
                                "Effect": "Allow",
                                "Action": "iam:PassRole",
                                "Resource": "*",
                                "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
                            },
                            {"Effect": "Deny", "Action": "iam:CreateRole", "Resource": "*"},
                        ]
                    }
                },
            },
        }
    }
    blueprint = next(iter(_blueprint_stacks()))
    templates = {blueprint: template}
    assert roles_without_boundary(templates) == [f"{blueprint}/Bare"]
    assert unconditioned_role_writes(templates) == [f"{blueprint}/Writes: ['iam:createrole']"]
    assert pass_role_without_service(templates) == [f"{blueprint}/Writes"]
