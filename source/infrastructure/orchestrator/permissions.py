# SPDX-License-Identifier: Apache-2.0
"""IAM statements of the orchestrator: its Lambda, and the CloudFormation service role it passes.

Every action is listed by name (no wildcards in actions). Resources are scoped to the `mlops-pipeline*` names
the orchestrator gives its stacks, and that CloudFormation derives from the stack name for what those stacks
create; a wildcard remains only where the name is the user's (SageMaker jobs, model cards) or the API takes none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Aws, Stack
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from infrastructure.boundary import with_boundary
from infrastructure.distribution import BLUEPRINT_LAMBDAS_PATTERN
from infrastructure.iam_actions import LAMBDA_FUNCTION_ACTIONS
from infrastructure.nag import acknowledge
from lambdas.pipeline_orchestration.catalogue import ARTIFACT_WRITERS_PATH, PIPELINE_PREFIX
from lambdas.pipeline_orchestration.monitoring import NAMESPACE, VIOLATIONS_FILE
from lambdas.pipeline_orchestration.spec import SAGEMAKER_KINDS


def arn(service: str, resource: str, region: str = Aws.REGION, account: str = Aws.ACCOUNT_ID) -> str:
    return f"arn:{Aws.PARTITION}:{service}:{region}:{account}:{resource}"


def bucket_arn(bucket_name: str) -> str:
    return f"arn:{Aws.PARTITION}:s3:::{bucket_name}"


@dataclass
class Grant:
    """One policy statement, and why its resources hold a wildcard when they do (for cdk-nag)."""

    actions: list[str]
    resources: list[str]
    reason: str = ""
    conditions: dict[str, Any] = field(default_factory=dict)

    def statement(self) -> iam.PolicyStatement:
        return iam.PolicyStatement(
            actions=sorted(self.actions), resources=self.resources, conditions=self.conditions or None
        )


def statement(actions: list[str], resources: list[str], reason: str = "", **kwargs: Any) -> Grant:
    return Grant(actions, resources, reason, kwargs.get("conditions") or {})


def policy_document(grants: Iterable[Grant]) -> iam.PolicyDocument:
    return iam.PolicyDocument(statements=[grant.statement() for grant in grants])


def _nag_form(value: Any) -> str:
    """A resolved resource as cdk-nag prints it in an IAM5 finding id."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Fn::Join" and argument[0] == "":
            return "".join(_nag_form(part) for part in argument[1])
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
    return json.dumps(value, separators=(",", ":"))


def acknowledge_wildcards(construct: IConstruct, grants: Iterable[Grant]) -> None:
    """Acknowledge the IAM5 finding of every wildcard resource, with its grant's reason."""
    stack = Stack.of(construct)
    findings: dict[str, str] = {}
    for grant in grants:
        for resource in grant.resources:
            rendered = _nag_form(stack.resolve(resource))
            if "*" in rendered:
                if not grant.reason:
                    raise ValueError(f"{rendered} ({', '.join(grant.actions)}) needs a reason for its wildcard")
                findings.setdefault(f"AwsSolutions-IAM5[Resource::{rendered}]", grant.reason)
    acknowledge(construct, *findings.items())


PIPELINE_STACKS = arn("cloudformation", f"stack/{PIPELINE_PREFIX}*/*")
# Log groups of the wrapper stacks: a function's or a project's default group, and a group CloudFormation names
# `<stack>-<logical id>-<suffix>` (the StackSet deployer's), whose stack is a mlops-pipeline one.
PIPELINE_LOG_GROUPS = [
    arn("logs", f"log-group:/aws/lambda/{PIPELINE_PREFIX}*"),
    arn("logs", f"log-group:/aws/codebuild/{PIPELINE_PREFIX}*"),
    arn("logs", f"log-group:{PIPELINE_PREFIX}*"),
]


