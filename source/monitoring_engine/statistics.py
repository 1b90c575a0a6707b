# SPDX-License-Identifier: Apache-2.0
"""Per-feature statistics that merge across chunks and shards, written in Model Monitor's `statistics.json` shape.

Shape: SageMaker Developer Guide, "Schema for Statistics (statistics.json file)". Per feature: `name`,
`inferred_type` (Integral | Fractional | String), and `numerical_statistics` (`common.num_present/num_missing`,
`mean`, `sum`, `std_dev`, `min`, `max`, `distribution.kll` with 10 materialized `buckets` and the `sketch`) or
`string_statistics` (`common`, `distinct_count`, `distribution.categorical.buckets` of value/count).

Mergeable state, all from libraries: Apache DataSketches KLL (quantiles; `sketch.parameters.k`, and the sketch
itself serialized in `sketch.serialized`, base64 of DataSketches' own binary image: our addition, since the
documented `sketch.data` levels are not exposed by the library), HLL (distinct count; `string_statistics.sketch`)
and frequent-items (top values). Mean and variance merge by Chan et al.'s pairwise formula; `std_dev` is the
population standard deviation (ddof=0).

Type inference, per value: a whole number is Integral, another number Fractional, anything else String. A feature
is String when any value is, else Fractional when any value is, else Integral (Model Monitor's rule). A feature
that shows its first string after some chunks keeps exact counts, while its distinct count and top values cover
the chunks from that one on.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import Any

import datasketches
import numpy as np
import pandas as pd

KLL_K = 200
HLL_LG_K = 12
FREQUENT_LG_MAX = 10
TOP_VALUES = 20
BUCKETS = 10

INTEGRAL, FRACTIONAL, STRING = "Integral", "Fractional", "String"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass
class FeatureState:
    """What one feature's values have shown so far; `merge` adds another chunk's or shard's state."""

    name: str
    count: int = 0
    missing: int = 0
    integral: int = 0
    fractional: int = 0
    strings: int = 0
    mean: float = 0.0
    m2: float = 0.0
    total: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf
    negatives: int = 0
    outside_domain: int = 0
    kll: Any = field(default_factory=lambda: datasketches.kll_doubles_sketch(KLL_K))
    hll: Any = field(default_factory=lambda: datasketches.hll_sketch(HLL_LG_K))
    frequent: Any = field(default_factory=lambda: datasketches.frequent_strings_sketch(FREQUENT_LG_MAX))
    domain: frozenset[str] | None = None

    @property
    def present(self) -> int:
        return self.count - self.missing

    @property
    def numeric(self) -> int:
        return self.integral + self.fractional

    @property
    def inferred_type(self) -> str:
        if self.strings:
            return STRING
        return FRACTIONAL if self.fractional else INTEGRAL

    def add(self, column: pd.Series) -> None:
        """Add one chunk's values of this feature."""
        self.count += len(column)
        if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
            numbers = column.to_numpy(dtype=float, na_value=np.nan)
            present = ~np.isnan(numbers)
            self.missing += int((~present).sum())
            self._add_numbers(numbers[present])
            return
        text = column.astype("string")
        text = text.where(text.str.strip() != "")
        present_text = text.dropna()
        self.missing += len(text) - len(present_text)
        parsed = pd.to_numeric(present_text, errors="coerce")
        numeric_mask = parsed.notna().to_numpy()
        self._add_numbers(parsed[numeric_mask].to_numpy(dtype=float))
        self.strings += int((~numeric_mask).sum())
        if self.strings:
            self._add_strings(present_text)

    def _add_numbers(self, values: np.ndarray) -> None:
        if not len(values):
            return
        whole = np.floor(values) == values
        self.integral += int(whole.sum())
        self.fractional += int((~whole).sum())
        self.negatives += int((values < 0).sum())
        self._merge_moments(len(values), float(values.mean()), float(((values - values.mean()) ** 2).sum()))
        self.total += float(values.sum())
        self.minimum = min(self.minimum, float(values.min()))
        self.maximum = max(self.maximum, float(values.max()))
        self.kll.update(values)

    def _add_strings(self, values: pd.Series) -> None:
        counts = values.value_counts()
        for value, number in counts.items():
            self.hll.update(str(value))
            self.frequent.update(str(value), int(number))
        if self.domain is not None:
            self.outside_domain += int((~values.isin(self.domain)).sum())

    def _merge_moments(self, n: int, mean: float, m2: float) -> None:
        before = self.numeric - n  # _add_numbers counted the new values already
        total = before + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * before * n / total

    def merge(self, other: FeatureState) -> None:
        """Add another chunk's or shard's state of the same feature."""
        before = self.numeric
        self.count += other.count
        self.missing += other.missing
        self.strings += other.strings
        self.negatives += other.negatives
        self.outside_domain += other.outside_domain
        self.total += other.total
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)
        if other.numeric:
            total = before + other.numeric
            delta = other.mean - self.mean
            self.mean += delta * other.numeric / total
            self.m2 += other.m2 + delta * delta * before * other.numeric / total
        self.integral += other.integral
        self.fractional += other.fractional
        self.kll.merge(other.kll)
        union = datasketches.hll_union(HLL_LG_K)
        union.update(self.hll)
        union.update(other.hll)
        self.hll = union.get_result()
        self.frequent.merge(other.frequent)

    # -- the documented shape -------------------------------------------------------------------------------------

    def to_report(self) -> dict[str, Any]:
        """This feature in `statistics.json`'s shape, with the mergeable state our extra keys carry."""
        common = {"num_present": self.present, "num_missing": self.missing}
        feature: dict[str, Any] = {"name": self.name, "inferred_type": self.inferred_type}
        counts = {"integral": self.integral, "fractional": self.fractional, "string": self.strings}
        if self.inferred_type == STRING:
            buckets = [{"value": value, "count": int(count)} for value, count, *_ in self._top()]
            feature["string_statistics"] = {
                "common": common,
                "distinct_count": round(self.hll.get_estimate()) if self.strings else 0,
                "distribution": {"categorical": {"buckets": buckets}},
                "sketch": {"hll": _b64(self.hll.serialize_compact()), "frequent": _b64(self.frequent.serialize())},
            }
        numeric = self.numeric
        if numeric:
            feature["numerical_statistics"] = {
                "common": common,
                "mean": self.mean,
                "sum": self.total,
                "std_dev": math.sqrt(self.m2 / numeric),
                "min": self.minimum,
                "max": self.maximum,
                "distribution": {
                    "kll": {
                        "buckets": self._buckets(),
                        "sketch": {"parameters": {"k": KLL_K}, "serialized": _b64(self.kll.serialize())},
                    }
                },
                "moments": {"count": numeric, "m2": self.m2, "negatives": self.negatives},
            }
        elif self.inferred_type != STRING:
            feature["numerical_statistics"] = {"common": common}
        feature["type_counts"] = counts
        if self.domain is not None:
            feature["outside_domain"] = self.outside_domain
        return feature

    def _top(self) -> list[Any]:
        items = self.frequent.get_frequent_items(datasketches.frequent_items_error_type.NO_FALSE_POSITIVES)
        return list(items)[:TOP_VALUES]

    def _buckets(self) -> list[dict[str, float]]:
        low, high = self.minimum, self.maximum
        if low == high:
            return [{"lower_bound": low, "upper_bound": high, "count": float(self.numeric)}]
        edges = np.linspace(low, high, BUCKETS + 1)
        masses = self.kll.get_pmf(list(edges[1:-1]))
        return [
            {
                "lower_bound": float(edges[i]),
                "upper_bound": float(edges[i + 1]),
                "count": float(masses[i] * self.numeric),
            }
            for i in range(BUCKETS)
        ]

    def exact_frequencies(self) -> dict[str, float] | None:
        """Value -> share of string values, when the frequent-items sketch still holds every value exactly."""
        if not self.strings:
            return None
        items = self.frequent.get_frequent_items(datasketches.frequent_items_error_type.NO_FALSE_POSITIVES)
        if any(lower != upper for _, _, lower, upper in items):
            return None
        return {value: count / self.strings for value, count, *_ in items}

    @classmethod
    def from_report(cls, feature: dict[str, Any]) -> FeatureState:
        """The state a partial report carries (how shards hand their statistics to the merge)."""
        state = cls(feature["name"])
        counts = feature.get("type_counts", {})
        state.integral, state.fractional = int(counts.get("integral", 0)), int(counts.get("fractional", 0))
        state.strings = int(counts.get("string", 0))
        section = feature.get("numerical_statistics") or feature.get("string_statistics") or {}
        common = section.get("common", {})
        state.missing = int(common.get("num_missing", 0))
        state.count = int(common.get("num_present", 0)) + state.missing
        numbers = feature.get("numerical_statistics", {})
        if "moments" in numbers:
            state.mean, state.total = float(numbers["mean"]), float(numbers["sum"])
            state.minimum, state.maximum = float(numbers["min"]), float(numbers["max"])
            state.m2, state.negatives = float(numbers["moments"]["m2"]), int(numbers["moments"]["negatives"])
            state.kll = datasketches.kll_doubles_sketch.deserialize(
                base64.b64decode(numbers["distribution"]["kll"]["sketch"]["serialized"])
            )
        strings = feature.get("string_statistics", {})
        if "sketch" in strings:
            state.hll = datasketches.hll_sketch.deserialize(base64.b64decode(strings["sketch"]["hll"]))
            state.frequent = datasketches.frequent_strings_sketch.deserialize(
                base64.b64decode(strings["sketch"]["frequent"])
            )
        state.outside_domain = int(feature.get("outside_domain", 0))
        return state


