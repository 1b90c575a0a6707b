# SPDX-License-Identifier: Apache-2.0
"""Every AWS operation our Lambda code makes in the test session, checked against its function's role.

A botocore `before-call` hook on every client records (handler, IAM action) for each call made from code under
`lambdas/`, attributed to the Lambda handler it ran under (see `Handlers.of_frames`); calls of local mode and of the
tests themselves are not recorded. At the end of the session, each recorded action must be allowed (action
level, wildcards expanded) by the role of a function with that handler in the synthesized templates, so that an
AccessDenied on AWS shows here first. Under pytest-xdist every worker writes its record to a file and the
controller checks them all.
"""

from __future__ import annotations

import inspect
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import botocore.client
import pytest

# Where IAM's service prefix is not the client's signing name.
IAM_PREFIXES = {"monitoring": "cloudwatch"}
# Operations authorized by an action of another name (https://docs.aws.amazon.com/service-authorization/).
IAM_ACTIONS = {
    "s3:ListObjects": ["s3:ListBucket"],
    "s3:ListObjectsV2": ["s3:ListBucket"],
    "s3:ListObjectVersions": ["s3:ListBucketVersions"],
    "s3:HeadObject": ["s3:GetObject"],
    "s3:HeadBucket": ["s3:ListBucket"],
    "s3:CopyObject": ["s3:GetObject", "s3:PutObject"],
    "s3:DeleteObjects": ["s3:DeleteObject"],
    "s3:GetBucketNotificationConfiguration": ["s3:GetBucketNotification"],
    "lambda:Invoke": ["lambda:InvokeFunction"],
}
# Code of the project; any other frame (botocore, moto, the standard library) is transparent, and so is
# lambdas.shared, whose client factory every Lambda calls through.
PROJECT_PACKAGES = ("lambdas.", "local.", "tests.", "infrastructure.", "app")
# Calls IAM does not authorize.
UNAUTHORIZED = {"sts:GetCallerIdentity"}
RECORD_KEY = pytest.StashKey[dict[str, set[str]]]()
TEMPLATES_KEY = pytest.StashKey[Path]()


def iam_actions(signing_name: str, operation: str, params: dict[str, Any]) -> list[str]:
    """The IAM actions that authorize one API call."""
    prefix = IAM_PREFIXES.get(signing_name, signing_name)
    name = f"{prefix}:{operation}"
    if name in UNAUTHORIZED:
        return []
    # A `before-call` hook sees the serialized request: a version id is in its query string.
    version = params.get("VersionId") or (params.get("query_string") or {}).get("versionId")
    if prefix == "s3" and version and operation in ("GetObject", "HeadObject", "DeleteObject"):
        return [f"s3:{'DeleteObject' if operation == 'DeleteObject' else 'GetObject'}Version"]
    if name == "s3:DeleteObjects" and any("VersionId" in o for o in params.get("Delete", {}).get("Objects", [])):
        return ["s3:DeleteObject", "s3:DeleteObjectVersion"]
    return IAM_ACTIONS.get(name, [name])


class Handlers:
    """The Lambda handlers of the app (`module.function`), and the modules of ours each one's code imports."""

    def __init__(self, handlers: set[str]):
        self.handlers = handlers
        self._code: dict[str, set[str]] | None = None

    def code(self) -> dict[str, set[str]]:
        """handler -> the `lambdas.*` modules its module imports, directly or not (lambdas.shared aside)."""
        if self._code is None:
            self._code = {handler: _imported(handler.rsplit(".", 1)[0]) for handler in self.handlers}
        return self._code

    def of_frames(self, frames: list[tuple[str, str]]) -> set[str]:
        """Handlers a call belongs to, given its stack as (module, function), innermost first.

        The innermost frame of the project decides: local mode's or a test's own call is no Lambda's; Lambda code
        belongs to the innermost handler running it (an emulated invocation runs one handler inside another),
        else to every handler whose code holds that module."""
        for index, (module, _) in enumerate(frames):
            if module.startswith(("lambdas.shared", __name__)) or not module.startswith(PROJECT_PACKAGES):
                continue
            if not module.startswith("lambdas."):
                return set()
            for outer_module, function in frames[index:]:
                if f"{outer_module}.{function}" in self.handlers:
                    return {f"{outer_module}.{function}"}
            return {handler for handler, modules in self.code().items() if module in modules}
        return set()


def _imported(root: str) -> set[str]:
    import importlib
    import types

    seen: set[str] = set()
    todo = [root]
    while todo:
        name = todo.pop()
        if name in seen or not name.startswith("lambdas.") or name.startswith("lambdas.shared"):
            continue
        seen.add(name)
        for value in vars(importlib.import_module(name)).values():
            found = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
            if isinstance(found, str):
                todo.append(found)
    return seen


# The Lambda handlers of the solution's code (CDK's own handlers are not ours to record).
HANDLERS = Handlers(
    {
        "lambdas.pipeline_orchestration.index.handler",
        "lambdas.custom_resource.copy_assets.handler",
        "lambdas.custom_resource.bucket_notifications.handler",
        "lambdas.blueprints.open_engine.run_scheduled",
        "lambdas.blueprints.batch_transform.handler",
        "lambdas.blueprints.inference.handler",
        "lambdas.blueprints.invoke_on_deploy.handler",
        "lambdas.blueprints.job_resource.on_event",
        "lambdas.blueprints.job_resource.poll",
        "lambdas.blueprints.stackset_deployer.handler",
        "lambdas.blueprints.artifact_verifier.handler",
    }
)


