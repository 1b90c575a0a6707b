# SPDX-License-Identifier: Apache-2.0
"""Local mode for end-to-end tests: the built templates, the emulator, the runner and the HTTP API."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from lambdas.pipeline_orchestration.catalogue import CATALOGUE
from lambdas.pipeline_orchestration.pipeline_state import WAITING_APPROVAL, has_finished
from local.api_client import ApiClient, ApiResponse
from local.demo import sample_model
from local.examples import docker_context
from local.session import LocalOrchestrator

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_BUCKETS = ("my-assets-bucket", "input-bucket", "output-bucket")
# Where the kill test of local mode leaves its figure for the fault tier to print (pytest's cache, which every worker
# of the test command shares).
KILL_FIGURE = "mlops/acknowledged_lost_across_a_kill"
# Types that watch an endpoint: it must serve before they deploy.
MONITORS = {t.name for t in CATALOGUE.values() if t.endpoint == "monitors"}


class LocalScene:
    """One local orchestrator, with helpers that speak to it only over HTTP (and read the emulator)."""

    def __init__(self, orchestrator: LocalOrchestrator):
        self.orchestrator = orchestrator
        self.api = ApiClient(orchestrator.server.url)  # type: ignore[union-attr]
        self.settings = orchestrator.service.settings  # type: ignore[union-attr]
        self.emulator_endpoint = orchestrator.emulator.endpoint

    def aws(self, service: str, account: str | None = None) -> Any:
        """A client of the emulator, in the orchestrator's account or in the given (stage) account."""
        found = boto3.client(service, endpoint_url=self.emulator_endpoint, region_name="us-east-1")
        if account:
            found.meta.events.register_first(
                "before-sign.*.*", lambda request, **_: request.headers.add_header("x-moto-account-id", account)
            )
        return found

    def request(self, pipeline_type: str) -> dict[str, Any]:
        """The example request, pointed at the emulator's buckets and repository, with its inputs uploaded."""
        body = json.loads((EXAMPLES / CATALOGUE[pipeline_type].example).read_text())
        assets = self.settings.assets_bucket
        for key, value in list(body.items()):
            if isinstance(value, str) and value.startswith(EXAMPLE_BUCKETS):
                body[key] = f"{assets}/{value.split('/', 1)[1]}"
        if "custom_image_uri" in body:
            body["custom_image_uri"] = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{self.settings.ecr_repo_name}:v1"
        if "ecr_repo_name" in body:
            body["ecr_repo_name"] = self.settings.ecr_repo_name
        self._upload_inputs(body)
        if pipeline_type in MONITORS:
            self.serve_endpoint(body["endpoint_name"])
        return body

    def serve_endpoint(self, name: str) -> None:
        """The endpoint a monitor watches, deployed beforehand in every account the monitor deploys to. It is
        made outside the orchestrator's pipelines, so the orchestrator lists it (AllowedMonitoredEndpoints)."""
        service = self.orchestrator.service
        assert service is not None
        if name not in service.settings.allowed_monitored_endpoints:
            listed = (*service.settings.allowed_monitored_endpoints, name)
            service.settings = replace(service.settings, allowed_monitored_endpoints=listed)
            self.settings = service.settings
        targets = self.settings.stage_targets
        for account in sorted({t.account_id for t in targets.values()}) if targets else [None]:
            sagemaker = self.aws("sagemaker", account)
            if sagemaker.list_endpoints(NameContains=name)["Endpoints"]:
                continue
            sagemaker.create_model(
                ModelName=name,
                PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/model:1"},
                ExecutionRoleArn="arn:aws:iam::123456789012:role/model",
            )
            variant = {"VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large"}
            sagemaker.create_endpoint_config(
                EndpointConfigName=name, ProductionVariants=[{**variant, "InitialInstanceCount": 1}]
            )
            sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)

    def _upload_inputs(self, body: dict[str, Any]) -> None:
        s3 = self.aws("s3")
        assets = self.settings.assets_bucket
        for field in ("model_artifact_location", "training_data", "validation_data", "baseline_data"):
            if body.get(field):
                content = sample_model() if "model" in field else b"a,b\n1,2\n"
                s3.put_object(Bucket=assets, Key=body[field], Body=content)
        if body.get("batch_inference_data"):
            bucket, key = body["batch_inference_data"].split("/", 1)
            s3.put_object(Bucket=bucket, Key=key, Body=b"1,2\n3,4\n")
        if body.get("custom_algorithm_docker"):
            s3.put_object(Bucket=assets, Key=body["custom_algorithm_docker"], Body=docker_context())

    def call(self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> ApiResponse:
        return self.api.call(method, path, body, query)

    def wait(self, pipeline_name: str, until: str = "Succeeded", timeout: float = 90) -> dict[str, Any]:
        """Follow the pipeline over HTTP until it has finished, or (until="Approval") waits for a person."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.status(pipeline_name).get("state")
            if has_finished(state) or (until == "Approval" and state == WAITING_APPROVAL):
                return self.call("GET", f"/pipelines/{pipeline_name}").body
            time.sleep(0.25)
        raise TimeoutError(f"{pipeline_name} did not reach {until} in {timeout} s")

    def status(self, pipeline_name: str) -> dict[str, Any]:
        """/pipelinestatus by stack name: the wrapper stack, or the image builder's own stack."""
        for stack in (f"{pipeline_name}-codepipeline", pipeline_name):
            answer = self.call("POST", "/pipelinestatus", {"pipeline_id": stack})
            if answer.status != 404:
                return answer.body
        return {}


# The running local orchestrator. moto's state is process-wide: one left running by an earlier fixture of the
# module would find the next one's stacks and run their pipelines a second time. One runs at a time.
_RUNNING: list[LocalOrchestrator] = []


class LocalProcess(LocalScene):
    """`mlops local --state-dir` in a process of its own, which a test may kill -9. Its scene speaks to it over HTTP
    and to its emulator only: what needs the orchestrator's objects (`serve_endpoint`, `orchestrator`) is not there."""

    def __init__(self, templates: Path, state_dir: Path):
        command = [sys.executable, "-m", "local.cli", "local", "--json", "--port", "0"]
        command += ["--templates", str(templates), "--state-dir", str(state_dir)]
        self.errors = state_dir.parent / f"{state_dir.name}.stderr"
        with self.errors.open("a") as errors:
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # the start as JSON, once the API answers
        if not line:
            self.process.wait(timeout=30)
            raise RuntimeError(f"mlops local did not start ({self.process.returncode}): {self.errors.read_text()}")
        about = json.loads(line)
        self.api = ApiClient(about["api"])
        self.emulator_endpoint = about["emulator_endpoint"]
        self.settings = SimpleNamespace(assets_bucket=about["assets_bucket"])

    def kill(self) -> None:
        """kill -9: nothing runs at the stop, so only what was written before is kept."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)


def _local(built_templates: Path, multi_account: bool, **options: Any):
    while _RUNNING:
        _RUNNING.pop().stop()
    # A deploy that waits longer than this fails (a resource that never answers); every stack, a monitor's
    # baseline included, finishes in a few seconds, the margin is for a loaded two-core machine.
    orchestrator = LocalOrchestrator(
        templates=built_templates, multi_account=multi_account, deploy_timeout=30, **options
    )
    orchestrator.start()
    _RUNNING.append(orchestrator)
    try:
        yield LocalScene(orchestrator)
    finally:
        if orchestrator in _RUNNING:
            _RUNNING.remove(orchestrator)
            orchestrator.stop()


@pytest.fixture(scope="module")
def single_account(built_templates):
    yield from _local(built_templates, multi_account=False)


@pytest.fixture(scope="module")
def multi_account(built_templates):
    """One caller plays every part, as with the predecessor: self-approval is allowed (AllowSelfApproval=Yes)."""
    yield from _local(built_templates, multi_account=True, allow_self_approval=True)


@pytest.fixture(scope="module")
def separated_duties(built_templates):
    """Multi-account as deployed by default (AllowSelfApproval=No), with one administrator (tests.callers.ADMIN)."""
    from tests.callers import ADMIN

    yield from _local(built_templates, multi_account=True, admin_principal_arns=(ADMIN,))
