"""Incremental builds: builds after small syncs equal a `--full-refresh` build, row by row.

Three syncs of the `tiny` world (raw rows written from the World with later `_loaded_at`), each built
incrementally with `as_of` at the sync time, so that between builds a contact is merged away (its
lead must disappear), asks pass their response window (pending -> no_response) and Calendly bookings
pass their start (scheduled -> held) without any new raw row of theirs. After the second and third
build the marts and the lead-grain intermediate tables must equal a full refresh of the same raw data.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
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
    # the lead-resolution tables (record-level increments, D37) and the last complete build's state
    "intermediate.int_contact_merges",
    "intermediate.int_contact_links",
    "intermediate.int_leads_resolved",
    "intermediate.int_asks",
    "intermediate.int_appointments",
    "intermediate.int_deals",
    "intermediate.int_lead_build_state",
    # staging: one incremental table per large entity, tombstones kept (D41)
    "staging.stg_hubspot__contacts",
    "staging.stg_hubspot__calls",
    "staging.stg_hubspot__emails",
    "staging.stg_hubspot__meetings",
    "staging.stg_hubspot__deals",
    "staging.stg_hubspot__associations",
    "staging.stg_calendly__scheduled_events",
    "staging.stg_calendly__invitees",
    "staging.stg_sheet__leads",
)
DAY_MS = 86_400_000


def _query(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _tables(warehouse: Path) -> dict[str, list[tuple[Any, ...]]]:
    # the build state and every row's `_built_at` (D48) name the build that wrote them: they differ
    # between incremental and full builds
    stamped = {
        f"{schema}.{table}"
        for schema, table in _query(
            warehouse,
            "select table_schema, table_name from information_schema.columns where column_name = '_built_at'",
        )
    }

    def cols(t: str) -> str:
        if t.endswith("int_lead_build_state"):
            return "* exclude (completed_at, checks_at)"
        return "* exclude (_built_at)" if t in stamped else "*"

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
    # the last build recomputed only the leads whose inputs changed, and the record tables only some records
    affected = _query(wh, "select count(*) from intermediate.int_affected_leads")[0][0]
    total = _query(wh, "select count(*) from marts.leads")[0][0]
    assert 0 < affected < total
    assert _runs(wh) == dict.fromkeys(RECORD_TABLES, "done")

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


def _built_tiny_world(tmp_path: Path) -> tuple[Any, Any, str]:
    """The tiny world's raw tables in a new warehouse, built once at its end; (world, settings, as_of)."""
    world = generate_world(load_scenario(SCENARIOS / "tiny.yaml"))
    settings = settings_at(tmp_path / "inc")
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    as_of = hubspot_time(world.end_ms)
    write_raw_from_world(world, settings.warehouse, loaded_at_ms=world.end_ms)
    build(settings, as_of=as_of)
    return world, settings, as_of


def test_contact_version_that_changes_nothing_the_leads_read_recomputes_no_lead(tmp_path: Path) -> None:
    """D34: a contact version with only an activity property (`hs_analytics_num_page_views`, what
    `contacts.activity_updates` generates) leaves its lead unaffected; a new owner does not."""
    _, settings, as_of = _built_tiny_world(tmp_path)
    wh = settings.warehouse
    quiet, moved = (r[0] for r in _query(wh, "select lead_id from marts.leads order by lead_id limit 2"))
    old_owner = _query(wh, f"select owner_id from marts.leads where lead_id = '{moved}'")[0][0]
    new_owner = _query(
        wh, f"select min(owner_id) from staging.stg_hubspot__owners where owner_id <> '{old_owner}'"
    )[0][0]
    _new_contact_version(wh, quiet, {"hs_analytics_num_page_views": "3"}, "activity-only")
    _new_contact_version(wh, moved, {"hubspot_owner_id": new_owner}, "new-owner")

    build(settings, as_of=as_of)
    affected = {r[0] for r in _query(wh, "select lead_id from intermediate.int_affected_leads")}
    assert affected == {moved}
    assert _query(wh, f"select owner_id from marts.leads where lead_id = '{moved}'")[0][0] == new_owner
    assert _tables(wh) == _full_refresh_copy(wh, tmp_path / "fr", as_of)


RECORD_TABLES = (
    "int_contact_merges",
    "int_contact_links",
    "int_leads_resolved",
    "int_asks",
    "int_appointments",
    "int_deals",
)


def _runs(warehouse: Path) -> dict[str, str]:
    """How each record table built last time: `done` (record-level increment) or `full` (D37)."""
    rows = _query(
        warehouse,
        "select model, arg_max(kind, changed_at) from intermediate._record_changes"
        " where kind in ('done', 'full') group by model",
    )
    return dict(rows)


