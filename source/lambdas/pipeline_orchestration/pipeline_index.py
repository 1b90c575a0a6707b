# SPDX-License-Identifier: Apache-2.0
"""The pipeline index: one DynamoDB item per pipeline, newest first, so that a page of GET /pipelines costs
one query however many pipelines there are.

CloudFormation stays the truth. An item mirrors the summary of a pipeline's root stack; `lifecycle` writes
it when a pipeline is provisioned or described, on each status change of its stack (EventBridge), and
removes it when the teardown ends. An index that has never been filled is filled once from the stacks, so
pipelines created before it (by the predecessor too) are listed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from .adapters import Aws
from .settings import Settings

# The table's schema (the orchestrator stack and local mode create it from these names).
KEY = "pipeline_name"  # the table's partition key
NEWEST_FIRST = "newest-first"  # the global secondary index, partition PARTITION and sort SORT
PARTITION, SORT = "listing", "position"
LISTING = "pipelines"  # every pipeline item shares this partition of the index, so one query orders them all
BUILT_MARKER = "#index-built"  # an item outside the listing: the index was filled from the stacks
QUERY_BATCH = 500  # items a filtered page reads per query; DynamoDB caps a query at 1 MB anyway


def position(created: datetime, name: str) -> str:
    """Sort key: creation time (UTC, fixed width, so text order is time order), then the name."""
    return f"{created.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{name}"


def item_of(summary: Mapping[str, str], created: datetime) -> dict[str, str]:
    """The index item of a pipeline's summary, with `observed_at`: when its sources were read."""
    observed = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {**summary, "observed_at": observed, PARTITION: LISTING, SORT: position(created, summary["pipeline_name"])}


def is_complete(summary: Mapping[str, str]) -> bool:
    """A summary read in full: one whose state is known may be written to the index (never a partial read)."""
    from .pipeline_state import UNKNOWN

    return summary.get("state") != UNKNOWN


def summary_of(item: Mapping[str, str]) -> dict[str, str]:
    return {key: value for key, value in item.items() if key not in (PARTITION, SORT)}


def put(item: Mapping[str, str], settings: Settings, aws: Aws) -> None:
    """Write a pipeline's item; one whose state could not be read is not written (the index keeps the last
    state read in full)."""
    if is_complete(item):
        aws.index.put(settings.index_table, item)


def remove(name: str, settings: Settings, aws: Aws) -> None:
    aws.index.delete(settings.index_table, {KEY: name})


def is_built(settings: Settings, aws: Aws) -> bool:
    return aws.index.get(settings.index_table, {KEY: BUILT_MARKER}) is not None


def mark_built(built_at: str, settings: Settings, aws: Aws) -> None:
    aws.index.put(settings.index_table, {KEY: BUILT_MARKER, "built": built_at})


def newest_first(
    keep: Callable[[Mapping[str, str]], bool],
    after: tuple[str, str] | None,
    limit: int,
    filtered: bool,
    settings: Settings,
    aws: Aws,
) -> tuple[list[dict[str, str]], bool]:
    """Up to `limit` items that `keep` accepts, after the (position, name) given; and whether more follow.

    Unfiltered, one query reads the page and one item more; filtered, queries read on until the page and one
    more match are found or the index ends.
    """
    start = {PARTITION: LISTING, SORT: after[0], KEY: after[1]} if after else None
    batch = QUERY_BATCH if filtered else limit + 1
    found: list[dict[str, str]] = []
    while True:
        items, start = aws.index.query(settings.index_table, NEWEST_FIRST, PARTITION, LISTING, batch, start)
        found += [item for item in items if keep(item)]
        if len(found) > limit or start is None:
            return found[:limit], len(found) > limit
