"""Calendly imitation over real HTTP: pagination block, filters, invitee states, errors, rate limits."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from leadflow.sandbox.server import Limits
from leadflow.sandbox.server.testworld import DAY
from leadflow.sandbox.webhook_events import iso_us
from leadflow.sandbox.world import World

from .conftest import Api

CAL_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
PAGINATION_KEYS = ["count", "next_page", "previous_page", "next_page_token", "previous_page_token"]


@pytest.fixture
def world(hand_world: World) -> World:
    return hand_world


@pytest.fixture
def org(api: Api) -> str:
    return api.cal_get("/users/me").json()["resource"]["current_organization"]


def test_users_me_and_memberships(api: Api, world: World) -> None:
    me = api.cal_get("/users/me").json()["resource"]
    assert me["uri"].endswith(world.owners[0].calendly_uuid)
    assert me["current_organization"].endswith(world.organization_uuid)
    assert CAL_TIME.match(me["created_at"])
    members = api.cal_all("/organization_memberships", organization=me["current_organization"], count=2)
    assert sorted(m["user"]["email"] for m in members) == sorted(o.email for o in world.owners)


def test_event_types_need_scope(api: Api, world: World, org: str) -> None:
    r = api.cal_get("/event_types")
    assert r.status_code == 400
    body = r.json()
    assert body["title"] == "Invalid Argument" and body["details"][0]["parameter"] == "organization"
    types = api.cal_all("/event_types", organization=org)
    assert {t["name"] for t in types} == {et.name for et in world.event_types}
    assert all(t["duration"] in (15, 30, 60) for t in types)


def test_scheduled_events_pagination_block_and_completeness(api: Api, world: World, org: str) -> None:
    first = api.cal_get("/scheduled_events", organization=org, count=3).json()
    assert list(first["pagination"]) == PAGINATION_KEYS
    assert first["pagination"]["count"] == 3 and first["pagination"]["previous_page_token"] is None
    assert first["pagination"]["next_page"].startswith(api.url + "/scheduled_events?")
    got = api.cal_all("/scheduled_events", organization=org, count=3)
    uuids = [e["uri"].rsplit("/", 1)[-1] for e in got]
    assert sorted(uuids) == sorted(e.id for e in world.events if e.created_ms <= world.end_ms)
    assert len(uuids) == len(set(uuids))
    starts = [e["start_time"] for e in got]
    assert starts == sorted(starts) and all(CAL_TIME.match(s) for s in starts)
    # the last page: every key present, the next ones null
    last_token = None
    body = first
    while body["pagination"]["next_page_token"]:
        last_token = body["pagination"]["next_page_token"]
        body = api.cal_get("/scheduled_events", organization=org, count=3, page_token=last_token).json()
    assert body["pagination"]["next_page"] is None and body["pagination"]["next_page_token"] is None
    assert body["pagination"]["previous_page_token"] is not None
    back = api.cal_get(
        "/scheduled_events", organization=org, count=3, page_token=body["pagination"]["previous_page_token"]
    ).json()
    assert [e["uri"] for e in back["collection"]] == [
        e["uri"] for e in got[-len(body["collection"]) - 3 : -len(body["collection"])]
    ]
    # following next_page URLs works as well
    follow = requests.get(first["pagination"]["next_page"], headers=api.cal.headers, timeout=10).json()
    assert follow["collection"][0]["uri"] == got[3]["uri"]


def test_scheduled_events_filters_and_sort(api: Api, world: World, org: str) -> None:
    lo = world.start_ms + 5 * DAY
    hi = world.start_ms + 15 * DAY
    want = sorted(e.id for e in world.events if lo <= e.static["start_ms"] < hi)
    got = api.cal_all(
        "/scheduled_events", organization=org, min_start_time=iso_us(lo), max_start_time=iso_us(hi), count=100
    )
    assert sorted(e["uri"].rsplit("/", 1)[-1] for e in got) == want and want
    desc = api.cal_all("/scheduled_events", organization=org, sort="start_time:desc", count=4)
    assert [e["start_time"] for e in desc] == sorted((e["start_time"] for e in desc), reverse=True)
    canceled = api.cal_all("/scheduled_events", organization=org, status="canceled")
    assert canceled and all(
        e["status"] == "canceled" and e["cancellation"]["canceler_type"] for e in canceled
    )
    active = api.cal_all("/scheduled_events", organization=org, status="active")
    assert len(active) + len(canceled) == len(world.events)
    host = world.owners[0].calendly_uuid
    assert len(api.cal_all("/scheduled_events", user=f"https://api.calendly.com/users/{host}")) == len(
        world.events
    )
    other = world.owners[1].calendly_uuid
    assert api.cal_all("/scheduled_events", user=f"https://api.calendly.com/users/{other}") == []
    email = world.invitees[0].static["email"]
    by_email = api.cal_all("/scheduled_events", organization=org, invitee_email=email)
    assert {e["uri"].rsplit("/", 1)[-1] for e in by_email} == {
        i.static["event_uuid"] for i in world.invitees if i.static["email"] == email
    }


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"count": 101}, "count"),
        ({"count": 0}, "count"),
        ({"status": "done"}, "status"),
        ({"sort": "created_at:asc"}, "sort"),
        ({"min_start_time": "yesterday"}, "min_start_time"),
        ({"page_token": "garbage"}, "page_token"),
    ],
)
def test_scheduled_events_bad_params(api: Api, org: str, params: dict[str, Any], parameter: str) -> None:
    r = api.cal_get("/scheduled_events", organization=org, **params)
    assert r.status_code == 400
    body = r.json()
    assert body["title"] == "Invalid Argument" and body["message"] == "The supplied parameters are invalid."
    assert body["details"][0]["parameter"] == parameter


def _event_of(world: World, predicate: Any) -> tuple[str, Any]:
    for inv in world.invitees:
        if predicate(inv.versions[-1].properties):
            return inv.static["event_uuid"], inv
    raise AssertionError("hand-built world lacks this invitee state")


def test_invitee_states(api: Api, world: World) -> None:
    ev, _ = _event_of(world, lambda p: p.get("status") == "canceled" and not p.get("rescheduled"))
    (canceled,) = api.cal_all(f"/scheduled_events/{ev}/invitees")
    assert canceled["status"] == "canceled"
    assert (
        canceled["cancellation"]["canceler_type"] == "invitee"
        and canceled["cancellation"]["reason"] == "Conflict"
    )
    assert canceled["no_show"] is None and canceled["cancel_url"].startswith(
        "https://calendly.com/cancellations/"
    )
    assert CAL_TIME.match(canceled["created_at"]) and CAL_TIME.match(canceled["updated_at"])
    ev, _ = _event_of(world, lambda p: p.get("no_show"))
    (noshow,) = api.cal_all(f"/scheduled_events/{ev}/invitees")
    assert (
        noshow["status"] == "active"
        and noshow["no_show"]["uri"]
        and CAL_TIME.match(noshow["no_show"]["created_at"])
    )
    ev, old = _event_of(world, lambda p: p.get("rescheduled"))
    (moved,) = api.cal_all(f"/scheduled_events/{ev}/invitees", status="canceled")
    assert moved["rescheduled"] is True and moved["new_invitee"].endswith(
        old.versions[-1].properties["new_invitee"]
    )
    new_uri = moved["new_invitee"]
    new_event = new_uri.split("/scheduled_events/")[1].split("/")[0]
    (new,) = api.cal_all(f"/scheduled_events/{new_event}/invitees")
    assert new["old_invitee"] == moved["uri"] and new["status"] == "active"
    assert api.cal_all(f"/scheduled_events/{ev}/invitees", status="active") == []
    single = api.cal_get(f"/scheduled_events/{new_event}/invitees/{new_uri.rsplit('/', 1)[-1]}").json()
    assert single["resource"] == new


def test_invitee_and_event_404(api: Api) -> None:
    for path in (
        "/scheduled_events/NOPE",
        "/scheduled_events/NOPE/invitees",
        "/event_types/NOPE",
        "/users/NOPE",
    ):
        r = api.cal_get(path)
        assert r.status_code == 404
        assert r.json() == {
            "title": "Resource Not Found",
            "message": "The server could not find the requested resource.",
        }


def test_cancellation_appears_when_clock_passes_it(serve: Any, world: World) -> None:
    ev, inv = _event_of(world, lambda p: p.get("status") == "canceled" and not p.get("rescheduled"))
    a = serve(world, clock_ms=inv.created_ms)
    assert a.cal_get(f"/scheduled_events/{ev}").json()["resource"]["status"] == "active"
    a.server.set_clock(inv.versions[-1].at_ms)
    res = a.cal_get(f"/scheduled_events/{ev}").json()["resource"]
    assert res["status"] == "canceled" and res["invitees_counter"] == {"total": 1, "active": 0, "limit": 1}


def test_401(api: Api) -> None:
    r = requests.get(
        f"{api.url}/users/me", headers={"Authorization": api.hs.headers["Authorization"]}, timeout=10
    )
    assert r.status_code == 401
    assert r.json() == {"title": "Unauthenticated", "message": "The access token is invalid"}


def test_rate_limit_headers_and_429(serve: Any, world: World) -> None:
    a = serve(
        world, limits=Limits(hubspot_burst_per_10s=0, hubspot_search_per_s=0, calendly_per_min=3, daily=0)
    )
    seen = []
    for _ in range(3):
        r = a.cal_get("/users/me")
        assert r.status_code == 200
        assert r.headers["X-RateLimit-Limit"] == "3"
        assert 0 < int(r.headers["X-RateLimit-Reset"]) <= 60
        seen.append(int(r.headers["X-RateLimit-Remaining"]))
    assert seen == [2, 1, 0]
    r = a.cal_get("/users/me")
    assert r.status_code == 429
    assert r.headers["X-RateLimit-Remaining"] == "0" and r.headers["X-RateLimit-Limit"] == "3"
    assert 0 < int(r.headers["X-RateLimit-Reset"]) <= 60
    assert r.json()["title"] == "Too Many Requests"
    # errors carry the headers too
    bad = a.cal_get("/scheduled_events")
    assert bad.status_code == 429 and "X-RateLimit-Reset" in bad.headers
