# SPDX-License-Identifier: Apache-2.0
"""The emulator's record of what it replaced inside moto, so that stopping it gives moto back as it was."""

from __future__ import annotations

from typing import Any

# Every fill replaces an attribute of moto (or botocore) in this process. Stopping the emulator puts each one
# back, so that code using moto in process afterwards (the unit tests' mock_aws) meets moto's own behaviour.
_REPLACED: list[tuple[Any, str, Any]] = []
_ABSENT = object()


def replace(owner: Any, name: str, replacement: Any) -> None:
    """Set `owner.name` for as long as the emulator runs."""
    original = vars(owner).get(name, _ABSENT) if isinstance(owner, type) else getattr(owner, name, _ABSENT)
    _REPLACED.append((owner, name, original))
    setattr(owner, name, replacement)


def restore_moto() -> None:
    """Undo every replacement, newest first."""
    while _REPLACED:
        owner, name, original = _REPLACED.pop()
        if original is _ABSENT:
            delattr(owner, name)
        else:
            setattr(owner, name, original)
