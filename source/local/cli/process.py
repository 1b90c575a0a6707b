# SPDX-License-Identifier: Apache-2.0
"""Process control: `mlops local` (start, log routing, ports, stop on a signal) and an in-process acceptance run."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .exits import EXIT_FAILED, EXIT_INVALID, EXIT_OK

DEFAULT_STATE_DIR = Path.home() / ".mlops" / "local"


def cmd_local(args: argparse.Namespace) -> int:
    from local.emulator import Emulator
    from local.moto_version import MotoUnsuitable
    from local.persistence import StateDirInUse, StateUnusable
    from local.session import DEFAULT_TEMPLATES, LocalOrchestrator

    if args.git_source == "connection" and not args.git_repo:
        print("error: --git-source connection needs --git-repo, the repository it stands in for", file=sys.stderr)
        return EXIT_INVALID
    for port, flag in ((args.port, "--port"), (args.emulator_port, "--emulator-port")):
        if port and not port_is_free(port):
            print(
                f"error: port {port} on 127.0.0.1 is in use (another `mlops local`?): stop it or choose another "
                f"with {flag}",
                file=sys.stderr,
            )
            return EXIT_FAILED
    state_dir = None if args.in_memory else Path(args.state_dir).expanduser().resolve()
    log_file = quiet_terminal(state_dir)
    orchestrator = LocalOrchestrator(
        templates=Path(args.templates) if args.templates else DEFAULT_TEMPLATES,
        multi_account=args.multi_account,
        model_registry=args.model_registry,
        monitoring_engine=args.monitoring_engine.replace("-", "_"),
        port=args.port,
        git_repository=Path(args.git_repo).resolve() if args.git_repo else None,
        git_source=args.git_source,
        emulator=Emulator(port=args.emulator_port),
        state_dir=state_dir,
        reset=args.reset,
        admin_principal_arns=tuple(args.admin or ()),
        allow_self_approval=args.allow_self_approval,
    )
    try:
        url = orchestrator.start()
    except StateUnusable as error:
        print(
            f"error: {error}: start with the options it was made with, or with --reset to start afresh", file=sys.stderr
        )
        return EXIT_FAILED
    except (FileNotFoundError, MotoUnsuitable, StateDirInUse) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    pipelines = len(orchestrator.runner.pipelines) if orchestrator.runner else 0
    if state_dir is None:
        kept = "state:    in memory (--in-memory): everything is lost when local mode stops"
    elif orchestrator.restored:
        plural = "s" if pipelines != 1 else ""
        kept = f"state:    {state_dir} (restored, {pipelines} pipeline{plural}; --reset forgets it)"
    else:
        kept = f"state:    {state_dir} (new; kept across restarts, --reset forgets it)"
    if args.json:  # one line a script can read: where everything is
        about = {**orchestrator.about(), "api": url, "log_file": str(log_file), "restored": orchestrator.restored}
        print(json.dumps(about), flush=True)
    else:
        print_start(orchestrator, url, kept, log_file)
    if args.demo:
        from local.demo import run_demo

        if not run_demo(orchestrator):
            print("the sample pipeline did not become ACTIVE: its state is above", file=sys.stderr, flush=True)
    if not args.json:
        print(ready_line(url), flush=True)
    try:
        import signal
        import threading

        signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops local mode as Ctrl-C does: the state is kept
        threading.Event().wait()
    except KeyboardInterrupt:
        print("stopping" + (f"; state kept in {state_dir}" if state_dir else ""), flush=True)
    finally:
        orchestrator.stop()
        if state_dir is None:  # --in-memory keeps nothing on disk, its log file neither
            forget_log(log_file)
    return EXIT_OK


def mlops_command() -> str:
    """The command that calls this CLI from any shell: the full path of the script beside this Python (the
    virtualenv's `bin/mlops`, which PATH need not find), else this Python running the package."""
    script = Path(sys.executable).parent / "mlops"
    return str(script) if script.is_file() else f"{sys.executable} -m local.cli"


def ready_line(url: str) -> str:
    """What to type next, exactly: the full command, with --endpoint when the port is not the default."""
    from local.api_client import DEFAULT_ENDPOINT

    endpoint = "" if url.rstrip("/") == DEFAULT_ENDPOINT else f" --endpoint {url}"
    return (
        f"Ready. Call it with `{mlops_command()} list{endpoint}` (and so provision FILE --watch, upload FILE KEY, "
        f"local notifications; MLOPS_ENDPOINT={url} names it to any mlops), or `curl {url}/pipelines`. "
        "Press Ctrl-C to stop."
    )


def find_local_endpoint(default: str, state_dir: Path | None = None) -> str:
    """The API a command calls when given no --endpoint nor MLOPS_ENDPOINT: local mode on the default port if it
    answers, else the running local mode that holds the state directory ($MLOPS_STATE_DIR, else ~/.mlops/local), as
    its lock file names it; else the default, whose failure then says how to name another."""
    import os

    from local.persistence import holder_api

    if _answers(default):
        return default
    folder = state_dir or Path(os.environ.get("MLOPS_STATE_DIR", str(DEFAULT_STATE_DIR))).expanduser()
    held = holder_api(folder)
    return held if held and _answers(held) else default


def _answers(url: str) -> bool:
    """Whether something listens at the URL's host and port (a connection, no request)."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=0.5):
            return True
    except OSError:
        return False


def forget_log(log_file: Path) -> None:
    """Close the log file and remove it with its temporary folder."""
    import logging
    import shutil

    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename) == log_file:
            root.removeHandler(handler)
            handler.close()
    shutil.rmtree(log_file.parent, ignore_errors=True)


def print_start(orchestrator: Any, url: str, kept: str, log_file: Path) -> None:
    print(
        f"mlops local ({orchestrator.mode})\n"
        f"  API:      {url}\n"
        f"  emulator: {orchestrator.emulator.endpoint} (AWS APIs, any credentials; fixed with --emulator-port)\n"
        f"  {kept}\n"
        f"  log:      {log_file} (every component's lines; one pipeline's events: mlops logs <name>)",
        flush=True,
    )


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def port_is_free(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do: TIME_WAIT is free
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def quiet_terminal(state_dir: Path | None) -> Path:
    """Every log line (ours, moto's, its warnings) goes to a log file; the terminal shows progress lines only."""
    import logging
    import tempfile

    folder = state_dir or Path(tempfile.mkdtemp(prefix="mlops-local-"))
    folder.mkdir(parents=True, exist_ok=True)
    log_file = folder / "local.log"
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    to_file = logging.FileHandler(log_file, encoding="utf-8")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.addHandler(to_file)
    root.setLevel(logging.INFO)
    to_terminal = logging.StreamHandler(sys.stdout)
    to_terminal.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    progress = logging.getLogger("mlops.progress")
    progress.setLevel(logging.INFO)
    progress.addHandler(to_terminal)
    logging.captureWarnings(True)  # moto's warnings (unsupported resource types) are log lines too
    return log_file


def cmd_acceptance(args: argparse.Namespace) -> int:
    """One pipeline of every type, provisioned, checked and torn down: in local mode, or on a confirmed real
    account (a deployed API); a table of the outcomes; 0 only if every type passed and nothing was left."""
    from local import acceptance
    from local.api_client import _region_from_url

    types = [t.strip() for t in (args.types or "").split(",") if t.strip()] or None

    def say(line: str) -> None:
        print(line, flush=True)

    try:
        acceptance.cases(types)
        if args.endpoint:
            region = args.aws_region or _region_from_url(args.endpoint)
            if not region:
                raise acceptance.Refused("name the API's region (--region)")
            target = acceptance.real_target(
                args.endpoint,
                region,
                args.yes_this_is_a_real_account,
                args.profile,
                args.stack,
                args.assets_bucket,
                args.ecr_repo,
            )
            run_id = acceptance.new_run_id()
            say(
                f"acceptance run {run_id} in account {target.account_id}, region {region}, through {args.endpoint}; "
                f"it creates (and deletes at the end):\n{acceptance.planned(types, run_id)}"
            )
            report = acceptance.run_acceptance(target, types, run_id, say)
        else:
            from local.session import DEFAULT_TEMPLATES

            log_file = quiet_terminal(None)
            say(f"acceptance run in local mode (state in memory; log: {log_file})")
            report = acceptance.run_local(Path(args.templates) if args.templates else DEFAULT_TEMPLATES, types, say)
    except (acceptance.Refused, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(report.table(), flush=True)
    return EXIT_OK if report.passed else EXIT_FAILED
