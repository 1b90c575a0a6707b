# SPDX-License-Identifier: Apache-2.0
"""Value rules for request fields. Each rule normalizes a value or says, in one sentence, what is wrong.

A rule also describes itself as a JSON Schema fragment, so the published schema and the checks that run
are the same objects.
"""

from __future__ import annotations

import ipaddress
import re
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

# Unknown keys inside objects, noted as (path, message) while a lenient validation runs; None when strict
# (then an unknown key is a broken rule, as at the top level).
IGNORED_KEYS: ContextVar[list[tuple[str, str]] | None] = ContextVar("ignored_keys", default=None)


# ---------------------------------------------------------------------------------------------------------
# Locations no request may name: what the orchestrator and CodePipeline write, which its stages deploy.
PROVISIONED_PREFIX = "mlops_provisioned_pipelines"  # each pipeline's template.zip and request.json
BLUEPRINTS_PREFIX = "blueprints"  # the templates the orchestrator creates stacks from
# CodePipeline keeps a pipeline's artifacts under the first 20 characters of its name (pipelines created before
# the orchestrator had an artifact bucket keep them in the assets bucket).
ARTIFACTS_PREFIX = "mlops-pipeline"
RESERVED_KEY_PREFIXES = (f"{PROVISIONED_PREFIX}/", f"{BLUEPRINTS_PREFIX}/", ARTIFACTS_PREFIX)
# IAM matches `*` and `?` in a resource ARN as wildcards and expands `${...}` as a policy variable
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html): a location
# holding one would grant far more than the location.
POLICY_WILDCARDS = ("*", "?", "${")


@dataclass(frozen=True)
class ReservedLocations:
    """The orchestrator's own buckets, set while a request is validated; unknown (empty) otherwise."""

    assets_bucket: str = ""
    reserved_buckets: tuple[str, ...] = ()  # buckets no request may name at all (artifacts, blueprints)

    def problem(self, bucket: str, key: str) -> str | None:
        """Why the location `bucket/key` (bucket "": a key of the assets bucket), which a role may be granted as a
        prefix (`<location>*`), reaches what the orchestrator or CodePipeline write; None when it does not."""
        for name in self.reserved_buckets:
            if name and (bucket == name or (bucket and not key and name.startswith(bucket))):
                return f"must not be in the orchestrator's bucket {name}, which its pipelines deploy from"
        if bucket and bucket != self.assets_bucket:
            if not key and self.assets_bucket.startswith(bucket):
                return f"must not cover the orchestrator's assets bucket {self.assets_bucket}"
            return None
        for prefix in RESERVED_KEY_PREFIXES:
            if key.startswith(prefix) or prefix.startswith(key):
                where = f"{bucket}/{prefix}" if bucket else prefix
                return f"must not be in or cover {where}, which only the orchestrator and its pipelines write"
        return None


RESERVED_LOCATIONS: ContextVar[ReservedLocations | None] = ContextVar("reserved_locations", default=None)


def _reserved_problem(bucket: str, key: str) -> str | None:
    return (RESERVED_LOCATIONS.get() or ReservedLocations()).problem(bucket, key)


class RuleBroken(ValueError):
    """Raised by a rule with a message naming the rule that was broken.

    A rule over a nested value (an object, a list) lists each problem with its path inside the value, so the
    caller can report `field.key[0].name` rather than one long sentence.
    """

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [("", message)]


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


@dataclass(eq=False, repr=False)
class Rule:
    """Base: accepts any value. `allow_empty` lets "" (and null) through as "".

    `reaches` names what a value points at outside the request (perimeter.py checks it against the
    orchestrator's accounts and allow-lists): "bucket", "kms_key", "sns_topic", "model_package" or "image".
    """

    allow_empty: bool = field(default=False, kw_only=True)
    reaches: str = field(default="", kw_only=True)

    def check(self, value: Any) -> Any:
        if _is_blank(value):
            if self.allow_empty:
                return ""
            raise RuleBroken("must not be empty")
        return self.normalize(value)

    def normalize(self, value: Any) -> Any:
        return value

    def schema(self) -> dict[str, Any]:
        return {}


