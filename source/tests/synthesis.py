# SPDX-License-Identifier: Apache-2.0
"""Synthesis of the whole CDK app (with cdk-nag), shared by every test process through a cache on disk.

The cache, `source/.cache/synthesis/<key>/`, holds one cloud assembly per content key: a hash of everything that
shapes the templates (the CDK app, the Lambda code its assets hold, the pinned dependencies, cdk.json, the
distribution's environment). A code change gives a new key, so a hit is always the assembly of the code under
test. One process synthesizes while the others wait on a file lock, and an entry appears by an atomic rename of
its finished folder, so concurrent pytest workers never read a half-written assembly.

    python -m tests.synthesis [--locked-fd FD]   synthesize into the cache (what the test session starts early)
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SOURCE = Path(__file__).resolve().parents[1]
CACHE = SOURCE / ".cache" / "synthesis"
# Everything under source/ that the synthesized templates depend on (files, or folders walked whole), and this
# file, which writes the cache.
INPUTS = (
    "app.py",
    "cdk.json",
    "pyproject.toml",
    "requirements.lock",
    "infrastructure",
    "lambdas",
    "tests/synthesis.py",
)
# The distribution the templates point at (infrastructure.distribution.Distribution.from_env).
ENVIRONMENT = ("DIST_BUCKET", "SOLUTION_NAME", "VERSION")
ASSEMBLY = "cdk.out"
LOCK = ".lock"
KEPT_ENTRIES = 4  # other keys kept besides the newest (a developer switching branches keeps their assemblies)


@dataclass
class Synthesized:
    outdir: Path
    templates: dict[str, dict[str, Any]]  # stack id -> template
    findings: list[dict[str, Any]]  # unacknowledged cdk-nag findings: rule, path, description

    def template(self, stack_id: str):
        from aws_cdk.assertions import Template

        return Template.from_json(self.templates[stack_id])


def synthesize(outdir: Path) -> Synthesized:
    from app import build_app

    app = build_app(outdir=str(outdir))
    try:
        app.synth()
    except Exception as error:  # cdk-nag findings fail synthesis; the report below lists them
        # One finding reads "ValidationFailed: ERROR ...", several "Validation failed. ...".
        if "Validation failed" not in str(error) and "ValidationFailed" not in str(error):
            raise
    return read_assembly(outdir)


def read_assembly(outdir: Path) -> Synthesized:
    findings = []
    report = outdir / "validation-report.json"
    if report.exists():
        for plugin in json.loads(report.read_text()).get("pluginReports", []):
            for violation in plugin.get("violations", []):
                for construct in violation.get("violatingConstructs", []):
                    findings.append(
                        {
                            "rule": violation["ruleName"],
                            "path": construct["constructPath"],
                            "description": violation["description"],
                        }
                    )
    templates = {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in outdir.glob("*.template.json")
    }
    return Synthesized(outdir, templates, findings)


def _input_files(source: Path) -> Iterator[Path]:
    for name in INPUTS:
        path = source / name
        if path.is_file():
            yield path
        elif path.is_dir():
            for found in sorted(path.rglob("*")):
                relative = found.relative_to(source).parts
                # Caches and hidden files are neither asset content nor code (lambda_code excludes them too).
                hidden = any(part == "__pycache__" or part.startswith(".") for part in relative)
                if found.is_file() and not hidden and found.suffix != ".pyc":
                    yield found


def content_key(source: Path = SOURCE, environ: dict[str, str] | None = None) -> str:
    """The hash of every input of the synthesis: file names and contents, the environment, the Python version."""
    environ = dict(os.environ) if environ is None else environ
    digest = hashlib.sha256(sys.version.encode())
    for name in ENVIRONMENT:
        digest.update(f"\0{name}={environ.get(name, '')}".encode())
    for path in _input_files(source):
        digest.update(b"\0" + path.relative_to(source).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:24]


@contextlib.contextmanager
def _locked(cache: Path) -> Iterator[None]:
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or when the process dies
        yield


def _store(cache: Path, key: str) -> None:
    """Synthesize into a private folder and rename it into place (the caller holds the lock)."""
    for stale in cache.glob("*.partial"):  # left by a process killed mid-synthesis
        shutil.rmtree(stale, ignore_errors=True)
    partial = cache / f"{key}.partial"
    synthesize(partial / ASSEMBLY)
    os.rename(partial, cache / key)
    entries = sorted(
        (p for p in cache.iterdir() if p.is_dir() and p.name != key and not p.name.endswith(".partial")),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in entries[KEPT_ENTRIES:]:
        shutil.rmtree(old, ignore_errors=True)


def cached_synthesis(cache: Path = CACHE) -> Synthesized:
    """The app's assembly for the code as it is now: from the cache, else synthesized once (under the lock)."""
    key = content_key()
    if not (cache / key).is_dir():
        with _locked(cache):
            if not (cache / key).is_dir():
                _store(cache, key)
    os.utime(cache / key)  # the least recently used entries are the ones pruned
    return read_assembly(cache / key / ASSEMBLY)


def start_in_background(cache: Path = CACHE) -> subprocess.Popen | None:
    """Start `python -m tests.synthesis` holding the lock, unless the assembly is cached or being synthesized.

    The child inherits the locked file, so a process asking for the assembly meanwhile waits for it to finish."""
    if (cache / content_key()).is_dir():
        return None
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / LOCK, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None  # another process synthesizes it
        log = open(cache / "background.log", "w")  # noqa: SIM115 (the child writes it)
        with log:
            return subprocess.Popen(
                [sys.executable, "-m", "tests.synthesis", "--locked-fd", str(lock.fileno())],
                cwd=SOURCE,
                pass_fds=(lock.fileno(),),
                stdout=log,
                stderr=subprocess.STDOUT,
            )


def standing_in_engine_wheels(directory: Path) -> Path:
    """A directory as the open engine's download leaves it, one wheel per pin: packaging only copies their bytes,
    and local mode never installs them."""
    from infrastructure.build import engine_bundle

    directory.mkdir(parents=True, exist_ok=True)
    for pin in engine_bundle.pins():
        name = f"{engine_bundle.normalize(pin.name)}-{pin.version}-py3-none-any.whl"
        (directory / name).write_bytes(f"wheel of {pin.name}".encode())
    return directory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Synthesize the CDK app into the test cache.")
    parser.add_argument("--locked-fd", type=int, help="an inherited descriptor of the cache's lock, already held")
    args = parser.parse_args(argv)
    key = content_key()
    if args.locked_fd is None:
        cached_synthesis()
    elif not (CACHE / key).is_dir():
        _store(CACHE, key)
    print(f"synthesized assembly: {CACHE / key / ASSEMBLY}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
