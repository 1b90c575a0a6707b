# SPDX-License-Identifier: Apache-2.0
"""`mlops local` as a user runs it, in its own process: what it prints, its state across a restart, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3

from lambdas.pipeline_orchestration.pipeline_state import has_finished
from local.api_client import ApiClient
from local.cli import EXIT_OK, main
from local.demo import sample_model, sample_request

SOURCE = Path(__file__).resolve().parents[2]
NAME = "mlops-pipeline-sample-xgb-byompipelinerealtimebuiltin"


def free_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


def start(templates: Path, *options: str) -> tuple[subprocess.Popen, dict[str, Any]]:
    """`mlops local --json ...`: its first line says where the API, the emulator and the state are."""
    command = [sys.executable, "-m", "local.cli", "local", "--templates", str(templates), "--json", *options]
    environment = {k: v for k, v in os.environ.items() if k not in ("AWS_PROFILE", "AWS_ENDPOINT_URL")}
    process = subprocess.Popen(
        command, cwd=SOURCE, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    line = process.stdout.readline()  # type: ignore[union-attr]
    assert line, process.stderr.read()  # type: ignore[union-attr]
    return process, json.loads(line)


def stop(process: subprocess.Popen) -> str:
    """SIGTERM, as `kill` sends: local mode stops as on Ctrl-C, keeping its state; returns what it printed."""
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return out


def provision_sample(about: dict[str, Any]) -> ApiClient:
    s3 = boto3.client("s3", endpoint_url=about["emulator_endpoint"], region_name="us-east-1")
    s3.put_object(Bucket=about["assets_bucket"], Key="models/sample/model.tar.gz", Body=sample_model())
    api = ApiClient(about["api"])
    assert api.call("POST", "/provisionpipeline", sample_request(about["assets_bucket"])).ok
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not has_finished(api.call("GET", f"/pipelines/{NAME}").body.get("state")):
        time.sleep(0.5)
    return api


def test_mlops_local_keeps_its_pipelines_across_a_restart(built_templates, tmp_path, monkeypatch, capsys):
    port = free_port()
    process, about = start(built_templates, "--port", port, "--state-dir", str(tmp_path))
    try:
        assert about["restored"] is False and about["state_dir"] == str(tmp_path)
        assert about["emulator_endpoint"].startswith("http://127.0.0.1:")
        api = provision_sample(about)
        assert api.call("GET", f"/pipelines/{NAME}").body["state"] == "ACTIVE"
    finally:
        out = stop(process)
    assert f"stopping; state kept in {tmp_path}" in out
    assert "execution succeeded" in out  # the progress lines are on the terminal...
    assert "WaitConditionHandle" not in out and "INFO" not in out  # ...the rest is in the log file
    assert "WaitConditionHandle" in (tmp_path / "local.log").read_text()

    again, about = start(built_templates, "--port", port, "--state-dir", str(tmp_path))
    try:
        assert about["restored"] is True
        api = ApiClient(about["api"])
        assert [p["pipeline_name"] for p in api.call("GET", "/pipelines").body["pipelines"]] == [NAME]
        # A command given no endpoint finds this one on its port: the default port does not answer, the state
        # directory's lock names the API.
        monkeypatch.delenv("MLOPS_ENDPOINT", raising=False)
        monkeypatch.setenv("MLOPS_STATE_DIR", str(tmp_path))
        monkeypatch.setattr("local.api_client.DEFAULT_ENDPOINT", f"http://127.0.0.1:{free_port()}")
        capsys.readouterr()
        assert main(["list", "--json"]) == EXIT_OK
        assert [p["pipeline_name"] for p in json.loads(capsys.readouterr().out)["pipelines"]] == [NAME]
        assert api.call("GET", f"/pipelines/{NAME}").body["state"] == "ACTIVE"
    finally:
        stop(again)

    fresh, about = start(built_templates, "--port", port, "--state-dir", str(tmp_path), "--reset")
    try:
        assert about["restored"] is False
        assert ApiClient(about["api"]).call("GET", "/pipelines").body["pipelines"] == []
    finally:
        stop(fresh)


def test_in_memory_local_mode_says_the_exact_command_and_leaves_no_log_behind(built_templates):
    """The Ready line names the CLI by its full path (PATH need not find it) with the API's port, and --in-memory
    removes its log file at the stop."""
    port = free_port()
    command = [sys.executable, "-m", "local.cli", "local", "--templates", str(built_templates), "--in-memory"]
    process = subprocess.Popen(
        [*command, "--port", port], cwd=SOURCE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lines: list[str] = []
    try:
        while not lines or not lines[-1].startswith("Ready."):
            line = process.stdout.readline()  # type: ignore[union-attr]
            assert line, process.stderr.read()  # type: ignore[union-attr]
            lines.append(line.strip())
    finally:
        stop(process)
    log_file = Path(next(line for line in lines if line.startswith("log:")).split()[1])
    mlops = Path(sys.executable).parent / "mlops"
    assert f"`{mlops} list --endpoint http://127.0.0.1:{port}`" in lines[-1]
    assert not log_file.exists() and not log_file.parent.exists()