def _text(value: Any, what: str = "a string") -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise RuleBroken(f"must be {what}, got {type(value).__name__}")
    return str(value).strip()


@dataclass(eq=False, repr=False)
class Text(Rule):
    """Free text with optional length bounds and pattern."""

    min_len: int = 1
    max_len: int = 1024
    pattern: str | None = None
    pattern_hint: str = ""
    lower: bool = False
    numbers_ok: bool = True

    def normalize(self, value: Any) -> Any:
        if not self.numbers_ok and not isinstance(value, str):
            raise RuleBroken(f"must be a string, got {type(value).__name__}")
        text = _text(value)
        if self.lower:
            text = text.lower()
        if not self.min_len <= len(text) <= self.max_len:
            raise RuleBroken(f"must be {self.min_len} to {self.max_len} characters long, got {len(text)}")
        # ASCII, as the published schema's ECMA-262 patterns: \d takes no Arabic-Indic digit, \w no accented letter.
        if self.pattern and not re.fullmatch(self.pattern, text, re.ASCII):
            raise RuleBroken(self.pattern_hint or f"must match {self.pattern}")
        return text

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "string", "maxLength": self.max_len}
        if self.pattern:
            out["pattern"] = f"^{self.pattern}$"
        return out


# A SageMaker/CloudFormation-safe name: letters, digits and single hyphens inside.
NAME_PATTERN = r"[a-zA-Z0-9](-*[a-zA-Z0-9])*"


@dataclass(eq=False, repr=False)
class Name(Text):
    """A name that ends up inside stack, job and SageMaker resource names."""

    pattern: str | None = NAME_PATTERN
    pattern_hint: str = "may hold only letters, digits and hyphens, and must start and end with a letter or digit"
    numbers_ok: bool = False


# Common SageMaker instance families and the sizes instance types come in, for "did you mean" hints. A family
# missing here is still accepted (new ones appear often); a size must be one SageMaker has.
INSTANCE_FAMILIES = (
    "t2", "t3", "m4", "m5", "m5d", "m6i", "m6g", "m7i", "c4", "c5", "c5d", "c6i", "c6g", "c7i", "r5", "r5d",
    "r6i", "r6g", "r7i", "p2", "p3", "p4d", "p5", "g4dn", "g5", "g6", "inf1", "inf2", "trn1",
)  # fmt: skip
INSTANCE_SIZE = r"nano|micro|small|medium|large|xlarge|\d+xlarge|metal(-\d+xl)?"
_COMMON_SIZES = ("medium", "large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge")


def _closest_instance_type(text: str) -> str:
    """The known instance type nearest to `text` ('ml.m5.lage' -> 'ml.m5.large'), or ""."""
    import difflib  # only on the error path

    parts = re.split(r"[.\-_ ]+", text.lower().removeprefix("ml").strip(".-_ "))
    family = difflib.get_close_matches(parts[0], INSTANCE_FAMILIES, n=1, cutoff=0.5) if parts else []
    size = difflib.get_close_matches(parts[-1], _COMMON_SIZES, n=1, cutoff=0.5) if len(parts) > 1 else []
    if not family or not size:
        return ""
    guess = f"ml.{family[0]}.{size[0]}"
    return "" if guess == text else guess


@dataclass(eq=False, repr=False)
class InstanceType(Text):
    pattern: str | None = rf"ml\.[a-z0-9]+\.({INSTANCE_SIZE})"
    pattern_hint: str = "must be a SageMaker instance type such as ml.m5.large"
    numbers_ok: bool = False
    max_len: int = 64

    def normalize(self, value: Any) -> Any:
        try:
            return super().normalize(value)
        except RuleBroken as broken:
            guess = _closest_instance_type(value) if isinstance(value, str) else ""
            if not guess:
                raise
            raise RuleBroken(f"{broken}; did you mean '{guess}'?") from None


BUCKET_PATTERN = r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"


