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