def _latest(warehouse: Path, table: str, record_id: str) -> tuple[Any, dict[str, Any]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        version_ts, payload = con.execute(
            f"select version_ts, payload::varchar from raw.{table} where record_id = ?"
            " order by version_ts desc limit 1",
            [record_id],
        ).fetchall()[0]
    finally:
        con.close()
    return version_ts, orjson.loads(payload)


def _land(
    warehouse: Path,
    table: str,
    record_id: str,
    payload: dict[str, Any],
    version_ts: Any,
    *,
    deleted: bool = False,
) -> None:
    """Append one raw version (loaded now, i.e. after everything the last build read)."""
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(
            f"insert into raw.{table} values (?, ?, ?, ?::json, ?, 'test-batch', 'test-file', now())",
            [
                record_id,
                version_ts,
                deleted,
                orjson.dumps(payload).decode(),
                f"test-{table}-{record_id}-{deleted}",
            ],
        )
    finally:
        con.close()


def _bump(warehouse: Path, table: str, record_id: str, change: Any = None, *, deleted: bool = False) -> None:
    """A later version of a raw record: its latest payload passed through `change` (or a tombstone)."""
    version_ts, payload = _latest(warehouse, table, record_id)
    if change is not None:
        change(payload)
    _land(warehouse, table, record_id, payload, version_ts + timedelta(seconds=1), deleted=deleted)


def _one(warehouse: Path, sql: str) -> Any:
    rows = _query(warehouse, sql)
    assert rows, sql
    return rows[0][0] if len(rows[0]) == 1 else rows[0]


def test_record_level_triggers_equal_full_refresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """D37: each input change a record table relies on, landed after a complete build, then an
    incremental build that must equal a full refresh: an archived engagement, an association moved to
    another contact, a contact merged into another, a new lead-sheet row, a contact's changed e-mail
    (its Calendly booking no longer resolves to it), a cancelled Calendly event; then the changes that
    rebuild the record tables in full: an owner renamed, a changed seed, `as_of` moved back."""
    world, settings, as_of = _built_tiny_world(tmp_path)
    wh = settings.warehouse

    def check(name: str, at: str = as_of) -> None:
        assert _tables(wh) == _full_refresh_copy(wh, tmp_path / name, at), name

    # 1. record-level changes, each in a different lead
    call_ask, call_lead = _one(
        wh, "select ask_id, lead_id from marts.asks where engagement_type = 'calls' order by ask_id limit 1"
    )
    email_ask, email_lead = _one(
        wh,
        f"select ask_id, lead_id from marts.asks where engagement_type = 'emails' and lead_id <> '{call_lead}' order by ask_id limit 1",
    )
    booking, booking_lead = _one(
        wh,
        "select appointment_id, lead_id from marts.appointments where appointment_source = 'calendly_event' order by 1 limit 1",
    )
    event_booking, event_uri = _one(
        wh,
        "select 'calendly:' || invitee_uri, event_uri from staging.stg_calendly__invitees"
        f" where 'calendly:' || invitee_uri <> '{booking}' and not is_rescheduled and invitee_status = 'active' order by 1 limit 1",
    )
    taken = (call_lead, email_lead, booking_lead)
    merged, survivor, target = (
        r[0]
        for r in _query(
            wh,
            "select lead_id from marts.leads where asks_count > 0 and lead_id not in ('"
            + "', '".join(taken)
            + "')"
            " order by lead_id limit 3",
        )
    )
    sheetless = _one(
        wh,
        "select lead_id from marts.leads where not is_in_lead_sheet and lead_id not in ('"
        + "', '".join((*taken, merged, survivor, target))
        + "') order by lead_id limit 1",
    )
    merged_asks = {r[0] for r in _query(wh, f"select ask_id from marts.asks where lead_id = '{merged}'")}

    _bump(wh, "hubspot__calls", call_ask.split(":")[1], deleted=True)
    email_id = email_ask.split(":")[1]

    def move(payload: dict[str, Any]) -> None:
        payload["to"][0]["toObjectId"] = int(target)

    _bump(wh, "hubspot__associations", f"emails:{email_id}:contacts", move)

    def merge(payload: dict[str, Any]) -> None:
        payload["properties"]["hs_merged_object_ids"] = merged

    _bump(wh, "hubspot__contacts", survivor, merge)
    _, contact = _latest(wh, "hubspot__contacts", sheetless)
    email = contact["properties"]["email"]
    _land(
        wh,
        "sheet__leads",
        email.lower(),
        {"submitted_at": "2025-03-03T06:40:58Z", "email": email, "form": "pricing"},
        datetime.now(UTC),
    )

    def new_email(payload: dict[str, Any]) -> None:
        payload["properties"]["email"] = "someone.else@example.invalid"

    _bump(wh, "hubspot__contacts", booking_lead, new_email)

    def cancel(payload: dict[str, Any]) -> None:
        payload["status"] = "canceled"

    _bump(wh, "calendly__scheduled_events", event_uri, cancel)

    build(settings, as_of=as_of)
    assert _runs(wh) == dict.fromkeys(RECORD_TABLES, "done")
    assert not _query(wh, f"select 1 from marts.asks where ask_id = '{call_ask}'")
    assert _one(wh, f"select lead_id from marts.asks where ask_id = '{email_ask}'") == target
    assert not _query(wh, f"select 1 from marts.leads where lead_id = '{merged}'")
    assert {
        r[0] for r in _query(wh, f"select ask_id from marts.asks where lead_id = '{survivor}'")
    } >= merged_asks
    assert _one(wh, f"select is_in_lead_sheet from marts.leads where lead_id = '{sheetless}'") is True
    assert not _query(wh, f"select 1 from marts.appointments where appointment_id = '{booking}'")
    assert (
        _one(wh, f"select status from intermediate.int_appointments where appointment_id = '{event_booking}'")
        == "canceled"
    )
    affected = {r[0] for r in _query(wh, "select lead_id from intermediate.int_affected_leads")}
    assert {call_lead, email_lead, target, merged, survivor, sheetless, booking_lead} <= affected
    check("records")

    # 1b. an older version of the archived call lands late: it loses against the tombstone staging kept
    # (D41), so the ask stays gone; a content-only change of a contact's read column is recomputed (D42)
    call_id = call_ask.split(":")[1]
    archived_ts, archived_payload = _latest(wh, "hubspot__calls", call_id)
    _land(wh, "hubspot__calls", call_id, archived_payload, archived_ts - timedelta(days=1))

    def restage(payload: dict[str, Any]) -> None:
        payload["properties"]["lifecyclestage"] = "customer"

    _bump(wh, "hubspot__contacts", sheetless, restage)
    build(settings, as_of=as_of)
    assert _runs(wh) == dict.fromkeys(RECORD_TABLES, "done")
    assert not _query(wh, f"select 1 from marts.asks where ask_id = '{call_ask}'")
    assert _one(wh, f"select is_deleted from staging.stg_hubspot__calls where engagement_id = '{call_id}'")
    assert {r[0] for r in _query(wh, "select lead_id from intermediate.int_affected_leads")} == {sheetless}
    check("late")

    # 2. an owner renamed: the tables that read owners rebuild in full, the others stay record-level
    owner = _one(wh, "select owner_id from marts.leads where owner_id is not null order by 1 limit 1")

    def rename(payload: dict[str, Any]) -> None:
        payload["lastName"] = "Renamed"

    _bump(wh, "hubspot__owners", owner, rename)
    build(settings, as_of=as_of)
    runs = _runs(wh)
    assert runs["int_leads_resolved"] == runs["int_appointments"] == "full"
    assert runs["int_asks"] == runs["int_contact_links"] == "done"
    assert (
        _one(
            wh,
            f"select count(*) from marts.leads where owner_id = '{owner}' and owner_name not like '% Renamed'",
        )
        == 0
    )
    check("owner")

    # 3. a seed changed: every record table rebuilds in full, every lead is recomputed
    project = tmp_path / "project"
    shutil.copytree(project_dir(), project, ignore=shutil.ignore_patterns("target", "logs"))
    seed = project / "seeds" / "channel_mapping.csv"
    seed.write_text(
        seed.read_text().replace("hubspot_engagement,calls,mobile", "hubspot_engagement,calls,web")
    )
    monkeypatch.setenv("LEADFLOW_DBT_PROJECT_DIR", str(project))
    build(settings, as_of=as_of)
    assert _runs(wh) == dict.fromkeys(RECORD_TABLES, "full")
    assert (
        _one(wh, "select count(*) from marts.asks where engagement_type = 'calls' and channel <> 'web'") == 0
    )
    assert _one(wh, "select count(*) from intermediate.int_affected_leads") >= _one(
        wh, "select count(*) from marts.leads"
    )
    check("seed")

    # 4. `as_of` moved back: answers not yet due become pending again, everything is rebuilt
    earlier = hubspot_time(world.end_ms - 3 * DAY_MS)
    build(settings, as_of=earlier)
    assert _runs(wh)["int_asks"] == "full"
    check("as_of", earlier)
