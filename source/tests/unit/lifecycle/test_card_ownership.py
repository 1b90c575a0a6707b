# SPDX-License-Identifier: Apache-2.0
"""Who may change a model card: its creator or an admin; a card the orchestrator did not create is refused."""

from __future__ import annotations

import dataclasses

from lambdas.pipeline_orchestration import audit, card_ownership
from lambdas.shared.aws import client
from tests.callers import ADMIN, ALICE, BOB

from .conftest import Scene

CARD = {"pipeline_type": "create_model_card", "name": "churn-card", "intended_uses": {"risk_rating": "Low"}}
UPDATE = {"pipeline_type": "update_model_card", "name": "churn-card", "status": "Approved"}
DELETE = {"pipeline_type": "delete_model_card", "name": "churn-card"}
DESCRIBE = {"pipeline_type": "describe_model_card", "name": "churn-card"}


def _post(scene: Scene, body: dict, caller: str = ALICE) -> tuple[int, dict]:
    return scene.call("POST", "/provisionpipeline", body, caller=caller)


def _status(scene: Scene) -> str:
    return str(_post(scene, DESCRIBE)[1]["message"]["ModelCardStatus"])


def _trail(scene: Scene, name: str = "churn-card") -> list[tuple[str, str, str]]:
    entries = audit.history(card_ownership.audit_subject(name), scene.settings, scene.service.aws)
    return [(e["action"], e["principal"]["arn"], e["outcome"]) for e in entries]


def test_another_principal_may_not_update_or_delete_a_card_and_is_told_its_owner(scene: Scene) -> None:
    assert _post(scene, CARD)[0] == 200

    for body in (UPDATE, DELETE):
        status, answer = _post(scene, body, BOB)
        assert status == 403, answer
        assert f"owned by {ALICE}" in answer["detailedMessage"] and BOB in answer["detailedMessage"]

    assert _status(scene) == "Draft"
    assert _trail(scene) == [("create", ALICE, "done")]


def test_the_creator_updates_and_deletes_its_card_and_the_trail_names_each_step(scene: Scene) -> None:
    _post(scene, CARD)

    assert _post(scene, UPDATE)[0] == 200
    record = card_ownership.read("churn-card", scene.settings, scene.service.aws)
    assert record and record["owner"]["arn"] == ALICE and record["updated_by"]["arn"] == ALICE
    assert _post(scene, DELETE)[0] == 200

    assert card_ownership.read("churn-card", scene.settings, scene.service.aws) is None
    assert _trail(scene) == [("create", ALICE, "done"), ("update", ALICE, "done"), ("delete", ALICE, "done")]
    # The name is free again: whoever creates the next card of that name owns it.
    assert _post(scene, CARD, BOB)[0] == 200
    assert _post(scene, UPDATE, ALICE)[0] == 403
    assert _post(scene, UPDATE, BOB)[0] == 200


def test_an_admin_may_update_and_delete_another_owners_card(scene: Scene) -> None:
    scene.service.settings = dataclasses.replace(scene.service.settings, admin_principal_arns=(ADMIN,))
    _post(scene, CARD)

    assert _post(scene, UPDATE, ADMIN)[0] == 200
    assert _status(scene) == "Approved"
    record = card_ownership.read("churn-card", scene.settings, scene.service.aws)
    assert record and record["owner"]["arn"] == ALICE and record["updated_by"]["arn"] == ADMIN
    assert _post(scene, DELETE, ADMIN)[0] == 200
    assert [who for _, who, _ in _trail(scene)] == [ALICE, ADMIN, ADMIN]


def test_a_card_the_orchestrator_did_not_create_is_refused_even_to_an_admin(scene: Scene) -> None:
    scene.service.settings = dataclasses.replace(scene.service.settings, admin_principal_arns=(ADMIN,))
    client("sagemaker").create_model_card(ModelCardName="churn-card", Content="{}", ModelCardStatus="Draft")

    for caller in (ALICE, ADMIN):
        for body in (UPDATE, DELETE):
            status, answer = _post(scene, body, caller)
            assert status == 403, answer
            assert "was not created by this orchestrator" in answer["detailedMessage"]

    assert _status(scene) == "Draft"
    assert _trail(scene) == []


def test_a_failed_update_is_in_the_trail(scene: Scene) -> None:
    _post(scene, CARD)

    status, _ = _post(scene, {**UPDATE, "model_overview": {"model_name": "no-such-model"}})

    assert status == 400
    assert _trail(scene)[-1][:2] == ("update", ALICE) and _trail(scene)[-1][2].startswith("failed: ")
