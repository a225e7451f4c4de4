"""Incremental builds: a build after a small sync equals a `--full-refresh` build, row by row."""

from __future__ import annotations

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

MARTS = (
    "leads",
    "asks",
    "appointments",
    "concession_sequences",
    "concession_outcomes",
    "funnel_weekly",
    "process_capability",
)
DAY_MS = 86_400_000


def _marts(warehouse: Any) -> dict[str, list[tuple[Any, ...]]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {m: con.execute(f"select * from marts.{m} order by all").fetchall() for m in MARTS}
    finally:
        con.close()


def test_incremental_after_small_sync_equals_full_refresh(tmp_path: Any) -> None:
    world = generate_world(load_scenario(SCENARIOS / "tiny.yaml"))
    settings = settings_at(tmp_path)
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    cut = world.end_ms - 3 * DAY_MS
    as_of = hubspot_time(world.end_ms)
    write_raw_from_world(world, settings.warehouse, until_ms=cut, loaded_at_ms=cut)
    build(settings, as_of=as_of)
    added = write_raw_from_world(world, settings.warehouse, since_ms=cut, loaded_at_ms=world.end_ms)
    assert sum(added.values()) > 0  # the second "sync" really brings new versions
    build(settings, as_of=as_of)
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    base_rows = con.execute("select count(*) from staging.base_hubspot__contacts").fetchall()[0][0]
    con.close()
    incremental = _marts(settings.warehouse)
    build(settings, as_of=as_of, full_refresh=True)
    assert _marts(settings.warehouse) == incremental
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    assert con.execute("select count(*) from staging.base_hubspot__contacts").fetchall()[0][0] == base_rows
    con.close()
    assert incremental["leads"], "marts must not be empty"
