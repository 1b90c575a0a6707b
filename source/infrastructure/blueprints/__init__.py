# SPDX-License-Identifier: Apache-2.0
"""Blueprint stacks, keyed by the template file name the catalogue gives them.

Each stack class takes (scope, construct_id, **kwargs) and declares exactly the CfnParameters that the
catalogue's Blueprint lists for its template.
"""

from __future__ import annotations

from typing import Any

from infrastructure.blueprints.monitors import MONITOR_STACKS
from infrastructure.blueprints.training import TRAINING_STACKS

# template file name (catalogue Blueprint.template) -> CDK Stack class
BLUEPRINT_STACKS: dict[str, Any] = {}
BLUEPRINT_STACKS.update(MONITOR_STACKS)
BLUEPRINT_STACKS.update(TRAINING_STACKS)