def _frames() -> list[tuple[str, str]]:
    frames = []
    frame = inspect.currentframe()
    while frame is not None:
        frames.append((frame.f_globals.get("__name__", ""), frame.f_code.co_name))
        frame = frame.f_back
    return frames


# Code that several handlers share (a job module that a test calls directly) is owned by them together.
OWNERS_SEPARATOR = " | "


def _signed_with_other_credentials(request_signer: Any) -> bool:
    """Whether the call is signed with credentials other than the process's own (the function role's)."""
    credentials = getattr(request_signer, "_credentials", None)
    key = getattr(credentials, "access_key", None)
    return bool(key) and key != os.environ.get("AWS_ACCESS_KEY_ID")


def record_calls(record: dict[str, set[str]]):
    """A `before-call` hook adding each call of our Lambda code to `record` (owning handlers -> IAM actions)."""

    def before_call(model: Any, params: dict[str, Any], request_signer: Any = None, **_: Any) -> None:
        if _signed_with_other_credentials(request_signer):
            return  # e.g. CodePipeline's artifact credentials, which are the job's, not the function role's
        handlers = HANDLERS.of_frames(_frames())
        if handlers:
            actions = iam_actions(model.service_model.signing_name, model.name, params)
            record[OWNERS_SEPARATOR.join(sorted(handlers))].update(actions)

    return before_call


def functions_by_handler(templates: dict[str, dict[str, Any]]) -> dict[str, list[tuple[str, str]]]:
    """handler -> every (stack, role logical id) of a function that runs it."""
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for stack, template in templates.items():
        for resource in template.get("Resources", {}).values():
            properties = resource.get("Properties", {})
            if resource["Type"] == "AWS::Lambda::Function" and "Handler" in properties:
                role = properties["Role"]["Fn::GetAtt"][0]
                found[properties["Handler"]].append((stack, role))
    return found


def not_allowed(record: dict[str, set[str]], templates: dict[str, dict[str, Any]]) -> list[str]:
    """Recorded actions that no role of a function running the owning handlers allows."""
    from tests.infrastructure.iam_policies import allowed_actions, allows

    functions = functions_by_handler(templates)
    gaps = []
    for handler, actions in sorted(record.items()):
        roles = [role for owner in handler.split(OWNERS_SEPARATOR) for role in functions.get(owner, [])]
        if not roles:
            gaps.append(f"{handler}: no function of the templates runs it")
            continue
        granted = [allowed_actions(templates[stack], role) for stack, role in roles]
        gaps += [
            f"{handler}: {action}"
            for action in sorted(actions)
            if not any(allows(actions_of_role, action) for actions_of_role in granted)
        ]
    return gaps


# ---------------------------------------------------------------------------------------------------------------
# The plugin: tests/conftest.py imports these hooks.


def pytest_configure(config: pytest.Config) -> None:
    record: dict[str, set[str]] = defaultdict(set)
    config.stash[RECORD_KEY] = record
    hook = record_calls(record)
    original = botocore.client.BaseClient.__init__

    def recording_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.meta.events.register("before-call.*.*", hook)

    botocore.client.BaseClient.__init__ = recording_init  # type: ignore[method-assign]
    config.add_cleanup(lambda: setattr(botocore.client.BaseClient, "__init__", original))


def remember_templates(config: pytest.Config, outdir: Path) -> None:
    """Called by the `synthesized` fixture: the templates the session's record is checked against."""
    config.stash[TEMPLATES_KEY] = outdir


def _record_dir(config: pytest.Config) -> Path:
    """One folder per run: xdist workers' temporary folders are inside the controller's."""
    base = Path(config._tmp_path_factory.getbasetemp())  # type: ignore[attr-defined]
    return (base.parent if hasattr(config, "workerinput") else base) / "aws-calls"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    record = config.stash[RECORD_KEY]
    outdir = config.stash.get(TEMPLATES_KEY, None)
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:  # an xdist worker: hand the record to the controller
        folder = _record_dir(config)
        folder.mkdir(parents=True, exist_ok=True)
        content = {"record": {h: sorted(a) for h, a in record.items()}, "templates": str(outdir or "")}
        (folder / f"{workerinput['workerid']}.json").write_text(json.dumps(content))
        return
    merged: dict[str, set[str]] = defaultdict(set, {h: set(a) for h, a in record.items()})
    folder = _record_dir(config)  # the workers' records, when xdist ran the session
    if folder.exists():
        for path in sorted(folder.glob("*.json")):
            content = json.loads(path.read_text())
            for handler, actions in content["record"].items():
                merged[handler].update(actions)
            outdir = outdir or (Path(content["templates"]) if content["templates"] else None)
    _check(session, merged, outdir)


def _check(session: pytest.Session, record: dict[str, set[str]], outdir: Path | None) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if not record or outdir is None:
        return  # no Lambda code ran, or no template was synthesized to check it against
    templates = {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in outdir.glob("*.template.json")
    }
    gaps = not_allowed(record, templates)
    if os.environ.get("MLOPS_AWS_CALLS_FILE"):  # the record itself, for a reader who wants to see it
        Path(os.environ["MLOPS_AWS_CALLS_FILE"]).write_text(
            json.dumps({h: sorted(a) for h, a in record.items()}, indent=1)
        )
    calls = sum(len(actions) for actions in record.values())
    if reporter is not None:
        reporter.write_sep("=", f"AWS calls of the Lambdas: {calls} actions of {len(record)} handlers checked")
        for line in gaps:
            reporter.write_line(f"not allowed by the function's role: {line}")
    if gaps:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
