"""Lead sheet CSV, the sandbox clock and admin API, and counting a generated world through the API."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
import requests

from leadflow.sandbox.server import Limits, SandboxServer, ServerConfig
from leadflow.sandbox.server.testworld import DAY, HOUR, entity_counts
from leadflow.sandbox.world import HUBSPOT_OBJECTS, LAST_MODIFIED_PROPERTY, World

from .conftest import Api

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def world(hand_world: World) -> World:
    return hand_world


def sheet_url(a: Api) -> str:
    return f"{a.url}/spreadsheets/d/{a.server.config.sheet_key}/export?format=csv&gid=0"


def test_sheet_csv_grows_with_the_clock(serve: Any, world: World) -> None:
    a = serve(world, clock_ms=world.start_ms + 10 * DAY)
    r = requests.get(sheet_url(a), timeout=10)  # no Authorization header: a published sheet
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == world.sheet_columns
    want = [r for r in world.sheet_rows if r.added_ms <= a.server.clock_ms]
    assert [row[0] for row in rows[1:]] == [r.values["email"] for r in want]
    etag = r.headers["ETag"]
    assert "Last-Modified" in r.headers
    assert requests.get(sheet_url(a), headers={"If-None-Match": etag}, timeout=10).status_code == 304
    a.server.set_clock(world.end_ms)
    r2 = requests.get(sheet_url(a), headers={"If-None-Match": etag}, timeout=10)
    assert r2.status_code == 200 and r2.headers["ETag"] != etag
    assert len(list(csv.reader(io.StringIO(r2.text)))) - 1 == len(world.sheet_rows) > len(rows) - 1
    assert (
        requests.get(f"{a.url}/spreadsheets/d/other-key/export?format=csv&gid=0", timeout=10).status_code
        == 404
    )
    assert requests.get(sheet_url(a).replace("gid=0", "gid=3"), timeout=10).status_code == 404


def test_clock_admin_api(serve: Any, world: World) -> None:
    a = serve(world, clock_ms=world.start_ms)
    clock = requests.get(f"{a.url}/_sandbox/clock", timeout=10).json()
    assert clock["now_ms"] == world.start_ms and clock["end_ms"] == world.end_ms and clock["at_end"] is False
    moved = requests.post(f"{a.url}/_sandbox/clock", json={"advance_s": 3600}, timeout=10).json()
    assert moved["now_ms"] == world.start_ms + HOUR == a.server.clock_ms
    target = "2026-01-05T00:00:00Z"
    assert (
        requests.post(f"{a.url}/_sandbox/clock", json={"set": target}, timeout=10).json()["now"]
        == "2026-01-05T00:00:00.000Z"
    )
    back = requests.post(f"{a.url}/_sandbox/clock", json={"set": "2026-01-02T00:00:00Z"}, timeout=10)
    assert back.status_code == 400 and "never goes back" in back.json()["error"]
    assert requests.post(f"{a.url}/_sandbox/clock", json={"advance_s": -5}, timeout=10).status_code == 400
    assert requests.post(f"{a.url}/_sandbox/clock", json={"nonsense": 1}, timeout=10).status_code == 400
    assert a.server.clock_ms == world.start_ms + 4 * DAY
    end = requests.post(f"{a.url}/_sandbox/clock", json={"advance_s": 10**9}, timeout=10).json()
    assert end["now_ms"] == world.end_ms and end["at_end"] is True  # clamped to the world end
    assert a.server.advance(60) == world.end_ms


def test_clock_reveals_records_and_versions(serve: Any, world: World) -> None:
    rec = next(r for r in world.hubspot["contacts"] if len(r.versions) > 1 and r.archived_ms is None)
    a = serve(world, clock_ms=rec.created_ms - 1)
    ids = lambda: {r["id"] for r in a.list_all("contacts", limit=100)}  # noqa: E731
    assert rec.id not in ids()
    assert a.hs_get(f"/crm/v3/objects/contacts/{rec.id}").status_code == 404
    a.server.set_clock(rec.created_ms)
    assert rec.id in ids()
    first = a.hs_get(
        f"/crm/v3/objects/contacts/{rec.id}", properties="lifecyclestage,lastmodifieddate"
    ).json()
    a.server.set_clock(rec.versions[1].at_ms)
    second = a.hs_get(
        f"/crm/v3/objects/contacts/{rec.id}", properties="lifecyclestage,lastmodifieddate"
    ).json()
    assert first["properties"] != second["properties"]
    assert second["updatedAt"] > first["updatedAt"]
    flt = {
        "filterGroups": [
            {
                "filters": [
                    {
                        "propertyName": "lastmodifieddate",
                        "operator": "GTE",
                        "value": str(rec.versions[1].at_ms),
                    }
                ]
            }
        ]
    }
    assert rec.id in {r["id"] for r in a.hs_search("contacts", flt).json()["results"]}
    deleted = next(r for r in world.hubspot["contacts"] if r.archived_ms and not r.merged_into)
    a.server.set_clock(max(a.server.clock_ms, deleted.archived_ms - 1))
    if not deleted.is_archived_at(a.server.clock_ms):
        assert deleted.id in ids()
    a.server.set_clock(max(a.server.clock_ms, deleted.archived_ms))
    assert deleted.id not in ids()
    assert deleted.id in {r["id"] for r in a.list_all("contacts", archived="true")}


def test_stats_and_truth(api: Api, world: World) -> None:
    api.hs_get("/crm/v3/objects/contacts")
    api.hs_get("/crm/v3/objects/contacts")
    requests.get(f"{api.url}/crm/v3/objects/contacts", timeout=10)
    stats = requests.get(f"{api.url}/_sandbox/stats", timeout=10).json()
    assert stats["requests"]["hubspot.list"] == {"200": 2, "401": 1}
    assert stats["clock_ms"] == world.end_ms
    assert api.server.stats()["requests"]["admin.stats"] == {"200": 1}
    truth = requests.get(f"{api.url}/_sandbox/truth", timeout=10).json()
    assert truth == {"entities": entity_counts(world)}


def test_hand_world_counts_through_the_api(api: Api, world: World) -> None:
    """Every entity counted over HTTP at the world end equals the hand-built truth."""
    truth = world.truth["entities"]
    for obj in HUBSPOT_OBJECTS:
        assert len(api.list_all(obj, limit=100)) == truth[f"hubspot.{obj}"]["live"], obj
        assert len(api.list_all(obj, limit=100, archived="true")) == truth[f"hubspot.{obj}"]["archived"], obj


# -- against the real generator --------------------------------------------------------------------


def _versions_seen(a: Api, world: World) -> dict[str, set[tuple[str, str]]]:
    """Step the clock through every version time (it never goes back, so all objects at once) and
    collect the (id, last-modified) pairs each object's list endpoints show."""
    at: dict[int, set[str]] = {}
    for obj in HUBSPOT_OBJECTS:
        for r in world.hubspot[obj]:
            for v in r.versions:
                at.setdefault(v.at_ms, set()).add(obj)
    seen: dict[str, set[tuple[str, str]]] = {obj: set() for obj in HUBSPOT_OBJECTS}
    for t in sorted(at):
        a.server.set_clock(max(t, a.server.clock_ms))
        for obj in at[t]:
            prop = LAST_MODIFIED_PROPERTY[obj]
            for archived in ("false", "true"):
                for rec in a.list_all(obj, limit=100, archived=archived, properties=prop):
                    seen[obj].add((rec["id"], rec["properties"][prop]))
    return seen


