# SPDX-License-Identifier: Apache-2.0
"""EventBridge's delivery, locally: an event whose handler fails is tried again with backoff, as a rule target's
retry policy does, and after the last attempt it goes to a dead-letter list (the target's dead-letter queue),
which `mlops logs` and the log show. The periodic reconciliation mends what a lost event leaves behind.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)
# As many retries as the orchestrator stack's rule targets (infrastructure/orchestrator/pipeline_events.py), with
# a backoff shortened to the runner's clock.
RETRY_ATTEMPTS = 2
FIRST_BACKOFF_SECONDS = 0.5


@dataclass
class _Pending:
    event: dict[str, Any]
    handler: Callable[[dict[str, Any]], Any]
    what: str
    attempts: int = 1
    due: float = 0.0


@dataclass
class EventDelivery:
    """Deliver events to handlers; keep the failed ones for later attempts, then for the dead-letter list."""

    retry_attempts: int = RETRY_ATTEMPTS
    first_backoff: float = FIRST_BACKOFF_SECONDS
    clock: Callable[[], float] = time.monotonic
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    _pending: list[_Pending] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def deliver(self, handler: Callable[[dict[str, Any]], Any] | None, event: dict[str, Any], what: str) -> None:
        if handler is not None:
            self._attempt(_Pending(event, handler, what))

    def retry_due(self) -> None:
        """Send again the events whose backoff has passed (the runner's clock calls this every tick)."""
        now = self.clock()
        with self._lock:
            due = [p for p in self._pending if p.due <= now]
            self._pending = [p for p in self._pending if p.due > now]
        for pending in due:
            pending.attempts += 1
            self._attempt(pending)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def _attempt(self, pending: _Pending) -> None:
        try:
            pending.handler(pending.event)
        except Exception as error:  # kept for the next attempt or the dead-letter list, never dropped
            if pending.attempts > self.retry_attempts:
                logger.error("%s was not handled after %d attempts: dead-lettered", pending.what, pending.attempts)
                with self._lock:
                    self.dead_letters.append({"event": pending.event, "what": pending.what, "error": repr(error)})
                return
            logger.warning("%s was not handled (attempt %d): %s; tried again", pending.what, pending.attempts, error)
            pending.due = self.clock() + self.first_backoff * 2 ** (pending.attempts - 1)
            with self._lock:
                self._pending.append(pending)

    def __getstate__(self) -> dict[str, Any]:  # a restart keeps the dead letters; pending events are re-derived
        return {"retry_attempts": self.retry_attempts, "first_backoff": self.first_backoff, "dead": self.dead_letters}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["retry_attempts"], state["first_backoff"])  # type: ignore[misc]
        self.dead_letters = list(state.get("dead", []))
