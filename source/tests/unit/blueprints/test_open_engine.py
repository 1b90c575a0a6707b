# SPDX-License-Identifier: Apache-2.0
"""The open engine's jobs: the baseline the stack starts, the templates it leaves, and each scheduled hour."""

from __future__ import annotations

import json

import pytest

from lambdas.blueprints import baseline, open_engine
from lambdas.blueprints.baseline import BaselineSpec
from lambdas.blueprints.custom_resource import JobFailed
from lambdas.shared.aws import client

from .conftest import ASSETS, OUTPUT_BUCKET

ENGINE_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/monitor"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
JOB = "churn-endpoint-dataquality-1a2b"
OUTPUT = f"{OUTPUT_BUCKET}/baselines/{JOB}"
SCHEDULE = "churn-endpoint-dataquality-9f8e7d6c"


def props(monitor_type: str = "DataQuality", **extra: str) -> dict[str, str]:
    return {
        "JobKind": "Baseline",
        "MonitorType": monitor_type,
        "JobName": JOB,
        "ImageUri": ENGINE_IMAGE,
        "RoleArn": ROLE,
        "AssetsBucket": ASSETS,
        "BaselineData": "monitoring/baseline.csv",
        "OutputLocation": OUTPUT,
        "InstanceType": "ml.m5.large",
        "InstanceVolumeSize": "20",
        "MaxRuntimeSeconds": "1200",
        "KmsKeyArn": "",
        "StackName": "mlops-pipeline-churn-byomdataqualitymonitor",
        "EndpointName": "churn-endpoint",
        "Engine": "Open",
        "EngineBundle": "s3://mlops-blueprints/monitoring_engine/",
        "MonitoringScheduleName": SCHEDULE,
        "MonitoringOutputLocation": f"{OUTPUT_BUCKET}/reports",
        "DataCaptureLocation": f"{OUTPUT_BUCKET}/capture",
        "MonitorMaxRuntimeSeconds": "1800",
        **extra,
    }


def spec(monitor_type: str = "DataQuality", **extra: str) -> BaselineSpec:
    return BaselineSpec.from_properties(props(monitor_type, **extra))


def _json(key: str) -> dict:
    return json.loads(client("s3").get_object(Bucket=OUTPUT_BUCKET, Key=key)["Body"].read())


def test_the_baseline_runs_the_engine_from_the_shipped_wheels_on_the_scikit_learn_image(sent):
    assert baseline.start_baseline(spec()) == JOB
    (request,) = sent["CreateProcessingJob"]
    assert request["AppSpecification"] == {
        "ImageUri": ENGINE_IMAGE,
        "ContainerEntrypoint": open_engine.entrypoint(),
        "ContainerArguments": ["--spec", f"s3://{OUTPUT}/engine/baseline_spec.json"],
    }
    # pip reads the wheels the job downloaded, never an index: a job in a VPC without internet installs the same.
    assert "--no-index" in open_engine.INSTALL_AND_RUN and "--find-links" in open_engine.INSTALL_AND_RUN
    (engine_input,) = request["ProcessingInputs"]
    assert engine_input["S3Input"]["S3Uri"] == "s3://mlops-blueprints/monitoring_engine/"
    assert engine_input["S3Input"]["LocalPath"] == open_engine.ENGINE_DIR
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 1200}
    assert request["Environment"] == {open_engine.SCHEDULE_ENV: SCHEDULE}
    assert "ProcessingOutputConfig" not in request  # the engine writes its reports itself, where its spec says
    assert _json(f"baselines/{JOB}/engine/baseline_spec.json") == {
        "kind": "data_quality",
        "mode": "baseline",
        "dataset": {"uri": f"s3://{ASSETS}/monitoring/baseline.csv", "format": "csv", "header": True},
        "output_uri": f"s3://{OUTPUT}/",
        "config": {},
        "predictor": {"endpoint_name": "churn-endpoint"},
        "shard": {"index": 0, "count": 1},
    }


def test_the_baseline_leaves_every_hours_spec_and_request_with_the_monitors_runtime(sent):
    baseline.start_baseline(
        spec("ModelQuality", ProblemType="Regression", EndpointInferenceAttribute="0", MonitorGroundTruthInput="gt/x")
    )
    template = _json(f"baselines/{JOB}/{open_engine.ANALYSIS_SPEC}")
    assert template["kind"] == "model_quality" and template["mode"] == "analysis"
    assert template["capture"] == {"uri": f"s3://{OUTPUT_BUCKET}/capture/churn-endpoint/"}
    assert template["ground_truth"] == {"uri": "s3://gt/x/"}
    assert template["config"] == {"problem_type": "Regression", "monitor_inference_attribute": "0"}
    assert template["baseline"]["constraints_uri"] == f"s3://{OUTPUT}/constraints.json"
    request = _json(f"baselines/{JOB}/{open_engine.ANALYSIS_JOB}")
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 1800}  # monitor_max_runtime_seconds


