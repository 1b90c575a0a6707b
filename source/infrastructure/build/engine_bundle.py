# SPDX-License-Identifier: Apache-2.0
"""The open monitoring engine as its processing job installs it: the engine's wheel and the wheels it needs.

The job runs on AWS's scikit-learn processing image and installs with `pip install --no-index --find-links`
from `<blueprints bucket>/blueprints/monitoring_engine/`, so a job without internet access needs nothing else.

    python -m infrastructure.build.engine_bundle DEST   download the pinned wheels (the build's one network step)

The packaging step (`infrastructure.build.package --engine-wheels DEST`) checks that DEST holds exactly the pinned
wheels, writes the engine's own wheel beside them (PEP 427, from the `monitoring_engine` package, byte for byte
reproducible) and ships the set in regional-s3-assets/monitoring_engine/ and in blueprints.zip.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

SOURCE_DIR = Path(__file__).resolve().parents[2]
ENGINE_PACKAGE = SOURCE_DIR / "monitoring_engine"
REQUIREMENTS = Path(__file__).with_name("engine_requirements.txt")
DISTRIBUTION_NAME = "monitoring-engine"  # what the job's `pip install` names
# AWS's scikit-learn 1.2-1 image: Python 3.9 (CONDA_PY_VERSION=39, PYTHON_VERSION=3.9 in
# aws/sagemaker-scikit-learn-container docker/1.2-1/base/Dockerfile.cpu) on x86_64 Linux.
IMAGE_PYTHON = "3.9"
PLATFORM = "manylinux2014_x86_64"
# Already in the image: the engine names them without a version so pip keeps the image's own.
IMAGE_PACKAGES = ("numpy", "pandas", "scipy", "scikit-learn")
# The engine's own imports beyond the image; the other pins are what these need.
TOP_LEVEL = ("datasketches", "shap")
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([A-Za-z0-9.+!-]+)\s")


class BundleError(Exception):
    """The engine's wheels cannot be put together."""


@dataclass(frozen=True)
class Pin:
    name: str
    version: str

    def names(self, wheel: str) -> bool:
        """A wheel file's name starts with its distribution's name and version (PEP 427)."""
        name, _, rest = wheel.partition("-")
        return normalize(name) == normalize(self.name) and rest.startswith(f"{self.version}-")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def pins(requirements: Path = REQUIREMENTS) -> list[Pin]:
    """The pinned requirements, in file order."""
    found = []
    for line in requirements.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            match = PIN.match(line + " ")
            if not match:
                raise BundleError(f"{requirements.name}: {line!r} is not `name==version --hash=...`")
            found.append(Pin(match.group(1), match.group(2)))
    return found


def engine_version() -> str:
    with (SOURCE_DIR / "pyproject.toml").open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])


def download_command(destination: Path, requirements: Path = REQUIREMENTS) -> list[str]:
    """The pip call that fetches the pinned wheels for the image: binary only, hashes checked, no resolution."""
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--only-binary=:all:",
        "--require-hashes",
        "--platform",
        PLATFORM,
        "--python-version",
        IMAGE_PYTHON,
        "--implementation",
        "cp",
        "--abi",
        f"cp{IMAGE_PYTHON.replace('.', '')}",
        "--dest",
        str(destination),
        "--requirement",
        str(requirements),
    ]


def pinned_wheels(directory: Path, requirements: Path = REQUIREMENTS) -> dict[str, bytes]:
    """The one wheel of each pin in `directory` (file name -> bytes); anything missing or extra is an error."""
    if not directory.is_dir():
        raise BundleError(f"{directory} does not exist; download the engine's wheels first")
    wheels = sorted(path for path in directory.iterdir() if path.suffix == ".whl")
    chosen: dict[str, bytes] = {}
    problems = []
    for pin in pins(requirements):
        matching = [path for path in wheels if pin.names(path.name)]
        if len(matching) != 1:
            problems.append(f"{pin.name}=={pin.version}: {len(matching)} wheels")
            continue
        chosen[matching[0].name] = matching[0].read_bytes()
    extra = sorted({path.name for path in wheels} - set(chosen))
    if extra:
        problems.append(f"not pinned: {', '.join(extra)}")
    if problems:
        raise BundleError(f"{directory} does not hold exactly the pinned wheels ({'; '.join(problems)})")
    return chosen


def _record_hash(content: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def engine_wheel_files(version: str | None = None, requirements: Path = REQUIREMENTS) -> tuple[str, dict[str, bytes]]:
    """The engine's wheel (file name, archive name -> bytes): its modules, METADATA, WHEEL and RECORD (PEP 427)."""
    version = version or engine_version()
    requires = [*IMAGE_PACKAGES, *(f"{p.name}=={p.version}" for p in pins(requirements) if p.name in TOP_LEVEL)]
    info = f"{normalize(DISTRIBUTION_NAME)}-{version}.dist-info"
    files = {f"monitoring_engine/{path.name}": path.read_bytes() for path in sorted(ENGINE_PACKAGE.glob("*.py"))}
    metadata = [
        "Metadata-Version: 2.1",
        f"Name: {DISTRIBUTION_NAME}",
        f"Version: {version}",
        "Summary: The open monitoring engine: Model Monitor's and Clarify's reports from an endpoint's data capture",
        "License: Apache-2.0",
        f"Requires-Python: >={IMAGE_PYTHON}",
        *(f"Requires-Dist: {requirement}" for requirement in requires),
    ]
    files[f"{info}/METADATA"] = ("\n".join(metadata) + "\n").encode()
    wheel = ["Wheel-Version: 1.0", "Generator: mlops-orchestrator build", "Root-Is-Purelib: true", "Tag: py3-none-any"]
    files[f"{info}/WHEEL"] = ("\n".join(wheel) + "\n").encode()
    record = [f"{name},{_record_hash(content)},{len(content)}" for name, content in sorted(files.items())]
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    return f"{normalize(DISTRIBUTION_NAME)}-{version}-py3-none-any.whl", files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Download the open monitoring engine's pinned wheels.")
    parser.add_argument("destination", type=Path)
    args = parser.parse_args(argv)
    args.destination.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(download_command(args.destination), check=False)
    if result.returncode:
        print(f"error: pip download failed ({result.returncode}); see its output above", file=sys.stderr)
        return result.returncode
    try:
        wheels = pinned_wheels(args.destination)
    except BundleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{len(wheels)} wheels for Python {IMAGE_PYTHON} ({PLATFORM}) in {args.destination}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
