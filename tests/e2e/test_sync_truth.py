"""End to end: `pipeline.sync` against the real sandbox over loopback HTTP into a real DuckDB file.

Full sync equals the sandbox truth (every record exactly once, archived records as tombstones, merges,
late cancellations and no-shows); stepped incremental syncs land only new versions and a sync with no
change loads nothing; transport faults change nothing; more than 10,000 changes in one incremental
window get past HubSpot's search cap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from leadflow import pipeline
from leadflow.sandbox.generate import generate_world
from leadflow.sandbox.scenario import parse_scenario
from leadflow.sandbox.server import Faults
from leadflow.sandbox.world import HUBSPOT_OBJECTS, Record, Version, World

from .conftest import query, raw_snapshot, sandbox, settings_for

SCENARIO = {
    "name": "e2e",
    "seed": 11,
    "start": "2025-03-03",
    "end": "2025-03-24",
    "leads_per_day": {"weekday": 8, "weekend": 2},
    "teams": [{"name": "Solo", "timezone": "Europe/London", "reps": 3}],
    "acceptance": {
        "direct": 0.6,
        "door_in_the_face": 0.7,
        "door_in_the_face_other_requester": 0.6,
        "exposure_control": 0.6,
        "direct_large": 0.5,
    },
    "booking_rate": 0.95,
    "cancellation_rate": 0.25,
    "reschedule_rate": 0.15,
    "no_show_rate": 0.3,
    "contacts": {"delete_rate": 0.08, "merge_rate": 0.08, "update_rate": 0.4},
    "sheet": {"share": 0.8, "bad_rows": 0.05},
}
SOURCES = ["hubspot", "calendly", "sheet"]


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(parse_scenario(SCENARIO))


def hubspot_rows(warehouse: Path, obj: str) -> list[tuple[str, int, bool, str]]:
    return query(
        warehouse,
        f"SELECT record_id, epoch_ms(version_ts), is_deleted, payload FROM raw.hubspot__{obj} ORDER BY 1, 2",
    )


def latest_payloads(warehouse: Path, table: str) -> dict[str, dict[str, Any]]:
    rows = query(warehouse, f"SELECT record_id, arg_max(payload, version_ts) FROM raw.{table} GROUP BY 1")
    return {rid: orjson.loads(p) for rid, p in rows}


def assert_unique_versions(warehouse: Path) -> None:
    for table, rows in raw_snapshot(warehouse).items():
        keys = [(r[0], r[3]) for r in rows]
        assert len(keys) == len(set(keys)), f"{table}: a version landed twice"


def assert_hubspot_matches(world: World, warehouse: Path, t: int) -> None:
    """Live records at their version current at t, archived ones as tombstones; nothing else."""
    for obj in HUBSPOT_OBJECTS:
        rows = hubspot_rows(warehouse, obj)
        latest: dict[str, tuple[int, bool]] = {}
        for rid, ts, deleted, _ in rows:
            if rid not in latest or (ts, deleted) >= latest[rid]:
                latest[rid] = (ts, deleted)
        expected: dict[str, tuple[int, bool]] = {}
        for rec in world.hubspot[obj]:
            v = rec.version_at(t)
            if v is None:
                continue
            if rec.is_archived_at(t):
                assert rec.archived_ms is not None
                expected[rec.id] = (max(v.at_ms, rec.archived_ms), True)
            else:
                expected[rec.id] = (v.at_ms, False)
        assert latest == expected, obj


def invitee_state(rec: Record, t: int) -> dict[str, Any]:
    v = rec.version_at(t)
    assert v is not None
    return v.properties


@pytest.mark.slow
def test_full_sync_equals_the_sandbox_truth(world: World, tmp_path: Path) -> None:
    truth = world.truth["entities"]
    with sandbox(world) as server:
        settings = settings_for(server, tmp_path)
        report = pipeline.sync(settings, SOURCES)
        wh = settings.warehouse
        assert_hubspot_matches(world, wh, world.end_ms)
        assert_unique_versions(wh)
        for obj in HUBSPOT_OBJECTS:
            got = query(
                wh, f"SELECT count(DISTINCT record_id), count(*) FILTER (is_deleted) FROM raw.hubspot__{obj}"
            )[0]
            assert got == (truth["hubspot"][obj]["records"], truth["hubspot"][obj]["archived"]), obj
        # merges: the survivor lists the duplicate, the duplicate is a tombstone
        merged = [r for r in world.hubspot["contacts"] if r.merged_into]
        assert merged, "the scenario should plant merges"
        contacts = latest_payloads(wh, "hubspot__contacts")
        for dup in merged:
            assert contacts[dup.id]["archived"] is True
            survivor = contacts[str(dup.merged_into)]
            assert dup.id in survivor["properties"].get("hs_merged_object_ids", "").split(";")
        # Calendly: every event and invitee once, final states as in the truth (cancellations, no-shows)
        for entity in ("scheduled_events", "invitees"):
            n = query(wh, f"SELECT count(DISTINCT record_id) FROM raw.calendly__{entity}")[0][0]
            assert n == truth["calendly"][entity]["records"]
        invitees = latest_payloads(wh, "calendly__invitees")
        canceled = sum(1 for p in invitees.values() if p["status"] == "canceled")
        no_show = sum(1 for p in invitees.values() if p.get("no_show"))
        assert (canceled, no_show) == (
            truth["calendly"]["invitees"]["canceled"],
            truth["calendly"]["invitees"]["no_show"],
        )
        assert canceled > 0 and no_show > 0
        for entity, key in (("users", "users"), ("event_types", "event_types")):
            assert (
                query(wh, f"SELECT count(DISTINCT record_id) FROM raw.calendly__{entity}")[0][0]
                == truth["calendly"][key]["records"]
            )
        # sheet: every row with an email lands under its lower-cased email
        emails = {r.values.get("email", "").strip().lower() for r in world.sheet_rows} - {""}
        landed = {r[0] for r in query(wh, "SELECT record_id FROM raw.sheet__leads")}
        assert landed <= emails and len(landed) >= 0.9 * len(emails)
        assert query(wh, "SELECT count(*) FROM raw._cursors")[0][0] >= 10
        assert report.loaded.inserted > 0
        # a second sync with nothing new loads nothing
        again = pipeline.sync(settings, SOURCES)
        assert again.loaded.inserted == 0
        assert_unique_versions(wh)


@pytest.mark.slow
def test_stepped_incremental_syncs_land_only_new_versions(world: World, tmp_path: Path) -> None:
    step_s = 2 * 86_400
    with sandbox(world, clock_ms=world.start_ms + 3 * 86_400_000) as server:
        settings = settings_for(server, tmp_path)
        wh = settings.warehouse
        seen: set[tuple[str, str, int]] = set()
        previous = -1
        while True:
            t = server.clock_ms
            pipeline.sync(settings, SOURCES)
            assert_hubspot_matches(world, wh, t)
            rows = {(obj, rid, ts) for obj in HUBSPOT_OBJECTS for rid, ts, _, _ in hubspot_rows(wh, obj)}
            new = rows - seen
            # every new row is a version that became current (or a tombstone) since the last sync
            for obj, rid, ts in new:
                assert previous < ts <= t, (obj, rid, ts, previous, t)
            assert seen <= rows
            seen, previous = rows, t
            if t >= world.end_ms:
                break
            server.advance(step_s)
        assert pipeline.sync(settings, SOURCES).loaded.inserted == 0
        assert_unique_versions(wh)
        # late cancellations and no-shows of past events were read again (Calendly re-read window)
        invitees = latest_payloads(wh, "calendly__invitees")
        assert any(invitee_state(r, world.end_ms)["status"] == "canceled" for r in world.invitees)
        for rec in world.invitees:
            state = invitee_state(rec, world.end_ms)
            got = invitees[next(u for u in invitees if u.endswith(rec.id))]
            assert got["status"] == state["status"]
            assert bool(got.get("no_show")) == bool(state.get("no_show"))


TRANSPORT_FAULTS = Faults(
    rate_limit_429=0.05,
    retry_after_share=0.5,
    server_errors=0.05,
    slow_responses=0.02,
    slow_delay_s=0.2,
    truncated_json=0.03,
    duplicate_across_pages=0.1,
)


@pytest.mark.slow
def test_transport_faults_change_nothing(world: World, tmp_path: Path) -> None:
    with sandbox(world) as server:
        clean = settings_for(server, tmp_path / "clean")
        pipeline.sync(clean, SOURCES)
    with sandbox(world, faults=TRANSPORT_FAULTS) as server:
        faulty = settings_for(server, tmp_path / "faulty")
        pipeline.sync(faulty, SOURCES)
        stats = server.stats()
    assert raw_snapshot(faulty.warehouse) == raw_snapshot(clean.warehouse)
    assert stats, "the faulty server should report what it injected"


@pytest.mark.slow
def test_updates_between_pages_end_in_the_same_final_state(tmp_path: Path) -> None:
    world = generate_world(parse_scenario(SCENARIO))  # the server mutates this one
    with sandbox(world, faults=Faults(update_between_pages=0.3, duplicate_across_pages=0.1)) as server:
        settings = settings_for(server, tmp_path)
        pipeline.sync(settings, SOURCES)
        pipeline.sync(settings, SOURCES)  # picks up what changed behind the pager
        assert_hubspot_matches(server.world, settings.warehouse, server.clock_ms)
        assert_unique_versions(settings.warehouse)


def _big_world(n: int) -> World:
    t0 = 1_740_000_000_000
    recs = []
    for i in range(1, n + 1):
        p1 = {
            "hs_object_id": str(i),
            "createdate": str(t0),
            "lastmodifieddate": str(t0 + i),
            "email": f"x{i}@example.com",
        }
        p2 = p1 | {"lastmodifieddate": str(t0 + 3_600_000 + i), "firstname": "Changed"}
        recs.append(Record("contact", str(i), t0, [Version(t0 + i, p1), Version(t0 + 3_600_000 + i, p2)]))
    return World(
        seed=0,
        start_ms=t0,
        end_ms=t0 + 7_200_000,
        portal_id=1,
        organization_uuid="o",
        teams=[],
        owners=[],
        pipelines=[],
        hubspot={"contacts": recs} | {o: [] for o in HUBSPOT_OBJECTS if o != "contacts"},
        event_types=[],
        events=[],
        invitees=[],
        sheet_columns=["email"],
        sheet_rows=[],
    )


@pytest.mark.slow
def test_more_than_10k_changes_pass_the_search_cap(tmp_path: Path) -> None:
    n = 10_250
    world = _big_world(n)
    with sandbox(world, clock_ms=world.start_ms + 1_800_000) as server:
        settings = settings_for(server, tmp_path)
        first = pipeline.sync(settings, ["hubspot"])
        assert first.loaded.inserted == n
        server.advance(7_200)
        second = pipeline.sync(settings, ["hubspot"])
        notes = [x for r in second.extracted if r.entity == "contacts" for x in r.notes]
        assert second.loaded.inserted == n, notes
    got = query(
        settings.warehouse,
        "SELECT count(*), count(DISTINCT record_id), count(DISTINCT record_hash) FROM raw.hubspot__contacts",
    )
    assert got == [(2 * n, n, 2 * n)]
