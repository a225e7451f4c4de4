"""`dbt docs generate` documents every mart column; `dbt source freshness` tells a fresh sync from stale raw."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from leadflow.cli import cli
from leadflow.errors import ConfigError, TransformError, WarehouseBusy
from leadflow.landing.schema import ENTITIES
from leadflow.landing.warehouse import connect_writer, writer_lock
from leadflow.transform.runner import build, project_dir

from .conftest import MARTS, Built, world_build

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dbt")]


def _raw_tables() -> set[str]:
    """Every source table the project declares (source name, table name)."""
    tables: set[str] = set()
    for path in (project_dir() / "models" / "staging").rglob("_*__sources.yml"):
        doc: dict[str, Any] = yaml.safe_load(path.read_text())
        for source in doc["sources"]:
            tables.update(f"{source['name']}.{t['name']}" for t in source["tables"])
    return tables


def _freshness_cli(home: Path, **tokens: str) -> Any:
    env = {"LEADFLOW_HOME": str(home), "LEADFLOW_CONFIG": str(home / "none.toml")}
    env |= {"LEADFLOW_HUBSPOT_TOKEN": "", "LEADFLOW_CALENDLY_TOKEN": "", "LEADFLOW_SHEET_URL": ""} | tokens
    """`leadflow freshness` on `home` with only the given sources configured."""
    return CliRunner().invoke(cli, ["freshness"], env=env, terminal_width=200)


def test_docs_generate_catalogs_every_mart_column_with_its_description(
    synced_tiny: Built, copy_of: Any
) -> None:
    built = copy_of(synced_tiny)
    summary = build(built.settings, command="docs generate")
    assert summary.success
    target = built.settings.home / "dbt" / "target"
    catalog = json.loads((target / "catalog.json").read_text())
    manifest = json.loads((target / "manifest.json").read_text())
    assert (target / "index.html").exists()
    for mart in MARTS:
        node_id = f"model.leadflow.{mart}"
        in_warehouse = {c.lower() for c in catalog["nodes"][node_id]["columns"]}
        documented = manifest["nodes"][node_id]["columns"]
        # the catalog read the built table; every column of it is documented, and nothing documented is missing
        assert in_warehouse == set(documented), mart
        assert all(col["description"].strip() for col in documented.values()), mart
    # the sources are catalogued too (the docs site shows raw -> staging -> marts lineage)
    assert {s.split(".", 2)[2] for s in catalog["sources"]} == _raw_tables()


def test_source_freshness_passes_after_a_sync(synced_tiny: Built, copy_of: Any) -> None:
    built = copy_of(synced_tiny)
    summary = build(built.settings, command="source freshness")
    assert summary.success
    # every declared raw table was checked and is fresh, hubspot.meetings too: the tiny world has no
    # meetings, and the sync that found none counts as a load (D51)
    assert summary.statuses == {"pass": len(_raw_tables())}
    assert "source.leadflow.hubspot.meetings" in summary.node_statuses
    result = _freshness_cli(built.settings.home)  # no source configured: the synced ones are judged
    assert result.exit_code == 0, result.output
    assert result.output.count(" pass ") == len(_raw_tables())
    assert "hubspot.meetings" in result.output and "h ago" in result.output


def test_source_freshness_fails_on_raw_tables_loaded_long_ago(tmp_path: Path) -> None:
    # the world's raw tables written with `_loaded_at` at the world's end (2025): days past error_after
    stale = world_build("tiny", tmp_path)
    newest = r"stale: newest load 2025-\d\d-\d\d \d\d:\d\d UTC, \d+\.\d h ago"
    with pytest.raises(
        TransformError,
        match=rf"dbt source freshness failed.*source\.leadflow\.calendly\.event_types: {newest}",
    ):
        build(stale.settings, command="source freshness")
    summary = build(stale.settings, command="source freshness", raise_on_failure=False)
    assert not summary.success
    # every raw table was written at the world's end and never synced since (no cursor), so every one
    # is past error_after; hubspot.meetings has no row at all in the tiny world
    assert summary.statuses == {"error": len(_raw_tables())}
    assert summary.node_details["source.leadflow.hubspot.meetings"] == "never loaded or synced"
    result = _freshness_cli(stale.settings.home)
    assert isinstance(result.exception, TransformError)
    assert f"{len(_raw_tables())} raw table(s) are stale" in str(result.exception)
    assert result.output.count(" error ") == len(_raw_tables())

    # old rows and a sync that just found nothing new: fresh; a cursor of long ago and no row: stale
    with connect_writer(stale.settings.warehouse) as con:
        con.execute("insert into raw._cursors values ('calendly', 'event_types', '{}', 'b', now())")
        con.execute(
            "insert into raw._cursors values ('hubspot', 'meetings', '{}', 'b', timestamptz '2025-01-02 03:04:00+00')"
        )
        con.commit()
    summary = build(stale.settings, command="source freshness", raise_on_failure=False)
    assert summary.node_statuses["source.leadflow.calendly.event_types"] == "pass"
    assert summary.node_details["source.leadflow.calendly.event_types"].endswith("UTC, 0.0 h ago")
    assert summary.node_statuses["source.leadflow.hubspot.meetings"] == "error"
    assert summary.node_details["source.leadflow.hubspot.meetings"].startswith("2025-01-02 03:04 UTC, ")
    assert summary.statuses == {"pass": 1, "error": len(_raw_tables()) - 1}


def test_freshness_judges_configured_or_synced_sources_and_says_never_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "var"
    warehouse = home / "leadflow.duckdb"
    # no warehouse yet: a clear error, and nothing is created
    missing = _freshness_cli(home, LEADFLOW_HUBSPOT_TOKEN="t")
    assert isinstance(missing.exception, ConfigError) and "run `leadflow sync` first" in str(
        missing.exception
    )
    assert not home.exists()

    # hubspot was synced just now and found nothing new (cursors only); calendly is configured but
    # was never synced; the sheet is neither configured nor synced
    with connect_writer(warehouse) as con:
        con.executemany(
            "insert into raw._cursors values ('hubspot', ?, '{}', 'b', now())",
            [[entity] for entity in ENTITIES["hubspot"]],
        )
        con.commit()
    result = _freshness_cli(home, LEADFLOW_CALENDLY_TOKEN="t")
    tables = _raw_tables()
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in result.output.splitlines()]
    rows = {c[0]: (c[1], c[2]) for c in cells if c and c[0] in tables}
    assert set(rows) == tables
    for name, (status, newest) in rows.items():
        source = name.split(".")[0]
        if source == "hubspot":
            assert status == "pass" and newest.endswith("UTC, 0.0 h ago"), name
        elif source == "calendly":
            assert (status, newest) == ("error", "never loaded or synced"), name
        else:
            assert (status, newest) == ("not configured", "never loaded or synced"), name
    calendly = sum(1 for t in tables if t.startswith("calendly."))
    assert isinstance(result.exception, TransformError)
    assert f"{calendly} raw table(s) are stale" in str(result.exception)

    # a sync or build holding the writer lock: freshness says so after a short wait, not writer_wait_s
    monkeypatch.setattr("leadflow.cli.freshness.BUSY_WAIT_S", 0.2)
    with writer_lock(warehouse):
        busy = _freshness_cli(home, LEADFLOW_HUBSPOT_TOKEN="t")
    assert isinstance(busy.exception, WarehouseBusy)
    assert "a sync or a build is writing" in str(busy.exception) and "(waited 0.2 s)" in str(busy.exception)
