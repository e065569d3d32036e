"""ModelServer: the model app under uvicorn in a background thread, on a free loopback port."""
from __future__ import annotations

import socket
import threading
import time

import httpx
import uvicorn

from .app import create_app
from .config import ModelConfig
from .faults import fault_options
from .spec import parse_spec

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


class ModelServer:
    """Started by the constructor (ready: /health answers), stopped by close() or `with`."""

    def __init__(self, config: ModelConfig, host: str = "127.0.0.1"):
        self.config = config
        # Bind first, so the port (and so the public URL the proofs' htu must name) is known.
        # proto IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say so, and without it
        # every keep-alive response waits ~40 ms for a delayed ACK.
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, 0))
        self.url = f"http://{host}:{self._socket.getsockname()[1]}"
        uv_config = uvicorn.Config(
            create_app(config, self),
            log_level="warning",
            access_log=False,
            lifespan="off",
            proxy_headers=False,  # the model never takes its URL from X-Forwarded-* headers
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(uv_config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, name="arcp-model-target", daemon=True)
        self._thread.start()
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if not self._thread.is_alive():
                break
            try:
                if httpx.get(self.url + "/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
        self.close()
        raise RuntimeError(f"the model target did not start at {self.url}")

    def close(self) -> None:
        self._server.should_exit = True
        self._thread.join(STOP_TIMEOUT)
        self._socket.close()

    def __enter__(self) -> "ModelServer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        faults = ", ".join(sorted(self.config.faults)) or "no faults"
        return f"<ModelServer {self.url} {self.config.mode} ({faults})>"


def start_model(mode: str, faults=(), **overrides) -> ModelServer:
    """A running model target in DPoP `mode` with the named `faults` (and the options they need,
    model-faults.json `options`); close it when done."""
    options = {**fault_options(faults), **overrides}
    return ModelServer(ModelConfig(mode=mode, faults=frozenset(faults), **options))


def start_spec(spec: str) -> ModelServer:
    """The model a `model:MODE[:ITEM,...]` spec names, started (ValueError for a bad spec)."""
    mode, faults, options = parse_spec(spec)
    return start_model(mode, faults, **options)
