# SPDX-License-Identifier: Apache-2.0
"""Local mode: the emulator, the orchestrator's resources inside it, the pipeline runner and the local API."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambdas.pipeline_orchestration import index
from lambdas.pipeline_orchestration.adapters import Aws, Pipelines
from lambdas.pipeline_orchestration.service import OrchestratorService
from lambdas.pipeline_orchestration.settings import STAGES, Settings, StageTarget
from lambdas.shared.aws import client

from .api_server import LocalApiServer
from .emulator import Emulator
from .examples import seed_examples
from .git_trigger import GitWatcher, LocalGitCodeCommit, init_repository
from .inprocess import run_project_lambdas_in_process
from .runner import PipelineRunner

REGION = "us-east-1"
ACCOUNT = "123456789012"  # the emulator's own account: the orchestrator's
DEFAULT_TEMPLATES = Path(__file__).resolve().parents[2] / "deployment" / "regional-s3-assets"
ORCHESTRATOR_TEMPLATE = "mlops-orchestrator-single-account.template"
ORCHESTRATOR_STACK = "mlops-orchestrator"


class LocalPipelines(Pipelines):
    """GetPipelineState answered by the runner (moto stores no pipeline executions)."""

    def __init__(self, runner: PipelineRunner):
        self.runner = runner

    def state(self, name: str) -> dict[str, Any]:
        return self._ask(self.runner.state, name, "GetPipelineState")

    def executions(self, name: str, limit: int = 100) -> list[dict[str, Any]]:
        return self._ask(self.runner.executions, name, "ListPipelineExecutions")[:limit]

    def _ask(self, question: Any, name: str, operation: str) -> Any:
        from botocore.exceptions import ClientError

        found = question(name)
        if found is None:  # a stack created a moment ago: look again before answering "not found"
            self.runner.discover()
            found = question(name)
        if found is None:
            error = {"Error": {"Code": "PipelineNotFoundException", "Message": f"pipeline {name} not found"}}
            raise ClientError({**error, "ResponseMetadata": {"HTTPStatusCode": 404}}, operation)
        return found

    def put_approval(
        self, name: str, stage_name: str, action_name: str, token: str, approved: bool, comment: str
    ) -> None:
        from botocore.exceptions import ClientError

        try:
            self.runner.put_approval_result(name, stage_name, action_name, token, approved, comment)
        except (LookupError, PermissionError) as error:
            # CodePipeline's answers to an action that does not exist, or a token that no longer waits.
            code = "ActionNotFoundException" if isinstance(error, LookupError) else "InvalidApprovalTokenException"
            raise ClientError(
                {"Error": {"Code": code, "Message": str(error)}, "ResponseMetadata": {"HTTPStatusCode": 400}},
                "PutApprovalResult",
            ) from None


def create_resources(templates: Path, multi_account: bool, model_registry: bool) -> Settings:
    s3 = client("s3")
    assets, blueprints = f"mlops-assets-{ACCOUNT}", f"mlops-blueprints-{ACCOUNT}"
    for bucket in (assets, blueprints):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    upload_blueprints(templates, blueprints)
    repository = client("ecr").create_repository(repositoryName="mlops-custom-algorithms")["repository"]
    topic = client("sns").create_topic(Name="mlops-notifications")["TopicArn"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "cloudformation.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = client("iam").create_role(RoleName="mlops-cloudformation", AssumeRolePolicyDocument=json.dumps(trust))[
        "Role"
    ]["Arn"]
    if model_registry:
        client("sagemaker").create_model_package_group(ModelPackageGroupName="mlops-model-registry")
    boundary = create_permissions_boundary(templates)
    return Settings(
        region=REGION,
        account_id=ACCOUNT,
        assets_bucket=assets,
        blueprint_bucket=blueprints,
        cfn_role_arn=role,
        permissions_boundary_arn=boundary,
        ecr_repo_name=repository["repositoryName"],
        ecr_repo_arn=repository["repositoryArn"],
        sns_topic_arn=topic,
        index_table=create_index_table("mlops-pipeline-index"),
        multi_account=multi_account,
        model_registry=model_registry,
        delegated_admin=False,
        stage_targets=create_organization() if multi_account else None,
    )


def create_permissions_boundary(templates: Path) -> str:
    """The orchestrator stack's permissions boundary, made from its built template beside the blueprints, so the
    pipelines' roles carry it as on AWS; "" when there is no built orchestrator template (hand-written blueprints)."""
    from .template_resolver import StackContext

    path = templates.parent / "global-s3-assets" / ORCHESTRATOR_TEMPLATE
    if not path.is_file():
        return ""
    template = json.loads(path.read_text())
    (policy,) = [
        resource
        for logical_id, resource in template["Resources"].items()
        if logical_id.startswith("PipelinePermissionsBoundary")
    ]
    stack_id = (
        f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{ORCHESTRATOR_STACK}/00000000-0000-0000-0000-000000000000"
    )
    properties = StackContext(template, {}, ORCHESTRATOR_STACK, stack_id, REGION, ACCOUNT).resolve(policy["Properties"])
    created = client("iam").create_policy(
        PolicyName=properties["ManagedPolicyName"],
        PolicyDocument=json.dumps(properties["PolicyDocument"]),
        Description=properties.get("Description", ""),
    )
    return created["Policy"]["Arn"]


