# SPDX-License-Identifier: Apache-2.0
"""The orchestrator's service: plain functions over a request dict, the settings and the AWS adapters.

Handlers (API Gateway, config triggers, local mode, CLI) call this; it holds every business rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lambdas.shared.errors import Conflict, FieldError, NotFound, OrchestratorError, ValidationFailed
from lambdas.shared.logging import get_logger

from . import (
    approval,
    audit,
    card_ownership,
    image_tags,
    lifecycle,
    model_packages,
    monitored_endpoints,
    monitoring,
    notices,
    ownership,
    pending,
    pipeline_state,
    pipelines,
    provisioner,
    rollback,
    runs,
    status,
    teardown,
    triggers,
)
from .adapters import Aws
from .identity import API_SOURCE, ORCHESTRATOR_PRINCIPAL, Principal
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

    def provision(self, body: Any, principal: Principal | None = None, notify: bool = True) -> dict[str, Any]:
        """Validate, plan and provision; `principal` is who asked (None: the orchestrator itself, a retraining).
        `notify`: tell the topic who changed the pipeline (a rollback tells it of itself)."""
        principal = principal or ORCHESTRATOR_PRINCIPAL
        request = validate_request(body, self.settings)
        if isinstance(request, ValidOperation):
            if request.dry_run:
                answer = {"message": DRY_RUN, "dry_run": True, "request": request.request_body()}
            else:
                answer = card_ownership.run(request.operation, request.values, principal, self.settings, self.aws)
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
        # Who may: the pipeline's owner (or an admin) updates it; a monitor retrains only its owner's pipelines.
        owned = ownership.check(plan.pipeline_name, principal, "update", self.settings, self.aws)
        ownership.check_team_claim(request.owner_team, principal, self.settings, self.aws)
        target = request.values.get("retrain_pipeline_name")
        if target:
            ownership.check(str(target), principal, "retrain", self.settings, self.aws)
        schedules = {n for stage in plan.stages if (n := stage.names.get("monitoring_schedule_name"))}
        owner = monitoring.schedule_taken(plan.pipeline_name, schedules, self.settings, self.aws) if schedules else None
        if owner:  # one schedule per endpoint and kind: a second monitor would take over the first's
            raise Conflict(f"Monitor not created: {owner}")
        if request.dry_run:
            answer = {
                "message": DRY_RUN,
                "dry_run": True,
                **provisioner.preview(plan, self.settings, self.aws),
                "plan": plan.as_dict(),
            }
        else:
            existed = owned is not None or pipelines.lookup(plan.pipeline_name, self.aws) is not None
            action = audit.UPDATE if existed else audit.PROVISION
            digest = audit.request_hash(request.request_body())
            try:
                answer = runs.explain_unchanged(
                    plan, provisioner.provision(plan, self.settings, self.aws), self.settings, self.aws
                )
            except OrchestratorError as error:
                audit.append(
                    plan.pipeline_name,
                    action,
                    principal,
                    f"failed: {error.detail}",
                    self.settings,
                    self.aws,
                    request_hash=digest,
                )
                raise
            if str(answer.get("message", "")).startswith(provisioner.unchanged(plan.stack_name)):
                # An identical re-post writes nothing (not even who posted it): nothing changed hands.
                audit.append(
                    plan.pipeline_name, action, principal, "unchanged", self.settings, self.aws, request_hash=digest
                )
            else:
                ownership.record_change(
                    plan.pipeline_name, principal, request.owner_team, owned, self.settings, self.aws
                )
                audit.append(
                    plan.pipeline_name, action, principal, "started", self.settings, self.aws, request_hash=digest
                )
                if notify:
                    self._notify_change(plan.pipeline_name, action, principal, "started")
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

    def approve(self, pipeline_name: str, body: Any, principal: Principal | None = None) -> dict[str, Any]:
        """Approve or reject what waits: a multi-account pipeline's stage, or a teardown or rollback."""
        principal = principal or ORCHESTRATOR_PRINCIPAL
        decision = approval.decision_of(body, self.settings)
        if decision.stage not in (pending.TEARDOWN, pending.ROLLBACK):
            return approval.approve_stage(pipeline_name, decision, principal, self.settings, self.aws)
        name = pipelines.base_name(pipeline_name)
        waiting = pending.read(name, self.settings, self.aws)
        if waiting is None or waiting["action"] != decision.stage:
            raise Conflict(f"Pipeline {name} has no {decision.stage} waiting for approval.")
        asker = Principal.from_dict(waiting.get("requested_by")) or ORCHESTRATOR_PRINCIPAL
        if decision.approved:
            approval.refuse_self_approval(name, f"the {decision.stage}", [asker], principal, self.settings)
        pending.clear(name, self.settings, self.aws)
        audit.append(
            name,
            audit.APPROVE if decision.approved else audit.REJECT,
            principal,
            "done",
            self.settings,
            self.aws,
            stage=decision.stage,
            comment=decision.comment,
        )
        notices.decision(self.settings, self.aws, name, decision.stage, decision.verdict, principal, decision.comment)
        decided = {f"{decision.verdict}_by": principal.as_dict(), "requested_by": asker.as_dict()}
        if not decision.approved:
            return {
                "message": f"The {decision.stage} of pipeline {name} was rejected by {principal.label}; "
                "nothing changes.",
                "pipeline_name": name,
                "stage": decision.stage,
                **decided,
            }
        run = self._teardown if decision.stage == pending.TEARDOWN else self._rollback
        answer = run(name, asker)
        return {**answer, "stage": decision.stage, **decided}

    def list_pipelines(self, query: dict[str, str] | None) -> dict[str, Any]:
        return lifecycle.list_pipelines(query, self.settings, self.aws)

    def describe_pipeline(self, name: str) -> dict[str, Any]:
        answer = lifecycle.describe_pipeline(name, self.settings, self.aws)
        base = answer["pipeline_name"]
        answer.update(ownership.described(ownership.read(base, self.settings, self.aws)))
        entries = audit.history(base, self.settings, self.aws)
        answer["approvals"] = audit.latest_decisions(entries)
        waiting = pending.read(base, self.settings, self.aws)
        if waiting:
            answer["pending_approval"] = waiting
        if monitoring.is_monitor_type(answer.get("pipeline_type", "")):
            answer["monitoring"] = monitoring.history(answer["pipeline_name"], self.settings, self.aws)
        return answer

    def pipeline_history(self, name: str) -> dict[str, Any]:
        """Every provision, update, approval, rejection, rollback and delete of the pipeline, oldest first."""
        base = pipelines.base_name(name)
        entries = audit.history(base, self.settings, self.aws)
        if not entries and pipelines.lookup(base, self.aws) is None:
            raise NotFound(f"No pipeline named {base} and no history of one; GET /pipelines lists them.")
        return {"pipeline_name": base, "history": entries}

    def delete_pipeline(self, name: str, principal: Principal | None = None) -> dict[str, Any]:
        principal = principal or ORCHESTRATOR_PRINCIPAL
        base = pipelines.base_name(name)
        pipeline = pipelines.lookup_base(base, self.aws)
        if pipeline is not None:
            ownership.check(base, principal, "delete", self.settings, self.aws)
            stages = pending.needs_approval(pipeline, self.settings, self.aws)
            started = pipelines.read_json(self.settings, self.aws, pipelines.teardown_key(base)) is not None
            if stages and not started:
                return self._wait_for_approval(base, pending.TEARDOWN, principal, stages)
        return self._teardown(base, principal)

    def rollback_pipeline(self, name: str, principal: Principal | None = None) -> dict[str, Any]:
        principal = principal or ORCHESTRATOR_PRINCIPAL
        pipeline = pipelines.find(name, self.aws)
        ownership.check(pipeline.name, principal, "roll back", self.settings, self.aws)
        stages = pending.needs_approval(pipeline, self.settings, self.aws)
        if stages:
            rollback.check_rollback(pipeline, self.settings, self.aws)  # refuse now what could not run once approved
            return self._wait_for_approval(pipeline.name, pending.ROLLBACK, principal, stages)
        return self._rollback(pipeline.name, principal)

    def _wait_for_approval(self, name: str, action: str, principal: Principal, stages: list[str]) -> dict[str, Any]:
        record = pending.request(name, action, principal, stages, self.settings, self.aws)
        kind = audit.REQUEST_TEARDOWN if action == pending.TEARDOWN else audit.REQUEST_ROLLBACK
        audit.append(name, kind, principal, "waiting for approval", self.settings, self.aws)
        answer = pending.waiting_answer(name, record)
        notices.publish(self.settings, self.aws, f"MLOps {action} waits for approval: {name}", answer["message"])
        return answer

    def _teardown(self, name: str, principal: Principal) -> dict[str, Any]:
        try:
            answer = teardown.delete_pipeline(name, self.settings, self.aws)
        except OrchestratorError as error:
            if error.http_status != 404:
                audit.append(name, audit.DELETE, principal, f"failed: {error.detail}", self.settings, self.aws)
            raise
        outcome = "done" if answer["done"] else "started"
        audit.append(name, audit.DELETE, principal, outcome, self.settings, self.aws)
        self._notify_change(name, audit.DELETE, principal, outcome)
        return answer

    def _rollback(self, name: str, principal: Principal) -> dict[str, Any]:
        def provision(body: Any) -> dict[str, Any]:
            return self.provision(body, principal, notify=False)

        try:
            answer = rollback.rollback_pipeline(name, self.settings, self.aws, provision)
        except OrchestratorError as error:
            audit.append(name, audit.ROLLBACK, principal, f"failed: {error.detail}", self.settings, self.aws)
            raise
        request = answer.get("rolled_back_to", {}).get("request")
        audit.append(
            name,
            audit.ROLLBACK,
            principal,
            "started",
            self.settings,
            self.aws,
            request_hash=audit.request_hash(request),
            execution_id=str(answer.get("rolled_back_to", {}).get("execution_id") or ""),
        )
        self._notify_change(name, audit.ROLLBACK, principal, "started")
        return answer

    def retry_pipeline(self, name: str, principal: Principal | None = None) -> dict[str, Any]:
        """A new execution of the current request: a change like any other, by its owner, in the history."""
        return self._run_control(name, principal, "retry", audit.RETRY, runs.retry_pipeline)

    def stop_execution(self, name: str, principal: Principal | None = None) -> dict[str, Any]:
        return self._run_control(name, principal, "stop", audit.STOP, runs.stop_execution)

    def _run_control(self, name: str, principal: Principal | None, doing: str, action: str, run: Any) -> dict[str, Any]:
        principal = principal or ORCHESTRATOR_PRINCIPAL
        pipeline = pipelines.find(name, self.aws)
        ownership.check(pipeline.name, principal, doing, self.settings, self.aws)
        try:
            answer: dict[str, Any] = run(pipeline.name, self.settings, self.aws)
        except OrchestratorError as error:
            audit.append(pipeline.name, action, principal, f"failed: {error.detail}", self.settings, self.aws)
            raise
        audit.append(pipeline.name, action, principal, "started", self.settings, self.aws)
        self._notify_change(pipeline.name, action, principal, "started")
        return answer

    def _notify_change(self, name: str, action: str, principal: Principal, outcome: str) -> None:
        """Tell the topic who changed a pipeline through the API. A config source's report names its principal,
        and a monitor's alarm notice the retraining the orchestrator started."""
        if principal.source == API_SOURCE:
            notices.change(self.settings, self.aws, name, action, principal, outcome)

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

    def reconcile(self) -> dict[str, Any]:
        """The scheduled reconciliation of the pipeline index with the stacks and executions."""
        from . import reconciliation

        return reconciliation.reconcile(self.settings, self.aws)

    def on_s3_upload(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        return triggers.on_s3_upload(event, self.provision, self.settings, self.aws)

    def on_codecommit_push(self, event: dict[str, Any]) -> dict[str, Any]:
        return triggers.on_codecommit_push(event, self.provision, self.settings, self.aws)

    def on_pipeline_job(self, job: dict[str, Any]) -> dict[str, Any]:
        return triggers.on_pipeline_job(job, self.provision, self.settings, self.aws)
