# SPDX-License-Identifier: Apache-2.0
"""Schemathesis against local mode with source/openapi.json: no request, however odd, gets a 5xx, a status the
document does not list, or an answer the document does not describe.

Local mode runs with stub blueprints (each declares its blueprint's parameters and holds one topic), so every
valid request provisions a stack in seconds and no pipeline runs: the tier fuzzes the API, not the deploys.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lambdas.pipeline_orchestration.catalogue import CATALOGUE, MULTI_ACCOUNT_PIPELINE, SINGLE_ACCOUNT_PIPELINE
from local.session import LocalOrchestrator

DOCUMENT = Path(__file__).resolve().parents[2] / "openapi.json"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
# Bounded: examples per operation and seconds for the whole run (the tier must stay well under two minutes).
MAX_EXAMPLES, MAX_SECONDS = 30, 20


def stub_blueprints(folder: Path) -> Path:
    blueprints = {b for p in CATALOGUE.values() for b in p.all_blueprints} | {
        SINGLE_ACCOUNT_PIPELINE,
        MULTI_ACCOUNT_PIPELINE,
    }
    for blueprint in blueprints:
        template = {
            "Parameters": {name: {"Type": "String", "Default": ""} for name in blueprint.parameters},
            "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
        }
        (folder / blueprint.template).write_text(json.dumps(template))
    return folder


def test_no_request_gets_a_5xx_an_undocumented_status_or_an_undocumented_answer(tmp_path: Path) -> None:
    with LocalOrchestrator(templates=stub_blueprints(tmp_path)) as orchestrator:
        run = subprocess.run(
            [
                str(Path(sys.executable).parent / "st"),
                "run",
                str(DOCUMENT),
                "--url",
                orchestrator.server.url,  # type: ignore[union-attr]
                "--checks",
                CHECKS,
                "--max-examples",
                str(MAX_EXAMPLES),
                "--max-time",
                str(MAX_SECONDS),
                "--seed",
                "1",
                # One worker: Python 3.11 keeps the ast module's recursion depth per interpreter, not per thread, so
                # hypothesis describing strategies in two threads at once can fail with "AST constructor recursion
                # depth mismatch" (a SystemError from the interpreter, not a finding about the API).
                "--workers",
                "1",
                "--generation-database",
                "none",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=MAX_SECONDS * 2,
            check=False,
        )
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
