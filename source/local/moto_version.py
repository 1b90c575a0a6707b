# SPDX-License-Identifier: Apache-2.0
"""Local mode's check that the installed moto is the one its emulator was written against.

The emulator replaces attributes inside moto (see local/emulator/), so another moto release can break it
in ways that look like orchestrator bugs; local mode refuses to start on one and says what to install.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "mlops-orchestrator"
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
_MOTO_PIN = re.compile(r"^moto(\[[^\]]*\])?==([^;\s]+)")


class MotoUnsuitable(Exception):
    """The installed moto is missing or is not the release the `local` extra pins."""


def required_moto() -> tuple[str, str]:
    """(requirement, version) of the `local` extra: pyproject.toml in a checkout, else the installed metadata."""
    import tomllib

    project = tomllib.loads(PYPROJECT.read_text())["project"] if PYPROJECT.is_file() else {}
    if project.get("name") == DISTRIBUTION:
        requirements = project["optional-dependencies"]["local"]
    else:
        requirements = [r for r in metadata.requires(DISTRIBUTION) or [] if 'extra == "local"' in r]
    for requirement in requirements:
        match = _MOTO_PIN.match(requirement)
        if match:
            return requirement.split(";")[0].strip(), match.group(2)
    raise MotoUnsuitable(f"the `local` extra of {DISTRIBUTION} pins no moto release")


def check_moto() -> None:
    """Raise MotoUnsuitable, naming the release to install, unless the pinned moto is installed."""
    requirement, wanted = required_moto()
    try:
        installed = metadata.version("moto")
    except metadata.PackageNotFoundError:
        raise MotoUnsuitable(
            f"local mode needs moto {wanted}, which is not installed: pip install '{requirement}' "
            f"(or pip install '{DISTRIBUTION}[local]')"
        ) from None
    if installed != wanted:
        raise MotoUnsuitable(
            f"local mode needs moto {wanted} (its emulator patches moto's internals), but moto {installed} is "
            f"installed: pip install '{requirement}'"
        )
