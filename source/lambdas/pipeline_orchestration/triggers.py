# SPDX-License-Identifier: Apache-2.0
"""Config-file triggers: mlops-config.json committed to CodeCommit, uploaded to the config bucket, or committed to
GitHub, GitLab or Bitbucket (a CodePipeline with a CodeConnections source hands it over in a job).

The outcome goes where the user will look: the SNS topic, and a comment on the commit (CodeCommit) or
`mlops-config.result.json` beside the file (S3; for a connection, at the root of its pipeline's artifact bucket,
and the job's own result). First the request's answer (accepted, or every validation error); then, when the
pipeline it started ends, its final state (ACTIVE, or FAILED with the reason).
"""

from __future__ import annotations

import functools
import io
import json
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

from lambdas.shared.errors import OrchestratorError
from lambdas.shared.logging import get_logger

from . import identity
from .adapters import Aws, aws_reason, is_client_error
from .notices import quoted
from .pipeline_state import PROVISIONING, Observation
from .planner import pipeline_key
from .settings import Settings
from .validation import WRAPPER_SUFFIX

logger = get_logger(__name__)

CONFIG_FILE = "mlops-config.json"
RESULT_FILE = "mlops-config.result.json"
TRIGGER_BRANCH = "main"
TRIGGER_FILE = "trigger.json"  # beside the pipeline's request: where its outcome is to be reported
# CodePipeline's clock and the orchestrator's may differ a little: an execution that started this long before
# the request was written still counts as the one the request started.
CLOCK_SKEW = timedelta(seconds=2)

Provisioner = Callable[..., dict[str, Any]]


def outcome(provision: Provisioner, read: Callable[[], bytes], principal: identity.Principal) -> dict[str, Any]:
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
        return {"status": "success", **provision(body, principal)}
    except OrchestratorError as error:
        result: dict[str, Any] = {"status": "error", "message": error.detail}
        if error.errors:
            result["errors"] = [e.as_dict() for e in error.errors]
        return result


def report_text(where: str, result: dict[str, Any]) -> str:
    """The report people read (SNS e-mail, commit comment): what the request's author wrote is quoted on one line."""
    lines = [f"MLOps config {where}: {result['status']}", quoted(result["message"]) if result.get("message") else ""]
    if result.get("principal"):
        lines.append(f"by: {quoted(result['principal'])}")
    if result.get("pipeline_id"):
        lines.append(f"pipeline_id: {result['pipeline_id']}")
    if result.get("state"):
        lines.append(f"state: {result['state']}" + (f" ({result['reason']})" if result.get("reason") else ""))
    lines += [f"- {quoted(e['field'])}: {quoted(e['message'])}" for e in result.get("errors", [])]
    lines += [f"warning: {quoted(w)}" for w in result.get("warnings", [])]
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
        uploader = identity.from_s3_principal(
            str((record.get("userIdentity") or {}).get("principalId", "")), settings.account_id
        )
        result = outcome(provision, functools.partial(aws.storage.get, bucket, key), uploader)
        result["principal"] = uploader.label
        where = f"s3://{bucket}/{key}"
        _await_outcome(result, {"kind": "s3", "source": where, "bucket": bucket}, settings, aws)
        _report_beside(bucket, where, result, settings, aws)
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

    principal = _pusher_or_author(detail, repository, after, aws)
    try:
        result = outcome(provision, read, principal)
    except FileNotFoundError:
        result = {"status": "ignored", "message": f"{CONFIG_FILE} was deleted"}
        return result
    result["principal"] = principal.label
    where = f"{repository}@{after[:8]}"
    origin = {"kind": "codecommit", "source": where, "repository": repository, "before": before, "after": after}
    _await_outcome(result, origin, settings, aws)
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


