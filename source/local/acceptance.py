# SPDX-License-Identifier: Apache-2.0
"""`mlops acceptance`: one pipeline of every pipeline type, provisioned, followed, checked and torn down.

The check to run before a release. Each type of the catalogue gets one pipeline, made from its example request
with names unique to the run and inputs the run generates itself (tiny CSVs, a tiny model archive, a Docker
context); on a real account they are uploaded to the orchestrator's assets bucket under `acceptance/<run id>/`.
Pipelines are provisioned over the HTTP API (the same routes as any client; SigV4-signed on a deployed API), as
soon as what they need is ACTIVE (a monitor needs the real-time endpoint serving, the retraining monitor and the
built-in model types the training pipeline, the custom-image types the image builder), and followed to their end.
What each deployed is then read directly from AWS (endpoint InService, job Completed, schedule Scheduled, image in
ECR). Teardown runs whatever happened: every pipeline is deleted over the API, its stacks are checked gone, and the
run's own inputs and image are removed. The report is a table: type, pipeline, PASS/FAIL with the reason, what was
checked, seconds, and what cost money while it existed, with a rough cost from `HOURLY_PRICES`.

Local mode (the default) starts the orchestrator in this process, state in memory, and runs the same steps.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import random
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lambdas.pipeline_orchestration.catalogue import CATALOGUE, stack_base_name
from lambdas.pipeline_orchestration.pipeline_state import ACTIVE, WAITING_APPROVAL, has_finished

from .api_client import ApiClient
from .examples import BUCKET_LOCATIONS, EXAMPLES, pipeline_name, sample_model

# SageMaker on-demand prices in us-east-1, USD per instance-hour (hosting, training, processing and batch transform
# cost the same per hour for these instance types). APPROXIMATE: from AWS's public price list as of the date below;
# check https://aws.amazon.com/sagemaker/pricing/ before quoting them.
PRICES_AS_OF = "2025-01"
HOURLY_PRICES = {
    "ml.t2.medium": 0.056,
    "ml.m5.large": 0.115,
    "ml.m5.xlarge": 0.23,
    "ml.m5.2xlarge": 0.461,
    "ml.m5.4xlarge": 0.922,
    "ml.c5.large": 0.102,
    "ml.c5.xlarge": 0.204,
    "ml.c5.2xlarge": 0.408,
}
# Autopilot chooses its own instances; its job time is priced as if it ran on this one.
AUTOPILOT_ESTIMATED_INSTANCE = "ml.m5.2xlarge"
INSTANCE = "ml.m5.large"  # every instance the run asks for: the smallest that every job and endpoint accepts
MINUTE = 60.0


@dataclass(frozen=True)
class Case:
    """One pipeline of the run: its type, the infix of its names, the types that must be ACTIVE before it is
    provisioned, and how long its pipeline may take on a real account (seconds)."""

    pipeline_type: str
    short: str
    after: tuple[str, ...] = ()
    timeout: float = 30 * MINUTE


TRAINING, REALTIME, IMAGE_BUILDER = "model_training_builtin", "byom_realtime_builtin", "byom_image_builder"
CASES = (
    Case(TRAINING, "train"),
    Case("model_tuner_builtin", "tune", timeout=45 * MINUTE),
    Case("model_autopilot_training", "auto", timeout=120 * MINUTE),
    Case(IMAGE_BUILDER, "image"),
    Case(REALTIME, "rt", (TRAINING,)),  # serves the model the training pipeline trained
    Case("byom_batch_builtin", "batch", (TRAINING,)),
    Case("byom_realtime_custom", "rtc", (IMAGE_BUILDER,)),  # serves the image the image builder pushed
    Case("byom_batch_custom", "batchc", (IMAGE_BUILDER,)),
    # Monitors watch the real-time endpoint; the data-quality one retrains with the training pipeline.
    Case("byom_data_quality_monitor", "dq", (REALTIME, TRAINING), 45 * MINUTE),
    Case("byom_model_quality_monitor", "mq", (REALTIME,), 45 * MINUTE),
    Case("byom_model_bias_monitor", "bias", (REALTIME,), 45 * MINUTE),
    Case("byom_model_explainability_monitor", "explain", (REALTIME,), 45 * MINUTE),
)


def cases(types: Sequence[str] | None = None) -> list[Case]:
    """The run's cases: every type of the catalogue (a type registered without a case here runs from its example,
    needing nothing), or only `types` and what they need, in an order where each comes after what it needs."""
    declared = {c.pipeline_type: c for c in CASES if c.pipeline_type in CATALOGUE}
    for name in CATALOGUE:
        declared.setdefault(name, Case(name, f"t{len(declared)}"))
    unknown = sorted(set(types or ()) - set(declared))
    if unknown:
        raise ValueError(f"unknown pipeline type(s): {', '.join(unknown)} (known: {', '.join(sorted(declared))})")
    wanted: dict[str, Case] = {}

    def add(name: str) -> None:
        for needed in declared[name].after:
            add(needed)
        wanted.setdefault(name, declared[name])

    for name in types or list(declared):
        add(name)
    return list(wanted.values())


# --- the run's tiny inputs ---------------------------------------------------------------------------------------
FEATURES = ("age", "income", "tenure")


def _rows(count: int, seed: int) -> list[tuple[int, int, int, int]]:
    """(label, age, income, tenure): a label that the features predict, so a real model learns something."""
    generator = random.Random(seed)
    rows = []
    for _ in range(count):
        age, income, tenure = generator.randint(18, 80), generator.randint(15, 150) * 1000, generator.randint(0, 20)
        label = int((tenure < 5 and income < 60000) or generator.random() < 0.1)
        rows.append((label, age, income, tenure))
    return rows


def _csv(rows: Sequence[Sequence[Any]], header: Sequence[str] = ()) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def docker_context() -> bytes:
    """A serving image of a few lines: GET /ping answers 200, POST /invocations answers one score per line, so a
    SageMaker endpoint and a batch transform job run it (the model archive is not read)."""
    serve = (
        "#!/usr/bin/env python3\n"
        "from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer\n\n\n"
        "class Handler(BaseHTTPRequestHandler):\n"
        "    def _answer(self, status, body=b''):\n"
        "        self.send_response(status)\n"
        "        self.send_header('Content-Type', 'text/csv')\n"
        "        self.send_header('Content-Length', str(len(body)))\n"
        "        self.end_headers()\n"
        "        self.wfile.write(body)\n\n"
        "    def do_GET(self):\n"
        "        self._answer(200 if self.path == '/ping' else 404)\n\n"
        "    def do_POST(self):\n"
        "        data = self.rfile.read(int(self.headers.get('Content-Length') or 0)).decode()\n"
        "        lines = [line for line in data.splitlines() if line.strip()]\n"
        "        self._answer(200, ''.join('0.5\\n' for _ in lines).encode())\n\n\n"
        "ThreadingHTTPServer(('0.0.0.0', 8080), Handler).serve_forever()\n"
    )
    dockerfile = (
        "FROM public.ecr.aws/docker/library/python:3.12-slim\n"
        "COPY serve /usr/local/bin/serve\n"
        "RUN chmod +x /usr/local/bin/serve\n"
        "EXPOSE 8080\n"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("Dockerfile", dockerfile)
        archive.writestr("serve", serve)
    return buffer.getvalue()


def inputs() -> dict[str, bytes]:
    """The run's files by their key under its prefix."""
    train, validation = _rows(300, 1), _rows(80, 2)
    labelled = _rows(40, 3)
    scored = [(label, int(label), 0.8 if label else 0.2) for label, *_ in labelled]
    return {
        "training/train.csv": _csv(train),  # built-in XGBoost: the label first, no header
        "training/validation.csv": _csv(validation),
        "training/full.csv": _csv(_rows(600, 4), ("churned", *FEATURES)),  # Autopilot: 500 rows at least
        "batch/input.csv": _csv([row[1:] for row in labelled]),
        "monitoring/data_quality.csv": _csv([row[1:] for row in labelled], FEATURES),
        "monitoring/label_first.csv": _csv(labelled, ("label", *FEATURES)),  # the Clarify monitors' contract
        "monitoring/with_predictions.csv": _csv(scored, ("label", "prediction", "probability")),
        "monitoring/shap_baseline.csv": _csv([row[1:] for row in labelled[:3]]),
        "models/custom/model.tar.gz": sample_model(),
        "containers/serve.zip": docker_context(),
    }


