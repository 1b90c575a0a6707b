# SPDX-License-Identifier: Apache-2.0
"""Plan a pipeline: a pure function of the validated request and the orchestrator's settings.

The plan names every stack, picks the blueprint and its wrapper, and fills the parameters of each stage.
Dry-run answers with it; the provisioner carries it out. Nothing here calls AWS.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .catalogue import BOUNDARY_PARAMETER, MULTI_ACCOUNT_PIPELINE, SINGLE_ACCOUNT_PIPELINE
from .rules import BLUEPRINTS_PREFIX, PROVISIONED_PREFIX
from .settings import STAGES, Settings
from .spec import PipelineType, StageView
from .validation import WRAPPER_SUFFIX, ValidRequest

SINGLE_PARAMS_FILE = "template_params.json"
REQUEST_FILE, TEMPLATE_FILE = "request.json", "template.zip"


def pipeline_key(pipeline_name: str, file_name: str = "") -> str:
    """Where a pipeline's file lives in the assets bucket (its folder, without a file name)."""
    return f"{PROVISIONED_PREFIX}/{pipeline_name}/{file_name}"


def mode_name(multi_account: bool) -> str:
    return "multi-account" if multi_account else "single-account"


@dataclass(frozen=True)
class StagePlan:
    stage: str | None  # None: one deployment in the orchestrator's account
    parameters: dict[str, str]
    names: dict[str, str] = field(default_factory=dict)
    account_id: str = ""
    org_unit_id: str = ""

    @property
    def params_file(self) -> str:
        return f"{self.stage}_{SINGLE_PARAMS_FILE}" if self.stage else SINGLE_PARAMS_FILE

    def params_file_content(self) -> str:
        """Single account: the CodePipeline CloudFormation action's template configuration.
        Per stage: the parameter list the StackSets API takes."""
        if self.stage is None:
            return json.dumps({"Parameters": self.parameters}, indent=2, sort_keys=True)
        pairs = [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(self.parameters.items())]
        return json.dumps(pairs, indent=2)


@dataclass(frozen=True)
class Plan:
    pipeline_type: str
    pipeline_name: str  # mlops-pipeline-<infix>-<postfix>: the blueprint stack, or the StackSets' prefix
    stack_name: str  # the stack the orchestrator creates: the wrapper, or the blueprint itself (direct)
    template: str  # blueprint template file name
    stack_template: str  # the template the orchestrator's stack is created from
    stack_parameters: dict[str, str]
    stages: tuple[StagePlan, ...]
    direct: bool
    multi_account: bool
    artifact_key: str = ""  # template.zip in the assets bucket ("" for a direct stack)
    request: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def history_key(self) -> str:
        return pipeline_key(self.pipeline_name, REQUEST_FILE)

    def as_dict(self) -> dict[str, Any]:
        if self.multi_account:
            parameters: Any = {s.stage: s.parameters for s in self.stages}
            names: Any = {s.stage: s.names for s in self.stages}
        else:
            parameters, names = self.stages[0].parameters, self.stages[0].names
        out: dict[str, Any] = {
            "pipeline_type": self.pipeline_type,
            "pipeline_name": self.pipeline_name,
            "stack_name": self.stack_name,
            "template": self.template,
            "mode": mode_name(self.multi_account),
            "parameters": parameters,
            "names": names,
            "stack_template": self.stack_template,
            "stack_parameters": self.stack_parameters,
        }
        if self.multi_account:
            out["targets"] = {s.stage: {"account_id": s.account_id, "org_unit_id": s.org_unit_id} for s in self.stages}
            out["deployed_stacks"] = {
                s.stage: f"{self.pipeline_name}-{s.stage}-<first 8 hex of the pipeline id>" for s in self.stages
            }
        elif not self.direct:
            out["deployed_stacks"] = self.pipeline_name
        if self.artifact_key:
            out["artifact"] = self.artifact_key
        return out


