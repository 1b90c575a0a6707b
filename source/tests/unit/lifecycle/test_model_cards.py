# SPDX-License-Identifier: Apache-2.0
"""Model-card operations through POST /provisionpipeline, in both account modes."""

from __future__ import annotations

import json

import pytest

from lambdas.pipeline_orchestration.model_cards import metric_groups_from_file
from lambdas.shared.aws import client

from .conftest import ASSETS, Scene

CARD = {
    "pipeline_type": "create_model_card",
    "name": "churn-card",
    "model_overview": {"model_description": "Predicts churn", "inference_environment": ["image:1"]},
    "intended_uses": {"purpose_of_model": "Predict 30-day churn", "risk_rating": "Low"},
    "training_details": {"objective_function": {"function": "Minimize", "facet": "Loss", "notes": "logloss"}},
    "additional_information": {"caveats_and_recommendations": "Retrain monthly"},
}


def _post(scene: Scene, body: dict) -> tuple[int, dict]:
    return scene.call("POST", "/provisionpipeline", body)


def test_create_then_describe_a_card_in_the_model_card_schema(scene: Scene) -> None:
    status, created = _post(scene, CARD)

    assert status == 200
    content = created["message"]["Content"]
    assert created["message"]["ModelCardStatus"] == "Draft"
    assert content["model_overview"]["inference_environment"] == {"container_image": ["image:1"]}
    assert content["training_details"]["objective_function"] == {
        "function": {"function": "Minimize", "facet": "Loss"},
        "notes": "logloss",
    }
    status, described = _post(scene, {"pipeline_type": "describe_model_card", "name": "churn-card"})
    assert status == 200 and described["message"]["Content"] == content


def test_create_reads_the_model_and_loads_metrics_from_s3(scene: Scene) -> None:
    client("sagemaker").create_model(
        ModelName="churn-model",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker",
        PrimaryContainer={"Image": "image:2", "ModelDataUrl": "s3://mlops-assets/models/churn.tar.gz"},
    )
    metrics = {"binary_classification_metrics": {"auc": {"value": 0.91}, "f1": {"value": 0.8}}}
    client("s3").put_object(Bucket=ASSETS, Key="eval/metrics.json", Body=json.dumps(metrics))
    body = {
        "pipeline_type": "create_model_card",
        "name": "churn-card",
        "model_overview": {"model_name": "churn-model"},
        "evaluation_details": [
            {
                "name": "holdout",
                "metric_file_s3_url": f"s3://{ASSETS}/eval/metrics.json",
                "metric_type": "binary_classification",
            }
        ],
    }

    status, answer = _post(scene, body)

    assert status == 200, answer
    content = answer["message"]["Content"]
    assert content["model_overview"]["model_artifact"] == ["s3://mlops-assets/models/churn.tar.gz"]
    assert content["model_overview"]["inference_environment"] == {"container_image": ["image:2"]}
    data = content["evaluation_details"][0]["metric_groups"][0]["metric_data"]
    assert {"name": "auc", "type": "number", "value": 0.91} in data


def test_update_changes_only_the_attributes_given(scene: Scene) -> None:
    _post(scene, CARD)

    status, answer = _post(
        scene,
        {
            "pipeline_type": "update_model_card",
            "name": "churn-card",
            "status": "PendingReview",
            "intended_uses": {"risk_rating": "High"},
        },
    )

    assert status == 200
    assert answer["message"]["ModelCardStatus"] == "PendingReview"
    uses = answer["message"]["Content"]["intended_uses"]
    assert uses == {"purpose_of_model": "Predict 30-day churn", "risk_rating": "High"}


def test_list_and_delete(scene: Scene) -> None:
    _post(scene, CARD)
    _post(scene, {**CARD, "name": "other-card"})

    status, listed = _post(scene, {"pipeline_type": "list_model_cards"})
    assert status == 200
    assert {c["ModelCardName"] for c in listed["message"]["ModelCardSummaries"]} == {"churn-card", "other-card"}

    status, deleted = _post(scene, {"pipeline_type": "delete_model_card", "name": "churn-card"})
    assert status == 200 and deleted["message"] == "Model card with the name: churn-card has been deleted"
    status, _ = _post(scene, {"pipeline_type": "describe_model_card", "name": "churn-card"})
    assert status == 404


