# SPDX-License-Identifier: Apache-2.0
"""The orchestrator's CloudFormation parameters and conditions: the predecessor's names, constraints and labels."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import CfnCondition, CfnParameter, CfnRule, CfnRuleAssertion, Fn, Stack

from lambdas.pipeline_orchestration.catalogue import parameters as blueprint_parameters
from lambdas.pipeline_orchestration.settings import DEFAULT_MONITORING_ENGINE, MONITORING_ENGINES, PERIMETER_SETTINGS

EMAIL_PATTERN = r"^[a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+$"
CODECOMMIT_PATTERN = (
    r"^(((https:\/\/|ssh:\/\/)(git\-codecommit)\.[a-zA-Z0-9_.+-]+(amazonaws\.com\/)[a-zA-Z0-9-.]+"
    r"(\/)[a-zA-Z0-9-.]+(\/)[a-zA-Z0-9-.]+$)|^$)"
)
BUCKET_PATTERN = (
    r"((?=^.{3,63}$)(?!^(\d+\.)+\d+$)(^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*"
    r"([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])$)|^$)"
)
ECR_PATTERN = r"((?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*|^$)"
ACCOUNT_PATTERN = r"^\d{12}$"
ORG_UNIT_PATTERN = r"^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$"
POLICY_ARN_PATTERN = r"^(arn:aws[a-z-]*:iam::\d{12}:policy/[\w+=,.@/-]{1,128})?$"
CONNECTION_ARN_PATTERN = (
    r"^(arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/[0-9a-fA-F-]{36})?$"
)
REPOSITORY_ID_PATTERN = r"^([A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+)?$"  # owner/repo; GitLab's group/subgroup/repo
BRANCH_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$"
GROUP_LABEL = "MLOps Framework Settings"
NETWORK_LABEL = "VPC of the pipelines' containers (Optional)"
STAGE_NAMES = {"Dev": "Development", "Staging": "Staging", "Prod": "Production"}


def _yes_no(stack: Stack, name: str, default: str, description: str) -> CfnParameter:
    return CfnParameter(
        stack, name, type="String", allowed_values=["Yes", "No"], default=default, description=description
    )


def _optional_name(stack: Stack, name: str, pattern: str, max_length: int, description: str) -> CfnParameter:
    return CfnParameter(
        stack,
        name,
        type="String",
        default="",
        allowed_pattern=pattern,
        min_length=0,
        max_length=max_length,
        description=description,
    )


@dataclass
class NetworkParameters:
    """A VPC's subnets and security groups: the default of requests that name none (empty: no VPC)."""

    subnet_ids: CfnParameter
    security_group_ids: CfnParameter

    @classmethod
    def declare(cls, stack: Stack, prefix: str, where: str) -> NetworkParameters:
        subnets, groups = blueprint_parameters.SUBNET_IDS, blueprint_parameters.SECURITY_GROUP_IDS
        network = cls(
            _optional_name(
                stack,
                f"{prefix}SubnetIds",
                f"^{subnets.pattern}$",
                2048,
                f"Comma-separated subnets {where} that SageMaker jobs, models and image builds run in, unless a "
                "request names its own. Leave empty for no VPC.",
            ),
            _optional_name(
                stack,
                f"{prefix}SecurityGroupIds",
                f"^{groups.pattern}$",
                1024,
                f"Comma-separated security groups {where} of those containers; given with the subnets or not at all.",
            ),
        )
        network.subnet_ids.constraint_description = subnets.hint
        network.security_group_ids.constraint_description = groups.hint
        # Subnets without security groups (or the reverse) would give every container a broken VPC config.
        both_or_neither = Fn.condition_or(
            Fn.condition_and(
                Fn.condition_equals(network.subnet_ids.value_as_string, ""),
                Fn.condition_equals(network.security_group_ids.value_as_string, ""),
            ),
            Fn.condition_and(
                Fn.condition_not(Fn.condition_equals(network.subnet_ids.value_as_string, "")),
                Fn.condition_not(Fn.condition_equals(network.security_group_ids.value_as_string, "")),
            ),
        )
        CfnRule(
            stack,
            f"{prefix}SubnetsWithSecurityGroups",
            assertions=[
                CfnRuleAssertion(
                    assert_=both_or_neither,
                    assert_description=f"{prefix}SubnetIds and {prefix}SecurityGroupIds are given together or both "
                    "left empty",
                )
            ],
        )
        return network