def test_generated_world_counts_match_truth(serve: Any) -> None:
    """Counts every entity of scenarios/tiny.yaml through the API and compares with world.truth."""
    from leadflow.sandbox.generate import generate_world
    from leadflow.sandbox.scenario import load_scenario

    world = generate_world(load_scenario(ROOT / "scenarios" / "tiny.yaml"))
    a = serve(world, clock_ms=world.start_ms)
    hub = world.truth["entities"]["hubspot"]
    seen = _versions_seen(a, world)  # walks the clock from the start to the last version
    for obj in HUBSPOT_OBJECTS:
        assert len(seen[obj]) == hub[obj]["versions"], obj
    assert a.server.clock_ms <= world.end_ms
    a.server.set_clock(world.end_ms)
    for obj in HUBSPOT_OBJECTS:
        live = a.list_all(obj, limit=100)
        archived = a.list_all(obj, limit=100, archived="true")
        assert len(live) == hub[obj]["live"], obj
        assert len(archived) == hub[obj]["archived"], obj
        assert len(live) + len(archived) == hub[obj]["records"], obj
        assert len(a.search_all(obj, {"limit": 200})[0]) == hub[obj]["live"], obj
    assert len(a.hs_get("/crm/v3/owners").json()["results"]) == hub["owners"]["records"]
    pipelines = a.hs_get("/crm/v3/pipelines/deals").json()["results"]
    assert len(pipelines) == hub["pipelines"]["records"]
    assert sum(len(p["stages"]) for p in pipelines) == hub["pipelines"]["stages"]
    cal = world.truth["entities"]["calendly"]
    org = a.cal_get("/users/me").json()["resource"]["current_organization"]
    assert len(a.cal_all("/organization_memberships", organization=org)) == cal["users"]["records"]
    assert len(a.cal_all("/event_types", organization=org)) == cal["event_types"]["records"]
    events = a.cal_all("/scheduled_events", organization=org, count=100)
    assert len(events) == cal["scheduled_events"]["records"]
    for status in ("active", "canceled"):
        got = a.cal_all("/scheduled_events", organization=org, status=status, count=100)
        assert len(got) == cal["scheduled_events"][status]
    invitees = [
        i for e in events for i in a.cal_all(f"/scheduled_events/{e['uri'].rsplit('/', 1)[-1]}/invitees")
    ]
    assert len(invitees) == cal["invitees"]["records"]
    assert sum(i["status"] == "canceled" for i in invitees) == cal["invitees"]["canceled"]
    assert sum(i["no_show"] is not None for i in invitees) == cal["invitees"]["no_show"]
    assert sum(i["rescheduled"] for i in invitees) == cal["invitees"]["rescheduled"]
    rows = list(csv.reader(io.StringIO(requests.get(sheet_url(a), timeout=10).text)))
    assert len(rows) - 1 == world.truth["sheet"]["rows"]


