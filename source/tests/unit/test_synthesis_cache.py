# SPDX-License-Identifier: Apache-2.0
"""The test sessions' synthesis cache: a code change misses it, concurrent workers synthesize once."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from tests import synthesis


def source_tree(root: Path) -> Path:
    for name, text in {
        "app.py": "app",
        "cdk.json": "{}",
        "requirements.lock": "aws-cdk-lib==1",
        "infrastructure/stack.py": "stack",
        "lambdas/handler.py": "handler",
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_a_change_of_code_lock_or_distribution_gives_another_key(tmp_path):
    source = source_tree(tmp_path)
    key = synthesis.content_key(source, {})
    assert synthesis.content_key(source, {}) == key
    (source / "lambdas/handler.py").write_text("handler, changed")
    changed_code = synthesis.content_key(source, {})
    (source / "requirements.lock").write_text("aws-cdk-lib==2")
    changed_lock = synthesis.content_key(source, {})
    changed_bucket = synthesis.content_key(source, {"DIST_BUCKET": "another-bucket"})
    assert len({key, changed_code, changed_lock, changed_bucket}) == 4


def test_caches_and_hidden_files_do_not_change_the_key(tmp_path):
    source = source_tree(tmp_path)
    key = synthesis.content_key(source, {})
    (source / "lambdas/__pycache__").mkdir()
    (source / "lambdas/__pycache__/handler.cpython-311.pyc").write_bytes(b"\0")
    (source / "lambdas/.mypy_cache").mkdir()
    (source / "lambdas/.mypy_cache/x.json").write_text("{}")
    assert synthesis.content_key(source, {}) == key


@pytest.fixture
def counted_synthesis(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """`synthesize` writing a one-stack assembly slowly enough for a second worker to ask meanwhile."""
    calls: list[Path] = []

    def synthesize(outdir: Path) -> None:
        calls.append(outdir)
        time.sleep(0.3)
        outdir.mkdir(parents=True)
        (outdir / "stack.template.json").write_text(json.dumps({"Resources": {}}))

    monkeypatch.setattr(synthesis, "synthesize", synthesize)
    return calls


def test_concurrent_workers_synthesize_once_and_read_the_same_assembly(tmp_path, counted_synthesis):
    found: list[synthesis.Synthesized] = []
    workers = [threading.Thread(target=lambda: found.append(synthesis.cached_synthesis(tmp_path))) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(counted_synthesis) == 1
    assert len({result.outdir for result in found}) == 1 and found[0].templates == {"stack": {"Resources": {}}}
    assert synthesis.cached_synthesis(tmp_path).outdir == found[0].outdir and len(counted_synthesis) == 1


def test_an_assembly_left_half_written_is_never_read(tmp_path, counted_synthesis):
    key = synthesis.content_key()
    (tmp_path / f"{key}.partial" / "cdk.out").mkdir(parents=True)  # a worker killed mid-synthesis
    result = synthesis.cached_synthesis(tmp_path)
    assert len(counted_synthesis) == 1 and result.outdir == tmp_path / key / "cdk.out"
    assert not list(tmp_path.glob("*.partial"))