@dataclass
class StageParameters:
    account_id: CfnParameter
    org_unit_id: CfnParameter
    network: NetworkParameters | None = None


@dataclass
class ConnectionParameters:
    """The GitHub, GitLab or Bitbucket repository whose mlops-config.json provisions, through a CodeConnections
    connection; no connection ARN means no such source."""

    arn: CfnParameter
    repository: CfnParameter
    branch: CfnParameter

    @classmethod
    def declare(cls, stack: Stack) -> ConnectionParameters:
        parameters = cls(
            arn=_optional_name(
                stack,
                "CodeConnectionArn",
                CONNECTION_ARN_PATTERN,
                256,
                "ARN of an available CodeConnections (CodeStar Connections) connection to GitHub, GitLab or "
                "Bitbucket: a change of mlops-config.json on the branch below provisions a pipeline. "
                "Leave empty for no such source.",
            ),
            repository=_optional_name(
                stack,
                "CodeConnectionRepository",
                REPOSITORY_ID_PATTERN,
                200,
                "Full repository id of the config repository, owner/repo (required with a connection ARN).",
            ),
            branch=CfnParameter(
                stack,
                "CodeConnectionBranch",
                type="String",
                default="main",
                allowed_pattern=BRANCH_PATTERN,
                max_length=255,
                description="Branch of the config repository whose mlops-config.json provisions.",
            ),
        )
        CfnRule(
            stack,
            "CodeConnectionNeedsRepository",
            rule_condition=Fn.condition_not(Fn.condition_equals(parameters.arn.value_as_string, "")),
            assertions=[
                CfnRuleAssertion(
                    assert_=Fn.condition_not(Fn.condition_equals(parameters.repository.value_as_string, "")),
                    assert_description="CodeConnectionRepository (owner/repo) is required with CodeConnectionArn",
                )
            ],
        )
        return parameters

    def labels(self) -> list[tuple[CfnParameter, str]]:
        return [
            (self.arn, "CodeConnections connection ARN for GitHub, GitLab or Bitbucket (Optional)"),
            (self.repository, "Config repository of the connection, owner/repo (Optional)"),
            (self.branch, "Branch of the connection's config repository"),
        ]


# --- Images: the repositories builds and requests may use, and the Docker Hub pull-through cache ---------------
REPOSITORY_NAME = r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*"
REPOSITORY_LIST_PATTERN = rf"^({REPOSITORY_NAME}(,{REPOSITORY_NAME})*)?$"
# ECR takes only a secret of its own account and region whose name starts with ecr-pullthroughcache/
# (https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-creating-rule.html); the name part
# is the CredentialArn pattern of AWS::ECR::PullThroughCacheRule.
PULL_THROUGH_SECRET_PATTERN = (
    r"^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:ecr-pullthroughcache/[a-zA-Z0-9/_+=.@-]+)?$"
)


