"""Deterministic fault injection: every decision is a hash of (seed, request number, fault kind).

Faults are transient by construction: a request that got a fault is remembered by its signature
(token, method, target, body); the next identical request (the client's retry) is always served
normally. Rates are per-request probabilities from `Faults`; what each fault looks like on the wire
is documented in docs/sandbox.md (part 2).
"""

from __future__ import annotations

import hashlib
from collections import Counter, OrderedDict
from dataclasses import dataclass

from leadflow.sandbox.server.config import Faults

_SERVER_ERROR_STATUSES = (500, 502, 503)
_REMEMBER = 10_000


@dataclass(slots=True)
class Injected:
    kind: str  # rate_limit_429 | server_error | slow | truncated_json
    status: int = 200
    retry_after: bool = False


class FaultInjector:
    """Decides, per request, whether and which fault to inject."""

    def __init__(self, faults: Faults, seed: int) -> None:
        self.faults = faults
        self.seed = seed
        self.counter = 0
        self.injected: Counter[str] = Counter()
        self._faulted: OrderedDict[bytes, None] = OrderedDict()

    def _u(self, n: int, kind: str) -> float:
        digest = hashlib.blake2b(f"{self.seed}:{n}:{kind}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2.0**64

    def chance(self, kind: str, rate: float) -> bool:
        """A deterministic draw for page-level faults, tied to the current request number."""
        if rate <= 0.0:
            return False
        hit = self._u(self.counter, kind) < rate
        if hit:
            self.injected[kind] += 1
        return hit

    def pick(self, kind: str, n: int) -> int:
        """A deterministic index in [0, n) for the current request."""
        return int(self._u(self.counter, kind + ":pick") * n) if n > 0 else 0

    def retry_after(self) -> bool:
        """Whether this 429 carries Retry-After (share `retry_after_share`)."""
        share = self.faults.retry_after_share
        return share > 0.0 and self._u(self.counter, "retry_after") < share

    def next_request(self, signature: bytes, json_body: bool, can_429: bool) -> Injected | None:
        """Count a request and return the transient fault to inject, if any."""
        self.counter += 1
        f = self.faults
        if f.rate_limit_429 <= 0 and f.server_errors <= 0 and f.slow_responses <= 0 and f.truncated_json <= 0:
            return None
        if signature in self._faulted:  # a retry of a faulted request always succeeds
            del self._faulted[signature]
            return None
        n = self.counter
        fault: Injected | None = None
        if can_429 and self._u(n, "429") < f.rate_limit_429:
            fault = Injected("rate_limit_429", 429, self.retry_after())
        elif self._u(n, "5xx") < f.server_errors:
            status = _SERVER_ERROR_STATUSES[int(self._u(n, "5xx-status") * 3)]
            fault = Injected("server_error", status)
        elif self._u(n, "slow") < f.slow_responses:
            fault = Injected("slow")
        elif json_body and self._u(n, "truncated") < f.truncated_json:
            fault = Injected("truncated_json")
        if fault is not None:
            self.injected[fault.kind] += 1
            self._faulted[signature] = None
            if len(self._faulted) > _REMEMBER:
                self._faulted.popitem(last=False)
        return fault
