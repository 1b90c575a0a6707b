# SPDX-License-Identifier: Apache-2.0
"""The sample the README's first command shows: a real-time pipeline provisioned and run in local mode."""

from __future__ import annotations

import time
from typing import Any

from lambdas.pipeline_orchestration.pipeline_state import has_finished
from local.api_client import ApiClient
from local.examples import pipeline_name, sample_model
from local.session import LocalOrchestrator

SAMPLE_MODEL_KEY = "models/sample/model.tar.gz"


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
    """Provision the sample over the local API, follow its pipeline (approving each stage of a multi-account
    pipeline, as a reviewer would), print its state and what it deployed."""
    from lambdas.shared.aws import client

    settings = orchestrator.service.settings  # type: ignore[union-attr]
    client("s3").put_object(Bucket=settings.assets_bucket, Key=SAMPLE_MODEL_KEY, Body=sample_model())
    api = ApiClient(orchestrator.server.url)  # type: ignore[union-attr]
    answer = api.call("POST", "/provisionpipeline", sample_request(settings.assets_bucket))
    print(f"provision: {answer.status} {answer.body.get('message', '')}", flush=True)
    if not answer.ok:
        print(answer.body, flush=True)
        return False
    name = pipeline_name(sample_request(settings.assets_bucket))
    started = time.monotonic()
    deadline, last, state = started + timeout, "", {}
    while time.monotonic() < deadline:
        state = api.call("POST", "/pipelinestatus", {"pipeline_id": answer.body["pipeline_id"]}).body
        stages = state.get("stageStates", [])
        line = " | ".join(f"{s['stageName']}: {s.get('latestExecution', {}).get('status', '-')}" for s in stages)
        line = f"{state.get('state', '')} {line}".strip()
        if line and line != last:
            print(f"[{time.monotonic() - started:4.0f} s] pipeline: {line}", flush=True)
            last = line
        if state.get("state") == "WAITING_APPROVAL":
            stage = state["approval_stage"]
            print(f"approving the {stage} stage, as `mlops approve {name} {stage}` does", flush=True)
            approved = api.call("POST", f"/pipelines/{name}/approval", {"stage": stage, "comment": "demo"})
            print(f"approve: {approved.status} {approved.body.get('message', '')}", flush=True)
        elif has_finished(state.get("state")):
            break
        time.sleep(0.5)
    described = api.call("GET", f"/pipelines/{name}").body
    print(f"state: {described.get('state')}" + (f" ({described['reason']})" if described.get("reason") else ""))
    deployed = described.get("deployed", {})
    if "stages" in deployed:
        for stage, instance in deployed["stages"].items():
            print(
                f"{stage}: StackSet {instance.get('stackset_name')} in account {instance.get('account_id')}: "
                f"{instance.get('status')}",
                flush=True,
            )
        return described.get("state") == "ACTIVE"
    endpoint = described.get("sagemaker", {}).get("endpoint", {})
    print(f"stack {deployed.get('stack_name')}: {deployed.get('status')}", flush=True)
    print(f"endpoint {endpoint.get('name')}: {endpoint.get('status')}", flush=True)
    return described.get("state") == "ACTIVE" and endpoint.get("status") == "InService"