@dataclass
class ImageParameters:
    """AllowedImageRepositories and the Secrets Manager secret of the Docker Hub pull-through cache rule."""

    allowed_repositories: CfnParameter
    docker_hub_secret: CfnParameter

    @classmethod
    def declare(cls, stack: Stack) -> ImageParameters:
        return cls(
            allowed_repositories=CfnParameter(
                stack,
                "AllowedImageRepositories",
                type="String",
                default="",
                allowed_pattern=REPOSITORY_LIST_PATTERN,
                max_length=2048,
                constraint_description="comma-separated ECR repository names of this account and region, or empty",
                description="Comma-separated ECR repositories of this account the orchestrator may use besides its "
                "own (image builds push there; custom images come from there). Empty: its own repository only.",
            ),
            docker_hub_secret=CfnParameter(
                stack,
                "DockerHubCredentialArn",
                type="String",
                default="",
                allowed_pattern=PULL_THROUGH_SECRET_PATTERN,
                max_length=612,
                constraint_description="the ARN of a Secrets Manager secret of this account and region named "
                "ecr-pullthroughcache/..., or empty",
                description="ARN of a Secrets Manager secret (name starting with ecr-pullthroughcache/, holding "
                "username and accessToken of a Docker Hub account): the stack creates an ECR pull-through cache "
                "rule for Docker Hub and image builds pull Docker Hub base images through it. Empty: no cache.",
            ),
        )

    def labels(self) -> list[tuple[CfnParameter, str]]:
        return [
            (self.allowed_repositories, "Other ECR repositories the orchestrator may use (Optional)"),
            (self.docker_hub_secret, "Docker Hub credentials secret for the pull-through cache (Optional)"),
        ]


# ---------------------------------------------------------------------------------------------------------
# The data perimeter: one stack parameter per setting of PERIMETER_SETTINGS, named after its field.

PERIMETER_LABEL = "Data perimeter (Optional)"
PERIMETER_PARAMETERS = {
    "allowed_data_buckets": (
        r"^([a-z0-9][a-z0-9.-]{1,61}[a-z0-9](,[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])*)?$",
        "Comma-separated names of the buckets a request may read and write besides the assets bucket (its "
        "locations are refused otherwise). Leave empty for any bucket of the account the pipeline's roles live in.",
        "Buckets requests may name (Optional)",
    ),
    # -- Endpoints the orchestrator did not deploy that monitors may watch
    "allowed_monitored_endpoints": (
        r"^([a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}(,[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62})*)?$",
        "Comma-separated names of endpoints the orchestrator did not deploy that monitors may watch. Leave empty "
        "for the endpoints of the orchestrator's own pipelines only.",
        "Other endpoints monitors may watch (Optional)",
    ),
}


def perimeter_parameter_name(field: str) -> str:
    """The stack parameter of a perimeter setting: allowed_data_buckets -> AllowedDataBuckets."""
    return "".join(part.capitalize() for part in field.split("_"))


@dataclass
class PerimeterParameters:
    """The perimeter's stack parameters, by the environment variable the orchestrator reads each from."""

    by_variable: dict[str, CfnParameter]
    labels: list[tuple[CfnParameter, str]]

    @classmethod
    def declare(cls, stack: Stack) -> PerimeterParameters:
        by_variable, labels = {}, []
        for field, variable, _ in PERIMETER_SETTINGS:
            pattern, description, label = PERIMETER_PARAMETERS[field]
            parameter = CfnParameter(
                stack,
                perimeter_parameter_name(field),
                type="String",
                default="",
                allowed_pattern=pattern,
                constraint_description="a comma-separated list without spaces",
                max_length=4096,
                description=description,
            )
            by_variable[variable] = parameter
            labels.append((parameter, label))
        return cls(by_variable, labels)


# ---------------------------------------------------------------------------------------------------------
# Who may do what (separation of duties, ownership)

_PRINCIPAL_ARN = r"arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:[\w+=.@/-]+"
PRINCIPAL_ARNS_PATTERN = rf"^({_PRINCIPAL_ARN})?(,{_PRINCIPAL_ARN})*$"
TAG_KEY_PATTERN = r"^[\w.:/=+@ -]{0,128}$"


