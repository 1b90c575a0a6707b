# SPDX-License-Identifier: Apache-2.0
"""The data perimeter, judged by the IAM evaluator on the synthesized blueprints deployed with each example's
parameters: no role reads the whole assets bucket, request-chosen locations are reachable only in the role's own
account, and a request's key is usable only through the services that encrypt for the role."""

from __future__ import annotations

from typing import Any

import pytest

from app import stack_id
from lambdas.pipeline_orchestration.catalogue import CATALOGUE
from lambdas.pipeline_orchestration.planner import plan_pipeline
from lambdas.pipeline_orchestration.validation import validate

from .examples import ACCOUNT, INFERENCE_TYPES, body, settings
from .policy_eval import ALLOW, Request, concrete, decide

pytestmark = pytest.mark.synth

FOREIGN = "999988887777"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/mlops-pipeline-churn-SageMakerRole-1A2B"
# An object of the assets bucket that no request named: another team's data.
UNNAMED = "hr-payroll/exports/salaries.csv"
SINGLE = settings()


def _parameters(pipeline_type: str) -> dict[str, str]:
    plan = plan_pipeline(validate(body(pipeline_type), SINGLE), SINGLE)
    return dict(plan.stages[0].parameters)


def _role_statements(synthesized: Any, pipeline_type: str, **overrides: str) -> dict[str, list[dict[str, Any]]]:
    """Each role's identity statements (inline and attached policies) in the stack the example deploys."""
    template = synthesized.templates[stack_id(CATALOGUE[pipeline_type].blueprint.template)]
    resources = concrete(template, {**_parameters(pipeline_type), **overrides})["Resources"]
    roles: dict[str, list[dict[str, Any]]] = {}
    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            for policy in properties.get("Policies", []):
                roles.setdefault(logical_id, []).extend(policy["PolicyDocument"]["Statement"])
        elif resource["Type"] == "AWS::IAM::Policy":
            for role in properties["Roles"]:
                name = role["Ref"] if isinstance(role, dict) else role
                roles.setdefault(name, []).extend(properties["PolicyDocument"]["Statement"])
    # Statements on resources other stacks' references name (an endpoint, a function) are not S3's or KMS's.
    return {
        role: [
            {**s, "Resource": [r for r in _listed(s["Resource"]) if isinstance(r, str)]}
            for s in statements
            if any(isinstance(r, str) for r in _listed(s["Resource"]))
        ]
        for role, statements in roles.items()
    }


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _s3(action: str, path: str, account: str = ACCOUNT) -> Request:
    return Request(ROLE, action, f"arn:aws:s3:::{path}", {"s3:ResourceAccount": account})


@pytest.mark.parametrize("pipeline_type", sorted(CATALOGUE))
def test_no_role_reads_the_whole_assets_bucket(synthesized, pipeline_type):
    allowed = {
        role
        for role, statements in _role_statements(synthesized, pipeline_type).items()
        for action in ("s3:GetObject", "s3:PutObject")
        if decide(_s3(action, f"{SINGLE.assets_bucket}/{UNNAMED}"), statements) == ALLOW
    }
    assert not allowed, f"{pipeline_type}: these roles reach an object no request named: {sorted(allowed)}"


@pytest.mark.parametrize("pipeline_type", INFERENCE_TYPES)
def test_with_the_registry_the_model_reads_its_packages_artifact_and_nothing_else(synthesized, pipeline_type):
    registry = settings(model_registry=True)
    artifact = f"{registry.assets_bucket}/models/churn/3/model.tar.gz"
    facts = {"ModelPackageArtifacts": artifact}
    plan = plan_pipeline(validate(body(pipeline_type, model_registry=True), registry), registry, facts)
    parameters = dict(plan.stages[0].parameters)
    assert parameters["ModelPackageArtifacts"] == f"arn:aws:s3:::{artifact}"
    roles = _role_statements(synthesized, pipeline_type, **parameters)

    def readers(path: str) -> set[str]:
        request = _s3("s3:GetObject", path)
        return {role for role, statements in roles.items() if decide(request, statements) == ALLOW}

    assert readers(artifact), "the model cannot read its package's artifact"
    assert not readers(f"{registry.assets_bucket}/{UNNAMED}"), "a role reads what the package does not name"
    # A package without an artifact of its own (an image that carries its model): nothing of the bucket.
    roles = _role_statements(synthesized, pipeline_type, **{**parameters, "ModelPackageArtifacts": ""})
    assert not readers(artifact)


