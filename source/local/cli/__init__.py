# SPDX-License-Identifier: Apache-2.0
"""`mlops`: the command line of the orchestrator.

`validate` and `plan` work offline, without AWS credentials, on the same JSON as an API body or an
mlops-config.json file. The other commands call the API: local mode by default, or a deployed API Gateway
(`--endpoint`), whose requests are signed with SigV4 from the standard AWS credential chain.
`mlops local` runs the whole orchestrator on this machine.

The package's rooms: `parser` (commands and options), `commands` (what each does), `answers` and `watch`
(reading requests, turning answers into output and exit codes, following a pipeline), `renderers` (human
output) and `process` (running local mode). Exit codes are listed in `exits`.
"""

from __future__ import annotations

import os
import sys
import traceback
import urllib.error
from pathlib import Path

from .answers import RequestUnreadable, print_invalid
from .exits import (
    EXIT_CONFLICT,
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_MONITOR_ALERT,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_TRY_AGAIN,
)
from .parser import build_parser

__all__ = [
    "EXIT_CONFLICT",
    "EXIT_FAILED",
    "EXIT_INVALID",
    "EXIT_MONITOR_ALERT",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_TRY_AGAIN",
    "build_parser",
    "main",
]


def _output_closed() -> bool:
    """Whether standard output is a pipe its reader has closed; if so, it is pointed at /dev/null, so that
    Python's own flush at exit does not complain again."""
    try:
        sys.stdout.flush()
        return False
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return True


def main(argv: list[str] | None = None) -> int:
    from botocore.exceptions import ClientError

    from lambdas.shared.errors import BadRequest

    args = build_parser().parse_args(argv)
    found = getattr(args, "find_endpoint", False) and args.endpoint is None
    if found:
        from local.api_client import DEFAULT_ENDPOINT

        from .process import find_local_endpoint

        args.endpoint = find_local_endpoint(DEFAULT_ENDPOINT)
    try:
        return args.run(args)
    except BadRequest as error:
        return print_invalid(args, error)
    except BrokenPipeError as error:
        # The reader of the output went away (`mlops list | head -1`): nothing to say. A print() fails in a frame
        # of this package; a broken connection to the API fails deeper, in the HTTP client.
        frames = traceback.extract_tb(error.__traceback__)
        if _output_closed() or (frames and Path(frames[-1].filename).parent == Path(__file__).parent):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_OK
        print(f"error: cannot reach the API at {getattr(args, 'endpoint', '')}: {error}", file=sys.stderr)
        return EXIT_FAILED
    except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
        hint = (
            " (is `mlops local` running? One on another port or state directory: name its API with --endpoint or "
            "MLOPS_ENDPOINT, or its state directory with MLOPS_STATE_DIR)"
            if found
            else ""
        )
        print(f"error: cannot reach the API at {getattr(args, 'endpoint', '')}: {error}{hint}", file=sys.stderr)
        return EXIT_FAILED
    except RequestUnreadable as error:
        print(f"error: cannot read request: {error}", file=sys.stderr)
        return EXIT_INVALID
    except (OSError, PermissionError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except ClientError as error:  # a call to AWS made by the CLI itself (logs, upload)
        print(f"error: {error}", file=sys.stderr)
        return (
            EXIT_NOT_FOUND if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404 else EXIT_FAILED
        )
