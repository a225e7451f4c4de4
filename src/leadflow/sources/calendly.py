"""Calendly connector: organization users, event types, scheduled events and their invitees.

Follows `shared/reference/free-tool-apis.md` §2 (Calendly API v2): `GET /users/me` for the token
user's `current_organization`; collections `{"collection": [...], "pagination": {...}}` paged with
`page_token` (`pagination.next_page_token`, null on the last page), `count=100` (the maximum);
timestamps with 6 fractional digits. Listing an organization's members and events needs an admin or
owner token. Free plan budget: 50 requests per user per minute (`CalendlySettings.requests_per_min`),
kept by a rolling-minute limiter that also reads `X-RateLimit-Remaining` / `X-RateLimit-Reset`.

| entity | endpoint | records_path | mode |
| --- | --- | --- | --- |
| users | `GET /organization_memberships?organization=` | `collection` | full every run |
| event_types | `GET /event_types?organization=` | `collection` | full every run |
| scheduled_events | `GET /scheduled_events?organization=&min_start_time=&sort=start_time:asc` | `collection` | re-read window |
| invitees | `GET /scheduled_events/{uuid}/invitees` for every event read | `collection` | re-read window |

`users` pages are organization memberships: each record's `uri` is the membership and the user
resource sits under `user` (Calendly has no "list users" endpoint; this is how an organization's
users are listed). Invitee pages carry `Page.meta = {"event_uri": ...}`.

Calendly cannot filter events by `updated_at`, so cancellations, reschedules and no-shows of events
that already started would be missed by a start-time cursor (as in the Airbyte connector). Instead,
every run re-reads all events starting at or after `watermark - reread_window_days`, and all invitees
of each of them. The watermark is the latest `created_at`/`updated_at` seen on any event or invitee
(the source's own clock, never ours). A change to an event that started more than the window before
the watermark is not seen: widen `reread_window_days` if no-shows are marked later than that.

Cursors (`scheduled_events`, `invitees`): `{"v": 1, "watermark": iso | None, "window_start": iso | None,
"events": int}`; (`users`, `event_types`): `{"v": 1, "count": int}`. `since` forces the window start.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from leadflow.errors import ConfigError, RequestRejected
from leadflow.landing.sink import Page, PageSink
from leadflow.settings import CalendlySettings, HttpSettings
from leadflow.sources.base import BatchOpener, CursorLookup, ExtractResult, ProgressHook
from leadflow.sources.entities import check_entities
from leadflow.sources.http import Fetched, SourceClient, SourceHints, calendly_budget
from leadflow.sources.ratelimit import Limiter, calendly_limiter, shared_limiter

SOURCE = "calendly"
ENTITIES = ("users", "event_types", "scheduled_events", "invitees")
GATES = ("minute",)
COUNT = 100
ADMIN = "use a token of a Calendly organization admin or owner (listing members and events needs it)"
HINTS = SourceHints(
    token_setting="LEADFLOW_CALENDLY_TOKEN (or `token` under [calendly] in leadflow.toml)",
    token_kind="Calendly personal access token",
    scope_advice=ADMIN,
)


def iso_us(dt: datetime) -> str:
    """Calendly's time format: UTC with 6 fractional digits and `Z`."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def make_client(
    settings: CalendlySettings,
    http: HttpSettings,
    session: requests.Session | None,
    limiter: Limiter | None = None,
) -> SourceClient:
    """A `SourceClient` for Calendly sharing the process-wide limiter of this base URL and budget."""
    if not settings.token:
        raise ConfigError(f"calendly: no token configured; set {HINTS.token_setting}")
    if limiter is None:
        key = ("calendly", settings.base_url, settings.requests_per_min)
        limiter = shared_limiter(key, lambda: calendly_limiter(settings.requests_per_min))
    return SourceClient(
        SOURCE,
        settings.base_url,
        settings.token,
        http,
        session=session,
        limiter=limiter,
        budget=calendly_budget,
        hints=HINTS,
    )


def collection_pages(client: SourceClient, path: str, params: dict[str, Any]) -> Iterator[Fetched]:
    """Yield every page of a Calendly collection, following `pagination.next_page_token`."""
    token: str | None = None
    while True:
        got = client.get(
            path, dict(params, page_token=token) if token else params, gates=GATES, scope_hint=ADMIN
        )
        yield got
        token = (got.data.get("pagination") or {}).get("next_page_token")
        if not token or not got.data.get("collection"):
            return


@dataclass
class _Window:
    """One re-read entity (scheduled_events or invitees): its window start and what it saw."""

    entity: str
    sink: PageSink | None
    previous: dict[str, Any]
    start: datetime | None
    result: ExtractResult
    watermark: datetime | None = None
    events: int = 0
    uris: set[str] = field(default_factory=set)

    def see(self, *stamps: Any) -> None:
        for s in stamps:
            ts = parse_ts(s)
            if ts is not None and (self.watermark is None or ts > self.watermark):
                self.watermark = ts

    def cursor(self) -> dict[str, Any]:
        prev = parse_ts(self.previous.get("watermark"))
        mark = max((t for t in (prev, self.watermark) if t is not None), default=None)
        return {
            "v": 1,
            "watermark": iso_us(mark) if mark else None,
            "window_start": iso_us(self.start) if self.start else None,
            "events": self.events,
        }


