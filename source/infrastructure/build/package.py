# SPDX-License-Identifier: Apache-2.0
"""Package a synthesized cloud assembly (cdk.out) into the distributable assets, byte for byte reproducibly.

    python -m infrastructure.build.package --cdk-out DIR --bucket B --solution S --version V \
        --global-dir deployment/global-s3-assets --regional-dir deployment/regional-s3-assets

- global-s3-assets/: `<stack id>.template` of the two orchestrator stacks (deployed from the console).
- regional-s3-assets/: the blueprint templates under the catalogue's file names, `blueprints.zip` (templates and
  `lambdas/<hash>.zip`, which the copy-assets custom resource unpacks into the blueprints bucket) and every Lambda
  zip `<hash>.zip`.
- regional-s3-assets/monitoring_engine/: the open monitoring engine's wheel and the pinned wheels it needs (also in
  `blueprints.zip`, so the blueprints bucket holds them where the engine's processing jobs install them from).

Uploaded to `s3://<bucket>-<region>/<solution>/<version>/`, this is where the templates point.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infrastructure.build import engine_bundle
from infrastructure.distribution import (
    BLUEPRINT_LAMBDAS_PREFIX,
    BLUEPRINTS_ARCHIVE,
    BLUEPRINTS_PREFIX,
    Distribution,
    blueprint_lambda_files,
    blueprint_lambdas_key,
)
from lambdas.blueprints.open_engine import ENGINE_PREFIX

# Fixed timestamp and permissions for every zip entry: two builds of one commit give identical bytes.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644
UNIX = 3
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
PATH_SEGMENT = re.compile(r"^[A-Za-z0-9._-]+$")
ENGINE_DIR = ENGINE_PREFIX.removeprefix(BLUEPRINTS_PREFIX)  # under regional-s3-assets/ and in blueprints.zip


class PackagingError(Exception):
    """The cloud assembly cannot be packaged for this distribution."""


@dataclass
class Packaged:
    """What a packaging run wrote, for the build's summary and the benchmark."""

    global_templates: list[Path] = field(default_factory=list)
    blueprint_templates: list[Path] = field(default_factory=list)
    lambda_zips: list[Path] = field(default_factory=list)
    archive: Path | None = None
    engine_wheels: list[Path] = field(default_factory=list)
    resources: int = 0

    @property
    def templates(self) -> int:
        return len(self.global_templates) + len(self.blueprint_templates)

    @property
    def lambda_zip_bytes(self) -> int:
        return sum(path.stat().st_size for path in self.lambda_zips)


def validate_distribution(distribution: Distribution) -> None:
    if not BUCKET_NAME.match(distribution.bucket) or ".." in distribution.bucket:
        raise PackagingError(f"DIST_BUCKET {distribution.bucket!r} is not a valid S3 bucket name")
    for name, value in (("SOLUTION_NAME", distribution.solution), ("VERSION", distribution.version)):
        if not PATH_SEGMENT.match(value):
            raise PackagingError(f"{name} {value!r} must be one path segment of letters, digits, '.', '_' or '-'")


