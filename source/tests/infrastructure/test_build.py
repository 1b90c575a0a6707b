# SPDX-License-Identifier: Apache-2.0
"""The distributable build: packaging of the session's cloud assembly, and build-s3-dist.sh end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from app import ORCHESTRATOR_STACKS, stack_id
from infrastructure.blueprints import BLUEPRINT_STACKS
from infrastructure.build import engine_bundle
from infrastructure.build.package import PackagingError, deterministic_zip, package
from infrastructure.distribution import Distribution
from lambdas.blueprints import open_engine
from tests.synthesis import standing_in_engine_wheels

pytestmark = pytest.mark.synth

DEPLOYMENT = Path(__file__).resolve().parents[3] / "deployment"
BLUEPRINT_FILES = {stack_id(template): template for template in BLUEPRINT_STACKS}


def _package(synthesized, out: Path, distribution: Distribution | None = None, wheels: Path | None = None):
    return package(
        synthesized.outdir,
        distribution or Distribution.from_env(),
        out / "global-s3-assets",
        out / "regional-s3-assets",
        list(ORCHESTRATOR_STACKS),
        BLUEPRINT_FILES,
        wheels or standing_in_engine_wheels(out / "engine-wheels"),
    )


def _tree(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def built(synthesized, tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    return out, _package(synthesized, out)


def test_main_templates_go_to_global_assets(built):
    out, packaged = built
    assert sorted(_tree(out / "global-s3-assets")) == sorted(f"{name}.template" for name in ORCHESTRATOR_STACKS)
    for path in packaged.global_templates:
        assert "Resources" in json.loads(path.read_text())


def test_blueprints_lambda_zips_and_archive_go_to_regional_assets(built, synthesized):
    out, packaged = built
    regional = _tree(out / "regional-s3-assets")
    blueprint_stacks = [name for name in synthesized.templates if name not in ORCHESTRATOR_STACKS]
    assert {BLUEPRINT_FILES[name] for name in blueprint_stacks} <= set(regional)
    assert "blueprints.zip" in regional
    assert len(packaged.lambda_zips) >= 3  # orchestrator, copy-assets, custom-resource framework
    for path in packaged.lambda_zips:
        assert path.name in regional and zipfile.is_zipfile(path)
    with zipfile.ZipFile(out / "regional-s3-assets" / "blueprints.zip") as archive:
        names = archive.namelist()
    assert sorted(BLUEPRINT_FILES[name] for name in blueprint_stacks) == sorted(
        n for n in names if not n.startswith(("lambdas/", "monitoring_engine/"))
    )


def test_the_engine_and_its_wheels_go_where_its_jobs_install_them(built):
    """regional-s3-assets/monitoring_engine/ and blueprints.zip's monitoring_engine/ (unpacked under blueprints/,
    the open engine's ENGINE_PREFIX) hold the engine's wheel and exactly the pinned wheels."""
    out, packaged = built
    assert open_engine.ENGINE_PREFIX == "blueprints/monitoring_engine"
    shipped = _tree(out / "regional-s3-assets" / "monitoring_engine")
    pinned = {path.name for path in (out / "engine-wheels").iterdir()}
    engine_wheel = f"monitoring_engine-{engine_bundle.engine_version()}-py3-none-any.whl"
    assert set(shipped) == pinned | {engine_wheel}
    assert sorted(path.name for path in packaged.engine_wheels) == sorted(shipped)
    with zipfile.ZipFile(out / "regional-s3-assets" / "blueprints.zip") as archive:
        for name, content in shipped.items():
            assert archive.read(f"monitoring_engine/{name}") == content


def test_the_engine_wheel_installs_offline_and_runs(built, tmp_path):
    """pip installs the shipped wheel with no index (as the job does, without its dependencies here) and the
    installed engine is the package's code, importable with its entry point."""
    out, _ = built
    target = tmp_path / "site"
    result = subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--no-compile",
            "--find-links", str(out / "regional-s3-assets" / "monitoring_engine"),
            "--target", str(target), "monitoring-engine",
        ],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    source = Path(__file__).resolve().parents[2] / "monitoring_engine"
    installed = target / "monitoring_engine"
    assert sorted(p.name for p in installed.glob("*.py")) == sorted(p.name for p in source.glob("*.py"))
    assert (installed / "job.py").read_bytes() == (source / "job.py").read_bytes()
    metadata = next(target.glob("monitoring_engine-*.dist-info")) / "METADATA"
    requires = [line for line in metadata.read_text().splitlines() if line.startswith("Requires-Dist: ")]
    assert "Requires-Dist: shap==0.46.0" in requires and "Requires-Dist: datasketches==5.1.0" in requires
    assert "Requires-Dist: numpy" in requires  # the image's own numpy, whatever its version
    help_text = subprocess.run(
        [sys.executable, "-m", "monitoring_engine.job", "--help"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(target)}, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert help_text.returncode == 0 and "--spec" in help_text.stdout, help_text.stderr


def test_packaging_without_the_pinned_wheels_is_refused(synthesized, tmp_path):
    wheels = standing_in_engine_wheels(tmp_path / "wheels")
    next(wheels.glob("shap-*")).unlink()
    (wheels / "requests-2.0.0-py3-none-any.whl").write_bytes(b"")
    with pytest.raises(PackagingError, match=r"shap==0\.46\.0: 0 wheels; not pinned: requests-2\.0\.0"):
        _package(synthesized, tmp_path / "out", wheels=wheels)


def test_every_template_asset_is_in_the_package(built, synthesized):
    """Each S3Key an orchestrator template names exists in regional-s3-assets under its file name."""
    out, _ = built
    distribution = Distribution.from_env()
    regional = set(_tree(out / "regional-s3-assets"))
    for name in ORCHESTRATOR_STACKS:
        for resource in synthesized.templates[name]["Resources"].values():
            code = resource.get("Properties", {}).get("Code", {})
            if "S3Key" in code:
                assert code["S3Key"].removeprefix(distribution.prefix) in regional


def test_orchestrator_zip_holds_only_the_lambda_package(built, synthesized):
    out, _ = built
    distribution = Distribution.from_env()
    function = next(
        r
        for r in synthesized.templates["mlops-orchestrator-single-account"]["Resources"].values()
        if r["Properties"].get("Handler") == "lambdas.pipeline_orchestration.index.handler"
    )
    path = out / "regional-s3-assets" / function["Properties"]["Code"]["S3Key"].removeprefix(distribution.prefix)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        image_table = archive.read("lambdas/pipeline_orchestration/image_uris.json")
    assert "lambdas/__init__.py" in names
    assert "lambdas/pipeline_orchestration/index.py" in names
    assert "lambdas/shared/aws.py" in names
    assert all(
        n.startswith(("lambdas/pipeline_orchestration/", "lambdas/shared/", "lambdas/__init__.py")) for n in names
    )
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "/tests/" in n or ".venv" in n]
    committed = Path(__file__).resolve().parents[2] / "lambdas" / "pipeline_orchestration" / "image_uris.json"
    assert image_table == committed.read_bytes()


