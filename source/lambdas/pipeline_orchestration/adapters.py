# SPDX-License-Identifier: Apache-2.0
"""Small adapters around boto3: the only place the orchestrator's service touches AWS.

The same adapters serve Lambda, unit tests (moto) and local mode (moto's server); tests may swap one for a
fake where moto lacks the API (CodeCommit file and comment calls).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from lambdas.shared.aws import client


def error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def http_status(error: Exception) -> int | None:
    response = getattr(error, "response", None) or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status else None


def is_client_error(error: Exception) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(error, ClientError)


class Storage:
    """S3 objects in the orchestrator's buckets."""

    def get(self, bucket: str, key: str) -> bytes:
        return client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()

    def put(self, bucket: str, key: str, body: bytes, content_type: str = "application/octet-stream") -> str | None:
        """Write an object; returns its version id (None on an unversioned bucket)."""
        response = client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
        return response.get("VersionId")

    def delete(self, bucket: str, key: str, version_id: str | None = None) -> None:
        kwargs = {"VersionId": version_id} if version_id else {}
        client("s3").delete_object(Bucket=bucket, Key=key, **kwargs)


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

    def create(self, **kwargs: Any) -> str:
        return client("cloudformation").create_stack(**kwargs)["StackId"]

    def update(self, **kwargs: Any) -> str:
        return client("cloudformation").update_stack(**kwargs)["StackId"]

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


class Pipelines:
    def state(self, name: str) -> dict[str, Any]:
        response = client("codepipeline").get_pipeline_state(name=name)
        response.pop("ResponseMetadata", None)
        return response

    def approve(self, name: str, stage: str, approved: bool, comment: str) -> str | None:
        """Answer the pending manual approval that names `stage`; returns its action name, None if none waits."""
        for stage_state in self.state(name).get("stageStates", []):
            for action in stage_state.get("actionStates", []):
                execution = action.get("latestExecution", {})
                if (
                    execution.get("token")
                    and execution.get("status") == "InProgress"
                    and stage.lower() in action["actionName"].lower()
                ):
                    client("codepipeline").put_approval_result(
                        pipelineName=name,
                        stageName=stage_state["stageName"],
                        actionName=action["actionName"],
                        result={
                            "summary": comment or ("Approved" if approved else "Rejected"),
                            "status": "Approved" if approved else "Rejected",
                        },
                        token=execution["token"],
                    )
                    return str(action["actionName"])
        return None


class Notifier:
    def publish(self, topic_arn: str, subject: str, message: str) -> None:
        if topic_arn:
            client("sns").publish(TopicArn=topic_arn, Subject=subject[:100], Message=message)


class CodeCommitPort(Protocol):
    def get_file(self, repository: str, commit: str, path: str) -> bytes | None: ...
    def changed_paths(self, repository: str, before: str | None, after: str) -> set[str]: ...
    def post_comment(self, repository: str, before: str | None, after: str, content: str) -> None: ...


class CodeCommit:
    """The CodeCommit calls the config-file trigger needs."""

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


@dataclass
class Aws:
    """Every adapter the service needs, replaceable one by one."""

    storage: Storage = field(default_factory=Storage)
    stacks: Stacks = field(default_factory=Stacks)
    pipelines: Pipelines = field(default_factory=Pipelines)
    notifier: Notifier = field(default_factory=Notifier)
    codecommit: CodeCommitPort = field(default_factory=CodeCommit)
