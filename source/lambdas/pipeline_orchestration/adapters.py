# SPDX-License-Identifier: Apache-2.0
"""Small adapters around boto3: the only place the orchestrator's service touches AWS.

The same adapters serve Lambda, unit tests (moto) and local mode (moto's server); tests may swap one for a
fake where moto lacks the API (CodeCommit file and comment calls).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from lambdas.shared.aws import client, error_code, is_not_found, unavailable
from lambdas.shared.errors import DeletionFailed
from lambdas.shared.logging import get_logger

from .spec import SAGEMAKER_KINDS

logger = get_logger(__name__)


def aws_reason(error: Exception) -> str:
    """What an AWS call's failure says, fit for an answer: the error code and the service's message, never a raw
    body the client could not parse (XML, HTML) nor an internal exception's text."""
    busy = unavailable(error)
    if busy:  # throttled, failed on AWS's side or unanswered: named, with what to do
        return busy.reason
    if not is_client_error(error):  # type: ignore[arg-type]
        return f"{type(error).__name__} (the details are in the orchestrator's log)"
    message = str((getattr(error, "response", None) or {}).get("Error", {}).get("Message", "")).strip()
    if "<" in message or not message.isprintable():
        message = "the service's answer could not be read"
    message = message[:300] + ("..." if len(message) > 300 else "")
    return f"{error_code(error) or 'Error'}: {message}" if message else error_code(error) or "Error"


def http_status(error: Exception) -> int | None:
    response = getattr(error, "response", None) or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status else None


def is_client_error(error: Exception) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(error, ClientError)


class Storage:
    """S3 objects in the orchestrator's buckets."""

    def get(self, bucket: str, key: str, version_id: str | None = None) -> bytes:
        kwargs = {"VersionId": version_id} if version_id else {}
        return client("s3").get_object(Bucket=bucket, Key=key, **kwargs)["Body"].read()

    def find(self, bucket: str, key: str, version_id: str | None = None) -> bytes | None:
        """The object's bytes, or None when there is no such object (or version)."""
        try:
            return self.get(bucket, key, version_id)
        except Exception as error:
            if is_client_error(error) and error_code(error) in ("NoSuchKey", "NoSuchVersion", "404"):
                return None
            raise

    def put(
        self,
        bucket: str,
        key: str,
        body: bytes,
        content_type: str = "application/octet-stream",
        metadata: dict[str, str] | None = None,
        if_match: str | None = None,
    ) -> str | None:
        """Write an object; returns its version id (None on an unversioned bucket).

        `if_match` makes the write conditional: an ETag the current object must have, or "" for no object yet
        (S3 answers PreconditionFailed when another writer came first)."""
        kwargs: dict[str, Any] = {"Metadata": metadata} if metadata else {}
        if if_match is not None:
            kwargs.update({"IfMatch": if_match} if if_match else {"IfNoneMatch": "*"})
        response = client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, **kwargs)
        return response.get("VersionId")

    def head(self, bucket: str, key: str, version_id: str | None = None) -> dict[str, Any] | None:
        """VersionId, LastModified and Metadata of an object (or one version of it); None if absent."""
        kwargs = {"VersionId": version_id} if version_id else {}
        try:
            return client("s3").head_object(Bucket=bucket, Key=key, **kwargs)
        except Exception as error:
            if is_client_error(error) and error_code(error) in ("404", "NoSuchKey", "NoSuchVersion", "400"):
                return None
            raise

    def versions(self, bucket: str, key: str) -> list[dict[str, Any]]:
        """Every version and delete marker of one key, newest first (`DeleteMarker` True for markers)."""
        paginator = client("s3").get_paginator("list_object_versions")
        found = []
        for page in paginator.paginate(Bucket=bucket, Prefix=key):
            found += [{**v, "DeleteMarker": False} for v in page.get("Versions", []) if v["Key"] == key]
            found += [{**m, "DeleteMarker": True} for m in page.get("DeleteMarkers", []) if m["Key"] == key]
        return sorted(found, key=lambda v: v["LastModified"], reverse=True)

    def keys(self, bucket: str, prefix: str) -> list[str]:
        paginator = client("s3").get_paginator("list_objects_v2")
        return [o["Key"] for page in paginator.paginate(Bucket=bucket, Prefix=prefix) for o in page.get("Contents", [])]

    def delete_keys(self, bucket: str, keys: list[str]) -> None:
        """Delete the current objects (a versioned bucket keeps their history behind delete markers)."""
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            response = client("s3").delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                reason = f"{first.get('Code') or 'Error'}: {first.get('Message') or 'no message'}"
                raise DeletionFailed(
                    f"S3 did not delete {len(errors)} of {len(batch)} objects in s3://{bucket} (the first, "
                    f"{first['Key']}, {reason}). Fix the cause and call DELETE again: the teardown carries on "
                    "where it stopped.",
                    [f"s3://{bucket}/{e['Key']}" for e in errors],
                )

    def delete(self, bucket: str, key: str, version_id: str | None = None) -> None:
        kwargs = {"VersionId": version_id} if version_id else {}
        client("s3").delete_object(Bucket=bucket, Key=key, **kwargs)


