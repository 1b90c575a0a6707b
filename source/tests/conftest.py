# SPDX-License-Identifier: Apache-2.0
"""Every test runs with fake AWS credentials and a fixed region: nothing can reach a real endpoint."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

# The AWS calls of our Lambda code, recorded in every tier and checked against their roles (tests/aws_calls.py).
from tests.aws_calls import pytest_configure, pytest_sessionfinish, remember_templates  # noqa: F401


class _SearchPaths(list):
    """boto3 appends its data folder to the loader of each new session; a loader shared by all needs it once."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


def _share_one_model_loader() -> None:
    """Every botocore session of the test process reads the service models through one loader.

    The Lambda code makes a session per client, and tests reset the clients before each case, so each test
    parsed the large JSON models again (sagemaker, cloudformation: a second per test). The loader holds parsed
    models read-only; boto3's default session shares it between all its clients in the same way."""
    import botocore.loaders
    import botocore.session

    loader = botocore.loaders.create_loader()
    loader._search_paths = _SearchPaths(loader.search_paths)  # type: ignore[attr-defined]

    def register_shared_loader(session: botocore.session.Session) -> None:
        session._components.lazy_register_component("data_loader", lambda: loader)  # type: ignore[attr-defined]

    botocore.session.Session._register_data_loader = register_shared_loader  # type: ignore[method-assign]


_share_one_model_loader()

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


def _needs_synthesis(item: pytest.Item) -> bool:
    return "synthesized" in getattr(item, "fixturenames", ())


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Modules that need no synthesis run first, while the assembly is synthesized in the background; then the
    modules that share a module fixture, largest first (run whole on one worker under --dist loadgroup, they
    are the long units a worker should not pick up last). The test command keeps this order for the workers
    (--no-loadscope-reorder)."""
    needs = {item.module for item in items if _needs_synthesis(item)}  # type: ignore[attr-defined]
    shared = Counter(item.module for item in items if _shares_a_module_fixture(item))  # type: ignore[attr-defined]

    def order(item: pytest.Item) -> tuple[bool, int]:
        module = getattr(item, "module", None)
        return module in needs, -shared.get(module, 0)

    items.sort(key=order)  # stable: modules stay whole, in collection order otherwise
    if getattr(config.option, "loadgroup", False):
        for item in items:
            if _shares_a_module_fixture(item):
                _group(item, item.module.__name__)  # type: ignore[attr-defined]


def _shares_a_module_fixture(item: pytest.Item) -> bool:
    """A module-scoped fixture (a local-mode scene, a moto server, a checkov scan) is set up once per worker
    that runs the module, and the tests after the first may rely on what the earlier ones left in it."""
    info = getattr(item, "_fixtureinfo", None)
    definitions = info.name2fixturedefs.values() if info else ()
    return any(definition.scope == "module" for found in definitions for definition in found)


def _group(item: pytest.Item, name: str) -> None:
    """What an `xdist_group(name)` mark does under --dist loadgroup: the `@name` suffix of the node id sends the
    item to the worker of its group. pytest-xdist 3.8 writes the suffix to `_nodeid`, which pytest 9.2 no longer
    reads (the id is `_id`), so its marks group nothing; the suffix is written here."""
    from _pytest.nodeid import coerce_node_id

    item._id = coerce_node_id(f"{item.nodeid}@{name}")  # type: ignore[attr-defined]


def pytest_collection_finish(session: pytest.Session) -> None:
    """The CDK synthesis holds a core (about 10 s alone, longer under load): started now, it overlaps the tests
    that do not need it."""
    from tests.synthesis import start_in_background

    if session.config.option.collectonly or not any(_needs_synthesis(item) for item in session.items):
        return
    background = start_in_background()
    if background is not None:
        # The synthesizing child outlives no session: a worker that needs no assembly waits for it to end.
        session.config.add_cleanup(background.wait)


@pytest.fixture(scope="session")
def synthesized(request: pytest.FixtureRequest):
    """The whole CDK app (slow: a Node.js process), synthesized once for every worker and run of the same code."""
    from tests.synthesis import cached_synthesis

    result = cached_synthesis()
    remember_templates(request.config, result.outdir)
    return result


@pytest.fixture(scope="session")
def built_templates(synthesized, tmp_path_factory: pytest.TempPathFactory):
    """The distributable files built from that synthesis: regional-s3-assets, as deployment/ holds them."""
    from app import ORCHESTRATOR_STACKS, stack_id
    from infrastructure.blueprints import BLUEPRINT_STACKS
    from infrastructure.build import engine_bundle
    from infrastructure.build.package import package
    from infrastructure.distribution import Distribution

    out = tmp_path_factory.mktemp("dist")
    # The engine's pinned wheels as the build downloads them (MLOPS_ENGINE_WHEELS, as deployment/build-s3-dist.sh
    # reads it), else one stand-in per pin: local mode installs none of them.
    wheels = Path(os.environ.get("MLOPS_ENGINE_WHEELS", "")) if os.environ.get("MLOPS_ENGINE_WHEELS") else None
    if wheels is None:
        wheels = out / "engine-wheels"
        wheels.mkdir()
        for pin in engine_bundle.pins():
            name = f"{engine_bundle.normalize(pin.name)}-{pin.version}-py3-none-any.whl"
            (wheels / name).write_bytes(f"stand-in for {pin.name}".encode())
    package(
        synthesized.outdir,
        Distribution.from_env(),
        out / "global-s3-assets",
        out / "regional-s3-assets",
        list(ORCHESTRATOR_STACKS),
        {stack_id(template): template for template in BLUEPRINT_STACKS},
        wheels,
    )
    return out / "regional-s3-assets"