def test_two_packagings_are_byte_identical(built, synthesized, tmp_path):
    out, _ = built
    _package(synthesized, tmp_path, wheels=out / "engine-wheels")
    for directory in ("global-s3-assets", "regional-s3-assets"):
        assert _tree(tmp_path / directory) == _tree(out / directory)


def test_zips_do_not_depend_on_file_times_or_order():
    first = deterministic_zip({"b.txt": b"2", "a.txt": b"1"})
    second = deterministic_zip({"a.txt": b"1", "b.txt": b"2"})
    assert first == second
    with zipfile.ZipFile(__import__("io").BytesIO(first)) as archive:
        assert archive.namelist() == ["a.txt", "b.txt"]
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_an_assembly_synthesized_for_another_distribution_is_refused(synthesized, tmp_path):
    other = Distribution("another-bucket", "mlops-orchestrator", "v9.9.9")
    with pytest.raises(PackagingError, match="synthesize again for this distribution"):
        _package(synthesized, tmp_path, other)


@pytest.mark.parametrize(
    ("distribution", "message"),
    [
        (Distribution("Bad_Bucket", "s", "v1"), "not a valid S3 bucket name"),
        (Distribution("bucket", "a/b", "v1"), "SOLUTION_NAME"),
        (Distribution("bucket", "s", ""), "VERSION"),
    ],
)
def test_invalid_distribution_names_are_refused(synthesized, tmp_path, distribution, message):
    with pytest.raises(PackagingError, match=message):
        _package(synthesized, tmp_path, distribution)


def test_a_directory_that_is_not_an_assembly_is_refused(tmp_path):
    with pytest.raises(PackagingError, match=r"no manifest\.json"):
        package(tmp_path, Distribution(), tmp_path / "g", tmp_path / "r", list(ORCHESTRATOR_STACKS), {}, tmp_path / "w")


def test_unregistered_stacks_are_refused(synthesized, tmp_path):
    with pytest.raises(PackagingError, match="neither orchestrator nor registered blueprint"):
        # The multi-account stack is not in the list any more: packaging must not guess what it is.
        stacks = ["mlops-orchestrator-single-account"]
        wheels = standing_in_engine_wheels(tmp_path / "w")
        package(synthesized.outdir, Distribution.from_env(), tmp_path / "g", tmp_path / "r", stacks, {}, wheels)


def _script(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(DEPLOYMENT / "build-s3-dist.sh"), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_build_script_packages_an_existing_assembly(synthesized, built, tmp_path):
    distribution = Distribution.from_env()
    result = _script(
        distribution.bucket,
        distribution.solution,
        distribution.version,
        MLOPS_CDK_OUT=str(synthesized.outdir),
        MLOPS_BUILD_DIR=str(tmp_path),
        MLOPS_ENGINE_WHEELS=str(built[0] / "engine-wheels"),
    )
    assert result.returncode == 0, result.stderr
    assert "monitoring engine wheels" in result.stdout
    assert f"upload to s3://{distribution.bucket}-<region>/{distribution.prefix}" in result.stdout
    out, _ = built
    for directory in ("global-s3-assets", "regional-s3-assets"):
        assert _tree(tmp_path / directory) == _tree(out / directory)


def test_build_script_rejects_a_mismatched_assembly(synthesized, tmp_path):
    wheels = str(standing_in_engine_wheels(tmp_path / "w"))
    result = _script(
        "another-bucket", "x", "v1", MLOPS_CDK_OUT=str(synthesized.outdir), MLOPS_BUILD_DIR=str(tmp_path),
        MLOPS_ENGINE_WHEELS=wheels,
    )  # fmt: skip
    assert result.returncode == 2
    assert "synthesize again for this distribution" in result.stderr


def test_build_script_needs_three_arguments():
    result = _script("only-a-bucket")
    assert result.returncode == 64
    assert "Usage:" in result.stderr
