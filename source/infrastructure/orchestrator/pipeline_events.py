# SPDX-License-Identifier: Apache-2.0
"""Status changes of the pipelines' stacks, StackSets and CodePipelines, sent to the orchestrator: they keep the
pipeline index current and continue teardowns (DELETE /pipelines/{name} waits for stacks). Monitoring executions
and monitor alarms close the monitoring loop."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as aws_lambda
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from lambdas.pipeline_orchestration.lifecycle import STACK_SET_OPERATION_EVENT, STACK_SET_OPERATION_FINISHED
from lambdas.pipeline_orchestration.monitoring import PROCESSING_JOB_EVENT, TERMINAL_STATUSES

from . import permissions
from .logical_ids import StackLevel

RECONCILE_MINUTES = 15  # local mode reconciles on its own, shorter clock (local/runner.py: RECONCILE_SECONDS)


class PipelineEvents(StackLevel):
    """EventBridge rules that send every mlops-pipeline event to `function`; undeliverable ones go to
    `dead_letters`."""

    def __init__(
        self, scope: Construct, construct_id: str, *, function: aws_lambda.IFunction, dead_letters: sqs.IQueue
    ) -> None:
        super().__init__(scope, construct_id)
        target = targets.LambdaFunction(function, retry_attempts=2, dead_letter_queue=dead_letters)
        events.Rule(
            self,
            "PipelineStackEvents",
            description="Every status change of mlops-pipeline stacks keeps the pipeline index current and "
            "continues pipeline teardowns",
            event_pattern=events.EventPattern(
                source=["aws.cloudformation"],
                detail_type=["CloudFormation Stack Status Change"],
                resources=events.Match.prefix(
                    permissions.arn("cloudformation", f"stack/{permissions.PIPELINE_PREFIX}")
                ),
            ),
            targets=[target],
        )
        # A StackSet operation (deploying or deleting stack instances) that finished. "CloudFormation StackSet
        # Status Change" only says ACTIVE or DELETED; SUCCEEDED, FAILED and STOPPED are the operation's statuses:
        # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/event-detail-stackset-operation-status-change.html
        events.Rule(
            self,
            "PipelineStackSetEvents",
            description="Finished operations of mlops-pipeline StackSets keep the pipeline index current and "
            "continue pipeline teardowns",
            event_pattern=events.EventPattern(
                source=["aws.cloudformation"],
                detail_type=[STACK_SET_OPERATION_EVENT],
                detail={"status-details": {"status": list(STACK_SET_OPERATION_FINISHED)}},
                resources=events.Match.prefix(
                    permissions.arn("cloudformation", f"stackset/{permissions.PIPELINE_PREFIX}")
                ),
            ),
            targets=[target],
        )
        # The pipeline's state follows its executions: started, stage by stage, ended; and its approvals.
        pipelines = events.Match.prefix(permissions.arn("codepipeline", permissions.PIPELINE_PREFIX))
        events.Rule(
            self,
            "PipelineExecutionEvents",
            description="Execution and stage state changes of mlops-pipeline CodePipelines keep the pipeline index "
            "current and report the outcome of config-file requests",
            event_pattern=events.EventPattern(
                source=["aws.codepipeline"],
                detail_type=[
                    "CodePipeline Pipeline Execution State Change",
                    "CodePipeline Stage Execution State Change",
                ],
                resources=pipelines,
            ),
            targets=[target],
        )
        events.Rule(
            self,
            "PipelineApprovalEvents",
            description="Manual approvals of mlops-pipeline CodePipelines that start or end keep the pipeline index "
            "current (WAITING_APPROVAL)",
            event_pattern=events.EventPattern(
                source=["aws.codepipeline"],
                detail_type=["CodePipeline Action Execution State Change"],
                detail={"type": {"category": ["Approval"]}},
                resources=pipelines,
            ),
            targets=[target],
        )
        # The monitoring loop: a monitoring execution's end publishes its violations count (and a failure notifies);
        # a monitor's violations alarm going to ALARM notifies and may retrain.
        # AWS's documented processing-job event carries no MonitoringScheduleArn, so the rule takes every finished
        # processing job and the orchestrator asks DescribeProcessingJob which schedule (if any) ran it:
        # https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html
        events.Rule(
            self,
            "MonitoringExecutionEvents",
            description="Finished processing jobs: those of a monitoring schedule publish their violations count; "
            "a failed one is notified",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=[PROCESSING_JOB_EVENT],
                detail={"ProcessingJobStatus": list(TERMINAL_STATUSES)},
            ),
            targets=[target],
        )
        events.Rule(
            self,
            "MonitorAlarmEvents",
            description="A mlops-pipeline monitor's violations alarm going to ALARM is notified and may start the "
            "retraining its request names",
            event_pattern=events.EventPattern(
                source=["aws.cloudwatch"],
                detail_type=["CloudWatch Alarm State Change"],
                detail={
                    "alarmName": events.Match.prefix(permissions.PIPELINE_PREFIX),
                    "state": {"value": ["ALARM"]},
                },
            ),
            targets=[target],
        )

        # The index heals: a scheduled reconciliation rewrites the items that disagree with the stacks and
        # executions (an event lost after its retries lands in `dead_letters`). The orchestrator recognises the
        # documented "Scheduled Event" (source aws.events):
        # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-rule-schedule.html
        events.Rule(
            self,
            "IndexReconciliation",
            description="Every 15 minutes, the pipeline index is reconciled with the stacks and executions",
            schedule=events.Schedule.rate(Duration.minutes(RECONCILE_MINUTES)),
            targets=[target],
        )
