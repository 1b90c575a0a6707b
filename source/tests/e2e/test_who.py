# SPDX-License-Identifier: Apache-2.0
"""Who did what, over HTTP in multi-account local mode: callers named by the access key id their requests are
signed with, as `AWS_ACCESS_KEY_ID=alice mlops ...` names them."""

from __future__ import annotations

import time

import pytest

from local.api_client import ApiResponse
from local.examples import pipeline_name
from tests.callers import ACCOUNT, ADMIN

from .conftest import LocalScene

ALICE, BOB, CAROL = (f"arn:aws:iam::{ACCOUNT}:user/{name}" for name in ("alice", "bob", "carol"))


def as_caller(
    scene: LocalScene, monkeypatch: pytest.MonkeyPatch, key_id: str | None, method: str, path: str, body=None
) -> ApiResponse:
    """A request signed from the standard credential chain, whose access key id is `key_id` (None: unsigned)."""
    if key_id is None:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    else:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-checked-locally")
    return scene.call(method, path, body)


def test_separation_of_duties_ownership_and_history(separated_duties: LocalScene, monkeypatch: pytest.MonkeyPatch):
    scene = separated_duties
    body = scene.request("byom_realtime_builtin")
    name = pipeline_name(body)

    def call(who: str | None, method: str, path: str, payload=None) -> ApiResponse:
        return as_caller(scene, monkeypatch, who, method, path, payload)

    assert call("alice", "POST", "/provisionpipeline", body).status == 200
    scene.wait(name, until="Approval")

    refused = call("alice", "POST", f"/pipelines/{name}/approval", {"stage": "staging"})
    assert refused.status == 403 and "another principal must" in refused.body["detailedMessage"]
    approved = call("bob", "POST", f"/pipelines/{name}/approval", {"stage": "staging", "comment": "looks good"})
    assert approved.status == 200 and approved.body["approved_by"]["arn"] == BOB
    described = call("carol", "GET", f"/pipelines/{name}").body
    assert described["owner"]["arn"] == ALICE and described["provisioned_by"]["arn"] == ALICE
    assert described["approvals"]["staging"]["approved_by"]["arn"] == BOB
    assert described["approvals"]["staging"]["comment"] == "looks good"

    # bob may neither re-post over alice's pipeline nor delete it.
    reposted = call("bob", "POST", "/provisionpipeline", body)
    assert reposted.status == 403 and f"owned by {ALICE}" in reposted.body["detailedMessage"]
    assert call("bob", "DELETE", f"/pipelines/{name}").status == 403

    scene.wait(name, until="Approval")
    assert call("carol", "POST", f"/pipelines/{name}/approval", {"stage": "prod"}).status == 200
    assert scene.wait(name)["state"] == "ACTIVE"

    # The admin may delete it, but a pipeline deployed to staging and prod waits for another principal.
    waiting = call("admin", "DELETE", f"/pipelines/{name}")
    assert waiting.status == 202 and waiting.body["approval_stage"] == "teardown"
    assert call("admin", "POST", f"/pipelines/{name}/approval", {"stage": "teardown"}).status == 403
    torn = call("bob", "POST", f"/pipelines/{name}/approval", {"stage": "teardown"})
    assert torn.status == 200 and torn.body["requested_by"]["arn"] == ADMIN
    deadline = time.monotonic() + 60
    while call("admin", "DELETE", f"/pipelines/{name}").status != 404 and time.monotonic() < deadline:
        time.sleep(0.5)

    history = call("carol", "GET", f"/pipelines/{name}/history").body["history"]
    steps = [(e["action"], e["principal"]["arn"], e.get("stage", "")) for e in history]
    assert steps[:4] == [
        ("provision", ALICE, ""),
        ("approve", BOB, "staging"),
        ("approve", CAROL, "prod"),
        ("request-teardown", ADMIN, ""),
    ]
    assert ("approve", BOB, "teardown") in steps and ("delete", ADMIN, "") in steps
    assert all(entry["outcome"] for entry in history)


def test_keys_the_emulators_iam_knows_name_their_user_and_unsigned_requests_are_anonymous(
    separated_duties: LocalScene, monkeypatch: pytest.MonkeyPatch
):
    scene = separated_duties
    iam = scene.aws("iam")
    iam.create_user(UserName="dana")
    key = iam.create_access_key(UserName="dana")["AccessKey"]["AccessKeyId"]
    body = scene.request("byom_realtime_custom")
    name = pipeline_name(body)
    assert as_caller(scene, monkeypatch, key, "POST", "/provisionpipeline", body).status == 200
    owner = as_caller(scene, monkeypatch, key, "GET", f"/pipelines/{name}").body["owner"]
    assert owner["arn"] == f"arn:aws:iam::{ACCOUNT}:user/dana"
    refused = as_caller(scene, monkeypatch, None, "DELETE", f"/pipelines/{name}")
    assert refused.status == 403 and f"arn:aws:iam::{ACCOUNT}:user/anonymous" in refused.body["detailedMessage"]
