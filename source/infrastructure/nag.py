# SPDX-License-Identifier: Apache-2.0
"""cdk-nag's AwsSolutions pack, added once to the app, and the one way to acknowledge a finding."""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def add_checks(app: App) -> None:
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge(construct: IConstruct, *findings: tuple[str, str]) -> None:
    """Acknowledge exact findings, e.g. ("AwsSolutions-IAM5[Resource::arn:...:log-group:*]", "why")."""
    for finding, reason in findings:
        Validations.of(construct).acknowledge(Acknowledgment(id=finding, reason=reason))
