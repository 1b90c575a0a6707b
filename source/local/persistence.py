# SPDX-License-Identifier: Apache-2.0
"""Local mode's state on disk: the emulator's AWS resources and the runner's pipelines survive a restart.

moto 5.2.5 has no persistence of its own (its recorder replays requests, which would run every stack and
pipeline again). Its models are plain Python objects (S3 objects and Lambda functions pickle themselves), so
the state is the pickle of every backend in use, of the runner's pipelines and of the orchestrator's
settings, written atomically to one file. Locks and threads are not state: they are made afresh on load.
"""

from __future__ import annotations

import io
import os
import pickle
import threading
import weakref
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATE_FILE = "state.pickle"
FORMAT = 1  # bumped when the layout of the file changes
_LOCKS = (type(threading.Lock()), type(threading.RLock()))


class StateUnusable(Exception):
    """The state directory holds state this local mode cannot load (other versions, other mode)."""


# --- one process per state directory ----------------------------------------------------------------------
LOCK_FILE = "lock"


class StateDirInUse(Exception):
    """Another `mlops local` holds the state directory (both would run the schedules and overwrite the state)."""


@dataclass
class StateDirLock:
    """An exclusive lock of a state directory for the life of this process (the kernel drops it if the process
    dies); the lock file names the holder's pid and API, for the refusal of a second process."""

    path: Path
    _file: Any = None

    def acquire(self) -> None:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 - held open for the life of the process
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "a process whose pid is not known yet"
            handle.close()
            raise StateDirInUse(
                f"the state directory {self.path.parent} is in use by another mlops local ({holder}): stop it, "
                "or give this one another --state-dir"
            ) from None
        self._file = handle
        self.describe_holder()

    def describe_holder(self, api: str = "") -> None:
        """Write who holds the lock: this process's pid and, once it serves, its API."""
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
            self._file.write(f"pid {os.getpid()}" + (f", API {api}" if api else ""))
            self._file.flush()

    def release(self) -> None:
        if self._file is not None:
            import fcntl

            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def holder_api(state_dir: Path) -> str | None:
    """The API of the running `mlops local` that holds `state_dir`, as its lock file names it; None when no live
    process holds it (no lock file, one whose process is gone, or one that does not serve yet)."""
    import re

    try:
        holder = (state_dir / LOCK_FILE).read_text(encoding="utf-8")
    except OSError:
        return None
    found = re.fullmatch(r"pid (\d+), API (\S+)", holder.strip())
    if not found:
        return None
    try:
        os.kill(int(found.group(1)), 0)  # signal 0: only whether the process is there
    except ProcessLookupError:
        return None
    except PermissionError:  # there, another user's
        pass
    return found.group(2)


def _fresh_lock() -> Any:
    return threading.RLock()


def _nothing() -> None:
    return None


def _defaultdict(factory: type, items: dict[Any, Any]) -> defaultdict:
    return defaultdict(factory, items)


def _weak_values(items: dict[Any, Any]) -> weakref.WeakValueDictionary:
    return weakref.WeakValueDictionary(items)


def _versioned_keys(versions: dict[str, list[Any]]) -> Any:
    from moto.s3.utils import _VersionedKeyStore

    store = _VersionedKeyStore()
    for key, kept in versions.items():
        store.setlist(key, kept)
    return store


def _placeholder(resource_type: str, state: dict[str, Any]) -> Any:
    from .emulator import _PLACEHOLDERS

    cls = _PLACEHOLDERS[resource_type]
    found = cls.__new__(cls)
    found.__dict__.update(state)
    return found


def _placeholder_class(resource_type: str) -> type:
    from .emulator import _PLACEHOLDERS

    return _PLACEHOLDERS[resource_type]


def _live_backend(service: str, account: str, region: str) -> Any:
    from moto.backends import get_backend

    return get_backend(service)[account][region]  # type: ignore[call-overload]


