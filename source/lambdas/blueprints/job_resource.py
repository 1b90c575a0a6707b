# SPDX-License-Identifier: Apache-2.0
"""Custom resource that starts a blueprint's SageMaker job; for a baseline, it also waits for the job.

`on_event` is the resource's service token. Training, tuning and Autopilot jobs can run for days, so the
resource succeeds as soon as the job is created and EventBridge reports the outcome. A monitor's job
definition and schedule must not exist before its baseline has finished, so for a baseline `on_event`
hands the request to a Step Functions loop that calls `poll` until the job has finished and its
constraints exist; `poll` then answers CloudFormation, with the job's own failure reason when it failed.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from lambdas.blueprints import autopilot, baseline, training
from lambdas.blueprints.custom_resource import JobFailed, is_retryable, properties, respond
from lambdas.shared.aws import client
from lambdas.shared.logging import get_logger

logger = get_logger(__name__)

BASELINE, TRAINING, TUNING, AUTOPILOT = "Baseline", "TrainingJob", "HyperparameterTuningJob", "AutopilotJob"
# CloudFormation gives a custom resource at most one hour; answer before it stops listening.
WAIT_SECONDS = int(os.environ.get("BASELINE_WAIT_SECONDS", "3300"))


def start(kind: str, props: dict[str, str]) -> str:
    """Create the job the properties describe; returns its name."""
    if kind == BASELINE:
        return baseline.start_baseline(baseline.BaselineSpec.from_properties(props))
    if kind == TRAINING:
        return training.start_training(training.TrainingSpec.from_properties(props))
    if kind == TUNING:
        return training.start_tuning(training.TrainingSpec.from_properties(props))
    if kind == AUTOPILOT:
        return autopilot.start_autopilot(autopilot.AutopilotSpec.from_properties(props))
    raise JobFailed(f"JobKind must be one of {BASELINE}, {TRAINING}, {TUNING}, {AUTOPILOT}, not '{kind}'")


def on_event(event: dict[str, Any], _context: Any = None) -> None:
    """CloudFormation Create/Update/Delete of the job resource."""
    props = properties(event)
    kind, job_name = props.get("JobKind", ""), props.get("JobName", "")
    logger.info("%s %s %s", event["RequestType"], kind, job_name)
    try:
        if event["RequestType"] == "Delete":
            # A baseline still running belongs to a stack being rolled back or deleted: stop paying for it.
            # Training jobs are left alone: a replaced job name must not stop the job a user still wants.
            physical = event.get("PhysicalResourceId", "")
            if kind == BASELINE and physical == job_name:
                baseline.stop_if_running(job_name)
            respond(event, "SUCCESS", physical)
            return
        start(kind, props)
        if kind == BASELINE:
            client("stepfunctions").start_execution(
                stateMachineArn=os.environ["WAITER_STATE_MACHINE_ARN"],
                name=event["RequestId"][:80],
                input=json.dumps({"event": event, "deadline": int(time.time()) + WAIT_SECONDS}),
            )
            return  # poll() answers once the baseline has finished
        respond(event, "SUCCESS", job_name, data={"JobName": job_name})
    except JobFailed as error:
        logger.error("%s", error)
        respond(event, "FAILED", job_name, str(error))
    except Exception as error:  # CloudFormation must hear of any failure, or it waits an hour for nothing
        logger.exception("unexpected failure")
        respond(event, "FAILED", job_name, f"{type(error).__name__}: {error}")


def poll(state: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    """One round of the waiter loop: answer CloudFormation once the baseline has finished, failed or timed out.

    Only AWS's throttling and transient errors are tried again next round; any other error (a request AWS
    refused, a fault of this code such as a missing property) fails the resource at once, with its reason."""
    event = state["event"]
    job_name = properties(event).get("JobName", "")
    try:
        spec = baseline.BaselineSpec.from_properties(properties(event))
        if not baseline.baseline_finished(spec):
            if time.time() < state["deadline"]:
                return {**state, "done": False}
            baseline.stop_if_running(spec.job_name)
            raise JobFailed(
                f"baseline job {spec.job_name} was still running after {WAIT_SECONDS // 60} minutes and was "
                "stopped; lower the baseline data size or use a larger instance type"
            )
    except JobFailed as error:
        logger.error("%s", error)
        respond(event, "FAILED", job_name, str(error))
        return {**state, "done": True}
    except Exception as error:
        if is_retryable(error) and time.time() < state["deadline"]:
            logger.warning("cannot read baseline job %s yet, trying again: %s", job_name, error)
            return {**state, "done": False}
        logger.exception("cannot read baseline job %s", job_name)
        respond(event, "FAILED", job_name, f"cannot read baseline job {job_name}: {type(error).__name__}: {error}")
        return {**state, "done": True}
    respond(
        event,
        "SUCCESS",
        spec.job_name,
        data={"BaselineJobName": spec.job_name, "BaselineOutput": spec.output_uri},
    )
    return {**state, "done": True}
