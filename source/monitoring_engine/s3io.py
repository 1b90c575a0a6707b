# SPDX-License-Identifier: Apache-2.0
"""S3 locations: parse `s3://` URIs, list keys, stream lines, read and write JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any


def split_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/key` -> (bucket, key)."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def join(prefix_uri: str, name: str) -> str:
    return prefix_uri.rstrip("/") + "/" + name


def list_keys(s3: Any, uri: str) -> list[str]:
    """Every key under a prefix (or the key itself), sorted, as s3:// URIs."""
    bucket, prefix = split_uri(uri)
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", []) if not item["Key"].endswith("/"))
    return [f"s3://{bucket}/{key}" for key in sorted(keys)]


def iter_lines(s3: Any, uri: str) -> Iterator[str]:
    """The lines of an object, streamed (the object is never held whole in memory)."""
    bucket, key = split_uri(uri)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    for line in body.iter_lines(chunk_size=1 << 20):
        text = line.decode("utf-8")
        if text.strip():
            yield text


def read_json(s3: Any, uri: str) -> Any:
    bucket, key = split_uri(uri)
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def write_json(s3: Any, uri: str, document: Any) -> str:
    bucket, key = split_uri(uri)
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(document, indent=2).encode(), ContentType="application/json")
    return uri


def exists(s3: Any, uri: str) -> bool:
    bucket, key = split_uri(uri)
    return bool(s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("KeyCount"))
