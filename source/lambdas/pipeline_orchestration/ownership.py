# SPDX-License-Identifier: Apache-2.0
"""Who owns a pipeline, who provisioned and last updated it, and whether a caller may change it.

The record is `owner.json` beside the pipeline's request. The owner is the principal who first provisioned the
pipeline, or the team its request names (`owner_team`). Update, delete, rollback and retraining targets of
another owner's pipeline are refused unless the caller is an admin (stack parameter AdminPrincipalArns). A
pipeline created before owners were recorded is owned by the first principal who changes it.
"""

from __future__ import annotations

import json
import time
from typing import Any

from lambdas.shared.errors import Forbidden
from lambdas.shared.logging import get_logger

from .adapters import Aws, aws_reason, is_client_error
from .audit import now
from .identity import ORCHESTRATOR, Principal, matches_any
from .planner import pipeline_key
from .settings import Settings

logger = get_logger(__name__)

OWNER_FILE = "owner.json"
TEAM_TAGS_SECONDS = 300.0  # how long a role's team tag is remembered (iam:ListRoleTags once per role)
_TEAM_TAGS: dict[str, tuple[float, dict[str, str]]] = {}


def owner_key(pipeline_name: str) -> str:
    return pipeline_key(pipeline_name, OWNER_FILE)


def read(pipeline_name: str, settings: Settings, aws: Aws) -> dict[str, Any] | None:
    raw = aws.storage.find(settings.assets_bucket, owner_key(pipeline_name))
    return json.loads(raw) if raw is not None else None


def write(pipeline_name: str, record: dict[str, Any], settings: Settings, aws: Aws) -> None:
    body = json.dumps(record, indent=2, sort_keys=True).encode()
    aws.storage.put(settings.assets_bucket, owner_key(pipeline_name), body, "application/json")


def is_admin(principal: Principal, settings: Settings) -> bool:
    return matches_any(principal, settings.admin_principal_arns)


def role_tags(principal: Principal, aws: Aws) -> dict[str, str]:
    """The tags of the role a caller acts as ({} for users and others), read once per role and remembered: API
    Gateway passes no principal tags."""
    role = principal.role_name()
    if not role:
        return {}
    cached = _TEAM_TAGS.get(principal.arn)
    if cached and time.monotonic() - cached[0] < TEAM_TAGS_SECONDS:
        return cached[1]
    tags = aws.identities.role_tags(role)
    _TEAM_TAGS[principal.arn] = (time.monotonic(), tags)
    return tags


def team_of(principal: Principal, settings: Settings, aws: Aws) -> str | None:
    """The caller's team (its role's tag TeamTagKey), or None when it carries none or no key is configured."""
    if not settings.team_tag_key:
        return None
    try:
        return role_tags(principal, aws).get(settings.team_tag_key)
    except Exception as error:
        if not is_client_error(error):
            raise
        # A team that cannot be read is no team: the caller is refused what only the team may do, and told why.
        logger.error("could not read the tags of %s: %s", principal.arn, aws_reason(error))
        return None


def owner_label(record: dict[str, Any]) -> str:
    owner = Principal.from_dict(record.get("owner"))
    parts = []
    if record.get("owner_team"):
        parts.append(f"team {record['owner_team']}")
    if owner:
        parts.append(owner.label)
    return " and ".join(parts) or "nobody"


def may_change(record: dict[str, Any] | None, principal: Principal, settings: Settings, aws: Aws) -> bool:
    """Whether the caller may change the pipeline this record owns (no record: nobody owns it yet)."""
    if record is None or principal.type == ORCHESTRATOR or is_admin(principal, settings):
        return True
    owner = Principal.from_dict(record.get("owner"))
    team = record.get("owner_team")
    if owner is None and not team:  # nobody owns it yet: the first principal who changes it will
        return True
    if owner is not None and principal.same_as(owner):
        return True
    return bool(team) and bool(settings.team_tag_key) and team_of(principal, settings, aws) == team


def check(pipeline_name: str, principal: Principal, doing: str, settings: Settings, aws: Aws) -> dict[str, Any] | None:
    """Refuse (403, naming the owner) a caller who may not change the pipeline; answers its record."""
    record = read(pipeline_name, settings, aws)
    if not may_change(record, principal, settings, aws):
        assert record is not None
        raise Forbidden(
            f"Pipeline {pipeline_name} is owned by {owner_label(record)}; {principal.label} may not {doing} it. "
            "Ask its owner, or an administrator (AdminPrincipalArns)."
        )
    return record


def check_team_claim(owner_team: str, principal: Principal, settings: Settings, aws: Aws) -> None:
    """A request naming `owner_team` must come from that team when the caller is a role carrying TeamTagKey."""
    if not owner_team or not settings.team_tag_key or is_admin(principal, settings):
        return
    team = team_of(principal, settings, aws)
    if team is not None and team != owner_team:
        raise Forbidden(
            f"owner_team '{owner_team}' is not the team of {principal.label}: its role's tag "
            f"{settings.team_tag_key} is '{team}'."
        )


def record_change(
    pipeline_name: str,
    principal: Principal,
    owner_team: str,
    record: dict[str, Any] | None,
    settings: Settings,
    aws: Aws,
) -> dict[str, Any]:
    """After a provision: the first principal becomes the owner (and provisioned_by); later ones updated_by."""
    at = now()
    stamp = {**principal.as_dict(), "at": at}
    # The orchestrator's own changes (a monitor's retraining) are recorded, but never make it an owner.
    owner = {"owner": principal.as_dict()} if principal.type != ORCHESTRATOR else {}
    # A pipeline recorded without an owner (created before owners were, or by the orchestrator itself) is owned by
    # the first principal who changes it.
    record = {**owner, "provisioned_by": stamp} if record is None else {**owner, **record, "updated_by": stamp}
    if owner_team:
        record["owner_team"] = owner_team
    write(pipeline_name, record, settings, aws)
    return record


def principals_of(record: dict[str, Any] | None) -> list[Principal]:
    """Who asked for the request now deployed: the principal who provisioned it and the one who last updated it."""
    if not record:
        return []
    found = [Principal.from_dict(record.get(key)) for key in ("provisioned_by", "updated_by")]
    return [p for p in found if p is not None]


def described(record: dict[str, Any] | None) -> dict[str, Any]:
    """What describe shows of the record: owner, owner_team, provisioned_by and updated_by (each with its time)."""
    if not record:
        return {"owner": None}
    return {key: record[key] for key in ("owner", "owner_team", "provisioned_by", "updated_by") if record.get(key)}
