# SPDX-License-Identifier: Apache-2.0
"""The build's plan for the open engine's wheels: what it downloads, for which image, and the engine's own wheel."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from infrastructure.build import engine_bundle
from infrastructure.build.package import deterministic_zip


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_the_download_is_binary_pinned_and_for_the_images_python(tmp_path):
    command = engine_bundle.download_command(tmp_path)
    assert command[1:4] == ["-m", "pip", "download"]
    assert {"--no-deps", "--only-binary=:all:", "--require-hashes"} <= set(command)
    assert _option(command, "--platform") == "manylinux2014_x86_64"
    assert _option(command, "--python-version") == "3.9"  # AWS's scikit-learn 1.2-1 image
    assert _option(command, "--abi") == "cp39"
    assert _option(command, "--dest") == str(tmp_path)
    assert Path(_option(command, "--requirement")) == engine_bundle.REQUIREMENTS


def test_every_pin_has_a_version_and_a_hash_and_the_engines_imports_are_pinned():
    lines = [line for line in engine_bundle.REQUIREMENTS.read_text().splitlines() if line and not line.startswith("#")]
    assert all("==" in line and " --hash=sha256:" in line for line in lines)
    names = {pin.name for pin in engine_bundle.pins()}
    assert {"datasketches", "shap", "numba", "llvmlite", "slicer"} <= names
    assert not names & set(engine_bundle.IMAGE_PACKAGES)  # the image's own scientific stack is kept


def test_a_directory_must_hold_exactly_the_pinned_wheels(tmp_path):
    for pin in engine_bundle.pins():
        (tmp_path / f"{engine_bundle.normalize(pin.name)}-{pin.version}-py3-none-any.whl").write_bytes(b"w")
    assert len(engine_bundle.pinned_wheels(tmp_path)) == len(engine_bundle.pins())
    next(tmp_path.glob("numba-*")).rename(tmp_path / "numba-0.60.0-cp39-cp39-manylinux2014_x86_64.whl")
    with pytest.raises(engine_bundle.BundleError, match=r"numba==0\.58\.1: 0 wheels; not pinned: numba-0\.60\.0"):
        engine_bundle.pinned_wheels(tmp_path)
    with pytest.raises(engine_bundle.BundleError, match="download the engine's wheels first"):
        engine_bundle.pinned_wheels(tmp_path / "absent")


def test_the_engine_wheel_is_reproducible_and_its_record_matches_its_files():
    name, files = engine_bundle.engine_wheel_files("1.2.3")
    assert name == "monitoring_engine-1.2.3-py3-none-any.whl"
    assert deterministic_zip(files) == deterministic_zip(engine_bundle.engine_wheel_files("1.2.3")[1])
    assert "monitoring_engine/job.py" in files and "monitoring_engine/ruff.toml" not in files
    record = files["monitoring_engine-1.2.3.dist-info/RECORD"].decode().splitlines()
    assert record[-1] == "monitoring_engine-1.2.3.dist-info/RECORD,,"
    for line in record[:-1]:
        path, digest, size = line.split(",")
        content = files[path]
        expected = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
        assert digest == f"sha256={expected}" and int(size) == len(content)
    assert len(record) - 1 == len(files) - 1
    with zipfile.ZipFile(io.BytesIO(deterministic_zip(files))) as wheel:
        metadata = wheel.read("monitoring_engine-1.2.3.dist-info/METADATA").decode()
    assert "Requires-Python: >=3.9" in metadata and "Name: monitoring-engine" in metadata
