# SPDX-License-Identifier: Apache-2.0
"""Checks over every synthesized template of the app: orchestrator and blueprint stacks alike."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.synth

POLICY_KEYS = (
    "PolicyDocument",
    "AssumeRolePolicyDocument",
    "KeyPolicy",
    "RepositoryPolicyText",
    "ModelPackageGroupPolicy",
    "PolicyText",
)


def _statements(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every IAM statement anywhere in a template: identity, resource, trust and key policies."""
    if isinstance(node, dict):
        if "Statement" in node and isinstance(node["Statement"], list):
            for statement in node["Statement"]:
                if isinstance(statement, dict):
                    yield where, statement
        for key, value in node.items():
            yield from _statements(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _statements(item, f"{where}/{index}")


def _actions(statement: dict[str, Any]) -> list[Any]:
    value = statement.get("Action", statement.get("NotAction", []))
    return [value] if not isinstance(value, list) else value


def test_the_app_has_both_orchestrator_stacks(synthesized):
    assert {"mlops-orchestrator-single-account", "mlops-orchestrator-multi-account"} <= set(synthesized.templates)


def _boundary_service(where: str, action: Any) -> bool:
    """The permissions boundary caps by whole service (it grants nothing itself; see infrastructure.boundary)."""
    from infrastructure.boundary import ANY_RESOURCE_PATTERNS, BOUNDED_SERVICES

    allowed = {f"{s}:*" for s in BOUNDED_SERVICES} | set(ANY_RESOURCE_PATTERNS)
    return where.startswith("/PipelinePermissionsBoundary") and action in allowed


def test_no_iam_statement_allows_a_wildcard_action(synthesized):
    """Least privilege: every allowed action is named (a Deny may cover all actions: it only narrows)."""
    offending = [
        f"{stack}{where}: {action}"
        for stack, template in sorted(synthesized.templates.items())
        for where, statement in _statements(template.get("Resources", {}))
        if statement.get("Effect", "Allow") != "Deny"
        for action in _actions(statement)
        if (not isinstance(action, str) or "*" in action) and not _boundary_service(where, action)
    ]
    assert not offending, "wildcard actions:\n" + "\n".join(offending)


def _orchestrator_guard(where: str, statement: dict[str, Any]) -> bool:
    """The boundary's denies on the orchestrator's own function, roles and API name whole services (see
    infrastructure.boundary.ORCHESTRATOR_GUARDS): a Deny only narrows."""
    from infrastructure.boundary import ORCHESTRATOR_GUARDS

    return where.startswith(("/PipelinePermissionsBoundary", "/CloudformationRoleGuards")) and (
        statement.get("Sid") in ORCHESTRATOR_GUARDS
    )


def test_wildcard_denies_only_enforce_tls(synthesized):
    offending = [
        f"{stack}{where}"
        for stack, template in sorted(synthesized.templates.items())
        for where, statement in _statements(template.get("Resources", {}))
        if statement.get("Effect") == "Deny"
        and any("*" in str(action) for action in _actions(statement))
        and statement.get("Condition") != {"Bool": {"aws:SecureTransport": "false"}}
        and not _orchestrator_guard(where, statement)
    ]
    assert not offending


def test_no_statement_uses_not_action(synthesized):
    offending = [
        f"{stack}{where}"
        for stack, template in sorted(synthesized.templates.items())
        for where, statement in _statements(template.get("Resources", {}))
        if "NotAction" in statement
    ]
    assert not offending


def test_no_role_carries_administrator_access(synthesized):
    offending = [
        stack
        for stack, template in sorted(synthesized.templates.items())
        if "AdministratorAccess" in json.dumps(template) or "PowerUserAccess" in json.dumps(template)
    ]
    assert not offending


def test_the_wildcard_check_catches_a_wildcard():
    """The walker above must see statements nested in any policy-bearing property."""
    statement = {"Effect": "Allow", "Action": ["s3:GetObject", "s3:*"], "Resource": "*"}
    template = {"R": {"Properties": {"Policies": [{"PolicyDocument": {"Statement": [statement]}}]}}}
    assert [a for _, s in _statements(template) for a in _actions(s)] == ["s3:GetObject", "s3:*"]


def test_cdk_nag_reports_no_unacknowledged_finding(synthesized):
    findings = "\n".join(f"{f['rule']} {f['path']}: {f['description']}" for f in synthesized.findings)
    assert not synthesized.findings, f"{len(synthesized.findings)} cdk-nag findings:\n{findings}"


def _lint(path: str) -> list[str]:
    from cfnlint.api import lint_file

    return [f"{Path(path).name}: {match}" for match in lint_file(Path(path))]


def test_cfn_lint_reports_nothing_on_any_template(synthesized):
    paths = sorted(str(synthesized.outdir / f"{stack}.template.json") for stack in synthesized.templates)
    with ProcessPoolExecutor(max_workers=min(len(paths), os.cpu_count() or 1)) as pool:
        matches = [match for found in pool.map(_lint, paths) for match in found]
    assert not matches, f"{len(matches)} cfn-lint matches:\n" + "\n".join(matches)