def test_export_starts_a_job_writing_to_the_assets_bucket(scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    _post(scene, CARD)
    started: list[dict] = []
    # moto has no CreateModelCardExportJob: record the call the adapter would make.
    monkeypatch.setattr(scene.service.aws.sagemaker, "export_model_card", lambda **kw: started.append(kw) or "arn:x")

    status, answer = _post(
        scene, {"pipeline_type": "export_model_card", "name": "churn-card", "export_job_name": "churn-export"}
    )

    assert status == 200 and answer["export_job_arn"] == "arn:x"
    assert started == [
        {
            "ModelCardName": "churn-card",
            "ModelCardExportJobName": "churn-export",
            "OutputConfig": {"S3OutputPath": "s3://mlops-assets/model_card_exports"},
        }
    ]


def test_card_fields_are_validated_all_at_once_with_their_paths(scene: Scene) -> None:
    body = {
        "pipeline_type": "create_model_card",
        "name": "bad name!",
        "status": "Done",
        "colour": "red",
        "intended_uses": {"risk_rating": "Severe", "purpose": "x"},
        "evaluation_details": [{"name": "e1", "metric_file_s3_url": "s3://bucket/m.json"}, {"metric_groups": 3}],
    }

    status, answer = _post(scene, body)

    assert (
        status == 400
    )  # unknown keys (colour, intended_uses.purpose) are only warned about: the orchestrator is lenient
    assert {e["field"] for e in answer["errors"]} == {
        "name",
        "status",
        "intended_uses.risk_rating",
        "evaluation_details[0].metric_type",
        "evaluation_details[1].name",
        "evaluation_details[1].metric_groups",
    }


def test_create_of_an_existing_card_is_409_and_unknown_cards_are_404(scene: Scene) -> None:
    _post(scene, CARD)

    assert _post(scene, CARD)[0] == 409
    assert _post(scene, {"pipeline_type": "delete_model_card", "name": "ghost"})[0] == 404
    assert _post(scene, {"pipeline_type": "update_model_card", "name": "ghost", "status": "Draft"})[0] == 404
    assert _post(scene, {"pipeline_type": "export_model_card", "name": "ghost"})[0] == 404


def test_a_model_card_operation_needs_its_name(scene: Scene) -> None:
    status, answer = _post(scene, {"pipeline_type": "describe_model_card"})

    assert status == 400 and answer["errors"] == [{"field": "name", "message": "is required"}]


def test_an_unknown_model_referenced_by_the_card_is_400(scene: Scene) -> None:
    status, answer = _post(scene, {**CARD, "model_overview": {"model_name": "ghost-model"}})

    assert status == 400 and answer["errors"][0]["field"] == "model_overview.model_name"


def test_metric_files_of_clarify_become_metric_groups() -> None:
    bias = {
        "post_training_bias_metrics": {
            "facets": {"age": [{"value_or_threshold": "40", "metrics": [{"name": "DPPL", "value": 0.1}]}]}
        }
    }
    shap = {"explanations": {"kernel_shap": {"label0": {"global_shap_values": {"age": 0.3, "income": 0.5}}}}}

    assert metric_groups_from_file("clarify_bias", bias) == [
        {"name": "post training bias metrics", "metric_data": [{"name": "age=40 DPPL", "type": "number", "value": 0.1}]}
    ]
    groups = metric_groups_from_file("clarify_explainability", shap)
    assert groups[0]["metric_data"][1] == {"name": "income", "type": "number", "value": 0.5}


def test_an_update_with_a_version_starts_from_the_card_at_that_version(scene: Scene) -> None:
    _post(scene, CARD)
    first = {"pipeline_type": "update_model_card", "name": "churn-card"}
    _post(scene, {**first, "additional_information": {"caveats_and_recommendations": "Retrain weekly"}})

    status, answer = _post(
        scene, {**first, "version": 1, "intended_uses": {"risk_rating": "High"}, "created_by": "ml-team"}
    )

    assert status == 200, answer
    content = answer["message"]["Content"]
    assert content["intended_uses"]["risk_rating"] == "High"
    assert content["additional_information"]["caveats_and_recommendations"] == "Retrain monthly"  # version 1's
    assert answer["warnings"] == [
        "created_by is recorded by SageMaker from the caller's identity; the value given was not stored"
    ]


def test_unknown_keys_in_a_card_section_are_warned_about_in_the_answer(scene: Scene) -> None:
    body = {**CARD, "intended_uses": {**CARD["intended_uses"], "purpose": "typo of purpose_of_model"}}

    status, answer = _post(scene, body)

    assert status == 200
    assert [w.split(" (known")[0] for w in answer["warnings"]] == ["intended_uses.purpose is not a known key"]
    assert "purpose" not in answer["message"]["Content"]["intended_uses"]
