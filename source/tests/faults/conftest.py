# SPDX-License-Identifier: Apache-2.0
"""The fault tier runs in its own block of the test command (MLOPS_FAULTS=1), where its figures are printed."""

from __future__ import annotations

import os

collect_ignore_glob = [] if os.environ.get("MLOPS_FAULTS") == "1" else ["test_*.py"]