class _StatePickler(pickle.Pickler):
    """Pickles moto's models, with what is not state (locks, threads) replaced and the emulator's dynamic
    placeholder models and moto's backends named rather than copied."""

    def __init__(self, file: io.BytesIO, backends: dict[int, tuple[str, str, str]], top: set[int]):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        from moto.s3.utils import _VersionedKeyStore

        from .emulator import _PLACEHOLDERS

        self.versioned_keys = _VersionedKeyStore
        self.backends, self.top = backends, top
        self.placeholders = {cls: name for name, cls in _PLACEHOLDERS.items()}

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, _LOCKS):
            return _fresh_lock, ()
        if isinstance(obj, threading.Thread | threading.Event | threading.Condition):
            return _nothing, ()
        if isinstance(obj, defaultdict) and "<" in getattr(obj.default_factory, "__qualname__", ""):
            # moto's `defaultdict(lambda: {})`: the factory is rebuilt from the type of value it makes
            return _defaultdict, (type(obj.default_factory()), dict(obj))  # type: ignore[misc]
        if isinstance(obj, weakref.WeakValueDictionary):
            return _weak_values, (dict(obj),)
        if isinstance(obj, self.versioned_keys):
            # a bucket's keys: pickle's dict items would be the newest version of each key only (moto's items()),
            # and the rollback reads the earlier versions of request.json and template.zip, and the delete markers
            return _versioned_keys, ({key: list(kept) for key, kept in dict.items(obj)},)
        if isinstance(obj, type) and obj in self.placeholders:
            return _placeholder_class, (self.placeholders[obj],)
        if type(obj) in self.placeholders:
            return _placeholder, (self.placeholders[type(obj)], dict(vars(obj)))
        if id(obj) in self.backends and id(obj) not in self.top:
            return _live_backend, self.backends[id(obj)]
        return NotImplemented


@dataclass
class LocalState:
    """What a restart brings back: the settings (buckets, accounts), the runner's pipelines and moto's data."""

    mode: str
    settings: Any
    runner: dict[str, Any]
    emulator: dict[str, Any]
    git_head: str | None = None  # the last commit of --git-repo's main that was processed


def _versions() -> dict[str, str]:
    import moto

    return {"format": str(FORMAT), "moto": moto.__version__}


def dump(
    path: Path, mode: str, settings: Any, runner: dict[str, Any], attempts: int = 3, git_head: str | None = None
) -> None:
    """Write the state of this process's emulator atomically to `path` (a temporary file, then a rename)."""
    from moto.core.base_backend import BackendDict

    from . import emulator

    for attempt in range(attempts):
        try:
            backends: dict[int, tuple[str, str, str]] = {}
            data: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
            for backend_dict in list(BackendDict._instances):
                for account, regions in list(backend_dict.items()):
                    for region, backend in list(regions.items()):
                        backends[id(backend)] = (backend_dict.service_name, account, region)
                        data.setdefault(backend_dict.service_name, {}).setdefault(account, {})[region] = dict(
                            vars(backend)
                        )
            extra = {
                "monitoring_schedules": dict(emulator.MONITORING_SCHEDULES),
                # the monitoring clock (next execution, history) and the notifications sent, kept beside moto
                "job_definitions": dict(emulator.JOB_DEFINITIONS),
                "monitoring_runs": dict(emulator.MONITORING_RUNS),
                "notifications": list(emulator.NOTIFICATIONS),
            }
            buffer = io.BytesIO()
            state = LocalState(mode, settings, runner, {"backends": data, **extra}, git_head)
            _StatePickler(buffer, backends, set()).dump((_versions(), state))
            break
        except RuntimeError:  # a dictionary changed while it was read (a request in flight): read again
            if attempt == attempts - 1:
                raise
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(buffer.getvalue())
    os.replace(temporary, path)


def load(path: Path, mode: str) -> LocalState | None:
    """Read the state at `path` into this process's (running, empty) emulator; None when there is none."""
    if not path.is_file():
        return None
    try:
        versions, state = pickle.loads(path.read_bytes())  # the user's own file, written by dump()
    except Exception as error:  # any unreadable file: say which and how to start afresh
        raise StateUnusable(f"the state in {path} cannot be read ({type(error).__name__}: {error})") from None
    if versions != _versions():
        raise StateUnusable(f"the state in {path} was written by another version ({versions}, now {_versions()})")
    if state.mode != mode:
        raise StateUnusable(f"the state in {path} belongs to {state.mode} mode, not {mode}")
    from moto.backends import get_backend

    from . import emulator

    for service, accounts in state.emulator["backends"].items():
        for account, regions in accounts.items():
            for region, values in regions.items():
                vars(get_backend(service)[account][region]).update(values)  # type: ignore[call-overload]
    _buckets_are_found_from_every_account()
    emulator.MONITORING_SCHEDULES.update(state.emulator.get("monitoring_schedules", {}))
    emulator.JOB_DEFINITIONS.update(state.emulator.get("job_definitions", {}))
    emulator.MONITORING_RUNS.update(state.emulator.get("monitoring_runs", {}))
    emulator.NOTIFICATIONS[:] = state.emulator.get("notifications", [])
    return state


def _buckets_are_found_from_every_account() -> None:
    """moto finds a bucket of another account (a stage account's function code, the StackSet deployer reading the
    orchestrator's buckets) through a registry of bucket names beside its backends, which the restored backends do
    not fill: register every restored bucket under its account, as its creation did."""
    from moto.s3.models import s3_backends

    for account, partitions in list(s3_backends.items()):
        for partition, backend in list(partitions.items()):
            for name in list(backend.buckets):
                s3_backends.bucket_accounts[name] = (partition, account)