@dataclass
class AccessParameters:
    allow_self_approval: CfnParameter
    admin_principal_arns: CfnParameter
    team_tag_key: CfnParameter

    @classmethod
    def declare(cls, stack: Stack) -> AccessParameters:
        return cls(
            allow_self_approval=_yes_no(
                stack,
                "AllowSelfApproval",
                "No",
                "Yes: the principal who provisioned or updated a pipeline (or asked for its teardown or rollback) may "
                "approve it too; No: another principal must (separation of duties).",
            ),
            admin_principal_arns=_optional_name(
                stack,
                "AdminPrincipalArns",
                PRINCIPAL_ARNS_PATTERN,
                4096,
                "Comma-separated IAM user or role ARNs that may update, delete and roll back any owner's pipeline "
                "(a role ARN admits every session of the role). Leave empty for none.",
            ),
            team_tag_key=_optional_name(
                stack,
                "TeamTagKey",
                TAG_KEY_PATTERN,
                128,
                "Tag key naming a caller role's team: a request's owner_team must equal it, and the team's roles "
                "may change the pipelines it owns. Leave empty to take owner_team as given.",
            ),
        )

    def labels(self) -> list[tuple[CfnParameter, str]]:
        return [
            (self.allow_self_approval, "May a principal approve what they asked for themselves?"),
            (self.admin_principal_arns, "Administrators: principals that may change any owner's pipeline (Optional)"),
            (self.team_tag_key, "Principal tag key naming a caller's team (Optional)"),
        ]


