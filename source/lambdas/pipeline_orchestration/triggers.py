# SPDX-License-Identifier: Apache-2.0
"""Config-file triggers: mlops-config.json committed to CodeCommit, or uploaded to the config bucket.

The outcome, success or every validation error, goes where the user will look: the SNS topic, and a
comment on the commit (CodeCommit) or `mlops-config.result.json` beside the file (S3).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

from lambdas.shared.errors import OrchestratorError
from lambdas.shared.logging import get_logger

from .adapters import Aws, is_client_error
from .settings import Settings

logger = get_logger(__name__)

CONFIG_FILE = "mlops-config.json"
RESULT_FILE = "mlops-config.result.json"
TRIGGER_BRANCH = "main"

Provisioner = Callable[[Any], dict[str, Any]]


def outcome(provision: Provisioner, read: Callable[[], bytes]) -> dict[str, Any]:
    """Read, parse and provision; every failure becomes a reported outcome, never an exception."""
    try:
        content = read()
    except Exception as error:  # reported to the user below; the trigger has no caller to raise to
        if not is_client_error(error):
            raise
        return {"status": "error", "message": f"Could not read {CONFIG_FILE}: {error}"}
    try:
        body = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        return {"status": "error", "message": f"{CONFIG_FILE} is not valid JSON: {error}"}
    except RecursionError:
        return {"status": "error", "message": f"{CONFIG_FILE} nests objects or lists too deeply"}
    try:
        return {"status": "success", **provision(body)}
    except OrchestratorError as error:
        result: dict[str, Any] = {"status": "error", "message": error.detail}
        if error.errors:
            result["errors"] = [e.as_dict() for e in error.errors]
        return result


def report_text(where: str, result: dict[str, Any]) -> str:
    lines = [f"MLOps config {where}: {result['status']}", result.get("message", "")]
    if result.get("pipeline_id"):
        lines.append(f"pipeline_id: {result['pipeline_id']}")
    lines += [f"- {e['field']}: {e['message']}" for e in result.get("errors", [])]
    lines += [f"warning: {w}" for w in result.get("warnings", [])]
    return "\n".join(line for line in lines if line)


def on_s3_upload(event: dict[str, Any], provision: Provisioner, settings: Settings, aws: Aws) -> list[dict[str, Any]]:
    """An S3 event from the config bucket: provision from each root-level mlops-config.json."""
    results = []
    for record in event.get("Records", []):
        bucket = record["s3"]["bucket"]["name"]
        key = unquote_plus(record["s3"]["object"]["key"])
        if key != CONFIG_FILE:  # the notification filter is a prefix; only the exact file counts
            logger.info("ignoring s3://%s/%s", bucket, key)
            continue
        result = outcome(provision, functools.partial(aws.storage.get, bucket, key))
        where = f"s3://{bucket}/{key}"
        result_body = json.dumps({"source": where, **result}, indent=2).encode()
        try:
            aws.storage.put(bucket, RESULT_FILE, result_body, "application/json")
        except Exception as error:
            if not is_client_error(error):
                raise
            logger.error("could not write s3://%s/%s: %s", bucket, RESULT_FILE, error)
            result["report_error"] = f"could not write s3://{bucket}/{RESULT_FILE}: {error}"
        aws.notifier.publish(settings.sns_topic_arn, f"MLOps config {result['status']}", report_text(where, result))
        results.append(result)
    return results


def on_codecommit_push(event: dict[str, Any], provision: Provisioner, settings: Settings, aws: Aws) -> dict[str, Any]:
    """A CodeCommit state-change event: provision when main's push added or changed mlops-config.json."""
    detail = event.get("detail", {})
    repository, after = detail.get("repositoryName", ""), detail.get("commitId", "")
    before = detail.get("oldCommitId")
    if detail.get("referenceType") != "branch" or detail.get("referenceName") != TRIGGER_BRANCH or not after:
        return {"status": "ignored", "message": f"not a push to {TRIGGER_BRANCH}"}
    if detail.get("event") == "referenceDeleted":
        return {"status": "ignored", "message": "branch deleted"}
    if CONFIG_FILE not in aws.codecommit.changed_paths(repository, before, after):
        return {"status": "ignored", "message": f"{CONFIG_FILE} did not change"}

    def read() -> bytes:
        content = aws.codecommit.get_file(repository, after, CONFIG_FILE)
        if content is None:
            raise FileNotFoundError(CONFIG_FILE)
        return content

    try:
        result = outcome(provision, read)
    except FileNotFoundError:
        result = {"status": "ignored", "message": f"{CONFIG_FILE} was deleted"}
        return result
    where = f"{repository}@{after[:8]}"
    text = report_text(where, result)
    try:
        aws.codecommit.post_comment(repository, before, after, text)
    except Exception as error:
        if not is_client_error(error):
            raise
        logger.error("could not comment on %s: %s", where, error)
        result["report_error"] = f"could not comment on the commit: {error}"
    aws.notifier.publish(settings.sns_topic_arn, f"MLOps config {result['status']}", text)
    return result