def deterministic_zip(files: dict[str, bytes]) -> bytes:
    """A zip of `files` (archive name -> content) with sorted entries, fixed dates and modes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.create_system = UNIX
            info.external_attr = (0o100000 | FILE_MODE) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name], compresslevel=9)
    return buffer.getvalue()


def directory_files(directory: Path) -> dict[str, bytes]:
    return {
        path.relative_to(directory).as_posix(): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def _stacks(cdk_out: Path) -> dict[str, dict[str, Any]]:
    manifest_path = cdk_out / "manifest.json"
    if not manifest_path.is_file():
        raise PackagingError(f"{cdk_out} is not a synthesized cloud assembly (no manifest.json)")
    artifacts = json.loads(manifest_path.read_text()).get("artifacts", {})
    return {
        name: artifact
        for name, artifact in sorted(artifacts.items())
        if artifact.get("type") == "aws:cloudformation:stack"
    }


def _file_assets(cdk_out: Path, stack: str) -> list[dict[str, Any]]:
    path = cdk_out / f"{stack}.assets.json"
    if not path.is_file():
        return []
    assets = []
    for asset in json.loads(path.read_text()).get("files", {}).values():
        source = asset["source"]
        if source.get("path", "").endswith(".template.json"):
            continue  # the stack's own template: shipped as a template, not as an asset
        for destination in asset["destinations"].values():
            assets.append({"source": source, **destination})
    return assets


def _asset_bytes(cdk_out: Path, source: dict[str, Any]) -> bytes:
    path = cdk_out / source["path"]
    if source.get("packaging") == "zip" or path.is_dir():
        return deterministic_zip(directory_files(path))
    return path.read_bytes()


def _write(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def package(
    cdk_out: Path,
    distribution: Distribution,
    global_dir: Path,
    regional_dir: Path,
    orchestrator_stacks: list[str],
    blueprint_templates: dict[str, str],
    engine_wheels: Path,
) -> Packaged:
    """Write the distributable files; `blueprint_templates` maps a blueprint stack id to its template file name,
    `engine_wheels` is the directory of the open engine's downloaded wheels (`engine_bundle`)."""
    validate_distribution(distribution)
    stacks = _stacks(cdk_out)
    missing = [name for name in orchestrator_stacks if name not in stacks]
    if missing:
        raise PackagingError(f"{cdk_out} lacks the orchestrator stacks {', '.join(missing)}")
    unknown = [name for name in stacks if name not in orchestrator_stacks and name not in blueprint_templates]
    if unknown:
        raise PackagingError(f"stacks {', '.join(unknown)} are neither orchestrator nor registered blueprint stacks")
    try:
        wheels = engine_bundle.pinned_wheels(engine_wheels)
    except engine_bundle.BundleError as error:
        raise PackagingError(str(error)) from error

    for directory in (global_dir, regional_dir):
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
    packaged = Packaged()
    lambda_zips: dict[str, bytes] = {}
    archive: dict[str, bytes] = {}

    for name in stacks:
        template_bytes = (cdk_out / f"{name}.template.json").read_bytes()
        packaged.resources += len(json.loads(template_bytes).get("Resources", {}))
        blueprint = name not in orchestrator_stacks
        if blueprint:
            file_name = blueprint_templates[name]
            packaged.blueprint_templates.append(_write(regional_dir / file_name, template_bytes))
            archive[file_name] = template_bytes
            expected_bucket, expected_prefix = "${BlueprintBucket}", BLUEPRINT_LAMBDAS_PREFIX
        else:
            packaged.global_templates.append(_write(global_dir / f"{name}.template", template_bytes))
            expected_bucket, expected_prefix = distribution.regional_bucket, distribution.prefix
        for asset in _file_assets(cdk_out, name):
            if asset["bucketName"] != expected_bucket or not asset["objectKey"].startswith(expected_prefix):
                raise PackagingError(
                    f"{name}: asset s3://{asset['bucketName']}/{asset['objectKey']} is not under "
                    f"s3://{expected_bucket}/{expected_prefix}; synthesize again for this distribution "
                    "(DIST_BUCKET, SOLUTION_NAME, VERSION)"
                )
            file_name = asset["objectKey"].removeprefix(expected_prefix)
            content = _asset_bytes(cdk_out, asset["source"])
            lambda_zips[file_name] = content
            if blueprint:
                archive[asset["objectKey"].removeprefix(BLUEPRINTS_PREFIX)] = content

    # The blueprint Lambdas read one shared zip from a fixed, content-named key (not a CDK asset).
    code_key = blueprint_lambdas_key()
    code = deterministic_zip(blueprint_lambda_files())
    lambda_zips[code_key.removeprefix(BLUEPRINT_LAMBDAS_PREFIX)] = code
    archive[code_key.removeprefix(BLUEPRINTS_PREFIX)] = code

    # The open engine's wheels, where its processing jobs install them from (`open_engine.ENGINE_PREFIX`).
    engine_name, engine_files = engine_bundle.engine_wheel_files()
    wheels[engine_name] = deterministic_zip(engine_files)
    for file_name, content in sorted(wheels.items()):
        packaged.engine_wheels.append(_write(regional_dir / ENGINE_DIR / file_name, content))
        archive[f"{ENGINE_DIR}/{file_name}"] = content

    for file_name, content in sorted(lambda_zips.items()):
        packaged.lambda_zips.append(_write(regional_dir / file_name, content))
    packaged.archive = _write(regional_dir / BLUEPRINTS_ARCHIVE, deterministic_zip(archive))
    return packaged


def main(argv: list[str] | None = None) -> int:
    from app import ORCHESTRATOR_STACKS, stack_id
    from infrastructure.blueprints import BLUEPRINT_STACKS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cdk-out", type=Path, required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--solution", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--global-dir", type=Path, required=True)
    parser.add_argument("--regional-dir", type=Path, required=True)
    parser.add_argument("--engine-wheels", type=Path, required=True, help="the open engine's downloaded wheels")
    args = parser.parse_args(argv)
    distribution = Distribution(args.bucket, args.solution, args.version)
    try:
        packaged = package(
            args.cdk_out,
            distribution,
            args.global_dir,
            args.regional_dir,
            list(ORCHESTRATOR_STACKS),
            {stack_id(template): template for template in BLUEPRINT_STACKS},
            args.engine_wheels,
        )
    except PackagingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(
        f"{packaged.templates} templates ({packaged.resources} resources), {len(packaged.lambda_zips)} Lambda zips "
        f"({packaged.lambda_zip_bytes} bytes), {len(packaged.engine_wheels)} monitoring engine wheels; upload to s3://{distribution.bucket}-<region>/{distribution.prefix}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
