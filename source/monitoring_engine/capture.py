# SPDX-License-Identifier: Apache-2.0
"""An endpoint's data capture and ground truth, as SageMaker writes them, read in bounded chunks.

Capture layout and record (SageMaker Developer Guide, "Capture data" / "Data capture"):
`s3://<capture>/<endpoint>/<variant>/<yyyy>/<mm>/<dd>/<hh>/<file>.jsonl`, one JSON record a line:

    {"captureData": {"endpointInput":  {"observedContentType": "text/csv", "mode": "INPUT",
                                        "data": "1,2,3", "encoding": "CSV"},
                     "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT",
                                        "data": "0.7", "encoding": "CSV"}},
     "eventMetadata": {"eventId": "...", "inferenceId": "...", "inferenceTime": "..."},
     "eventVersion": "0"}

`encoding` is CSV, JSON or BASE64 (the payload base64-encoded; its `observedContentType` says what it decodes to).

Ground truth (SageMaker Developer Guide, "Ingest ground truth labels and merge them with predictions"):
`s3://<ground truth>/<yyyy>/<mm>/<dd>/<hh>/<file>.jsonl`, one record a line:

    {"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": "..."}, "eventVersion": "0"}

A prediction is joined with its label by the capture's `inferenceId` when it has one, else its `eventId`, matched
to the ground truth's `eventId` (the documented rule).
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pandas as pd

from . import s3io


def parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def hour_prefixes(uri: str, start: str, end: str) -> list[str]:
    """The `yyyy/mm/dd/hh/` prefixes of the hours that overlap [start, end)."""
    first, last = parse_time(start), parse_time(end)
    hour = first.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    prefixes = []
    while hour < last:
        prefixes.append(s3io.join(uri, hour.strftime("%Y/%m/%d/%H/")))
        hour += timedelta(hours=1)
    return prefixes


def window_files(s3: Any, uri: str, start: str, end: str) -> list[str]:
    """The capture (or ground-truth) files of the hours in [start, end), sorted.

    `uri` is the hours' parent (`<ground truth>/`, `<capture>/<endpoint>/<variant>/`) or an endpoint's capture
    (`<capture>/<endpoint>/`), whose hours are under each of its variants, as AWS writes them."""
    files: list[str] = []
    for parent in [uri, *variant_prefixes(s3, uri)]:
        for prefix in hour_prefixes(parent, start, end):
            files.extend(s3io.list_keys(s3, prefix))
    return sorted(files)


def variant_prefixes(s3: Any, uri: str) -> list[str]:
    """The folders under `uri` that are not years: an endpoint capture's variants."""
    bucket, prefix = s3io.split_uri(s3io.join(uri, ""))
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        for common in page.get("CommonPrefixes", []):
            name = common["Prefix"][len(prefix) :].rstrip("/")
            if name and not (len(name) == 4 and name.isdigit()):
                found.append(f"s3://{bucket}/{common['Prefix']}")
    return found


def decode(section: dict[str, Any]) -> tuple[str, str]:
    """A captured payload as text, and its kind ("csv" or "json"), from `data`/`encoding`/`observedContentType`."""
    data = str(section.get("data", ""))
    encoding = str(section.get("encoding", "")).upper()
    content_type = str(section.get("observedContentType", "")).lower()
    if encoding == "BASE64":
        data = base64.b64decode(data).decode("utf-8")
    elif encoding == "JSON":
        return data, "json"
    elif encoding == "CSV":
        return data, "csv"
    kind = "json" if "json" in content_type else "csv"
    return data, kind


def json_rows(text: str) -> list[Any]:
    """Rows of a JSON payload: a number or list is one row, a list of lists many; `instances`/`features` unwrap;
    an object of scalars is one named row."""
    value = json.loads(text)
    if isinstance(value, dict):
        for key in ("instances", "features", "inputs", "data"):
            if key in value:
                return json_rows(json.dumps(value[key]))
        return [value]
    if isinstance(value, list):
        if value and all(isinstance(item, (list, dict)) for item in value):
            return [item["features"] if isinstance(item, dict) and "features" in item else item for item in value]
        return [value]
    return [[value]]


def csv_rows(text: str) -> list[list[str]]:
    return [line.split(",") for line in text.splitlines() if line.strip()]


def payload_rows(text: str, kind: str) -> list[Any]:
    return json_rows(text) if kind == "json" else csv_rows(text)


def iter_records(s3: Any, files: Iterable[str]) -> Iterator[dict[str, Any]]:
    for uri in files:
        for line in s3io.iter_lines(s3, uri):
            yield json.loads(line)


