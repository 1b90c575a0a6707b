# SPDX-License-Identifier: Apache-2.0
"""One monitoring job: a baseline or an analysis of one kind, from a spec, with reports in S3.

    python -m monitoring_engine.job --spec s3://bucket/key/spec.json | --spec-file PATH

prints the result as JSON, writes it to `<output_uri>/result.json` and exits 0 (Completed,
CompletedWithViolations) or 1 (Failed).

The spec (`run_job(spec, s3, runtime=None)`):
- `kind`: data_quality | model_quality | model_bias | model_explainability.
- `mode`: baseline | analysis | merge (merge: combine the shards' partial statistics already written, see below).
- `dataset`: `{"uri", "format": "csv" | "jsonl", "header": bool}`, the baseline dataset (one key or a prefix).
- `capture`: `{"uri": "s3://…/<endpoint>/<variant>/", "start", "end"}`: analysis reads the capture files of the
  hours in [start, end) (ISO 8601).
- `ground_truth`: `{"uri", "lookahead_hours"?}`: labels for model_quality and model_bias analyses, read from the
  hours in [start, end + lookahead_hours) (default 24: labels arrive after the predictions).
- `baseline`: `{"statistics_uri", "constraints_uri", "analysis_uri"}`: what an analysis compares with
  (data/model quality: statistics and constraints; bias/explainability: the baseline's analysis.json, given as
  `analysis_uri` or `constraints_uri`).
- `output_uri`: where the reports go: data_quality and model_quality write `statistics.json` and, as baseline,
  `constraints.json`, as analysis `constraint_violations.json`; bias and explainability write `analysis.json` and,
  as analysis, `constraint_violations.json`.
- `predictor`: `{"endpoint_name"}`: the model behind the endpoint, called through `runtime` (a boto3
  sagemaker-runtime client, created when not passed) for explainability, and for a bias baseline whose dataset has
  no predicted label.
- `shard`: `{"index", "count"}` (default: SageMaker's /opt/ml/config/resourceconfig.json, `hosts` and
  `current_host`, else one shard). Data quality splits the sorted input files: shard i reads files i, i+n, …, and
  writes its partial statistics to `<output_uri>/partials/shard-<i>.json`; shard 0 then waits for every partial
  (up to `config.shard_wait_seconds`, default 1800), merges them and writes the reports; the other shards return
  Completed. A `merge`-mode job does only that last step. The other kinds run on shard 0 only.
- `config` (the monitor request's settings; every key optional unless its kind needs it):
  - `chunk_rows` (100000): rows held in memory at once.
  - `headers`: feature names in column order (the capture's CSV columns, a headerless baseline's columns).
  - data quality: `datatype_check_threshold` (0.1), `domain_content_threshold` (0.1), `comparison_threshold`
    (0.1), `categorical_comparison_threshold` (0.1), `max_domain_size` (20).
  - model quality: `problem_type` (Regression | BinaryClassification | MulticlassClassification, required);
    `inference_attribute`, `probability_attribute`, `ground_truth_attribute`: the baseline dataset's columns
    (name, or index when headerless), or in an analysis the attribute (index or JSONPath) of the endpoint's
    output; `probability_threshold_attribute` (0.5 when a probability is given): probability to label.
  - bias (`bias_config` keys may also sit nested under `bias_config`): `facet_name`,
    `facet_values_or_threshold`, `label_values_or_threshold` (required); `label` (the baseline's label column,
    default the first column), `group_variable`, `predicted_label` (the baseline's predicted-label column),
    `inference_attribute` / `probability_attribute` / `probability_threshold_attribute` (the endpoint's output),
    `bias_drift_tolerance` (0).
  - explainability: `label` (a label column of the baseline dataset to leave out), `model_scores` (the score's
    index or JSONPath in the endpoint's output, default the first value), `shap_config` (`baseline`: an s3:// CSV of
    background rows, else the baseline dataset; `num_samples` 100; `agg_method` mean_abs | median | mean_sq;
    `seed` 0; `background_rows` 10), `max_rows` (20), `attribution_drift_threshold` (0.9), `label_header`.

The result: `{"status", "exit_message", "violations": [{"feature_name", "constraint_check_type", "description",
…}], "reports": {"statistics"?, "constraints"?, "constraint_violations"?, "analysis"?}, "rows", "shard"}`. An
analysis of hours with no capture is Completed and says so.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import bias, capture, data_quality, explainability, model_quality, s3io
from .statistics import DatasetStatistics

KINDS = ("data_quality", "model_quality", "model_bias", "model_explainability")
RESOURCE_CONFIG = Path("/opt/ml/config/resourceconfig.json")
CHUNK_ROWS = 100_000


class JobError(Exception):
    """The spec or its inputs cannot give a result (a Failed job)."""


def result(status: str, message: str, **fields: Any) -> dict[str, Any]:
    return {"status": status, "exit_message": message, "violations": [], "reports": {}, "rows": 0, **fields}


def shard_of(spec: dict[str, Any]) -> tuple[int, int]:
    if "shard" in spec:
        return int(spec["shard"]["index"]), int(spec["shard"]["count"])
    if RESOURCE_CONFIG.exists():
        hosts = json.loads(RESOURCE_CONFIG.read_text())
        return hosts["hosts"].index(hosts["current_host"]), len(hosts["hosts"])
    return 0, 1


def run_job(spec: dict[str, Any], s3: Any, runtime: Any = None) -> dict[str, Any]:
    """Run one job; failures become a Failed result, never an exception."""
    try:
        outcome = _run(spec, s3, runtime)
    except (JobError, KeyError, ValueError, TypeError) as error:
        outcome = result("Failed", f"{type(error).__name__}: {error}")
    index, count = shard_of(spec)
    outcome["shard"] = {"index": index, "count": count}
    if "output_uri" in spec:
        name = "result.json" if index == 0 else f"partials/result-{index}.json"
        s3io.write_json(s3, s3io.join(spec["output_uri"], name), outcome)
    return outcome


def _run(spec: dict[str, Any], s3: Any, runtime: Any) -> dict[str, Any]:
    kind, mode = spec.get("kind"), spec.get("mode")
    if kind not in KINDS:
        raise JobError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if mode not in ("baseline", "analysis", "merge"):
        raise JobError(f"mode must be baseline, analysis or merge, not {mode!r}")
    index, count = shard_of(spec)
    if kind != "data_quality" and index != 0:
        return result("Completed", f"{kind} runs on shard 0; shard {index} has nothing to do")
    if kind == "data_quality":
        return _data_quality(spec, s3, index, count)
    if kind == "model_quality":
        return _model_quality(spec, s3)
    if kind == "model_bias":
        return _model_bias(spec, s3, runtime)
    return _model_explainability(spec, s3, runtime)


def _config(spec: dict[str, Any]) -> dict[str, Any]:
    config = dict(spec.get("config") or {})
    nested = config.pop("bias_config", None)
    if isinstance(nested, dict):
        config = {**nested, **config}
    return config


def _capture_files(spec: dict[str, Any], s3: Any) -> list[str]:
    window = spec.get("capture") or {}
    if not {"uri", "start", "end"} <= set(window):
        raise JobError("an analysis needs capture.uri, capture.start and capture.end")
    return capture.window_files(s3, window["uri"], window["start"], window["end"])


def _no_capture(spec: dict[str, Any]) -> dict[str, Any]:
    window = spec["capture"]
    return result("Completed", f"No capture was found under {window['uri']} for [{window['start']}, {window['end']})")


def _report_uri(spec: dict[str, Any], name: str) -> str:
    return s3io.join(spec["output_uri"], name)


def _finish(spec: dict[str, Any], s3: Any, found: list[dict[str, Any]], reports: dict[str, str], rows: int) -> dict:
    reports["constraint_violations"] = s3io.write_json(
        s3, _report_uri(spec, "constraint_violations.json"), {"violations": found}
    )
    status = "CompletedWithViolations" if found else "Completed"
    message = f"{len(found)} violations in {rows} rows" if found else f"No violations in {rows} rows"
    return result(status, message, violations=found, reports=reports, rows=rows)


# -- data quality -------------------------------------------------------------------------------------------------


def _data_quality(spec: dict[str, Any], s3: Any, index: int, count: int) -> dict[str, Any]:
    config = _config(spec)
    mode = spec["mode"]
    baseline_statistics: DatasetStatistics | None = None
    constraints: dict[str, Any] = {}
    names = list(config.get("headers") or [])
    if mode == "analysis" and not {"statistics_uri", "constraints_uri"} <= set(spec.get("baseline") or {}):
        raise JobError("a data quality analysis needs baseline.statistics_uri and baseline.constraints_uri")
    if mode in ("analysis", "merge") and spec.get("baseline"):
        baseline_statistics = DatasetStatistics.from_report(s3io.read_json(s3, spec["baseline"]["statistics_uri"]))
        constraints = s3io.read_json(s3, spec["baseline"]["constraints_uri"])
        names = names or [feature["name"] for feature in constraints.get("features", [])]
    analysis = mode == "analysis" or (mode == "merge" and baseline_statistics is not None)
    if mode == "merge":
        merged = _merge_partials(spec, s3, count, wait=False)
    else:
        files = _capture_files(spec, s3) if mode == "analysis" else s3io.list_keys(s3, spec["dataset"]["uri"])
        if not files:
            if mode == "analysis":
                return _no_capture(spec)
            raise JobError(f"no baseline dataset under {spec['dataset']['uri']}")
        statistics = DatasetStatistics(names, data_quality.domains(constraints))
        chunk_rows = int(config.get("chunk_rows", CHUNK_ROWS))
        for frame in _frames(spec, s3, files[index::count], chunk_rows, mode):
            statistics.add(frame)
        if count == 1:
            merged = statistics
        else:
            partial = s3io.join(spec["output_uri"], f"partials/shard-{index}.json")
            s3io.write_json(s3, partial, statistics.to_report())
            if index != 0:
                return result("Completed", f"Partial statistics of shard {index} of {count} written", rows=0)
            merged = _merge_partials(spec, s3, count, wait=True, config=config)
    reports = {"statistics": s3io.write_json(s3, _report_uri(spec, "statistics.json"), merged.to_report())}
    if not analysis:
        suggested = data_quality.suggest_constraints(merged, config)
        reports["constraints"] = s3io.write_json(s3, _report_uri(spec, "constraints.json"), suggested)
        return result("Completed", f"Baseline of {merged.item_count} rows", reports=reports, rows=merged.item_count)
    assert baseline_statistics is not None
    found = data_quality.violations(merged, baseline_statistics, constraints)
    return _finish(spec, s3, found, reports, merged.item_count)


def _frames(spec: dict[str, Any], s3: Any, files: list[str], chunk_rows: int, mode: str):  # type: ignore[no-untyped-def]
    if mode == "analysis":
        yield from capture.iter_input_frames(s3, files, chunk_rows)
        return
    dataset = spec["dataset"]
    for key in files:
        yield from capture.read_table(s3, key, dataset.get("format", "csv"), bool(dataset.get("header")), chunk_rows)


def _merge_partials(
    spec: dict[str, Any], s3: Any, count: int, wait: bool, config: dict[str, Any] | None = None
) -> DatasetStatistics:
    uris = [s3io.join(spec["output_uri"], f"partials/shard-{i}.json") for i in range(count)]
    settings = config or {}
    deadline = time.monotonic() + float(settings.get("shard_wait_seconds", 1800))
    while wait and not all(s3io.exists(s3, uri) for uri in uris):
        if time.monotonic() > deadline:
            raise JobError("timed out waiting for the other shards' partial statistics")
        time.sleep(float(settings.get("shard_poll_seconds", 10)))
    merged: DatasetStatistics | None = None
    for uri in uris:
        if not s3io.exists(s3, uri):
            raise JobError(f"partial statistics {uri} are missing")
        partial = DatasetStatistics.from_report(s3io.read_json(s3, uri))
        if merged is None:
            merged = partial
        else:
            merged.merge(partial)
    assert merged is not None
    return merged


# -- model quality ------------------------------------------------------------------------------------------------


def _predictions(values: list[Any], scores: list[Any], config: dict[str, Any], problem: str):  # type: ignore[no-untyped-def]
    """Predicted labels (and scores for AUC) from an inference attribute or a probability and its threshold."""
    threshold = config.get("probability_threshold_attribute")
    score_array = np.asarray(scores, dtype=float) if scores and scores[0] is not None else None
    if values and values[0] is not None:
        predicted = np.asarray(values, dtype=float if problem == model_quality.REGRESSION else object)
    elif score_array is not None:
        cut = float(threshold) if threshold not in (None, "") else 0.5
        predicted = (score_array >= cut).astype(int)
    else:
        raise JobError("model quality needs inference_attribute or probability_attribute")
    return predicted, score_array


def _normalize(labels: np.ndarray, problem: str) -> np.ndarray:
    if problem == model_quality.REGRESSION:
        return labels.astype(float)
    numbers = pd.to_numeric(pd.Series(labels), errors="coerce")
    if numbers.notna().all():
        return numbers.to_numpy(float).astype(int) if (numbers % 1 == 0).all() else numbers.to_numpy(float)
    return pd.Series(labels).astype(str).to_numpy()


def _model_quality(spec: dict[str, Any], s3: Any) -> dict[str, Any]:
    config = _config(spec)
    problem = str(config.get("problem_type", ""))
    if problem not in model_quality.SECTIONS:
        raise JobError(f"config.problem_type must be one of {sorted(model_quality.SECTIONS)}")
    if spec["mode"] == "baseline":
        frame = _dataset(spec, s3, config)
        truth_column = config.get("ground_truth_attribute")
        if truth_column in (None, ""):
            raise JobError("a model quality baseline needs config.ground_truth_attribute")
        actual = frame[_column(frame, truth_column)].to_numpy()
        values = _optional_column(frame, config.get("inference_attribute"))
        scores = _optional_column(frame, config.get("probability_attribute"))
    else:
        joined = _joined(spec, s3, config)
        if joined is None:
            return _no_capture(spec)
        actual = np.asarray([label for _, label in joined])
        outputs = [output for output, _ in joined]
        values = (
            [_pick(o, config.get("inference_attribute")) for o in outputs]
            if config.get("inference_attribute") not in (None, "") or not config.get("probability_attribute")
            else [None]
        )
        scores = (
            [_pick(o, config.get("probability_attribute")) for o in outputs]
            if config.get("probability_attribute") not in (None, "")
            else [None]
        )
    predicted, score_array = _predictions(list(values), list(scores), config, problem)
    actual = _normalize(actual, problem)
    predicted = _normalize(predicted, problem)
    statistics = model_quality.compute(problem, actual, predicted, score_array)
    reports = {"statistics": s3io.write_json(s3, _report_uri(spec, "statistics.json"), statistics)}
    if spec["mode"] == "baseline":
        constraints = model_quality.suggest_constraints(problem, statistics)
        reports["constraints"] = s3io.write_json(s3, _report_uri(spec, "constraints.json"), constraints)
        return result("Completed", f"Baseline of {len(actual)} rows", reports=reports, rows=len(actual))
    baseline_constraints = s3io.read_json(s3, spec["baseline"]["constraints_uri"])
    found = model_quality.violations(problem, statistics, baseline_constraints)
    return _finish(spec, s3, found, reports, len(actual))


def _pick(output: Any, attribute: Any) -> Any:
    value = capture.select(output, attribute)
    return value


def _dataset(spec: dict[str, Any], s3: Any, config: dict[str, Any]) -> pd.DataFrame:
    dataset = spec.get("dataset") or {}
    if "uri" not in dataset:
        raise JobError("a baseline needs dataset.uri")
    chunk_rows = int(config.get("chunk_rows", CHUNK_ROWS))
    frames = list(
        capture.read_table(s3, dataset["uri"], dataset.get("format", "csv"), bool(dataset.get("header")), chunk_rows)
    )
    if not frames:
        raise JobError(f"no baseline dataset under {dataset['uri']}")
    return pd.concat(frames, ignore_index=True)


def _column(frame: pd.DataFrame, attribute: Any) -> Any:
    if attribute in frame.columns:
        return attribute
    text = str(attribute)
    if text.isdigit() and int(text) < frame.shape[1]:
        return frame.columns[int(text)]
    raise JobError(f"column {attribute!r} is not in the dataset ({list(frame.columns)})")


def _optional_column(frame: pd.DataFrame, attribute: Any) -> list[Any]:
    if attribute in (None, ""):
        return [None]
    return frame[_column(frame, attribute)].tolist()


def _joined(spec: dict[str, Any], s3: Any, config: dict[str, Any], with_features: bool = False) -> Any:
    """Captured outputs (and inputs) joined with their ground-truth labels; None when there is no capture."""
    files = _capture_files(spec, s3)
    if not files:
        return None
    truth = spec.get("ground_truth") or {}
    if "uri" not in truth:
        raise JobError("this analysis needs ground_truth.uri")
    window = spec["capture"]
    end = capture.parse_time(window["end"]) + pd.Timedelta(hours=int(truth.get("lookahead_hours", 24)))
    labels = capture.read_ground_truth(s3, capture.window_files(s3, truth["uri"], window["start"], end.isoformat()))
    joined = []
    for inference in capture.iter_inferences(s3, files):
        if inference.key in labels:
            item = (inference.output, labels[inference.key])
            joined.append((*item, inference.features) if with_features else item)
    if not joined:
        raise JobError(f"none of the captured inferences has a ground-truth label under {truth['uri']}")
    return joined


# -- bias ---------------------------------------------------------------------------------------------------------


def _feature_frame(rows: list[Any], headers: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame([row if isinstance(row, (list, dict)) else [row] for row in rows])
    if headers and all(isinstance(column, int) for column in frame.columns):
        frame.columns = [headers[i] if i < len(headers) else f"_c{i}" for i in range(frame.shape[1])]
    return frame.apply(_numeric_if_possible)


def _numeric_if_possible(column: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(column, errors="coerce")
    return numbers if numbers.notna().sum() == column.notna().sum() else column


def _predicted_labels(outputs: list[Any], config: dict[str, Any]) -> list[Any]:
    if config.get("probability_attribute") not in (None, "") or config.get("probability_threshold_attribute"):
        cut = float(config.get("probability_threshold_attribute") or config.get("probability_threshold") or 0.5)
        scores = [float(_pick(o, config.get("probability_attribute"))) for o in outputs]
        positive = config["label_values_or_threshold"][0]
        negative = "0" if str(positive) != "0" else "1"
        return [positive if score >= cut else negative for score in scores]
    return [_pick(o, config.get("inference_attribute")) for o in outputs]


def _model_bias(spec: dict[str, Any], s3: Any, runtime: Any) -> dict[str, Any]:
    config = _config(spec)
    for key in ("facet_name", "facet_values_or_threshold", "label_values_or_threshold"):
        if key not in config:
            raise JobError(f"a bias job needs config.{key}")
    if spec["mode"] == "baseline":
        dataset = _dataset(spec, s3, config)
        label_column = _column(dataset, config.get("label", 0))
        frame = dataset.drop(columns=[label_column])
        predicted_column = config.get("predicted_label")
        if predicted_column not in (None, ""):
            frame = frame.drop(columns=[_column(frame, predicted_column)])
        features = list(frame.columns)
        frame = frame.assign(label=dataset[label_column].to_numpy())
        if predicted_column not in (None, ""):
            frame["predicted_label"] = dataset[_column(dataset, predicted_column)].to_numpy()
        elif spec.get("predictor"):
            scores = _predictor(spec, runtime, config)(dataset[features].to_numpy(float))
            cut = float(config.get("probability_threshold_attribute") or config.get("probability_threshold") or 0.5)
            frame["predicted_label"] = np.where(scores >= cut, config["label_values_or_threshold"][0], -1)
        config.setdefault("label", str(label_column))
    else:
        joined = _joined(spec, s3, config, with_features=True)
        if joined is None:
            return _no_capture(spec)
        headers = list(config.get("headers") or [])
        frame = _feature_frame([features for _, _, features in joined], headers)
        features = list(frame.columns)
        frame["label"] = [label for _, label, _ in joined]
        frame["predicted_label"] = _predicted_labels([output for output, _, _ in joined], config)
    if config["facet_name"] not in frame:
        raise JobError(f"facet {config['facet_name']!r} is not a feature ({features})")
    report = bias.analysis(frame, config, features)
    reports = {"analysis": s3io.write_json(s3, _report_uri(spec, "analysis.json"), report)}
    if spec["mode"] == "baseline":
        return result("Completed", f"Baseline of {len(frame)} rows", reports=reports, rows=len(frame))
    baseline = s3io.read_json(s3, _baseline_analysis_uri(spec))
    found = bias.drift_violations(report, baseline, float(config.get("bias_drift_tolerance", 0.0)))
    return _finish(spec, s3, found, reports, len(frame))


def _baseline_analysis_uri(spec: dict[str, Any]) -> str:
    baseline = spec.get("baseline") or {}
    uri = baseline.get("analysis_uri") or baseline.get("constraints_uri")
    if not uri:
        raise JobError("an analysis needs baseline.analysis_uri (the baseline's analysis.json)")
    return str(uri)


def _predictor(spec: dict[str, Any], runtime: Any, config: dict[str, Any]):  # type: ignore[no-untyped-def]
    endpoint = (spec.get("predictor") or {}).get("endpoint_name")
    if not endpoint:
        raise JobError("this job needs predictor.endpoint_name")
    if runtime is None:
        import boto3

        runtime = boto3.client("sagemaker-runtime")
    return explainability.endpoint_predictor(runtime, endpoint, config.get("model_scores"))


# -- explainability -----------------------------------------------------------------------------------------------


def _model_explainability(spec: dict[str, Any], s3: Any, runtime: Any) -> dict[str, Any]:
    config = _config(spec)
    predict = _predictor(spec, runtime, config)
    shap_config = config.get("shap_config") or {}
    if spec["mode"] == "baseline":
        dataset = _dataset(spec, s3, config)
        if config.get("label") not in (None, ""):
            dataset = dataset.drop(columns=[_column(dataset, config["label"])])
        rows = dataset.apply(_numeric_if_possible)
    else:
        files = _capture_files(spec, s3)
        if not files:
            return _no_capture(spec)
        chunk_rows = int(config.get("chunk_rows", CHUNK_ROWS))
        limit = int(config.get("max_rows", explainability.MAX_ROWS)) * 50
        frames, seen = [], 0
        for frame in capture.iter_input_frames(s3, files, min(chunk_rows, limit)):
            frames.append(frame)
            seen += len(frame)
            if seen >= limit:
                break
        rows = pd.concat(frames, ignore_index=True).apply(_numeric_if_possible)
        headers = list(config.get("headers") or [])
        if headers and all(isinstance(column, int) for column in rows.columns):
            rows.columns = [headers[i] if i < len(headers) else f"_c{i}" for i in range(rows.shape[1])]
    background_uri = shap_config.get("baseline")
    if isinstance(background_uri, str) and background_uri.startswith("s3://"):
        background = pd.concat(list(capture.read_table(s3, background_uri, "csv", False, CHUNK_ROWS)))
        background.columns = list(rows.columns)
    else:
        background = rows
    report = explainability.global_attributions(predict, background, rows, config)
    reports = {"analysis": s3io.write_json(s3, _report_uri(spec, "analysis.json"), report)}
    if spec["mode"] == "baseline":
        return result("Completed", f"Baseline of {len(rows)} rows", reports=reports, rows=len(rows))
    baseline = s3io.read_json(s3, _baseline_analysis_uri(spec))
    threshold = float(config.get("attribution_drift_threshold", explainability.NDCG_THRESHOLD))
    found = explainability.drift_violations(report, baseline, threshold)
    return _finish(spec, s3, found, reports, len(rows))


# -- entry point --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m monitoring_engine.job", description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--spec", help="s3:// URI of the spec JSON")
    source.add_argument("--spec-file", help="path of the spec JSON")
    args = parser.parse_args(argv)
    import boto3

    s3 = boto3.client("s3")
    spec = s3io.read_json(s3, args.spec) if args.spec else json.loads(Path(args.spec_file).read_text())
    outcome = run_job(spec, s3)
    print(json.dumps(outcome, indent=2, default=_default))
    return 1 if outcome["status"] == "Failed" else 0


def _default(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    raise TypeError(f"cannot serialize {type(value).__name__}")


if __name__ == "__main__":
    sys.exit(main())
