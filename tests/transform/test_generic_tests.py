"""The project's own generic data tests fail on the rows they exist to catch."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from leadflow.transform.runner import build, project_dir

from .conftest import Built

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dbt")]


def test_not_null_unique_fails_on_a_duplicate_and_on_a_null(synced_tiny: Built, copy_of: Any) -> None:
    built = copy_of(synced_tiny)
    node = "test.leadflow.not_null_unique_int_leads_resolved_lead_id"

    def run() -> dict[str, str]:
        summary = build(
            built.settings,
            as_of=built.as_of,
            command="test",
            select=["int_leads_resolved"],
            raise_on_failure=False,
        )
        return {n.rsplit(".", 1)[0]: s for n, s in summary.failures}  # without the hash suffix

    assert node not in run()  # the built table passes
    table = "intermediate.int_leads_resolved"
    for name, changes in {
        "duplicate": [f"insert into {table} select * from {table} limit 1"],
        "null": [
            f"create or replace table {table} as select distinct * from {table}",
            f"update {table} set lead_id = null where lead_id = (select max(lead_id) from {table})",
        ],
    }.items():
        con = duckdb.connect(str(built.settings.warehouse))
        try:
            for sql in changes:
                con.execute(sql)
            nulls, dupes = con.execute(
                f"select count(*) - count(lead_id), count(lead_id) - count(distinct lead_id) from {table}"
            ).fetchall()[0]
        finally:
            con.close()
        assert (nulls, dupes) == ((0, 1) if name == "duplicate" else (1, 0))
        assert node in run(), name


def _failed_nodes(summary: Any) -> set[str]:
    """The nodes a build or test run failed on, without dbt's hash suffix."""
    return {n.rsplit(".", 1)[0] for n, _ in summary.failures}


def _row_checks_failures(built: Built, model: str, *, details: bool = False) -> list[Any]:
    """Run the tests of `model`; the `failed_check` names its `row_checks` node returns (empty: passed),
    with `details`: the (failed_check, detail) pairs."""
    summary = build(built.settings, as_of=built.as_of, command="test", select=[model], raise_on_failure=False)
    failed = [n for n, _ in summary.failures]
    assert all(n.startswith(f"test.leadflow.row_checks_{model}") for n in failed), failed
    if not failed:
        return []
    compiled = list((built.settings.home / "dbt" / "target" / "compiled").rglob(f"row_checks_{model}*.sql"))
    assert len(compiled) == 1, compiled
    rows = built.query(compiled[0].read_text())
    return sorted({(r[0], r[1]) for r in rows}) if details else sorted({r[0] for r in rows})


@pytest.mark.parametrize(
    ("model", "changes", "expected"),
    [
        (
            "asks",
            ["insert into marts.asks select * from marts.asks limit 1"],
            ["unique ask_id"],
        ),
        (
            "asks",
            # the ask's lead disappears from `leads` (checked for the leads of the last build: all of them);
            # a lead without target asks or appointments, so that the tests of `concession_sequences` and
            # `appointments` (also selected: they check relationships to `asks`) still pass
            [
                "delete from marts.leads where lead_id = (select min(lead_id) from marts.asks"
                " where lead_id not in (select lead_id from marts.concession_sequences"
                " union all select lead_id from marts.appointments))"
            ],
            ["relationship lead_id -> leads.lead_id"],
        ),
        (
            "asks",
            [
                "update marts.asks set responded_at = null"
                " where ask_id = (select min(ask_id) from marts.asks where response = 'accepted')"
            ],
            ["expression responded_at is not null"],
        ),
        (
            "stg_hubspot__contacts",
            [
                "update staging.stg_hubspot__contacts set lead_channel = 'fax'"
                " where contact_id = (select min(contact_id) from staging.stg_hubspot__contacts)",
                # a live row (staging keeps tombstones, and its checks read the live rows: D41)
                "insert into staging.stg_hubspot__contacts by name select null as contact_id, false as is_deleted",
            ],
            ["accepted lead_channel", "key contact_id"],
        ),
        (
            "stg_hubspot__associations",
            # a target listed twice in one association record
            [
                "insert into staging.stg_hubspot__associations select * from staging.stg_hubspot__associations"
                " where not is_marker and association_record_id = (select max(association_record_id)"
                " from staging.stg_hubspot__associations where not is_marker) limit 1"
            ],
            ["key association_record_id, coalesce(to_id, '')"],
        ),
        (
            "stg_hubspot__associations",
            # a target without its id (it also collides with its record's marker on the key)
            [
                "update staging.stg_hubspot__associations set to_id = null where not is_marker"
                " and association_record_id = (select max(association_record_id)"
                " from staging.stg_hubspot__associations where not is_marker)",
            ],
            ["expression is_marker or to_id is not null", "key association_record_id, coalesce(to_id, '')"],
        ),
        (
            "channel_mapping",
            [
                # two keys that one `a || '|' || b` string could not tell apart are no duplicate;
                # a null in one part of the key fails, and the detail names every part
                "insert into seeds.channel_mapping values ('x|y', 'z', 'web', 'm'), ('x', 'y|z', 'web', 'm'),"
                " ('x', null, 'web', 'm')",
            ],
            [("key source_system, source_value", "x, null")],
        ),
        (
            "concession_outcomes",
            ["insert into marts.concession_outcomes select * from marts.concession_outcomes limit 1"],
            ["key segment_type, segment_value, sequence_condition"],
        ),
    ],
    ids=[
        "unique",
        "relationship",
        "expression",
        "accepted-and-key",
        "composite-key-duplicate",
        "marker-expression",
        "composite-key-parts",
        "composite-key-mart",
    ],
)
def test_row_checks_fail_on_each_kind_of_violation(
    synced_tiny: Built, copy_of: Any, model: str, changes: list[str], expected: list[Any]
) -> None:
    """One `row_checks` node per model replaces several test nodes (D33): each check still fails."""
    built = copy_of(synced_tiny)
    assert _row_checks_failures(built, model) == []  # the built tables pass
    con = duckdb.connect(str(built.settings.warehouse))
    try:
        for sql in changes:
            con.execute(sql)
    finally:
        con.close()
    assert _row_checks_failures(built, model, details=isinstance(expected[0], tuple)) == expected


