# SPDX-License-Identifier: Apache-2.0
"""SNS: what is published to a topic is recorded, so that local mode can show the notifications it sent."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lambdas.shared.logging import get_logger

from .patches import replace

progress = get_logger("mlops.progress")
NOTIFICATIONS_KEPT = 1000  # the newest are kept

# Every message published to a topic of the emulator, oldest first: time, topic, subject, message.
NOTIFICATIONS: list[dict[str, Any]] = []


def published_messages_are_recorded() -> None:
    """moto keeps a topic's messages without their time and delivers them to no one here (no e-mail leaves
    this machine): the emulator records each with its time, and says it on the progress lines (idempotent)."""
    from moto.sns.models import Topic

    original = Topic.publish
    if getattr(original, "_recorded", False):
        return

    def publish(self: Any, message: str, subject: str | None = None, **kwargs: Any) -> str:
        message_id = original(self, message, subject=subject, **kwargs)
        NOTIFICATIONS.append(
            {
                "time": datetime.now(UTC).isoformat(),
                "topic_arn": self.arn,
                "message_id": message_id,
                "subject": subject or "",
                "message": message,
            }
        )
        del NOTIFICATIONS[:-NOTIFICATIONS_KEPT]
        progress.info("notification to %s: %s", self.name, subject or message.splitlines()[0][:100])
        return message_id

    publish._recorded = True  # type: ignore[attr-defined]
    replace(Topic, "publish", publish)
