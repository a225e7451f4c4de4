"""Incremental builds: builds after small syncs equal a `--full-refresh` build, row by row.

Three syncs of the `tiny` world (raw rows written from the World with later `_loaded_at`), each built
incrementally with `as_of` at the sync time, so that between builds a contact is merged away (its
lead must disappear), asks pass their response window (pending -> no_response) and Calendly bookings
pass their start (scheduled -> held) without any new raw row of theirs. After the second and third
build the marts and the lead-grain intermediate tables must equal a full refresh of the same raw data.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from leadflow.sandbox.generate import generate_world
from leadflow.sandbox.scenario import load_scenario
from leadflow.sandbox.world import hubspot_time
from leadflow.transform.runner import build, project_dir
from leadflow.transform.world_raw import write_raw_from_world

from .conftest import SCENARIOS, settings_at

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dbt")]

TABLES = (
    "marts.leads",
    "marts.asks",
    "marts.appointments",
    "marts.concession_sequences",
    "marts.concession_outcomes",
    "marts.funnel_weekly",
    "marts.process_capability",
    "intermediate.int_asks_sequenced",
    "intermediate.int_appointments_attributed",
    "intermediate.int_lead_journey",
    # the lead-resolution tables (rebuilt each time) and the fingerprints (only affected leads replaced)
    "intermediate.int_contact_merges",
    "intermediate.int_contact_links",
    "intermediate.int_leads_resolved",
    "intermediate.int_asks",
    "intermediate.int_appointments",
    "intermediate.int_deals",
    "intermediate.int_lead_fingerprints",
)
DAY_MS = 86_400_000


def _query(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _tables(warehouse: Path) -> dict[str, list[tuple[Any, ...]]]:
    # a fingerprint row names the build that stored it: differs between incremental and full builds
    def cols(t: str) -> str:
        return "* exclude (invocation_id)" if t.endswith("int_lead_fingerprints") else "*"

    return {t: _query(warehouse, f"select {cols(t)} from {t} order by all") for t in TABLES}


def _states(warehouse: Path, table: str, key: str, column: str) -> dict[str, str]:
    return dict(_query(warehouse, f"select {key}, {column} from marts.{table}"))


def _full_refresh_copy(warehouse: Path, home: Path, as_of: str) -> dict[str, list[tuple[Any, ...]]]:
    home.mkdir()
    shutil.copy(warehouse, home / "leadflow.duckdb")
    settings = settings_at(home)
    build(settings, as_of=as_of, full_refresh=True)
    return _tables(settings.warehouse)


def test_incremental_builds_equal_full_refresh(tmp_path: Path) -> None:
    world = generate_world(load_scenario(SCENARIOS / "tiny.yaml"))
    settings = settings_at(tmp_path / "inc")
    wh = settings.warehouse
    wh.parent.mkdir(parents=True, exist_ok=True)
    cuts = (world.end_ms - 5 * DAY_MS, world.end_ms - 2 * DAY_MS, world.end_ms)

    write_raw_from_world(world, wh, until_ms=cuts[0], loaded_at_ms=cuts[0])
    build(settings, as_of=hubspot_time(cuts[0]))
    leads_1 = {r[0] for r in _query(wh, "select lead_id from marts.leads")}
    asks_1 = _states(wh, "asks", "ask_id", "response")
    appts_1 = _states(wh, "appointments", "appointment_id", "status")

    added = write_raw_from_world(world, wh, since_ms=cuts[0], until_ms=cuts[1], loaded_at_ms=cuts[1])
    assert sum(added.values()) > 0
    build(settings, as_of=hubspot_time(cuts[1]))
    second = _tables(wh)
    assert second == _full_refresh_copy(wh, tmp_path / "fr2", hubspot_time(cuts[1]))

    # what happened between the builds really exercised deletes and time-only changes
    leads_2 = {r[0] for r in _query(wh, "select lead_id from marts.leads")}
    assert leads_1 - leads_2, "a lead (merged away or archived) must disappear"
    asks_2 = _states(wh, "asks", "ask_id", "response")
    assert any(asks_1[k] == "pending" and asks_2.get(k) == "no_response" for k in asks_1)
    appts_2 = _states(wh, "appointments", "appointment_id", "status")

    added = write_raw_from_world(world, wh, since_ms=cuts[1], loaded_at_ms=cuts[2])
    assert sum(added.values()) > 0
    build(settings, as_of=hubspot_time(cuts[2]))
    third = _tables(wh)
    appts_3 = _states(wh, "appointments", "appointment_id", "status")
    assert any(
        before.get(k) == "scheduled" and appts_3.get(k) == "held"
        for before in (appts_1, appts_2)
        for k in before
    ), "a Calendly booking must pass its start between builds"
    # the last build recomputed only the leads whose inputs changed
    affected, total = _query(
        wh, "select count(*) filter (where is_affected), count(*) from intermediate.int_affected_leads"
    )[0]
    assert 0 < affected < total

    build(settings, as_of=hubspot_time(cuts[2]), full_refresh=True)
    assert _tables(wh) == third
    assert third["marts.leads"], "marts must not be empty"


def _new_contact_version(warehouse: Path, contact_id: str, properties: dict[str, str], tag: str) -> None:
    """Append a later raw version of a contact: its latest payload with `properties` changed."""
    con = duckdb.connect(str(warehouse))
    try:
        version_ts, payload = con.execute(
            "select version_ts, payload::varchar from raw.hubspot__contacts where record_id = ?"
            " order by version_ts desc limit 1",
            [contact_id],
        ).fetchall()[0]
        data = orjson.loads(payload)
        data["properties"] |= properties
        con.execute(
            "insert into raw.hubspot__contacts values"
            " (?, ? + interval 1 second, false, ?::json, ?, 'test-batch', 'test-file', now())",
            [contact_id, version_ts, orjson.dumps(data).decode(), tag],
        )
    finally:
        con.close()


def test_contact_version_that_changes_nothing_the_leads_read_recomputes_no_lead(tmp_path: Path) -> None:
    """D34: a contact version with only an activity property (`hs_analytics_num_page_views`, what
    `contacts.activity_updates` generates) leaves its lead unaffected; a new owner does not."""
    world = generate_world(load_scenario(SCENARIOS / "tiny.yaml"))
    settings = settings_at(tmp_path / "inc")
    wh = settings.warehouse
    wh.parent.mkdir(parents=True, exist_ok=True)
    as_of = hubspot_time(world.end_ms)
    write_raw_from_world(world, wh, loaded_at_ms=world.end_ms)
    build(settings, as_of=as_of)
    quiet, moved = (r[0] for r in _query(wh, "select lead_id from marts.leads order by lead_id limit 2"))
    old_owner = _query(wh, f"select owner_id from marts.leads where lead_id = '{moved}'")[0][0]
    new_owner = _query(
        wh, f"select min(owner_id) from staging.stg_hubspot__owners where owner_id <> '{old_owner}'"
    )[0][0]
    _new_contact_version(wh, quiet, {"hs_analytics_num_page_views": "3"}, "activity-only")
    _new_contact_version(wh, moved, {"hubspot_owner_id": new_owner}, "new-owner")

    build(settings, as_of=as_of)
    affected = {
        r[0] for r in _query(wh, "select lead_id from intermediate.int_affected_leads where is_affected")
    }
    assert affected == {moved}
    assert _query(wh, f"select owner_id from marts.leads where lead_id = '{moved}'")[0][0] == new_owner
    assert _tables(wh) == _full_refresh_copy(wh, tmp_path / "fr", as_of)


def test_lead_fingerprint_hashes_every_resolved_column_but_loaded_at(tmp_path: Path) -> None:
    """The fingerprint lists `int_leads_resolved`'s columns: a new column must be added there too."""
    model = (project_dir() / "models" / "intermediate" / "int_affected_leads.sql").read_text()
    listed = model.split("select\n            ", 1)[1].split("\n        from", 1)[0]
    hashed = {c.strip() for c in listed.split(",")}
    resolved = (project_dir() / "models" / "intermediate" / "int_leads_resolved.sql").read_text()
    final = resolved.rsplit("\nselect\n", 1)[1].split("\nfrom contacts", 1)[0]
    produced = {line.strip().rstrip(",").rsplit(" as ", 1)[-1].split(".")[-1] for line in final.splitlines()}
    assert hashed == produced - {"_loaded_at"}
