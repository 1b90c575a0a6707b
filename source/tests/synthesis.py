# SPDX-License-Identifier: Apache-2.0
"""Synthesis of the whole CDK app (with cdk-nag), done once per test session by the `synthesized` fixture."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Synthesized:
    outdir: Path
    templates: dict[str, dict[str, Any]]  # stack id -> template
    findings: list[dict[str, Any]]  # unacknowledged cdk-nag findings: rule, path, description

    def template(self, stack_id: str):
        from aws_cdk.assertions import Template

        return Template.from_json(self.templates[stack_id])


def synthesize(outdir: Path) -> Synthesized:
    from app import build_app

    app = build_app(outdir=str(outdir))
    try:
        app.synth()
    except Exception as error:  # cdk-nag findings fail synthesis; the report below lists them
        # One finding reads "ValidationFailed: ERROR ...", several "Validation failed. ...".
        if "Validation failed" not in str(error) and "ValidationFailed" not in str(error):
            raise
    findings = []
    report = outdir / "validation-report.json"
    if report.exists():
        for plugin in json.loads(report.read_text()).get("pluginReports", []):
            for violation in plugin.get("violations", []):
                for construct in violation.get("violatingConstructs", []):
                    findings.append(
                        {
                            "rule": violation["ruleName"],
                            "path": construct["constructPath"],
                            "description": violation["description"],
                        }
                    )
    templates = {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in outdir.glob("*.template.json")
    }
    return Synthesized(outdir, templates, findings)
