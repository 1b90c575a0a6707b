# SPDX-License-Identifier: Apache-2.0
"""The embedded AWS emulator: moto's server on 127.0.0.1, with every boto3 client of this process pointed at it."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from lambdas.shared.aws import reset_clients

EMULATOR_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@dataclass
class Emulator:
    """moto's threaded server. `start()` returns its endpoint and routes this process's clients there."""

    port: int = 0
    _server: object | None = field(default=None, init=False)
    _saved_env: dict[str, str | None] = field(default_factory=dict, init=False)

    @property
    def endpoint(self) -> str:
        host, port = self._server.get_host_and_port()  # type: ignore[union-attr]
        return f"http://{host}:{port}"

    def start(self) -> str:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()  # type: ignore[attr-defined]
        env = {**EMULATOR_ENV, "AWS_ENDPOINT_URL": self.endpoint}
        for name, value in env.items():
            self._saved_env[name] = os.environ.get(name)
            os.environ[name] = value
        os.environ.pop("AWS_PROFILE", None)
        reset_clients()
        return self.endpoint

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()  # type: ignore[attr-defined]
            self._server = None
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()
        reset_clients()

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
