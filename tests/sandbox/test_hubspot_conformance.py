"""HubSpot imitation over real HTTP: list/search paging, properties, archived, errors, rate limits, v4."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadflow.sandbox.server import Limits
from leadflow.sandbox.server.testworld import HOUR, make_world
from leadflow.sandbox.world import World

from .conftest import Api


@pytest.fixture
def world(hand_world: World) -> World:
    return hand_world


def live_ids(world: World, obj: str, t: int) -> list[str]:
    return [r.id for r in world.hubspot[obj] if r.created_ms <= t and not r.is_archived_at(t)]


def iso_to_ms(s: str) -> int:
    return int(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000)


# -- list ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("obj", ["contacts", "deals", "meetings", "calls", "emails"])
def test_list_paging_returns_every_live_record_once(api: Api, world: World, obj: str) -> None:
    got = [r["id"] for r in api.list_all(obj, limit=7)]
    assert got == live_ids(world, obj, world.end_ms)
    assert len(got) == len(set(got)) > 0


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    limit=st.integers(min_value=1, max_value=130), minutes=st.integers(min_value=0, max_value=30 * 24 * 60)
)
def test_list_paging_any_limit_any_clock(api: Api, world: World, limit: int, minutes: int) -> None:
    t = world.start_ms + minutes * 60_000
    if t > api.server.clock_ms:
        api.server.set_clock(t)
    t = api.server.clock_ms
    got = [r["id"] for r in api.list_all("contacts", limit=limit)]
    assert got == live_ids(world, "contacts", t)


def test_list_default_limit_clamp_and_last_page(serve: Any) -> None:
    w = make_world(150, activity=False)
    a = serve(w, clock_ms=w.end_ms)
    assert len(a.hs_get("/crm/v3/objects/contacts").json()["results"]) == 10
    page = a.hs_get("/crm/v3/objects/contacts", limit=500).json()
    assert len(page["results"]) == 100
    nxt = page["paging"]["next"]
    assert set(nxt) == {"after", "link"}
    followed = requests.get(nxt["link"], headers=a.hs.headers, timeout=10).json()
    assert "paging" not in followed  # 50 left: the last page has no paging block
    assert len(followed["results"]) == 50
    assert followed["results"][0]["id"] == str(int(page["results"][-1]["id"]) + 1)
    assert a.hs_get("/crm/v3/objects/contacts", limit=0).status_code == 400
    bad = a.hs_get("/crm/v3/objects/contacts", after="!!not-a-cursor!!")
    assert bad.status_code == 400 and bad.json()["category"] == "VALIDATION_ERROR"


def test_type_ids_and_unknown_type(api: Api) -> None:
    by_name = api.list_all("contacts", limit=100)
    by_id = api.list_all("0-1", limit=100)
    assert by_name == by_id
    assert api.list_all("0-47") == api.list_all("meetings")
    r = api.hs_get("/crm/v3/objects/widgets")
    assert r.status_code == 400 and "widgets" in r.json()["message"]


def test_record_shape_and_properties(api: Api, world: World) -> None:
    rec = api.list_all("contacts", limit=1)[0]
    assert set(rec) == {"id", "properties", "createdAt", "updatedAt", "archived"}
    assert set(rec["properties"]) == {
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    }
    assert all(isinstance(v, str) for v in rec["properties"].values())
    assert rec["updatedAt"] == rec["properties"]["lastmodifieddate"]
    assert rec["createdAt"].endswith("Z") and len(rec["createdAt"]) == 24
    deal = api.list_all("deals", limit=1)[0]
    assert {"dealname", "dealstage", "pipeline", "hs_lastmodifieddate"} <= set(deal["properties"])
    assert set(api.list_all("emails", limit=1)[0]["properties"]) == {
        "hs_createdate",
        "hs_lastmodifieddate",
        "hs_object_id",
    }
    # explicit selection: unknown and unset properties are omitted
    emails = api.list_all("emails", properties="ask_outcome,ask_type,no_such_property")
    answered = [e for e in emails if "ask_outcome" in e["properties"]]
    unanswered = [e for e in emails if "ask_outcome" not in e["properties"]]
    assert answered and unanswered
    assert all(set(e["properties"]) <= {"ask_outcome", "ask_type"} for e in emails)
    repeated = api.hs.get(
        f"{api.url}/crm/v3/objects/emails", params=[("properties", "ask_type"), ("properties", "ask_outcome")]
    )
    assert repeated.json()["results"][0]["properties"].keys() <= {"ask_type", "ask_outcome"}


def test_archived_only_with_archived_true(api: Api, world: World) -> None:
    t = world.end_ms
    archived = [r.id for r in world.hubspot["contacts"] if r.is_archived_at(t)]
    assert archived
    got = api.list_all("contacts", archived="true", limit=3)
    assert [r["id"] for r in got] == archived
    assert all(r["archived"] is True and "archivedAt" in r for r in got)
    assert not set(archived) & {r["id"] for r in api.list_all("contacts", limit=100)}
    one = archived[0]
    assert api.hs_get(f"/crm/v3/objects/contacts/{one}").status_code == 404
    single = api.hs_get(f"/crm/v3/objects/contacts/{one}", archived="true")
    assert single.status_code == 200 and single.json()["archived"] is True
    missing = api.hs_get("/crm/v3/objects/contacts/999999")
    assert missing.status_code == 404 and missing.json()["category"] == "OBJECT_NOT_FOUND"


def test_merge_survivor_lists_merged_ids(api: Api, world: World) -> None:
    dup = next(r for r in world.hubspot["contacts"] if r.merged_into)
    survivor = api.hs_get(
        f"/crm/v3/objects/contacts/{dup.merged_into}", properties="hs_merged_object_ids"
    ).json()
    assert survivor["properties"]["hs_merged_object_ids"] == dup.id


def test_associations_param(api: Api, world: World) -> None:
    deal = world.hubspot["deals"][0]
    contact_id = deal.associations["contacts"][0]
    got = api.hs_get(f"/crm/v3/objects/contacts/{contact_id}", associations="deals").json()
    assert got["associations"]["deals"]["results"] == [{"id": deal.id, "type": "contact_to_deal"}]
    listed = {r["id"]: r for r in api.list_all("deals", associations="contacts", limit=50)}
    assert listed[deal.id]["associations"]["contacts"]["results"][0]["id"] == contact_id


# -- search ----------------------------------------------------------------------------------------


def test_search_paging_offsets_total_and_default_limit(api: Api, world: World) -> None:
    expected = live_ids(world, "contacts", world.end_ms)
    first = api.hs_search("contacts", {}).json()
    assert first["total"] == len(expected) and len(first["results"]) == 10
    assert first["paging"] == {"next": {"after": "10"}}
    results, totals = api.search_all(
        "contacts", {"limit": 7, "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]}
    )
    assert [r["id"] for r in results] == expected
    assert set(totals) == {len(expected)}
    desc = api.hs_search(
        "contacts", {"limit": 200, "sorts": [{"propertyName": "hs_object_id", "direction": "DESCENDING"}]}
    )
    assert [r["id"] for r in desc.json()["results"]] == expected[::-1]


def test_search_lastmodified_property_per_object_and_epoch_ms(api: Api, world: World) -> None:
    cut = world.start_ms + 10 * 24 * HOUR
    t = world.end_ms
    for obj, prop in (
        ("contacts", "lastmodifieddate"),
        ("deals", "hs_lastmodifieddate"),
        ("emails", "hs_lastmodifieddate"),
    ):
        want = sorted(
            (
                r.id
                for r in world.hubspot[obj]
                if r.created_ms <= t and not r.is_archived_at(t) and r.version_at(t).at_ms >= cut
            ),  # type: ignore[union-attr]
            key=int,
        )
        body = {
            "filterGroups": [{"filters": [{"propertyName": prop, "operator": "GTE", "value": str(cut)}]}],
            "limit": 200,
            "sorts": [{"propertyName": prop, "direction": "ASCENDING"}],
            "properties": [prop],
        }
        got = api.hs_search(obj, body).json()["results"]
        assert sorted((r["id"] for r in got), key=int) == want, obj
        stamps = [iso_to_ms(r["properties"][prop]) for r in got]
        assert stamps == sorted(stamps) and all(s >= cut for s in stamps)
        iso = datetime.fromtimestamp(cut / 1000, UTC).isoformat().replace("+00:00", "Z")
        body["filterGroups"][0]["filters"][0]["value"] = iso
        assert [r["id"] for r in api.hs_search(obj, body).json()["results"]] == [r["id"] for r in got]
    # contacts do not carry hs_lastmodifieddate: filtering on it finds nothing
    wrong = {
        "filterGroups": [
            {"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": "0"}]}
        ]
    }
    assert api.hs_search("contacts", wrong).json()["total"] == 0


def _emails_props(world: World) -> list[tuple[str, dict[str, Any]]]:
    t = world.end_ms
    return [(r.id, r.version_at(t).properties) for r in world.hubspot["emails"] if not r.is_archived_at(t)]  # type: ignore[union-attr]


OPERATOR_CASES: list[tuple[dict[str, Any], Any]] = [
    (
        {"propertyName": "ask_outcome", "operator": "EQ", "value": "ACCEPTED"},
        lambda p: p.get("ask_outcome") == "accepted",
    ),
    (
        {"propertyName": "ask_outcome", "operator": "NEQ", "value": "accepted"},
        lambda p: p.get("ask_outcome") != "accepted",
    ),
    ({"propertyName": "ask_outcome", "operator": "HAS_PROPERTY"}, lambda p: bool(p.get("ask_outcome"))),
    ({"propertyName": "ask_outcome", "operator": "NOT_HAS_PROPERTY"}, lambda p: not p.get("ask_outcome")),
    (
        {"propertyName": "hubspot_owner_id", "operator": "IN", "values": ["100", "102"]},
        lambda p: p["hubspot_owner_id"] in ("100", "102"),
    ),
    (
        {"propertyName": "hubspot_owner_id", "operator": "NOT_IN", "values": ["100"]},
        lambda p: p["hubspot_owner_id"] != "100",
    ),
    (
        {"propertyName": "hs_object_id", "operator": "LT", "value": "3010"},
        lambda p: int(p["hs_object_id"]) < 3010,
    ),
    (
        {"propertyName": "hs_object_id", "operator": "LTE", "value": "3010"},
        lambda p: int(p["hs_object_id"]) <= 3010,
    ),
    (
        {"propertyName": "hs_object_id", "operator": "GT", "value": "3010"},
        lambda p: int(p["hs_object_id"]) > 3010,
    ),
    (
        {"propertyName": "hs_object_id", "operator": "GTE", "value": "3010"},
        lambda p: int(p["hs_object_id"]) >= 3010,
    ),
    (
        {"propertyName": "hs_object_id", "operator": "BETWEEN", "value": "3005", "highValue": "3012"},
        lambda p: 3005 <= int(p["hs_object_id"]) <= 3012,
    ),
    (
        {"propertyName": "ask_type", "operator": "CONTAINS_TOKEN", "value": "intro_15"},
        lambda p: p["ask_type"] == "intro_15",
    ),
    (
        {"propertyName": "ask_type", "operator": "NOT_CONTAINS_TOKEN", "value": "intro*"},
        lambda p: not p["ask_type"].startswith("intro"),
    ),
]


@pytest.mark.parametrize(("flt", "predicate"), OPERATOR_CASES, ids=[c[0]["operator"] for c in OPERATOR_CASES])
def test_search_operators(api: Api, world: World, flt: dict[str, Any], predicate: Any) -> None:
    want = sorted((i for i, p in _emails_props(world) if predicate(p)), key=int)
    got = api.hs_search("emails", {"filterGroups": [{"filters": [flt]}], "limit": 200}).json()
    assert got["total"] == len(want)
    assert sorted((r["id"] for r in got["results"]), key=int) == want


def test_search_groups_or_filters_and(api: Api, world: World) -> None:
    props = _emails_props(world)
    want = sorted(
        (
            i
            for i, p in props
            if (p["hubspot_owner_id"] == "100" and p.get("ask_outcome") == "accepted")
            or p["hubspot_owner_id"] == "102"
        ),
        key=int,
    )
    body = {
        "limit": 200,
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "hubspot_owner_id", "operator": "EQ", "value": "100"},
                    {"propertyName": "ask_outcome", "operator": "EQ", "value": "accepted"},
                ]
            },
            {"filters": [{"propertyName": "hubspot_owner_id", "operator": "EQ", "value": "102"}]},
        ],
    }
    assert sorted((r["id"] for r in api.hs_search("emails", body).json()["results"]), key=int) == want


def _filters(n: int) -> list[dict[str, Any]]:
    return [{"propertyName": "hs_object_id", "operator": "GT", "value": str(i)} for i in range(n)]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"filterGroups": [{"filters": _filters(1)} for _ in range(6)]}, "filterGroups"),
        ({"filterGroups": [{"filters": _filters(7)}]}, "in a group"),
        ({"filterGroups": [{"filters": _filters(5)} for _ in range(4)]}, "too many filters"),
        ({"sorts": [{"propertyName": "createdate"}, {"propertyName": "email"}]}, "one sort"),
        ({"limit": 201}, "limit"),
        ({"after": "ten"}, "after"),
        (
            {"filterGroups": [{"filters": [{"propertyName": "x", "operator": "LIKE", "value": "1"}]}]},
            "operator",
        ),
        ({"query": "x" * 3100}, "3000"),
    ],
    ids=[
        "6-groups",
        "7-in-group",
        "20-total",
        "two-sorts",
        "limit-201",
        "after-not-int",
        "bad-operator",
        "long-body",
    ],
)
def test_search_validation_errors(api: Api, body: dict[str, Any], needle: str) -> None:
    r = api.hs_search("contacts", body)
    assert r.status_code == 400
    err = r.json()
    assert err["status"] == "error" and err["category"] == "VALIDATION_ERROR" and "correlationId" in err
    assert needle in err["message"]
    assert "X-HubSpot-RateLimit-Max" not in r.headers
    # at the caps themselves the request is fine
    ok = {"filterGroups": [{"filters": _filters(6)}, {"filters": _filters(6)}, {"filters": _filters(6)}]}
    assert api.hs_search("contacts", ok).status_code == 200


def test_search_10k_cap(serve: Any) -> None:
    w = make_world(10_050, activity=False)
    a = serve(w, clock_ms=w.end_ms)
    results, totals = [], []
    after = 0
    while True:
        r = a.hs_search(
            "contacts",
            {
                "limit": 200,
                "after": str(after),
                "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            },
        )
        if r.status_code == 400:
            break
        page = r.json()
        results += page["results"]
        totals.append(page["total"])
        after = int(page["paging"]["next"]["after"])
    assert after == 10_000 and len(results) == 10_000 and set(totals) == {10_050}
    assert "10000" in r.json()["message"]
    assert a.hs_search("contacts", {"limit": 10, "after": "9990"}).status_code == 200
    assert a.hs_search("contacts", {"limit": 11, "after": "9990"}).status_code == 400
    # Airbyte's workaround (filter hs_object_id GT last id, restart at 0) reaches the rest
    last = results[-1]["id"]
    rest = a.hs_search(
        "contacts",
        {
            "limit": 200,
            "filterGroups": [
                {"filters": [{"propertyName": "hs_object_id", "operator": "GT", "value": last}]}
            ],
        },
    )
    assert rest.json()["total"] == 50


def test_search_never_returns_archived(api: Api, world: World) -> None:
    archived = {r.id for r in world.hubspot["contacts"] if r.is_archived_at(world.end_ms)}
    results, _ = api.search_all("contacts", {"limit": 200})
    assert archived and not archived & {r["id"] for r in results}
    assert all(r["archived"] is False for r in results)


def test_search_index_lag(serve: Any, world: World) -> None:
    from leadflow.sandbox.server import Faults

    rec = world.hubspot["contacts"][5]
    a = serve(world, clock_ms=rec.created_ms + 30_000, faults=Faults(search_index_lag_s=60))
    flt = {
        "filterGroups": [{"filters": [{"propertyName": "hs_object_id", "operator": "EQ", "value": rec.id}]}]
    }
    assert a.hs_search("contacts", flt).json()["total"] == 0  # created 30 s ago: not indexed yet
    assert a.hs_get(f"/crm/v3/objects/contacts/{rec.id}").status_code == 200  # reads are immediate
    a.server.advance(31)
    assert a.hs_search("contacts", flt).json()["total"] == 1


# -- auth, errors, rate limits ---------------------------------------------------------------------


def test_401(api: Api) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": api.cal.headers["Authorization"]},
    ):
        r = requests.get(f"{api.url}/crm/v3/objects/contacts", headers=headers, timeout=10)
        assert r.status_code == 401
        body = r.json()
        assert body["status"] == "error" and body["category"] == "INVALID_AUTHENTICATION"
        assert "Bearer" not in r.text and "hs-sandbox" not in r.text


def test_burst_limit_429_and_headers(serve: Any, world: World) -> None:
    a = serve(
        world, limits=Limits(hubspot_burst_per_10s=5, hubspot_search_per_s=0, calendly_per_min=0, daily=1000)
    )
    remaining = []
    for _ in range(5):
        r = a.hs_get("/crm/v3/objects/contacts")
        assert r.status_code == 200
        assert r.headers["X-HubSpot-RateLimit-Max"] == "5"
        assert r.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        assert r.headers["X-HubSpot-RateLimit-Daily"] == "1000"
        remaining.append(int(r.headers["X-HubSpot-RateLimit-Remaining"]))
    assert remaining == [4, 3, 2, 1, 0]
    r = a.hs_get("/crm/v3/objects/contacts")
    assert r.status_code == 429
    body = r.json()
    assert body["errorType"] == "RATE_LIMIT" and body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert {"status", "message", "correlationId", "requestId"} <= set(body)
    assert a.hs_search("contacts", {}).status_code == 200  # search has its own budget


def test_search_limit_and_no_headers_on_search(serve: Any, world: World) -> None:
    a = serve(
        world,
        limits=Limits(hubspot_burst_per_10s=100, hubspot_search_per_s=2, calendly_per_min=0, daily=1000),
    )
    codes = [a.hs_search("contacts", {}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    r = a.hs_search("contacts", {})
    assert not [h for h in r.headers if h.lower().startswith("x-hubspot-ratelimit")]
    assert r.json()["errorType"] == "RATE_LIMIT"
    listed = a.hs_get("/crm/v3/objects/contacts")
    assert listed.status_code == 200 and "X-HubSpot-RateLimit-Remaining" in listed.headers


def test_daily_limit(serve: Any, world: World) -> None:
    a = serve(
        world, limits=Limits(hubspot_burst_per_10s=0, hubspot_search_per_s=0, calendly_per_min=0, daily=3)
    )
    codes = [a.hs_get("/crm/v3/owners").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = a.hs_get("/crm/v3/owners")
    assert r.json()["policyName"] == "DAILY"
    assert "X-HubSpot-RateLimit-Daily-Remaining" in r.headers


def test_unlimited_sends_no_limit_headers(api: Api) -> None:
    r = api.hs_get("/crm/v3/objects/contacts")
    assert not [h for h in r.headers if h.lower().startswith("x-hubspot-ratelimit")]


# -- owners, pipelines, v4 associations ------------------------------------------------------------


def test_owners_paging(api: Api, world: World) -> None:
    first = api.hs_get("/crm/v3/owners", limit=3).json()
    assert len(first["results"]) == 3
    rest = api.hs_get("/crm/v3/owners", limit=3, after=first["paging"]["next"]["after"]).json()
    ids = [o["id"] for o in first["results"] + rest["results"]]
    assert ids == sorted((o.id for o in world.owners), key=int) and "paging" not in rest
    owner = first["results"][0]
    assert owner["teams"][0]["primary"] is True and isinstance(owner["userId"], int)
    assert api.hs_get(f"/crm/v3/owners/{owner['id']}").json()["email"] == owner["email"]


def test_pipelines(api: Api, world: World) -> None:
    for path in ("/crm/v3/pipelines/deals", "/crm/v3/pipelines/0-3"):
        got = api.hs_get(path).json()["results"]
        assert got == json.loads(json.dumps(world.pipelines))
    stages = [s["id"] for s in api.hs_get("/crm/v3/pipelines/deals/default").json()["stages"]]
    assert "closedwon" in stages and "closedlost" in stages


def test_v4_batch_read(api: Api, world: World) -> None:
    meetings = [m for m in world.hubspot["meetings"]]
    body = {"inputs": [{"id": m.id} for m in meetings]}
    r = api.hs.post(f"{api.url}/crm/v4/associations/meetings/contacts/batch/read", json=body, timeout=10)
    assert r.status_code == 200
    got = r.json()
    assert got["status"] == "COMPLETE"
    by_from = {res["from"]["id"]: res["to"] for res in got["results"]}
    for m in meetings:
        (to,) = by_from[m.id]
        assert to["toObjectId"] == int(m.associations["contacts"][0])
        assert to["associationTypes"] == [{"category": "HUBSPOT_DEFINED", "typeId": 200, "label": None}]
    # reverse direction is indexed too: contact -> deal is type 4
    deal = world.hubspot["deals"][0]
    rev = api.hs.post(
        f"{api.url}/crm/v4/associations/0-1/0-3/batch/read",
        json={"inputs": [{"id": deal.associations["contacts"][0]}]},
        timeout=10,
    ).json()
    assert rev["results"][0]["to"][0]["associationTypes"][0]["typeId"] == 4
    too_many = api.hs.post(
        f"{api.url}/crm/v4/associations/meetings/contacts/batch/read",
        json={"inputs": [{"id": str(i)} for i in range(1001)]},
        timeout=10,
    )
    assert too_many.status_code == 400
    missing = api.hs.post(
        f"{api.url}/crm/v4/associations/meetings/contacts/batch/read",
        json={"inputs": [{"id": "77"}]},
        timeout=10,
    )
    assert missing.status_code == 207 and missing.json()["numErrors"] == 1


def test_unknown_endpoint(api: Api) -> None:
    r = api.hs.delete(f"{api.url}/crm/v3/objects/contacts/1", timeout=10)
    assert r.status_code == 404 and r.json()["status"] == "error"
    counts = Counter(api.server.stats()["requests"].keys())
    assert counts["hubspot.invalid"] == 1
