"""The sandbox webhook sender: replay a World's changes between two clocks as signed HTTP POSTs.

Follows `shared/reference/free-tool-apis.md` §1.8 (HubSpot: JSON array of <= 100 events per POST,
`X-HubSpot-Signature-v3` + `X-HubSpot-Request-Timestamp` and the v1 signature, retried on any
non-2xx or timeout up to 10 times with randomized delays, `attemptNumber` counting attempts from 0,
concurrency 10, duplicates and no ordering guarantee) and §2.5 (Calendly: one envelope per POST,
`Calendly-Webhook-Signature`, any 2xx is success, redirects are failures, `410 Gone` ends the
subscription, exponential back-off). Events come from `leadflow.sandbox.webhook_events`.

To stay usable locally, back-off base/cap, attempt limits, timeouts and a whole-run deadline are
configuration; every loop is bounded by attempts and the deadline. Fault injection (from the
scenario's `faults`): `duplicates` re-sends an acknowledged delivery (same eventIds, next
attemptNumber, as when HubSpot missed the acknowledgement) and `reorder` swaps events within a
window before they are batched. Both, and the jitter, are drawn from `seed`: the same run twice makes
the same decisions (with concurrency > 1 the arrival order still depends on thread timing).
Signature timestamps are the sender's wall clock (`clock`), not the World's time.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
import requests

from leadflow.errors import ConfigError
from leadflow.sandbox.webhook_events import CALENDLY_API, calendly_events, hubspot_events
from leadflow.sandbox.world import World
from leadflow.settings import Secret
from leadflow.signatures import calendly_headers, hubspot_headers

T = TypeVar("T")
Progress = Callable[[str, int], None]
"""(channel name, deliveries finished so far) -> None; called from worker threads."""


_NO_SECRET = Secret("")


def wall_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class DeliveryConfig:
    """How to deliver. Secrets are `Secret`s; defaults follow the reference where it states a number."""

    hubspot_secret: Secret = _NO_SECRET
    calendly_key: Secret = _NO_SECRET
    app_id: int = 4_200_001
    seed: int = 0
    duplicates: float = 0.0
    reorder: float = 0.0
    reorder_window: int = 10
    batch_size: int = 100
    hubspot_concurrency: int = 10
    calendly_concurrency: int = 4
    hubspot_max_attempts: int = 10
    calendly_max_attempts: int = 10
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 60.0
    hubspot_timeout_s: float = 5.0
    calendly_connect_timeout_s: float = 10.0
    calendly_read_timeout_s: float = 15.0
    deadline_s: float = 3600.0
    calendly_api_base: str = CALENDLY_API
    legacy_signature: str | None = "v1"
    clock: Callable[[], int] = wall_ms

    def __post_init__(self) -> None:
        for name in ("duplicates", "reorder"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"webhook {name} probability must be within [0, 1]")
        if not 1 <= self.batch_size <= 100:
            raise ConfigError("HubSpot webhook batch_size must be 1..100")
        for name in (
            "hubspot_concurrency",
            "calendly_concurrency",
            "hubspot_max_attempts",
            "calendly_max_attempts",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"webhook {name} must be at least 1")
        if self.backoff_base_s < 0 or self.backoff_cap_s < 0 or self.deadline_s <= 0:
            raise ConfigError("webhook back-off base/cap must be >= 0 and the deadline > 0")


@dataclass(frozen=True)
class Targets:
    """Where to deliver: HubSpot has one target URL per app; Calendly one URL per subscription."""

    hubspot_url: str | None = None
    calendly_urls: tuple[str, ...] = ()


@dataclass
class ChannelReport:
    """Counts for one channel (HubSpot, or one Calendly subscription)."""

    channel: str
    url: str
    events: int = 0
    deliveries: int = 0  # planned POST bodies (HubSpot batches / Calendly envelopes)
    sent: int = 0  # HTTP requests made, retries and duplicates included
    acknowledged: int = 0  # deliveries answered 2xx (a duplicate counts once more)
    retried: int = 0  # requests that were a retry of a failed attempt
    failed: int = 0  # deliveries given up (attempts or deadline exhausted)
    duplicates: int = 0  # duplicate deliveries sent after an acknowledgement
    dropped: int = 0  # deliveries not attempted because the subscription was gone (410)
    gone: bool = False
    statuses: dict[str, int] = field(default_factory=dict)  # response status (or "timeout"/"error") -> count


@dataclass
class DeliveryReport:
    from_ms: int
    to_ms: int
    channels: list[ChannelReport]
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return all(c.failed == 0 for c in self.channels)


def reorder(items: Sequence[T], probability: float, window: int, rng: random.Random) -> list[T]:
    """Swap each item, with `probability`, with a later one at most `window` positions ahead."""
    out = list(items)
    if probability <= 0 or window < 1:
        return out
    for i in range(len(out) - 1):
        if rng.random() < probability:
            j = rng.randint(i + 1, min(i + window, len(out) - 1))
            out[i], out[j] = out[j], out[i]
    return out


def backoff_s(attempt: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Delay before retry number `attempt` (1-based): exponential, capped, with jitter in [50 %, 100 %]."""
    ceiling = min(cap_s, base_s * (2 ** (attempt - 1)))
    return ceiling * (0.5 + 0.5 * rng.random())


