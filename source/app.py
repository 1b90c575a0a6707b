# SPDX-License-Identifier: Apache-2.0
"""The CDK app: both orchestrator stacks and every blueprint, synthesized without AWS credentials.

`python app.py` synthesizes into `$CDK_OUTDIR` (default `cdk.out`) for the distribution named by the
`DIST_BUCKET`, `SOLUTION_NAME` and `VERSION` environment variables (see deployment/build-s3-dist.sh).
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk

from infrastructure.blueprints import BLUEPRINT_STACKS
from infrastructure.checkov import add_type_wide_skips
from infrastructure.distribution import (
    Distribution,
    blueprint_synthesizer,
    normalize_templates,
    orchestrator_synthesizer,
)
from infrastructure.nag import add_checks
from infrastructure.orchestrator import OrchestratorStack
from infrastructure.trust import source_account_in_trust

ORCHESTRATOR_STACKS = {
    "mlops-orchestrator-single-account": False,
    "mlops-orchestrator-multi-account": True,
}
# Feature flags (read from cdk.json only by the cdk CLI; set here so that `python app.py` behaves the same).
CONTEXT = {
    "@aws-cdk/aws-iam:minimizePolicies": True,
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
    "@aws-cdk/aws-lambda:recognizeLayerVersion": True,
    "@aws-cdk/core:target-partitions": ["aws", "aws-cn", "aws-us-gov"],
}


def stack_id(template: str) -> str:
    """`byom_batch_pipeline.yaml` -> `byom-batch-pipeline` (the id of the blueprint's stack)."""
    return template.removesuffix(".yaml").replace("_", "-")


class SolutionApp(cdk.App):
    """An app whose synthesized templates are normalized (see `normalize_templates`), even when cdk-nag fails."""

    def synth(self, **kwargs: Any) -> Any:
        try:
            return super().synth(**kwargs)
        finally:
            normalize_templates(self.outdir)


def build_app(outdir: str | None = None, nag: bool = True, distribution: Distribution | None = None) -> cdk.App:
    distribution = distribution or Distribution.from_env()
    app = SolutionApp(outdir=outdir, analytics_reporting=False, context=CONTEXT)
    for name, multi_account in ORCHESTRATOR_STACKS.items():
        OrchestratorStack(
            app,
            name,
            multi_account=multi_account,
            distribution=distribution,
            synthesizer=orchestrator_synthesizer(distribution),
        )
    for template, stack_class in sorted(BLUEPRINT_STACKS.items()):
        stack_class(app, stack_id(template), synthesizer=blueprint_synthesizer())
    if nag:
        add_checks(app)
    add_type_wide_skips(app)
    source_account_in_trust(app)
    return app


if __name__ == "__main__":
    build_app().synth()
