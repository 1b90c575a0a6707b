# SPDX-License-Identifier: Apache-2.0
"""Bias: Clarify's pre- and post-training metrics for one facet and label, in `analysis.json`'s shape, and drift.

Formulas: SageMaker Developer Guide, "Pre-training Bias Metrics" (clarify-measure-data-bias) and "Post-training Data
and Model Bias Metrics" (clarify-measure-post-training-bias). Facet d is the sensitive group (rows whose facet value
is one of `facet_values_or_threshold`, or above it when the facet is continuous: numeric, one value given, more
than two distinct values making at least 5% of its rows, Clarify's uniqueness rule); a is every other row. n_x counts
rows of group x, n_x(1) positive labels, n̂_x(1) positive predicted labels; q_x = n_x(1)/n_x, q̂_x = n̂_x(1)/n_x.

Pre-training: CI = (n_a - n_d)/n; DPL = q_a - q_d; KL = Σ_y P_a(y) ln(P_a(y)/P_d(y)); JS = ½[KL(P_a‖P) + KL(P_d‖P)]
with P = ½(P_a + P_d); LP = (Σ_y |P_a(y) - P_d(y)|²)^½; TVD = ½ Σ_y |P_a(y) - P_d(y)|; KS = max_y |P_a(y) - P_d(y)|;
CDDL = (1/n) Σ_i n_i DD_i, DD_i = n_d(0)_i/n(0)_i - n_d(1)_i/n(1)_i over the `group_variable`'s subgroups i.
Post-training: DPPL = q̂_a - q̂_d; DI = q̂_d/q̂_a; DCAcc = n_a(1)/n̂_a(1) - n_d(1)/n̂_d(1);
DCR = n_d(0)/n̂_d(0) - n_a(0)/n̂_a(0); RD = TPR_a - TPR_d; SD = TNR_d - TNR_a; DAR = TP_a/n̂_a(1) - TP_d/n̂_d(1);
DRR = TN_d/n̂_d(0) - TN_a/n̂_a(0); AD = ACC_a - ACC_d; TE = FN_d/FP_d - FN_a/FP_a; CDDPL as CDDL on predicted labels;
GE = Σ_i ((b_i/μ)² - 1)/(2n), b_i = ŷ_i - y_i + 1; FT = (F⁺ - F⁻)/n_d, where a k-nearest-neighbour classifier
fitted on group a's predicted labels relabels group d, F⁺ / F⁻ counting d's rows it turns positive / negative.
A ratio 0/0 is 0 and x/0 is ±infinity (Clarify's convention).

`analysis.json` (Clarify's bias report, "Bias reports"): `pre_training_bias_metrics` / `post_training_bias_metrics`,
each `{"label", "label_value_or_threshold", "facets": {facet: [{"value_or_threshold", "metrics": [{"name",
"description", "value"}]}]}}`. Drift ("Bias drift violations"): a metric violates when it is further from 0 than
the baseline's value (DI, whose neutral value is 1, by its distance from 1); the violation carries `facet`,
`facet_value`, `metric_name`, `constraint_check_type` (`bias_drift_check`) and `description`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import rel_entr
from sklearn.neighbors import KNeighborsClassifier

UNIQUENESS_THRESHOLD = 0.05
FLIP_TEST_NEIGHBORS = 5
DESCRIPTIONS = {
    "CI": "Class Imbalance (CI)",
    "DPL": "Difference in Positive Proportions in Labels (DPL)",
    "KL": "Kullback-Liebler Divergence (KL)",
    "JS": "Jensen-Shannon Divergence (JS)",
    "LP": "L-p Norm (LP)",
    "TVD": "Total Variation Distance (TVD)",
    "KS": "Kolmogorov-Smirnov Distance (KS)",
    "CDDL": "Conditional Demographic Disparity in Labels (CDDL)",
    "DPPL": "Difference in Positive Proportions in Predicted Labels (DPPL)",
    "DI": "Disparate Impact (DI)",
    "DCAcc": "Difference in Conditional Acceptance (DCAcc)",
    "DCR": "Difference in Conditional Rejection (DCR)",
    "RD": "Recall Difference (RD)",
    "SD": "Specificity Difference (SD)",
    "DAR": "Difference in Acceptance Rates (DAR)",
    "DRR": "Difference in Rejection Rates (DRR)",
    "AD": "Accuracy Difference (AD)",
    "TE": "Treatment Equality (TE)",
    "CDDPL": "Conditional Demographic Disparity in Predicted Labels (CDDPL)",
    "GE": "Generalized Entropy (GE)",
    "FT": "Flip Test (FT)",
}


def divide(a: float, b: float) -> float:
    if b == 0:
        return 0.0 if a == 0 else math.copysign(math.inf, a)
    return a / b


def _is_continuous(series: pd.Series, values: list[Any]) -> bool:
    if len(values) != 1 or not pd.api.types.is_numeric_dtype(series):
        return False
    count, distinct = series.count(), series.nunique()
    return bool(count) and distinct > 2 and distinct / count >= UNIQUENESS_THRESHOLD


def membership(series: pd.Series, values: list[Any]) -> np.ndarray:
    """Rows in the group the values name: above the threshold for a continuous column, else one of the values."""
    if _is_continuous(series, values):
        return (pd.to_numeric(series, errors="coerce") > float(values[0])).to_numpy()
    as_text = {str(v) for v in values} | {_text(v) for v in values}
    return series.map(_text).isin(as_text).to_numpy()


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _distributions(positive: np.ndarray, sensitive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    qa = positive[~sensitive].mean()
    qd = positive[sensitive].mean()
    return np.array([qa, 1 - qa]), np.array([qd, 1 - qd])


def _cdd(label: np.ndarray, sensitive: np.ndarray, groups: np.ndarray) -> float:
    total, weighted = 0, 0.0
    for group in pd.unique(groups):
        member = groups == group
        accepted, rejected = label & member, ~label & member
        a = divide(float((accepted & sensitive).sum()), float(accepted.sum())) if accepted.any() else 0.0
        d = divide(float((rejected & sensitive).sum()), float(rejected.sum())) if rejected.any() else 0.0
        weighted += member.sum() * (d - a)
        total += int(member.sum())
    return divide(weighted, total)


def pre_training(label: np.ndarray, sensitive: np.ndarray, groups: np.ndarray | None) -> dict[str, float]:
    n_d, n_a = int(sensitive.sum()), int((~sensitive).sum())
    pa, pd_ = _distributions(label, sensitive)
    middle = (pa + pd_) / 2
    values = {
        "CI": divide(n_a - n_d, n_a + n_d),
        "DPL": float(pa[0] - pd_[0]),
        "KL": float(rel_entr(pa, pd_).sum()),
        "JS": float(0.5 * (rel_entr(pa, middle).sum() + rel_entr(pd_, middle).sum())),
        "LP": float(np.linalg.norm(pa - pd_, 2)),
        "TVD": float(0.5 * np.abs(pa - pd_).sum()),
        "KS": float(np.abs(pa - pd_).max()),
    }
    if groups is not None:
        values["CDDL"] = _cdd(label, sensitive, groups)
    return values


def post_training(
    label: np.ndarray,
    predicted: np.ndarray,
    sensitive: np.ndarray,
    groups: np.ndarray | None,
    features: np.ndarray | None = None,
) -> dict[str, float]:
    def count(mask: np.ndarray, group: np.ndarray) -> float:
        return float((mask & group).sum())

    a, d = ~sensitive, sensitive
    tp, fp = label & predicted, ~label & predicted
    fn, tn = label & ~predicted, ~label & ~predicted
    n_a, n_d = float(a.sum()), float(d.sum())
    qa_hat, qd_hat = count(predicted, a) / n_a, count(predicted, d) / n_d
    accuracy_a = divide(count(tp, a) + count(tn, a), n_a)
    accuracy_d = divide(count(tp, d) + count(tn, d), n_d)
    values = {
        "DPPL": qa_hat - qd_hat,
        "DI": divide(qd_hat, qa_hat),
        "DCAcc": divide(count(label, a), count(predicted, a)) - divide(count(label, d), count(predicted, d)),
        "DCR": divide(count(~label, d), count(~predicted, d)) - divide(count(~label, a), count(~predicted, a)),
        "RD": divide(count(tp, a), count(tp, a) + count(fn, a)) - divide(count(tp, d), count(tp, d) + count(fn, d)),
        "SD": divide(count(tn, d), count(tn, d) + count(fp, d)) - divide(count(tn, a), count(tn, a) + count(fp, a)),
        "DAR": divide(count(tp, a), count(predicted, a)) - divide(count(tp, d), count(predicted, d)),
        "DRR": divide(count(tn, d), count(~predicted, d)) - divide(count(tn, a), count(~predicted, a)),
        "AD": accuracy_a - accuracy_d,
        "TE": divide(count(fn, d), count(fp, d)) - divide(count(fn, a), count(fp, a)),
    }
    for name in ("DCAcc", "DCR", "RD", "SD", "DAR", "DRR", "TE"):
        if math.isnan(values[name]):  # inf - inf: both groups undefined, Clarify reports 0
            values[name] = 0.0
    if groups is not None:
        values["CDDPL"] = _cdd(predicted, sensitive, groups)
    benefit = predicted.astype(float) - label.astype(float) + 1
    if benefit.mean() > 0:
        values["GE"] = float(((benefit / benefit.mean()) ** 2 - 1).sum() / (len(benefit) * 2))
    if features is not None and n_a and n_d:
        values["FT"] = flip_test(features, predicted, sensitive)
    return values


def flip_test(features: np.ndarray, predicted: np.ndarray, sensitive: np.ndarray) -> float:
    advantaged = features[~sensitive]
    neighbours = min(FLIP_TEST_NEIGHBORS, len(advantaged))
    knn = KNeighborsClassifier(n_neighbors=neighbours).fit(advantaged, predicted[~sensitive])
    as_if_advantaged = knn.predict(features[sensitive]).astype(bool)
    model = predicted[sensitive]
    flipped_positive = int((as_if_advantaged & ~model).sum())
    flipped_negative = int((~as_if_advantaged & model).sum())
    return (flipped_positive - flipped_negative) / int(sensitive.sum())


def _section(
    label_name: str, label_values: list[Any], facet: str, facet_values: list[Any], values: dict[str, float]
) -> dict[str, Any]:
    return {
        "label": label_name,
        "label_value_or_threshold": ",".join(_text(v) for v in label_values),
        "facets": {
            facet: [
                {
                    "value_or_threshold": ",".join(_text(v) for v in facet_values),
                    "metrics": [
                        {"name": name, "description": DESCRIPTIONS[name], "value": _json_number(value)}
                        for name, value in values.items()
                    ],
                }
            ]
        },
    }


def _json_number(value: float) -> float | str:
    return value if math.isfinite(value) else ("Infinity" if value > 0 else "-Infinity")


def analysis(frame: pd.DataFrame, config: dict[str, Any], feature_columns: list[str]) -> dict[str, Any]:
    """Clarify's bias `analysis.json` of a frame with the facet, `label` and (optionally) `predicted_label` columns."""
    facet = str(config["facet_name"])
    facet_values = list(config["facet_values_or_threshold"])
    label_values = list(config["label_values_or_threshold"])
    label_name = str(config.get("label", "label"))
    sensitive = membership(frame[facet], facet_values)
    if sensitive.all() or not sensitive.any():
        raise ValueError(f"facet {facet} {facet_values} selects {'every' if sensitive.all() else 'no'} row")
    label = membership(frame["label"], label_values)
    group = str(config.get("group_variable") or "")
    groups = frame[group].to_numpy() if group and group in frame else None
    report: dict[str, Any] = {
        "version": "1.0",
        "pre_training_bias_metrics": _section(
            label_name, label_values, facet, facet_values, pre_training(label, sensitive, groups)
        ),
    }
    if "predicted_label" in frame:
        predicted = membership(frame["predicted_label"], label_values)
        numeric = frame[feature_columns].apply(pd.to_numeric, errors="coerce")
        features = numeric.to_numpy(float) if not numeric.isna().any().any() else None
        values = post_training(label, predicted, sensitive, groups, features)
        report["post_training_bias_metrics"] = _section(label_name, label_values, facet, facet_values, values)
    return report


