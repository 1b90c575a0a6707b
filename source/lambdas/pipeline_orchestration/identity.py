# SPDX-License-Identifier: Apache-2.0
"""Who acts: the principal of every request, approval and teardown, named the way IAM names it.

The API's caller comes from API Gateway's request context (`requestContext.identity.userArn`, set by IAM
authorization); a config-file commit from the commit as CodeCommit reports it; an upload from the S3 event's
principal; a CodeConnections commit from the provider's author, which AWS has not verified.

An assumed role's session (`arn:aws:sts::<account>:assumed-role/<role>/<session>`) is the role's ARN plus the
session name: an IAM Identity Center user or a CI job is the role they assumed *and* who they are within it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# The kinds of principal, as CloudTrail's `userIdentity.type` names them, and the sources that are not IAM's.
IAM_USER, ASSUMED_ROLE, FEDERATED_USER, ROOT, ROLE = "IAMUser", "AssumedRole", "FederatedUser", "Root", "Role"
ANONYMOUS = "Anonymous"  # local mode's unsigned requests
COMMIT_AUTHOR = "CommitAuthor"  # a name and e-mail a git commit carries: whoever made the commit wrote them
S3_PRINCIPAL = "S3Principal"  # the S3 event's principal id (`AWS:<unique id>[:<session>]`)
ORCHESTRATOR = "Orchestrator"  # the orchestrator's own action (a monitor's retraining)
API_SOURCE = "api"  # the source of a principal the API (or local mode, as the API) named

_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):(?P<service>iam|sts)::(?P<account>\d{12}):(?P<resource>[^\s]+)",
)


@dataclass(frozen=True)
class Principal:
    """One caller. `arn` is an IAM ARN (a role's, for assumed-role sessions) or a description for non-IAM sources;
    `session` the role session name; `verified` whether AWS authenticated it (a commit author is only a claim)."""

    arn: str
    type: str
    session: str = ""
    source: str = API_SOURCE
    verified: bool = True
    detail: str = ""  # what else the source said (the pusher, an e-mail), shown, never compared

    @property
    def key(self) -> str:
        """What two principals are compared by: the ARN, and the session of a role."""
        return f"{self.arn}#{self.session}" if self.session else self.arn

    @property
    def account(self) -> str:
        found = _ARN.fullmatch(self.arn)
        return found["account"] if found else ""

    @property
    def label(self) -> str:
        """One line for people: notices, CodePipeline's approval summary, the CLI."""
        text = self.arn + (f" (session {self.session})" if self.session else "")
        return text + ("" if self.verified else " (unverified)")

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"arn": self.arn, "type": self.type, "source": self.source}
        if self.session:
            found["session"] = self.session
        if not self.verified:
            found["verified"] = False
        if self.detail:
            found["detail"] = self.detail
        return found

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> Principal | None:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("arn"), str):
            return None
        return cls(
            raw["arn"],
            str(raw.get("type", "")),
            str(raw.get("session", "")),
            str(raw.get("source", API_SOURCE)),
            bool(raw.get("verified", True)),
            str(raw.get("detail", "")),
        )

    def same_as(self, other: Principal | None) -> bool:
        return other is not None and self.key == other.key

    def role_name(self) -> str:
        """The role's name (for iam:ListRoleTags), or "" when the principal is not a role."""
        found = _ARN.fullmatch(self.arn)
        if not found or self.type not in (ASSUMED_ROLE, ROLE):
            return ""
        return found["resource"].rsplit("/", 1)[-1]


ORCHESTRATOR_PRINCIPAL = Principal("mlops-orchestrator", ORCHESTRATOR, source="orchestrator")


class NotAPrincipal(ValueError):
    """The text is not the ARN of an IAM principal."""


def from_arn(arn: str, source: str = API_SOURCE) -> Principal:
    """An IAM caller's ARN, normalised: an assumed role's session becomes its role ARN plus the session name."""
    found = _ARN.fullmatch(arn.strip() if isinstance(arn, str) else "")
    if not found:
        raise NotAPrincipal(f"{arn!r} is not the ARN of an IAM principal")
    partition, service, account, resource = found["partition"], found["service"], found["account"], found["resource"]
    if service == "iam" and resource == "root":
        return Principal(f"arn:{partition}:iam::{account}:root", ROOT, source=source)
    if service == "iam" and resource.startswith("user/"):
        return Principal(f"arn:{partition}:iam::{account}:{resource}", IAM_USER, source=source)
    if service == "iam" and resource.startswith("role/"):
        return Principal(f"arn:{partition}:iam::{account}:{resource}", ROLE, source=source)
    if service == "sts" and resource.startswith("assumed-role/"):
        parts = resource.split("/")
        if len(parts) < 3 or not parts[1] or not parts[-1]:
            raise NotAPrincipal(f"{arn!r} names no role and session")
        # The session ARN carries no role path; role names are unique within an account without it.
        return Principal(f"arn:{partition}:iam::{account}:role/{parts[1]}", ASSUMED_ROLE, parts[-1], source)
    if service == "sts" and resource.startswith("federated-user/"):
        return Principal(f"arn:{partition}:sts::{account}:{resource}", FEDERATED_USER, source=source)
    raise NotAPrincipal(f"{arn!r} is not a user, role, role session, federated user or root")


def from_api_event(event: Mapping[str, Any]) -> Principal | None:
    """The caller API Gateway authenticated, or None when the event carries no identity (a hand-made event)."""
    context = event.get("requestContext")
    identity = context.get("identity") if isinstance(context, Mapping) else None
    if not isinstance(identity, Mapping):
        return None
    arn = identity.get("userArn")
    if not isinstance(arn, str) or not arn:
        return None
    try:
        return from_arn(arn)
    except NotAPrincipal:
        return None


def commit_author(name: str, email: str, source: str, pusher: str = "") -> Principal:
    """The author a commit names: what git was told, so not verified; `pusher` is the IAM caller who pushed."""
    who = f"{name} <{email}>" if email else name
    return Principal(who or "unknown author", COMMIT_AUTHOR, source=source, verified=False, detail=pusher)


def from_s3_principal(principal_id: str, account: str) -> Principal:
    """The S3 event's `userIdentity.principalId`: `AWS:<unique id>` (a user), `AWS:<unique id>:<session>` (a
    role session), or an account id; S3 gives no ARN, so the unique id stands for the principal."""
    text = principal_id.strip()
    raw = text.removeprefix("AWS:")
    unique, _, session = raw.partition(":")
    if not unique:
        return Principal("unknown uploader", S3_PRINCIPAL, source="s3", verified=False)
    return Principal(f"AWS:{unique}", S3_PRINCIPAL, session, "s3", detail=f"account {account}" if account else "")


def matches_any(principal: Principal, arns: Iterable[str]) -> bool:
    """Whether the principal is one of these ARNs: a user or root by its ARN, a role (any of its sessions) by the
    role's ARN (with or without its path) or by `assumed-role/<role>/<session>` for one session only."""
    for arn in arns:
        try:
            listed = from_arn(arn)
        except NotAPrincipal:
            continue
        if listed.type == ROLE and principal.type in (ASSUMED_ROLE, ROLE):
            if listed.account == principal.account and listed.role_name() == principal.role_name():
                return True
        elif listed.key == principal.key:
            return True
    return False