def blueprint_parameters(pipeline: PipelineType, view: StageView) -> dict[str, str]:
    """The builder's parameters, exactly the names the blueprint declares (a template rejects any other)."""
    blueprint, build = pipeline.deploys(view.values, view.settings)
    built = build(view)
    declared = blueprint.parameters
    if set(built) != set(declared):
        extra, missing = sorted(set(built) - set(declared)), sorted(set(declared) - set(built))
        raise ValueError(
            f"{pipeline.name}: the builder's parameters differ from {blueprint.template}'s "
            f"(not declared: {', '.join(extra) or 'none'}; not built: {', '.join(missing) or 'none'})"
        )
    return built


def plan_pipeline(request: ValidRequest, settings: Settings, facts: Mapping[str, str] | None = None) -> Plan:
    """`facts`: what the orchestrator read before planning (model_packages.read_facts); none offline."""
    pipeline = request.pipeline
    base = request.base_name
    stage_names: tuple[str | None, ...] = STAGES if request.staged else (None,)
    stages = []
    for stage in stage_names:
        values = request.stage_values(stage)
        names = {key: name for key, (name, _, _) in pipeline.names(values).items()}
        view = StageView(values, settings, base, stage, names, frozenset(f.name for f in pipeline.fields), facts or {})
        target = (settings.stage_targets or {}).get(stage) if stage else None
        stages.append(
            StagePlan(
                stage,
                blueprint_parameters(pipeline, view),
                names,
                target.account_id if target else settings.account_id,
                target.org_unit_id if target else "",
            )
        )

    # The engine field is no stage field: every stage deploys the blueprint the first one does.
    template = pipeline.deploys(request.stage_values(stage_names[0]), settings)[0].template
    if pipeline.direct_stack:
        return Plan(
            pipeline.name,
            base,
            base,
            template,
            template,
            stages[0].parameters,
            tuple(stages),
            direct=True,
            multi_account=False,
            request=request.request_body(),
            warnings=request.warnings,
        )

    artifact_key = pipeline_key(base, TEMPLATE_FILE)
    common = {
        "TemplateZipFileName": artifact_key,
        "TemplateFileName": template,
        "AssetsBucket": settings.assets_bucket,
        "ArtifactBucket": settings.artifact_bucket,
        "BlueprintBucket": settings.blueprint_bucket,
        "StackName": base,
        "NotificationsSNSTopicArn": settings.sns_topic_arn,
        BOUNDARY_PARAMETER: settings.permissions_boundary_arn,
    }
    if request.staged:
        wrapper = MULTI_ACCOUNT_PIPELINE
        by_stage = {s.stage: s for s in stages}
        wrapper_parameters = {
            **common,
            **{f"{stage.capitalize()}ParamsName": by_stage[stage].params_file for stage in STAGES},
            **{f"{stage.capitalize()}AccountId": by_stage[stage].account_id for stage in STAGES},
            **{f"{stage.capitalize()}OrgId": by_stage[stage].org_unit_id for stage in STAGES},
            "DelegatedAdminAccount": "Yes" if settings.delegated_admin else "No",
        }
    else:
        wrapper = SINGLE_ACCOUNT_PIPELINE
        wrapper_parameters = {**common, "TemplateParamsName": SINGLE_PARAMS_FILE}
    return Plan(
        pipeline.name,
        base,
        base + WRAPPER_SUFFIX,
        template,
        wrapper.template,
        wrapper_parameters,
        tuple(stages),
        direct=False,
        multi_account=request.staged,
        artifact_key=artifact_key,
        request=request.request_body(),
        warnings=request.warnings,
    )


def template_url(settings: Settings, template: str) -> str:
    """HTTPS location of a blueprint template in the blueprints bucket, as CloudFormation reads it."""
    return f"https://{settings.blueprint_bucket}.s3.{settings.region}.amazonaws.com/{BLUEPRINTS_PREFIX}/{template}"
