# SPDX-License-Identifier: Apache-2.0
"""Blueprint stacks, keyed by the template file name the catalogue gives them.

Each stack class takes (scope, construct_id, **kwargs) and declares exactly the CfnParameters that the
catalogue's Blueprint lists for its template.
"""

from __future__ import annotations

from typing import Any

from infrastructure.blueprints.batch import BatchTransformStack
from infrastructure.blueprints.image_builder import ImageBuilderStack
from infrastructure.blueprints.monitors import MONITOR_STACKS
from infrastructure.blueprints.monitors_open import OPEN_MONITOR_STACKS
from infrastructure.blueprints.multi_account_pipeline import MultiAccountPipelineStack
from infrastructure.blueprints.realtime import RealtimeInferenceStack
from infrastructure.blueprints.single_account_pipeline import SingleAccountPipelineStack
from infrastructure.blueprints.training import TRAINING_STACKS
from lambdas.pipeline_orchestration.catalogue import (
    BATCH,
    IMAGE_BUILDER,
    MULTI_ACCOUNT_PIPELINE,
    REALTIME,
    SINGLE_ACCOUNT_PIPELINE,
)

# template file name (catalogue Blueprint.template) -> CDK Stack class
BLUEPRINT_STACKS: dict[str, Any] = {
    **MONITOR_STACKS,
    **OPEN_MONITOR_STACKS,
    **TRAINING_STACKS,
    SINGLE_ACCOUNT_PIPELINE.template: SingleAccountPipelineStack,
    MULTI_ACCOUNT_PIPELINE.template: MultiAccountPipelineStack,
    REALTIME.template: RealtimeInferenceStack,
    BATCH.template: BatchTransformStack,
    IMAGE_BUILDER.template: ImageBuilderStack,
}
