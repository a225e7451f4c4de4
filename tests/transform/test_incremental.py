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
import pytest

from leadflow.sandbox.generate import generate_world
from leadflow.sandbox.scenario import load_scenario
from leadflow.sandbox.world import hubspot_time
from leadflow.transform.runner import build
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
