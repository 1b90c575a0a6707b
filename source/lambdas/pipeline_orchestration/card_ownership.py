# SPDX-License-Identifier: Apache-2.0
"""Who created each model card the orchestrator made, and whether a caller may update or delete it.

The record is `owner.json` in the card's folder under the orchestrator's reserved prefix of the assets bucket,
where no request may point. The principal who created the card, or an admin (AdminPrincipalArns), may update or
delete it. A card without a record was not created by this orchestrator and is refused to everyone: the
orchestrator's role must not become a way around the permissions that guard cards made elsewhere. Creates,
updates and deletes are in the audit trail under `model-card:<name>`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lambdas.shared.errors import Forbidden, NotFound, OrchestratorError

from . import audit
from .adapters import Aws
from .identity import ORCHESTRATOR, Principal
from .ownership import is_admin
from .rules import PROVISIONED_PREFIX
from .settings import Settings
from .spec import Operation

CARDS_FOLDER = "_model_cards"  # no pipeline is named so: stack names have no underscore
OWNER_FILE = "owner.json"
AUDIT_PREFIX = "model-card:"
CREATE, UPDATE, DELETE = "create_model_card", "update_model_card", "delete_model_card"
_ACTIONS = {CREATE: audit.CREATE, UPDATE: audit.UPDATE, DELETE: audit.DELETE}
_DOING = {UPDATE: "update", DELETE: "delete"}


def owner_key(card_name: str) -> str:
    return f"{PROVISIONED_PREFIX}/{CARDS_FOLDER}/{card_name}/{OWNER_FILE}"


def audit_subject(card_name: str) -> str:
    """The name the card's entries are kept under in the audit trail, apart from any pipeline's."""
    return AUDIT_PREFIX + card_name


def read(card_name: str, settings: Settings, aws: Aws) -> dict[str, Any] | None:
    raw = aws.storage.find(settings.assets_bucket, owner_key(card_name))
    return json.loads(raw) if raw is not None else None


def _write(card_name: str, record: dict[str, Any], settings: Settings, aws: Aws) -> None:
    body = json.dumps(record, indent=2, sort_keys=True).encode()
    aws.storage.put(settings.assets_bucket, owner_key(card_name), body, "application/json")


def check(card_name: str, principal: Principal, doing: str, settings: Settings, aws: Aws) -> dict[str, Any]:
    """Refuse (403 with the reason) a card this orchestrator did not create, or a caller who is neither its creator
    nor an admin; answers the card's record. A card that does not exist is a 404."""
    record = read(card_name, settings, aws)
    if record is None:
        if aws.sagemaker.describe_model_card(card_name) is None:
            raise NotFound(f"No model card named {card_name}.")
        raise Forbidden(
            f"Model card {card_name} was not created by this orchestrator (it holds no record of its creator); "
            f"{principal.label} may not {doing} it here. Change it with SageMaker's own API, under your own "
            "permissions, or ask an operator to record its owner."
        )
    owner = Principal.from_dict(record.get("owner"))
    if principal.type == ORCHESTRATOR or is_admin(principal, settings) or principal.same_as(owner):
        return record
    raise Forbidden(
        f"Model card {card_name} is owned by {owner.label if owner else 'nobody'}; {principal.label} may not "
        f"{doing} it. Ask its owner, or an administrator (AdminPrincipalArns)."
    )


def run(
    operation: Operation, values: Mapping[str, Any], principal: Principal, settings: Settings, aws: Aws
) -> dict[str, Any]:
    """Run a model-card operation as `principal`: its creator is recorded, only the creator or an admin updates or
    deletes it, and each create, update and delete is in the audit trail."""
    action = _ACTIONS.get(operation.name)
    if action is None:  # reads and exports change no card
        return operation.run(values, settings, aws)
    name = str(values["name"])
    record = check(name, principal, _DOING[operation.name], settings, aws) if operation.name != CREATE else None
    try:
        answer = operation.run(values, settings, aws)
    except OrchestratorError as error:
        audit.append(audit_subject(name), action, principal, f"failed: {error.detail}", settings, aws)
        raise
    stamp = {**principal.as_dict(), "at": audit.now()}
    if operation.name == CREATE:
        _write(name, {"owner": principal.as_dict(), "created_by": stamp}, settings, aws)
    elif operation.name == UPDATE:
        _write(name, {**(record or {}), "updated_by": stamp}, settings, aws)
    else:  # a card of the same name created later is its creator's
        aws.storage.delete(settings.assets_bucket, owner_key(name))
    audit.append(audit_subject(name), action, principal, "done", settings, aws)
    return answer