def test_kms_vpc_and_isolation_apply_to_the_engines_jobs_as_to_model_monitors(sent):
    baseline.start_baseline(
        spec(KmsKeyArn=KEY, SubnetIds="subnet-1,subnet-2", SecurityGroupIds="sg-1", EnableNetworkIsolation="True")
    )
    (request,) = sent["CreateProcessingJob"]
    assert request["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == KEY
    assert request["NetworkConfig"] == {
        "EnableInterContainerTrafficEncryption": True,
        "EnableNetworkIsolation": True,
        "VpcConfig": {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1", "subnet-2"]},
    }
    head = client("s3").head_object(Bucket=OUTPUT_BUCKET, Key=f"baselines/{JOB}/{open_engine.ANALYSIS_JOB}")
    assert head["ServerSideEncryption"] == "aws:kms"


def test_an_open_baseline_without_its_engine_properties_fails_with_the_names():
    with pytest.raises(JobFailed, match="needs EngineBundle, MonitoringScheduleName"):
        spec(EngineBundle="", MonitoringScheduleName="")


@pytest.mark.parametrize(
    "scheduled, start, end, hour",
    [
        ("2026-03-22T14:00:00Z", "2026-03-22T13:00:00Z", "2026-03-22T14:00:00Z", "2026/03/22/14"),
        ("2026-03-22T14:00:07Z", "2026-03-22T13:00:00Z", "2026-03-22T14:00:00Z", "2026/03/22/14"),
        ("2026-01-01T00:00:00+00:00", "2025-12-31T23:00:00Z", "2026-01-01T00:00:00Z", "2026/01/01/00"),
    ],
)
def test_each_execution_analyses_the_hour_before_its_scheduled_time(scheduled, start, end, hour):
    template = {"kind": "data_quality", "capture": {"uri": "s3://c/e/"}, "monitoring_output": "s3://r/e/s"}
    hour_spec = open_engine.hour_spec(template, scheduled)
    assert hour_spec["capture"] == {"uri": "s3://c/e/", "start": start, "end": end}
    assert hour_spec["output_uri"] == f"s3://r/e/s/{hour}/"  # where Model Monitor writes that execution's reports
    assert "monitoring_output" not in hour_spec


def test_a_scheduled_time_that_is_no_time_fails_with_it():
    with pytest.raises(JobFailed, match="'yesterday' is not an ISO 8601 time"):
        open_engine.analysis_hour("yesterday")


def _scheduled(monkeypatch, sent):
    baseline.start_baseline(spec(KmsKeyArn=KEY))
    monkeypatch.setenv("BASELINE_OUTPUT", f"s3://{OUTPUT}")
    monkeypatch.setenv("KMS_KEY_ARN", KEY)
    event = {"scheduled_time": "2026-03-22T14:00:00Z", "execution_id": "d32c5kddcf5bb8c3"}
    return open_engine.run_scheduled(event)


def test_a_scheduled_invocation_starts_that_hours_analysis(monkeypatch, sent):
    answer = _scheduled(monkeypatch, sent)
    baseline_request, analysis = sent["CreateProcessingJob"]
    assert analysis["ProcessingJobName"] == "open-monitoring-d32c5kddcf5bb8c3" == answer["processing_job"]
    spec_uri = f"s3://{OUTPUT_BUCKET}/reports/churn-endpoint/{SCHEDULE}/2026/03/22/14/spec.json"
    assert analysis["AppSpecification"]["ContainerArguments"] == ["--spec", spec_uri]
    assert analysis["Environment"] == {
        open_engine.SCHEDULE_ENV: SCHEDULE,
        open_engine.SCHEDULED_TIME_ENV: "2026-03-22T14:00:00Z",
    }
    written = _json(f"reports/churn-endpoint/{SCHEDULE}/2026/03/22/14/spec.json")
    assert written["mode"] == "analysis"
    assert written["capture"]["start"] == "2026-03-22T13:00:00Z"
    assert written["output_uri"] == spec_uri.removesuffix("spec.json")
    head = client("s3").head_object(
        Bucket=OUTPUT_BUCKET, Key=f"reports/churn-endpoint/{SCHEDULE}/2026/03/22/14/spec.json"
    )
    assert head["ServerSideEncryption"] == "aws:kms"
    assert {k: v for k, v in analysis.items() if k not in ("ProcessingJobName", "AppSpecification", "Environment")} == {
        k: v
        for k, v in baseline_request.items()
        if k not in ("ProcessingJobName", "AppSpecification", "Environment", "StoppingCondition")
    } | {"StoppingCondition": {"MaxRuntimeInSeconds": 1800}}


def test_a_retried_invocation_of_one_execution_starts_no_second_job(monkeypatch, sent):
    _scheduled(monkeypatch, sent)
    again = open_engine.run_scheduled({"scheduled_time": "2026-03-22T14:00:00Z", "execution_id": "d32c5kddcf5bb8c3"})
    assert again["processing_job"] == "open-monitoring-d32c5kddcf5bb8c3"
    assert len(sent["CreateProcessingJob"]) == 3  # baseline, the job, the retry that SageMaker refused as in use
    jobs = client("sagemaker").list_processing_jobs()["ProcessingJobSummaries"]
    assert sorted(j["ProcessingJobName"] for j in jobs) == [JOB, "open-monitoring-d32c5kddcf5bb8c3"]


def test_an_invocation_without_the_context_attributes_fails_with_the_reason(monkeypatch, aws):
    with pytest.raises(JobFailed, match="needs scheduled_time and execution_id"):
        open_engine.run_scheduled({"scheduled_time": "2026-03-22T14:00:00Z"})


def test_an_invocation_before_the_baseline_wrote_its_templates_fails_with_the_location(monkeypatch, aws):
    monkeypatch.setenv("BASELINE_OUTPUT", f"s3://{OUTPUT}")
    with pytest.raises(JobFailed, match=f"cannot read s3://{OUTPUT}/engine/analysis_spec.json"):
        open_engine.run_scheduled({"scheduled_time": "2026-03-22T14:00:00Z", "execution_id": "x"})
