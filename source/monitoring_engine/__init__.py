# SPDX-License-Identifier: Apache-2.0
"""The open monitoring engine's computation: data quality, model quality, bias and explainability reports in
Model Monitor's and Clarify's documented shapes, from an endpoint's data capture in S3.

The processing job (`python -m monitoring_engine.job`) and local mode both call `monitoring_engine.job.run_job`.
"""