def orchestrator_statements(
    *,
    assets_bucket: str,
    blueprints_bucket_arn: str,
    cfn_role_arn: str,
    topic_arn: str,
    pipeline_index_arn: str,
    pipeline_index_gsi: str,
    multi_account: bool,
    blueprints_bucket_name: str,
) -> list[Grant]:
    """What the orchestrator Lambda does: provisioner.py, status.py, triggers.py, adapters.py, model cards,
    the pipeline index."""
    # planner.template_url: the only templates the orchestrator may create or update a stack from.
    blueprints_template_urls = f"https://{blueprints_bucket_name}.s3.{Aws.REGION}.{Aws.URL_SUFFIX}/blueprints/*"
    # Every SageMaker resource the adapters describe (what each pipeline type deploys, and the model cards' reads).
    sagemaker_read = {f"sagemaker:{k.action}": f"{k.arn_type}/*" for k in SAGEMAKER_KINDS.values()}
    statements = [
        statement(
            [
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:DeleteObjectVersion",
            ],
            [f"{bucket_arn(assets_bucket)}/*"],
            "The orchestrator writes and removes each pipeline's template.zip and request history, keyed by "
            "pipeline name, anywhere in the assets bucket.",
        ),
        statement(["s3:ListBucket", "s3:ListBucketVersions"], [bucket_arn(assets_bucket)]),
        statement(
            ["s3:GetObject"],
            [f"{blueprints_bucket_arn}/blueprints/*"],
            "Reads the blueprint template of the requested pipeline type from the blueprints/ prefix.",
        ),
        statement(
            ["cloudformation:CreateStack", "cloudformation:UpdateStack"],
            [PIPELINE_STACKS],
            "Only the orchestrator's own stacks, all named mlops-pipeline-<name>-<type>, and only from a template "
            "in its blueprints location.",
            conditions={"StringLike": {"cloudformation:TemplateUrl": blueprints_template_urls}},
        ),
        statement(
            [
                "cloudformation:DeleteStack",
                "cloudformation:DescribeStacks",
                "cloudformation:DescribeStackEvents",
                "cloudformation:ListStackResources",
                "cloudformation:TagResource",
            ],
            [PIPELINE_STACKS],
            "Only the orchestrator's own stacks, all named mlops-pipeline-<name>-<type>; the stack id suffix is "
            "a UUID CloudFormation assigns.",
        ),
        statement(
            ["cloudformation:DescribeStacks"],
            ["*"],  # a listing without a stack name is authorized only on * (reason below)
            "The first GET /pipelines fills the pipeline index from DescribeStacks without a stack name, which "
            "IAM authorizes only on *; the answer is filtered to the orchestrator's mlops-pipeline-* stacks.",
        ),
        statement(
            [
                "codepipeline:GetPipeline",
                "codepipeline:GetPipelineState",
                "codepipeline:ListPipelineExecutions",
            ],
            [arn("codepipeline", f"{PIPELINE_PREFIX}*")],
            "The pipelines of the orchestrator's stacks, named after their mlops-pipeline-* stack.",
        ),
        statement(
            ["codepipeline:StopPipelineExecution"],
            [arn("codepipeline", f"{PIPELINE_PREFIX}*")],
            "POST /pipelines/{name}/stop stops the running execution of a pipeline of the orchestrator's stacks.",
        ),
        statement(
            ["codepipeline:PutApprovalResult"],
            [arn("codepipeline", f"{PIPELINE_PREFIX}*/*/*")],
            "POST /pipelines/{name}/approval answers the manual approval action of a pipeline stage.",
        ),
        statement(
            ["iam:PassRole"],
            [cfn_role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
        ),
        statement(["sns:Publish"], [topic_arn]),
        statement(
            ["iam:ListRoleTags"],
            [f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/*"],
            "With TeamTagKey, a caller role's team is its tag: API Gateway passes no principal tags, so the "
            "orchestrator reads them, once per role, from the roles of this account that call its API.",
        ),
        statement(
            ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query"],
            [pipeline_index_arn, f"{pipeline_index_arn}/index/{pipeline_index_gsi}"],
        ),
        *(
            statement(
                [action],
                [arn("sagemaker", resource)],
                "Status reads of the SageMaker resources a pipeline created; their names come from the request.",
            )
            for action, resource in sorted(sagemaker_read.items())
        ),
        statement(
            [
                "sagemaker:CreateModelCard",
                "sagemaker:DescribeModelCard",
                "sagemaker:UpdateModelCard",
                "sagemaker:DeleteModelCard",
                "sagemaker:ListModelCardVersions",
                "sagemaker:CreateModelCardExportJob",
                "sagemaker:ListModelCardExportJobs",
            ],
            [arn("sagemaker", "model-card/*")],
            "Model-card operations of the API: the card name is the caller's.",
        ),
        statement(
            ["sagemaker:DescribeModelCardExportJob"],
            [arn("sagemaker", "model-card/*/export-job/*")],
            "Model-card export status: card and export job names are the caller's.",
        ),
        statement(["sagemaker:ListModelCards"], ["*"], "ListModelCards takes no resource; IAM accepts only *."),
        statement(
            ["sagemaker:ListTags"],
            [arn("sagemaker", "endpoint/*")],
            "A monitor's endpoint: its CloudFormation stack tag says whether this orchestrator deployed it.",
        ),
        statement(
            ["sagemaker:DescribeModelPackage"],
            [arn("sagemaker", "model-package/*/*")],
            "A request's model package, read before planning: its artifacts are the objects its model may read.",
        ),
        # The monitoring loop (the monitoring package): an execution's status, its violations report, the metric.
        statement(
            ["sagemaker:ListMonitoringExecutions"],
            ["*"],
            "ListMonitoringExecutions takes no resource; IAM accepts only *. It reads execution summaries of the "
            "monitor's own schedule.",
        ),
        statement(
            ["s3:GetObject"],
            [f"arn:{Aws.PARTITION}:s3:::*/*/{VIOLATIONS_FILE}"],
            "Monitoring reports are written to the bucket/prefix each monitor request names; only their "
            "constraint_violations.json files are read, in buckets of the orchestrator's own account.",
            conditions={"StringEquals": {"s3:ResourceAccount": Aws.ACCOUNT_ID}},
        ),
        statement(
            ["cloudwatch:PutMetricData"],
            ["*"],
            "PutMetricData takes no resource; the condition limits it to the monitoring loop's namespace.",
            conditions={"StringEquals": {"cloudwatch:namespace": NAMESPACE}},
        ),
    ]
    if multi_account:
        statements += [
            statement(
                [
                    "cloudformation:DescribeStackSet",
                    "cloudformation:DescribeStackInstance",
                    "cloudformation:DescribeStackSetOperation",
                    "cloudformation:ListStackSetOperations",
                    "cloudformation:ListStackInstances",
                    "cloudformation:DeleteStackInstances",
                    "cloudformation:DeleteStackSet",
                ],
                [arn("cloudformation", f"stackset/{PIPELINE_PREFIX}*:*")],
                "The StackSets of the orchestrator's pipelines, named mlops-pipeline-<name>-<type>-<stage>-<id>.",
            ),
            statement(
                ["organizations:ListDelegatedAdministrators"],
                ["*"],  # the API takes no resource (reason below)
                "StackSet calls as delegated administrator check the account's status; the API takes no resource.",
            ),
        ]
    return statements


def codecommit_statements(repository_arn: str) -> list[Grant]:
    return [
        statement(
            ["codecommit:GetFile", "codecommit:GetDifferences", "codecommit:PostCommentForComparedCommit"],
            [repository_arn],
        )
    ]


def config_bucket_statements(bucket_name: str) -> list[Grant]:
    """Read mlops-config.json, write mlops-config.result.json beside it (see triggers.py)."""
    return [
        statement(["s3:GetObject"], [f"{bucket_arn(bucket_name)}/mlops-config.json"]),
        statement(["s3:PutObject"], [f"{bucket_arn(bucket_name)}/mlops-config.result.json"]),
    ]


def connection_pipeline_statements(connection_arn: str, artifacts_bucket_arn: str, function_arn: str) -> list[Grant]:
    """The config-source pipeline's role: use the connection (CodeConnections answers to both prefixes), keep its
    artifacts in its own bucket, invoke the orchestrator."""
    return [
        statement(["codeconnections:UseConnection", "codestar-connections:UseConnection"], [connection_arn]),
        statement(["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"], [f"{artifacts_bucket_arn}/*"]),
        statement(["s3:GetBucketVersioning", "s3:GetBucketLocation"], [artifacts_bucket_arn]),
        statement(["lambda:InvokeFunction"], [function_arn]),
    ]


def connection_job_statements(artifacts_bucket_arn: str, result_file: str) -> list[Grant]:
    """The orchestrator as the pipeline's hand-off action: read the source artifact, write the result file at the
    bucket's root, answer the job (see triggers.on_pipeline_job)."""
    return [
        statement(["s3:GetObject"], [f"{artifacts_bucket_arn}/*"]),
        statement(["s3:PutObject"], [f"{artifacts_bucket_arn}/{result_file}"]),
        statement(["codepipeline:PutJobSuccessResult", "codepipeline:PutJobFailureResult"], ["*"]),
    ]


CFN_ROLE_REASON = (
    "CloudFormation names what the orchestrator's mlops-pipeline-* stacks create after the stack, so the "
    "names share that prefix; the rest of the name is generated by CloudFormation."
)


def cloudformation_role_statements(*, topic_arn: str, boundary_arn: str = "") -> list[Grant]:
    """What the CodePipeline wrapper stacks and the image-builder stack create, all named `mlops-pipeline*`.

    CloudFormation names a stack's roles, functions, pipelines, rules, buckets and log groups after the stack,
    so the orchestrator's stack names (`mlops-pipeline-...`) carry over to them.
    """
    role = arn("iam", f"role/{PIPELINE_PREFIX}*", region="")
    # The wrapper pipelines' own roles live on the path that alone may write pipeline artifacts.
    roles = [role, arn("iam", f"role{ARTIFACT_WRITERS_PATH}{PIPELINE_PREFIX}*", region="")]
    policy = arn("iam", f"policy/{PIPELINE_PREFIX}*", region="")
    grants = [
        statement(
            [
                "iam:DeleteRole",
                "iam:GetRole",
                "iam:UpdateRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:GetRolePolicy",
                "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
            ],
            roles,
        ),
        statement(
            # A pipeline stack's role gets permissions only with the boundary attached: never more than it.
            ["iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:PutRolePermissionsBoundary"],
            roles,
            conditions=with_boundary(boundary_arn),
        ),
        statement(
            ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
            roles,
            # Only the stacks' own managed policies: never AdministratorAccess or any AWS managed policy.
            conditions={"ArnLike": {"iam:PolicyARN": policy}, **with_boundary(boundary_arn)},
        ),
        statement(
            [
                "iam:CreatePolicy",
                "iam:DeletePolicy",
                "iam:GetPolicy",
                "iam:CreatePolicyVersion",
                "iam:DeletePolicyVersion",
                "iam:GetPolicyVersion",
                "iam:ListPolicyVersions",
            ],
            [policy],
        ),
        statement(
            ["iam:PassRole"],
            roles,
            conditions={
                "StringEquals": {
                    "iam:PassedToService": [
                        "codebuild.amazonaws.com",
                        "codepipeline.amazonaws.com",
                        "events.amazonaws.com",
                        "lambda.amazonaws.com",
                    ]
                }
            },
        ),
        statement(
            [
                "codepipeline:CreatePipeline",
                "codepipeline:DeletePipeline",
                "codepipeline:GetPipeline",
                "codepipeline:GetPipelineState",
                "codepipeline:UpdatePipeline",
                "codepipeline:TagResource",
                "codepipeline:UntagResource",
                "codepipeline:ListTagsForResource",
            ],
            [arn("codepipeline", f"{PIPELINE_PREFIX}*")],
        ),
        statement(
            [
                "codebuild:CreateProject",
                "codebuild:DeleteProject",
                "codebuild:UpdateProject",
                "codebuild:BatchGetProjects",
                "codebuild:CreateReportGroup",
                "codebuild:DeleteReportGroup",
                "codebuild:UpdateReportGroup",
                "codebuild:BatchGetReportGroups",
            ],
            [arn("codebuild", f"project/{PIPELINE_PREFIX}*"), arn("codebuild", f"report-group/{PIPELINE_PREFIX}*")],
        ),
        statement(
            LAMBDA_FUNCTION_ACTIONS,
            [arn("lambda", f"function:{PIPELINE_PREFIX}*")],
        ),
        statement(
            [
                "events:PutRule",
                "events:DeleteRule",
                "events:DescribeRule",
                "events:EnableRule",
                "events:DisableRule",
                "events:PutTargets",
                "events:RemoveTargets",
                "events:TagResource",
                "events:UntagResource",
            ],
            [arn("events", f"rule/{PIPELINE_PREFIX}*")],
        ),
        statement(
            [
                "sns:CreateTopic",
                "sns:DeleteTopic",
                "sns:GetTopicAttributes",
                "sns:SetTopicAttributes",
                "sns:TagResource",
                "sns:UntagResource",
            ],
            [arn("sns", f"{PIPELINE_PREFIX}*")],
        ),
        statement(
            ["sns:Subscribe", "sns:GetTopicAttributes"],
            [topic_arn],
            "E-mail and Lambda subscriptions of the pipelines to the notifications topic.",
        ),
        statement(
            ["sns:Unsubscribe", "sns:GetSubscriptionAttributes"],
            ["*"],
            "The subscription handler reads and removes subscriptions, which the Service Authorization Reference "
            "authorizes on no resource type (list_amazonsns.html).",
        ),
        statement(
            [
                "s3:CreateBucket",
                "s3:DeleteBucket",
                "s3:GetBucketLocation",
                "s3:GetBucketPolicy",
                "s3:PutBucketPolicy",
                "s3:DeleteBucketPolicy",
                "s3:PutBucketVersioning",
                "s3:PutEncryptionConfiguration",
                "s3:PutBucketPublicAccessBlock",
                "s3:PutBucketOwnershipControls",
                "s3:PutBucketTagging",
                "s3:PutBucketLogging",
                "s3:PutLifecycleConfiguration",
            ],
            [bucket_arn(f"{PIPELINE_PREFIX}*")],
        ),
        statement(
            [
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:PutRetentionPolicy",
                "logs:DeleteRetentionPolicy",
                "logs:TagResource",
                "logs:UntagResource",
            ],
            PIPELINE_LOG_GROUPS,
        ),
        statement(
            ["logs:DescribeLogGroups"],
            ["*"],
            "CloudFormation lists log groups to find the one it manages; the Service Authorization Reference "
            "authorizes DescribeLogGroups on no resource type (list_amazoncloudwatchlogs.html).",
        ),
    ]
    for grant in grants:
        grant.reason = grant.reason or CFN_ROLE_REASON
    return grants


def cloudformation_handler_statements(*, blueprints_bucket_arn: str) -> list[Grant]:
    """What CloudFormation's handlers call beyond create and delete for the wrapper stacks: reads after each
    change, role updates, and the StackSet deployer's code (see tests/infrastructure/test_handler_permissions.py)."""
    return [
        statement(["iam:UpdateRoleDescription"], [arn("iam", f"role/{PIPELINE_PREFIX}*", region="")], CFN_ROLE_REASON),
        statement(
            # Lambda reads a function's code with the credentials of the caller of CreateFunction.
            ["s3:GetObject"],
            [f"{blueprints_bucket_arn}/{BLUEPRINT_LAMBDAS_PATTERN}"],
            "The multi-account pipeline's StackSet deployer code, named by its content hash in the blueprints bucket.",
        ),
        statement(
            ["events:ListTagsForResource", "events:ListTargetsByRule"],
            [arn("events", f"rule/{PIPELINE_PREFIX}*")],
            CFN_ROLE_REASON,
        ),
        statement(
            [
                "logs:GetDataProtectionPolicy",
                "logs:DeleteDataProtectionPolicy",
                "logs:ListTagsForResource",
            ],
            PIPELINE_LOG_GROUPS,
            CFN_ROLE_REASON,
        ),
        statement(
            ["logs:DescribeResourcePolicies", "logs:DescribeIndexPolicies"],
            ["*"],
            "The log-group handler reads the account's log resource and index policies; the Service Authorization "
            "Reference authorizes both on no resource type (list_amazoncloudwatchlogs.html).",
        ),
    ]