STACK_TYPE = "AWS::CloudFormation::Stack"
OPERATION_STARTS = ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "IMPORT_IN_PROGRESS")


class Stacks:
    """CloudFormation stacks and StackSet instances."""

    def describe(self, name_or_id: str) -> dict[str, Any] | None:
        try:
            stacks = client("cloudformation").describe_stacks(StackName=name_or_id)["Stacks"]
        except Exception as error:
            if is_client_error(error) and error_code(error) == "ValidationError" and "does not exist" in str(error):
                return None
            raise
        return stacks[0] if stacks else None

    def page(self, token: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """One DescribeStacks page of every stack in the account and region (tags and parameters included)."""
        kwargs = {"NextToken": token} if token else {}
        response = client("cloudformation").describe_stacks(**kwargs)
        return response.get("Stacks", []), response.get("NextToken")

    def create(self, **kwargs: Any) -> str:
        return client("cloudformation").create_stack(**kwargs)["StackId"]

    def delete(self, name_or_id: str, role_arn: str = "") -> None:
        kwargs = {"RoleARN": role_arn} if role_arn else {}
        client("cloudformation").delete_stack(StackName=name_or_id, **kwargs)

    def update(self, **kwargs: Any) -> str:
        return client("cloudformation").update_stack(**kwargs)["StackId"]

    def first_failure(self, name_or_id: str) -> str | None:
        """The reason of the first resource that failed in the stack's latest operation (its events, newest
        first, read back to where the operation began), or None."""
        found = None
        paginator = client("cloudformation").get_paginator("describe_stack_events")
        for page in paginator.paginate(StackName=name_or_id, PaginationConfig={"MaxItems": 500}):
            for event in page.get("StackEvents", []):
                status, of_stack = event.get("ResourceStatus", ""), event.get("ResourceType") == STACK_TYPE
                if of_stack and status in OPERATION_STARTS:
                    return found  # the operation's first event: the failure found last is its first
                if not of_stack and status.endswith("_FAILED") and event.get("ResourceStatusReason"):
                    found = f"{event.get('LogicalResourceId')}: {event['ResourceStatusReason']}"
        return found

    def resources(self, name_or_id: str) -> list[dict[str, Any]]:
        paginator = client("cloudformation").get_paginator("list_stack_resources")
        return [r for page in paginator.paginate(StackName=name_or_id) for r in page["StackResourceSummaries"]]

    def stack_instance(self, stackset: str, account: str, region: str, call_as: str) -> dict[str, Any] | None:
        try:
            return client("cloudformation").describe_stack_instance(
                StackSetName=stackset, StackInstanceAccount=account, StackInstanceRegion=region, CallAs=call_as
            )["StackInstance"]
        except Exception as error:
            if is_client_error(error) and error_code(error) in (
                "StackSetNotFoundException",
                "StackInstanceNotFoundException",
            ):
                return None
            raise

    def stack_set(self, name: str, call_as: str) -> dict[str, Any] | None:
        try:
            return client("cloudformation").describe_stack_set(StackSetName=name, CallAs=call_as)["StackSet"]
        except Exception as error:
            if is_client_error(error) and error_code(error) == "StackSetNotFoundException":
                return None
            raise

    def stack_instances(self, stackset: str, call_as: str) -> list[dict[str, Any]]:
        paginator = client("cloudformation").get_paginator("list_stack_instances")
        pages = paginator.paginate(StackSetName=stackset, CallAs=call_as)
        return [summary for page in pages for summary in page.get("Summaries", [])]

    def stack_set_busy(self, stackset: str, call_as: str) -> bool:
        """True while an operation (create, update, delete of instances) runs on the StackSet."""
        response = client("cloudformation").list_stack_set_operations(StackSetName=stackset, CallAs=call_as)
        return any(op.get("Status") in ("RUNNING", "STOPPING", "QUEUED") for op in response.get("Summaries", []))

    def delete_stack_instances(
        self, stackset: str, regions: list[str], accounts: list[str], org_units: list[str], call_as: str
    ) -> str:
        """Delete the instances (and their stacks); OU targets for service-managed StackSets, else accounts."""
        targets: dict[str, Any] = (
            {"DeploymentTargets": {"OrganizationalUnitIds": org_units}} if org_units else {"Accounts": accounts}
        )
        return client("cloudformation").delete_stack_instances(
            StackSetName=stackset, Regions=regions, RetainStacks=False, CallAs=call_as, **targets
        )["OperationId"]

    def delete_stack_set(self, stackset: str, call_as: str) -> None:
        client("cloudformation").delete_stack_set(StackSetName=stackset, CallAs=call_as)


class Pipelines:
    def state(self, name: str) -> dict[str, Any]:
        response = client("codepipeline").get_pipeline_state(name=name)
        response.pop("ResponseMetadata", None)
        return response

    def put_approval(
        self, name: str, stage_name: str, action_name: str, token: str, approved: bool, comment: str
    ) -> None:
        """Answer one manual approval action, named exactly, with the token of its waiting run."""
        client("codepipeline").put_approval_result(
            pipelineName=name,
            stageName=stage_name,
            actionName=action_name,
            result={
                "summary": comment or ("Approved" if approved else "Rejected"),
                "status": "Approved" if approved else "Rejected",
            },
            token=token,
        )

    def put_job_result(self, job_id: str, succeeded: bool, message: str) -> None:
        """Answer a Lambda invoke action's job: its summary on success, its failure's reason otherwise."""
        if succeeded:
            client("codepipeline").put_job_success_result(jobId=job_id, executionDetails={"summary": message[:2048]})
        else:
            client("codepipeline").put_job_failure_result(
                jobId=job_id, failureDetails={"type": "JobFailed", "message": message[:5000]}
            )

    def stop(self, name: str, execution_id: str, reason: str) -> None:
        """Stop an execution, abandoning its actions in progress (StopPipelineExecution with abandon)."""
        client("codepipeline").stop_pipeline_execution(
            pipelineName=name, pipelineExecutionId=execution_id, abandon=True, reason=reason[:200]
        )

    def executions(self, name: str, limit: int = 100) -> list[dict[str, Any]]:
        """The pipeline's most recent executions, newest first (status and S3 source revisions)."""
        paginator = client("codepipeline").get_paginator("list_pipeline_executions")
        found: list[dict[str, Any]] = []
        for page in paginator.paginate(pipelineName=name, PaginationConfig={"MaxItems": limit}):
            found += page.get("pipelineExecutionSummaries", [])
        return found


# SageMaker describe calls by resource kind: (operation, name parameter, status key).
SAGEMAKER_DESCRIBE = {kind: (k.describe, k.name_parameter, k.status_key) for kind, k in SAGEMAKER_KINDS.items()}


def _described(describe: Any, **kwargs: Any) -> dict[str, Any] | None:
    """A SageMaker describe's answer, or None when the resource does not exist."""
    try:
        response = describe(**kwargs)
    except Exception as error:
        if is_client_error(error) and is_not_found(error):
            return None
        raise
    response.pop("ResponseMetadata", None)
    return dict(response)


class SageMaker:
    """The SageMaker calls of the describe route and of the model-card operations."""

    def describe(self, kind: str, name: str) -> dict[str, Any] | None:
        operation, parameter, _ = SAGEMAKER_DESCRIBE[kind]
        return _described(getattr(client("sagemaker"), operation), **{parameter: name})

    def endpoint_tags(self, name: str) -> dict[str, str] | None:
        """An endpoint's tags (DescribeEndpoint, ListTags), or None when it does not exist."""
        endpoint = _described(client("sagemaker").describe_endpoint, EndpointName=name)
        if endpoint is None:
            return None
        paginator = client("sagemaker").get_paginator("list_tags")
        pages = paginator.paginate(ResourceArn=endpoint["EndpointArn"])
        return {tag["Key"]: tag["Value"] for page in pages for tag in page.get("Tags", [])}

    def model_package(self, arn: str) -> dict[str, Any] | None:
        """A model package version (DescribeModelPackage), or None when it does not exist."""
        return _described(client("sagemaker").describe_model_package, ModelPackageName=arn)

    def create_model_card(self, **kwargs: Any) -> str:
        return client("sagemaker").create_model_card(**kwargs)["ModelCardArn"]

    def update_model_card(self, **kwargs: Any) -> str:
        return client("sagemaker").update_model_card(**kwargs)["ModelCardArn"]

    def describe_model_card(self, name: str, version: int | None = None) -> dict[str, Any] | None:
        kwargs: dict[str, Any] = {"ModelCardName": name}
        if version is not None:
            kwargs["ModelCardVersion"] = version
        return _described(client("sagemaker").describe_model_card, **kwargs)

    def delete_model_card(self, name: str) -> None:
        client("sagemaker").delete_model_card(ModelCardName=name)

    def list_model_cards(self, **kwargs: Any) -> list[dict[str, Any]]:
        paginator = client("sagemaker").get_paginator("list_model_cards")
        return [s for page in paginator.paginate(**kwargs) for s in page.get("ModelCardSummaries", [])]

    def export_model_card(self, **kwargs: Any) -> str:
        return client("sagemaker").create_model_card_export_job(**kwargs)["ModelCardExportJobArn"]


class Monitoring:
    """Model Monitor's executions of a schedule, and the violations metric the orchestrator publishes."""

    def schedule(self, name: str) -> dict[str, Any] | None:
        """DescribeMonitoringSchedule's answer (status, LastMonitoringExecutionSummary), or None."""
        return _described(client("sagemaker").describe_monitoring_schedule, MonitoringScheduleName=name)

    def executions(self, schedule: str, limit: int) -> list[dict[str, Any]]:
        """The schedule's latest executions, newest scheduled first."""
        response = client("sagemaker").list_monitoring_executions(
            MonitoringScheduleName=schedule, SortBy="ScheduledTime", SortOrder="Descending", MaxResults=limit
        )
        return list(response.get("MonitoringExecutionSummaries", []))

    def put_metric(self, namespace: str, metric: str, dimensions: Mapping[str, str], value: float) -> None:
        client("cloudwatch").put_metric_data(
            Namespace=namespace,
            MetricData=[
                {
                    "MetricName": metric,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                    "Value": value,
                    "Unit": "Count",
                }
            ],
        )


SNS_SUBJECT_LIMIT = 99  # SNS refuses a subject of 100 characters or more, or one with a line break


def subject_line(text: str) -> str:
    """The subject on one line within SNS's limit; a longer one is cut at a word, never inside one, and ends
    with an ellipsis."""
    line = " ".join(text.split())
    if len(line) <= SNS_SUBJECT_LIMIT:
        return line
    cut = line[: SNS_SUBJECT_LIMIT - 1]
    if line[SNS_SUBJECT_LIMIT - 1] != " " and " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:(") + "…"


