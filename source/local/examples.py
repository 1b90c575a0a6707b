# SPDX-License-Identifier: Apache-2.0
"""What the shipped examples (`source/examples/`) reference, put in place in local mode, so that each of them,
sent unchanged (`mlops provision examples/<type>.json`), runs to the end.

Read from the example files themselves: the buckets their locations name, a small file at every input they
read (a tiny model, CSVs with a header, a Dockerfile zip) and, in every account a monitor deploys to, the
endpoints that no example deploys itself (the monitors of `churn-xgb-endpoint` watch the endpoint that
`byom_realtime_builtin.json` deploys: provision that one first).
"""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import boto3

from lambdas.pipeline_orchestration.catalogue import CATALOGUE, stack_base_name
from lambdas.pipeline_orchestration.settings import Settings
from lambdas.shared.logging import get_logger

logger = get_logger(__name__)
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def pipeline_name(body: dict[str, Any]) -> str:
    """The name the orchestrator gives the pipeline of a (valid) request: `mlops-pipeline-<infix>-<postfix>`."""
    pipeline = CATALOGUE[body["pipeline_type"]]
    return stack_base_name(pipeline, str(body[pipeline.name_field]).lower())


# Fields holding a key in the assets bucket that the pipeline reads.
ASSET_INPUTS = ("model_artifact_location", "training_data", "validation_data", "baseline_data")
# Fields holding bucket/prefix locations (the bucket must exist); of these, batch_inference_data is read.
BUCKET_LOCATIONS = (
    "batch_inference_data",
    "batch_job_output_location",
    "data_capture_location",
    "baseline_job_output_location",
    "monitoring_output_location",
    "monitor_ground_truth_input",
    "async_output_location",
)
# A baseline CSV with its header, the label first (the contract of the Clarify monitors), the facets after.
SAMPLE_CSV = b"label,age,income,tenure\n1,45,30000,4\n0,33,52000,9\n1,52,41000,2\n"


def sample_model() -> bytes:
    """A tiny model archive, made here (the emulator's endpoint never loads it)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        payload = b'{"coefficients": [0.4, -1.2, 0.7], "intercept": 0.1}\n'
        info = tarfile.TarInfo("model.json")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def docker_context() -> bytes:
    """A Dockerfile and its serve script, zipped as the image builder's source."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "Dockerfile", "FROM public.ecr.aws/docker/library/python:3.12-slim\nCOPY serve /opt/program/serve\n"
        )
        archive.writestr("serve", "#!/bin/sh\nexec python -m http.server 8080\n")
    return buffer.getvalue()


def example_requests(folder: Path = EXAMPLES) -> dict[str, dict[str, Any]]:
    """Every example request by its path under the folder (multi_account/ included)."""
    return {p.relative_to(folder).as_posix(): json.loads(p.read_text()) for p in sorted(folder.rglob("*.json"))}


def provision_order(requests: dict[str, dict[str, Any]], first: Iterable[str] = ()) -> list[str]:
    """The examples' paths in an order that works: those another example names as its
    `retrain_pipeline_name` (it must exist before that monitor is provisioned), then `first`, then the rest."""
    targets = {str(r.get("retrain_pipeline_name") or "") for r in requests.values()} - {""}
    needed = [p for p in sorted(requests) if pipeline_name(requests[p]) in targets]
    leading = [p for p in first if p in requests and p not in needed]
    return [*needed, *leading, *(p for p in sorted(requests) if p not in needed and p not in leading)]


def _values(value: Any) -> list[str]:
    """A field's locations: one string, or one per stage (multi-account stage objects)."""
    if isinstance(value, dict):
        return [v for v in value.values() if isinstance(v, str) and v]
    return [value] if isinstance(value, str) and value else []