# (pipeline type, action, the blueprint parameter holding the request's location the role reaches)
REQUEST_LOCATIONS = [
    ("byom_batch_builtin", "s3:GetObject", "BatchInferenceData"),
    ("byom_batch_builtin", "s3:PutObject", "BatchOutputLocation"),
    ("byom_realtime_builtin", "s3:PutObject", "DataCaptureLocation"),
    ("byom_data_quality_monitor", "s3:GetObject", "DataCaptureLocation"),
    ("byom_data_quality_monitor", "s3:PutObject", "MonitoringOutputLocation"),
    ("byom_model_quality_monitor", "s3:GetObject", "MonitorGroundTruthInput"),
    ("byom_model_bias_monitor", "s3:PutObject", "BaselineJobOutputLocation"),
]


@pytest.mark.parametrize(("pipeline_type", "action", "parameter"), REQUEST_LOCATIONS)
def test_a_request_location_is_reachable_in_the_roles_own_account_only(synthesized, pipeline_type, action, parameter):
    location = f"{_parameters(pipeline_type)[parameter].rstrip('/')}/part-0001.csv"
    roles = _role_statements(synthesized, pipeline_type)
    own = {role for role, statements in roles.items() if decide(_s3(action, location), statements) == ALLOW}
    foreign = {
        role for role, statements in roles.items() if decide(_s3(action, location, FOREIGN), statements) == ALLOW
    }
    assert own, f"no role of {pipeline_type} may {action} {location}: the test names the wrong location"
    assert not foreign, f"{sorted(foreign)} reach {location} in another account"


def test_the_async_output_is_reachable_in_the_roles_own_account_only(synthesized):
    values = {"AsyncOutputLocation": "ml-results/async"}
    roles = _role_statements(synthesized, "byom_realtime_builtin", **values)
    location = "ml-results/async/out/1.json"
    assert any(decide(_s3("s3:PutObject", location), s) == ALLOW for s in roles.values())
    assert not any(decide(_s3("s3:PutObject", location, FOREIGN), s) == ALLOW for s in roles.values())


def test_the_explainability_role_reads_its_shap_baseline_and_nothing_else_of_the_assets_bucket(synthesized):
    pipeline_type = "byom_model_explainability_monitor"
    baseline = body(pipeline_type)["shap_config"]["baseline"]
    roles = _role_statements(synthesized, pipeline_type)
    read = _s3("s3:GetObject", f"{SINGLE.assets_bucket}/{baseline}")
    assert any(decide(read, statements) == ALLOW for statements in roles.values())
    inline = _role_statements(synthesized, pipeline_type, ShapBaselineKey="")
    assert not any(decide(read, statements) == ALLOW for statements in inline.values())


@pytest.mark.parametrize(
    "pipeline_type", ["byom_realtime_builtin", "byom_data_quality_monitor", "model_training_builtin"]
)
def test_a_request_key_is_used_only_through_sagemaker_and_s3(synthesized, pipeline_type):
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    roles = _role_statements(synthesized, pipeline_type, KmsKeyArn=key)

    def allowed(context: dict[str, str]) -> set[str]:
        request = Request(ROLE, "kms:Decrypt", key, context)
        return {role for role, statements in roles.items() if decide(request, statements) == ALLOW}

    assert allowed({"kms:ViaService": "s3.us-east-1.amazonaws.com"})
    assert allowed({"kms:ViaService": "sagemaker.us-east-1.amazonaws.com"})
    assert not allowed({}), "a role decrypts with the request's key directly"
    assert not allowed({"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"})