class DatasetStatistics:
    """Statistics of a dataset, fed chunk by chunk, merged with other partial statistics."""

    def __init__(self, names: list[str] | None = None, domains: dict[str, list[str]] | None = None) -> None:
        self.names = list(names or [])
        self.domains = {name: frozenset(values) for name, values in (domains or {}).items()}
        self.features: dict[str, FeatureState] = {}
        self.item_count = 0

    def _feature(self, name: str) -> FeatureState:
        if name not in self.features:
            self.features[name] = FeatureState(name, domain=self.domains.get(name))
        return self.features[name]

    def column_name(self, column: Any) -> str:
        """A positional column takes the baseline's name at that position, else Model Monitor's `_c<i>`."""
        if isinstance(column, (int, np.integer)):
            index = int(column)
            return self.names[index] if index < len(self.names) else f"_c{index}"
        return str(column)

    def add(self, frame: pd.DataFrame) -> None:
        self.item_count += len(frame)
        for column in frame.columns:
            self._feature(self.column_name(column)).add(frame[column])

    def merge(self, other: DatasetStatistics) -> None:
        self.item_count += other.item_count
        for name, state in other.features.items():
            if name in self.features:
                self.features[name].merge(state)
            else:
                self.features[name] = state

    def to_report_order(self) -> list[str]:
        """Feature names in the baseline's column order, then any others by name."""
        order = {name: i for i, name in enumerate(self.names)}
        return sorted(self.features, key=lambda name: (order.get(name, len(order)), name))

    def to_report(self) -> dict[str, Any]:
        return {
            "version": 0,
            "dataset": {"item_count": self.item_count},
            "features": [self.features[name].to_report() for name in self.to_report_order()],
        }

    @classmethod
    def from_report(cls, report: dict[str, Any]) -> DatasetStatistics:
        statistics = cls([feature["name"] for feature in report.get("features", [])])
        statistics.item_count = int(report.get("dataset", {}).get("item_count", 0))
        for feature in report.get("features", []):
            statistics.features[feature["name"]] = FeatureState.from_report(feature)
        return statistics
