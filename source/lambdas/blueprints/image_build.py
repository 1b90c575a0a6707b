# SPDX-License-Identifier: Apache-2.0
"""The image builder's Dockerfile step: FROM lines that name Docker Hub images are resolved through the
registry's ECR pull-through cache, so builds do not hit Docker Hub's anonymous pull limit.

The CodeBuild project runs this file's source (`python3 -c "$REWRITE_FROM" Dockerfile CACHE`, standard library
only); local mode's build emulation imports it. CACHE is `<account>.dkr.ecr.<region>.amazonaws.com/<prefix>`.

Through the cache, Docker Hub's official images carry the `library/` namespace and other repositories keep
theirs: https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-working-pulling.html
"""

from __future__ import annotations

import re
import sys

# Hosts that name Docker Hub in an image reference; an image without a host is Docker Hub's too.
DOCKER_HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io")
_FROM = re.compile(r"^(?P<head>\s*FROM\s+(?:--\S+\s+)*)(?P<image>\S+)(?P<tail>.*)$", re.IGNORECASE)
_STAGE = re.compile(r"^\s+AS\s+(?P<name>\S+)", re.IGNORECASE)


def docker_hub_path(image: str) -> str | None:
    """The Docker Hub repository path (and tag or digest) an image reference names; None for other registries,
    build arguments and `scratch`."""
    if "$" in image or image.lower() == "scratch":
        return None
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        if first.lower() not in DOCKER_HUB_HOSTS:
            return None
        image = rest
    return image if "/" in image else f"library/{image}"


def rewrite(dockerfile: str, cache: str) -> tuple[str, list[str]]:
    """The Dockerfile with its Docker Hub FROM lines resolved through `cache`, and one line per change."""
    stages: set[str] = set()
    lines, changes = [], []
    for line in dockerfile.splitlines(keepends=True):
        match = _FROM.match(line)
        if match:
            image, tail = match["image"], match["tail"]
            path = None if image.lower() in stages else docker_hub_path(image)
            stage = _STAGE.match(tail)
            if stage:
                stages.add(stage["name"].lower())
            if path is not None:
                resolved = f"{cache}/{path}"
                changes.append(f"FROM {image} -> {resolved}")
                line = f"{match['head']}{resolved}{tail}" + ("\n" if line.endswith("\n") else "")
        lines.append(line)
    return "".join(lines), changes


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: image_build.py DOCKERFILE CACHE", file=sys.stderr)
        return 2
    path, cache = argv[1], argv[2].rstrip("/")
    with open(path, encoding="utf-8") as handle:
        text, changes = rewrite(handle.read(), cache)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    for change in changes or ["no FROM line names a Docker Hub image"]:
        print(f"docker hub cache: {change}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
