# SPDX-License-Identifier: Apache-2.0
"""Trust policies carry `aws:SourceAccount` where the assuming service documents sending it
(infrastructure/trust.py), and only there."""

from __future__ import annotations

from typing import Any

import pytest

from infrastructure.trust import SOURCE_ACCOUNT_SERVICES

pytestmark = pytest.mark.synth

THIS_ACCOUNT = {"Ref": "AWS::AccountId"}
# Services that assume the solution's roles without documenting the key: a condition would refuse them.
UNDOCUMENTED = ("lambda.amazonaws.com", "cloudformation.amazonaws.com", "codebuild.amazonaws.com")


MODEL_ROLE = "Execution role of the pipeline's SageMaker model"  # infrastructure/blueprints/model.py


def _trust_statements(templates: dict[str, dict[str, Any]]) -> list[tuple[str, list[str], dict[str, Any]]]:
    """(template, logical ID and description of the role), its trusted services, the statement."""
    found = []
    for name, template in sorted(templates.items()):
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] != "AWS::IAM::Role":
                continue
            for statement in resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
                services = statement.get("Principal", {}).get("Service", [])
                services = services if isinstance(services, list) else [services]
                if services:
                    description = resource["Properties"].get("Description", "")
                    found.append((f"{name} {logical_id} ({description})", services, statement))
    return found


def _source_account(statement: dict[str, Any]) -> Any:
    return statement.get("Condition", {}).get("StringEquals", {}).get("aws:SourceAccount")


def test_roles_of_services_that_send_the_source_account_require_this_account(synthesized):
    statements = _trust_statements(synthesized.templates)
    guarded = [(where, s) for where, services, s in statements if set(services) <= set(SOURCE_ACCOUNT_SERVICES)]
    assert {service for _, services, _ in statements for service in services} >= set(SOURCE_ACCOUNT_SERVICES)
    assert [where for where, statement in guarded if _source_account(statement) != THIS_ACCOUNT] == []


def test_the_model_role_requires_this_account_and_the_job_roles_do_not(synthesized):
    """SageMaker documents the key for models (endpoints, batch transform), not for tuning, AutoML or monitoring."""
    statements = _trust_statements(synthesized.templates)
    sagemaker = {where: s for where, services, s in statements if services == ["sagemaker.amazonaws.com"]}
    models = [where for where in sagemaker if f"({MODEL_ROLE})" in where]
    assert models
    for where, statement in sagemaker.items():
        expected = THIS_ACCOUNT if where in models else None
        assert _source_account(statement) == expected, where


def test_roles_of_services_that_do_not_document_it_carry_no_source_account_condition(synthesized):
    statements = _trust_statements(synthesized.templates)
    undocumented = [(where, s) for where, services, s in statements if set(services) & set(UNDOCUMENTED)]
    assert undocumented
    assert [where for where, statement in undocumented if _source_account(statement) is not None] == []
