# SPDX-License-Identifier: Apache-2.0
"""A commit of mlops-config.json to main of the local repository provisions, and the outcome is on the commit."""

from __future__ import annotations

import json
import time

import pytest

from local.git_trigger import NOTES_REF, git
from tests.e2e.conftest import _local


@pytest.fixture(scope="module")
def with_repository(built_templates, tmp_path_factory):
    repository = tmp_path_factory.mktemp("config-repo")
    for scene in _local(built_templates, multi_account=False, git_repository=repository):
        yield scene, repository


def commit(repository, files: dict[str, str], message: str) -> str:
    for name, content in files.items():
        (repository / name).write_text(content)
    git(repository, "add", *files)
    git(repository, "commit", "--quiet", "-m", message)
    return git(repository, "rev-parse", "HEAD")


def note(repository, commit_id: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = git(repository, "notes", "--ref", NOTES_REF, "show", commit_id, check=False)
        if text:
            return text
        time.sleep(0.2)
    raise TimeoutError(f"no outcome on commit {commit_id}")


def test_a_commit_provisions_and_the_outcome_is_noted_on_it(with_repository):
    scene, repository = with_repository
    body = scene.request("byom_realtime_builtin")
    commit_id = commit(repository, {"mlops-config.json": json.dumps(body)}, "Deploy churn model")
    text = note(repository, commit_id)
    assert "success" in text and "pipeline_id: arn:aws:cloudformation" in text
    described = scene.wait("mlops-pipeline-churn-xgb-byompipelinerealtimebuiltin")
    assert described["deployed"]["status"] == "CREATE_COMPLETE"
    # When the pipeline ends, the note tells its final state.
    deadline = time.monotonic() + 30
    while "state: ACTIVE" not in note(repository, commit_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "state: ACTIVE" in note(repository, commit_id)


def test_an_invalid_config_is_reported_on_the_commit(with_repository):
    _, repository = with_repository
    commit_id = commit(repository, {"mlops-config.json": json.dumps({"pipeline_type": "byom_batch_custom"})}, "Broken")
    text = note(repository, commit_id)
    assert "error" in text and '- "model_name": "is required"' in text


def test_a_commit_that_does_not_touch_the_config_does_nothing(with_repository):
    _, repository = with_repository
    commit_id = commit(repository, {"README.md": "team configs\n"}, "Docs")
    time.sleep(2)
    assert git(repository, "notes", "--ref", NOTES_REF, "show", commit_id, check=False) == ""
