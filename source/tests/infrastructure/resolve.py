# SPDX-License-Identifier: Apache-2.0
"""Resolve a template's conditions for given parameter values, as CloudFormation would.

Gives the resources a stack would really have, so a test can check a feature both on and off.
"""

from __future__ import annotations

from typing import Any

from local.template_resolver import StackContext, resolve_template

PSEUDO = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "mlops-pipeline-churn-xgb-byompipelinerealtimebuiltin-codepipeline",
    "AWS::StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/"
    "mlops-pipeline-churn-xgb-byompipelinerealtimebuiltin-codepipeline/5f0e2a10-8c1d-11ef-9a3b-0a1b2c3d4e5f",
}


def resolve(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """Resources and outputs that exist for these parameters, with conditions, AWS::NoValue and the string
    functions resolved (references to resources stay as they are): local mode's resolver, before any stack."""
    context = StackContext(
        template,
        parameters,
        stack_name=PSEUDO["AWS::StackName"],
        stack_id=PSEUDO["AWS::StackId"],
        region=PSEUDO["AWS::Region"],
        account_id=PSEUDO["AWS::AccountId"],
        keep_references=True,
    )
    return resolve_template(context)


def of_type(resolved: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return {k: v for k, v in resolved["Resources"].items() if v["Type"] == resource_type}


def one(resolved: dict[str, Any], resource_type: str) -> dict[str, Any]:
    found = of_type(resolved, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.values()))["Properties"]
