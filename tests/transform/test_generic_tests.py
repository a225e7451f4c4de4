"""The project's own generic data tests fail on the rows they exist to catch."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from leadflow.transform.runner import build

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


def _row_checks_failures(built: Built, model: str) -> list[str]:
    """Run the tests of `model`; the `failed_check` names its `row_checks` node returns (empty: passed)."""
    summary = build(built.settings, as_of=built.as_of, command="test", select=[model], raise_on_failure=False)
    failed = [n for n, _ in summary.failures]
    assert all(n.startswith(f"test.leadflow.row_checks_{model}") for n in failed), failed
    if not failed:
        return []
    compiled = list((built.settings.home / "dbt" / "target" / "compiled").rglob(f"row_checks_{model}*.sql"))
    assert len(compiled) == 1, compiled
    return sorted({r[0] for r in built.query(compiled[0].read_text())})


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
            [
                "update marts.asks set lead_id = 'no-such-lead' where ask_id = (select min(ask_id) from marts.asks)"
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
                "insert into staging.stg_hubspot__contacts by name select null as contact_id",
            ],
            ["accepted lead_channel", "key contact_id"],
        ),
    ],
    ids=["unique", "relationship", "expression", "accepted-and-key"],
)
def test_row_checks_fail_on_each_kind_of_violation(
    synced_tiny: Built, copy_of: Any, model: str, changes: list[str], expected: list[str]
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
    assert _row_checks_failures(built, model) == expected
