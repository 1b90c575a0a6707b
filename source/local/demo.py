# SPDX-License-Identifier: Apache-2.0
"""The sample the README's first command shows: a real-time pipeline provisioned and run in local mode."""

from __future__ import annotations

import io
import tarfile
import time
from typing import Any

from local.api_client import ApiClient
from local.session import LocalOrchestrator

SAMPLE_MODEL_KEY = "models/sample/model.tar.gz"


def sample_model() -> bytes:
    """A tiny model archive, made here (the emulator's endpoint never loads it)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        payload = b'{"coefficients": [0.4, -1.2, 0.7], "intercept": 0.1}\n'
        info = tarfile.TarInfo("model.json")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def sample_request(assets_bucket: str) -> dict[str, Any]:
    return {
        "pipeline_type": "byom_realtime_builtin",
        "model_name": "sample-xgb",
        "model_framework": "xgboost",
        "model_framework_version": "1.7-1",
        "model_artifact_location": SAMPLE_MODEL_KEY,
        "inference_instance": "ml.m5.large",
        "data_capture_location": f"{assets_bucket}/datacapture/sample",
        "endpoint_name": "sample-xgb-endpoint",
    }


def run_demo(orchestrator: LocalOrchestrator, timeout: float = 120) -> bool:
    """Provision the sample over the local API, follow its pipeline, print what it deployed."""
    from lambdas.shared.aws import client

    settings = orchestrator.service.settings  # type: ignore[union-attr]
    client("s3").put_object(Bucket=settings.assets_bucket, Key=SAMPLE_MODEL_KEY, Body=sample_model())
    api = ApiClient(orchestrator.server.url)  # type: ignore[union-attr]
    answer = api.call("POST", "/provisionpipeline", sample_request(settings.assets_bucket))
    print(f"provision: {answer.status} {answer.body.get('message', '')}", flush=True)
    if not answer.ok:
        print(answer.body, flush=True)
        return False
    name = "mlops-pipeline-sample-xgb-byompipelinerealtimebuiltin"
    deadline, last = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        state = api.call("POST", "/pipelinestatus", {"pipeline_id": answer.body["pipeline_id"]}).body
        stages = state.get("stageStates", [])
        line = " | ".join(f"{s['stageName']}: {s.get('latestExecution', {}).get('status', '-')}" for s in stages)
        if line and line != last:
            print(f"pipeline: {line}", flush=True)
            last = line
        statuses = {s.get("latestExecution", {}).get("status") for s in stages}
        if statuses == {"Succeeded"} or "Failed" in statuses:
            break
        time.sleep(0.5)
    described = api.call("GET", f"/pipelines/{name}").body
    deployed = described.get("deployed", {})
    endpoint = described.get("sagemaker", {}).get("endpoint", {})
    print(f"stack {deployed.get('stack_name')}: {deployed.get('status')}", flush=True)
    print(f"endpoint {endpoint.get('name')}: {endpoint.get('status')}", flush=True)
    return endpoint.get("status") == "InService"