# Where each request field's input comes from: a file of inputs(), a key in the assets bucket.
INPUT_OF = {
    "training_data": "training/train.csv",
    "validation_data": "training/validation.csv",
    "batch_inference_data": "batch/input.csv",
    "custom_algorithm_docker": "containers/serve.zip",
}
BASELINE_OF = {
    "byom_data_quality_monitor": "monitoring/data_quality.csv",
    "byom_model_quality_monitor": "monitoring/with_predictions.csv",
    "byom_model_bias_monitor": "monitoring/label_first.csv",
    "byom_model_explainability_monitor": "monitoring/label_first.csv",
}
# Values that keep the run small and short (only where the type has the field).
SMALL = {
    "inference_instance": INSTANCE,
    "instance_type": INSTANCE,
    "instance_count": 1,
    "instance_volume_size": 20,
    "job_max_candidates": 1,
    "total_max_runtime": 3600,
    "baseline_max_runtime_seconds": 1800,
    "monitor_max_runtime_seconds": 1800,
    "use_spot_instances": "False",
}


# --- where the run goes ------------------------------------------------------------------------------------------
@dataclass
class Target:
    """An orchestrator to run against: its API, a factory of AWS clients in its account, its assets bucket and ECR
    repository; how often to poll and how much of each case's timeout to allow."""

    api: ApiClient
    clients: Callable[[str], Any]
    assets_bucket: str
    ecr_repo_name: str
    account_id: str
    region: str
    local: bool
    poll_seconds: float = 15.0
    timeout_scale: float = 1.0  # local mode: every stack settles in seconds
    _made: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def aws(self, service: str) -> Any:
        with self._lock:
            if service not in self._made:
                self._made[service] = self.clients(service)
            return self._made[service]


