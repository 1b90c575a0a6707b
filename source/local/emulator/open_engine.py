# SPDX-License-Identifier: Apache-2.0
"""The open monitoring engine in the emulator: its processing jobs compute for real, in this process.

A processing job on the engine's entrypoint (a monitor's baseline, or an hour's analysis) reads its spec from the
emulator's S3 and runs `monitoring_engine.job.run_job` on it, as the job's container runs it on AWS: the reports
it writes are computed from the data it reads. The job then ends Completed or Failed as its result says, and its
state-change event goes to the orchestrator, as EventBridge delivers it. The monitors' EventBridge Scheduler
schedules run on the monitoring clock (one scheduled hour in MONITORING_HOUR_SECONDS) and invoke their target
Lambda in process, with the context attributes Scheduler fills in.

No model runs in local mode (InvokeEndpoint answers ModelError), so what needs the model behind the endpoint
(explainability's attributions, a bias baseline without predicted labels) fails with that reason.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from lambdas.blueprints.open_engine import entrypoint
from lambdas.shared.logging import get_logger
from monitoring_engine import job as engine
from monitoring_engine import s3io

from . import monitoring

logger = get_logger(__name__)
progress = get_logger("mlops.progress")

NO_MODEL = "attributions need the model behind the endpoint, which local mode does not run"
SCHEDULED_TIME, EXECUTION_ID = "<aws.scheduler.scheduled-time>", "<aws.scheduler.execution-id>"


class ModelError(engine.JobError):
    """The endpoint's model was asked for a prediction: local mode runs none (SageMaker's ModelError)."""


class NoModelRuntime:
    """The sagemaker-runtime client the engine calls the model through: every invocation is a ModelError."""

    def invoke_endpoint(self, **_: Any) -> Any:
        raise ModelError(NO_MODEL)


@dataclass
class EngineSchedule:
    """An EventBridge Scheduler schedule of an open monitor, and its place on the monitoring clock."""

    properties: dict[str, Any]
    origin: datetime  # the scheduled time of its first invocation
    next_at: float  # wall-clock time (epoch seconds) of its next invocation
    invocations: int = 0


# The open monitors' schedules (AWS::Scheduler::Schedule), by (account, region, name).
SCHEDULES: dict[tuple[str, str, str], EngineSchedule] = {}


def is_engine_job(app_specification: dict[str, Any] | None) -> bool:
    return (app_specification or {}).get("ContainerEntrypoint") == entrypoint()


def emulator_client(service: str, account_id: str, region: str) -> Any:
    """A client of the emulator whose requests are made in `account_id` (the account of the job)."""
    import boto3

    found = boto3.session.Session().client(service, region_name=region)
    found.meta.events.register_first(
        "before-sign.*.*", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account_id)
    )
    return found


def run_engine_job(account_id: str, region: str, job: Any) -> dict[str, Any]:
    """Run the job's spec through the engine and end the job as its result says; answers the result."""
    arguments = list((job.app_specification or {}).get("ContainerArguments") or [])
    spec_uri = arguments[arguments.index("--spec") + 1] if "--spec" in arguments[:-1] else ""
    s3 = emulator_client("s3", account_id, region)
    try:
        outcome = engine.run_job(s3io.read_json(s3, spec_uri), s3, NoModelRuntime())
    except Exception as error:  # as the job's container would exit with the error: the job fails with it
        outcome = engine.result("Failed", f"{type(error).__name__}: {error}")
    job.processing_start_time = job.creation_time
    message = str(outcome.get("exit_message", ""))
    if outcome["status"] == "Failed":
        job.processing_job_status = "Failed"
        job.failure_reason = job.exit_message = f"AlgorithmError: {message}"[:1024]
    else:
        job.processing_job_status = "Completed"
        job.exit_message = f"{outcome['status']}: {message}"[:1024]
    progress.info("open monitoring engine: job %s %s: %s", job.processing_job_name, outcome["status"], message)
    return outcome


def record_schedule(name: str, properties: dict[str, Any], account_id: str, region: str) -> None:
    key = (account_id, region, name)
    if key in SCHEDULES:  # an update keeps the schedule's clock
        SCHEDULES[key].properties = properties
        return
    origin = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    next_at = time.time() + monitoring.MONITORING_HOUR_SECONDS / 12
    SCHEDULES[key] = EngineSchedule(properties=properties, origin=origin, next_at=next_at)


def delete_schedule(account_id: str, region: str, name: str) -> None:
    SCHEDULES.pop((account_id, region, name), None)


def run_due_schedules(now: float) -> None:
    """Invoke the target of every enabled schedule whose time has come (the monitoring clock's step)."""
    for key, schedule in list(SCHEDULES.items()):
        if schedule.next_at > now or schedule.properties.get("State", "ENABLED") != "ENABLED":
            continue
        period = monitoring.schedule_period_hours(str(schedule.properties.get("ScheduleExpression", "")))
        scheduled = schedule.origin + timedelta(hours=schedule.invocations * period)
        schedule.invocations += 1
        schedule.next_at = now + period * monitoring.MONITORING_HOUR_SECONDS
        invoke_target(key, scheduled)


def run_now(key: tuple[str, str, str]) -> dict[str, Any]:
    """The schedule's next execution, now, on the capture written so far: the analysis of the current hour (the
    execution scheduled at the next hour's start, run early). Answers the target's answer."""
    scheduled = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return invoke_target(key, scheduled)


def invoke_target(key: tuple[str, str, str], scheduled: datetime) -> dict[str, Any]:
    """Invoke the schedule's Lambda target in process with Scheduler's context attributes filled in."""
    from moto.awslambda.utils import get_backend

    account_id, region, name = key
    target = SCHEDULES[key].properties.get("Target") or {}
    text = str(target.get("Input") or "{}")
    text = text.replace(SCHEDULED_TIME, scheduled.strftime("%Y-%m-%dT%H:%M:%SZ")).replace(EXECUTION_ID, _execution_id())
    try:
        function = get_backend(account_id, region).get_function(str(target.get("Arn", "")))
        payload, errored, _ = function._invoke_lambda(text)
    except Exception as error:  # Scheduler retries, then drops the invocation; the reason is in the log
        logger.exception("schedule %s could not invoke its target", name)
        return {"errorMessage": f"{type(error).__name__}: {error}"}
    answer = json.loads(payload) if payload else {}
    if errored:
        logger.error("schedule %s: its target failed: %s", name, answer.get("errorMessage", payload))
    return answer if isinstance(answer, dict) else {}


def _execution_id() -> str:
    return uuid.uuid4().hex[:16]
