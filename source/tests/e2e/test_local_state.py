# SPDX-License-Identifier: Apache-2.0
"""Local mode keeps its state in a state directory: a restart finds its pipelines, `reset` forgets them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from local.persistence import STATE_FILE, StateUnusable
from local.session import LocalOrchestrator
from tests.e2e.conftest import _RUNNING, KILL_FIGURE, LocalProcess, LocalScene

NAME = "mlops-pipeline-churn-xgb-byompipelinerealtimebuiltin"


def started(built_templates: Path, state_dir: Path, **options: Any) -> LocalScene:
    while _RUNNING:
        _RUNNING.pop().stop()
    orchestrator = LocalOrchestrator(templates=built_templates, state_dir=state_dir, deploy_timeout=30, **options)
    orchestrator.start()
    _RUNNING.append(orchestrator)
    return LocalScene(orchestrator)


def stopped(scene: LocalScene) -> None:
    _RUNNING.remove(scene.orchestrator)
    scene.orchestrator.stop()


def test_a_restart_keeps_the_pipelines_and_keeps_running_them(built_templates, tmp_path):
    scene = started(built_templates, tmp_path)
    body = scene.request("byom_realtime_builtin")
    assert scene.call("POST", "/provisionpipeline", body).ok
    assert scene.wait(NAME)["state"] == "ACTIVE"
    stopped(scene)
    assert (tmp_path / STATE_FILE).is_file()

    again = started(built_templates, tmp_path)
    assert again.orchestrator.restored
    listed = again.call("GET", "/pipelines").body["pipelines"]
    assert [p["pipeline_name"] for p in listed] == [NAME]
    described = again.call("GET", f"/pipelines/{NAME}").body
    assert described["state"] == "ACTIVE" and described["sagemaker"]["endpoint"]["status"] == "InService"
    events = again.call("GET", f"/pipelines/{NAME}/events").body["events"]
    assert any("succeeded" in e["message"] for e in events if e["source"] == "pipeline")

    # The runner still manages the pipeline: an update runs a second execution to the end.
    answer = again.call("POST", "/provisionpipeline", {**body, "inference_instance": "ml.m5.xlarge"})
    assert answer.ok and "Updating" in answer.body["message"]
    executions = again.orchestrator.runner.executions  # type: ignore[union-attr]
    pipeline = again.orchestrator.runner.pipeline_for_stack(f"{NAME}-codepipeline")  # type: ignore[union-attr]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (
        len(executions(pipeline.name)) == 2 and executions(pipeline.name)[0]["status"] != "InProgress"
    ):
        time.sleep(0.25)
    assert [e["status"] for e in executions(pipeline.name)] == ["Succeeded", "Succeeded"]
    assert again.call("GET", f"/pipelines/{NAME}").body["state"] == "ACTIVE"
    stopped(again)

    fresh = started(built_templates, tmp_path, reset=True)
    assert not fresh.orchestrator.restored
    assert fresh.call("GET", "/pipelines").body["pipelines"] == []
    stopped(fresh)


def test_stage_accounts_stay_the_same_across_restarts(built_templates, tmp_path):
    scene = started(built_templates, tmp_path, multi_account=True)
    accounts = scene.settings.stage_targets
    stopped(scene)
    again = started(built_templates, tmp_path, multi_account=True)
    assert again.settings.stage_targets == accounts
    assert {a["Id"] for a in again.aws("organizations").list_accounts()["Accounts"]} >= {
        t.account_id for t in accounts.values()
    }
    stopped(again)


def test_state_of_another_mode_is_refused_with_the_way_out(built_templates, tmp_path):
    stopped(started(built_templates, tmp_path))
    with pytest.raises(StateUnusable, match="single-account mode, not multi-account"):
        started(built_templates, tmp_path, multi_account=True)


def test_a_pipeline_acknowledged_just_before_a_kill_is_there_after_the_restart(built_templates, tmp_path, request):
    """kill -9 of `mlops local` right after a 200, mid-provision: the state is written before a change is
    acknowledged, not only every few seconds. The fault tier prints the figure this test records."""
    while _RUNNING:  # one local mode at a time on this worker
        _RUNNING.pop().stop()
    state_dir = tmp_path / "state"
    first = LocalProcess(built_templates, state_dir)
    try:
        answer = first.call("POST", "/provisionpipeline", first.request("byom_realtime_builtin"))
        assert answer.ok, answer.body
    finally:
        first.kill()

    again = started(built_templates, state_dir)  # in this process: the restart reads what the killed one wrote
    assert again.orchestrator.restored
    described = again.call("GET", f"/pipelines/{NAME}")
    kept = described.ok and (described.body.get("request") or {}).get("model_name") == "churn-xgb"
    stopped(again)
    request.config.cache.set(KILL_FIGURE, {"acknowledged": 1, "lost": 0 if kept else 1, "measured_at": time.time()})
    assert kept, described.body


def test_a_second_local_mode_on_the_same_state_dir_is_refused_naming_the_holder(built_templates, tmp_path):
    import os

    from local.persistence import StateDirInUse

    scene = started(built_templates, tmp_path)
    second = LocalOrchestrator(templates=built_templates, state_dir=tmp_path)
    with pytest.raises(StateDirInUse, match=rf"in use by another mlops local \(pid {os.getpid()}, API http://127"):
        second.start()
    assert scene.call("GET", "/pipelines").ok  # the holder carries on
    stopped(scene)
    third = started(built_templates, tmp_path)  # released at the stop
    stopped(third)
