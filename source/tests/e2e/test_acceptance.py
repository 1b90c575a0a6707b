# SPDX-License-Identifier: Apache-2.0
"""The acceptance run against local mode, end to end: every pipeline type PASSes and teardown leaves nothing; a
type that fails is reported FAIL with its reason, what needs it is not run, and the exit code says so."""

from __future__ import annotations

import io
import zipfile

import pytest

from lambdas.pipeline_orchestration.catalogue import CATALOGUE
from local import acceptance
from local.cli import main
from tests.e2e.conftest import LocalScene, _local


def no_dockerfile() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("serve", "#!/bin/sh\n")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def scene(built_templates):
    yield from _local(built_templates, multi_account=False, seed_examples=False)


class SharedOrchestrator:
    """The module's local orchestrator, handed to `mlops acceptance --local` in place of a new one (a second start
    and stop would double the test's time): its start answers the running API, its stop leaves it running."""

    def __init__(self, scene: LocalScene):
        self._running = scene.orchestrator

    def __call__(self, **options: object) -> SharedOrchestrator:
        assert options["seed_examples"] is False and "state_dir" not in options  # in memory, nothing seeded
        return self

    def __getattr__(self, name: str) -> object:
        return getattr(self._running, name)

    def start(self) -> str:
        return self._running.server.url  # type: ignore[union-attr]

    def stop(self, save: bool = True) -> None:
        assert save is False


def test_a_failing_type_is_reported_with_its_reason_and_a_non_zero_exit(scene: LocalScene, monkeypatch, capsys):
    # The whole command, `--local`; the image builder's source has no Dockerfile.
    monkeypatch.setattr("local.session.LocalOrchestrator", SharedOrchestrator(scene))
    monkeypatch.setattr(acceptance, "docker_context", no_dockerfile)
    monkeypatch.setattr("local.cli.process.quiet_terminal", lambda state_dir: "local.log")
    code = main(["acceptance", "--local", "--types", "byom_batch_custom"])
    out = capsys.readouterr().out
    assert code == 1, out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("byom_")}
    assert "FAIL: FAILED: stage Build, action BuildImage: the source holds no Dockerfile" in rows["byom_image_builder"]
    assert "FAIL: not run: it needs byom_image_builder, which did not pass" in rows["byom_batch_custom"]
    assert "0/2 passed" in out
    assert "teardown: every pipeline, stack and input of the run removed" in out


def test_every_type_passes_and_teardown_leaves_nothing(scene: LocalScene):
    report = acceptance.run_acceptance(acceptance.local_target(scene.orchestrator), run_id="e2e001")
    table = report.table()
    assert {o.case.pipeline_type: o.reason for o in report.outcomes if not o.passed} == {}, table
    assert sorted(o.case.pipeline_type for o in report.outcomes) == sorted(CATALOGUE)
    rows = [line.split() for line in table.splitlines()[1 : 1 + len(CATALOGUE)]]
    assert {row[0]: row[2] for row in rows} == dict.fromkeys(CATALOGUE, "PASS")
    assert f"{len(CATALOGUE)}/{len(CATALOGUE)} passed" in table
    assert "endpoint acc-e2e001-rt-endpoint InService" in table and "training job ml.m5.large" in table
    assert report.passed and report.leftovers == []
    # Nothing of the run is left, read from the emulator and the API.
    stacks = scene.aws("cloudformation").describe_stacks()["Stacks"]
    assert [s["StackName"] for s in stacks if "acc-e2e001" in s["StackName"]] == []
    listed = scene.call("GET", "/pipelines").body["pipelines"]
    assert [p["pipeline_name"] for p in listed if "acc-e2e001" in p["pipeline_name"]] == []
    versions = scene.aws("s3").list_object_versions(Bucket=scene.settings.assets_bucket, Prefix="acceptance/")
    assert versions.get("Versions", []) == [] and versions.get("DeleteMarkers", []) == []
    assert [e for e in scene.aws("sagemaker").list_endpoints()["Endpoints"] if "acc-e2e001" in e["EndpointName"]] == []