def _csv_frame(texts: list[str]) -> pd.DataFrame:
    width = max(text.count(",") for text in texts) + 1
    buffer = io.StringIO("\n".join(texts))
    return pd.read_csv(buffer, header=None, names=list(range(width)), skip_blank_lines=True, low_memory=False)


def _json_frame(rows: list[Any]) -> pd.DataFrame:
    if rows and all(isinstance(row, dict) for row in rows):
        return pd.DataFrame.from_records(rows)
    return pd.DataFrame([row if isinstance(row, list) else [row] for row in rows])


def iter_input_frames(s3: Any, files: Iterable[str], chunk_rows: int) -> Iterator[pd.DataFrame]:
    """The captured requests (`endpointInput`) as DataFrames of at most about `chunk_rows` rows each.

    CSV payloads give positional columns 0..n-1; JSON objects give named columns. Memory holds one chunk at a time.
    """
    texts: list[str] = []
    rows: list[Any] = []
    pending = 0
    for record in iter_records(s3, files):
        section = record.get("captureData", {}).get("endpointInput")
        if not section:
            continue
        text, kind = decode(section)
        if kind == "csv":
            text = text.strip()
            if text:
                texts.append(text)
                pending += text.count("\n") + 1
        else:
            found = json_rows(text)
            rows.extend(found)
            pending += len(found)
        if pending >= chunk_rows:
            yield from _flush(texts, rows)
            texts, rows, pending = [], [], 0
    yield from _flush(texts, rows)


def _flush(texts: list[str], rows: list[Any]) -> Iterator[pd.DataFrame]:
    if texts:
        yield _csv_frame(texts)
    if rows:
        yield _json_frame(rows)


def read_table(s3: Any, uri: str, fmt: str, header: bool, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """A baseline dataset (a key or every key under a prefix), CSV or JSON Lines, in chunks."""
    for key in s3io.list_keys(s3, uri):
        bucket, name = s3io.split_uri(key)
        body = s3.get_object(Bucket=bucket, Key=name)["Body"]
        if fmt == "jsonl":
            yield from pd.read_json(body, lines=True, chunksize=chunk_rows)
        else:
            reader = pd.read_csv(body, header=0 if header else None, chunksize=chunk_rows, low_memory=False)
            for frame in reader:
                if not header:
                    frame.columns = list(range(frame.shape[1]))
                yield frame


@dataclass
class Inference:
    """One captured inference: its join key, its input row and its output payload."""

    key: str
    features: Any
    output: Any


def iter_inferences(s3: Any, files: Iterable[str]) -> Iterator[Inference]:
    """Each captured request with its response; a request of n rows with n outputs gives n inferences."""
    for record in iter_records(s3, files):
        data = record.get("captureData", {})
        meta = record.get("eventMetadata", {})
        key = str(meta.get("inferenceId") or meta.get("eventId") or "")
        inputs = payload_rows(*decode(data["endpointInput"])) if data.get("endpointInput") else [None]
        outputs = payload_rows(*decode(data["endpointOutput"])) if data.get("endpointOutput") else [None]
        if len(outputs) == 1 and len(inputs) == 1:
            yield Inference(key, inputs[0], outputs[0])
            continue
        for index, (row, output) in enumerate(zip(inputs, outputs)):
            yield Inference(f"{key}:{index}", row, output)


def read_ground_truth(s3: Any, files: Iterable[str]) -> dict[str, Any]:
    """eventId -> label (the first value of the ground-truth record's data)."""
    labels: dict[str, Any] = {}
    for record in iter_records(s3, files):
        section = record.get("groundTruthData", {})
        rows = payload_rows(*decode(section))
        key = str(record.get("eventMetadata", {}).get("eventId", ""))
        if len(rows) == 1:
            labels[key] = first_value(rows[0])
        else:
            for index, row in enumerate(rows):
                labels[f"{key}:{index}"] = first_value(row)
    return labels


def first_value(row: Any) -> Any:
    if isinstance(row, list):
        return row[0] if row else None
    if isinstance(row, dict):
        return next(iter(row.values()), None)
    return row


def select(value: Any, attribute: str | int | None) -> Any:
    """A value picked out of a row by index (`"0"`) or JSONPath-like path (`$.predictions[0].score`, `label`)."""
    if attribute is None or attribute == "":
        return first_value(value)
    text = str(attribute)
    if text.isdigit() and isinstance(value, list):
        return value[int(text)]
    current = value
    for part in text.removeprefix("$").strip(".").replace("[", ".").replace("]", "").split("."):
        if part == "":
            continue
        if isinstance(current, list):
            current = current[int(part)]
        elif isinstance(current, dict):
            current = current[part]
        else:
            raise KeyError(f"{attribute!r} does not select from {value!r}")
    return current
