# SPDX-License-Identifier: Apache-2.0
"""The orchestrator's own settings: how its stack was deployed (read from the Lambda's environment)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

STAGES = ("dev", "staging", "prod")

# --- Monitoring engine --------------------------------------------------------------------------------------
# The orchestrator stack's parameter `MonitoringEngine` (its allowed values, the default of a new stack) reaches
# the Lambda as MONITORING_ENGINE; a monitor request's `monitoring_engine` names the same engines in its own
# spelling. Declared here once: the CDK writes the variable from this table, the Lambda reads it.
MONITORING_ENGINE_ENV = "MONITORING_ENGINE"
MONITORING_ENGINES = {"Open": "open", "ModelMonitor": "model_monitor"}  # stack parameter value -> request value
DEFAULT_MONITORING_ENGINE = "Open"
OPEN_ENGINE, MODEL_MONITOR_ENGINE = MONITORING_ENGINES["Open"], MONITORING_ENGINES["ModelMonitor"]


@dataclass(frozen=True)
class StageTarget:
    account_id: str
    org_unit_id: str
    # The stage account's own VPC: the default of requests that name none.
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    region: str = "us-east-1"
    account_id: str = "123456789012"
    assets_bucket: str = "mlops-assets"
    blueprint_bucket: str = "mlops-blueprints"
    cfn_role_arn: str = ""
    permissions_boundary_arn: str = ""  # every role of a pipeline stack in this account carries it
    ecr_repo_name: str = "mlops-custom-algorithms"
    ecr_repo_arn: str = ""
    sns_topic_arn: str = ""
    index_table: str = "mlops-pipeline-index"
    multi_account: bool = False
    model_registry: bool = False
    delegated_admin: bool = True
    detailed_errors: bool = True
    strict_validation: bool = False  # unknown request keys are errors, not warnings
    stage_targets: Mapping[str, StageTarget] | None = None
    # The VPC of the containers a request deploys in this account, unless it names its own; empty: no VPC.
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    vpc_id: str = ""
    # --- Images (stack parameters AllowedImageRepositories, DockerHubCredentialArn) ---
    # Repositories of this account the orchestrator may use besides its own (names).
    allowed_image_repositories: tuple[str, ...] = ()
    # The ECR repository prefix of the stack's Docker Hub pull-through cache rule; empty: the stack has none.
    docker_hub_cache_prefix: str = ""
    # The data perimeter (PERIMETER_SETTINGS): what a request may name beyond the orchestrator's own account.
    allowed_data_buckets: tuple[str, ...] = ()  # empty: any bucket of the account the role lives in
    # -- Where the wrapper pipelines keep CodePipeline's artifacts: a bucket only their own roles write.
    artifact_bucket: str = "mlops-pipeline-artifacts"
    # Who may do what (stack parameters AllowSelfApproval, AdminPrincipalArns, TeamTagKey).
    allow_self_approval: bool = False  # the principal who asked may approve; off: another principal must
    admin_principal_arns: tuple[str, ...] = ()  # may change, delete and roll back any owner's pipeline
    team_tag_key: str = ""  # the principal tag naming a role's team; "" leaves owner_team unchecked
    # --- Monitoring engine: a monitor request that names none runs on this one ("open" | "model_monitor").
    monitoring_engine: str = OPEN_ENGINE
    # -- Endpoints a monitor may watch besides those the orchestrator's pipelines deployed (AllowedMonitoredEndpoints).
    allowed_monitored_endpoints: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        multi = env.get("IS_MULTI_ACCOUNT", "False") == "True"
        targets = None
        if multi:
            targets = {
                stage: StageTarget(
                    env.get(f"{stage.upper()}_ACCOUNT_ID", ""),
                    env.get(f"{stage.upper()}_ORG_ID", ""),
                    _ids(env.get(f"{stage.upper()}_SUBNET_IDS", "")),
                    _ids(env.get(f"{stage.upper()}_SECURITY_GROUP_IDS", "")),
                )
                for stage in STAGES
            }
        region = env.get("REGION") or env.get("AWS_REGION") or "us-east-1"
        return cls(
            region=region,
            account_id=env.get("ACCOUNT_ID", "") or _account_from_arn(env.get("ECR_REPO_ARN", "")),
            assets_bucket=env.get("ASSETS_BUCKET", ""),
            blueprint_bucket=env.get("BLUEPRINT_BUCKET", ""),
            cfn_role_arn=env.get("CFN_ROLE_ARN", ""),
            permissions_boundary_arn=env.get("PERMISSIONS_BOUNDARY_ARN", ""),
            ecr_repo_name=env.get("ECR_REPO_NAME", ""),
            ecr_repo_arn=env.get("ECR_REPO_ARN", ""),
            sns_topic_arn=env.get("MLOPS_NOTIFICATIONS_SNS_TOPIC", ""),
            index_table=env.get("PIPELINE_INDEX_TABLE", ""),
            multi_account=multi,
            model_registry=env.get("USE_MODEL_REGISTRY", "No") == "Yes",
            delegated_admin=env.get("IS_DELEGATED_ADMIN", "Yes") == "Yes",
            detailed_errors=env.get("ALLOW_DETAILED_ERROR_MESSAGE", "Yes") == "Yes",
            strict_validation=env.get("STRICT_VALIDATION", "No") == "Yes",
            stage_targets=targets,
            subnet_ids=_ids(env.get("SUBNET_IDS", "")),
            security_group_ids=_ids(env.get("SECURITY_GROUP_IDS", "")),
            vpc_id=env.get("VPC_ID", ""),
            allowed_image_repositories=_ids(env.get("ALLOWED_IMAGE_REPOSITORIES", "")),
            docker_hub_cache_prefix=env.get("DOCKER_HUB_CACHE_PREFIX", ""),
            **{name: parse(env.get(variable, "")) for name, variable, parse in PERIMETER_SETTINGS},
            artifact_bucket=env.get("ARTIFACT_BUCKET", ""),
            # Who may do what.
            allow_self_approval=env.get("ALLOW_SELF_APPROVAL", "No") == "Yes",
            admin_principal_arns=_ids(env.get("ADMIN_PRINCIPAL_ARNS", "")),
            team_tag_key=env.get("TEAM_TAG_KEY", "").strip(),
            monitoring_engine=monitoring_engine(env.get(MONITORING_ENGINE_ENV, DEFAULT_MONITORING_ENGINE)),
        )

    def accounts(self) -> tuple[str, ...]:
        """The orchestrator's account and its stage accounts: where a request's keys, topics and packages may live."""
        stages = [target.account_id for target in (self.stage_targets or {}).values()]
        return tuple(dict.fromkeys(account for account in (self.account_id, *stages) if account))

    def network(self, stage: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The default subnets and security groups of a deployment: the stage account's, or this account's."""
        if stage is not None and self.stage_targets:
            target = self.stage_targets[stage]
            return target.subnet_ids, target.security_group_ids
        return self.subnet_ids, self.security_group_ids

    @property
    def image_repositories(self) -> tuple[str, ...]:
        """The repositories of this account that builds push to: the orchestrator's, then the operator's."""
        return tuple(dict.fromkeys(name for name in (self.ecr_repo_name, *self.allowed_image_repositories) if name))


def monitoring_engine(parameter: str) -> str:
    """The engine a stack parameter value names; a value the stack would refuse fails at cold start."""
    if parameter not in MONITORING_ENGINES:
        raise ValueError(f"{MONITORING_ENGINE_ENV} must be one of {', '.join(MONITORING_ENGINES)}, not '{parameter}'")
    return MONITORING_ENGINES[parameter]


def _ids(text: str) -> tuple[str, ...]:
    """A stack parameter's comma-separated ids."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


# ---------------------------------------------------------------------------------------------------------
# The data perimeter's settings, declared once: (Settings field, environment variable, parser). The Lambda
# reads them here; the orchestrator stack writes each variable from the stack parameter of the same name
# (infrastructure/orchestrator/parameters.py, PerimeterParameters).
PERIMETER_SETTINGS: tuple[tuple[str, str, Callable[[str], tuple[str, ...]]], ...] = (
    ("allowed_data_buckets", "ALLOWED_DATA_BUCKETS", _ids),
    ("allowed_monitored_endpoints", "ALLOWED_MONITORED_ENDPOINTS", _ids),
)


def _account_from_arn(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""
