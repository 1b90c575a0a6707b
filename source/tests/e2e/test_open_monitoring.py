# SPDX-License-Identifier: Apache-2.0
"""Local mode with the open engine, over HTTP: the baseline is computed from the data given, `mlops local
run-monitoring` analyses the capture written in AWS's format, a drifted hour gives VIOLATIONS with the checks that
failed, a clean one none, and the alarm and notification follow."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from local.cli import EXIT_MONITOR_ALERT, EXIT_OK, main
from tests.e2e.conftest import LocalScene, _local
from tests.e2e.test_pipelines import pipeline_name

TYPE = "byom_data_quality_monitor"


@pytest.fixture(scope="module")
def open_scene(built_templates):
    yield from _local(built_templates, multi_account=False, monitoring_engine="open")


def rows(seed: int, drifted: bool, count: int) -> list[str]:
    rnd = random.Random(seed)
    if drifted:  # age shifted far from the baseline, and no plan (CSV capture is positional: the last column)
        return [f"{rnd.randint(80, 120)},{rnd.gauss(50, 10):.2f}" for _ in range(count)]
    return [f"{rnd.randint(20, 60)},{rnd.gauss(50, 10):.2f},{rnd.choice('ab')}" for _ in range(count)]


def write_capture(scene: LocalScene, body: dict[str, Any], lines: list[str]) -> str:
    """The hour's capture as AWS writes it: `<capture>/<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl`."""
    now = datetime.now(UTC)
    bucket, _, prefix = body["data_capture_location"].partition("/")
    records = [
        {
            "captureData": {
                "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": line, "encoding": "CSV"},
                "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": "1", "encoding": "CSV"},
            },
            "eventMetadata": {"eventId": f"event-{i}", "inferenceTime": now.strftime("%Y-%m-%dT%H:%M:%SZ")},
            "eventVersion": "0",
        }
        for i, line in enumerate(lines)
    ]
    key = f"{prefix}/{body['endpoint_name']}/AllTraffic/{now:%Y/%m/%d/%H}/capture.jsonl"
    scene.aws("s3").put_object(Bucket=bucket, Key=key, Body="\n".join(json.dumps(r) for r in records).encode())
    return key


@pytest.fixture(scope="module")
def monitor(open_scene: LocalScene) -> dict[str, Any]:
    body = {**open_scene.request(TYPE), "violation_threshold": 1}
    baseline = "\n".join(["age,income,plan", *rows(1, drifted=False, count=2000)])
    open_scene.aws("s3").put_object(Bucket=open_scene.settings.assets_bucket, Key=body["baseline_data"], Body=baseline)
    assert open_scene.call("POST", "/provisionpipeline", body).status == 200
    name = pipeline_name(open_scene, TYPE, body)
    described = open_scene.wait(name, timeout=60)
    assert described["state"] == "ACTIVE", described
    return {"name": name, "body": body}


def run_monitoring(scene: LocalScene, name: str, capsys) -> tuple[int, str]:
    code = main(["local", "run-monitoring", name, "--endpoint", scene.orchestrator.server.url])  # type: ignore[union-attr]
    return code, capsys.readouterr().out


def test_the_baseline_is_computed_from_the_data(open_scene: LocalScene, monitor: dict[str, Any]):
    plan = open_scene.call("GET", f"/pipelines/{monitor['name']}").body["plan"]["parameters"]
    bucket, _, prefix = plan["BaselineJobOutputLocation"].partition("/")
    found = open_scene.aws("s3").get_object(Bucket=bucket, Key=f"{prefix}/statistics.json")["Body"].read()
    statistics = json.loads(found)
    assert statistics["dataset"]["item_count"] == 2000
    types = {f["name"]: f["inferred_type"] for f in statistics["features"]}
    assert types == {"age": "Integral", "income": "Fractional", "plan": "String"}


def test_a_clean_hour_stays_active_and_a_drifted_one_alarms_and_notifies(
    open_scene: LocalScene, monitor: dict[str, Any], capsys
):
    scene, name, body = open_scene, monitor["name"], monitor["body"]
    key = write_capture(scene, body, rows(2, drifted=False, count=1000))
    code, out = run_monitoring(scene, name, capsys)
    assert code == EXIT_OK, out
    assert "execution Completed" in out
    assert scene.wait(name)["state"] == "ACTIVE"

    scene.aws("s3").delete_object(Bucket=body["data_capture_location"].split("/")[0], Key=key)
    write_capture(scene, body, rows(3, drifted=True, count=120))
    code, out = run_monitoring(scene, name, capsys)
    assert code == EXIT_MONITOR_ALERT, out
    assert "execution CompletedWithViolations" in out
    assert "plan: missing_column_check" in out
    assert "age: baseline_drift_check" in out
    assert "income:" not in out

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        described = scene.call("GET", f"/pipelines/{name}").body
        alarm = scene.aws("cloudwatch").describe_alarms(AlarmNames=[f"{name}-violations"])["MetricAlarms"][0]
        notified = [
            n for n in scene.call("GET", "/local/notifications").body["notifications"] if "violations" in n["subject"]
        ]
        if described["state"] == "VIOLATIONS" and alarm["StateValue"] == "ALARM" and notified:
            break
        time.sleep(0.25)
    assert described["state"] == "VIOLATIONS", described
    assert alarm["StateValue"] == "ALARM"
    assert "missing_column_check" in notified[-1]["message"], notified[-1]