def create_index_table(name: str) -> str:
    """The pipeline index table, with the schema the orchestrator stack gives it."""
    from lambdas.pipeline_orchestration.pipeline_index import KEY, NEWEST_FIRST, PARTITION, SORT

    client("dynamodb").create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in (KEY, PARTITION, SORT)],
        KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": NEWEST_FIRST,
                "KeySchema": [
                    {"AttributeName": PARTITION, "KeyType": "HASH"},
                    {"AttributeName": SORT, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def upload_blueprints(templates: Path, bucket: str) -> None:
    """Unpack the built blueprints.zip under blueprints/, as the orchestrator's copy-assets resource does.

    A folder without the archive (hand-written templates) is uploaded file by file.
    """
    if not templates.is_dir():
        raise FileNotFoundError(f"no built templates in {templates}: run deployment/build-s3-dist.sh first")
    archive = templates / "blueprints.zip"
    if archive.is_file():
        with zipfile.ZipFile(archive) as unpacked:
            files = {name: unpacked.read(name) for name in unpacked.namelist() if not name.endswith("/")}
    else:
        files = {p.relative_to(templates).as_posix(): p.read_bytes() for p in templates.rglob("*") if p.is_file()}
    s3 = client("s3")
    for name, content in sorted(files.items()):
        s3.put_object(Bucket=bucket, Key=f"blueprints/{name}", Body=content)


def create_organization() -> dict[str, StageTarget]:
    """An Organization with one organizational unit and one account per stage."""
    organizations = client("organizations")
    organizations.create_organization(FeatureSet="ALL")
    root = organizations.list_roots()["Roots"][0]["Id"]
    targets = {}
    for stage in STAGES:
        unit = organizations.create_organizational_unit(ParentId=root, Name=f"mlops-{stage}")["OrganizationalUnit"][
            "Id"
        ]
        status = organizations.create_account(Email=f"{stage}@example.com", AccountName=f"mlops-{stage}")[
            "CreateAccountStatus"
        ]
        account = status["AccountId"]
        organizations.move_account(AccountId=account, SourceParentId=root, DestinationParentId=unit)
        targets[stage] = StageTarget(account, unit)
    return targets


@dataclass
class LocalOrchestrator:
    """The whole flow on this machine: `start()` returns the local API's URL."""

    templates: Path = DEFAULT_TEMPLATES
    multi_account: bool = False
    model_registry: bool = False
    port: int = 0
    git_repository: Path | None = None  # stands in for the CodeCommit config repository
    deploy_timeout: float = 900.0  # seconds a CloudFormation deploy action may wait for its stack
    seed_examples: bool = True  # put in place what source/examples/ reference, so each runs unchanged
    emulator: Emulator = field(default_factory=Emulator)
    runner: PipelineRunner | None = None
    service: OrchestratorService | None = None
    server: LocalApiServer | None = None
    git_watcher: GitWatcher | None = None

    def start(self) -> str:
        endpoint = self.emulator.start()
        run_project_lambdas_in_process(endpoint)
        try:
            settings = create_resources(self.templates, self.multi_account, self.model_registry)
            if self.seed_examples:
                seed_examples(endpoint, settings)
            self.runner = PipelineRunner(settings.region, settings.account_id, deploy_timeout=self.deploy_timeout)
            aws = Aws(pipelines=LocalPipelines(self.runner))
            if self.git_repository is not None:
                init_repository(self.git_repository)
                aws.codecommit = LocalGitCodeCommit(self.git_repository)
            self.service = OrchestratorService(settings, aws)
            self.runner.on_stack_event = self.service.on_stack_event
            self.runner.on_pipeline_event = self.service.on_pipeline_event
            self.runner.start()
            if self.git_repository is not None:
                self.git_watcher = GitWatcher(self.git_repository, self.service.on_codecommit_push)
                self.git_watcher.start()
            self.server = LocalApiServer(lambda event: index.handle(event, self.service), list(index.ROUTES), self.port)
            return self.server.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.git_watcher:
            self.git_watcher.stop()
        if self.server:
            self.server.stop()
        if self.runner:
            self.runner.stop()
        self.emulator.stop()

    def __enter__(self) -> LocalOrchestrator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
