# SPDX-License-Identifier: Apache-2.0
"""The `mlops` commands against local mode over HTTP: answers, watch and exit codes."""

from __future__ import annotations

import json

import pytest

from local.cli import EXIT_FAILED, EXIT_INVALID, EXIT_NOT_FOUND, EXIT_OK, main
from tests.e2e.conftest import LocalScene, _local

NAME = "mlops-pipeline-fraud-sklearn-byompipelinerealtimecustom"


@pytest.fixture(scope="module")
def scene(built_templates):
    yield from _local(built_templates, multi_account=False)


@pytest.fixture
def request_file(scene: LocalScene, tmp_path):
    path = tmp_path / "request.json"
    path.write_text(json.dumps(scene.request("byom_realtime_custom")))
    return path


def run(scene: LocalScene, capsys, *args: str) -> tuple[int, str, str]:
    code = main([*args, "--endpoint", scene.orchestrator.server.url])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_provision_watch_list_describe_delete(scene: LocalScene, request_file, capsys):
    code, out, _ = run(scene, capsys, "provision", str(request_file), "--watch", "--timeout", "60")
    assert code == EXIT_OK and "success: stack creation started" in out
    assert "DeployCloudFormation: Succeeded" in out.splitlines()[-1]

    code, out, _ = run(scene, capsys, "list")
    assert code == EXIT_OK and NAME in out and "byom_realtime_custom" in out

    code, out, _ = run(scene, capsys, "describe", NAME, "--json")
    assert code == EXIT_OK and json.loads(out)["sagemaker"]["endpoint"]["status"] == "InService"

    code, out, _ = run(scene, capsys, "status", f"{NAME}-codepipeline")
    assert code == EXIT_OK and out.strip() == "ACTIVE\n  Source: Succeeded | DeployCloudFormation: Succeeded"

    code, out, _ = run(scene, capsys, "delete", NAME, "--yes", "--json")
    assert code == EXIT_OK and "kept" in json.loads(out)


def test_invalid_request_exits_with_the_invalid_code(scene: LocalScene, tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"pipeline_type": "byom_realtime_custom", "model_name": "a b"}))
    code, _, err = run(scene, capsys, "provision", str(path))
    assert code == EXIT_INVALID and "model_name:" in err and "error 400" in err


def test_unknown_pipeline_exits_with_the_not_found_code(scene: LocalScene, capsys):
    code, _, err = run(scene, capsys, "describe", "mlops-pipeline-nothing-byompipelinebatchcustom")
    assert code == EXIT_NOT_FOUND and "error 404" in err


def test_json_output_for_scripts(scene: LocalScene, capsys):
    code, out, _ = run(scene, capsys, "list", "--json")
    assert code == EXIT_OK and "pipelines" in json.loads(out)


def test_logs_show_one_pipelines_events_by_stage(scene: LocalScene, request_file, capsys):
    code, _, _ = run(scene, capsys, "provision", str(request_file), "--watch", "--timeout", "60")
    assert code == EXIT_OK
    code, out, _ = run(scene, capsys, "logs", NAME)
    assert code == EXIT_OK
    assert "pipeline: execution" in out and "succeeded" in out
    assert "[DeployCloudFormation] action: deploy_stack: Succeeded" in out
    assert f"stack: {NAME} CREATE_COMPLETE" in out  # the deployed stack's own events
    code, out, _ = run(scene, capsys, "logs", NAME, "--stage", "source")
    assert "S3Source: Succeeded" in out and "DeployCloudFormation" not in out
    code, out, _ = run(scene, capsys, "logs", NAME, "--json")
    events = [json.loads(line) for line in out.splitlines()]
    assert {e["source"] for e in events} >= {"pipeline", "action", "stack"}
    code, _, err = run(scene, capsys, "logs", "mlops-pipeline-nothing-byompipelinebatchcustom")
    assert code == EXIT_NOT_FOUND and err.count("No pipeline named") == 1


def test_status_by_pipeline_name(scene: LocalScene, request_file, capsys):
    import time

    run(scene, capsys, "provision", str(request_file), "--watch", "--timeout", "60")
    deadline, out = time.monotonic() + 60, ""
    while time.monotonic() < deadline:  # a re-provision may have started another execution meanwhile
        code, out, _ = run(scene, capsys, "status", NAME)
        if code == EXIT_OK and out.startswith("ACTIVE") and "DeployCloudFormation: Succeeded" in out:
            break
        time.sleep(0.5)
    state, stages = out.splitlines()
    assert state.startswith("ACTIVE") and stages == "  Source: Succeeded | DeployCloudFormation: Succeeded"
    code, _, err = run(scene, capsys, "status", "mlops-pipeline-nothing-byompipelinebatchcustom")
    assert code == EXIT_NOT_FOUND and err.count("error 404") == 1


