# SPDX-License-Identifier: Apache-2.0
"""A source that cannot be read is not a source that says "absent": the state is UNKNOWN, with the reason, and the
index keeps the last state read in full."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from lambdas.pipeline_orchestration import pipeline_state

from .conftest import REALTIME, Scene

CHURN = "mlops-pipeline-churn-byompipelinerealtimebuiltin"


def throttled(operation: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        },
        operation,
    )


def test_a_throttled_codepipeline_read_is_unknown_and_leaves_the_index_as_it_was(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    scene.provision(REALTIME)
    scene.run(CHURN)

    def busy(*_: object) -> None:
        raise throttled("GetPipelineState")

    monkeypatch.setattr(scene.pipelines, "state", busy)
    status, answer = scene.call("POST", "/pipelinestatus", {"pipeline_id": CHURN + "-codepipeline"})
    assert (status, answer["state"]) == (200, "UNKNOWN"), answer
    assert "could not read GetPipelineState" in answer["reason"] and "ThrottlingException" in answer["reason"]
    # Describe reads the stages too: it answers that AWS is busy, naming the call, rather than a wrong state.
    status, described = scene.call("GET", "/pipelines/{pipeline_name}", path={"pipeline_name": CHURN})
    assert status == 503 and "GetPipelineState" in described["detailedMessage"], described

    monkeypatch.undo()
    status, page = scene.call("GET", "/pipelines")
    listed = {p["pipeline_name"]: p for p in page["pipelines"]}
    assert listed[CHURN]["state"] == "ACTIVE"  # not overwritten by the partial read
    assert listed[CHURN]["observed_at"].endswith("Z")


def test_a_pipeline_not_there_yet_is_still_told_as_absent(scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    scene.provision(REALTIME)

    def missing(*_: object) -> None:
        raise ClientError(
            {
                "Error": {"Code": "PipelineNotFoundException", "Message": "no"},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            },
            "GetPipelineState",
        )

    monkeypatch.setattr(scene.pipelines, "state", missing)
    stack = scene.service.aws.stacks.describe(CHURN + "-codepipeline")
    seen = pipeline_state.observe(stack, scene.settings, scene.service.aws)
    assert seen.state.state == "PROVISIONING", seen.state
