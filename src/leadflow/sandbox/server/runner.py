"""`SandboxServer`: serves a World over HTTP, in a background thread (tests) or in the foreground (CLI).

The server owns one event loop (uvloop when installed) and one `App`. In background mode it binds
before `start()` returns, so `.url` is usable at once; `stop()` closes the listener and every open
connection. Clock moves from other threads go through the thread-safe `ServerState`.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from leadflow.errors import ConfigError
from leadflow.sandbox.server.app import App
from leadflow.sandbox.server.config import ServerConfig
from leadflow.sandbox.server.http import HttpProtocol, new_event_loop, start_server
from leadflow.sandbox.world import World


class SandboxServer:
    """HTTP imitation of HubSpot, Calendly and a lead sheet for one World."""

    def __init__(self, world: World, config: ServerConfig | None = None) -> None:
        self.config = config or ServerConfig()
        self.app = App(world, self.config)
        self.world = world
        self.port = self.config.port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[HttpProtocol] = set()
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # -- properties ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    @property
    def clock_ms(self) -> int:
        return self.app.state.clock_ms

    def advance(self, seconds: float) -> int:
        """Move the sandbox clock forward (never past the world end); returns the new clock."""
        return self.app.state.advance(seconds)

    def client_env(self) -> dict[str, str]:
        """The `leadflow.settings` environment that points the connectors at this server (has tokens)."""
        cfg = self.config
        return {
            "LEADFLOW_HUBSPOT_BASE_URL": self.url,
            "LEADFLOW_HUBSPOT_TOKEN": cfg.hubspot_token.reveal(),
            "LEADFLOW_CALENDLY_BASE_URL": self.url,
            "LEADFLOW_CALENDLY_TOKEN": cfg.calendly_token.reveal(),
            "LEADFLOW_SHEET_URL": f"{self.url}/spreadsheets/d/{cfg.sheet_key}/export?format=csv&gid=0",
        }

    def set_clock(self, t_ms: int) -> int:
        return self.app.state.set_clock(t_ms)

    def stats(self) -> dict[str, Any]:
        return self.app.stats()

    # -- lifecycle -----------------------------------------------------------------------------

    async def _bind(self) -> None:
        assert self._loop is not None
        self._server = await start_server(
            self.app.handle, self.config.host, self.config.port, self._loop, self._connections
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self.app.state.public_url = (self.config.public_url or self.url).rstrip("/")

    def _run_thread(self) -> None:
        loop = self._loop = new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._bind())
        except BaseException as exc:  # report bind errors to start()
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            self._shutdown(loop)

    def _shutdown(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections):
            conn.close()
        loop.run_until_complete(asyncio.sleep(0.01))
        loop.close()

    def start(self) -> SandboxServer:
        """Bind and serve in a background thread; returns once the port is bound."""
        self._thread = threading.Thread(target=self._run_thread, name="leadflow-sandbox", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise ConfigError(
                f"sandbox server did not bind {self.config.host}:{self.config.port} within 30 s"
            )
        if self._error is not None:
            raise ConfigError(
                f"sandbox server could not bind {self.config.host}:{self.config.port}: {self._error}"
            )
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._thread = None

    def serve_forever(self, on_ready: Callable[[SandboxServer], None] | None = None) -> None:
        """Serve in the calling thread until SIGINT/SIGTERM."""
        loop = self._loop = new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._bind())
        except OSError as exc:
            loop.close()
            raise ConfigError(
                f"sandbox server could not bind {self.config.host}:{self.config.port}: {exc}"
            ) from exc
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, loop.stop)
        if on_ready is not None:
            on_ready(self)
        try:
            loop.run_forever()
        finally:
            self._shutdown(loop)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
