"""Calendly connector against the real sandbox: backfill, re-read window, late no-shows/cancellations."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from leadflow.errors import AuthError
from leadflow.sandbox.server import Limits
from leadflow.sandbox.server.testworld import HOUR, make_world
from leadflow.sandbox.world import Record, World
from leadflow.settings import CalendlySettings, HttpSettings, Secret
from leadflow.sources import calendly
from leadflow.sources.calendly import parse_ts
from leadflow.sources.ratelimit import RollingWindow, calendly_limiter

from .conftest import Landing, serving

FAST = HttpSettings(
    connect_timeout_s=2.0, read_timeout_s=5.0, max_retries=6, backoff_base_s=0.01, backoff_max_s=0.1
)


def run(server, landing: Landing, **kw):  # type: ignore[no-untyped-def]
    landing.new_run()
    cfg = {"base_url": server.url, "token": server.config.calendly_token, "requests_per_min": 100_000}
    cfg |= {k: kw.pop(k) for k in ("reread_window_days", "requests_per_min") if k in kw}
    results = calendly.extract(
        CalendlySettings(**cfg), FAST, session=None, cursors=landing, open_batch=landing.open_batch, **kw
    )
    landing.commit()
    return {r.entity: r for r in results}


def tail(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def state(rec: Record, t: int) -> dict:  # type: ignore[type-arg]
    v = rec.version_at(t)
    assert v is not None
    return v.properties


@pytest.fixture(scope="module")
def world() -> World:
    return make_world(60, days=30)


def test_backfill_reads_every_event_and_invitee_once(world: World) -> None:
    t = world.end_ms
    landing = Landing()
    with serving(world, clock_ms=t, limits=Limits.unlimited()) as server:
        results = run(server, landing)
    sinks = landing.last
    assert all(s.completed for s in sinks.values())
    events = sinks[("calendly", "scheduled_events")].records()
    invitees = sinks[("calendly", "invitees")].records()
    assert sorted(tail(e["uri"]) for e in events) == sorted(e.id for e in world.events if e.created_ms <= t)
    assert sorted(tail(i["uri"]) for i in invitees) == sorted(
        i.id for i in world.invitees if i.created_ms <= t
    )
    for page in sinks[("calendly", "invitees")].pages:
        assert page.records_path == "collection"
        assert all(i["event"] == page.meta["event_uri"] for i in calendly_records(page))
    users = sinks[("calendly", "users")].records()
    assert sorted(u["user"]["email"] for u in users) == sorted(o.email for o in world.owners)
    assert len(sinks[("calendly", "event_types")].records()) == len(world.event_types)
    assert results["scheduled_events"].mode == "full" and results["invitees"].mode == "full"
    cursor = sinks[("calendly", "invitees")].cursor
    assert cursor is not None and cursor["window_start"] is None
    newest = max(
        max(r.created_ms, r.versions_until(t)[-1].at_ms)
        for r in [*world.events, *world.invitees]
        if r.created_ms <= t
    )
    assert parse_ts(cursor["watermark"]) == datetime.fromtimestamp(newest / 1000, tz=UTC)


def calendly_records(page):  # type: ignore[no-untyped-def]
    import orjson

    return orjson.loads(page.body)["collection"]


def test_late_no_show_of_a_past_event_is_read_again(world: World) -> None:
    no_show = next(i for i in world.invitees if any(v.properties.get("no_show") for v in i.versions))
    event = next(e for e in world.events if e.id == no_show.static["event_uuid"])
    start = event.static["start_ms"]
    marked = next(v.at_ms for v in no_show.versions if v.properties.get("no_show"))
    assert marked > start
    t1 = start + (marked - start) // 2  # the event has started, the no-show is not marked yet
    landing = Landing()
    with serving(world, clock_ms=t1, limits=Limits.unlimited()) as server:
        run(server, landing, entities=["scheduled_events", "invitees"])
        first = landing.last[("calendly", "invitees")].records()
        assert next(i for i in first if tail(i["uri"]) == no_show.id)["no_show"] is None
        starts = [parse_ts(e["start_time"]) for e in landing.last[("calendly", "scheduled_events")].records()]
        # a start-time cursor would now sit after this event and never read it again
        assert max(s for s in starts if s) > datetime.fromtimestamp(start / 1000, tz=UTC)
        server.set_clock(marked + HOUR)
        results = run(server, landing, entities=["scheduled_events", "invitees"])
        t2 = server.clock_ms
    assert results["invitees"].mode == "incremental"
    second = landing.last[("calendly", "invitees")].records()
    again = [i for i in second if tail(i["uri"]) == no_show.id]
    assert len(again) == 1 and again[0]["no_show"] is not None
    # every event and invitee in the window is read at its state at t2
    window = parse_ts(landing.last[("calendly", "invitees")].cursor["window_start"])  # type: ignore[index]
    assert window is not None
    landed_ev = {tail(e["uri"]): e for e in landing.last[("calendly", "scheduled_events")].records()}
    for ev in world.events:
        if ev.created_ms <= t2 and datetime.fromtimestamp(ev.static["start_ms"] / 1000, tz=UTC) >= window:
            assert landed_ev[ev.id]["status"] == state(ev, t2).get("status", "active")
    landed_inv = {tail(i["uri"]): i for i in second}
    for inv in world.invitees:
        if inv.static["event_uuid"] in landed_ev and inv.created_ms <= t2:
            assert landed_inv[inv.id]["status"] == state(inv, t2)["status"]
            assert (landed_inv[inv.id]["no_show"] is None) == (state(inv, t2).get("no_show") is None)


@pytest.fixture(scope="module")
def example() -> World:
    from leadflow.sandbox.generate import generate_world
    from leadflow.sandbox.scenario import load_scenario

    return generate_world(load_scenario(Path(__file__).parents[2] / "scenarios" / "example.yaml"))


@pytest.mark.parametrize("window_days", [30, 0])
def test_the_reread_window_is_what_catches_late_no_shows(example: World, window_days: int) -> None:
    """A no-show marked after other bookings happened: a 30-day window reads it, a 0-day one cannot."""
    stamps = sorted(
        {r.created_ms for r in [*example.events, *example.invitees]}
        | {v.at_ms for r in [*example.events, *example.invitees] for v in r.versions}
    )
    events = {e.id: e for e in example.events}
    for inv in example.invitees:
        marked = next((v.at_ms for v in inv.versions if v.properties.get("no_show")), None)
        start = events[inv.static["event_uuid"]].static["start_ms"]
        between = [x for x in stamps if marked is not None and start < x < marked]
        if between:
            break
    else:
        pytest.fail("the example world has no suitable no-show")
    t1 = between[-1]  # after some later activity (watermark past the start), before the no-show
    landing = Landing()
    with serving(example, clock_ms=t1, limits=Limits.unlimited()) as server:
        run(server, landing, entities=["invitees"], reread_window_days=window_days)
        server.set_clock(marked + HOUR)  # type: ignore[operator]
        run(server, landing, entities=["invitees"], reread_window_days=window_days)
    second = {tail(i["uri"]): i for i in landing.last[("calendly", "invitees")].records()}
    if window_days:
        assert second[inv.id]["no_show"] is not None
    else:
        assert inv.id not in second


def test_generated_world_backfill_matches_the_world(example: World) -> None:
    t = example.end_ms
    landing = Landing()
    with serving(example, clock_ms=t, limits=Limits.unlimited()) as server:
        run(server, landing)
    events = landing.last[("calendly", "scheduled_events")].records()
    invitees = landing.last[("calendly", "invitees")].records()
    assert sorted(tail(e["uri"]) for e in events) == sorted(e.id for e in example.events if e.created_ms <= t)
    assert sorted(tail(i["uri"]) for i in invitees) == sorted(
        i.id for i in example.invitees if i.created_ms <= t
    )
    no_shows = {i.id for i in example.invitees if (state(i, t).get("no_show") is not None)}
    assert no_shows and no_shows == {tail(i["uri"]) for i in invitees if i["no_show"] is not None}


def test_late_cancellation_is_seen(world: World) -> None:
    canceled = [e for e in world.events if any(v.properties.get("status") == "canceled" for v in e.versions)]
    assert canceled
    ev = canceled[0]
    at = next(v.at_ms for v in ev.versions if v.properties.get("status") == "canceled")
    landing = Landing()
    with serving(world, clock_ms=at - 1, limits=Limits.unlimited()) as server:
        run(server, landing, entities=["scheduled_events"])
        server.set_clock(at + 5 * 86_400_000)
        run(server, landing, entities=["scheduled_events"])
    before = {tail(e["uri"]): e for e in landing.runs[0][("calendly", "scheduled_events")].records()}
    after = {tail(e["uri"]): e for e in landing.last[("calendly", "scheduled_events")].records()}
    assert before[ev.id]["status"] == "active" and after[ev.id]["status"] == "canceled"


def test_limiter_absorbs_usage_reported_by_the_server(world: World) -> None:
    """Another client used 30 of the 50 per minute: after one call our limiter counts them too."""
    with serving(world, clock_ms=world.end_ms, limits=Limits(calendly_per_min=50)) as server:
        cfg = CalendlySettings(base_url=server.url, token=server.config.calendly_token)
        other = calendly.make_client(cfg, FAST, None, calendly_limiter(1000))
        for _ in range(30):
            other.get("/users/me", gates=("minute",))
        limiter = calendly_limiter(50)
        ours = calendly.make_client(cfg, FAST, None, limiter)
        ours.get("/users/me", gates=("minute",))
        gate = limiter.gates["minute"]
        assert isinstance(gate, RollingWindow)
        assert gate.in_use(limiter.clock()) == 31


def test_401_names_the_setting_and_hides_the_token(world: World) -> None:
    landing = Landing()
    wrong = "eyJraWQiOiIxY2UxZTEzNjE3ZGNmNzY2YjNjZWJjY2Y4ZGM1YmFmYThhNjVlNjg0MDIzZjdjMzJiZTgzNDliMjM4MDEzNWI0"
    with serving(world, limits=Limits.unlimited()) as server:
        landing.new_run()
        with pytest.raises(AuthError) as err:
            calendly.extract(
                CalendlySettings(base_url=server.url, token=Secret(wrong)),
                FAST,
                session=None,
                cursors=landing,
                open_batch=landing.open_batch,
            )
    msg = str(err.value)
    assert "LEADFLOW_CALENDLY_TOKEN" in msg and "Unauthenticated" in msg and wrong not in msg