def _pusher_or_author(detail: dict[str, Any], repository: str, commit: str, aws: Aws) -> identity.Principal:
    """Who a CodeCommit push acts as: the IAM principal who pushed (the event's `callerUserArn`, which AWS
    authenticated), with the commit's author beside it; the author alone, unverified, when no pusher is named."""
    author = aws.codecommit.author(repository, commit)
    written = f"author {author[0]} <{author[1]}>" if author else ""
    try:
        pusher = identity.from_arn(str(detail.get("callerUserArn") or ""), source="codecommit")
    except identity.NotAPrincipal:
        name, email = author or ("unknown author", "")
        return identity.commit_author(name, email, "codecommit")
    return identity.Principal(pusher.arn, pusher.type, pusher.session, "codecommit", True, written)


def _config_in_artifact(archive: bytes) -> bytes:
    """mlops-config.json at the root of a source artifact (CodePipeline's zip of the branch)."""
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as files:
            names = files.namelist()
            if CONFIG_FILE not in names:
                held = ", ".join(sorted(names)[:20]) or "no file"
                raise FileNotFoundError(f"{CONFIG_FILE} is not at the root of the branch (the source holds {held})")
            return files.read(CONFIG_FILE)
    except zipfile.BadZipFile as error:
        raise FileNotFoundError(f"the source artifact is not a zip archive: {error}") from None


def _job_source(data: dict[str, Any]) -> tuple[str, str, str]:
    """(bucket, key, where) of the source artifact a job hands over; where names the repository and commit."""
    user_parameters = data.get("actionConfiguration", {}).get("configuration", {}).get("UserParameters") or "{}"
    source = json.loads(user_parameters)
    artifact = data["inputArtifacts"][0]
    location = artifact["location"]["s3Location"]
    revision = str(artifact.get("revision") or "")[:8] or source.get("branch", TRIGGER_BRANCH)
    return location["bucketName"], location["objectKey"], f"{source.get('repository', 'the repository')}@{revision}"


def _connection_author(data: dict[str, Any]) -> identity.Principal:
    """The commit author the provider reports for a CodeConnections source (GitHub, GitLab, Bitbucket): AWS did
    not authenticate it, so it is marked unverified. The action's configuration may carry it as `author`."""
    user_parameters = data.get("actionConfiguration", {}).get("configuration", {}).get("UserParameters") or "{}"
    try:
        source = json.loads(user_parameters)
    except ValueError:
        source = {}
    author = source.get("author") if isinstance(source, dict) else None
    name = str(author or "unknown author (the provider's commit author)")
    return identity.commit_author(name, "", "connection")


def _report_beside(bucket: str, where: str, result: dict[str, Any], settings: Settings, aws: Aws) -> None:
    """The first answer of a config file: the result file beside it in its bucket, and the SNS topic."""
    body = json.dumps({"source": where, **result}, indent=2).encode()
    try:
        aws.storage.put(bucket, RESULT_FILE, body, "application/json")
    except Exception as error:
        if not is_client_error(error):
            raise
        logger.error("could not write s3://%s/%s: %s", bucket, RESULT_FILE, error)
        result["report_error"] = f"could not write s3://{bucket}/{RESULT_FILE}: {aws_reason(error)}"
    aws.notifier.publish(settings.sns_topic_arn, f"MLOps config {result['status']}", report_text(where, result))


def on_pipeline_job(job: dict[str, Any], provision: Provisioner, settings: Settings, aws: Aws) -> dict[str, Any]:
    """The connection pipeline's hand-off action: provision from mlops-config.json in its source artifact, then
    write the result file, notify and answer the job; the job fails with every validation error."""
    job_id = job["id"]
    try:
        bucket, key, where = _job_source(job.get("data", {}))
    except (KeyError, IndexError, TypeError, ValueError) as error:
        message = f"MLOps config error: the job names no readable source artifact ({error!r})"
        aws.pipelines.put_job_result(job_id, False, message)
        return {"status": "error", "message": message}
    author = _connection_author(job.get("data", {}))
    try:
        result = outcome(provision, lambda: _config_in_artifact(aws.storage.get(bucket, key)), author)
        result["principal"] = author.label
    except FileNotFoundError as missing:
        result = {"status": "error", "message": f"Could not read {CONFIG_FILE}: {missing}"}
    _await_outcome(result, {"kind": "connection", "source": where, "bucket": bucket}, settings, aws)
    _report_beside(bucket, where, result, settings, aws)
    summary = dict(result)
    if summary.get("state") == PROVISIONING:  # the action ends now; the pipeline's end is reported elsewhere
        summary["reason"] = f"its final state goes to s3://{bucket}/{RESULT_FILE} and the SNS topic"
    aws.pipelines.put_job_result(job_id, result["status"] == "success", report_text(where, summary))
    return result