class Notifier:
    def publish(self, topic_arn: str, subject: str, message: str) -> bool:
        """Publish to the topic; a failure is logged with its reason and answered False, never raised: a
        notice that cannot be sent must not fail the work it reports on."""
        if not topic_arn:
            return False
        subject = subject_line(subject)
        try:
            client("sns").publish(TopicArn=topic_arn, Subject=subject, Message=message)
        except Exception as error:
            from botocore.exceptions import BotoCoreError

            if not (is_client_error(error) or isinstance(error, BotoCoreError)):
                raise
            logger.error("notification %r to %s not sent: %s: %s", subject, topic_arn, error_code(error), error)
            return False
        return True


class CodeCommitPort(Protocol):
    def get_file(self, repository: str, commit: str, path: str) -> bytes | None: ...
    def changed_paths(self, repository: str, before: str | None, after: str) -> set[str]: ...
    def post_comment(self, repository: str, before: str | None, after: str, content: str) -> None: ...
    def author(self, repository: str, commit: str) -> tuple[str, str] | None: ...


class CodeCommit:
    """The CodeCommit calls the config-file trigger needs."""

    def author(self, repository: str, commit: str) -> tuple[str, str] | None:
        """(name, e-mail) of the commit's author, as the commit says it (git lets its maker write anything)."""
        try:
            found = client("codecommit").get_commit(repositoryName=repository, commitId=commit)["commit"]
        except Exception as error:
            if not is_client_error(error):
                raise
            return None
        author = found.get("author") or {}
        return str(author.get("name", "")), str(author.get("email", ""))

    def get_file(self, repository: str, commit: str, path: str) -> bytes | None:
        try:
            return client("codecommit").get_file(repositoryName=repository, commitSpecifier=commit, filePath=path)[
                "fileContent"
            ]
        except Exception as error:
            if is_client_error(error) and error_code(error) == "FileDoesNotExistException":
                return None
            raise

    def changed_paths(self, repository: str, before: str | None, after: str) -> set[str]:
        paginator = client("codecommit").get_paginator("get_differences")
        kwargs = {"repositoryName": repository, "afterCommitSpecifier": after}
        if before:
            kwargs["beforeCommitSpecifier"] = before
        paths = set()
        for page in paginator.paginate(**kwargs):
            for difference in page.get("differences", []):
                for side in ("afterBlob", "beforeBlob"):
                    if difference.get(side, {}).get("path"):
                        paths.add(difference[side]["path"])
        return paths

    def post_comment(self, repository: str, before: str | None, after: str, content: str) -> None:
        kwargs = {"repositoryName": repository, "afterCommitId": after, "content": content}
        if before:
            kwargs["beforeCommitId"] = before
        client("codecommit").post_comment_for_compared_commit(**kwargs)