class _Channel:
    """Sends the deliveries of one channel with bounded retries; counts into a ChannelReport."""

    def __init__(
        self, report: ChannelReport, config: DeliveryConfig, deadline: float, progress: Progress | None
    ):
        self.report = report
        self.config = config
        self.deadline = deadline
        self.progress = progress
        self.lock = threading.Lock()
        self.gone = threading.Event()
        self.local = threading.local()
        self.done = 0

    def session(self) -> requests.Session:
        s = getattr(self.local, "session", None)
        if s is None:
            s = self.local.session = requests.Session()
        return s

    def count(self, **deltas: int) -> None:
        with self.lock:
            for name, delta in deltas.items():
                setattr(self.report, name, getattr(self.report, name) + delta)

    def status(self, key: str) -> None:
        with self.lock:
            self.report.statuses[key] = self.report.statuses.get(key, 0) + 1

    def finished(self) -> None:
        with self.lock:
            self.done += 1
            done = self.done
        if self.progress:
            self.progress(self.report.channel, done)

    def post(self, body: bytes, headers: dict[str, str], timeout: float | tuple[float, float]) -> int | None:
        """One POST; the status code, or None on timeout/connection failure."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            return None
        if isinstance(timeout, tuple):
            timeout = (min(timeout[0], remaining), min(timeout[1], remaining))
        else:
            timeout = min(timeout, remaining)
        try:
            resp = self.session().post(
                self.report.url,
                data=body,
                headers={"Content-Type": "application/json", **headers},
                timeout=timeout,
                allow_redirects=False,
            )
            resp.close()
        except requests.Timeout:
            self.status("timeout")
            return None
        except requests.RequestException:
            self.status("error")
            return None
        self.status(str(resp.status_code))
        return resp.status_code

    def attempts(
        self,
        build: Callable[[int], tuple[bytes, dict[str, str]]],
        first: int,
        max_attempts: int,
        rng: random.Random,
        timeout: float | tuple[float, float],
        stop_on_410: bool,
    ) -> int | None:
        """Try attempts `first`, `first+1`, ... until a 2xx; the acknowledged attempt number or None."""
        for attempt in range(first, first + max_attempts):
            if self.gone.is_set() or time.monotonic() >= self.deadline:
                return None
            if attempt > first:
                delay = backoff_s(attempt - first, self.config.backoff_base_s, self.config.backoff_cap_s, rng)
                time.sleep(max(0.0, min(delay, self.deadline - time.monotonic())))
                if time.monotonic() >= self.deadline:
                    return None
                self.count(retried=1)
            body, headers = build(attempt)
            self.count(sent=1)
            status = self.post(body, headers, timeout)
            if status is not None and 200 <= status < 300:
                return attempt
            if status == 410 and stop_on_410:
                self.gone.set()
                with self.lock:
                    self.report.gone = True
                return None
        return None

    def deliver_one(
        self,
        build: Callable[[int], tuple[bytes, dict[str, str]]],
        duplicate: bool,
        rng: random.Random,
        max_attempts: int,
        timeout: float | tuple[float, float],
        stop_on_410: bool,
    ) -> None:
        try:
            if self.gone.is_set():
                self.count(dropped=1)
                return
            acked = self.attempts(build, 0, max_attempts, rng, timeout, stop_on_410)
            if acked is None:
                self.count(**({"dropped": 1} if self.gone.is_set() else {"failed": 1}))
                return
            self.count(acknowledged=1)
            if duplicate and not self.gone.is_set():
                self.count(duplicates=1)
                if self.attempts(build, acked + 1, max_attempts, rng, timeout, stop_on_410) is not None:
                    self.count(acknowledged=1)
        finally:
            self.finished()


def _run(channel: _Channel, jobs: list[Callable[[], None]], concurrency: int) -> None:
    if concurrency == 1:
        for job in jobs:
            job()
        return
    with ThreadPoolExecutor(
        max_workers=concurrency, thread_name_prefix=f"wh-{channel.report.channel}"
    ) as pool:
        for fut in [pool.submit(job) for job in jobs]:
            fut.result()


def _hubspot(
    world: World,
    url: str,
    from_ms: int,
    to_ms: int,
    config: DeliveryConfig,
    deadline: float,
    progress: Progress | None,
) -> ChannelReport:
    events = hubspot_events(world, from_ms, to_ms, app_id=config.app_id)
    events = reorder(
        events, config.reorder, config.reorder_window, random.Random(f"{config.seed}:hubspot:reorder")
    )
    batches = [events[i : i + config.batch_size] for i in range(0, len(events), config.batch_size)]
    dup_rng = random.Random(f"{config.seed}:hubspot:duplicates")
    dups = [dup_rng.random() < config.duplicates for _ in batches]
    report = ChannelReport("hubspot", url, events=len(events), deliveries=len(batches))
    channel = _Channel(report, config, deadline, progress)
    secret = config.hubspot_secret

    def job(i: int, batch: list[dict[str, Any]]) -> Callable[[], None]:
        def build(attempt: int) -> tuple[bytes, dict[str, str]]:
            body = orjson.dumps([{**ev, "attemptNumber": attempt} for ev in batch])
            return body, hubspot_headers(
                secret, "POST", url, body, config.clock(), legacy=config.legacy_signature
            )

        rng = random.Random(f"{config.seed}:hubspot:jitter:{i}")
        return lambda: channel.deliver_one(
            build, dups[i], rng, config.hubspot_max_attempts, config.hubspot_timeout_s, False
        )

    _run(channel, [job(i, b) for i, b in enumerate(batches)], config.hubspot_concurrency)
    return report


def _calendly(
    world: World,
    url: str,
    n: int,
    from_ms: int,
    to_ms: int,
    config: DeliveryConfig,
    deadline: float,
    progress: Progress | None,
) -> ChannelReport:
    envelopes = calendly_events(world, from_ms, to_ms, api_base=config.calendly_api_base)
    envelopes = reorder(
        envelopes, config.reorder, config.reorder_window, random.Random(f"{config.seed}:calendly:reorder")
    )
    dup_rng = random.Random(f"{config.seed}:calendly:duplicates")
    dups = [dup_rng.random() < config.duplicates for _ in envelopes]
    report = ChannelReport(f"calendly#{n}", url, events=len(envelopes), deliveries=len(envelopes))
    channel = _Channel(report, config, deadline, progress)
    key = config.calendly_key
    timeout = (config.calendly_connect_timeout_s, config.calendly_read_timeout_s)

    def job(i: int, envelope: dict[str, Any]) -> Callable[[], None]:
        body = orjson.dumps(envelope)

        def build(attempt: int) -> tuple[bytes, dict[str, str]]:
            return body, calendly_headers(key, body, config.clock())

        rng = random.Random(f"{config.seed}:calendly:jitter:{i}")
        return lambda: channel.deliver_one(build, dups[i], rng, config.calendly_max_attempts, timeout, True)

    _run(channel, [job(i, e) for i, e in enumerate(envelopes)], config.calendly_concurrency)
    return report


def plan_sizes(world: World, from_ms: int, to_ms: int, config: DeliveryConfig) -> dict[str, int]:
    """Number of deliveries each channel kind will plan (for progress bars)."""
    n_hs = len(hubspot_events(world, from_ms, to_ms, app_id=config.app_id))
    return {
        "hubspot": -(-n_hs // config.batch_size),
        "calendly": len(calendly_events(world, from_ms, to_ms, api_base=config.calendly_api_base)),
    }


def deliver(
    world: World,
    targets: Targets,
    from_ms: int,
    to_ms: int,
    config: DeliveryConfig,
    progress: Progress | None = None,
) -> DeliveryReport:
    """Derive the events of `(from_ms, to_ms]` and deliver them to the targets; never raises on HTTP failures."""
    if to_ms < from_ms:
        raise ConfigError("webhook window: 'until' is before 'from'")
    if targets.hubspot_url and not str.__str__(config.hubspot_secret):
        raise ConfigError(
            "no HubSpot client secret: pass --hubspot-secret or set LEADFLOW_SANDBOX_HUBSPOT_CLIENT_SECRET"
        )
    if targets.calendly_urls and not str.__str__(config.calendly_key):
        raise ConfigError(
            "no Calendly signing key: pass --calendly-key or set LEADFLOW_SANDBOX_CALENDLY_SIGNING_KEY"
        )
    started = time.monotonic()
    deadline = started + config.deadline_s
    channels = []
    if targets.hubspot_url:
        channels.append(_hubspot(world, targets.hubspot_url, from_ms, to_ms, config, deadline, progress))
    for n, url in enumerate(targets.calendly_urls):
        channels.append(_calendly(world, url, n, from_ms, to_ms, config, deadline, progress))
    return DeliveryReport(from_ms, to_ms, channels, time.monotonic() - started)
