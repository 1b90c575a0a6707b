# SPDX-License-Identifier: Apache-2.0
"""Who calls the local API, named as API Gateway's IAM authorization names callers.

Local mode serves no API Gateway: the caller comes from the request's SigV4 `Authorization` header. The
credential's access key id `K` is the principal `arn:aws:iam::<account>:user/K`, unless the emulator's IAM knows
`K` as an access key of a user or of a role session, in which case that principal. Unsigned requests are
`arn:aws:iam::<account>:user/anonymous`. Signatures are not verified: any caller may name any key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

ANONYMOUS = "anonymous"
# `AWS4-HMAC-SHA256 Credential=<key id>/<date>/<region>/<service>/aws4_request, SignedHeaders=..., Signature=...`
_CREDENTIAL = re.compile(r"AWS4-HMAC-SHA256\s+Credential=([^/\s,]+)/")
_KEY_ID = re.compile(r"[A-Za-z0-9._@+=-]{1,128}")


def access_key_id(headers: Mapping[str, str]) -> str | None:
    """The access key id a SigV4 request was signed with, or None (unsigned, or a header that is not SigV4's)."""
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
    found = _CREDENTIAL.match(value.strip()) if isinstance(value, str) else None
    if not found or not _KEY_ID.fullmatch(found[1]):
        return None
    return found[1]


def known_principal(key_id: str, account: str) -> str | None:
    """The ARN the emulator's IAM or STS gives the access key: an IAM user's, or a role session's."""
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    for assumed in sts_backends[account]["aws"].assumed_roles:
        if assumed.access_key_id == key_id:
            return str(assumed.arn)
    for backend in (iam_backends[account]["aws"],):
        for key in backend.get_all_access_keys_for_all_users():
            if key.access_key_id == key_id:
                return f"arn:aws:iam::{account}:user/{key.user_name}"
    return None


def identity(headers: Mapping[str, str], account: str) -> dict[str, Any]:
    """`requestContext.identity` as API Gateway gives it for an IAM-authorized request."""
    key_id = access_key_id(headers)
    arn = (known_principal(key_id, account) if key_id else None) or f"arn:aws:iam::{account}:user/{key_id or ANONYMOUS}"
    return {
        "accountId": account,
        "accessKey": key_id,
        "userArn": arn,
        "user": arn.rsplit("/", 1)[-1],
        "sourceIp": "127.0.0.1",
    }
