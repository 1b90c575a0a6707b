# SPDX-License-Identifier: Apache-2.0
"""A local git repository standing in for CodeCommit: a commit to `main` that changes mlops-config.json
provisions, and the outcome is attached to the commit as a git note (`git log --notes=mlops`)."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import Any

from lambdas.shared.logging import get_logger

logger = get_logger(__name__)
NOTES_REF = "mlops"
BRANCH = "main"


def git(repository: Path, *args: str, check: bool = True, input_text: str | None = None) -> str:
    result = subprocess.run(
        ["git", "-C", str(repository), *args], capture_output=True, text=True, check=check, input=input_text
    )
    return result.stdout.strip()


def init_repository(repository: Path) -> None:
    """An empty repository on `main`, with an identity for the notes the orchestrator writes."""
    repository.mkdir(parents=True, exist_ok=True)
    if not (repository / ".git").exists():
        git(repository, "init", "--quiet", "--initial-branch", BRANCH)
    git(repository, "config", "user.name", "mlops local")
    git(repository, "config", "user.email", "mlops-local@localhost")


class LocalGitCodeCommit:
    """The CodeCommit calls of the config trigger, answered by a local repository (CodeCommitPort)."""

    def __init__(self, repository: Path):
        self.repository = repository

    def get_file(self, repository: str, commit: str, path: str) -> bytes | None:
        result = subprocess.run(
            ["git", "-C", str(self.repository), "show", f"{commit}:{path}"], capture_output=True, check=False
        )
        return result.stdout if result.returncode == 0 else None

    def changed_paths(self, repository: str, before: str | None, after: str) -> set[str]:
        if before:
            return set(git(self.repository, "diff", "--name-only", before, after).splitlines())
        return set(git(self.repository, "ls-tree", "-r", "--name-only", after).splitlines())

    def author(self, repository: str, commit: str) -> tuple[str, str] | None:
        result = subprocess.run(
            ["git", "-C", str(self.repository), "log", "-1", "--format=%an%x00%ae", commit],
            capture_output=True,
            text=True,
            check=False,
        )
        name, _, email = result.stdout.strip().partition("\x00")
        return (name, email) if result.returncode == 0 and name else None

    def post_comment(self, repository: str, before: str | None, after: str, content: str) -> None:
        git(self.repository, "notes", "--ref", NOTES_REF, "add", "--force", "--file", "-", after, input_text=content)


class GitWatcher:
    """Polls `main` of the repository; each new head becomes a CodeCommit state-change event."""

    def __init__(self, repository: Path, on_push: Any, poll_seconds: float = 0.5):
        self.repository, self.on_push, self.poll_seconds = repository, on_push, poll_seconds
        self.head = self._head()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _head(self) -> str | None:
        return git(self.repository, "rev-parse", "--verify", "--quiet", f"refs/heads/{BRANCH}", check=False) or None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="git-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.check()
            except Exception:  # keep watching; the failure is logged with its traceback
                logger.exception("git watcher step failed")

    def check(self) -> dict[str, Any] | None:
        """Deliver one event if main moved; returns the trigger's outcome."""
        head = self._head()
        if head is None or head == self.head:
            return None
        event = {
            "source": "aws.codecommit",
            "detail-type": "CodeCommit Repository State Change",
            "detail": {
                "event": "referenceUpdated" if self.head else "referenceCreated",
                "referenceType": "branch",
                "referenceName": BRANCH,
                "repositoryName": self.repository.name,
                "commitId": head,
                **({"oldCommitId": self.head} if self.head else {}),
            },
        }
        self.head = head
        return self.on_push(event)