def test_row_checks_of_lead_grain_models_check_the_rows_written_since_the_last_checked_build(
    synced_tiny: Built, copy_of: Any
) -> None:
    """D39/D48: in `dbt build`, `row_checks` of a lead-grain model looks at the rows written since the
    last build that ran all such checks (a duplicate key is still counted over the whole table);
    older rows passed then and were not written since. `dbt test` checks every row."""
    built = copy_of(synced_tiny)
    fresh, old = (
        r[0]
        for r in built.query(
            "select lead_id from marts.asks group by lead_id having count(*) = 1 order by lead_id limit 2"
        )
    )
    con = duckdb.connect(str(built.settings.warehouse))
    try:
        # one duplicated ask stamped after the last checked build (as if a build wrote it), one before
        con.execute(
            "insert into marts.asks select * replace ((select checks_at + interval 1 second"
            f" from intermediate.int_lead_build_state) as _built_at) from marts.asks where lead_id = '{fresh}'"
        )
        con.execute(f"insert into marts.asks select * from marts.asks where lead_id = '{old}'")
    finally:
        con.close()
    summary = build(built.settings, as_of=built.as_of, raise_on_failure=False)
    assert _failed_nodes(summary) == {"test.leadflow.row_checks_asks"}
    compiled = next((built.settings.home / "dbt" / "target" / "compiled").rglob("row_checks_asks*.sql"))
    found = {r[1] for r in built.query(compiled.read_text())}
    assert found == {r[0] for r in built.query(f"select ask_id from marts.asks where lead_id = '{fresh}'")}
    # `dbt test` checks the whole table: both duplicates
    assert _row_checks_failures(built, "asks") == ["unique ask_id"]
    compiled = next((built.settings.home / "dbt" / "target" / "compiled").rglob("row_checks_asks*.sql"))
    found = {r[1] for r in built.query(compiled.read_text())}
    assert found == {
        r[0] for r in built.query(f"select ask_id from marts.asks where lead_id in ('{fresh}', '{old}')")
    }


def test_build_checks_the_keys_written_since_the_last_complete_build(
    synced_tiny: Built, copy_of: Any
) -> None:
    """In `dbt build` a record or staging table's key test reads only the rows stamped after the last
    build that ran every such test (D48), each key counted over the whole table: a duplicate written
    since is caught, and stays caught after a build of a selection or a `dbt run` (neither moves
    `checks_at`) until a complete build passes."""
    built = copy_of(synced_tiny)
    node = "test.leadflow.not_null_unique_int_leads_resolved_lead_id"
    table = "intermediate.int_leads_resolved"

    def failed(**kwargs: Any) -> set[str]:
        summary = build(built.settings, as_of=built.as_of, raise_on_failure=False, **kwargs)
        return _failed_nodes(summary)

    checked_at = built.query("select checks_at from intermediate.int_lead_build_state")[0][0]
    assert checked_at is not None
    con = duckdb.connect(str(built.settings.warehouse))
    try:
        con.execute(
            f"insert into {table} select * replace ((select checks_at + interval 1 second"
            f" from intermediate.int_lead_build_state) as _built_at) from {table} limit 1"
        )
    finally:
        con.close()
    assert node in failed()
    compiled = next((built.settings.home / "dbt" / "target" / "compiled").rglob(f"{node.split('.')[-1]}.sql"))
    assert "_built_at > cast(" in compiled.read_text()  # the scoped form ran, not the whole-table one
    # a selection that writes the build state without the test, then a run without tests
    assert not failed(select=["int_asks+"])
    assert failed(command="run") == set()
    assert built.query("select checks_at from intermediate.int_lead_build_state")[0][0] == checked_at
    assert node in failed()


def test_a_changed_key_test_checks_the_whole_table_once(
    synced_tiny: Built, copy_of: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `built` test whose definition changed since the last complete build checks every row, not
    only the new ones (`checks_state`, D48): rows that were fine under the old definition are not
    waved through."""
    built = copy_of(synced_tiny)
    assert (
        built.query("select count(*) from staging.stg_hubspot__contacts where lead_channel = 'mobile'")[0][0]
        > 0
    )
    project = tmp_path / "dbt_project"
    shutil.copytree(project_dir(), project, ignore=shutil.ignore_patterns("target", "logs"))
    schema = project / "models" / "staging" / "_staging__models.yml"
    old = "accepted: [{column: lead_channel, values: [web, mobile]}]"
    assert old in schema.read_text()
    schema.write_text(schema.read_text().replace(old, "accepted: [{column: lead_channel, values: [web]}]"))
    monkeypatch.setenv("LEADFLOW_DBT_PROJECT_DIR", str(project))
    summary = build(built.settings, as_of=built.as_of, raise_on_failure=False)
    assert "test.leadflow.row_checks_stg_hubspot__contacts" in _failed_nodes(summary)
