# SPDX-License-Identifier: Apache-2.0
"""Logging set-up shared by every Lambda: one level from LOG_LEVEL, JSON-friendly single-line records."""

from __future__ import annotations

import logging
import os


def get_logger(name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    logger.setLevel(level if level in logging._nameToLevel else "INFO")
    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(levelname)s %(name)s %(message)s")
    return logger
