# SPDX-License-Identifier: Apache-2.0
"""Who a caller is: IAM's ARNs normalised, config sources' principals, and matching against the admin list."""

from __future__ import annotations

import pytest

from lambdas.pipeline_orchestration import identity
from lambdas.pipeline_orchestration.identity import NotAPrincipal, Principal, from_api_event, from_arn, matches_any


@pytest.mark.parametrize(
    ("arn", "expected", "kind", "session"),
    [
        ("arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:user/alice", "IAMUser", ""),
        ("arn:aws:iam::123456789012:user/team/alice", "arn:aws:iam::123456789012:user/team/alice", "IAMUser", ""),
        (
            "arn:aws:sts::123456789012:assumed-role/Reviewer/bob",
            "arn:aws:iam::123456789012:role/Reviewer",
            "AssumedRole",
            "bob",
        ),
        (
            "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_DataScientist_0123/alice@example.com",
            "arn:aws:iam::123456789012:role/AWSReservedSSO_DataScientist_0123",
            "AssumedRole",
            "alice@example.com",
        ),
        (
            "arn:aws:sts::123456789012:federated-user/carol",
            "arn:aws:sts::123456789012:federated-user/carol",
            "FederatedUser",
            "",
        ),
        ("arn:aws:iam::123456789012:root", "arn:aws:iam::123456789012:root", "Root", ""),
        ("arn:aws-us-gov:iam::123456789012:user/dan", "arn:aws-us-gov:iam::123456789012:user/dan", "IAMUser", ""),
    ],
)
def test_iam_arns_are_normalised(arn, expected, kind, session):
    principal = from_arn(arn)
    assert (principal.arn, principal.type, principal.session) == (expected, kind, session)


@pytest.mark.parametrize(
    "arn",
    ["", "alice", "arn:aws:s3:::bucket", "arn:aws:sts::123456789012:assumed-role/OnlyRole", "arn:aws:iam::1:user/x"],
)
def test_text_that_names_no_iam_principal_is_refused(arn):
    with pytest.raises(NotAPrincipal):
        from_arn(arn)


def test_two_sessions_of_one_role_are_two_principals_and_one_session_is_one():
    alice = from_arn("arn:aws:sts::123456789012:assumed-role/DS/alice")
    assert alice.same_as(from_arn("arn:aws:sts::123456789012:assumed-role/DS/alice"))
    assert not alice.same_as(from_arn("arn:aws:sts::123456789012:assumed-role/DS/bob"))
    assert not alice.same_as(from_arn("arn:aws:iam::123456789012:role/DS"))


def test_the_api_events_caller_is_read_from_the_request_context():
    event = {"requestContext": {"identity": {"userArn": "arn:aws:sts::123456789012:assumed-role/Ops/eve"}}}
    assert from_api_event(event) == Principal("arn:aws:iam::123456789012:role/Ops", "AssumedRole", "eve")
    assert from_api_event({"requestContext": {"identity": {"userArn": None}}}) is None
    assert from_api_event({}) is None


def test_admins_match_a_role_with_any_session_and_path_but_a_session_only_itself():
    session = from_arn("arn:aws:sts::123456789012:assumed-role/Admin/ops1")
    assert matches_any(session, ["arn:aws:iam::123456789012:role/platform/Admin"])
    assert matches_any(session, ["arn:aws:sts::123456789012:assumed-role/Admin/ops1"])
    assert not matches_any(session, ["arn:aws:sts::123456789012:assumed-role/Admin/ops2"])
    assert not matches_any(session, ["arn:aws:iam::999999999999:role/Admin", "not an arn"])
    assert matches_any(from_arn("arn:aws:iam::123456789012:user/root-ops"), ["arn:aws:iam::123456789012:user/root-ops"])


def test_a_commit_author_is_unverified_and_names_the_pusher():
    author = identity.commit_author("Alice", "alice@example.com", "codecommit", "arn:aws:iam::123456789012:user/ci")
    assert author.label == "Alice <alice@example.com> (unverified)"
    assert author.as_dict()["detail"] == "arn:aws:iam::123456789012:user/ci"


@pytest.mark.parametrize(
    ("principal_id", "arn", "session"),
    [("AWS:AIDAEXAMPLE", "AWS:AIDAEXAMPLE", ""), ("AWS:AROAEXAMPLE:uploader", "AWS:AROAEXAMPLE", "uploader")],
)
def test_an_s3_uploader_is_named_by_the_events_principal_id(principal_id, arn, session):
    principal = identity.from_s3_principal(principal_id, "123456789012")
    assert (principal.arn, principal.session, principal.source) == (arn, session, "s3")