def local_target(orchestrator: Any) -> Target:
    """A running LocalOrchestrator as the target: its API, the emulator, fake credentials."""
    import boto3

    settings = orchestrator.service.settings
    session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=settings.region)
    return Target(
        api=ApiClient(orchestrator.server.url),
        clients=lambda service: session.client(service, endpoint_url=orchestrator.emulator.endpoint),
        assets_bucket=settings.assets_bucket,
        ecr_repo_name=settings.ecr_repo_name,
        account_id=settings.account_id,
        region=settings.region,
        local=True,
        poll_seconds=0.1,
        timeout_scale=60 / (30 * MINUTE),  # 30 minutes on AWS: 60 seconds here
    )


class Refused(Exception):
    """The run does not start: what to do instead is the message."""


def real_target(
    endpoint: str,
    region: str,
    confirmed_account: str | None,
    profile: str | None = None,
    stack: str = "mlops-orchestrator",
    assets_bucket: str | None = None,
    ecr_repo_name: str | None = None,
) -> Target:
    """A deployed orchestrator as the target, once the caller has confirmed the account its credentials act in;
    its assets bucket and ECR repository are the orchestrator stack's outputs unless named."""
    import boto3

    if not confirmed_account:
        raise Refused(
            "a run against a real account creates SageMaker endpoints and jobs that cost money: confirm the "
            "account with --yes-this-is-a-real-account ACCOUNT_ID (or use --local)"
        )
    session = boto3.Session(profile_name=profile, region_name=region)
    actual = session.client("sts").get_caller_identity()["Account"]
    if actual != confirmed_account:
        raise Refused(
            f"the credentials act in account {actual}, not in {confirmed_account} as confirmed: nothing was created"
        )
    if not (assets_bucket and ecr_repo_name):
        stacks = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
        assets_bucket = assets_bucket or outputs.get("AssetsBucket")
        ecr_repo_name = ecr_repo_name or outputs.get("ECRRepoName")
        if not (assets_bucket and ecr_repo_name):
            raise Refused(
                f"stack {stack} has no AssetsBucket and ECRRepoName outputs: name them (--assets-bucket, --ecr-repo)"
            )
    return Target(
        api=ApiClient(endpoint, profile, region),
        clients=lambda service: session.client(service),
        assets_bucket=assets_bucket,
        ecr_repo_name=ecr_repo_name,
        account_id=actual,
        region=region,
        local=False,
    )


# --- the outcome -------------------------------------------------------------------------------------------------
@dataclass
class Billed:
    """What cost money while it existed: a kind, its instance type and count, the minutes it ran."""

    what: str
    instance_type: str
    count: int
    minutes: float

    @property
    def cost(self) -> float | None:
        price = HOURLY_PRICES.get(self.instance_type)
        return None if price is None else price * self.count * self.minutes / 60

    def __str__(self) -> str:
        count = f"{self.count}x " if self.count != 1 else ""
        return f"{self.what} {count}{self.instance_type} {self.minutes:.1f} min"


@dataclass
class Outcome:
    case: Case
    name: str
    passed: bool = False
    reason: str = ""
    checked: list[str] = field(default_factory=list)
    seconds: float = 0.0
    billed: list[Billed] = field(default_factory=list)
    provisioned: bool = False
    endpoint: str = ""  # an endpoint the pipeline deployed: its minutes count until teardown removes it
    endpoint_created: datetime | None = None

    @property
    def cost(self) -> float:
        return sum(b.cost or 0.0 for b in self.billed)


