# SPDX-License-Identifier: Apache-2.0
"""The single-account wrapper's verification action against moto's S3: the job succeeds only for the template.zip
version the source stage pinned, as the orchestrator wrote it, and otherwise fails with the reason."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any

import pytest

from lambdas.blueprints import artifact_verifier
from lambdas.shared.aws import client

from .conftest import ASSETS

SOURCE_KEY = "mlops_provisioned_pipelines/mlops-pipeline-churn-xgb-byompipelinerealtimebuiltin/template.zip"
STORE_KEY = "mlops-pipeline-churn/Artifact_Source_S3/source.zip"


def _zip(template: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("byom_realtime_inference_pipeline.yaml", template)
        archive.writestr("template_params.json", json.dumps({"Parameters": {}}))
    return buffer.getvalue()


def _write_source(body: bytes, recorded: str | None = None) -> str:
    """The orchestrator writes template.zip with its hash; the source stage copies it to the artifact store and pins
    the version: the version id."""
    s3 = client("s3")
    s3.put_bucket_versioning(Bucket=ASSETS, VersioningConfiguration={"Status": "Enabled"})
    metadata = {} if recorded == "" else {"content-sha256": recorded or hashlib.sha256(body).hexdigest()}
    version = s3.put_object(Bucket=ASSETS, Key=SOURCE_KEY, Body=body, Metadata=metadata)["VersionId"]
    s3.put_object(Bucket=ASSETS, Key=STORE_KEY, Body=body)
    return version


def _job(revision: str, **parameters: str) -> dict[str, Any]:
    user_parameters = {
        "artifact": "Artifact_Source_S3Source",
        "source_bucket": ASSETS,
        "source_key": SOURCE_KEY,
        **parameters,
    }
    return {
        "id": "job-1",
        "data": {
            "actionConfiguration": {"configuration": {"UserParameters": json.dumps(user_parameters)}},
            "inputArtifacts": [
                {
                    "name": "Artifact_Source_S3Source",
                    "revision": revision,
                    "location": {"type": "S3", "s3Location": {"bucketName": ASSETS, "objectKey": STORE_KEY}},
                }
            ],
            "artifactCredentials": {"accessKeyId": "a", "secretAccessKey": "b", "sessionToken": "c"},
        },
    }


class FakeCodePipeline:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def put_job_success_result(self, **kwargs: Any) -> None:
        self.calls.append(("success", kwargs))

    def put_job_failure_result(self, **kwargs: Any) -> None:
        self.calls.append(("failure", kwargs))


@pytest.fixture
def codepipeline(aws, monkeypatch: pytest.MonkeyPatch) -> FakeCodePipeline:
    fake = FakeCodePipeline()
    real_client = artifact_verifier.client
    monkeypatch.setattr(artifact_verifier, "client", lambda s: fake if s == "codepipeline" else real_client(s))
    return fake


def _run(codepipeline: FakeCodePipeline, job: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    artifact_verifier.handler({"CodePipeline.job": job}, None)
    (call,) = codepipeline.calls
    return call


def test_the_pinned_version_as_the_orchestrator_wrote_it_passes_the_job(codepipeline):
    body = _zip("{}")
    version = _write_source(body)
    kind, call = _run(codepipeline, _job(version))
    assert kind == "success"
    summary = call["executionDetails"]["summary"]
    assert version in summary and hashlib.sha256(body).hexdigest() in summary, summary


def test_an_artifact_rewritten_after_the_source_stage_fails_the_job_with_the_reason(codepipeline):
    version = _write_source(_zip("{}"))
    client("s3").put_object(Bucket=ASSETS, Key=STORE_KEY, Body=_zip(json.dumps({"Resources": {"Admin": {}}})))
    kind, call = _run(codepipeline, _job(version))
    assert kind == "failure"
    message = call["failureDetails"]["message"]
    assert "the orchestrator recorded for version" in message and SOURCE_KEY in message, message
    assert "is not deployed" in message


def test_an_artifact_of_an_older_version_than_the_pinned_one_fails_the_job(codepipeline):
    first = _zip("{}")
    _write_source(first)
    pinned = _write_source(_zip('{"Description": "second"}'))
    client("s3").put_object(Bucket=ASSETS, Key=STORE_KEY, Body=first)
    kind, call = _run(codepipeline, _job(pinned))
    assert kind == "failure" and "is not the" in call["failureDetails"]["message"]


def test_without_a_pinned_version_the_artifact_is_not_verified(codepipeline):
    _write_source(_zip("{}"))
    kind, call = _run(codepipeline, _job(""))
    assert kind == "failure"
    assert call["failureDetails"]["message"] == (
        f"The source stage pinned no version of s3://{ASSETS}/{SOURCE_KEY}: the artifact cannot be verified"
    )


def test_a_version_without_the_orchestrators_hash_fails_the_job(codepipeline):
    version = _write_source(_zip("{}"), recorded="")
    kind, call = _run(codepipeline, _job(version))
    assert kind == "failure" and "carries no content-sha256" in call["failureDetails"]["message"]


def test_a_pinned_version_that_cannot_be_read_fails_the_job_with_s3s_code(codepipeline):
    _write_source(_zip("{}"))
    kind, call = _run(codepipeline, _job("3HL4kqtJlcpXroDTDmjVBH40Nrjfkd"))
    message = call["failureDetails"]["message"]
    assert (
        kind == "failure"
        and message.startswith("Version 3HL4kqtJlcpXroDTDmjVBH40Nrjfkd of s3://")
        and ("cannot be read" in message)
    )


@pytest.mark.parametrize("missing", ["artifact", "source_bucket", "source_key"])
def test_a_missing_user_parameter_fails_the_job_naming_it(codepipeline, missing):
    kind, call = _run(codepipeline, _job("v", **{missing: ""}))
    assert (kind, call["failureDetails"]["message"]) == ("failure", f"Your UserParameters JSON must include {missing}")


def test_an_input_artifact_of_another_name_fails_the_job(codepipeline):
    kind, call = _run(codepipeline, _job("v", artifact="Other"))
    assert (kind, call["failureDetails"]["message"]) == ("failure", "The action has no input artifact named Other")


def test_an_aws_error_reading_the_artifact_fails_the_job_rather_than_leaving_it_waiting(codepipeline):
    kind, call = _run(codepipeline, _job("v"))  # nothing in the artifact store
    assert kind == "failure" and "NoSuchKey" in call["failureDetails"]["message"]


def test_the_results_are_in_a_form_codepipeline_accepts(aws, monkeypatch: pytest.MonkeyPatch):
    from botocore.stub import Stubber

    real = client("codepipeline")
    monkeypatch.setattr(artifact_verifier, "client", lambda s: real if s == "codepipeline" else client(s))
    version = _write_source(_zip("{}"))
    with Stubber(real) as stub:  # validates the requests against the API's model
        stub.add_response("put_job_success_result", {})
        artifact_verifier.handler({"CodePipeline.job": _job(version)}, None)
        stub.add_response("put_job_failure_result", {})
        artifact_verifier.handler({"CodePipeline.job": _job("")}, None)
        stub.assert_no_pending_responses()
