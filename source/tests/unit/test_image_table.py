# SPDX-License-Identifier: Apache-2.0
"""The shipped image-URI table agrees with the pinned `sagemaker` package, for a sample of regions and images."""

from __future__ import annotations

import warnings

import pytest

from lambdas.pipeline_orchestration import images

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2", "cn-north-1")
FRAMEWORKS = (
    ("xgboost", "1.7-1", "training"),
    ("xgboost", "1.7-1", "inference"),
    ("sklearn", "1.2-1", "inference"),
    ("linear-learner", "1", "training"),
    ("pytorch", "2.1.0", "inference"),
)


@pytest.fixture(scope="module")
def retrieve():
    sagemaker_image_uris = pytest.importorskip("sagemaker.image_uris")
    warnings.simplefilter("ignore")
    return sagemaker_image_uris.retrieve


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize(("framework", "version", "scope"), FRAMEWORKS)
def test_framework_images_match_the_sdk(retrieve, region, framework, version, scope):
    expected = retrieve(framework, region, version=version, image_scope=scope, instance_type="ml.m5.xlarge")
    assert images.framework_image(framework, version, region, scope) == expected


@pytest.mark.parametrize("region", REGIONS)
def test_model_monitor_and_clarify_images_match_the_sdk(retrieve, region):
    assert images.model_monitor_image(region) == retrieve("model-monitor", region)
    assert images.clarify_image(region) == retrieve("clarify", region, version="1.0")


def test_unknown_framework_version_or_region_lists_what_is_available():
    with pytest.raises(
        images.ImageNotFound, match=r"unknown framework 'xgb'; did you mean 'xgboost'\? \(available: .*"
    ):
        images.framework_image("xgb", "1.7-1", "us-east-1")
    with pytest.raises(images.ImageNotFound, match=r"unknown framework 'banana' \(available: .*xgboost"):
        images.framework_image("banana", "1.7-1", "us-east-1")
    with pytest.raises(images.ImageNotFound, match=r"unknown version '9.9' of xgboost; available versions: .*1.7-1"):
        images.framework_image("xgboost", "9.9", "us-east-1")
    with pytest.raises(images.ImageNotFound, match=r"has no image in region mars-north-1; regions: .*us-east-1"):
        images.model_monitor_image("mars-north-1")