def bucket_name_problem(bucket: str) -> str | None:
    """The first S3 bucket-naming rule `bucket` breaks, or None."""
    if not 3 <= len(bucket) <= 63:
        return f"bucket name '{bucket}' must be 3 to 63 characters long"
    if not re.fullmatch(BUCKET_PATTERN, bucket):
        return (
            f"bucket name '{bucket}' may hold only lower-case letters, digits, dots and hyphens, "
            "and must start and end with a letter or digit"
        )
    if ".." in bucket or ".-" in bucket or "-." in bucket:
        return f"bucket name '{bucket}' must not hold '..', '.-' or '-.'"
    try:
        ipaddress.ip_address(bucket)
        return f"bucket name '{bucket}' must not be an IP address"
    except ValueError:
        pass
    if bucket.startswith(("xn--", "sthree-", "amzn-s3-demo-")) or bucket.endswith(("-s3alias", "--ol-s3")):
        return f"bucket name '{bucket}' uses a prefix or suffix that S3 reserves"
    return None


def _path_problems(path: str) -> str | None:
    if path.startswith("s3://"):
        return "must be given without the s3:// prefix"
    if ".." in path.split("/"):
        return "must not contain a '..' path segment"
    if "//" in path:
        return "must not contain an empty path segment ('//')"
    if any(ord(c) < 32 for c in path):
        return "must not contain control characters"
    if any(mark in path for mark in POLICY_WILDCARDS):
        return "must not hold IAM wildcards or policy variables ('*', '?', '${')"
    return None


@dataclass(eq=False, repr=False)
class AssetKey(Rule):
    """The key of an object (or prefix) in the orchestrator's assets bucket."""

    max_len: int = 1024

    def normalize(self, value: Any) -> Any:
        key = _text(value)
        problem = _path_problems(key)
        if problem:
            raise RuleBroken(problem)
        if key.startswith("/"):
            raise RuleBroken("must be a key in the assets bucket, without a leading '/'")
        if len(key) > self.max_len:
            raise RuleBroken(f"must be at most {self.max_len} characters long, got {len(key)}")
        problem = _reserved_problem("", key)
        if problem:
            raise RuleBroken(problem)
        return key

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "maxLength": self.max_len, "description": "key in the assets bucket"}


@dataclass(eq=False, repr=False)
class BucketPath(Rule):
    """`bucket/prefix` (no s3:// prefix): the first segment must be a legal bucket name."""

    reaches: str = field(default="bucket", kw_only=True)

    def normalize(self, value: Any) -> Any:
        path = _text(value).rstrip("/")
        problem = _path_problems(path)
        if problem:
            raise RuleBroken(problem)
        problem = bucket_name_problem(path.split("/", 1)[0])
        if problem:
            raise RuleBroken(problem)
        if len(path) > 1024:
            raise RuleBroken(f"must be at most 1024 characters long, got {len(path)}")
        bucket, _, key = path.partition("/")
        problem = _reserved_problem(bucket, key)
        if problem:
            raise RuleBroken(problem)
        return path

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "maxLength": 1024, "description": "bucket/prefix, without s3://"}


