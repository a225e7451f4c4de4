"""`leadflow build` and `transform.runner.build`: progress, summary, printed tables, failures as errors."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
from click.testing import CliRunner

from leadflow.cli import cli
from leadflow.errors import TransformError, WarehouseBusy
from leadflow.landing.warehouse import writer_lock
from leadflow.sandbox.generate import generate_world
from leadflow.sandbox.scenario import load_scenario
from leadflow.sandbox.world import hubspot_time
from leadflow.transform.runner import build, failure_summary, profile_env
from leadflow.transform.show import funnel_counts
from leadflow.transform.world_raw import write_raw_from_world

from .conftest import SCENARIOS, settings_at

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dbt")]


@pytest.fixture
def tiny_raw(tmp_path: Path) -> tuple[Path, dict[str, int], str]:
    world = generate_world(load_scenario(SCENARIOS / "tiny.yaml"))
    settings = settings_at(tmp_path)
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    write_raw_from_world(world, settings.warehouse, loaded_at_ms=world.end_ms)
    return tmp_path, world.truth["funnel"], hubspot_time(world.end_ms)


def test_cli_build_reports_progress_summary_and_tables(tiny_raw: tuple[Path, dict[str, int], str]) -> None:
    home, funnel, as_of = tiny_raw
    result = CliRunner().invoke(
        cli,
        ["build", "--as-of", as_of, "--show"],
        env={"LEADFLOW_HOME": str(home), "LEADFLOW_CONFIG": str(home / "none.toml")},
    )
    assert result.exit_code == 0, result.output
    assert "dbt build on duckdb" in result.output
    assert "Funnel (marts.leads)" in result.output and "Concession outcomes" in result.output
    counts = {stage: n for stage, _, n in funnel_counts(home / "leadflow.duckdb")}
    assert counts == funnel


def test_build_queues_behind_another_writer_and_fails_clearly_after_the_wait(
    tiny_raw: tuple[Path, dict[str, int], str],
) -> None:
    home, funnel, as_of = tiny_raw
    settings = replace(settings_at(home), writer_wait_s=0.3)
    with (
        writer_lock(settings.warehouse),
        pytest.raises(WarehouseBusy, match=r"another leadflow process is writing .*waited 0\.3 s"),
    ):
        build(settings, as_of=as_of)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        built = con.execute(
            "select count(*) from information_schema.tables where table_schema <> 'raw'"
        ).fetchall()
    assert built == [(0,)]  # the build gave up before dbt touched the warehouse
    with writer_lock(settings.warehouse):  # parsing reads only the project: no lock, no wait
        assert build(settings, as_of=as_of, command="parse").success

    # a writer (e.g. a sync) holding the lock when the build starts: the build waits, then runs
    events: list[str] = []
    holding = threading.Event()

    def other_writer() -> None:
        with writer_lock(settings.warehouse):
            holding.set()
            time.sleep(1.0)
            events.append("other writer done")

    thread = threading.Thread(target=other_writer)
    thread.start()
    assert holding.wait(10)
    summary = build(
        replace(settings, writer_wait_s=60),
        as_of=as_of,
        progress=lambda _done, _total, node: events.append(node) if len(events) < 3 else None,
    )
    thread.join()
    # told the user it waits, waited, then ran its first node
    assert events[:2] == ["waiting for another writer", "other writer done"]
    assert events[2].startswith(("model.", "seed.", "test."))
    assert summary.success
    assert {stage: n for stage, _, n in funnel_counts(settings.warehouse)} == funnel


def test_failing_data_test_raises_transform_error(tiny_raw: tuple[Path, dict[str, int], str]) -> None:
    home, _, as_of = tiny_raw
    settings = settings_at(home)
    # an e-mail answered `accepted` without an answer time breaks the asks mart's invariant test
    con = duckdb.connect(str(settings.warehouse))
    row = con.execute("select record_id, payload::varchar from raw.hubspot__emails limit 1").fetchall()[0]
    payload = orjson.loads(row[1])
    payload["properties"] |= {"ask_outcome": "accepted", "ask_outcome_at": ""}
    payload["updatedAt"] = "2030-01-01T00:00:00.000Z"
    con.execute(
        "insert into raw.hubspot__emails values (?, timestamptz '2030-01-01 00:00:00+00', false, ?::json, 'x', 'b', 'f', now())",
        [row[0], orjson.dumps(payload).decode()],
    )
    con.close()
    seen: list[tuple[int, int, str]] = []
    with pytest.raises(TransformError, match=r"row_checks_asks"):
        build(settings, as_of=as_of, progress=lambda d, t, n: seen.append((d, t, n)))
    assert seen and max(t for _, t, _ in seen) >= 60  # progress saw the whole build (70 nodes)


def test_profile_env_turns_vacuum_off_except_when_compacting(tmp_path: Path) -> None:
    wh = tmp_path / "w.duckdb"
    assert profile_env(wh, "duckdb")["LEADFLOW_DBT_VACUUM_TASKS"] == "0"
    assert profile_env(wh, "duckdb", full_refresh=True)["LEADFLOW_DBT_VACUUM_TASKS"] == "100"
    assert profile_env(wh, "duckdb", compact=True)["LEADFLOW_DBT_VACUUM_TASKS"] == "100"
    assert profile_env(wh, "duckdb", full_refresh=True, compact=False)["LEADFLOW_DBT_VACUUM_TASKS"] == "0"
    env = profile_env(wh, "postgres", extra={"LEADFLOW_DBT_VACUUM_TASKS": "7", "LEADFLOW_PG_SCHEMA": "s"})
    assert env == {
        "LEADFLOW_WAREHOUSE": str(wh),
        "LEADFLOW_DBT_TARGET": "postgres",
        "LEADFLOW_DBT_VACUUM_TASKS": "7",
        "LEADFLOW_PG_SCHEMA": "s",
    }


def _fails_until_mended(home: Path, as_of: str, table: str, column: str, model: str) -> tuple[Any, str]:
    """Build, drop `column` from `table` (a warehouse built before the model had it), build again:
    returns the settings and the failure message; then mends as the message says and builds again."""
    settings = settings_at(home)
    build(settings, as_of=as_of)
    con = duckdb.connect(str(settings.warehouse))
    con.execute(f"alter table {table} drop column {column}")
    con.close()
    with pytest.raises(TransformError) as failed:
        build(settings, as_of=as_of)
    build(settings, as_of=as_of, full_refresh=True, select=[f"{model}+"])
    assert build(settings, as_of=as_of).success
    return settings, str(failed.value)


def test_table_built_before_a_new_column_fails_with_the_mending_command(
    tiny_raw: tuple[Path, dict[str, int], str],
) -> None:
    home, _, as_of = tiny_raw
    # a warehouse built before `leads` had `contacted_local_date` (D47)
    settings, message = _fails_until_mended(home, as_of, "marts.leads", "contacted_local_date", "leads")
    assert 'does not have a column with name "contacted_local_date"' in message
    assert "leadflow build --full-refresh --select leads+" in message
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        missing = con.execute(
            "select count(*) from marts.leads where contacted_at is not null and contacted_local_date is null"
        ).fetchall()[0][0]
        weeks = con.execute("select count(*) from marts.process_capability").fetchall()[0][0]
        leads, resolved = con.execute(
            "select (select count(*) from marts.leads), (select count(*) from intermediate.int_leads_resolved)"
        ).fetchall()[0]
    finally:
        con.close()
    assert missing == 0
    assert weeks > 0
    # the mend rebuilt every lead, not only the last build's affected ones (`lead_attributes`, D48)
    assert leads == resolved > 0


def test_failure_summary_names_the_database_error_and_the_mending_command() -> None:
    duckdb_message = (
        "Runtime Error in model leads (models/marts/leads.sql)\n"
        '  Binder Error: Table "leads" does not have a column with name "contacted_local_date"\n\n'
        '  Did you mean: "created_local_date"'
    )
    mend = "(table leads was built before the model's columns changed: rebuild it and what reads it with"
    summary = failure_summary("model.leadflow.leads", duckdb_message)
    assert summary.startswith('Binder Error: Table "leads" does not have a column with name')
    assert summary.endswith(f"{mend} `leadflow build --full-refresh --select leads+`)")
    # dbt's own wording on Postgres (on_schema_change: fail), under two headings
    dbt_message = (
        "Compilation Error in model leads (models/marts/leads.sql)\n"
        "  Compilation Error in macro check_for_schema_changes (macros/on_schema_change.sql)\n"
        "    The source and target schemas on this incremental model are out of sync!\n"
        "    They can be reconciled in several ways:\n"
        "    Additional troubleshooting context:\n"
        "       Source columns not in target: [contacted_local_date]\n"
        "       Target columns not in source: []"
    )
    assert failure_summary("model.leadflow.leads", dbt_message) == (
        "The source and target schemas on this incremental model are out of sync!;"
        f" Source columns not in target: [contacted_local_date] {mend}"
        " `leadflow build --full-refresh --select leads+`)"
    )
    # another table's column (the change log) is not mended by rebuilding the model
    other = 'Runtime Error in model int_asks (x.sql)\n  Binder Error: Table "_record_changes" does not have a column with name "as_of"'
    assert failure_summary("model.leadflow.int_asks", other) == (
        'Binder Error: Table "_record_changes" does not have a column with name "as_of"'
    )
    assert failure_summary(
        "test.leadflow.row_checks_asks.1", "Got 3 results, configured to fail if != 0"
    ) == ("Got 3 results, configured to fail if != 0")
    assert failure_summary("model.leadflow.asks", "") == "failed"


def test_record_table_whose_model_gained_a_column_fails_instead_of_dropping_it(
    tiny_raw: tuple[Path, dict[str, int], str],
) -> None:
    home, _, as_of = tiny_raw
    _, message = _fails_until_mended(home, as_of, "intermediate.int_asks", "channel", "int_asks")
    assert "Source columns not in target: ['channel']" in message
    assert "leadflow build --full-refresh --select int_asks+" in message
