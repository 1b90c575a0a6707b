# SPDX-License-Identifier: Apache-2.0
"""checkov, the security scan of the test command, over every synthesized template: no failed check, and every
skip carries its reason (see infrastructure/checkov.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.synth

CHECKOV = Path(__file__).parents[3] / "deployment" / "checkov.sh"
# A log group without a skip: its CKV_AWS_158 finding shows that the scan reports what it finds.
CANARY = {"Resources": {"Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 7}}}}


@pytest.fixture(scope="module")
def scan(synthesized, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    canary = tmp_path_factory.mktemp("checkov") / "canary.template.json"
    canary.write_text(json.dumps(CANARY))
    paths = [synthesized.outdir / f"{stack}.template.json" for stack in sorted(synthesized.templates)] + [canary]
    files = [argument for path in paths for argument in ("-f", str(path))]
    done = subprocess.run(
        [str(CHECKOV), *files, "--framework", "cloudformation", "--output", "json", "--compact"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    # checkov exits 1 when a check failed (the canary's, at least); anything else is a broken run.
    assert done.returncode in (0, 1), done.stderr
    report = json.loads(done.stdout)
    return {"report": report, "canary": str(canary), "templates": len(synthesized.templates)}


def _failed(scan: dict[str, Any]) -> list[dict[str, Any]]:
    return scan["report"]["results"]["failed_checks"]


def test_checkov_reports_no_failed_check_on_any_template(scan):
    failed = [
        f"{Path(check['file_path']).name} {check['resource']}: {check['check_id']} {check['check_name']}"
        for check in _failed(scan)
        if Path(check["file_path"]).name != Path(scan["canary"]).name
    ]
    assert not failed, f"{len(failed)} checkov findings:\n" + "\n".join(sorted(failed))


def test_checkov_scanned_every_template_and_reports_what_it_finds(scan):
    scanned = {Path(check["file_path"]).name for check in scan["report"]["results"]["passed_checks"]}
    assert len(scanned - {Path(scan["canary"]).name}) == scan["templates"]
    assert [check["check_id"] for check in _failed(scan)] == ["CKV_AWS_158"]


def test_every_skipped_check_says_why(scan):
    skipped = scan["report"]["results"]["skipped_checks"]
    vague = [
        f"{Path(check['file_path']).name} {check['resource']}: {check['check_id']}"
        for check in skipped
        if len(str(check["check_result"].get("suppress_comment", "")).split()) < 6
    ]
    assert skipped and not vague