_CRON_FIELD = re.compile(r"[0-9A-Za-z*?/,#L-]+")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# (name, lowest, highest, names standing for numbers from 1) of each field, in order.
_CRON_FIELDS = (
    ("minutes", 0, 59, ()),
    ("hours", 0, 23, ()),
    ("day-of-month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 1, 7, _WEEKDAYS),
    ("year", 1970, 2199, ()),
)


def _cron_value(text: str, low: int, high: int, names: tuple[str, ...]) -> int | None:
    if text.upper() in names:
        return names.index(text.upper()) + 1
    if text.isdigit() and low <= int(text) <= high:
        return int(text)
    return None


def _cron_item_ok(item: str, position: int) -> bool:
    """One comma-separated item of a cron field: *, ?, a value, a range, a step, or L/W/# where allowed."""
    _, low, high, names = _CRON_FIELDS[position]
    if item in ("*", "?"):
        return item == "*" or position in (2, 4)
    if position == 2 and (item in ("L", "LW") or (item.endswith("W") and _cron_value(item[:-1], 1, 31, ()))):
        return True
    if position == 4:
        if item == "L" or (item.endswith("L") and _cron_value(item[:-1], low, high, names)):
            return True
        day, hash_sign, nth = item.partition("#")
        if hash_sign:
            return _cron_value(day, low, high, names) is not None and nth in ("1", "2", "3", "4", "5")
    start, slash, step = item.partition("/")
    if slash and not (step.isdigit() and 1 <= int(step) <= high):
        return False
    if start == "*" and slash:
        return True
    first, dash, last = start.partition("-")
    if _cron_value(first, low, high, names) is None:
        return False
    return not dash or _cron_value(last, low, high, names) is not None


@dataclass(eq=False, repr=False)
class Cron(Rule):
    """An EventBridge-style cron expression with six fields, as SageMaker monitoring schedules take."""

    def normalize(self, value: Any) -> Any:
        text = _text(value)
        match = re.fullmatch(r"cron\((.*)\)", text)
        if not match:
            raise RuleBroken("must be a cron expression such as cron(0 * ? * * *)")
        fields = match.group(1).split()
        if len(fields) != 6:
            raise RuleBroken(f"must have 6 fields inside cron(...), got {len(fields)}")
        if not all(_CRON_FIELD.fullmatch(f) for f in fields):
            raise RuleBroken("holds characters a cron field does not allow")
        for position, (name, low, high, names) in enumerate(_CRON_FIELDS):
            if not all(_cron_item_ok(item, position) for item in fields[position].split(",")):
                allowed = f"{low}-{high}" + (f" or {names[0]}-{names[-1]}" if names else "")
                raise RuleBroken(f"{name} field '{fields[position]}' must hold values in {allowed}, *, ranges or steps")
        day_of_month, day_of_week = fields[2], fields[4]
        if "?" not in (day_of_month, day_of_week):
            raise RuleBroken("must use '?' in the day-of-month or the day-of-week field")
        return f"cron({' '.join(fields)})"

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": r"^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$"}


@dataclass(eq=False, repr=False)
class Pattern(Rule):
    """A string matching one regular expression (ARNs, image URIs); the hint explains the shape."""

    pattern: str = ".*"
    hint: str = ""

    def normalize(self, value: Any) -> Any:
        text = _text(value)
        if not re.fullmatch(self.pattern, text, re.ASCII):  # as the published schema: see Text
            raise RuleBroken(self.hint or f"must match {self.pattern}")
        return text

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": f"^{self.pattern}$"}


KMS_KEY_ARN = Pattern(
    pattern=r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[a-zA-Z0-9/_-]+",
    hint="must be a KMS key ARN such as arn:aws:kms:<region>:<account>:key/<key-id>",
    allow_empty=True,
    reaches="kms_key",
)
MODEL_PACKAGE_ARN = Pattern(
    pattern=r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}/\d+",
    hint="must be a model package version ARN: arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>",
    reaches="model_package",
)
ECR_IMAGE_URI = Pattern(
    pattern=r"\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9]+([._/-][a-z0-9]+)*(:[\w][\w.-]{0,127}|@sha256:[a-f0-9]{64})",
    hint="must be an ECR image URI such as <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>",
    reaches="image",
)
ECR_REPO_NAME = Pattern(
    pattern=r"(?=.{2,256}$)([a-z0-9]+([._-][a-z0-9]+)*/)*[a-z0-9]+([._-][a-z0-9]+)*",
    hint="must be an ECR repository name: lower-case letters, digits and . _ - / separators, 2 to 256 characters",
)


@dataclass(eq=False, repr=False)
class Choice(Rule):
    """One of a fixed set of values (exact spelling, as the CloudFormation parameter allows)."""

    values: tuple[str, ...] = ()

    def normalize(self, value: Any) -> Any:
        text = _text(value)
        if text not in self.values:
            raise RuleBroken(f"must be one of {', '.join(self.values)}; got '{text}'")
        return text

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": [*self.values, *([""] if self.allow_empty else [])]}


