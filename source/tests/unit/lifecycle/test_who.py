# SPDX-License-Identifier: Apache-2.0
"""Who may do what: owners, admins, teams, teardown and rollback approvals, and the audit trail."""

from __future__ import annotations

import dataclasses
import json

import pytest

from lambdas.pipeline_orchestration import ownership
from lambdas.shared.aws import client
from tests.callers import ADMIN, ALICE, BOB, CAROL

from .conftest import ASSETS, REALTIME, Scene

CHURN = "mlops-pipeline-churn-byompipelinerealtimebuiltin"
PIPELINE = "/pipelines/{pipeline_name}"
APPROVAL = "/pipelines/{pipeline_name}/approval"
HISTORY = "/pipelines/{pipeline_name}/history"


def _call(scene: Scene, method: str, resource: str, caller: str, body=None, query=None):
    return scene.call(method, resource, body, path={"pipeline_name": CHURN}, query=query, caller=caller)


def _provision(scene: Scene, caller: str, body=None):
    return scene.call("POST", "/provisionpipeline", body or REALTIME, caller=caller)


def _settings(scene: Scene, **changes) -> None:
    scene.service.settings = dataclasses.replace(scene.service.settings, **changes)


def _stack_names() -> set[str]:
    return {s["StackName"] for s in client("cloudformation").describe_stacks()["Stacks"]}


@pytest.fixture
def multi(scene: Scene) -> Scene:
    if not scene.multi:
        pytest.skip("teardown and rollback approvals are multi-account's")
    return scene


def test_another_principal_updating_deleting_or_rolling_back_is_refused_naming_the_owner(scene: Scene) -> None:
    assert _provision(scene, ALICE)[0] == 200
    for method, resource, body in (
        ("POST", "/provisionpipeline", REALTIME),
        ("DELETE", PIPELINE, None),
        ("POST", PIPELINE + "/rollback", None),
    ):
        if resource == "/provisionpipeline":
            status, answer = _provision(scene, BOB, body)
        else:
            status, answer = _call(scene, method, resource, BOB)
        assert status == 403, (method, resource, answer)
        assert f"owned by {ALICE}" in answer["detailedMessage"] and BOB in answer["detailedMessage"]
    assert f"{CHURN}-codepipeline" in _stack_names()
    assert [e["action"] for e in _call(scene, "GET", HISTORY, CAROL)[1]["history"]] == ["provision"]


def test_the_owner_updates_and_describe_shows_who_provisioned_and_updated(scene: Scene) -> None:
    _provision(scene, ALICE)
    assert _provision(scene, ALICE, {**REALTIME, "inference_instance": "ml.m5.xlarge"})[0] == 200
    status, described = _call(scene, "GET", PIPELINE, CAROL)
    assert status == 200
    assert described["owner"]["arn"] == ALICE
    assert described["provisioned_by"]["arn"] == ALICE and described["updated_by"]["arn"] == ALICE
    assert described["provisioned_by"]["at"] < described["updated_by"]["at"]
    history = _call(scene, "GET", HISTORY, CAROL)[1]["history"]
    assert [e["action"] for e in history] == ["provision", "update"]
    assert history[0]["request_hash"] != history[1]["request_hash"] and len(history[0]["request_hash"]) == 64


def test_an_admin_may_update_another_owners_pipeline_and_the_owner_stays(scene: Scene) -> None:
    _settings(scene, admin_principal_arns=(ADMIN,))
    _provision(scene, ALICE)
    assert _provision(scene, ADMIN, {**REALTIME, "inference_instance": "ml.m5.xlarge"})[0] == 200
    described = _call(scene, "GET", PIPELINE, CAROL)[1]
    assert described["owner"]["arn"] == ALICE and described["updated_by"]["arn"] == ADMIN


def test_list_filters_by_owner(scene: Scene) -> None:
    _provision(scene, ALICE)
    assert [p["pipeline_name"] for p in scene.call("GET", "/pipelines", query={"owner": ALICE})[1]["pipelines"]] == [
        CHURN
    ]
    assert scene.call("GET", "/pipelines", query={"owner": BOB})[1]["pipelines"] == []


def test_a_pipeline_from_before_owners_is_owned_by_the_first_principal_who_changes_it(scene: Scene) -> None:
    _provision(scene, ALICE)
    client("s3").delete_object(Bucket=ASSETS, Key=ownership.owner_key(CHURN))  # as an upgraded orchestrator has it
    assert _call(scene, "GET", PIPELINE, CAROL)[1]["owner"] is None
    assert _provision(scene, BOB, {**REALTIME, "inference_instance": "ml.m5.xlarge"})[0] == 200
    assert _call(scene, "GET", PIPELINE, CAROL)[1]["owner"]["arn"] == BOB
    assert _provision(scene, ALICE)[0] == 403