@dataclass
class Report:
    run_id: str
    outcomes: list[Outcome]
    leftovers: list[str]
    seconds: float

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outcomes) and not self.leftovers

    def table(self) -> str:
        header = ["TYPE", "PIPELINE", "OUTCOME", "CHECKED", "SECONDS", "BILLED", "COST (USD)"]
        rows = [
            [
                o.case.pipeline_type,
                o.name,
                "PASS" if o.passed else f"FAIL: {_one_line(o.reason)}",
                "; ".join(o.checked) or "-",
                f"{o.seconds:.0f}",
                "; ".join(map(str, o.billed)) or "-",
                f"~{o.cost:.2f}" if o.billed else "-",
            ]
            for o in self.outcomes
        ]
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        lines = ["  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]
        total = sum(o.cost for o in self.outcomes)
        passed = sum(o.passed for o in self.outcomes)
        lines.append(
            f"{passed}/{len(self.outcomes)} passed in {self.seconds:.0f} s; approximate cost ~{total:.2f} USD "
            f"(SageMaker on-demand us-east-1 prices as of {PRICES_AS_OF}, approximate; CodeBuild, S3, ECR, "
            "Lambda and API Gateway not counted)"
        )
        if self.leftovers:
            lines.append("teardown could not remove:")
            lines += [f"  {item}" for item in self.leftovers]
        else:
            lines.append("teardown: every pipeline, stack and input of the run removed")
        return "\n".join(lines)


# --- the run -----------------------------------------------------------------------------------------------------
def new_run_id() -> str:
    return uuid.uuid4().hex[:6]


class Run:
    def __init__(self, target: Target, run_id: str, selected: list[Case], say: Callable[[str], None]):
        self.target, self.run_id, self.cases, self.say = target, run_id, selected, say
        self.prefix = f"acceptance/{run_id}"
        self.bodies: dict[str, dict[str, Any]] = {}
        self.outcomes = {c.pipeline_type: Outcome(c, "") for c in selected}
        self.done = {c.pipeline_type: threading.Event() for c in selected}
        for case in selected:
            body = self.request(case)
            self.bodies[case.pipeline_type] = body
            self.outcomes[case.pipeline_type].name = pipeline_name(body)

    # Names and requests
    def name_of(self, case: Case) -> str:
        return f"acc-{self.run_id}-{case.short}"

    def by_type(self, pipeline_type: str) -> Case:
        return next(c for c in self.cases if c.pipeline_type == pipeline_type)

    def request(self, case: Case) -> dict[str, Any]:
        """The type's example request, with the run's names, inputs and small values."""
        declared = CATALOGUE[case.pipeline_type]
        body: dict[str, Any] = json.loads((EXAMPLES / declared.example).read_text())
        fields = {f.name for f in declared.fields}
        assets, prefix = self.target.assets_bucket, self.prefix
        body[declared.name_field] = self.name_of(case)
        body.pop("kms_key_arn", None)
        body.update({k: v for k, v in SMALL.items() if k in fields})
        for key, value in list(body.items()):
            if key in BUCKET_LOCATIONS and isinstance(value, str) and value:
                body[key] = f"{assets}/{prefix}/{key.removesuffix('_location')}"
        for key, source in INPUT_OF.items():
            if key in body:
                body[key] = f"{assets}/{prefix}/{source}" if key in BUCKET_LOCATIONS else f"{prefix}/{source}"
        if "job_output_location" in body:
            body["job_output_location"] = f"{prefix}/output/{case.short}"
        if "training_data" in body and case.pipeline_type == "model_autopilot_training":
            body["training_data"], body["target_attribute"] = f"{prefix}/training/full.csv", "churned"
        if "baseline_data" in body:
            body["baseline_data"] = f"{prefix}/{BASELINE_OF.get(case.pipeline_type, 'monitoring/label_first.csv')}"
        if isinstance(body.get("shap_config"), dict):
            body["shap_config"] = {**body["shap_config"], "baseline": f"{prefix}/monitoring/shap_baseline.csv"}
        if "algo_hyperparamaters" in body:
            body["algo_hyperparamaters"] = {**body["algo_hyperparamaters"], "num_round": 10}
        if isinstance(body.get("tuner_configs"), dict):
            body["tuner_configs"] = {**body["tuner_configs"], "max_jobs": 2, "max_parallel_jobs": 2}
        if "ecr_repo_name" in body:
            body["ecr_repo_name"] = self.target.ecr_repo_name
        if "custom_image_uri" in body:
            tag = self.name_of(self.by_type(IMAGE_BUILDER)) if IMAGE_BUILDER in self.outcomes else "latest"
            registry = f"{self.target.account_id}.dkr.ecr.{self.target.region}.amazonaws.com"
            body["custom_image_uri"] = f"{registry}/{self.target.ecr_repo_name}:{tag}"
        if "model_artifact_location" in body:
            # The built-in types serve what the training pipeline trained (set once it is ACTIVE).
            body["model_artifact_location"] = f"{prefix}/models/custom/model.tar.gz"
        role = declared.endpoint
        if role == "serves" and "endpoint_name" in fields:
            body["endpoint_name"] = f"{self.name_of(case)}-endpoint"
        if role == "monitors":
            serving = self.by_type(REALTIME) if REALTIME in self.outcomes else case
            body["endpoint_name"] = f"{self.name_of(serving)}-endpoint"
            body["data_capture_location"] = f"{assets}/{prefix}/data_capture"  # where the endpoint captures
        if "retrain_pipeline_name" in fields and TRAINING in self.outcomes:
            body["retrain_pipeline_name"] = self.outcomes[TRAINING].name
            body.setdefault("violation_threshold", 3)
        return body

    # Inputs
    def upload_inputs(self) -> None:
        s3 = self.target.aws("s3")
        for key, content in inputs().items():
            s3.put_object(Bucket=self.target.assets_bucket, Key=f"{self.prefix}/{key}", Body=content)

    def trained_model(self) -> str:
        """The key of the model the training pipeline trained; local mode trains nothing, so a tiny one is put
        where SageMaker says the model is."""
        training = self.outcomes[TRAINING]
        described = self.target.api.call("GET", f"/pipelines/{training.name}").body
        job = ((described.get("sagemaker") or {}).get("training_job") or {}).get("name", "")
        found = self.target.aws("sagemaker").describe_training_job(TrainingJobName=job)
        location = found.get("ModelArtifacts", {}).get("S3ModelArtifacts", "")
        bucket, _, key = location.removeprefix("s3://").partition("/")
        if bucket != self.target.assets_bucket or not key:
            raise RuntimeError(f"training job {job} wrote its model to {location or 'nowhere'}, not the assets bucket")
        if self.target.local and not self._exists(bucket, key):
            self.target.aws("s3").put_object(Bucket=bucket, Key=key, Body=sample_model())
        return key

    def _exists(self, bucket: str, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.target.aws("s3").head_object(Bucket=bucket, Key=key)
        except ClientError:
            return False
        return True

    # One case, start to end
    def run_case(self, case: Case) -> None:
        outcome = self.outcomes[case.pipeline_type]
        try:
            for needed in case.after:
                self.done[needed].wait()
            failed = [n for n in case.after if not self.outcomes[n].passed]
            if failed:
                outcome.reason = f"not run: it needs {', '.join(failed)}, which did not pass"
                return
            started = time.monotonic()
            try:
                self._provision_and_follow(case, outcome)
            finally:
                outcome.seconds = time.monotonic() - started
        except Exception as error:  # the case's outcome, reported in the table; the other cases go on
            outcome.passed, outcome.reason = False, f"{type(error).__name__}: {error}"
        finally:
            self.say(f"{case.pipeline_type}: {'PASS' if outcome.passed else 'FAIL: ' + outcome.reason}")
            self.done[case.pipeline_type].set()

    def _provision_and_follow(self, case: Case, outcome: Outcome) -> None:
        body = self.bodies[case.pipeline_type]
        if "model_artifact_location" in body and TRAINING in case.after:
            body["model_artifact_location"] = self.trained_model()
        answer = self.target.api.call("POST", "/provisionpipeline", body)
        if not answer.ok:
            outcome.reason = f"provision answered {answer.status}: {_message(answer.body)}"
            return
        outcome.provisioned = True
        self.say(f"{case.pipeline_type}: provisioned {outcome.name}")
        described = self.follow(outcome.name, case.timeout * self.target.timeout_scale)
        state = described.get("state")
        if state is None:
            outcome.reason = f"still {described.get('last_state') or 'not started'} after {_timeout_text(case, self)}"
            return
        if state != ACTIVE:
            outcome.reason = f"{state}: {described.get('reason') or 'no reason given'}"
            return
        outcome.checked.append("pipeline ACTIVE")
        problems = check_deployed(self, case, described, outcome)
        outcome.passed, outcome.reason = not problems, "; ".join(problems)

    def follow(self, name: str, timeout: float) -> dict[str, Any]:
        """The pipeline's description once it has finished (approving a stage that waits), or {"last_state"}."""
        deadline, state = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            answer = self.target.api.call("GET", f"/pipelines/{name}")
            described = answer.body if answer.ok else {}
            state = described.get("state")
            if state == WAITING_APPROVAL:
                stage = described.get("approval_stage", "")
                self.target.api.call("POST", f"/pipelines/{name}/approval", {"stage": stage, "comment": "acceptance"})
            elif has_finished(state):
                return described
            time.sleep(self.target.poll_seconds)
        return {"last_state": state}

    # Teardown
    def teardown(self) -> list[str]:
        """Delete every provisioned pipeline (those that need another first), check their stacks are gone, remove
        the run's inputs and image; answers what could not be removed."""
        leftovers: list[str] = []
        for level in reversed(self._levels()):
            outcomes = [self.outcomes[c.pipeline_type] for c in level if self.outcomes[c.pipeline_type].provisioned]
            if not outcomes:
                continue
            with ThreadPoolExecutor(len(outcomes)) as pool:
                for found in pool.map(self._delete, outcomes):
                    leftovers += found
        leftovers += self._remove_inputs()
        return leftovers

    def _levels(self) -> list[list[Case]]:
        depth: dict[str, int] = {}
        for case in self.cases:  # in dependency order
            depth[case.pipeline_type] = 1 + max((depth.get(n, 0) for n in case.after), default=-1)
        levels: list[list[Case]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
        for case in self.cases:
            levels[depth[case.pipeline_type]].append(case)
        return levels

    def _delete(self, outcome: Outcome) -> list[str]:
        timeout = outcome.case.timeout * self.target.timeout_scale
        deadline, answer = time.monotonic() + timeout, None
        try:
            while time.monotonic() < deadline:
                answer = self.target.api.call("DELETE", f"/pipelines/{outcome.name}")
                if answer.status == 404:
                    break
                time.sleep(self.target.poll_seconds)
            else:
                detail = _message(answer.body) if answer else "no answer"
                return [f"pipeline {outcome.name}: not deleted in {timeout:.0f} s ({detail})"]
        except OSError as error:
            return [f"pipeline {outcome.name}: DELETE failed: {error}"]
        finally:
            self._endpoint_minutes(outcome)
        return [f"stack {s}: {status}" for s, status in self._stacks_left(outcome.name)]

    def _endpoint_minutes(self, outcome: Outcome) -> None:
        if outcome.endpoint_created is not None and outcome.billed:
            alive = (datetime.now(UTC) - outcome.endpoint_created).total_seconds() / 60
            outcome.billed[0].minutes = max(outcome.billed[0].minutes, alive)

    def _stacks_left(self, name: str) -> list[tuple[str, str]]:
        from botocore.exceptions import ClientError

        left = []
        for stack in (name, f"{name}-codepipeline"):
            try:
                found = self.target.aws("cloudformation").describe_stacks(StackName=stack)["Stacks"]
            except ClientError as error:
                if "does not exist" in str(error):
                    continue
                left.append((stack, str(error)))
                continue
            left += [(stack, s["StackStatus"]) for s in found if s["StackStatus"] != "DELETE_COMPLETE"]
        return left

    def _remove_inputs(self) -> list[str]:
        """Every version under the run's prefix (the bucket is versioned), and the image the image builder pushed."""
        from botocore.exceptions import ClientError

        left = []
        s3, bucket = self.target.aws("s3"), self.target.assets_bucket
        try:
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=f"{self.prefix}/"):
                found = [
                    {"Key": v["Key"], "VersionId": v["VersionId"]}
                    for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
                ]
                for start in range(0, len(found), 1000):
                    answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": found[start : start + 1000]})
                    left += [f"s3://{bucket}/{e['Key']}: {e.get('Message', '')}" for e in answer.get("Errors", [])]
        except ClientError as error:
            left.append(f"s3://{bucket}/{self.prefix}/: {error}")
        if IMAGE_BUILDER in self.outcomes:
            tag = self.name_of(self.by_type(IMAGE_BUILDER))
            try:
                self.target.aws("ecr").batch_delete_image(
                    repositoryName=self.target.ecr_repo_name, imageIds=[{"imageTag": tag}]
                )
            except ClientError as error:
                left.append(f"image {self.target.ecr_repo_name}:{tag}: {error}")
        return left


def _timeout_text(case: Case, run: Run) -> str:
    return f"{case.timeout * run.target.timeout_scale:.0f} s"


def _one_line(text: str, limit: int = 240) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _message(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("detailedMessage") or body.get("message") or body)
    return str(body)


# --- what each type deployed, read from AWS ----------------------------------------------------------------------
def _minutes(start: Any, end: Any) -> float:
    if not isinstance(start, datetime):
        return 0.0
    finish = end if isinstance(end, datetime) else datetime.now(start.tzinfo or UTC)
    return max((finish - start).total_seconds() / 60, 0.0)


def check_deployed(run: Run, case: Case, described: dict[str, Any], outcome: Outcome) -> list[str]:
    """Read what the pipeline deployed from AWS itself: answers the problems (none: it passes)."""
    sagemaker = run.target.aws("sagemaker")
    found = described.get("sagemaker") or {}
    problems = []
    for read in CATALOGUE[case.pipeline_type].reads:
        name = (found.get(read.key) or {}).get("name")
        if not name:
            problems.append(f"describe names no {read.key}")
            continue
        check = CHECKS.get(read.kind)
        if check is None:
            continue
        problem = check(sagemaker, name, outcome, case)
        if problem:
            problems.append(problem)
    if case.pipeline_type == IMAGE_BUILDER:
        problems += _check_image(run, outcome)
    body = run.bodies[case.pipeline_type]
    asked = body.get("instance_type") or body.get("inference_instance") or "?"
    for billed in outcome.billed:  # a job whose description leaves out its instances: the one the request asked for
        billed.instance_type = asked if billed.instance_type == "?" else billed.instance_type
    return problems


def _expect(outcome: Outcome, what: str, status: str, wanted: str) -> str:
    outcome.checked.append(f"{what} {status}")
    return "" if status == wanted else f"{what} is {status}, not {wanted}"


def _check_endpoint(sagemaker: Any, name: str, outcome: Outcome, case: Case) -> str:
    found = sagemaker.describe_endpoint(EndpointName=name)
    if CATALOGUE[case.pipeline_type].endpoint == "serves":  # a monitor's endpoint is billed to the real-time case
        config = sagemaker.describe_endpoint_config(EndpointConfigName=found["EndpointConfigName"])
        for variant in config.get("ProductionVariants", []):
            count = int(variant.get("InitialInstanceCount", 1))
            outcome.billed.append(Billed("endpoint", variant.get("InstanceType", "serverless"), count, 0.0))
        outcome.endpoint, outcome.endpoint_created = name, found.get("CreationTime")
        if outcome.billed and isinstance(outcome.endpoint_created, datetime):
            outcome.billed[0].minutes = _minutes(outcome.endpoint_created, None)
    return _expect(outcome, f"endpoint {name}", found["EndpointStatus"], "InService")


def _check_transform(sagemaker: Any, name: str, outcome: Outcome, case: Case) -> str:
    found = sagemaker.describe_transform_job(TransformJobName=name)
    resources = found.get("TransformResources", {})
    minutes = _minutes(found.get("TransformStartTime"), found.get("TransformEndTime"))
    outcome.billed.append(
        Billed("transform job", resources.get("InstanceType", "?"), resources.get("InstanceCount", 1), minutes)
    )
    return _expect(outcome, f"transform job {name}", found["TransformJobStatus"], "Completed")


def _training_minutes(found: dict[str, Any]) -> float:
    billable = found.get("BillableTimeInSeconds")
    if billable:
        return float(billable) / 60
    return _minutes(found.get("TrainingStartTime"), found.get("TrainingEndTime"))


def _check_training(sagemaker: Any, name: str, outcome: Outcome, case: Case) -> str:
    found = sagemaker.describe_training_job(TrainingJobName=name)
    resources = found.get("ResourceConfig", {})
    outcome.billed.append(
        Billed(
            "training job",
            resources.get("InstanceType", "?"),
            resources.get("InstanceCount", 1),
            _training_minutes(found),
        )
    )
    return _expect(outcome, f"training job {name}", found["TrainingJobStatus"], "Completed")


def _check_tuning(sagemaker: Any, name: str, outcome: Outcome, case: Case) -> str:
    found = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    resources = (found.get("TrainingJobDefinition") or {}).get("ResourceConfig", {})
    from botocore.exceptions import ClientError

    what = "tuning jobs"
    try:
        jobs = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        minutes = sum(
            _minutes(j.get("TrainingStartTime"), j.get("TrainingEndTime")) for j in jobs.get("TrainingJobSummaries", [])
        )
    except ClientError:  # its training jobs unknown: the tuning job's time, as many jobs as run at once
        parallel = (found.get("HyperParameterTuningJobConfig") or {}).get("ResourceLimits", {})
        what = "tuning jobs (estimated)"
        minutes = _minutes(found.get("CreationTime"), found.get("HyperParameterTuningEndTime")) * int(
            parallel.get("MaxParallelTrainingJobs", 1)
        )
    outcome.billed.append(Billed(what, resources.get("InstanceType", "?"), resources.get("InstanceCount", 1), minutes))
    return _expect(outcome, f"tuning job {name}", found["HyperParameterTuningJobStatus"], "Completed")


def _check_automl(sagemaker: Any, name: str, outcome: Outcome, case: Case) -> str:
    found = sagemaker.describe_auto_ml_job_v2(AutoMLJobName=name)
    minutes = _minutes(found.get("CreationTime"), found.get("EndTime"))
    outcome.billed.append(Billed("Autopilot job (estimated)", AUTOPILOT_ESTIMATED_INSTANCE, 1, minutes))
    return _expect(outcome, f"AutoML job {name}", found["AutoMLJobStatus"], "Completed")


def _check_processing(sagemaker: Any, name: str, outcome: Outcome, case: Case) -> str:
    found = sagemaker.describe_processing_job(ProcessingJobName=name)
    cluster = (found.get("ProcessingResources") or {}).get("ClusterConfig", {})
    minutes = _minutes(found.get("ProcessingStartTime"), found.get("ProcessingEndTime"))
    outcome.billed.append(
        Billed("baseline job", cluster.get("InstanceType", "?"), cluster.get("InstanceCount", 1), minutes)
    )
    return _expect(outcome, f"baseline job {name}", found["ProcessingJobStatus"], "Completed")


def _check_schedule(sagemaker: Any, name: str, outcome: Outcome, case: Case) -> str:
    found = sagemaker.describe_monitoring_schedule(MonitoringScheduleName=name)
    return _expect(outcome, f"schedule {name}", found["MonitoringScheduleStatus"], "Scheduled")


CHECKS: dict[str, Callable[[Any, str, Outcome, Case], str]] = {
    "endpoint": _check_endpoint,
    "transform_job": _check_transform,
    "training_job": _check_training,
    "tuning_job": _check_tuning,
    "automl_job": _check_automl,
    "processing_job": _check_processing,
    "monitoring_schedule": _check_schedule,
}


def _check_image(run: Run, outcome: Outcome) -> list[str]:
    from botocore.exceptions import ClientError

    repository, tag = run.target.ecr_repo_name, run.name_of(outcome.case)
    if run.target.local:
        outcome.checked.append("ECR image not checked (local mode builds no container)")
        return []
    try:
        found = run.target.aws("ecr").describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except ClientError as error:
        return [f"image {repository}:{tag} not in ECR: {error.response.get('Error', {}).get('Code', error)}"]
    outcome.checked.append(f"image {repository}:{tag} in ECR")
    return [] if found.get("imageDetails") else [f"image {repository}:{tag} not in ECR"]


# --- the whole run -----------------------------------------------------------------------------------------------
def run_acceptance(
    target: Target,
    types: Sequence[str] | None = None,
    run_id: str | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> Report:
    """Provision one pipeline of each type (or of `types` and what they need), check them, tear everything down."""
    started = time.monotonic()
    run = Run(target, run_id or new_run_id(), cases(types), say)
    leftovers: list[str] = []
    try:
        run.upload_inputs()
        say(f"inputs uploaded to s3://{target.assets_bucket}/{run.prefix}/")
        # Each case waits for what it needs; independent ones run at once.
        with ThreadPoolExecutor(len(run.cases)) as pool:
            list(pool.map(run.run_case, run.cases))
    finally:
        say("tearing down")
        leftovers = run.teardown()
    return Report(run.run_id, [run.outcomes[c.pipeline_type] for c in run.cases], leftovers, time.monotonic() - started)


def planned(types: Sequence[str] | None = None, run_id: str = "<run id>") -> str:
    """What a run creates, and its rough cost on AWS (the minutes are the usual ones, not a promise)."""
    lines = []
    for case in cases(types):
        name = stack_base_name(CATALOGUE[case.pipeline_type], f"acc-{run_id}-{case.short}")
        lines.append(f"  {case.pipeline_type}: pipeline {name}")
    estimate = [
        Billed("endpoints", INSTANCE, 2, 45.0),
        Billed("training job", INSTANCE, 1, 5.0),
        Billed("tuning jobs", INSTANCE, 2, 5.0),
        Billed("Autopilot job (estimated)", AUTOPILOT_ESTIMATED_INSTANCE, 1, 60.0),
        Billed("transform jobs", INSTANCE, 2, 6.0),
        Billed("baseline jobs", INSTANCE, 4, 8.0),
    ]
    total = sum(b.cost or 0.0 for b in estimate)
    lines.append("  billed while they exist (usual minutes): " + "; ".join(map(str, estimate)))
    lines.append(
        f"  rough cost: ~{total:.2f} USD (SageMaker on-demand us-east-1 prices as of {PRICES_AS_OF}, approximate), "
        "plus CodeBuild, S3, Lambda and API Gateway cents"
    )
    return "\n".join(lines)


@contextlib.contextmanager
def fake_credentials() -> Iterator[None]:
    """Local mode's clients use fake credentials, never the user's own: set while the run lasts, then restored."""
    values = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "us-east-1"}
    removed = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
    saved = {k: os.environ.get(k) for k in (*values, *removed)}
    os.environ.update(values)
    for key in removed:
        os.environ.pop(key, None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_local(
    templates: Path, types: Sequence[str] | None = None, say: Callable[[str], None] = lambda line: None
) -> Report:
    """Local mode in this process (state in memory), the run against it, local mode stopped."""
    from .session import LocalOrchestrator

    with fake_credentials():
        orchestrator = LocalOrchestrator(templates=templates, deploy_timeout=30, seed_examples=False)
        orchestrator.start()
        try:
            say(f"local mode started: {orchestrator.server.url}")  # type: ignore[union-attr]
            return run_acceptance(local_target(orchestrator), types, say=say)
        finally:
            orchestrator.stop(save=False)
