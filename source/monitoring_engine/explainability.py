# SPDX-License-Identifier: Apache-2.0
"""Explainability: global SHAP attributions of the model behind an endpoint, and their drift by nDCG.

Attributions: the `shap` library's KernelExplainer (the Kernel SHAP that Clarify runs) over a small background
sample, explaining at most `max_rows` rows with `num_samples` model evaluations each, so an hour costs at most
max_rows * num_samples * background rows predictions. Global values aggregate per feature by `agg_method`
(`mean_abs`, the default, `median` or `mean_sq`), as Clarify's SHAP config does.

`analysis.json` (Clarify's explainability report): `{"version": "1.0", "explanations": {"kernel_shap": {"label0":
{"global_shap_values": {feature: value}, "expected_value": number}}}}`. Drift ("Model feature attribution drift
violations"): the nDCG score of the current global values ranked against the baseline's, a violation when it is
below 0.9, carrying `label`, `metric_name` (`shap`), `constraint_check_type` (`feature_attribution_drift_check`)
and `description`.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import ndcg_score

from .capture import csv_rows, json_rows, select

NDCG_THRESHOLD = 0.9
BACKGROUND_ROWS = 10
MAX_ROWS = 20
NUM_SAMPLES = 100
INVOKE_BATCH = 500


def endpoint_predictor(runtime: Any, endpoint: str, score_attribute: Any) -> Callable[[np.ndarray], np.ndarray]:
    """A function rows -> scores that calls InvokeEndpoint with CSV requests (batched)."""

    def predict(rows: np.ndarray) -> np.ndarray:
        scores: list[float] = []
        for start in range(0, len(rows), INVOKE_BATCH):
            batch = rows[start : start + INVOKE_BATCH]
            buffer = io.StringIO()
            np.savetxt(buffer, np.atleast_2d(batch), delimiter=",", fmt="%.10g")
            answer = runtime.invoke_endpoint(
                EndpointName=endpoint, ContentType="text/csv", Accept="text/csv", Body=buffer.getvalue().encode()
            )
            body = answer["Body"].read().decode("utf-8")
            content_type = str(answer.get("ContentType", "text/csv"))
            parsed = json_rows(body) if "json" in content_type else csv_rows(body)
            if "json" not in content_type and len(parsed) == 1 and len(batch) > 1:
                parsed = [[value] for value in parsed[0]]  # one line of comma-separated scores
            scores.extend(float(select(row, score_attribute)) for row in parsed)
        return np.asarray(scores, dtype=float)

    return predict


def global_attributions(
    predict: Callable[[np.ndarray], np.ndarray],
    background: pd.DataFrame,
    rows: pd.DataFrame,
    config: dict[str, Any],
) -> dict[str, Any]:
    """Clarify's explainability `analysis.json` for `rows`, computed with shap's KernelExplainer."""
    import shap  # heavy: imported only where attributions are computed

    shap_config = config.get("shap_config", {}) or {}
    seed = int(shap_config.get("seed", 0))
    background_rows = int(shap_config.get("background_rows", BACKGROUND_ROWS))
    sample = background.sample(min(background_rows, len(background)), random_state=seed).to_numpy(float)
    explained = rows.sample(min(int(config.get("max_rows", MAX_ROWS)), len(rows)), random_state=seed)
    explainer = shap.KernelExplainer(predict, sample)
    values = np.asarray(
        explainer.shap_values(
            explained.to_numpy(float), nsamples=int(shap_config.get("num_samples", NUM_SAMPLES)), silent=True
        )
    )
    method = str(shap_config.get("agg_method", "mean_abs"))
    if method == "median":
        aggregated = np.median(values, axis=0)
    elif method == "mean_sq":
        aggregated = (values**2).mean(axis=0)
    else:
        aggregated = np.abs(values).mean(axis=0)
    label = str(config.get("label_header") or "label0")
    return {
        "version": "1.0",
        "explanations": {
            "kernel_shap": {
                label: {
                    "global_shap_values": {str(name): float(v) for name, v in zip(rows.columns, aggregated)},
                    "expected_value": float(np.asarray(explainer.expected_value).reshape(-1)[0]),
                }
            }
        },
    }


def drift_violations(
    current: dict[str, Any], baseline: dict[str, Any], threshold: float = NDCG_THRESHOLD
) -> list[dict[str, str]]:
    found = []
    reference = baseline.get("explanations", {}).get("kernel_shap", {})
    for label, explanation in current.get("explanations", {}).get("kernel_shap", {}).items():
        if label not in reference:
            continue
        ours, theirs = explanation["global_shap_values"], reference[label]["global_shap_values"]
        names = [name for name in theirs if name in ours]
        if len(names) < 2:
            continue
        score = float(ndcg_score([[abs(theirs[n]) for n in names]], [[abs(ours[n]) for n in names]]))
        if score < threshold:
            found.append(
                {
                    "label": label,
                    "metric_name": "shap",
                    "feature_name": label,
                    "constraint_check_type": "feature_attribution_drift_check",
                    "description": f"Feature attribution nDCG {score:.4f} is below threshold {threshold}",
                }
            )
    return found