# ---------------------------------------------------------------------------------------------------------
# The final outcome, when the pipeline a trigger started ends


def _pipeline_of(result: dict[str, Any]) -> str | None:
    """The pipeline name in a provisioning answer's pipeline_id (the ARN of its stack)."""
    pipeline_id = str(result.get("pipeline_id") or "")
    parts = pipeline_id.split(":stack/", 1)
    return parts[1].split("/", 1)[0].removesuffix(WRAPPER_SUFFIX) if len(parts) == 2 else None


def _await_outcome(result: dict[str, Any], origin: dict[str, Any], settings: Settings, aws: Aws) -> None:
    """Remember where the request came from, so the pipeline's final state is reported there too."""
    pipeline_name = _pipeline_of(result)
    if result.get("status") != "success" or result.get("dry_run") or not pipeline_name:
        return
    result.update(state=PROVISIONING, pipeline_name=pipeline_name)
    result["reason"] = "the pipeline's final state is reported here when it ends"
    record = {**origin, "requested": datetime.now(UTC).isoformat(), "result": result}
    try:
        aws.storage.put(
            settings.assets_bucket,
            pipeline_key(pipeline_name, TRIGGER_FILE),
            json.dumps(record).encode(),
            "application/json",
        )
    except Exception as error:
        if not is_client_error(error):
            raise
        logger.error("the outcome of %s will not be reported: %s", pipeline_name, error)
        result["report_error"] = f"the pipeline's final state will not be reported here: {error}"


def report_outcome(pipeline_name: str, seen: Observation, settings: Settings, aws: Aws) -> dict[str, Any] | None:
    """When the pipeline a config trigger started has ended, report its final state where the request came
    from (the result file, a comment on the commit) and on the SNS topic; once. Answers the report made."""
    if not seen.state.settled:
        return None
    raw = aws.storage.find(settings.assets_bucket, pipeline_key(pipeline_name, TRIGGER_FILE))
    record = json.loads(raw) if raw else None
    if not record or record.get("reported"):
        return None
    started = seen.execution_started
    requested = datetime.fromisoformat(record["requested"])
    if seen.execution is not None and (started is None or started < requested - CLOCK_SKEW):
        return None  # the outcome of an execution before the request: the request's own is still to come
    result = {key: value for key, value in record["result"].items() if key != "reason"}
    result.update(seen.state.as_dict())
    result["message"] = f"Pipeline {pipeline_name} is {seen.state.state}."
    where = record["source"]
    text = report_text(where, result)
    try:
        if record["kind"] in ("s3", "connection"):
            body = json.dumps({"source": where, **result}, indent=2).encode()
            aws.storage.put(record["bucket"], RESULT_FILE, body, "application/json")
        else:
            aws.codecommit.post_comment(record["repository"], record.get("before"), record["after"], text)
    except Exception as error:
        if not is_client_error(error):
            raise
        logger.error("could not report the outcome of %s at %s: %s", pipeline_name, where, error)
        result["report_error"] = f"could not report at {where}: {error}"
    aws.notifier.publish(settings.sns_topic_arn, f"MLOps pipeline {seen.state.state}: {pipeline_name}", text)
    record.update(reported=seen.state.state, result=result)
    aws.storage.put(
        settings.assets_bucket,
        pipeline_key(pipeline_name, TRIGGER_FILE),
        json.dumps(record).encode(),
        "application/json",
    )
    return result
