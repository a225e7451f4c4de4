"""Mutable server state shared by the API modules: the sandbox clock, the fault injector, the URL.

The clock only moves forward and never past the world end. It may be moved from another thread
(tests call `SandboxServer.advance`); handlers read it once per request.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from leadflow.errors import ConfigError
from leadflow.sandbox.server.config import Faults
from leadflow.sandbox.server.faults import FaultInjector


@dataclass
class ServerState:
    start_ms: int
    end_ms: int
    clock_ms: int
    faults: Faults
    injector: FaultInjector
    public_url: str = ""
    lock: threading.RLock = field(default_factory=threading.RLock)

    def set_clock(self, t_ms: int) -> int:
        """Move the clock to `t_ms` (clamped to the world end). Moving backwards is an error."""
        with self.lock:
            if t_ms < self.clock_ms:
                raise ConfigError(
                    f"the sandbox clock never goes back (now {self.clock_ms} ms, asked {t_ms} ms)"
                )
            self.clock_ms = min(t_ms, self.end_ms)
            return self.clock_ms

    def advance(self, seconds: float) -> int:
        if seconds < 0:
            raise ConfigError("the sandbox clock never goes back: advance_s must be >= 0")
        with self.lock:
            return self.set_clock(self.clock_ms + round(seconds * 1000))
