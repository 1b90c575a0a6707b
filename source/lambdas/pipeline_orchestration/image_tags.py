# SPDX-License-Identifier: Apache-2.0
"""Image tags are immutable: a build of a tag that exists is refused before anything is written."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from lambdas.shared.aws import error_code

from .adapters import Aws


def check_tag_free(values: Mapping[str, Any], aws: Aws) -> tuple[str, str] | None:
    """The field and the reason an image builder request cannot be built (None when it can, or builds no image)."""
    repository, tag = str(values.get("ecr_repo_name") or ""), str(values.get("image_tag") or "")
    if not (repository and tag):
        return None
    try:
        image = aws.images.tag(repository, tag)
    except Exception as error:
        if error_code(error) == "RepositoryNotFoundException":
            return "ecr_repo_name", f"names no repository: {repository} does not exist in this account and region"
        raise
    if image is None:
        return None
    pushed = image.get("imagePushedAt")
    when = f", pushed {pushed.isoformat()}" if isinstance(pushed, datetime) else ""
    return "image_tag", (
        f"{repository}:{tag} exists already{when}; tags are immutable, so a second build of it would fail: "
        "choose a new image_tag"
    )