def _client(endpoint: str, service: str, account: str | None = None) -> Any:
    found = boto3.client(service, endpoint_url=endpoint, region_name="us-east-1")
    if account:  # the emulator's header naming the account a call acts in (a stage account)
        found.meta.events.register_first(
            "before-sign.*.*", lambda request, **_: request.headers.add_header("x-moto-account-id", account)
        )
    return found


def seed_examples(endpoint: str, settings: Settings, requests: Iterable[dict[str, Any]] | None = None) -> list[str]:
    """Create what the examples reference in the emulator at `endpoint`; answers what was created."""
    requests = list(requests if requests is not None else example_requests().values())
    s3, created = _client(endpoint, "s3"), []
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for request in requests:
        for field in BUCKET_LOCATIONS:
            for location in _values(request.get(field)):
                bucket = location.split("/", 1)[0]
                if bucket not in existing:
                    s3.create_bucket(Bucket=bucket)
                    existing.add(bucket)
                    created.append(f"bucket {bucket}")
        for location in _values(request.get("batch_inference_data")):
            bucket, key = location.split("/", 1)
            s3.put_object(Bucket=bucket, Key=key, Body=b"1,45,30000\n0,33,52000\n")
            created.append(f"s3://{location}")
        keys = [(f, v) for f in ASSET_INPUTS for v in _values(request.get(f))]
        shap_baseline = (request.get("shap_config") or {}).get("baseline")
        if isinstance(shap_baseline, str) and shap_baseline.endswith(".csv"):
            keys.append(("shap_config", shap_baseline))
        for field, key in keys:
            body = sample_model() if field == "model_artifact_location" else SAMPLE_CSV
            s3.put_object(Bucket=settings.assets_bucket, Key=key, Body=body)
            created.append(f"s3://{settings.assets_bucket}/{key}")
        for key in _values(request.get("custom_algorithm_docker")):
            s3.put_object(Bucket=settings.assets_bucket, Key=key, Body=docker_context())
            created.append(f"s3://{settings.assets_bucket}/{key}")
    created += _serve_monitored_endpoints(endpoint, settings, requests)
    logger.info("seeded what the examples reference: %s", ", ".join(created))
    return created


def _endpoint_role(request: dict[str, Any]) -> str:
    declared = CATALOGUE.get(str(request.get("pipeline_type", "")))
    return declared.endpoint if declared else ""


def endpoints_outside_pipelines(requests: Iterable[dict[str, Any]] | None = None) -> tuple[str, ...]:
    """The endpoints the monitor examples watch that no example deploys: local mode serves them itself, as
    endpoints an operator runs outside the orchestrator, and lists them as AllowedMonitoredEndpoints would."""
    requests = list(requests if requests is not None else example_requests().values())
    deployed = {n for r in requests if _endpoint_role(r) == "serves" for n in _values(r.get("endpoint_name"))}
    monitored = {n for r in requests if _endpoint_role(r) == "monitors" for n in _values(r.get("endpoint_name"))}
    return tuple(sorted(monitored - deployed))


def _serve_monitored_endpoints(endpoint: str, settings: Settings, requests: list[dict[str, Any]]) -> list[str]:
    accounts = sorted({t.account_id for t in (settings.stage_targets or {}).values()}) or [None]
    served = []
    for name in endpoints_outside_pipelines(requests):
        for account in accounts:
            sagemaker = _client(endpoint, "sagemaker", account)
            if sagemaker.list_endpoints(NameContains=name)["Endpoints"]:
                continue
            sagemaker.create_model(
                ModelName=name,
                PrimaryContainer={"Image": f"{settings.account_id}.dkr.ecr.{settings.region}.amazonaws.com/model:1"},
                ExecutionRoleArn=f"arn:aws:iam::{settings.account_id}:role/model",
            )
            variant = {"VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large"}
            sagemaker.create_endpoint_config(
                EndpointConfigName=name, ProductionVariants=[{**variant, "InitialInstanceCount": 1}]
            )
            sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
            served.append(f"endpoint {name}" + (f" in account {account}" if account else ""))
    return served