@dataclass
class OrchestratorParameters:
    notification_email: CfnParameter
    codecommit_repo_address: CfnParameter
    config_bucket: CfnParameter
    existing_bucket: CfnParameter
    existing_ecr_repo: CfnParameter
    use_model_registry: CfnParameter
    create_model_registry: CfnParameter
    allow_detailed_error_message: CfnParameter
    permissions_boundary: CfnParameter
    strict_validation: CfnParameter
    network: NetworkParameters
    # --- Monitoring engine
    monitoring_engine: CfnParameter
    vpc_id: CfnParameter
    connection: ConnectionParameters
    images: ImageParameters
    perimeter: PerimeterParameters
    delegated_admin: CfnParameter | None = None
    stages: dict[str, StageParameters] | None = None
    access: AccessParameters | None = None  # who may do what

    @classmethod
    def declare(cls, stack: Stack, multi_account: bool) -> OrchestratorParameters:
        parameters = cls(
            notification_email=CfnParameter(
                stack,
                "NotificationEmail",
                type="String",
                description="E-mail address that receives pipeline, job and approval notifications.",
                allowed_pattern=EMAIL_PATTERN,
                constraint_description="Please enter an email address with correct format (example@example.com)",
                min_length=5,
                max_length=320,
            ),
            codecommit_repo_address=CfnParameter(
                stack,
                "CodeCommitRepoAddress",
                type="String",
                default="",
                description="Clone URL of an existing CodeCommit repository: a push of mlops-config.json to its main "
                "branch provisions a pipeline. Leave empty for no git trigger.",
                allowed_pattern=CODECOMMIT_PATTERN,
                constraint_description="CodeCommit address must follow the pattern: ssh or "
                "https://git-codecommit.REGION.amazonaws.com/version/repos/REPONAME",
                min_length=0,
                max_length=320,
            ),
            config_bucket=_optional_name(
                stack,
                "ConfigS3Bucket",
                BUCKET_PATTERN,
                63,
                "Name of an existing S3 bucket in this region: an upload of mlops-config.json to its root provisions "
                "a pipeline. Leave empty for no config-bucket trigger.",
            ),
            existing_bucket=_optional_name(
                stack,
                "ExistingS3Bucket",
                BUCKET_PATTERN,
                63,
                "Name of an existing, versioned S3 bucket in this region for ML assets. Its EventBridge "
                "notifications must be on: pipelines start from the bucket's events on EventBridge (no polling), "
                "and the stack fails if they are off (enable with aws s3api put-bucket-notification-configuration "
                "--bucket NAME --notification-configuration '{\"EventBridgeConfiguration\": {}}'). "
                "If not provided, a new S3 bucket is created.",
            ),
            existing_ecr_repo=_optional_name(
                stack,
                "ExistingECRRepo",
                ECR_PATTERN,
                63,
                "Name of an existing Amazon ECR repository for custom algorithm images. "
                "If not provided, a new ECR repository is created.",
            ),
            use_model_registry=_yes_no(
                stack,
                "UseModelRegistry",
                "No",
                "Yes: BYOM inference pipelines take a model_package_name from the SageMaker Model Registry.",
            ),
            create_model_registry=_yes_no(
                stack, "CreateModelRegistry", "No", "Yes: create a SageMaker model package group (kept on delete)."
            ),
            allow_detailed_error_message=_yes_no(
                stack,
                "AllowDetailedErrorMessage",
                "Yes",
                "Yes: API error responses carry detailedMessage with the reason of the error.",
            ),
            permissions_boundary=_optional_name(
                stack,
                "PermissionsBoundaryArn",
                POLICY_ARN_PATTERN,
                2048,
                "ARN of your own managed policy to bound every role the pipelines create (it must allow what the "
                "blueprints' roles do). If not provided, the stack creates one.",
            ),
            strict_validation=_yes_no(
                stack,
                "StrictValidation",
                "No",
                "Yes: a request key that is no field of its pipeline type is refused; "
                "No: it is ignored with a warning, as the predecessor ignored it.",
            ),
            network=NetworkParameters.declare(stack, "", "of this account"),
            vpc_id=_optional_name(
                stack,
                "VpcId",
                f"^{blueprint_parameters.VPC_ID_PARAMETER.pattern}$",
                64,
                "VPC of SubnetIds: the image builder's CodeBuild project names it. Leave empty for no VPC.",
            ),
            connection=ConnectionParameters.declare(stack),
            images=ImageParameters.declare(stack),
            perimeter=PerimeterParameters.declare(stack),
            # --- Monitoring engine
            monitoring_engine=CfnParameter(
                stack,
                "MonitoringEngine",
                type="String",
                allowed_values=list(MONITORING_ENGINES),
                default=DEFAULT_MONITORING_ENGINE,
                description="Engine of the monitors whose request names none: Open (our own engine on SageMaker "
                "Processing and EventBridge Scheduler, for every account) or ModelMonitor (SageMaker Model Monitor "
                "and Clarify, for accounts that have them).",
            ),
        )
        parameters.access = AccessParameters.declare(stack)
        # The image builder's CodeBuild project names the VPC of the default subnets.
        CfnRule(
            stack,
            "VpcIdWithSubnets",
            assertions=[
                CfnRuleAssertion(
                    assert_=Fn.condition_or(
                        Fn.condition_equals(parameters.network.subnet_ids.value_as_string, ""),
                        Fn.condition_not(Fn.condition_equals(parameters.vpc_id.value_as_string, "")),
                    ),
                    assert_description="VpcId names the VPC of SubnetIds: give it with the subnets",
                )
            ],
        )
        if multi_account:
            parameters.delegated_admin = _yes_no(
                stack,
                "DelegatedAdminAccount",
                "Yes",
                "Yes: this account is a delegated administrator of AWS Organizations for StackSets; "
                "No: it is the management account.",
            )
            parameters.stages = {
                stage: StageParameters(
                    CfnParameter(
                        stack,
                        f"{stage}AccountId",
                        type="String",
                        allowed_pattern=ACCOUNT_PATTERN,
                        description=f"AWS {long_name.lower()} account number where the CF template will be deployed",
                    ),
                    CfnParameter(
                        stack,
                        f"{stage}OrgId",
                        type="String",
                        allowed_pattern=ORG_UNIT_PATTERN,
                        description=f"AWS {long_name.lower()} organizational unit id where the CF template "
                        "will be deployed",
                    ),
                    NetworkParameters.declare(stack, stage, f"of the {long_name.lower()} account"),
                )
                for stage, long_name in STAGE_NAMES.items()
            }
        stack.template_options.metadata = {"AWS::CloudFormation::Interface": parameters.interface()}
        return parameters

    def interface(self) -> dict:
        labels = [
            (self.notification_email, "Notification Email (Required)"),
            (self.codecommit_repo_address, "CodeCommit Repo URL Address (Optional)"),
            (self.config_bucket, "MLOps configuration S3 bucket name (Optional)"),
            (self.existing_bucket, "Name of an Existing S3 Bucket (Optional)"),
            (self.existing_ecr_repo, "Name of an Existing Amazon ECR repository (Optional)"),
            (self.use_model_registry, "Do you want to use SageMaker Model Registry?"),
            (self.create_model_registry, "Do you want the solution to create a SageMaker's model package group?"),
            (self.allow_detailed_error_message, "Do you want to allow detailed error messages in the APIs response?"),
            (self.permissions_boundary, "Permissions boundary of the pipelines' roles (Optional)"),
            (self.strict_validation, "Do you want unknown request keys refused rather than warned about?"),
            (self.monitoring_engine, "Which engine runs the monitors (Open, or ModelMonitor)?"),
            *self.connection.labels(),
            *self.images.labels(),
            *(self.access.labels() if self.access else []),
        ]
        if self.delegated_admin is not None and self.stages is not None:
            labels.append(
                (self.delegated_admin, "Are you using a delegated administrator account (AWS Organizations)?")
            )
            for stage, long_name in STAGE_NAMES.items():
                labels.append((self.stages[stage].account_id, f"{long_name} Account ID (Required)"))
                labels.append(
                    (self.stages[stage].org_unit_id, f"{long_name} Account Organizational Unit ID (Required)")
                )
        network = [
            (self.network.subnet_ids, "Subnet ids (Optional)"),
            (self.network.security_group_ids, "Security group ids (Optional)"),
            (self.vpc_id, "VPC id of the subnets, for the image builder (Optional)"),
        ]
        for stage, long_name in STAGE_NAMES.items() if self.stages else ():
            stage_network = self.stages[stage].network if self.stages else None
            if stage_network is not None:
                network.append((stage_network.subnet_ids, f"{long_name} account subnet ids (Optional)"))
                network.append((stage_network.security_group_ids, f"{long_name} account security group ids (Optional)"))
        return {
            "ParameterGroups": [
                {"Label": {"default": GROUP_LABEL}, "Parameters": [parameter.logical_id for parameter, _ in labels]},
                {"Label": {"default": NETWORK_LABEL}, "Parameters": [parameter.logical_id for parameter, _ in network]},
                {
                    "Label": {"default": PERIMETER_LABEL},
                    "Parameters": [parameter.logical_id for parameter, _ in self.perimeter.labels],
                },
            ],
            "ParameterLabels": {
                parameter.logical_id: {"default": label}
                for parameter, label in (*labels, *network, *self.perimeter.labels)
            },
        }


