# SPDX-License-Identifier: Apache-2.0
"""The data perimeter of a request: the buckets, keys, topics, model packages and images it names stay inside the
orchestrator's accounts and the operator's allow-lists.

A field's rule says what its value reaches (`Rule.reaches`); this module judges the value against the settings.
The templates' grants hold the same line at run time (`s3:ResourceAccount` on request-chosen locations), so a
value that passes here cannot be widened there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from . import images
from .settings import Settings
from .spec import Field

ACCOUNT = re.compile(r"[0-9]{12}")
_IMAGE = re.compile(
    r"(?P<account>[0-9]{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/(?P<repository>[^:@]+)[:@].*"
)
_REPOSITORY_ARN = re.compile(
    r"arn:aws[a-z-]*:ecr:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):repository/(?P<name>.+)"
)


def problems(fields: Iterable[Field], values: Mapping[str, Any], settings: Settings) -> list[tuple[str, str]]:
    """(field, message) for each value of one stage that leaves the perimeter."""
    found = []
    for spec in fields:
        value = values.get(spec.name)
        kind = spec.rule.reaches
        if not kind or not isinstance(value, str) or not value:
            continue
        problem = JUDGES[kind](value, settings)
        if problem:
            found.append((spec.name, problem))
    return found


def _knows_accounts(settings: Settings) -> bool:
    # Offline (mlops validate without an account) the accounts are placeholders: nothing to compare with.
    return bool(ACCOUNT.fullmatch(settings.account_id))


def _outside_accounts(what: str, account: str, settings: Settings) -> str | None:
    if not _knows_accounts(settings) or account in settings.accounts():
        return None
    where = "the orchestrator's account" + (" or its stage accounts" if settings.stage_targets else "")
    return (
        f"must be {what} of {where} ({', '.join(settings.accounts())}); account {account} is outside the "
        "orchestrator's data perimeter"
    )


def _arn_account(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""


def _kms_key(value: str, settings: Settings) -> str | None:
    return _outside_accounts("a KMS key", _arn_account(value), settings)


def _sns_topic(value: str, settings: Settings) -> str | None:
    return _outside_accounts("an SNS topic", _arn_account(value), settings)


def _model_package(value: str, settings: Settings) -> str | None:
    return _outside_accounts("a model package", _arn_account(value), settings)


def _bucket(value: str, settings: Settings) -> str | None:
    """A `bucket/prefix` location: any bucket unless the operator listed some (AllowedDataBuckets); the account
    the bucket lives in is the grants' `s3:ResourceAccount` condition, which no request can name."""
    allowed = settings.allowed_data_buckets
    bucket = value.split("/", 1)[0]
    if not allowed or bucket in allowed or bucket == settings.assets_bucket:
        return None
    return (
        f"names the bucket '{bucket}', which is not one of the orchestrator's data buckets "
        f"(AllowedDataBuckets: {', '.join(allowed)}, and the assets bucket)"
    )


def _repository(entry: str, settings: Settings) -> tuple[str, str, str]:
    """An AllowedImageRepositories entry as (account, region, name): a name of this account and region, a
    repository URI (<account>.dkr.ecr.<region>.amazonaws.com/<name>) or a repository ARN."""
    arn = _REPOSITORY_ARN.fullmatch(entry)
    if arn:
        return arn["account"], arn["region"], arn["name"]
    uri = _IMAGE.fullmatch(entry + ":")
    if uri:
        return uri["account"], uri["region"], uri["repository"]
    return settings.account_id, settings.region, entry


def _image(value: str, settings: Settings) -> str | None:
    """An image from the orchestrator's repository, one the operator lists, or AWS's own image accounts."""
    match = _IMAGE.fullmatch(value)
    if not match or not _knows_accounts(settings):
        return None  # the URI's shape is the rule's; offline there is no account to compare with
    found = (match["account"], match["region"], match["repository"])
    own = (settings.account_id, settings.region, settings.ecr_repo_name)
    listed = {_repository(entry, settings) for entry in settings.allowed_image_repositories}
    if found == own or found in listed:
        return None
    if match["region"] == settings.region and match["account"] in images.aws_image_accounts(settings.region):
        return None
    own_uri = f"{settings.account_id}.dkr.ecr.{settings.region}.amazonaws.com/{settings.ecr_repo_name}"
    allowed = ", ".join([own_uri, *settings.allowed_image_repositories])
    return (
        f"must be an image of the orchestrator's repository ({allowed}; AllowedImageRepositories adds others) or of "
        f"AWS's SageMaker image accounts in {settings.region}; repository {match['repository']} of account "
        f"{match['account']} in {match['region']} is outside the orchestrator's data perimeter"
    )


JUDGES = {
    "bucket": _bucket,
    "kms_key": _kms_key,
    "sns_topic": _sns_topic,
    "model_package": _model_package,
    "image": _image,
}
