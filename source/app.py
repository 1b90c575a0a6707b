# SPDX-License-Identifier: Apache-2.0
"""The CDK app: both orchestrator stacks and every blueprint, synthesized without AWS credentials."""

from __future__ import annotations

import aws_cdk as cdk

from infrastructure.blueprints import BLUEPRINT_STACKS
from infrastructure.nag import add_checks


def stack_id(template: str) -> str:
    """`byom_batch_pipeline.yaml` -> `byom-batch-pipeline` (the id of the blueprint's stack)."""
    return template.removesuffix(".yaml").replace("_", "-")


def build_app(outdir: str | None = None, nag: bool = True) -> cdk.App:
    app = cdk.App(outdir=outdir, analytics_reporting=False)
    for template, stack_class in sorted(BLUEPRINT_STACKS.items()):
        stack_class(
            app, stack_id(template), synthesizer=cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False)
        )
    if nag:
        add_checks(app)
    return app


if __name__ == "__main__":
    build_app().synth()
