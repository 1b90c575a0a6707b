# SPDX-License-Identifier: Apache-2.0
"""CodePipeline Lambda action of the single-account wrapper, run before its deploy action: the job succeeds only
when the source artifact is the template.zip version the source stage pinned, as the orchestrator wrote it
(source_artifact.verify_artifact); otherwise it fails with the reason, which fails the stage and the pipeline."""

from __future__ import annotations

import json
from typing import Any

from lambdas.blueprints.source_artifact import ArtifactRejected, read_input_artifact, verify_artifact
from lambdas.shared.aws import client
from lambdas.shared.logging import get_logger

logger = get_logger(__name__)

REQUIRED_PARAMETERS = ("artifact", "source_bucket", "source_key")


def verify_job(job_data: dict[str, Any]) -> str:
    """The summary of a verified artifact; raises ArtifactRejected with the reason otherwise."""
    text = job_data.get("actionConfiguration", {}).get("configuration", {}).get("UserParameters", "")
    try:
        parameters = json.loads(text or "{}")
    except ValueError as error:
        raise ArtifactRejected(f"UserParameters must be JSON: {error}") from None
    if not isinstance(parameters, dict):
        raise ArtifactRejected("UserParameters must be a JSON object")
    for name in REQUIRED_PARAMETERS:
        if not parameters.get(name):
            raise ArtifactRejected(f"Your UserParameters JSON must include {name}")
    body, revision = read_input_artifact(job_data, parameters["artifact"])
    digest = verify_artifact(body, revision, parameters["source_bucket"], parameters["source_key"])
    return (
        f"The artifact is version {revision} of s3://{parameters['source_bucket']}/{parameters['source_key']} "
        f"as the orchestrator wrote it (SHA-256 {digest})"
    )


def handler(event: dict[str, Any], context: Any) -> None:
    job = event["CodePipeline.job"]
    codepipeline = client("codepipeline")
    try:
        summary = verify_job(job["data"])
    except ArtifactRejected as error:
        logger.info("job %s: artifact refused - %s", job["id"], error)
        codepipeline.put_job_failure_result(
            jobId=job["id"], failureDetails={"type": "JobFailed", "message": str(error)[:5000]}
        )
        return
    except Exception as error:
        # The job must be failed explicitly, or the stage waits for its timeout; the error is logged in full.
        logger.exception("verification of job %s failed", job["id"])
        codepipeline.put_job_failure_result(
            jobId=job["id"], failureDetails={"type": "JobFailed", "message": f"{type(error).__name__}: {error}"[:5000]}
        )
        return
    logger.info("job %s: %s", job["id"], summary)
    codepipeline.put_job_success_result(jobId=job["id"], executionDetails={"summary": summary[:2048]})
