# SPDX-License-Identifier: Apache-2.0
"""The fuzz tier runs in its own block of the test command (MLOPS_FUZZ=1), not with the other tiers."""

from __future__ import annotations

import os

collect_ignore_glob = [] if os.environ.get("MLOPS_FUZZ") == "1" else ["test_*.py"]
