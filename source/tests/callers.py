# SPDX-License-Identifier: Apache-2.0
"""Callers for tests: principals as API Gateway's IAM authorization names them, and the request context to carry
one in a hand-built API event."""

from __future__ import annotations

from typing import Any

ACCOUNT = "123456789012"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
BOB = f"arn:aws:iam::{ACCOUNT}:user/bob"
CAROL = f"arn:aws:iam::{ACCOUNT}:user/carol"
ADMIN = f"arn:aws:iam::{ACCOUNT}:user/admin"


def context(user_arn: str = ALICE) -> dict[str, Any]:
    """`requestContext` of an IAM-authorized request by `user_arn`."""
    return {"stage": "prod", "identity": {"userArn": user_arn, "accountId": user_arn.split(":")[4]}}


def as_caller(event: dict[str, Any], user_arn: str = ALICE) -> dict[str, Any]:
    """The API event, sent by `user_arn`."""
    return {**event, "requestContext": context(user_arn)}
