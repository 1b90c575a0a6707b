# SPDX-License-Identifier: Apache-2.0
"""The audit trail of a pipeline: every provision, update, approval, rejection, rollback and delete, with its
principal, time, request hash and outcome.

Entries live in the pipeline index table, outside the listing: each is an item of its own (a fresh key, never
rewritten), in the index partition `history#<pipeline>` ordered by time, so the trail costs one query to read
and outlives the pipeline's teardown.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from lambdas.shared.logging import get_logger

from .adapters import Aws
from .identity import Principal
from .pipeline_index import KEY, NEWEST_FIRST, PARTITION, SORT
from .settings import Settings

logger = get_logger(__name__)

HISTORY_PREFIX = "history#"
PAGE = 200  # entries one query reads
MAX_ENTRIES = 1000  # entries one answer shows, newest kept

# What happened (the `action` of an entry).
PROVISION, UPDATE, APPROVE, REJECT = "provision", "update", "approve", "reject"
CREATE = "create"  # a model card's
ROLLBACK, DELETE, RETRY, STOP = "rollback", "delete", "retry", "stop"
REQUEST_TEARDOWN, REQUEST_ROLLBACK = "request-teardown", "request-rollback"
ACTIONS = (
    PROVISION,
    CREATE,
    UPDATE,
    APPROVE,
    REJECT,
    ROLLBACK,
    DELETE,
    RETRY,
    STOP,
    REQUEST_TEARDOWN,
    REQUEST_ROLLBACK,
)


def request_hash(request: Mapping[str, Any] | None) -> str:
    """SHA-256 of the request's canonical JSON: tells two requests apart without storing them again."""
    if not request:
        return ""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def append(
    pipeline_name: str,
    action: str,
    principal: Principal,
    outcome: str,
    settings: Settings,
    aws: Aws,
    **details: str,
) -> dict[str, Any]:
    """Add one entry; answers it. A failed write is logged and said in the entry (`recorded: false`): the action
    it records has happened already and is not undone."""
    at = now()
    entry_id = uuid.uuid4().hex[:12]
    entry: dict[str, Any] = {
        "at": at,
        "action": action,
        "principal": principal.as_dict(),
        "outcome": outcome,
        **{key: value for key, value in details.items() if value},
    }
    item = {
        KEY: f"#{HISTORY_PREFIX}{pipeline_name}#{at}#{entry_id}",
        PARTITION: HISTORY_PREFIX + pipeline_name,
        SORT: f"{at}#{entry_id}",
        "entry": json.dumps(entry, sort_keys=True),
    }
    try:
        aws.index.put(settings.index_table, item)
    except Exception:  # the action it records has happened: a lost entry is logged whole, the answer stands
        logger.exception("audit entry not written for %s: %s", pipeline_name, json.dumps(entry, sort_keys=True))
        entry["recorded"] = False
    return entry


def history(pipeline_name: str, settings: Settings, aws: Aws) -> list[dict[str, Any]]:
    """The pipeline's entries, oldest first (at most MAX_ENTRIES, the newest)."""
    found: list[dict[str, Any]] = []
    start: dict[str, str] | None = None
    while len(found) < MAX_ENTRIES:
        items, start = aws.index.query(
            settings.index_table, NEWEST_FIRST, PARTITION, HISTORY_PREFIX + pipeline_name, PAGE, start
        )
        found += [json.loads(item["entry"]) for item in items if item.get("entry")]
        if start is None:
            break
    return list(reversed(found[:MAX_ENTRIES]))


def latest_decisions(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per stage (staging, prod, teardown, rollback), the latest approval or rejection: who, when, what they said."""
    decisions: dict[str, dict[str, Any]] = {}
    for entry in entries:
        if entry.get("action") not in (APPROVE, REJECT) or entry.get("outcome") != "done":
            continue
        key = "approved_by" if entry["action"] == APPROVE else "rejected_by"
        decision = {key: entry["principal"], "at": entry["at"]}
        for field in ("comment", "execution_id"):
            if entry.get(field):
                decision[field] = entry[field]
        decisions[entry.get("stage", "")] = decision
    return decisions
