# SPDX-License-Identifier: Apache-2.0
"""GET /pipelines with 1,000 pipelines: after the index is filled once, each page costs one query."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from lambdas.pipeline_orchestration.adapters import Aws
from lambdas.pipeline_orchestration.pipeline_index import QUERY_BATCH
from lambdas.pipeline_orchestration.service import OrchestratorService
from lambdas.shared.aws import client

from .conftest import SINGLE, FakePipelines, Scene, StandInStacks

PIPELINES = 600  # more than one QUERY_BATCH, several pages: the shape, not the count, is tested
OTHER_STACKS = 200  # blueprint stacks and stacks of other applications share the account
MOTO_PAGE = 50  # moto's DescribeStacks page size (AWS pages are larger; the shape is the same)
TOPIC = json.dumps({"Resources": {"Stand": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}})


@pytest.fixture
def single(moto_aws: None) -> Scene:
    """The list route reads the same stacks in both account modes: one mode keeps this slow scene single."""
    pipelines = FakePipelines()
    return Scene(SINGLE, OrchestratorService(SINGLE, Aws(stacks=StandInStacks(), pipelines=pipelines)), pipelines)


@pytest.fixture
def calls(single: Scene) -> Iterator[Counter[str]]:
    """Every AWS call the orchestrator's clients make, counted by botocore's before-call event."""
    counted: Counter[str] = Counter()

    def count(event_name: str, **_: Any) -> None:
        counted[event_name.removeprefix("before-call.")] += 1

    services = ("cloudformation", "s3", "codepipeline", "sagemaker", "dynamodb")
    for service in services:
        client(service).meta.events.register("before-call.*.*", count)
    yield counted
    for service in services:
        client(service).meta.events.unregister("before-call.*.*", count)


def _create_stacks(names_and_types: list[tuple[str, str | None]]) -> None:
    """Create the stacks in moto's backend directly: the scene, not the subject, so no API round trips."""
    from moto.cloudformation.models import cloudformation_backends

    backend = cloudformation_backends["123456789012"]["us-east-1"]
    for name, pipeline_type in names_and_types:
        tags = {}
        if pipeline_type:
            base = name.removesuffix("-codepipeline")
            tags = {"stack_name": name, "mlops:pipeline-name": base, "mlops:pipeline-type": pipeline_type}
        backend.create_stack(name=name, template=TOPIC, parameters={}, tags=tags)


def _thousand_pipelines() -> None:
    """The scene, made directly (provisioning 1,000 pipelines through the service would only slow the test)."""
    scene: list[tuple[str, str | None]] = []
    for i in range(PIPELINES):
        kind = (
            ("byom_realtime_builtin", "BYOMPipelineRealtimeBuiltIn")
            if i % 2
            else ("byom_batch_custom", "BYOMPipelineBatchCustom")
        )
        scene.append((f"mlops-pipeline-m{i:04d}-{kind[1].lower()}-codepipeline", kind[0]))
    for i in range(OTHER_STACKS):
        scene.append((f"mlops-pipeline-m{i:04d}-byompipelinerealtimebuiltin" if i % 2 else f"app-{i}", None))
    _create_stacks(scene)


def test_the_first_listing_fills_the_index_from_the_stacks_once(single: Scene, calls: Counter[str]) -> None:
    _thousand_pipelines()  # stacks the index has never seen, as after an upgrade from the predecessor
    calls.clear()

    status, first = single.call("GET", "/pipelines", query={"limit": "10"})

    assert status == 200 and len(first["pipelines"]) == 10
    stack_pages = math.ceil((PIPELINES + OTHER_STACKS) / MOTO_PAGE)
    # Once, each pipeline's state is derived: its CodePipeline is looked up among its stack's resources (the
    # stand-in's lookup describes the stack once more); no execution has run, so nothing else is read.
    assert calls["cloudformation.DescribeStacks"] == stack_pages + PIPELINES
    assert calls["cloudformation.ListStackResources"] == PIPELINES
    assert calls["dynamodb.PutItem"] == PIPELINES + 1  # one item per pipeline and the marker

    calls.clear()
    status, again = single.call("GET", "/pipelines", query={"limit": "10"})

    assert status == 200 and again["pipelines"] == first["pipelines"]
    assert calls == Counter({"dynamodb.GetItem": 1, "dynamodb.Query": 1})


def test_listing_hundreds_of_pipelines_costs_one_query_per_page(single: Scene, calls: Counter[str]) -> None:
    _thousand_pipelines()
    single.call("GET", "/pipelines", query={"limit": "1"})  # fills the index
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        calls.clear()
        query = {"limit": "100", **({"next_token": token} if token else {})}
        status, page = single.call("GET", "/pipelines", query=query)

        assert status == 200
        # One look at the index's marker and one query, on every page: nothing per pipeline, nothing per stack.
        assert calls == Counter({"dynamodb.GetItem": 1, "dynamodb.Query": 1})
        pages += 1
        seen += [p["pipeline_name"] for p in page["pipelines"]]
        token = page["next_token"]
        if token is None:
            break

    assert pages == PIPELINES // 100
    assert len(seen) == len(set(seen)) == PIPELINES
    # Newest first: the 1,000th pipeline created leads, and each page continues where the last one ended.
    expected = [f"mlops-pipeline-m{i:04d}-" for i in range(PIPELINES - 1, -1, -1)]
    assert [name[: len("mlops-pipeline-m0000-")] for name in seen] == expected


def test_a_filtered_page_reads_the_index_in_batches(single: Scene, calls: Counter[str]) -> None:
    _thousand_pipelines()
    single.call("GET", "/pipelines", query={"limit": "1"})
    calls.clear()

    status, answer = single.call("GET", "/pipelines", query={"pipeline_type": "byom_batch_custom", "state": "FAILED"})

    assert status == 200 and answer["pipelines"] == []
    assert calls == Counter({"dynamodb.GetItem": 1, "dynamodb.Query": math.ceil(PIPELINES / QUERY_BATCH)})

    calls.clear()
    status, answer = single.call("GET", "/pipelines", query={"pipeline_type": "byom_batch_custom", "limit": "5"})

    assert status == 200 and len(answer["pipelines"]) == 5
    assert {p["pipeline_type"] for p in answer["pipelines"]} == {"byom_batch_custom"}
    assert calls == Counter({"dynamodb.GetItem": 1, "dynamodb.Query": 1})