def test_config_from_scenario() -> None:
    """The serve command maps a scenario's limits and faults (incl. `hubspot_daily`) onto the config."""
    from leadflow.sandbox.scenario import load_scenario
    from leadflow.sandbox.server.config import config_from_scenario

    scenario = load_scenario(ROOT / "scenarios" / "faults.yaml")
    cfg = config_from_scenario(
        scenario,
        host="127.0.0.1",
        port=0,
        clock_ms=None,
        hubspot_token=None,
        calendly_token=None,
        no_limits=False,
        no_faults=False,
    )
    assert cfg.limits.daily == scenario.limits.hubspot_daily
    assert cfg.limits.hubspot_burst_per_10s == scenario.limits.hubspot_burst_per_10s
    assert cfg.faults.server_errors == scenario.faults.server_errors
    assert cfg.hubspot_token.reveal() != cfg.calendly_token.reveal()
    off = config_from_scenario(
        scenario,
        host="127.0.0.1",
        port=0,
        clock_ms=None,
        hubspot_token="t1",
        calendly_token="t2",
        no_limits=True,
        no_faults=True,
    )
    assert (
        off.limits == Limits.unlimited()
        and off.faults.server_errors == 0
        and off.hubspot_token.reveal() == "t1"
    )
    assert repr(off.hubspot_token) == "Secret('***')"


def test_server_starts_at_world_clock_start(world: World) -> None:
    with SandboxServer(world, ServerConfig()) as server:  # hand-built worlds start at the end
        assert server.clock_ms == world.clock_start_ms == world.end_ms
        assert requests.get(f"{server.url}/_sandbox/clock", timeout=10).json()["at_end"] is True


def test_every_scenario_limit_and_fault_reaches_the_server_config() -> None:
    """The scenario and the server name their knobs separately; a rename must fail, not fall back."""
    from dataclasses import fields

    from leadflow.errors import ConfigError
    from leadflow.sandbox.scenario import Faults as ScenarioFaults
    from leadflow.sandbox.scenario import Limits as ScenarioLimits
    from leadflow.sandbox.server.config import faults_from, limits_from

    limits = ScenarioLimits(**{f.name: 7 + i for i, f in enumerate(fields(ScenarioLimits))})
    got = limits_from(limits)
    assert sorted(vars(got).values()) == sorted(vars(limits).values())  # every value arrived somewhere
    server_faults = {f.name for f in fields(ScenarioFaults)} - {"webhook_duplicates", "webhook_reorder"}
    faults = ScenarioFaults(**{name: 0.5 for name in server_faults})
    assert all(getattr(faults_from(faults), name) == 0.5 for name in server_faults)
    with pytest.raises(ConfigError, match="hubspot_burst_per_10"):
        limits_from({"hubspot_burst_per_10": 5})  # a typo is an error, not a silent default
    with pytest.raises(ConfigError, match="server_error"):
        faults_from({"server_error": 0.1})