@dataclass
class OrchestratorConditions:
    git_address_provided: CfnCondition
    config_bucket_provided: CfnCondition
    create_bucket: CfnCondition
    existing_bucket_provided: CfnCondition
    create_ecr_repo: CfnCondition
    create_model_registry: CfnCondition
    create_permissions_boundary: CfnCondition
    connection_provided: CfnCondition

    @classmethod
    def declare(cls, stack: Stack, parameters: OrchestratorParameters) -> OrchestratorConditions:
        def provided(name: str, parameter: CfnParameter) -> CfnCondition:
            return CfnCondition(
                stack, name, expression=Fn.condition_not(Fn.condition_equals(parameter.value_as_string, ""))
            )

        def empty(name: str, parameter: CfnParameter) -> CfnCondition:
            return CfnCondition(stack, name, expression=Fn.condition_equals(parameter.value_as_string, ""))

        return cls(
            git_address_provided=provided("GitAddressProvided", parameters.codecommit_repo_address),
            config_bucket_provided=provided("ConfigBucketProvided", parameters.config_bucket),
            create_bucket=empty("CreateS3Bucket", parameters.existing_bucket),
            existing_bucket_provided=provided("ExistingS3BucketProvided", parameters.existing_bucket),
            create_ecr_repo=empty("CreateECRRepo", parameters.existing_ecr_repo),
            create_model_registry=CfnCondition(
                stack,
                "CreateModelRegistryCondition",
                expression=Fn.condition_equals(parameters.create_model_registry.value_as_string, "Yes"),
            ),
            create_permissions_boundary=empty("CreatePermissionsBoundary", parameters.permissions_boundary),
            connection_provided=provided("ConnectionProvided", parameters.connection.arn),
        )
