# SPDX-License-Identifier: Apache-2.0
"""Where the built solution lives, and the synthesizers that point every asset there (no CDK bootstrap).

The orchestrator stacks read their Lambda code from the distribution bucket,
`<bucket>-<region>/<solution>/<version>/<asset hash>.zip`. Blueprint stacks are deployed by the orchestrator
(also into the stage accounts), so their Lambda code comes from the orchestrator's blueprints bucket,
`blueprints/lambdas/<asset hash>.zip`, where the copy-assets custom resource puts it; a blueprint stack with
Lambda code therefore declares a `BlueprintBucket` parameter.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_lambda

from lambdas.pipeline_orchestration import planner

SOURCE_DIR = Path(__file__).resolve().parents[1]
# Where the orchestrator reads the blueprint templates from (the planner names the folder).
BLUEPRINTS_PREFIX = f"{planner.BLUEPRINTS_PREFIX}/"
BLUEPRINT_LAMBDAS_PREFIX = f"{BLUEPRINTS_PREFIX}lambdas/"
BLUEPRINTS_ARCHIVE = "blueprints.zip"
# The blueprint Lambdas' code: one zip of the `lambdas/` tree they need, named by its content so that a code
# change gives a new key and CloudFormation updates the functions that read it.
BLUEPRINT_LAMBDAS_PATTERN = f"{BLUEPRINT_LAMBDAS_PREFIX}blueprint-lambdas-*.zip"
BLUEPRINT_LAMBDA_PACKAGES = ("blueprints", "shared")


@dataclass(frozen=True)
class Distribution:
    """The build's `DIST_BUCKET SOLUTION_NAME VERSION`."""

    bucket: str = "mlops-orchestrator-dist"
    solution: str = "mlops-orchestrator"
    version: str = "v0.1.0"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Distribution:
        env = dict(os.environ) if env is None else env
        default = cls()
        return cls(
            env.get("DIST_BUCKET") or default.bucket,
            env.get("SOLUTION_NAME") or default.solution,
            env.get("VERSION") or default.version,
        )

    @property
    def regional_bucket(self) -> str:
        """The bucket name with the `${AWS::Region}` placeholder, as templates reference it."""
        return f"{self.bucket}-${{AWS::Region}}"

    @property
    def prefix(self) -> str:
        return f"{self.solution}/{self.version}/"

    @property
    def blueprints_key(self) -> str:
        return f"{self.prefix}{BLUEPRINTS_ARCHIVE}"


def drop_redundant_depends_on(template: dict[str, Any]) -> dict[str, Any]:
    """Remove DependsOn entries that a Ref, Fn::GetAtt or Fn::Sub of the same resource already enforces.

    CDK adds both (e.g. a Lambda function on its role); cfn-lint rightly warns about the duplicate (W3005).
    """
    resources = template.get("Resources", {})
    for resource in resources.values():
        depends_on = resource.get("DependsOn")
        if not depends_on:
            continue
        body = {key: value for key, value in resource.items() if key != "DependsOn"}
        referenced = _references(body)
        kept = [d for d in ([depends_on] if isinstance(depends_on, str) else depends_on) if d not in referenced]
        if kept:
            resource["DependsOn"] = kept
        else:
            del resource["DependsOn"]
    return template


def _references(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".")[0]
                found.add(target)
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                found.update(part.split("}")[0].split(".")[0] for part in str(text).split("${")[1:])
            found |= _references(value)
    elif isinstance(node, list):
        for item in node:
            found |= _references(item)
    return found


# CDK's grants (CodePipeline artifact and source buckets, the CloudFormation deploy action) use action
# prefixes; each is replaced by the actions those services really call, so every allowed action is named.
NAMED_ACTIONS = {
    "s3:GetObject*": ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:GetObjectVersionTagging"],
    "s3:GetBucket*": ["s3:GetBucketLocation", "s3:GetBucketVersioning", "s3:GetBucketAcl"],
    "s3:List*": ["s3:ListBucket", "s3:ListBucketVersions"],
    "s3:DeleteObject*": ["s3:DeleteObject", "s3:DeleteObjectVersion"],
    "s3:Abort*": ["s3:AbortMultipartUpload"],
    "cloudformation:DescribeStack*": [
        "cloudformation:DescribeStacks",
        "cloudformation:DescribeStackEvents",
        "cloudformation:DescribeStackResource",
        "cloudformation:DescribeStackResources",
    ],
    "cloudformation:GetTemplate*": ["cloudformation:GetTemplate", "cloudformation:GetTemplateSummary"],
}