def _window(
    entity: str, sink: PageSink | None, cursors: CursorLookup, since: datetime | None, reread_days: int
) -> _Window:
    previous = cursors.get(SOURCE, entity) or {}
    start: datetime | None
    if since is not None:
        start = since if since.tzinfo else since.replace(tzinfo=UTC)
    else:
        mark = parse_ts(previous.get("watermark"))
        start = mark - timedelta(days=reread_days) if mark is not None else None
    mode = "incremental" if start is not None else "full"
    return _Window(entity, sink, previous, start, ExtractResult(SOURCE, entity, mode=mode))


def _write(
    sink: PageSink,
    entity: str,
    got: Fetched,
    result: ExtractResult,
    progress: ProgressHook | None,
    meta: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    records = got.data.get("collection") or []
    sink.write_page(
        Page(
            SOURCE,
            entity,
            got.body,
            "collection",
            got.fetched_at_ms,
            request=got.request,
            meta=meta or {},
            parsed=got.data,
        )
    )
    result.pages += 1
    result.records += len(records)
    if progress is not None:
        progress(entity, len(records))
    return records


def _full(
    client: SourceClient, entity: str, path: str, org: str, sink: PageSink, progress: ProgressHook | None
) -> ExtractResult:
    result = ExtractResult(SOURCE, entity, mode="full")
    for got in collection_pages(client, path, {"organization": org, "count": COUNT}):
        _write(sink, entity, got, result, progress)
    result.cursor = {"v": 1, "count": result.records}
    sink.complete(result.cursor)
    return result


def _events_and_invitees(
    client: SourceClient, org: str, ev: _Window | None, inv: _Window | None, progress: ProgressHook | None
) -> None:
    """Read events from the earlier window start; their invitees when the invitee window covers them."""
    windows = [w for w in (ev, inv) if w is not None]
    starts = [w.start for w in windows]
    lo = None if any(s is None for s in starts) else min(s for s in starts if s is not None)
    params: dict[str, Any] = {"organization": org, "count": COUNT, "sort": "start_time:asc"}
    if lo is not None:
        params["min_start_time"] = iso_us(lo)
    for got in collection_pages(client, "/scheduled_events", params):
        events = got.data.get("collection") or []
        if ev is not None and ev.sink is not None:
            _write(ev.sink, "scheduled_events", got, ev.result, progress)
        for event in events:
            stamps = (event.get("created_at"), event.get("updated_at"))
            for w in windows:
                w.see(*stamps)
            if ev is not None:
                ev.events += 1
            start = parse_ts(event.get("start_time"))
            if inv is None or (inv.start is not None and (start is None or start < inv.start)):
                continue
            uri = str(event.get("uri", ""))
            uuid = uri.rstrip("/").rsplit("/", 1)[-1]
            if not uuid or uri in inv.uris:
                continue  # a duplicate across event pages: its invitees are read already
            inv.uris.add(uri)
            inv.events += 1
            try:
                pages = list(collection_pages(client, f"/scheduled_events/{uuid}/invitees", {"count": COUNT}))
            except RequestRejected as exc:
                if exc.status == 404:  # the event vanished between the two calls
                    inv.result.notes.append(f"event {uuid} disappeared before its invitees were read")
                    continue
                raise
            for page in pages:
                assert inv.sink is not None
                for invitee in _write(inv.sink, "invitees", page, inv.result, progress, {"event_uri": uri}):
                    for w in windows:
                        w.see(invitee.get("created_at"), invitee.get("updated_at"))


def extract(
    settings: CalendlySettings,
    http: HttpSettings,
    *,
    session: requests.Session | None,
    cursors: CursorLookup,
    open_batch: BatchOpener,
    entities: Sequence[str] | None = None,
    since: datetime | None = None,
    progress: ProgressHook | None = None,
    limiter: Limiter | None = None,
) -> list[ExtractResult]:
    """Pull the requested Calendly entities (sequentially: the per-minute budget is the bottleneck)."""
    wanted = check_entities(entities, ENTITIES, SOURCE)
    if not wanted:
        return []
    client = make_client(settings, http, session, limiter)
    sinks = {e: open_batch(SOURCE, e) for e in wanted}
    me = client.get("/users/me", gates=GATES)
    org = str((me.data.get("resource") or {}).get("current_organization") or "")
    if not org:
        raise RequestRejected(
            "calendly: /users/me has no current_organization; the token's user must belong "
            "to an organization",
            source=SOURCE,
        )
    results: dict[str, ExtractResult] = {}
    if "users" in sinks:
        results["users"] = _full(client, "users", "/organization_memberships", org, sinks["users"], progress)
    if "event_types" in sinks:
        results["event_types"] = _full(
            client, "event_types", "/event_types", org, sinks["event_types"], progress
        )
    ev = inv = None
    if "scheduled_events" in sinks:
        ev = _window(
            "scheduled_events", sinks["scheduled_events"], cursors, since, settings.reread_window_days
        )
    if "invitees" in sinks:
        inv = _window("invitees", sinks["invitees"], cursors, since, settings.reread_window_days)
    if ev is not None or inv is not None:
        _events_and_invitees(client, org, ev, inv, progress)
        for w in (ev, inv):
            if w is not None and w.sink is not None:
                w.result.cursor = w.cursor()
                w.sink.complete(w.result.cursor)
                results[w.entity] = w.result
    return [results[e] for e in wanted]
