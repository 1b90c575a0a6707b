# SPDX-License-Identifier: Apache-2.0
"""`mlops local` starts only on the moto release its emulator patches, and says which one to install."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from local import moto_version
from local.cli import EXIT_FAILED, main

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _installed(version: str | None):
    real = metadata.version

    def version_of(name: str) -> str:
        if name != "moto":
            return real(name)
        if version is None:
            raise metadata.PackageNotFoundError(name)
        return version

    return version_of


def test_the_required_moto_is_the_local_extras_pin_and_is_installed():
    local_extra = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]["local"]
    requirement, version = moto_version.required_moto()
    assert requirement in local_extra
    assert metadata.version("moto") == version
    moto_version.check_moto()


def test_another_moto_release_is_refused_naming_the_one_to_install(monkeypatch: pytest.MonkeyPatch):
    _, wanted = moto_version.required_moto()
    monkeypatch.setattr(moto_version.metadata, "version", _installed("5.0.0"))
    with pytest.raises(moto_version.MotoUnsuitable) as refused:
        moto_version.check_moto()
    assert str(refused.value) == (
        f"local mode needs moto {wanted} (its emulator patches moto's internals), but moto 5.0.0 is installed: "
        f"pip install 'moto[server,cloudformation]=={wanted}'"
    )


def test_a_missing_moto_names_the_local_extra(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(moto_version.metadata, "version", _installed(None))
    extra = r"not installed: .*pip install 'mlops-orchestrator\[local\]'"
    with pytest.raises(moto_version.MotoUnsuitable, match=extra):
        moto_version.check_moto()


def test_the_installed_metadata_serves_where_there_is_no_pyproject(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setattr(moto_version, "PYPROJECT", tmp_path / "pyproject.toml")
    requirement, version = moto_version.required_moto()
    assert requirement.startswith("moto[") and version == metadata.version("moto")


def test_mlops_local_on_another_moto_exits_1_before_starting_anything(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
):
    monkeypatch.setattr(moto_version.metadata, "version", _installed("5.0.0"))
    monkeypatch.setattr("local.cli.process.quiet_terminal", lambda state_dir: tmp_path / "local.log")
    assert main(["local", "--in-memory"]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert err.startswith("error: local mode needs moto ") and "but moto 5.0.0 is installed" in err