@dataclass(eq=False, repr=False)
class BoolText(Rule):
    """ "True"/"False" as the training blueprints take them; JSON booleans are accepted too."""

    def normalize(self, value: Any) -> Any:
        if isinstance(value, bool):
            return "True" if value else "False"
        text = _text(value)
        for canonical in ("True", "False"):
            if text.lower() == canonical.lower():
                return canonical
        raise RuleBroken(f'must be "True" or "False"; got \'{text}\'')

    def schema(self) -> dict[str, Any]:
        return {"oneOf": [{"type": "boolean"}, {"type": "string", "enum": ["True", "False"]}]}


@dataclass(eq=False, repr=False)
class Integer(Rule):
    """A whole number within bounds, given as a JSON number or a numeric string."""

    minimum: int = 0
    maximum: int = 2**31 - 1

    def normalize(self, value: Any) -> Any:
        if isinstance(value, bool):
            raise RuleBroken("must be a whole number, got a boolean")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*[+-]?[0-9]{1,30}\s*", value):  # ASCII digits, few
            value = int(value)
        if not isinstance(value, int):
            raise RuleBroken(f"must be a whole number; got {value!r}")
        if not self.minimum <= value <= self.maximum:
            raise RuleBroken(f"must be between {self.minimum} and {self.maximum}; got {value}")
        return value

    def schema(self) -> dict[str, Any]:
        number = {"type": "integer", "minimum": self.minimum, "maximum": self.maximum}
        return {"oneOf": [number, {"type": "string", "pattern": r"^\d+$"}]}


@dataclass(eq=False, repr=False)
class Fraction(Rule):
    """A number between 0 and 1 (probability thresholds), given as a number or a numeric string."""

    def normalize(self, value: Any) -> Any:
        if isinstance(value, bool):
            raise RuleBroken("must be a number between 0 and 1, got a boolean")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise RuleBroken(f"must be a number between 0 and 1; got {value!r}") from None
        if not 0.0 <= number <= 1.0:
            raise RuleBroken(f"must be between 0 and 1; got {number}")
        return str(value).strip()

    def schema(self) -> dict[str, Any]:
        return {"oneOf": [{"type": "number", "minimum": 0, "maximum": 1}, {"type": "string"}]}


@dataclass(eq=False, repr=False)
class Attribute(Rule):
    """A column name, index or JSONPath into a data set or endpoint payload."""

    keep_numbers: bool = False  # an index stays a JSON number (Clarify reads model_scores that way)

    def normalize(self, value: Any) -> Any:
        if self.keep_numbers and isinstance(value, int) and not isinstance(value, bool):
            return value
        text = _text(value, "a string (column name, index or JSONPath)")
        if len(text) > 256:
            raise RuleBroken(f"must be at most 256 characters long, got {len(text)}")
        return text

    def schema(self) -> dict[str, Any]:
        return {"oneOf": [{"type": "string", "maxLength": 256}, {"type": "integer"}]}


@dataclass(eq=False, repr=False)
class JsonObject(Rule):
    """A JSON object, re-serialized into one CloudFormation string parameter (at most 4096 bytes)."""

    max_bytes: int = 4096
    inner: tuple[Any, ...] = field(default=())  # extra checks: callables(obj) -> list[str] of problems

    def normalize(self, value: Any) -> Any:
        if not isinstance(value, dict):
            raise RuleBroken(f"must be a JSON object, got {type(value).__name__}")
        import json

        size = len(json.dumps(value, separators=(",", ":")))
        if size > self.max_bytes:
            raise RuleBroken(f"must serialize to at most {self.max_bytes} bytes, got {size}")
        problems = [p for check in self.inner for p in check(value)]
        if problems:
            raise RuleBroken("; ".join(problems))
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "object"}


def _join(path: str, inner: str) -> str:
    if not inner:
        return path
    return f"{path}{inner}" if inner.startswith("[") else f"{path}.{inner}"