def drift_violations(current: dict[str, Any], baseline: dict[str, Any], tolerance: float = 0.0) -> list[dict[str, str]]:
    """Metrics further from 0 than the baseline's ("Bias drift violations")."""
    found = []
    for section in ("pre_training_bias_metrics", "post_training_bias_metrics"):
        for facet, groups in current.get(section, {}).get("facets", {}).items():
            reference_groups = baseline.get(section, {}).get("facets", {}).get(facet, [])
            for group in groups:
                reference = next(
                    (g for g in reference_groups if g["value_or_threshold"] == group["value_or_threshold"]), None
                )
                if reference is None:
                    continue
                limits = {metric["name"]: _number(metric["value"]) for metric in reference["metrics"]}
                for metric in group["metrics"]:
                    value, limit = _number(metric["value"]), limits.get(metric["name"])
                    neutral = 1.0 if metric["name"] == "DI" else 0.0
                    if limit is None or math.isnan(value) or abs(value - neutral) <= abs(limit - neutral) + tolerance:
                        continue
                    found.append(
                        {
                            "facet": facet,
                            "facet_value": group["value_or_threshold"],
                            "metric_name": metric["name"],
                            "feature_name": facet,
                            "constraint_check_type": "bias_drift_check",
                            "description": f"Value {value} does not meet the constraint requirement "
                            f"(further from 0 than the baseline's {limit})",
                        }
                    )
    return found


def _number(value: Any) -> float:
    return float(value) if not isinstance(value, str) else float(value.replace("Infinity", "inf"))
