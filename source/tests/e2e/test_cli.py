# SPDX-License-Identifier: Apache-2.0
"""The `mlops` commands against local mode over HTTP: answers, watch and exit codes."""

from __future__ import annotations

import json

import pytest

from local.cli import EXIT_INVALID, EXIT_NOT_FOUND, EXIT_OK, main
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

    code, out, _ = run(scene, capsys, "describe", NAME)
    assert code == EXIT_OK and json.loads(out)["sagemaker"]["endpoint"]["status"] == "InService"

    code, out, _ = run(scene, capsys, "status", f"{NAME}-codepipeline")
    assert code == EXIT_OK and out.strip() == "ACTIVE\n  Source: Succeeded | DeployCloudFormation: Succeeded"

    code, out, _ = run(scene, capsys, "delete", NAME)
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