def name_prefixed_actions(node: Any) -> Any:
    """Replace the action prefixes of NAMED_ACTIONS in every IAM statement below `node`, in place."""
    if isinstance(node, dict):
        actions = node.get("Action")
        if node.get("Effect") == "Allow" and actions is not None:
            listed = actions if isinstance(actions, list) else [actions]
            named: list[Any] = []
            for action in listed:
                for replacement in NAMED_ACTIONS.get(action, [action]) if isinstance(action, str) else [action]:
                    if replacement not in named:
                        named.append(replacement)
            node["Action"] = named if len(named) > 1 else named[0]
        for value in node.values():
            name_prefixed_actions(value)
    elif isinstance(node, list):
        for value in node:
            name_prefixed_actions(value)
    return node


def normalize_templates(outdir: str | Path) -> None:
    """Rewrite every synthesized template of a cloud assembly without redundant DependsOn, with named actions."""
    for path in sorted(Path(outdir).glob("*.template.json")):
        original = path.read_text()
        template = name_prefixed_actions(drop_redundant_depends_on(json.loads(original)))
        normalized = json.dumps(template, indent=1)
        if normalized != original:
            path.write_text(normalized)


def orchestrator_synthesizer(distribution: Distribution) -> cdk.StackSynthesizer:
    """Assets in the distribution bucket; CLI credentials, so no bootstrap stack and no BootstrapVersion rule."""
    return cdk.CliCredentialsStackSynthesizer(
        file_assets_bucket_name=distribution.regional_bucket, bucket_prefix=distribution.prefix
    )


def blueprint_synthesizer() -> cdk.StackSynthesizer:
    """Assets in the orchestrator's blueprints bucket, named by the stack's `BlueprintBucket` parameter."""
    return cdk.CliCredentialsStackSynthesizer(
        file_assets_bucket_name="${BlueprintBucket}", bucket_prefix=BLUEPRINT_LAMBDAS_PREFIX
    )


def blueprint_lambda_files() -> dict[str, bytes]:
    """Archive name -> content of the blueprint Lambdas' package tree (sources only)."""
    root = SOURCE_DIR / "lambdas"
    files = {"lambdas/__init__.py": (root / "__init__.py").read_bytes()}
    for package in BLUEPRINT_LAMBDA_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            files[path.relative_to(SOURCE_DIR).as_posix()] = path.read_bytes()
    return files


@functools.cache
def blueprint_lambdas_key() -> str:
    """`blueprints/lambdas/blueprint-lambdas-<content hash>.zip`, the key the blueprint stacks read code from."""
    digest = hashlib.sha256()
    for name, content in sorted(blueprint_lambda_files().items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
    return BLUEPRINT_LAMBDAS_PATTERN.replace("*", digest.hexdigest()[:16])


def lambda_code(package: str) -> aws_lambda.Code:
    """Code of a Lambda: only `lambdas/__init__.py`, `lambdas/<package>/` and `lambdas/shared/`.

    The Lambda runtime ships boto3, so nothing else goes in; handlers read e.g.
    `lambdas.pipeline_orchestration.index.handler`.
    """
    included = [f"lambdas/{package}", "lambdas/shared"]
    return aws_lambda.Code.from_asset(
        str(SOURCE_DIR),
        exclude=[
            "*",
            "!lambdas/",
            "!lambdas/__init__.py",
            *(pattern for path in included for pattern in (f"!{path}/", f"!{path}/**")),
            "__pycache__/",
            "*.pyc",
            "tests/",
            ".*",
        ],
        ignore_mode=cdk.IgnoreMode.GIT,
    )
