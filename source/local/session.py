# SPDX-License-Identifier: Apache-2.0
"""Local mode: the emulator, the orchestrator's resources inside it, the pipeline runner and the local API."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lambdas.pipeline_orchestration import index, responses
from lambdas.pipeline_orchestration.adapters import Aws, Pipelines
from lambdas.pipeline_orchestration.planner import mode_name
from lambdas.pipeline_orchestration.service import OrchestratorService
from lambdas.pipeline_orchestration.settings import MODEL_MONITOR_ENGINE, STAGES, Settings, StageTarget
from lambdas.shared.aws import client
from lambdas.shared.errors import BadRequest, Conflict
from lambdas.shared.logging import get_logger
from monitoring_engine import s3io

from . import callers, persistence
from .api_server import LocalApiServer
from .emulator import (
    MONITORING_RUNS,
    NOTIFICATIONS,
    SCHEDULES,
    Emulator,
    MonitoringClock,
    emulator_client,
    run_now,
    simulate_violation,
)
from .emulator.stepfunctions import resume_running_executions
from .examples import endpoints_outside_pipelines, seed_examples
from .git_trigger import BRANCH as GIT_BRANCH
from .git_trigger import GitWatcher, LocalGitCodeCommit, git, init_repository
from .inprocess import run_project_lambdas_in_process
from .runner import LocalPipeline, PipelineRunner, pipeline_events

REGION = "us-east-1"
ACCOUNT = "123456789012"  # the emulator's own account: the orchestrator's
DEFAULT_TEMPLATES = Path(__file__).resolve().parents[2] / "deployment" / "regional-s3-assets"
ORCHESTRATOR_TEMPLATE = "mlops-orchestrator-single-account.template"
ORCHESTRATOR_STACK = "mlops-orchestrator"
MULTI_ACCOUNT_TEMPLATE = "mlops-orchestrator-multi-account.template"
# The config source when the repository stands in for a GitHub, GitLab or Bitbucket one (see connection_pipeline).
GIT_SOURCES = ("codecommit", "connection")
CONNECTION_PIPELINE = f"{ORCHESTRATOR_STACK}-config-source"
LOCAL_CONNECTION_ARN = f"arn:aws:codeconnections:{REGION}:{ACCOUNT}:connection/00000000-0000-4000-8000-000000000000"
ORCHESTRATOR_FUNCTION = f"{ORCHESTRATOR_STACK}-function"
# Routes of the local API that API Gateway does not have: on AWS, `mlops logs` reads CloudWatch Logs itself,
# notifications go to the topic's subscribers, and violations come from real traffic.
EVENTS_ROUTE = ("GET", "/pipelines/{pipeline_name}/events")
SIMULATE_VIOLATION_ROUTE = ("POST", "/local/pipelines/{pipeline_name}/simulate-violation")
NOTIFICATIONS_ROUTE = ("GET", "/local/notifications")
RUN_MONITORING_ROUTE = ("POST", "/local/pipelines/{pipeline_name}/run-monitoring")
LOCAL_ROUTES = (EVENTS_ROUTE, ("GET", "/local"), SIMULATE_VIOLATION_ROUTE, NOTIFICATIONS_ROUTE, RUN_MONITORING_ROUTE)
SIMULATED_EXECUTION_SECONDS = 30.0  # how long simulate-violation waits for the execution it asked for
logger = get_logger(__name__)


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

    def stop(self, name: str, execution_id: str, reason: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self.runner.stop_execution(name, execution_id, reason)
        except (LookupError, PermissionError) as error:
            # CodePipeline's answers to an unknown execution, and to one that has already ended.
            code = (
                "PipelineExecutionNotFoundException"
                if isinstance(error, LookupError)
                else "PipelineExecutionNotStoppableException"
            )
            raise ClientError(
                {"Error": {"Code": code, "Message": str(error)}, "ResponseMetadata": {"HTTPStatusCode": 400}},
                "StopPipelineExecution",
            ) from None

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


def create_resources(
    templates: Path, multi_account: bool, model_registry: bool, monitoring_engine: str = MODEL_MONITOR_ENGINE
) -> Settings:
    s3 = client("s3")
    assets, blueprints = f"mlops-assets-{ACCOUNT}", f"mlops-blueprints-{ACCOUNT}"
    artifacts = f"mlops-pipeline-artifacts-{ACCOUNT}"  # the orchestrator stack's PipelineArtifactsBucket
    for bucket in (assets, blueprints, artifacts):
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
        register_example_packages(assets)
    boundary = create_permissions_boundary(templates)
    targets = create_organization() if multi_account else None
    if targets:
        create_stage_boundaries(templates, targets, assets, blueprints, repository["repositoryArn"])
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
        stage_targets=targets,
        artifact_bucket=artifacts,
        monitoring_engine=monitoring_engine,
    )


# The model package group the registry examples deploy from, and the versions it holds (the examples name the third).
EXAMPLE_PACKAGE_GROUP, EXAMPLE_PACKAGE_VERSIONS = "churn-models", 3
EXAMPLE_PACKAGE_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def register_example_packages(assets: str) -> None:
    """Versions of the examples' model package group, each with its artifact in the assets bucket, as a registry
    holds them after a few trainings: the orchestrator reads a package's artifact before it plans."""
    sagemaker = client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName=EXAMPLE_PACKAGE_GROUP)
    for version in range(1, EXAMPLE_PACKAGE_VERSIONS + 1):
        key = f"models/{EXAMPLE_PACKAGE_GROUP}/{version}/model.tar.gz"
        client("s3").put_object(Bucket=assets, Key=key, Body=b"")
        sagemaker.create_model_package(
            ModelPackageGroupName=EXAMPLE_PACKAGE_GROUP,
            InferenceSpecification={
                "Containers": [{"Image": EXAMPLE_PACKAGE_IMAGE, "ModelDataUrl": f"s3://{assets}/{key}"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
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


def create_stage_boundaries(
    templates: Path, targets: dict[str, StageTarget], assets: str, blueprints: str, repository_arn: str
) -> None:
    """The permissions boundary in each stage account, as the multi-account orchestrator stack's StackSet creates it:
    its template, read from the built stack, resolved in each account. Nothing without a built template."""
    from moto.iam.models import iam_backends

    from .template_resolver import StackContext

    path = templates.parent / "global-s3-assets" / MULTI_ACCOUNT_TEMPLATE
    if not path.is_file():
        return
    stack_sets = [
        resource
        for resource in json.loads(path.read_text())["Resources"].values()
        if resource["Type"] == "AWS::CloudFormation::StackSet"
    ]
    if not stack_sets:
        return
    template = json.loads(stack_sets[0]["Properties"]["TemplateBody"])
    parameters = {"AssetsBucket": assets, "BlueprintsBucket": blueprints, "RepositoryArn": repository_arn}
    for account in sorted({target.account_id for target in targets.values()}):
        name = "StackSet-mlops-orchestrator-stage-boundary"
        stack_id = f"arn:aws:cloudformation:{REGION}:{account}:stack/{name}/00000000-0000-0000-0000-000000000000"
        context = StackContext(template, parameters, name, stack_id, REGION, account)
        for resource in template["Resources"].values():
            properties = context.resolve(resource["Properties"])
            iam_backends[account]["aws"].create_policy(
                description=properties.get("Description", ""),
                path="/",
                policy_document=json.dumps(properties["PolicyDocument"]),
                policy_name=properties["ManagedPolicyName"],
                tags=[],
            )


def connection_pipeline(templates: Path, multi_account: bool, repository: Path) -> LocalPipeline:
    """The orchestrator stack's config-source pipeline, as deployed with a connection ARN, its repository the local
    one (`local/<folder name>`, branch main); its artifact bucket is created, its hand-off action names the
    orchestrator function this process serves."""
    from .template_resolver import StackContext

    name = f"mlops-orchestrator-{'multi' if multi_account else 'single'}-account.template"
    path = templates.parent / "global-s3-assets" / name
    if not path.is_file():
        raise FileNotFoundError(f"no built orchestrator template {path}: run deployment/build-s3-dist.sh first")
    template = json.loads(path.read_text())
    found = [
        (logical_id, resource)
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CodePipeline::Pipeline"
        and any(
            action["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
            for stage in resource["Properties"]["Stages"]
            for action in stage["Actions"]
        )
    ]
    if not found:
        raise FileNotFoundError(f"{path} defines no CodeConnections pipeline: build the templates again")
    logical_id, resource = found[0]
    properties = resource["Properties"]
    bucket = f"mlops-config-source-{ACCOUNT}"
    with contextlib.suppress(client("s3").exceptions.BucketAlreadyOwnedByYou):
        client("s3").create_bucket(Bucket=bucket)
    (function_ref,) = {
        action["Configuration"]["FunctionName"]["Ref"]
        for stage in properties["Stages"]
        for action in stage["Actions"]
        if action["ActionTypeId"]["Provider"] == "Lambda"
    }
    physical = {properties["ArtifactStore"]["Location"]["Ref"]: bucket, function_ref: ORCHESTRATOR_FUNCTION}
    parameters = {
        "CodeConnectionArn": LOCAL_CONNECTION_ARN,
        "CodeConnectionRepository": f"local/{repository.name}",
        "CodeConnectionBranch": GIT_BRANCH,
    }
    stack_id = (
        f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{ORCHESTRATOR_STACK}/00000000-0000-0000-0000-000000000000"
    )
    context = StackContext(template, parameters, ORCHESTRATOR_STACK, stack_id, REGION, ACCOUNT, physical)
    return LocalPipeline(CONNECTION_PIPELINE, ORCHESTRATOR_STACK, context.resolve(properties), context, logical_id)


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


LOCAL_INFERENCE_NOTE = (
    "absent: the stack's inference API is an API Gateway URL that local mode does not serve, and no model "
    "container runs locally (InvokeEndpoint answers ModelError saying so). On AWS this is the URL to POST to."
)


def without_unreachable_urls(body: dict[str, Any]) -> dict[str, Any]:
    """A described pipeline, with the inference API URL that nothing answers locally replaced by the reason."""
    found = body.get("sagemaker")
    if isinstance(found, dict) and "inference_api_url" in found:
        found["inference_api_url"] = None
        found["inference_api_url_reason"] = LOCAL_INFERENCE_NOTE
    return body


def _schedule_names(plan: Any) -> set[str]:
    """The monitoring schedule names a monitor's plan gives (one per stage, or one)."""
    if isinstance(plan, dict):
        found = {v for k, v in plan.items() if k in ("MonitoringScheduleName", "monitoring_schedule_name")}
        return {str(v) for v in found if isinstance(v, str)} | {n for v in plan.values() for n in _schedule_names(v)}
    if isinstance(plan, list):
        return {n for v in plan for n in _schedule_names(v)}
    return set()


def _json_answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


@dataclass
class LocalOrchestrator:
    """The whole flow on this machine: `start()` returns the local API's URL."""

    templates: Path = DEFAULT_TEMPLATES
    multi_account: bool = False
    model_registry: bool = False
    # The engine of monitors that name none. The emulator runs Model Monitor's schedules; the open engine's
    # stacks deploy, and its analyses run once the engine package is part of local mode.
    monitoring_engine: str = MODEL_MONITOR_ENGINE
    port: int = 0
    git_repository: Path | None = None  # stands in for the config repository
    # What the repository stands in for: CodeCommit (pushes to main are events to the orchestrator), or a GitHub,
    # GitLab or Bitbucket repository behind a CodeConnections connection (the stack's config-source pipeline runs).
    git_source: str = "codecommit"
    deploy_timeout: float = 900.0  # seconds a CloudFormation deploy action may wait for its stack
    seed_examples: bool = True  # put in place what source/examples/ reference, so each runs unchanged
    emulator: Emulator = field(default_factory=Emulator)
    runner: PipelineRunner | None = None
    service: OrchestratorService | None = None
    server: LocalApiServer | None = None
    git_watcher: GitWatcher | None = None
    monitoring: MonitoringClock | None = None
    state_dir: Path | None = None  # where the state is kept across restarts; None keeps it in memory
    reset: bool = False  # start from an empty AWS, forgetting the state kept in state_dir
    save_seconds: float = 10.0  # how often the state is written while running (and once at stop)
    # Who may do what, as the stack parameters AdminPrincipalArns and AllowSelfApproval say it on AWS.
    admin_principal_arns: tuple[str, ...] = ()
    allow_self_approval: bool = False
    restored: bool = False  # whether start() brought back a kept state
    resumed_executions: list[str] = field(default_factory=list)  # Step Functions executions run again at start
    _saver: threading.Thread | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)
    # One process per state directory, and one state write at a time (the saver, an acknowledged change).
    _lock: persistence.StateDirLock | None = None
    _save_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def mode(self) -> str:
        return mode_name(self.multi_account) + (" with model registry" if self.model_registry else "")

    @property
    def state_file(self) -> Path | None:
        return self.state_dir / persistence.STATE_FILE if self.state_dir else None

    def start(self) -> str:
        if self.state_dir:
            self._lock = persistence.StateDirLock(self.state_dir / persistence.LOCK_FILE)
            self._lock.acquire()  # before anything is read or reset: the holder keeps its state
        if self.reset and self.state_file and self.state_file.exists():
            self.state_file.unlink()
        try:
            endpoint = self.emulator.start()
        except BaseException:
            self._release_lock()
            raise
        run_project_lambdas_in_process(endpoint)
        try:
            saved = persistence.load(self.state_file, self.mode) if self.state_file else None
            if saved is not None:
                settings = saved.settings
                upload_blueprints(self.templates, settings.blueprint_bucket)  # templates rebuilt since are used
            else:
                settings = create_resources(
                    self.templates, self.multi_account, self.model_registry, self.monitoring_engine
                )
                if self.seed_examples:
                    seed_examples(endpoint, settings)
                    # The endpoints seeded for the monitor examples were not deployed by a pipeline: listed.
                    settings = replace(settings, allowed_monitored_endpoints=endpoints_outside_pipelines())
            self.restored = saved is not None
            # Who may do what is this start's choice, also over a kept state.
            settings = dataclasses.replace(
                settings,
                admin_principal_arns=tuple(self.admin_principal_arns),
                allow_self_approval=self.allow_self_approval,
            )
            if self.git_source not in GIT_SOURCES:
                raise ValueError(f"git_source must be one of {', '.join(GIT_SOURCES)}, not {self.git_source!r}")
            connection = self.git_source == "connection" and self.git_repository is not None
            self.runner = PipelineRunner(
                settings.region,
                settings.account_id,
                deploy_timeout=self.deploy_timeout,
                git_repository=self.git_repository if connection else None,
            )
            if saved is not None:
                self.runner.restore(saved.runner)
                self.resumed_executions = resume_running_executions()
                if self.resumed_executions:
                    logger.warning(
                        "local mode stopped while %d Step Functions execution(s) ran; run again from their start: %s",
                        len(self.resumed_executions),
                        ", ".join(self.resumed_executions),
                    )
            if not connection:  # a state kept from a run with the connection source: its pipeline is not run now
                self.runner.pipelines.pop(CONNECTION_PIPELINE, None)
            aws = Aws(pipelines=LocalPipelines(self.runner))
            if self.git_repository is not None:
                init_repository(self.git_repository)
                if not connection:
                    aws.codecommit = LocalGitCodeCommit(self.git_repository)
            self.service = OrchestratorService(settings, aws)
            self.runner.on_stack_event = self.service.on_stack_event
            self.runner.on_pipeline_event = self.service.on_pipeline_event
            self.runner.on_reconcile = self.service.reconcile
            if connection:
                assert self.git_repository is not None
                service = self.service
                self.runner.functions[ORCHESTRATOR_FUNCTION] = lambda event: index.handle(event, service)
                self.runner.register(connection_pipeline(self.templates, self.multi_account, self.git_repository))
            self.runner.start()
            # EventBridge's part for Model Monitor and CloudWatch: executions' and alarms' state changes.
            self.monitoring = MonitoringClock(lambda event: self.service.on_monitoring_event(event))  # type: ignore[union-attr]
            self.monitoring.start()
            if self.git_repository is not None and not connection:
                self.git_watcher = GitWatcher(self.git_repository, self.service.on_codecommit_push)
                self._catch_up_on_commits(saved.git_head if saved else None)
                self.git_watcher.start()
            self.server = LocalApiServer(self.handle, [*index.ROUTES, *LOCAL_ROUTES], self.port)
            url = self.server.start()
            if self._lock:
                self._lock.describe_holder(url)
            if self.state_file:
                self.save()
                self._saver = threading.Thread(target=self._save_often, name="local-state", daemon=True)
                self._saver.start()
            return url
        except BaseException:
            self.stop(save=False)
            raise

    def _catch_up_on_commits(self, processed: str | None) -> None:
        """Commits made to --git-repo while local mode was down are one push from the last processed commit (the
        watcher's first look delivers it); a kept commit that is gone from the repository is said, not guessed."""
        watcher = self.git_watcher
        if watcher is None or processed is None or processed == watcher.head:
            return
        if not git(watcher.repository, "rev-parse", "--verify", "--quiet", f"{processed}^{{commit}}", check=False):
            logger.warning(
                "commits made to %s while local mode was down are not processed: the last processed commit %s is "
                "no longer in the repository (main is now %s)",
                watcher.repository,
                processed,
                watcher.head,
            )
            return
        logger.info(
            "commits made to %s while local mode was down are processed: %s..%s",
            watcher.repository,
            processed,
            watcher.head,
        )
        watcher.head = processed

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        """The API's routes, and the routes only local mode serves (a pipeline's events from the runner)."""
        route = (event.get("httpMethod"), event.get("resource"))
        if route == ("GET", "/local"):
            return _json_answer(200, self.about())
        if route == NOTIFICATIONS_ROUTE:
            return _json_answer(200, {"notifications": list(NOTIFICATIONS)})
        if route == SIMULATE_VIOLATION_ROUTE:
            name = (event.get("pathParameters") or {}).get("pipeline_name", "")
            try:
                return _json_answer(200, self.simulate_violation(name, _violations_asked(event.get("body"))))
            except Exception as error:  # the API's one error mapper answers
                return responses.error(error, self.service.settings.detailed_errors)  # type: ignore[union-attr]
        if route == RUN_MONITORING_ROUTE:
            name = (event.get("pathParameters") or {}).get("pipeline_name", "")
            try:
                return _json_answer(200, self.run_monitoring(name))
            except Exception as error:  # the API's one error mapper answers
                return responses.error(error, self.service.settings.detailed_errors)  # type: ignore[union-attr]
        if route in LOCAL_ROUTES:
            return self._events_answer(event)
        if route == ("POST", "/pipelinestatus") and self._names_the_config_source(event.get("body")):
            detail = (
                f"{CONNECTION_PIPELINE} is the orchestrator stack's own config-source pipeline (it hands the "
                "repository's mlops-config.json to the orchestrator), not a provisioned pipeline: it has no status "
                f"here; mlops logs {CONNECTION_PIPELINE} shows its runs."
            )
            return _json_answer(404, {"message": "A NotFound exception occurred", "detailedMessage": detail})
        # API Gateway's IAM authorization names the caller; here the SigV4 header does (see local/callers.py).
        context = dict(event.get("requestContext") or {})
        context["identity"] = callers.identity(event.get("headers") or {}, self.service.settings.account_id)  # type: ignore[union-attr]
        answer = index.handle({**event, "requestContext": context}, self.service)
        if route == ("GET", "/pipelines/{pipeline_name}") and answer.get("statusCode") == 200:
            answer["body"] = json.dumps(without_unreachable_urls(json.loads(answer["body"])))
        if route[0] in MUTATING_METHODS and route != ("POST", "/pipelinestatus") and answer["statusCode"] < 500:
            self._save_before_answering()
        return answer

    def _save_before_answering(self) -> None:
        """A change the API acknowledges survives a kill -9: the state is written before the answer is sent."""
        try:
            self.save()
        except Exception:  # the periodic saver writes it later; the answer still says what happened
            logger.exception("local state not saved after a change")

    def about(self) -> dict[str, Any]:
        """What a client of local mode needs beside the API: the emulator, the assets bucket, the state."""
        return {
            "mode": self.mode,
            "emulator_endpoint": self.emulator.endpoint,
            "assets_bucket": self.service.settings.assets_bucket if self.service else "",
            "state_dir": str(self.state_dir) if self.state_dir else None,
        }

    def simulate_violation(self, name: str, violations: int | None = None) -> dict[str, Any]:
        """Run the next execution of a monitor's schedule (in every account it is deployed to) now, reporting
        `violations` violations of its baseline (by default as many as its alarm needs, so that the whole loop
        runs); answers the executions it ran."""
        import time

        from lambdas.pipeline_orchestration.catalogue import CATALOGUE

        described = self.service.describe_pipeline(name)  # type: ignore[union-attr]
        pipeline_type = described.get("pipeline_type", "")
        declared = CATALOGUE.get(pipeline_type)
        if declared is None or declared.endpoint != "monitors":
            raise BadRequest(
                f"pipeline_name: {name} is a {pipeline_type or 'unknown type of'} pipeline, not a monitor: only a "
                "monitor's schedule can report a violation"
            )
        schedules = _schedule_names(described.get("plan"))
        keys = [key for key in list(MONITORING_RUNS) if key[2] in schedules]
        if not keys:
            raise Conflict(
                f"monitor {name} has no monitoring schedule deployed yet (its state is {described.get('state')}): "
                "simulate a violation once it is ACTIVE"
            )
        before = {key: len(MONITORING_RUNS[key].executions) for key in keys}
        threshold = int((described.get("request") or {}).get("violation_threshold") or 1)
        reported = violations or threshold
        for key in keys:
            simulate_violation(key, reported)
        deadline = time.monotonic() + SIMULATED_EXECUTION_SECONDS
        while time.monotonic() < deadline and any(len(MONITORING_RUNS[k].executions) == n for k, n in before.items()):
            time.sleep(0.1)
        executions = []
        for key, count in before.items():
            runs = MONITORING_RUNS[key].executions
            ran = runs[-1] if len(runs) > count else None
            executions.append(
                {
                    "account": key[0],
                    "monitoring_schedule_name": key[2],
                    "status": ran["MonitoringExecutionStatus"] if ran else "Pending",
                    "processing_job_arn": ran["ProcessingJobArn"] if ran else "",
                    **({"failure_reason": ran["FailureReason"]} if ran and "FailureReason" in ran else {}),
                }
            )
        return {
            "pipeline_name": name,
            "violations": reported,
            "violation_threshold": threshold,
            "executions": executions,
        }

    def _names_the_config_source(self, body: str | None) -> bool:
        """Whether a status request names the config-source pipeline (by its name or as a wrapper stack's), which
        the runner runs but no stack of the API describes."""
        from lambdas.pipeline_orchestration.validation import WRAPPER_SUFFIX

        try:
            pipeline_id = json.loads(body or "{}").get("pipeline_id")
        except (ValueError, AttributeError):
            return False
        if self.runner is None or CONNECTION_PIPELINE not in self.runner.pipelines:
            return False
        return isinstance(pipeline_id, str) and pipeline_id.removesuffix(WRAPPER_SUFFIX) == CONNECTION_PIPELINE

    def run_monitoring(self, name: str) -> dict[str, Any]:
        """Run a monitor's next execution now (in every account it is deployed to) on the capture written so far;
        answers each execution's status and violations. An open monitor's execution analyses the current hour's
        capture with the engine; a Model Monitor schedule's runs the emulator's checks of its baseline."""
        import time

        from lambdas.pipeline_orchestration.catalogue import CATALOGUE

        described = self.service.describe_pipeline(name)  # type: ignore[union-attr]
        pipeline_type = described.get("pipeline_type", "")
        declared = CATALOGUE.get(pipeline_type)
        if declared is None or declared.endpoint != "monitors":
            raise BadRequest(
                f"pipeline_name: {name} is a {pipeline_type or 'unknown type of'} pipeline, not a monitor: only a "
                "monitor's schedule runs executions"
            )
        schedules = _schedule_names(described.get("plan"))
        open_keys = [key for key in list(SCHEDULES) if key[2] in schedules]
        model_monitor_keys = [key for key in list(MONITORING_RUNS) if key[2] in schedules]
        if not open_keys and not model_monitor_keys:
            raise Conflict(
                f"monitor {name} has no monitoring schedule deployed yet (its state is {described.get('state')}): "
                "run its monitoring once it is ACTIVE"
            )
        executions = [_open_execution(key, run_now(key)) for key in open_keys]
        before = {key: len(MONITORING_RUNS[key].executions) for key in model_monitor_keys}
        for key in model_monitor_keys:
            MONITORING_RUNS[key].next_at = time.time()
        deadline = time.monotonic() + SIMULATED_EXECUTION_SECONDS
        while time.monotonic() < deadline and any(len(MONITORING_RUNS[k].executions) == n for k, n in before.items()):
            time.sleep(0.1)
        for key, count in before.items():
            runs = MONITORING_RUNS[key].executions
            ran = runs[-1] if len(runs) > count else None
            executions.append(
                {
                    "account": key[0],
                    "monitoring_schedule_name": key[2],
                    "status": ran["MonitoringExecutionStatus"] if ran else "Pending",
                    "processing_job": ran["ProcessingJobArn"].rsplit("/", 1)[-1] if ran else "",
                    "violations": [],
                    **({"failure_reason": ran["FailureReason"]} if ran and "FailureReason" in ran else {}),
                }
            )
        return {"pipeline_name": name, "executions": executions}

    def _events_answer(self, event: dict[str, Any]) -> dict[str, Any]:
        name = (event.get("pathParameters") or {}).get("pipeline_name", "")
        query = event.get("queryStringParameters") or {}
        found = pipeline_events(self.runner, name, query.get("stage") or None)  # type: ignore[arg-type]
        if found is None:
            detail = f"No pipeline named {name} (mlops list shows the pipelines)."
            return _json_answer(404, {"message": "A NotFound exception occurred", "detailedMessage": detail})
        return _json_answer(200, {"pipeline_name": name, "events": found})

    def save(self) -> None:
        """Write the state to the state directory (nothing without one)."""
        if self.state_file and self.runner and self.service:
            with self._save_lock:
                git_head = self.git_watcher.head if self.git_watcher else None
                persistence.dump(
                    self.state_file, self.mode, self.service.settings, self.runner.snapshot(), git_head=git_head
                )

    def _save_often(self) -> None:
        while not self._stopping.wait(self.save_seconds):
            try:
                self.save()
            except Exception:  # the next attempt, or the one at stop, writes it; the reason is in the log
                logger.exception("local state not saved")

    def stop(self, save: bool = True) -> None:
        self._stopping.set()
        if self._saver:
            self._saver.join(timeout=30)
        if self.git_watcher:
            self.git_watcher.stop()
        if self.monitoring:
            self.monitoring.stop()
        if self.server:
            self.server.stop()
        if self.runner:
            self.runner.stop()
        if save and self.emulator._server is not None:
            self.save()
        self.emulator.stop()
        self._release_lock()

    def _release_lock(self) -> None:
        if self._lock:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> LocalOrchestrator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _open_execution(key: tuple[str, str, str], started: dict[str, Any]) -> dict[str, Any]:
    """An open monitor's execution that ran now: its job's status, and the violations of the engine's result."""
    from botocore.exceptions import ClientError

    account, region, schedule = key
    execution: dict[str, Any] = {
        "account": account,
        "monitoring_schedule_name": schedule,
        "status": "Failed",
        "processing_job": str(started.get("processing_job", "")),
        "violations": [],
    }
    if not execution["processing_job"]:
        execution["failure_reason"] = f"the schedule's function started no job: {started.get('errorMessage', '')}"
        return execution
    spec = str(started.get("spec", ""))
    reports = spec.rsplit("/", 1)[0]
    try:
        job = emulator_client("sagemaker", account, region).describe_processing_job(
            ProcessingJobName=execution["processing_job"]
        )
        result = s3io.read_json(
            emulator_client("s3", account, region), s3io.join(spec.rsplit("/", 1)[0], "result.json")
        )
    except (ClientError, ValueError) as error:
        execution["failure_reason"] = f"{type(error).__name__}: {error}"
        return execution
    execution["status"] = result.get("status", "Failed") if job["ProcessingJobStatus"] == "Completed" else "Failed"
    execution["report"] = reports
    execution["violations"] = list(result.get("violations") or [])
    if execution["status"] == "Failed":
        execution["failure_reason"] = job.get("FailureReason") or result.get("exit_message", "")
    return execution


MAX_SIMULATED_VIOLATIONS = 1000
MUTATING_METHODS = ("POST", "DELETE")


def _violations_asked(body: Any) -> int | None:
    """The body's `violations` (how many the simulated execution reports), or None for the monitor's threshold."""
    try:
        asked = json.loads(body or "{}").get("violations")
    except (ValueError, AttributeError) as error:
        raise BadRequest("(body): must be a JSON object") from error
    if asked is None:
        return None
    if isinstance(asked, bool) or not isinstance(asked, int) or not 1 <= asked <= MAX_SIMULATED_VIOLATIONS:
        raise BadRequest(f"violations: must be an integer from 1 to {MAX_SIMULATED_VIOLATIONS}")
    return asked
