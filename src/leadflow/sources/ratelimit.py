"""Client-side rate limiters that keep a connector under a source's published request budget.

Budgets followed (see `shared/reference/free-tool-apis.md`): HubSpot private apps on the Free tier,
100 requests per rolling 10 s and 5 search requests per second (HubSpot "API usage guidelines",
"CRM search: Limits"); Calendly Free plan, 50 requests per user per minute (developer.calendly.com
"Rate limits").

Two shapes:

- `RollingWindow(max_calls, window_s)`: never more than `max_calls` requests in any window of
  `window_s`. A request occupies its slot from the moment it is *sent* until `window_s` after its
  response *arrived*, so however the server timestamps it (anywhere between the two), our count is
  never below the server's. It also adapts: `observe(remaining=...)` absorbs usage the server reports
  that we did not make ourselves (`X-HubSpot-RateLimit-Remaining`, Calendly `X-RateLimit-Remaining`),
  `observe(limit=...)` shrinks the budget when the server announces a smaller one, and `pause(s)` stops
  every caller for `s` seconds (a 429, `Retry-After`, `X-RateLimit-Reset`).
- `TokenBucket(rate_per_s, capacity)`: smooths requests to a steady pace (capacity 1 = evenly spaced).

`Limiter` combines several of them; a request acquires all of them. Everything is thread-safe: the
connectors run entities in parallel threads sharing one limiter per source. Clock and sleep are
injectable so the arithmetic is testable with a fake clock.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

Clock = Callable[[], float]
Sleep = Callable[[float], None]

_INFLIGHT = float("inf")


class Gate(Protocol):
    """One budget: `reserve()` answers how long to wait, or reserves a slot and answers 0."""

    def reserve(self, now: float) -> tuple[float, object | None]: ...

    def done(self, slot: object | None, now: float) -> None: ...

    def pause_until(self, until: float) -> None: ...


class RollingWindow:
    """At most `max_calls` requests in any `window_s` (slots held from send until `window_s` after the answer)."""

    def __init__(self, max_calls: int, window_s: float, *, name: str = "") -> None:
        if max_calls < 1 or window_s <= 0:
            raise ValueError("a rolling window needs max_calls >= 1 and window_s > 0")
        self.name = name
        self.window_s = float(window_s)
        self.configured_max = int(max_calls)
        self.max_calls = int(max_calls)
        self._slots: deque[list[float]] = deque()  # [end_time] in reservation order; inf while in flight
        self._paused_until = 0.0

    def _prune_oldest(self, now: float) -> None:
        """Drop expired slots from the old end: amortised O(1) per request, however large the budget."""
        slots, window = self._slots, self.window_s
        while slots and slots[0][0] + window <= now:
            slots.popleft()

    def _prune(self, now: float) -> None:
        """Drop every expired slot, also those behind an older one still in flight (answers can come
        back out of order)."""
        self._prune_oldest(now)
        if any(s[0] + self.window_s <= now for s in self._slots):
            self._slots = deque(s for s in self._slots if s[0] + self.window_s > now)

    def in_use(self, now: float) -> int:
        """How many slots count against the budget at `now`."""
        self._prune(now)
        return len(self._slots)

    def reserve(self, now: float) -> tuple[float, object | None]:
        if now < self._paused_until:
            return self._paused_until - now, None
        self._prune_oldest(now)
        if len(self._slots) >= self.max_calls:
            self._prune(now)  # exact count only when the budget looks spent
        if len(self._slots) < self.max_calls:
            slot = [_INFLIGHT]
            self._slots.append(slot)
            return 0.0, slot
        finished = [s[0] for s in self._slots if s[0] != _INFLIGHT]
        if len(finished) < len(self._slots) - self.max_calls + 1:
            return 0.01, None  # only in-flight requests hold the budget: poll again shortly
        finished.sort()
        # The earliest finished slots expire first; enough of them must expire to free one slot.
        need = len(self._slots) - self.max_calls + 1
        return max(0.001, finished[need - 1] + self.window_s - now), None

    def done(self, slot: object | None, now: float) -> None:
        if isinstance(slot, list):
            slot[0] = now

    def release(self, slot: list[float]) -> None:
        """Give back a slot reserved for a request that was never sent (matched by identity)."""
        self._slots = deque(s for s in self._slots if s is not slot)

    def pause_until(self, until: float) -> None:
        self._paused_until = max(self._paused_until, until)

    def observe(self, now: float, *, remaining: int | None = None, limit: int | None = None) -> None:
        """Adapt to what the server reports: a smaller `limit`, or fewer `remaining` than we think."""
        if limit is not None and 0 < limit < self.configured_max:
            self.max_calls = limit
        if remaining is None:
            return
        self._prune(now)
        ours = self.max_calls - len(self._slots)
        foreign = ours - max(0, remaining)
        # Usage we did not make (another client on the same app) holds budget for a full window.
        for _ in range(max(0, foreign)):
            self._slots.append([now])


class TokenBucket:
    """A token bucket: `rate_per_s` tokens per second, at most `capacity` saved up."""

    def __init__(self, rate_per_s: float, capacity: float = 1.0, *, name: str = "") -> None:
        if rate_per_s <= 0 or capacity < 1:
            raise ValueError("a token bucket needs rate_per_s > 0 and capacity >= 1")
        self.name = name
        self.rate = float(rate_per_s)
        self.capacity = float(capacity)
        self._tokens = float(capacity)
        self._stamp: float | None = None
        self._paused_until = 0.0

    def _refill(self, now: float) -> None:
        if self._stamp is not None:
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def reserve(self, now: float) -> tuple[float, object | None]:
        if now < self._paused_until:
            return self._paused_until - now, None
        self._refill(now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0, None
        return (1.0 - self._tokens) / self.rate, None

    def done(self, slot: object | None, now: float) -> None:
        return None

    def pause_until(self, until: float) -> None:
        self._paused_until = max(self._paused_until, until)


@dataclass
class LimiterStats:
    acquired: int = 0
    waited_s: float = 0.0
    pauses: int = 0


class Limiter:
    """Named gates of one source behind one lock; `slot(*names)` acquires the named gates together."""

    def __init__(
        self, gates: dict[str, Gate], *, clock: Clock = time.monotonic, sleep: Sleep = time.sleep
    ) -> None:
        self.gates = gates
        self.clock = clock
        self.sleep = sleep
        self.stats = LimiterStats()
        self._lock = threading.Lock()

    def acquire(self, names: Sequence[str]) -> list[tuple[Gate, object | None]]:
        """Block until every named gate has room, then hold a slot in each (all or nothing)."""
        gates = [self.gates[n] for n in names if n in self.gates]
        while True:
            with self._lock:
                now = self.clock()
                taken: list[tuple[Gate, object | None]] = []
                wait = 0.0
                for gate in gates:
                    w, slot = gate.reserve(now)
                    if w > 0:
                        wait = w
                        break
                    taken.append((gate, slot))
                if wait <= 0:
                    self.stats.acquired += 1
                    return taken
                for gate, slot in taken:  # give back what was reserved on the way
                    _unreserve(gate, slot)
            self.stats.waited_s += wait
            self.sleep(wait)

    def release(self, taken: list[tuple[Gate, object | None]]) -> None:
        with self._lock:
            now = self.clock()
            for gate, slot in taken:
                gate.done(slot, now)

    @contextmanager
    def slot(self, *names: str) -> Iterator[None]:
        """Hold a slot in the named gates for the duration of one request."""
        taken = self.acquire(names)
        try:
            yield
        finally:
            self.release(taken)

    def pause(self, seconds: float, *names: str) -> None:
        """Stop all callers of the named gates (all gates when none named) for `seconds`."""
        with self._lock:
            until = self.clock() + max(0.0, seconds)
            self.stats.pauses += 1
            for name, gate in self.gates.items():
                if not names or name in names:
                    gate.pause_until(until)

    def observe(self, name: str, *, remaining: int | None = None, limit: int | None = None) -> None:
        """Feed server-reported budget figures into the rolling window `name`."""
        gate = self.gates.get(name)
        if isinstance(gate, RollingWindow):
            with self._lock:
                gate.observe(self.clock(), remaining=remaining, limit=limit)


def _unreserve(gate: Gate, slot: object | None) -> None:
    if isinstance(gate, RollingWindow) and isinstance(slot, list):
        gate.release(slot)
    elif isinstance(gate, TokenBucket):
        gate._tokens = min(gate.capacity, gate._tokens + 1.0)


_REGISTRY: dict[tuple[object, ...], Limiter] = {}
_REGISTRY_LOCK = threading.Lock()


def shared_limiter(key: tuple[object, ...], factory: Callable[[], Limiter]) -> Limiter:
    """One limiter per key (source, base URL, budget) for the whole process, so parallel runs share it."""
    with _REGISTRY_LOCK:
        limiter = _REGISTRY.get(key)
        if limiter is None:
            limiter = _REGISTRY[key] = factory()
        return limiter


def hubspot_limiter(burst_per_10s: int, search_per_s: int, **kw: object) -> Limiter:
    """HubSpot: `burst` (every call, rolling 10 s) and `search` (search calls: rolling 1 s plus even pacing)."""
    return Limiter(
        {
            "burst": RollingWindow(burst_per_10s, 10.0, name="burst"),
            "search": RollingWindow(search_per_s, 1.0, name="search"),
            "search_pace": TokenBucket(search_per_s, 1.0, name="search_pace"),
        },
        **kw,  # type: ignore[arg-type]
    )


def calendly_limiter(requests_per_min: int, **kw: object) -> Limiter:
    """Calendly: `minute` (every call, rolling 60 s)."""
    return Limiter({"minute": RollingWindow(requests_per_min, 60.0, name="minute")}, **kw)  # type: ignore[arg-type]