class Index:
    """A DynamoDB table of string attributes (the pipeline index)."""

    def get(self, table: str, key: Mapping[str, str]) -> dict[str, str] | None:
        item = client("dynamodb").get_item(TableName=table, Key=_attributes(key)).get("Item")
        return _strings(item) if item else None

    def put(self, table: str, item: Mapping[str, str]) -> None:
        client("dynamodb").put_item(TableName=table, Item=_attributes(item))

    def delete(self, table: str, key: Mapping[str, str]) -> None:
        client("dynamodb").delete_item(TableName=table, Key=_attributes(key))

    def query(
        self, table: str, index: str, partition: str, value: str, limit: int, start: Mapping[str, str] | None
    ) -> tuple[list[dict[str, str]], dict[str, str] | None]:
        """One query of a global secondary index's partition, in descending sort-key order; answers the items
        and where the next query starts (None at the end)."""
        kwargs: dict[str, Any] = {
            "TableName": table,
            "IndexName": index,
            "KeyConditionExpression": "#partition = :value",
            "ExpressionAttributeNames": {"#partition": partition},
            "ExpressionAttributeValues": {":value": {"S": value}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start:
            kwargs["ExclusiveStartKey"] = _attributes(start)
        response = client("dynamodb").query(**kwargs)
        last = response.get("LastEvaluatedKey")
        return [_strings(item) for item in response.get("Items", [])], _strings(last) if last else None


def _attributes(values: Mapping[str, str]) -> dict[str, dict[str, str]]:
    return {key: {"S": value} for key, value in values.items()}


def _strings(item: Mapping[str, Any]) -> dict[str, str]:
    return {key: value["S"] for key, value in item.items() if "S" in value}


class Images:
    """Container images in ECR repositories of this account."""

    def tag(self, repository: str, tag: str) -> dict[str, Any] | None:
        """The image a tag names; None when the tag is free. RepositoryNotFoundException is raised as it is."""
        try:
            answer = client("ecr").describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
        except Exception as error:
            if error_code(error) == "ImageNotFoundException":
                return None
            raise
        details = answer.get("imageDetails") or [None]
        return details[0]


class Identities:
    """IAM's answers about principals: a role's tags (API Gateway passes no principal tags)."""

    def role_tags(self, role_name: str) -> dict[str, str]:
        tags: dict[str, str] = {}
        for page in client("iam").get_paginator("list_role_tags").paginate(RoleName=role_name):
            tags.update({tag["Key"]: tag["Value"] for tag in page.get("Tags", [])})
        return tags


@dataclass
class Aws:
    """Every adapter the service needs, replaceable one by one."""

    storage: Storage = field(default_factory=Storage)
    stacks: Stacks = field(default_factory=Stacks)
    pipelines: Pipelines = field(default_factory=Pipelines)
    sagemaker: SageMaker = field(default_factory=SageMaker)
    monitoring: Monitoring = field(default_factory=Monitoring)
    notifier: Notifier = field(default_factory=Notifier)
    codecommit: CodeCommitPort = field(default_factory=CodeCommit)
    index: Index = field(default_factory=Index)
    images: Images = field(default_factory=Images)
    identities: Identities = field(default_factory=Identities)
