# SPDX-License-Identifier: Apache-2.0
"""The index heals: the scheduled reconciliation mends what lost events left wrong."""

from __future__ import annotations

import json

from lambdas.pipeline_orchestration import index
from lambdas.pipeline_orchestration.pipeline_index import KEY
from lambdas.shared.aws import client

from .conftest import REALTIME, Scene

CHURN = "mlops-pipeline-churn-byompipelinerealtimebuiltin"
SCHEDULED = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


def listed(scene: Scene) -> dict[str, dict]:
    status, answer = scene.call("GET", "/pipelines")
    assert status == 200, answer
    return {p["pipeline_name"]: p for p in answer["pipelines"]}


def test_a_lost_execution_event_is_mended_by_the_scheduled_reconciliation(scene: Scene) -> None:
    scene.provision(REALTIME)
    assert listed(scene)[CHURN]["state"] == "PROVISIONING"
    scene.deploy_blueprint(CHURN)
    scene.pipelines.record(CHURN, "Succeeded")  # the execution succeeded; its event never arrived
    assert listed(scene)[CHURN]["state"] == "PROVISIONING"

    answer = index.handle(SCHEDULED, scene.service)

    assert answer["rewritten"] == 1 and answer["unreadable"] == 0, answer
    assert listed(scene)[CHURN]["state"] == "ACTIVE"
    assert index.handle(SCHEDULED, scene.service)["rewritten"] == 0  # nothing left to mend


def test_an_item_whose_stack_is_gone_is_removed(scene: Scene) -> None:
    scene.provision(REALTIME)
    listed(scene)
    client("cloudformation").delete_stack(StackName=CHURN + "-codepipeline")  # its DELETE_COMPLETE event was lost
    assert CHURN in listed(scene)

    answer = index.handle(SCHEDULED, scene.service)

    assert answer["removed"] == 1, answer
    assert CHURN not in listed(scene)
    item = scene.service.aws.index.get(scene.settings.index_table, {KEY: CHURN})
    assert item is None, json.dumps(item)
