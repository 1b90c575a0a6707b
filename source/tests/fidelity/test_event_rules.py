# SPDX-License-Identifier: Apache-2.0
"""Event fidelity: every EventBridge rule of every synthesized template, and every reader of an event's `detail`,
against AWS's documented example events (aws_events/, one file per detail-type, each naming its page).

A rule passes when the `source` and `detail-type` it names have a documented example, every field its pattern
filters on is in that example, and every literal value it filters on is one AWS documents for that field
(DOCUMENTED_VALUES, each set with its page) or a name of our own choosing (OUR_NAMES). A reader passes when every
detail key it reads (READERS) is in the documented example. Deliberately broken rules prove each check bites.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

EVENTS_DIR = Path(__file__).parent / "aws_events"
CFN = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/"
CODEPIPELINE = "https://docs.aws.amazon.com/codepipeline/latest/userguide/detect-state-changes-cloudwatch-events.html"
SM_API = "https://docs.aws.amazon.com/sagemaker/latest/APIReference/"


def _documented() -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for path in sorted(EVENTS_DIR.glob("*.json")):
        event = json.loads(path.read_text())["event"]
        found[(event["source"], event["detail-type"])] = event
    return found


DOCUMENTED = _documented()

# Values AWS lists for a field of an event's detail: (detail-type, field path) -> (values, page).
DOCUMENTED_VALUES: dict[tuple[str, str], tuple[frozenset[str], str]] = {
    ("CloudFormation StackSet Operation Status Change", "status-details.status"): (
        frozenset({"RUNNING", "SUCCEEDED", "FAILED", "STOPPING", "STOPPED", "QUEUED"}),
        CFN + "event-detail-stackset-operation-status-change.html",
    ),
    ("CloudFormation StackSet Status Change", "status-details.status"): (
        frozenset({"ACTIVE", "DELETED"}),
        CFN + "event-detail-stackset-status-change.html",
    ),
    ("CodePipeline Pipeline Execution State Change", "state"): (
        frozenset({"STARTED", "STOPPING", "STOPPED", "SUCCEEDED", "FAILED", "SUPERSEDED", "CANCELED", "RESUMED"}),
        CODEPIPELINE,
    ),
    ("CodePipeline Stage Execution State Change", "state"): (
        frozenset({"STARTED", "STOPPING", "STOPPED", "SUCCEEDED", "FAILED", "CANCELED", "RESUMED"}),
        CODEPIPELINE,
    ),
    ("CodePipeline Action Execution State Change", "state"): (
        frozenset({"STARTED", "SUCCEEDED", "FAILED", "ABANDONED", "CANCELED"}),
        CODEPIPELINE,
    ),
    ("CodePipeline Action Execution State Change", "type.category"): (
        frozenset({"Source", "Build", "Deploy", "Test", "Invoke", "Approval"}),
        "https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ActionTypeId.html",
    ),
    ("CodeCommit Repository State Change", "event"): (
        frozenset({"referenceCreated", "referenceUpdated", "referenceDeleted", "unreferencedMergeCommitCreated"}),
        "https://docs.aws.amazon.com/codecommit/latest/userguide/monitoring-events.html",
    ),
    ("CodeCommit Repository State Change", "referenceType"): (
        frozenset({"branch", "tag"}),
        "https://docs.aws.amazon.com/codecommit/latest/userguide/monitoring-events.html",
    ),
    ("CloudWatch Alarm State Change", "state.value"): (
        frozenset({"OK", "ALARM", "INSUFFICIENT_DATA"}),
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricAlarm.html",
    ),
    ("SageMaker Processing Job State Change", "ProcessingJobStatus"): (
        frozenset({"InProgress", "Completed", "Failed", "Stopping", "Stopped"}),
        SM_API + "API_DescribeProcessingJob.html",
    ),
    ("SageMaker Training Job State Change", "TrainingJobStatus"): (
        frozenset({"InProgress", "Completed", "Failed", "Stopping", "Stopped"}),
        SM_API + "API_DescribeTrainingJob.html",
    ),
    ("SageMaker Transform Job State Change", "TransformJobStatus"): (
        frozenset({"InProgress", "Completed", "Failed", "Stopping", "Stopped"}),
        SM_API + "API_DescribeTransformJob.html",
    ),
    ("SageMaker HyperParameter Tuning Job State Change", "HyperParameterTuningJobStatus"): (
        frozenset({"Completed", "InProgress", "Failed", "Stopped", "Stopping", "Deleting", "DeleteFailed"}),
        SM_API + "API_DescribeHyperParameterTuningJob.html",
    ),
}

# Fields whose values are names we choose (pipelines, buckets, jobs, alarms): any literal is fine there.
OUR_NAMES = {
    ("CodePipeline Pipeline Execution State Change", "pipeline"),
    ("CodeCommit Repository State Change", "referenceName"),
    ("CodeCommit Repository State Change", "repositoryName"),
    ("Object Created", "bucket.name"),
    ("Object Created", "object.key"),
    ("CloudWatch Alarm State Change", "alarmName"),
    ("SageMaker Processing Job State Change", "ProcessingJobName"),
    ("SageMaker Training Job State Change", "TrainingJobName"),
    ("SageMaker Transform Job State Change", "TransformJobName"),
    ("SageMaker HyperParameter Tuning Job State Change", "HyperParameterTuningJobName"),
}

# The detail keys our Lambda code reads, by detail-type (find every `event["detail"]` reader in
# lambdas/pipeline_orchestration: lifecycle.on_stack_event / on_pipeline_event, monitoring.on_execution /
# schedule_of_job / _job_output / on_alarm, triggers.on_codecommit_push).
READERS: dict[str, tuple[str, ...]] = {
    "CloudFormation Stack Status Change": ("stack-id",),
    "CloudFormation StackSet Operation Status Change": ("stack-set-arn",),
    "CodePipeline Pipeline Execution State Change": ("pipeline",),
    "CodePipeline Stage Execution State Change": ("pipeline",),
    "CodePipeline Action Execution State Change": ("pipeline",),
    "SageMaker Processing Job State Change": (
        "ProcessingJobName",
        "ProcessingJobArn",
        "ProcessingJobStatus",
        "FailureReason",
        "ProcessingOutputConfig.Outputs",
    ),
    "CloudWatch Alarm State Change": ("alarmName", "state.value", "state.reason"),
    "CodeCommit Repository State Change": (
        "repositoryName",
        "commitId",
        "oldCommitId",
        "event",
        "referenceType",
        "referenceName",
    ),
}
# Keys read only when present, each with why the documented event may lack it.
READ_WHEN_PRESENT = {
    ("SageMaker Processing Job State Change", "MonitoringScheduleArn"): "not in AWS's example: DescribeProcessingJob "
    "answers it (monitoring.schedule_of_job)",
    ("SageMaker Processing Job State Change", "ExitMessage"): "DescribeProcessingJob's field, a fallback for "
    "FailureReason",
}


def _has(detail: Mapping[str, Any], path: str) -> bool:
    value: Any = detail
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return False
        value = value[part]
    return True


def _filters(detail: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, list[Any]]]:
    """(field path, matchers) for every leaf of a pattern's `detail`."""
    for key, value in detail.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _filters(value, f"{path}.")
        else:
            yield path, list(value)


