# SPDX-License-Identifier: Apache-2.0
"""Statistics equal numpy's on generated data, and merging chunks equals reading at once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monitoring_engine.statistics import DatasetStatistics

from .support import tabular


def _features(statistics: DatasetStatistics) -> dict:
    return {feature["name"]: feature for feature in statistics.to_report()["features"]}


def test_numeric_statistics_equal_numpys() -> None:
    frame = tabular(5000, seed=1)
    frame.loc[::10, "income"] = np.nan
    statistics = DatasetStatistics()
    statistics.add(frame)
    features = _features(statistics)
    for name in ("age", "income", "score"):
        values = frame[name].dropna().to_numpy(float)
        numbers = features[name]["numerical_statistics"]
        assert numbers["mean"] == pytest.approx(values.mean(), rel=1e-12)
        assert numbers["sum"] == pytest.approx(values.sum(), rel=1e-12)
        assert numbers["std_dev"] == pytest.approx(values.std(), rel=1e-9)
        assert (numbers["min"], numbers["max"]) == (values.min(), values.max())
        assert numbers["common"] == {"num_present": len(values), "num_missing": len(frame) - len(values)}
        buckets = numbers["distribution"]["kll"]["buckets"]
        assert len(buckets) == 10
        assert sum(b["count"] for b in buckets) == pytest.approx(len(values))
    assert [features[n]["inferred_type"] for n in ("age", "income", "score", "segment")] == [
        "Integral",
        "Fractional",
        "Fractional",
        "String",
    ]
    assert statistics.to_report()["dataset"]["item_count"] == 5000


def test_string_statistics_count_distinct_and_top_values() -> None:
    frame = pd.DataFrame({"colour": ["red"] * 50 + ["blue"] * 30 + ["green"] * 20})
    statistics = DatasetStatistics()
    statistics.add(frame)
    strings = _features(statistics)["colour"]["string_statistics"]
    assert strings["distinct_count"] == 3
    assert strings["distribution"]["categorical"]["buckets"] == [
        {"value": "red", "count": 50},
        {"value": "blue", "count": 30},
        {"value": "green", "count": 20},
    ]


def test_chunks_and_partial_reports_merge_to_the_whole() -> None:
    frame = tabular(6000, seed=2)
    whole = DatasetStatistics()
    whole.add(frame)
    merged = DatasetStatistics()
    for start in range(0, 6000, 1000):
        part = DatasetStatistics()
        part.add(frame.iloc[start : start + 1000])
        merged.merge(DatasetStatistics.from_report(part.to_report()))  # through the partial report, as shards do
    ours, theirs = _features(merged), _features(whole)
    for name in ("age", "income", "score"):
        a, b = ours[name]["numerical_statistics"], theirs[name]["numerical_statistics"]
        for key in ("mean", "sum", "std_dev", "min", "max"):
            assert a[key] == pytest.approx(b[key], rel=1e-9)
        assert merged.features[name].kll.n == 6000
        assert merged.features[name].kll.get_quantile(0.5) == pytest.approx(np.median(frame[name]), rel=0.05)
    assert ours["segment"]["string_statistics"]["distinct_count"] == 3
    assert merged.item_count == 6000


def test_a_string_among_numbers_makes_the_feature_a_string() -> None:
    statistics = DatasetStatistics()
    statistics.add(pd.DataFrame({"x": ["1", "2", "three", None]}))
    feature = _features(statistics)["x"]
    assert feature["inferred_type"] == "String"
    assert feature["string_statistics"]["common"] == {"num_present": 3, "num_missing": 1}
