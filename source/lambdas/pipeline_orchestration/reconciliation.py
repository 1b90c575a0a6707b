# SPDX-License-Identifier: Apache-2.0
"""The index heals: a periodic reconciliation of every pipeline's index item with its stacks and executions.

Events keep the index current, but an event can be lost (a delivery that failed all its retries lands in the
dead-letter queue). On AWS a scheduled EventBridge rule invokes the orchestrator with a "Scheduled Event"; local
mode's runner calls the same code on its clock. Each pipeline is read in full (`pipeline_state.observe`) and its
item rewritten when it says something else; items of pipelines whose stacks are gone are removed. A pipeline whose
sources cannot be read is left as it is (the index is never written from a partial read).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdas.shared.logging import get_logger

from . import pipeline_index, pipeline_state
from .adapters import Aws
from .pipelines import identify
from .settings import Settings

logger = get_logger(__name__)
# The fields of an item that say what was read (not when: `observed_at` changes on every read).
COMPARED = ("state", "reason", "stage", "approval_stage", "execution_id", "stack_status", "pipeline_id")


def is_schedule(event: Any) -> bool:
    return (
        isinstance(event, dict)
        and event.get("source") == "aws.events"
        and event.get("detail-type") == ("Scheduled Event")
    )


def _differs(item: Mapping[str, str] | None, summary: Mapping[str, str]) -> bool:
    return item is None or any(item.get(key, "") != summary.get(key, "") for key in COMPARED)


def reconcile(settings: Settings, aws: Aws) -> dict[str, Any]:
    """Bring the index in line with the stacks: answers the counts of items checked, rewritten, removed, and of
    pipelines that could not be read."""
    checked = rewritten = unreadable = 0
    live: set[str] = set()
    token: str | None = None
    while True:
        stacks, token = aws.stacks.page(token)
        for stack in stacks:
            pipeline = identify(stack)
            if pipeline is None:
                continue
            live.add(pipeline.name)
            checked += 1
            seen = pipeline_state.observe(pipeline.stack, settings, aws)
            if seen.state.state == pipeline_state.UNKNOWN:
                unreadable += 1
                continue
            summary = pipeline.summary(seen.state)
            item = aws.index.get(settings.index_table, {pipeline_index.KEY: pipeline.name})
            if _differs(item, summary):
                pipeline_index.put(pipeline_index.item_of(summary, pipeline.created), settings, aws)
                rewritten += 1
        if not token:
            break
    removed = 0
    listed, _ = pipeline_index.newest_first(lambda _: True, None, 10**9, True, settings, aws)
    for item in listed:
        if item[pipeline_index.KEY] not in live:
            pipeline_index.remove(item[pipeline_index.KEY], settings, aws)
            removed += 1
    answer = {"checked": checked, "rewritten": rewritten, "removed": removed, "unreadable": unreadable}
    logger.info("reconciled the pipeline index: %s", answer)
    return answer
