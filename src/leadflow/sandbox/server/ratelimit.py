"""Per-token rate limits on wall time: HubSpot burst, search and daily limits, Calendly per minute.

HubSpot (`shared/reference/free-tool-apis.md` §1.6, §1.3): a rolling 10-second window for ordinary
calls (`TEN_SECONDLY_ROLLING`), a separate rolling 1-second window for search, and a daily count
(`DAILY`, reset at UTC midnight here). Calendly (§2.1): a rolling 60-second window whose
`X-RateLimit-Reset` is the number of seconds until the oldest counted request leaves it.
Rejected requests are not counted, so a client that waits always gets through again.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass


class RollingWindow:
    """At most `limit` hits in any `window_s` seconds (limit 0 = unlimited)."""

    __slots__ = ("hits", "limit", "window_s")

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self.hits: deque[float] = deque()

    def _purge(self, now: float) -> None:
        edge = now - self.window_s
        hits = self.hits
        while hits and hits[0] <= edge:
            hits.popleft()

    def try_hit(self, now: float) -> bool:
        """Count a hit when there is room; False (nothing counted) when the window is full."""
        if self.limit <= 0:
            return True
        self._purge(now)
        if len(self.hits) >= self.limit:
            return False
        self.hits.append(now)
        return True

    def remaining(self, now: float) -> int:
        self._purge(now)
        return max(0, self.limit - len(self.hits))

    def wait_s(self, now: float) -> float:
        """Seconds until one more hit fits."""
        self._purge(now)
        if self.limit <= 0 or len(self.hits) < self.limit:
            return 0.0
        return max(0.0, self.hits[0] + self.window_s - now)


class DailyCounter:
    __slots__ = ("count", "day", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.day = -1
        self.count = 0

    def try_hit(self, now: float) -> bool:
        if self.limit <= 0:
            return True
        day = int(now // 86400)
        if day != self.day:
            self.day, self.count = day, 0
        if self.count >= self.limit:
            return False
        self.count += 1
        return True

    def remaining(self) -> int:
        return max(0, self.limit - self.count)

    def wait_s(self, now: float) -> float:
        return 86400 - now % 86400


@dataclass
class Decision:
    allowed: bool
    policy: str = ""  # TEN_SECONDLY_ROLLING | DAILY | SECONDLY (search) when refused
    wait_s: float = 0.0
    headers: list[tuple[str, str]] | None = None


class HubSpotLimiter:
    """HubSpot limits for one token."""

    def __init__(self, burst_per_10s: int, search_per_s: int, daily: int) -> None:
        self.burst = RollingWindow(burst_per_10s, 10.0)
        self.search = RollingWindow(search_per_s, 1.0)
        self.daily = DailyCounter(daily)

    def check(self, is_search: bool, now: float | None = None) -> Decision:
        now = time.monotonic() if now is None else now
        wall = time.time()
        window = self.search if is_search else self.burst
        if not window.try_hit(now):
            return Decision(False, "SECONDLY" if is_search else "TEN_SECONDLY_ROLLING", window.wait_s(now))
        if not self.daily.try_hit(wall):
            if window.hits:
                window.hits.pop()
            return Decision(False, "DAILY", self.daily.wait_s(wall))
        return Decision(True, headers=None if is_search else self.headers(now))

    def headers(self, now: float) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self.daily.limit > 0:
            out.append(("X-HubSpot-RateLimit-Daily", str(self.daily.limit)))
            out.append(("X-HubSpot-RateLimit-Daily-Remaining", str(self.daily.remaining())))
        if self.burst.limit > 0:
            out.append(("X-HubSpot-RateLimit-Interval-Milliseconds", "10000"))
            out.append(("X-HubSpot-RateLimit-Max", str(self.burst.limit)))
            out.append(("X-HubSpot-RateLimit-Remaining", str(self.burst.remaining(now))))
        return out


class CalendlyLimiter:
    """Calendly's per-minute limit for one token; headers go on every response."""

    def __init__(self, per_min: int) -> None:
        self.window = RollingWindow(per_min, 60.0)

    def check(self, now: float | None = None) -> Decision:
        now = time.monotonic() if now is None else now
        allowed = self.window.try_hit(now)
        return Decision(allowed, "" if allowed else "MINUTE", self.window.wait_s(now), self.headers(now))

    def headers(self, now: float) -> list[tuple[str, str]]:
        if self.window.limit <= 0:
            return []
        hits = self.window.hits
        reset = math.ceil(hits[0] + 60.0 - now) if hits else 60
        return [
            ("X-RateLimit-Limit", str(self.window.limit)),
            ("X-RateLimit-Remaining", str(self.window.remaining(now))),
            ("X-RateLimit-Reset", str(max(0, reset))),
        ]