def test_owner_team_must_be_the_callers_team_and_lets_the_team_change_the_pipeline(scene: Scene) -> None:
    iam = client("iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    for role, team in (("RiskScientist", "risk"), ("FraudScientist", "fraud")):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust, Tags=[{"Key": "team", "Value": team}])
    _settings(scene, team_tag_key="team")
    risk_one = "arn:aws:sts::123456789012:assumed-role/RiskScientist/one"
    risk_two = "arn:aws:sts::123456789012:assumed-role/RiskScientist/two"
    fraud = "arn:aws:sts::123456789012:assumed-role/FraudScientist/three"

    status, answer = _provision(scene, fraud, {**REALTIME, "owner_team": "risk"})
    assert status == 403 and "tag team is 'fraud'" in answer["detailedMessage"]
    assert f"{CHURN}-codepipeline" not in _stack_names()

    assert _provision(scene, risk_one, {**REALTIME, "owner_team": "risk"})[0] == 200
    assert _provision(scene, risk_two)[0] == 200  # another member of the team
    status, answer = _provision(scene, fraud)
    assert status == 403 and "team risk" in answer["detailedMessage"]
    assert _call(scene, "GET", PIPELINE, CAROL)[1]["owner_team"] == "risk"


def test_an_owner_team_that_is_no_tag_value_is_a_400(scene: Scene) -> None:
    status, answer = _provision(scene, ALICE, {**REALTIME, "owner_team": "risk\nteam"})
    assert status == 400 and answer["errors"][0]["field"] == "owner_team"


def test_a_deployed_multi_account_pipelines_teardown_waits_for_another_principal(multi: Scene) -> None:
    _settings(multi, admin_principal_arns=(ADMIN,))
    _provision(multi, ALICE)
    multi.deploy_blueprint(CHURN)

    status, answer = _call(multi, "DELETE", PIPELINE, ADMIN)
    assert status == 202 and answer["done"] is False and answer["approval_stage"] == "teardown"
    assert f"mlops approve {CHURN} teardown" in answer["message"]
    assert f"{CHURN}-codepipeline" in _stack_names()
    assert _call(multi, "DELETE", PIPELINE, ADMIN)[1]["pending_approval"] == answer["pending_approval"]
    assert _call(multi, "GET", PIPELINE, CAROL)[1]["pending_approval"]["requested_by"]["arn"] == ADMIN

    status, refused = _call(multi, "POST", APPROVAL, ADMIN, {"stage": "teardown"})
    assert status == 403 and "another principal must" in refused["detailedMessage"]
    assert _call(multi, "POST", APPROVAL, BOB, {"stage": "rollback"})[0] == 409

    status, done = _call(multi, "POST", APPROVAL, ALICE, {"stage": "teardown", "comment": "retire it"})
    assert status == 200 and done["done"] is True and done["approved_by"]["arn"] == ALICE
    assert not {CHURN, f"{CHURN}-codepipeline"} & _stack_names()
    history = _call(multi, "GET", HISTORY, CAROL)[1]["history"]
    assert [(e["action"], e["principal"]["arn"], e.get("stage", "")) for e in history] == [
        ("provision", ALICE, ""),
        ("request-teardown", ADMIN, ""),
        ("request-teardown", ADMIN, ""),
        ("approve", ALICE, "teardown"),
        ("delete", ADMIN, ""),
    ]


def test_a_rejected_teardown_changes_nothing(multi: Scene) -> None:
    _provision(multi, ALICE)
    multi.deploy_blueprint(CHURN)
    _call(multi, "DELETE", PIPELINE, ALICE)
    status, answer = _call(multi, "POST", APPROVAL, ALICE, {"stage": "teardown", "approved": False})
    assert status == 200 and answer["rejected_by"]["arn"] == ALICE
    assert f"{CHURN}-codepipeline" in _stack_names()
    assert "pending_approval" not in _call(multi, "GET", PIPELINE, ALICE)[1]
    assert _call(multi, "POST", APPROVAL, BOB, {"stage": "teardown"})[0] == 409


def test_a_multi_account_pipeline_deployed_to_dev_only_is_deleted_at_once(multi: Scene) -> None:
    _provision(multi, ALICE)
    status, answer = _call(multi, "DELETE", PIPELINE, ALICE)
    assert status == 202 and answer["done"] is True and "pending_approval" not in answer


def test_self_approval_allowed_deletes_at_once(multi: Scene) -> None:
    _settings(multi, allow_self_approval=True)
    _provision(multi, ALICE)
    multi.deploy_blueprint(CHURN)
    assert _call(multi, "DELETE", PIPELINE, ALICE)[1]["done"] is True


def test_a_deployed_multi_account_pipelines_rollback_waits_for_another_principal(multi: Scene) -> None:
    _provision(multi, ALICE)
    multi.deploy_blueprint(CHURN)
    multi.pipelines.record(CHURN, "Succeeded", multi.zip_version(CHURN))
    _provision(multi, ALICE, {**REALTIME, "inference_instance": "ml.m5.xlarge"})
    multi.pipelines.record(CHURN, "Succeeded", multi.zip_version(CHURN))
    status, answer = _call(multi, "POST", PIPELINE + "/rollback", ALICE)
    assert status == 200 and answer["approval_stage"] == "rollback"
    assert _call(multi, "POST", APPROVAL, ALICE, {"stage": "rollback"})[0] == 403
    status, rolled = _call(multi, "POST", APPROVAL, BOB, {"stage": "rollback"})
    assert status == 200 and rolled["rolled_back_to"]["request"]["inference_instance"]["prod"] == "ml.m5.large"
    actions = [(e["action"], e["principal"]["arn"]) for e in _call(multi, "GET", HISTORY, CAROL)[1]["history"]]
    assert actions[-3:] == [("approve", BOB), ("update", ALICE), ("rollback", ALICE)]


def test_history_of_a_name_nothing_ever_had_is_404(scene: Scene) -> None:
    status, _ = scene.call("GET", HISTORY, path={"pipeline_name": "mlops-pipeline-nothing-here"})
    assert status == 404
