# SPDX-License-Identifier: Apache-2.0
"""The region rule: the images, KMS keys and model packages a request names are in the orchestrator's region.

- SageMaker: "The model artifacts in an Amazon S3 bucket and the Docker image for inference container in Amazon
  EC2 Container Registry must be in the same region as the model or endpoint you are creating" (ContainerDefinition,
  Image): https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ContainerDefinition.html
- KMS: a KMS key belongs to one Region; data is used across Regions through a multi-Region key's replica, a key
  of its own in the other Region with that Region in its ARN:
  https://docs.aws.amazon.com/kms/latest/developerguide/multi-region-keys-overview.html
- A model package is a SageMaker resource of its Region (its ARN names it); CreateModel's ModelPackageName takes
  the package of the Region the model is created in:
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ContainerDefinition.html

This rule is about regions only; which accounts and buckets a request may name is the data perimeter's rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

# <account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]/<repository>...
ECR_HOST = re.compile(r"^[0-9]{12}\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/")
# arn:<partition>:kms|sagemaker:<region>:<account>:...
REGIONAL_ARN = re.compile(r"^arn:aws[a-z-]*:(?P<service>kms|sagemaker):(?P<region>[a-z0-9-]+):[0-9]{12}:")
WHAT = {"ecr": "the image", "kms": "the KMS key", "sagemaker": "the model package"}


def _regions(value: Any) -> Iterator[tuple[str, str]]:
    if not isinstance(value, str):
        return
    image = ECR_HOST.match(value)
    if image:
        yield "ecr", image["region"]
    arn = REGIONAL_ARN.match(value)
    if arn:
        yield arn["service"], arn["region"]


def other_region(values: Mapping[str, Any], orchestrator_region: str) -> list[tuple[str, str]]:
    """(field, message) for each image, KMS key or model package of a region other than the orchestrator's."""
    found = []
    for field, value in values.items():
        for service, region in _regions(value):
            if region != orchestrator_region:
                found.append(
                    (
                        field,
                        f"{WHAT[service]} is in {region}, but the orchestrator runs in {orchestrator_region}: "
                        f"SageMaker uses an image, a KMS key or a model package of its own region only; name one "
                        f"in {orchestrator_region}",
                    )
                )
    return found
