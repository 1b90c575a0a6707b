# SPDX-License-Identifier: Apache-2.0
"""Every test runs with fake AWS credentials and a fixed region: nothing can reach a real endpoint."""

from __future__ import annotations

import os

import pytest

# The AWS calls of our Lambda code, recorded in every tier and checked against their roles (tests/aws_calls.py).
from tests.aws_calls import pytest_configure, pytest_sessionfinish, remember_templates  # noqa: F401

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}


@pytest.fixture(autouse=True)
def fake_aws_environment(monkeypatch: pytest.MonkeyPatch):
    from lambdas.shared.aws import reset_clients

    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    # Local-mode tests point every client at the emulator on loopback; anything else is removed.
    if not os.environ.get("AWS_ENDPOINT_URL", "").startswith("http://127.0.0.1:"):
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    reset_clients()
    yield
    reset_clients()


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    """The whole CDK app, synthesized once per session (slow: a Node.js process) and shared by every tier."""
    from tests.synthesis import synthesize

    result = synthesize(tmp_path_factory.mktemp("cdk.out"))
    remember_templates(request.config, result.outdir)
    return result


@pytest.fixture(scope="session")
def built_templates(synthesized, tmp_path_factory: pytest.TempPathFactory):
    """The distributable files built from that synthesis: regional-s3-assets, as deployment/ holds them."""
    from app import ORCHESTRATOR_STACKS, stack_id
    from infrastructure.blueprints import BLUEPRINT_STACKS
    from infrastructure.build.package import package
    from infrastructure.distribution import Distribution

    out = tmp_path_factory.mktemp("dist")
    package(
        synthesized.outdir,
        Distribution.from_env(),
        out / "global-s3-assets",
        out / "regional-s3-assets",
        list(ORCHESTRATOR_STACKS),
        {stack_id(template): template for template in BLUEPRINT_STACKS},
    )
    return out / "regional-s3-assets"
