"""Which records cannot land, and why: the rules that send a record or a page to `raw._quarantine`.

A bad record never fails its batch. While a batch is staged (see `loader.py`), every staged row gets a
`problem` (NULL when fine); rows with a problem are written to `raw._quarantine` with the reason, the
batch and the landing file, and the rest of the batch loads. Page-level problems (a body that is not
valid JSON, no records where `records_path` points) quarantine the page body as one row; record-level
problems (not a JSON object, no id, no readable version timestamp, a CSV row with the wrong number of
fields) quarantine that record only.
"""

from __future__ import annotations

import duckdb

from leadflow.landing.schema import SCHEMA

# Reasons, kept short and stable: dbt tests and the GX suites of a later issue group by them.
PAGE_NOT_JSON = "page body is not valid JSON"
PAGE_NO_RECORDS = "no records at records_path {path!r}"
RECORD_NOT_OBJECT = "record is not a JSON object"
RECORD_NO_ID = "record has no id ({field})"
RECORD_NO_VERSION = "record has no readable version timestamp ({field})"
CSV_BAD_ROW = "CSV row has {got} fields, the header has {want}"


def record_problem_sql(rec: str, record_id: str, version_ts: str, id_field: str, version_field: str) -> str:
    """A SQL CASE giving the problem of one staged JSON record, or NULL when it can land.

    `rec` is JSON that DuckDB serialised itself (an element `json_extract` took out of the page), so
    it has no leading whitespace and is an object exactly when it starts with `{`: a prefix test
    instead of `json_type`, which would parse every record once more (0.6 s per million, D36).
    """
    no_id = RECORD_NO_ID.format(field=id_field).replace("'", "''")
    no_version = RECORD_NO_VERSION.format(field=version_field).replace("'", "''")
    return (
        f"CASE WHEN NOT starts_with({rec}, '{{') THEN '{RECORD_NOT_OBJECT}' "
        f"WHEN {record_id} IS NULL OR {record_id} = '' THEN '{no_id}' "
        f"WHEN {version_ts} IS NULL THEN '{no_version}' END"
    )


def page_problem_sql(body: str, path: str) -> str:
    """A SQL CASE giving why a page yields no records (evaluated only on pages that yielded none)."""
    no_records = PAGE_NO_RECORDS.format(path=path).replace("'", "''")
    return f"CASE WHEN NOT coalesce(try(json_valid({body})), false) THEN '{PAGE_NOT_JSON}' ELSE '{no_records}' END"


def write_quarantine(
    con: duckdb.DuckDBPyConnection, stage: str, source: str, entity: str, batch_id: str
) -> int:
    """Copy the staged rows that have a problem into `raw._quarantine`; returns how many."""
    rows = con.execute(
        f"""INSERT INTO {SCHEMA}._quarantine
            SELECT ?, ?, record, problem, ?, _file_hash, now() FROM {stage} WHERE problem IS NOT NULL""",
        [source, entity, batch_id],
    ).fetchall()
    return int(rows[0][0]) if rows else 0
