# SPDX-License-Identifier: Apache-2.0
"""Values a request field allows and its CloudFormation parameter allows too: written once, read by both."""

from __future__ import annotations

PROBLEM_TYPES = ("Regression", "BinaryClassification", "MulticlassClassification")
SERVERLESS_MEMORY_SIZES = ("1024", "2048", "3072", "4096", "5120", "6144")
DEPLOYMENT_STRATEGIES = ("ALL_AT_ONCE", "CANARY", "LINEAR")
TRUE_FALSE = ("True", "False")
COMPRESSION_TYPES = ("Gzip",)
S3_DATA_TYPES = ("S3Prefix", "ManifestFile", "AugmentedManifestFile")
DATA_DISTRIBUTIONS = ("FullyReplicated", "ShardedByS3Key")
DATA_INPUT_MODES = ("File", "Pipe", "FastFile")
RECORD_WRAPPINGS = ("RecordIO",)
AUTOPILOT_METRICS = ("Accuracy", "MSE", "F1", "F1macro", "AUC")