def test_list_has_a_header_and_describe_is_human_unless_json(scene: LocalScene, request_file, capsys):
    run(scene, capsys, "provision", str(request_file), "--watch", "--timeout", "60")
    code, out, _ = run(scene, capsys, "list")
    assert out.splitlines()[0].split() == ["NAME", "TYPE", "STATE"]
    code, out, _ = run(scene, capsys, "describe", NAME)
    assert code == EXIT_OK and f"pipeline_name: {NAME}" in out and not out.lstrip().startswith("{")


def test_upload_puts_a_file_into_local_modes_assets_bucket(scene: LocalScene, tmp_path, capsys):
    model = tmp_path / "model.tar.gz"
    model.write_bytes(b"not really a model")
    code, out, _ = run(scene, capsys, "upload", str(model), "models/uploaded/model.tar.gz", "--json")
    assert code == EXIT_OK and json.loads(out)["bucket"] == scene.settings.assets_bucket
    stored = scene.aws("s3").get_object(Bucket=scene.settings.assets_bucket, Key="models/uploaded/model.tar.gz")
    assert stored["Body"].read() == b"not really a model"
    code, _, err = run(scene, capsys, "upload", str(tmp_path / "missing"), "k")
    assert code == EXIT_INVALID and "no such file" in err and "cannot read request" not in err
    # A bucket that does not exist is named, without a traceback; another bucket is not called the assets bucket.
    code, _, err = run(scene, capsys, "upload", str(model), "k", "--bucket", "nosuchbucket")
    assert code == EXIT_NOT_FOUND and "bucket nosuchbucket does not exist" in err and "Traceback" not in err
    scene.aws("s3").create_bucket(Bucket="other-bucket")
    code, out, _ = run(scene, capsys, "upload", str(model), "k", "--bucket", "other-bucket")
    assert code == EXIT_OK and "assets bucket" not in out and '"other-bucket/k"' in out


def test_delete_without_a_terminal_needs_yes(scene: LocalScene, request_file, capsys, monkeypatch):
    import io

    run(scene, capsys, "provision", str(request_file), "--watch", "--timeout", "60")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, _, err = run(scene, capsys, "delete", NAME)
    assert code == EXIT_INVALID and "pass --yes" in err
    assert scene.call("GET", f"/pipelines/{NAME}").ok  # nothing was deleted
    code, _, _ = run(scene, capsys, "delete", NAME, "--yes")
    assert code == EXIT_OK


def test_a_local_endpoint_says_no_model_runs_and_has_no_inference_url(scene: LocalScene, request_file, capsys):
    from botocore.exceptions import ClientError

    run(scene, capsys, "provision", str(request_file), "--watch", "--timeout", "60")
    described = scene.call("GET", f"/pipelines/{NAME}").body["sagemaker"]
    assert described["inference_api_url"] is None and "does not serve" in described["inference_api_url_reason"]
    runtime = scene.aws("sagemaker-runtime")
    with pytest.raises(ClientError) as raised:
        runtime.invoke_endpoint(EndpointName=described["endpoint"]["name"], Body=b"1,2", ContentType="text/csv")
    assert raised.value.response["Error"]["Code"] == "ModelError"
    assert "local mode runs no model container" in raised.value.response["Error"]["Message"]
    with pytest.raises(ClientError, match="not found"):
        runtime.invoke_endpoint(EndpointName="no-such-endpoint", Body=b"1", ContentType="text/csv")


def test_a_port_in_use_is_a_clear_failure(scene: LocalScene, capsys):
    port = scene.orchestrator.server.url.rsplit(":", 1)[1]  # type: ignore[union-attr]
    code = main(["local", "--port", port, "--in-memory"])
    err = capsys.readouterr().err
    assert code == EXIT_FAILED and f"port {port} on 127.0.0.1 is in use" in err and "--port" in err


def test_watch_after_an_update_follows_the_execution_of_the_new_plan(scene: LocalScene, request_file, capsys):
    code, _, _ = run(scene, capsys, "provision", str(request_file), "--watch", "--timeout", "60")
    assert code == EXIT_OK
    status = {"pipeline_id": f"{NAME}-codepipeline"}
    first = scene.call("POST", "/pipelinestatus", status).body["execution_id"]
    changed = {**json.loads(request_file.read_text()), "inference_instance": "ml.m5.xlarge"}
    request_file.write_text(json.dumps(changed))
    code, out, _ = run(scene, capsys, "provision", str(request_file), "--watch", "--timeout", "60")
    assert code == EXIT_OK and "Updating template parameters" in out
    after = scene.call("POST", "/pipelinestatus", status).body
    # The watch ended on the execution the update started, not on the one that had finished before it.
    assert after["state"] == "ACTIVE" and after["execution_id"] != first
    assert out.splitlines()[-1].endswith("DeployCloudFormation: Succeeded")
    code, out, _ = run(scene, capsys, "provision", str(request_file), "--watch", "--timeout", "60")
    assert code == EXIT_OK and "No updates are to be performed" in out  # nothing new runs: the watch ends at once
    latest = scene.call("POST", "/pipelinestatus", status).body
    assert latest.get("execution_id") == after["execution_id"], latest
    run(scene, capsys, "delete", NAME, "--yes")
