# SPDX-License-Identifier: Apache-2.0
"""A GitHub, GitLab or Bitbucket config repository (a CodeConnections source), stood in for by a local git
repository: the orchestrator stack's config-source pipeline runs on a commit that changes mlops-config.json, its
hand-off action provisions, and the outcome is the action's result, the result file and SNS."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from local.session import CONNECTION_PIPELINE
from tests.e2e.conftest import LocalScene, _local
from tests.e2e.test_git_trigger import commit

CHURN = "mlops-pipeline-churn-xgb-byompipelinerealtimebuiltin"


@pytest.fixture(scope="module")
def with_connection(built_templates, tmp_path_factory):
    repository = tmp_path_factory.mktemp("github-config-repo")
    for scene in _local(built_templates, multi_account=False, git_repository=repository, git_source="connection"):
        yield scene, repository


def execution_of(scene: LocalScene, commit_id: str, timeout: float = 60) -> dict[str, Any]:
    """The finished execution of the config-source pipeline that took this commit."""
    runner = scene.orchestrator.runner
    assert runner is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for execution in runner.executions(CONNECTION_PIPELINE) or []:
            if execution["sourceRevisions"][0]["revisionId"] == commit_id and execution["status"] != "InProgress":
                return execution
        time.sleep(0.2)
    raise TimeoutError(f"no finished execution of {CONNECTION_PIPELINE} took {commit_id}")


def action_summary(scene: LocalScene, stage: str) -> str:
    state = scene.orchestrator.runner.state(CONNECTION_PIPELINE)  # type: ignore[union-attr]
    (found,) = [s for s in state["stageStates"] if s["stageName"] == stage]
    return found["actionStates"][0]["latestExecution"]["summary"]


def result_file(scene: LocalScene) -> dict[str, Any]:
    bucket = f"mlops-config-source-{scene.settings.account_id}"
    return json.loads(scene.aws("s3").get_object(Bucket=bucket, Key="mlops-config.result.json")["Body"].read())


def test_the_stacks_config_source_pipeline_runs_locally(with_connection):
    scene, _ = with_connection
    pipeline = scene.orchestrator.runner.pipelines[CONNECTION_PIPELINE]  # type: ignore[union-attr]
    source = pipeline.connection_source()
    assert source is not None and source["Configuration"]["BranchName"] == "main"
    assert source["Configuration"]["ConnectionArn"].startswith("arn:aws:codeconnections:us-east-1:123456789012:")


def test_status_of_the_config_source_pipeline_says_what_it_is_and_that_logs_show_it(with_connection, capsys):
    """`mlops status` answered a bare 404 for the pipeline `mlops logs` knows."""
    from local.cli import EXIT_NOT_FOUND, main

    scene, _ = with_connection
    assert main(["status", CONNECTION_PIPELINE, "--endpoint", scene.api.endpoint]) == EXIT_NOT_FOUND
    error = capsys.readouterr().err
    assert "the orchestrator stack's own config-source pipeline" in error
    assert f"mlops logs {CONNECTION_PIPELINE} shows its runs" in error
    assert main(["logs", CONNECTION_PIPELINE, "--endpoint", scene.api.endpoint]) == 0


def test_a_commit_of_the_config_provisions_and_the_pipeline_ends_active(with_connection):
    scene, repository = with_connection
    body = scene.request("byom_realtime_builtin")
    commit_id = commit(repository, {"mlops-config.json": json.dumps(body)}, "Deploy churn model")

    execution = execution_of(scene, commit_id)

    assert execution["status"] == "Succeeded"
    summary = action_summary(scene, "Provision")
    assert "success" in summary and f"local/{repository.name}@{commit_id[:8]}" in summary
    assert "pipeline_id: arn:aws:cloudformation" in summary
    described = scene.wait(CHURN)
    assert described["deployed"]["status"] == "CREATE_COMPLETE"
    deadline = time.monotonic() + 30
    while result_file(scene).get("state") != "ACTIVE" and time.monotonic() < deadline:
        time.sleep(0.2)
    final = result_file(scene)
    assert final["state"] == "ACTIVE" and final["source"] == f"local/{repository.name}@{commit_id[:8]}"


def test_a_commit_that_leaves_the_config_alone_starts_nothing(with_connection):
    scene, repository = with_connection
    runner = scene.orchestrator.runner
    before = len(runner.executions(CONNECTION_PIPELINE) or [])  # type: ignore[union-attr]
    commit(repository, {"README.md": "# team configs\n"}, "Docs only")
    time.sleep(2)  # several runner steps
    assert len(runner.executions(CONNECTION_PIPELINE) or []) == before  # type: ignore[union-attr]


def test_an_invalid_config_fails_the_action_naming_the_field(with_connection):
    scene, repository = with_connection
    broken = {"pipeline_type": "byom_batch_custom"}
    commit_id = commit(repository, {"mlops-config.json": json.dumps(broken)}, "Broken")

    execution = execution_of(scene, commit_id)

    assert execution["status"] == "Failed"
    summary = action_summary(scene, "Provision")
    assert "error" in summary and '- "model_name": "is required"' in summary
    report = result_file(scene)
    assert report["status"] == "error" and "model_name" in {e["field"] for e in report["errors"]}
