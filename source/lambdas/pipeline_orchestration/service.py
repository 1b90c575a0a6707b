# SPDX-License-Identifier: Apache-2.0
"""The orchestrator's service: plain functions over a request dict, the settings and the AWS adapters.

Handlers (API Gateway, config triggers, local mode, CLI) call this; it holds every business rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lambdas.shared.errors import FieldError, ValidationFailed
from lambdas.shared.logging import get_logger

from . import (
    approval,
    image_tags,
    lifecycle,
    model_packages,
    monitored_endpoints,
    monitoring,
    pipeline_state,
    provisioner,
    status,
    triggers,
)
from .adapters import Aws
from .planner import plan_pipeline
from .settings import Settings
from .validation import ValidOperation, validate_request

logger = get_logger(__name__)
DRY_RUN = "dry run: the request is valid; nothing was created or changed"
# A pipeline_id: the stack ARN provisioning answers, or a stack name.
STACK_NAME_PATTERN = r"[a-zA-Z][-a-zA-Z0-9]{0,127}"
PIPELINE_ID_PATTERN = (
    rf"arn:aws[a-z-]*:cloudformation:[a-z0-9-]+:[0-9]{{12}}:stack/{STACK_NAME_PATTERN}/[-a-zA-Z0-9]+"
    rf"|{STACK_NAME_PATTERN}"
)
PIPELINE_ID = re.compile(PIPELINE_ID_PATTERN)


@dataclass
class OrchestratorService:
    settings: Settings
    aws: Aws = field(default_factory=Aws)

    def provision(self, body: Any) -> dict[str, Any]:
        request = validate_request(body, self.settings)
        if isinstance(request, ValidOperation):
            if request.dry_run:
                answer = {"message": DRY_RUN, "dry_run": True, "request": request.request_body()}
            else:
                answer = request.operation.run(request.values, self.settings, self.aws)
            if request.warnings:
                answer["warnings"] = list(request.warnings)
            return answer
        # Read before any write, as the checks below: the package's artifacts are the objects its model reads.
        facts = model_packages.read_facts(request.values, self.settings, self.aws)
        plan = plan_pipeline(request, self.settings, facts)
        unusable = monitoring.check_retrain_target(request.values, self.aws)
        if unusable:  # read before any write: a monitor that could never retrain is not created
            raise ValidationFailed([FieldError("retrain_pipeline_name", unusable)])
        monitored_endpoints.check(request, self.settings, self.aws)  # read before any write, as above
        taken = image_tags.check_tag_free(request.values, self.aws)
        if taken:  # read before any write, as above: ECR would refuse the push of an immutable tag
            raise ValidationFailed([FieldError(*taken)])
        if request.dry_run:
            answer = {
                "message": DRY_RUN,
                "dry_run": True,
                **provisioner.preview(plan, self.settings, self.aws),
                "plan": plan.as_dict(),
            }
        else:
            answer = provisioner.provision(plan, self.settings, self.aws)
            try:
                lifecycle.index_pipeline(plan.pipeline_name, self.settings, self.aws)
            except Exception:  # the stack exists; its next status-change event writes the index item
                logger.exception("could not index pipeline %s", plan.pipeline_name)
        if request.warnings:
            answer["warnings"] = list(request.warnings)
        return answer

    def status(self, body: Any) -> dict[str, Any]:
        pipeline_id = body.get("pipeline_id") if isinstance(body, dict) else None
        if not isinstance(pipeline_id, str) or not pipeline_id.strip():
            raise ValidationFailed(
                [FieldError("pipeline_id", "is required: the pipeline_id returned by /provisionpipeline")]
            )
        if not PIPELINE_ID.fullmatch(pipeline_id):
            raise ValidationFailed(
                [FieldError("pipeline_id", "must be the pipeline_id /provisionpipeline returned (a stack ARN or name)")]
            )
        return status.pipeline_status(pipeline_id, self.settings, self.aws)

    def approve(self, pipeline_name: str, body: Any) -> dict[str, Any]:
        """Approve or reject the manual approval waiting in a multi-account pipeline."""
        return approval.approve(pipeline_name, body, self.aws)

    def list_pipelines(self, query: dict[str, str] | None) -> dict[str, Any]:
        return lifecycle.list_pipelines(query, self.settings, self.aws)

    def describe_pipeline(self, name: str) -> dict[str, Any]:
        answer = lifecycle.describe_pipeline(name, self.settings, self.aws)
        if monitoring.is_monitor_type(answer.get("pipeline_type", "")):
            answer["monitoring"] = monitoring.history(answer["pipeline_name"], self.settings, self.aws)
        return answer

    def delete_pipeline(self, name: str) -> dict[str, Any]:
        return lifecycle.delete_pipeline(name, self.settings, self.aws)

    def rollback_pipeline(self, name: str) -> dict[str, Any]:
        return lifecycle.rollback_pipeline(name, self.settings, self.aws, self.provision)

    def on_stack_event(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        return lifecycle.on_stack_event(event, self.settings, self.aws, self._settle)

    def on_pipeline_event(self, event: dict[str, Any]) -> dict[str, Any]:
        return lifecycle.on_pipeline_event(event, self.settings, self.aws, self._settle)

    def on_monitoring_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """A monitoring execution finished, or a monitor's violations alarm changed state."""
        return monitoring.on_monitoring_event(event, self.settings, self.aws, self.provision)

    def _settle(self, pipeline_name: str, seen: pipeline_state.Observation) -> None:
        """A pipeline's state was derived anew: a config trigger's report hears its final outcome."""
        triggers.report_outcome(pipeline_name, seen, self.settings, self.aws)

    def on_s3_upload(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        return triggers.on_s3_upload(event, self.provision, self.settings, self.aws)

    def on_codecommit_push(self, event: dict[str, Any]) -> dict[str, Any]:
        return triggers.on_codecommit_push(event, self.provision, self.settings, self.aws)

    def on_pipeline_job(self, job: dict[str, Any]) -> dict[str, Any]:
        return triggers.on_pipeline_job(job, self.provision, self.settings, self.aws)