def note_under(path: str, ignored: list[tuple[str, str]] | None, check: Any, item: Any) -> Any:
    """`check(item)`, with the ignored keys it notes placed under `path`."""
    start = len(ignored) if ignored is not None else 0
    try:
        return check(item)
    finally:
        if ignored is not None:
            ignored[start:] = [(_join(path, inner), message) for inner, message in ignored[start:]]


@dataclass(eq=False, repr=False)
class Number(Rule):
    """A JSON number (not a numeric string: the value goes into a JSON document, not a parameter)."""

    def normalize(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RuleBroken(f"must be a number, got {type(value).__name__}")
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "number"}


@dataclass(eq=False, repr=False)
class Struct(Rule):
    """A JSON object with known keys, each with its own rule; unknown keys and every broken rule are reported."""

    keys: tuple[tuple[str, Rule], ...] = ()
    required: tuple[str, ...] = ()
    checks: tuple[Any, ...] = ()  # callables(obj) -> list[(path, message)]: rules across keys
    doc: str = ""

    def normalize(self, value: Any) -> Any:
        if not isinstance(value, dict):
            raise RuleBroken(f"must be a JSON object, got {type(value).__name__}")
        rules = dict(self.keys)
        problems: list[tuple[str, str]] = [(key, "is required") for key in self.required if _is_blank(value.get(key))]
        result: dict[str, Any] = {}
        ignored = IGNORED_KEYS.get()
        for key, item in value.items():
            if key not in rules:
                unknown = f"is not a known key (known: {', '.join(rules)})"
                if ignored is None:
                    problems.append((key, unknown))
                else:
                    ignored.append((key, f"{unknown}; it was ignored"))
                continue
            if item is None:
                continue
            try:
                result[key] = note_under(key, ignored, rules[key].check, item)
            except RuleBroken as broken:
                problems += [(_join(key, inner), message) for inner, message in broken.problems]
        for check in self.checks:
            problems += check(value)
        if problems:
            raise RuleBroken("; ".join(f"{p}: {m}" if p else m for p, m in problems), problems)
        return result

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "object",
            "properties": {key: rule.schema() for key, rule in self.keys},
            "additionalProperties": False,
        }
        if self.required:
            out["required"] = list(self.required)
        if self.doc:
            out["description"] = self.doc
        return out


@dataclass(eq=False, repr=False)
class ListOf(Rule):
    """A JSON list whose items all follow one rule."""

    item: Rule = field(default_factory=Rule)
    max_items: int = 100
    min_items: int = 0

    def normalize(self, value: Any) -> Any:
        if not isinstance(value, list):
            raise RuleBroken(f"must be a JSON list, got {type(value).__name__}")
        if len(value) > self.max_items:
            raise RuleBroken(f"must hold at most {self.max_items} items, got {len(value)}")
        if len(value) < self.min_items:
            raise RuleBroken(f"must hold at least {self.min_items} item{'s' if self.min_items > 1 else ''}, got none")
        problems: list[tuple[str, str]] = []
        result = []
        ignored = IGNORED_KEYS.get()
        for index, item in enumerate(value):
            try:
                result.append(note_under(f"[{index}]", ignored, self.item.check, item))
            except RuleBroken as broken:
                problems += [(_join(f"[{index}]", inner), message) for inner, message in broken.problems]
        if problems:
            raise RuleBroken("; ".join(f"{p}: {m}" for p, m in problems), problems)
        return result

    def schema(self) -> dict[str, Any]:
        out = {"type": "array", "items": self.item.schema(), "maxItems": self.max_items}
        if self.min_items:
            out["minItems"] = self.min_items
        return out


@dataclass(eq=False, repr=False)
class Flag(Rule):
    """A JSON boolean, true or false (no strings: an approval's verdict is never guessed from text)."""

    def normalize(self, value: Any) -> Any:
        if not isinstance(value, bool):
            raise RuleBroken(f"must be true or false, got {type(value).__name__}")
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "boolean"}