def problems(pattern: Mapping[str, Any]) -> list[str]:
    """What in a rule's event pattern AWS's documented events do not have."""
    found = []
    for source in pattern.get("source", []):
        for detail_type in pattern.get("detail-type", []):
            event = DOCUMENTED.get((source, detail_type))
            if event is None:
                found.append(f"no documented event of source {source!r} and detail-type {detail_type!r}")
                continue
            for path, matchers in _filters(pattern.get("detail", {})):
                exists_false = any(isinstance(m, Mapping) and m.get("exists") is False for m in matchers)
                if not exists_false and not _has(event["detail"], path):
                    found.append(f"{detail_type}: the documented event has no detail.{path}")
                    continue
                literals = [m for m in matchers if isinstance(m, str)]
                if not literals or (detail_type, path) in OUR_NAMES:
                    continue
                documented = DOCUMENTED_VALUES.get((detail_type, path))
                if documented is None:
                    found.append(f"{detail_type}: no documented values for detail.{path} (filters {literals})")
                    continue
                values, page = documented
                found += [
                    f"{detail_type}: {v!r} is not a documented detail.{path} ({page})"
                    for v in literals
                    if v not in values
                ]
    return found


def _rules(templates: Mapping[str, Mapping[str, Any]]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for stack, template in sorted(templates.items()):
        for logical_id, resource in sorted(template.get("Resources", {}).items()):
            if resource.get("Type") == "AWS::Events::Rule" and "EventPattern" in resource.get("Properties", {}):
                yield stack, logical_id, resource["Properties"]["EventPattern"]


# ---------------------------------------------------------------------------------------------------------
# The documented examples themselves


def test_every_fixture_names_its_page_and_is_an_eventbridge_event():
    for path in sorted(EVENTS_DIR.glob("*.json")):
        body = json.loads(path.read_text())
        assert set(body) <= {"source_url", "event", "notes"}, path.name
        assert body["source_url"].startswith("https://docs.aws.amazon.com/"), path.name
        assert {"source", "detail-type", "detail"} <= set(body["event"]), path.name
    assert len(DOCUMENTED) == len(list(EVENTS_DIR.glob("*.json")))  # one file per detail-type


def test_documented_value_tables_agree_with_the_examples():
    """Each documented example's own value is in the table for its field (where the example is no placeholder)."""
    for (detail_type, path), (values, _) in DOCUMENTED_VALUES.items():
        (event,) = [e for (_, t), e in DOCUMENTED.items() if t == detail_type]
        value: Any = event["detail"]
        for part in path.split("."):
            value = value[part]
        placeholder = detail_type in (
            "SageMaker Transform Job State Change",
            "SageMaker HyperParameter Tuning Job State Change",
        )
        assert placeholder or value in values, (detail_type, path, value)


# ---------------------------------------------------------------------------------------------------------
# Every rule of every template


@pytest.mark.synth
def test_every_rule_of_every_template_filters_on_what_aws_documents(synthesized):
    rules = list(_rules(synthesized.templates))
    assert len(rules) >= 7  # the orchestrator's six, the config trigger, the blueprints'
    failures = [f"{stack}/{logical_id}: {p}" for stack, logical_id, pattern in rules for p in problems(pattern)]
    assert failures == []


@pytest.mark.synth
def test_the_rules_name_the_detail_types_our_readers_read(synthesized):
    """Every detail-type a rule sends to the orchestrator has a reader entry (and so a checked field list)."""
    orchestrated = {
        t
        for _, logical_id, pattern in _rules(synthesized.templates)
        if logical_id.startswith(("Pipeline", "Monitor", "CodeCommitTrigger"))
        for t in pattern.get("detail-type", [])
    }
    assert orchestrated and orchestrated <= set(READERS)


# ---------------------------------------------------------------------------------------------------------
# Every reader


@pytest.mark.parametrize("detail_type", sorted(READERS))
def test_every_field_a_reader_reads_is_in_the_documented_event(detail_type):
    (event,) = [e for (_, t), e in DOCUMENTED.items() if t == detail_type]
    missing = [key for key in READERS[detail_type] if not _has(event["detail"], key)]
    assert missing == []


def test_fields_read_only_when_present_are_truly_absent_from_the_documented_event():
    """Kept honest the other way: once AWS documents one of them, it moves to READERS."""
    for (detail_type, key), _why in READ_WHEN_PRESENT.items():
        (event,) = [e for (_, t), e in DOCUMENTED.items() if t == detail_type]
        assert not _has(event["detail"], key), key


ROUTES = {
    "aws.cloudformation": "on_stack_event",
    "aws.codepipeline": "on_pipeline_event",
    "aws.codecommit": "on_codecommit_push",
    "aws.cloudwatch": "on_monitoring_event",
    "aws.sagemaker": "on_monitoring_event",
}


@pytest.mark.parametrize("detail_type", sorted(READERS))
def test_the_handler_routes_every_documented_event_to_its_reader(detail_type):
    """The orchestrator's handler recognises each documented event a rule sends it, by source and detail-type,
    and hands it to the service function whose reader READERS describes."""
    from lambdas.pipeline_orchestration import index

    ((source, _), event) = next((k, e) for k, e in DOCUMENTED.items() if k[1] == detail_type)
    called: list[str] = []

    class Recorder:
        def __getattr__(self, name: str) -> Any:
            return lambda *_args, **_kwargs: called.append(name) or {}

    index.handle(event, Recorder())  # type: ignore[arg-type]
    assert called == [ROUTES[source]]


# ---------------------------------------------------------------------------------------------------------
# Each check bites


BROKEN = {
    "a detail-type AWS does not send for these statuses": {
        "source": ["aws.cloudformation"],
        "detail-type": ["CloudFormation StackSet Status Change"],
        "detail": {"status-details": {"status": ["SUCCEEDED", "FAILED"]}},
    },
    "a detail-type with no documented event": {
        "source": ["aws.cloudformation"],
        "detail-type": ["CloudFormation StackSet Finished"],
    },
    "a field the documented event lacks": {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Processing Job State Change"],
        "detail": {"ProcessingJobStatus": ["Completed"], "MonitoringScheduleArn": [{"exists": True}]},
    },
    "a value not documented": {
        "source": ["aws.codepipeline"],
        "detail-type": ["CodePipeline Pipeline Execution State Change"],
        "detail": {"state": ["SUCCEEDED", "COMPLETED"]},
    },
    "an enumeration with no documented values": {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"reason": ["PutObject"]},
    },
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_rule_is_caught(case):
    assert problems(BROKEN[case]) != []


def test_a_rule_as_aws_documents_it_passes():
    assert (
        problems(
            {
                "source": ["aws.cloudformation"],
                "detail-type": ["CloudFormation StackSet Operation Status Change"],
                "detail": {"status-details": {"status": ["SUCCEEDED", "FAILED", "STOPPED"]}},
            }
        )
        == []
    )


def test_a_reader_of_a_missing_field_is_caught():
    (event,) = [e for (_, t), e in DOCUMENTED.items() if t == "SageMaker Processing Job State Change"]
    assert not _has(event["detail"], "MonitoringScheduleArn") and _has(event["detail"], "ProcessingJobStatus")
