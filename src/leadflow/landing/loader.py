"""The single writer: loads complete landing batches into the `raw` tables, each batch in ONE transaction.

For each pending manifest (oldest first) the loader:

1. skips it when its SHA-256 is already in `raw._ledger` (a rerun after a crash between commit and
   bookkeeping), moving the manifest to `batches/loaded`;
2. `BEGIN`s, then per landing file not yet in the ledger stages the file's records with DuckDB's
   `read_json` (records split, keyed, hashed and checked in SQL; CSV pages parsed in Python and handed
   over as one Arrow table), quarantines the rows with a problem and inserts the others into
   `raw.<source>__<entity>` with an anti-join on (record_id, record_hash), so a version lands once;
3. records schema drift, the ledger rows (every file and the manifest by SHA-256) and the cursor the
   batch advances to, and `COMMIT`s: rows, ledger and cursor become visible together or not at all.

Bulk paths only: rows go in with INSERT ... SELECT over `read_json` or Arrow, never one by one.
DuckDB references: duckdb.org/docs/stable/data/json/loading_json, /sql/statements/insert,
/sql/functions/utility (`try`), /guides/python/import_arrow.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from leadflow.errors import LandingError
from leadflow.landing import drift, quarantine
from leadflow.landing.files import LandingStore, Manifest
from leadflow.landing.keys import FETCH_TS, KeyRule, rule_for
from leadflow.landing.pause import pause_at
from leadflow.landing.schema import SCHEMA, qualified, raw_table_ddl

STAGE = "_lf_stage"
_PATH = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")
_COLUMNS = (
    "{fetched_at_ms: 'BIGINT', is_deleted: 'BOOLEAN', records_path: 'VARCHAR', "
    "content_type: 'VARCHAR', request: 'VARCHAR', meta: 'JSON', body: 'VARCHAR'}"
)
_MIN_OBJECT_BYTES = 1 << 24


def _read(manifest: Manifest) -> str:
    """`read_json` over one segment (a `?` parameter), sized for the batch's longest page line."""
    size = max(_MIN_OBJECT_BYTES, 1 << max(manifest.max_line_bytes, 1).bit_length())
    return f"read_json(?, format = 'newline_delimited', columns = {_COLUMNS}, filename = true, maximum_object_size = {size})"


_FILE_HASH = r"regexp_extract(filename, '([0-9a-f]{64})\.jsonl$', 1)"


@dataclass
class BatchResult:
    """What loading one batch did."""

    batch_id: str
    source: str
    entity: str
    pages: int = 0
    records: int = 0
    inserted: int = 0
    quarantined: int = 0
    drift: list[drift.DriftChange] = field(default_factory=list)
    skipped: bool = False
    cursor_advanced: bool = False
    seconds: float = 0.0

    @property
    def duplicates(self) -> int:
        return self.records - self.inserted - self.quarantined


@dataclass
class LoadReport:
    batches: list[BatchResult] = field(default_factory=list)

    @property
    def inserted(self) -> int:
        return sum(b.inserted for b in self.batches)

    @property
    def quarantined(self) -> int:
        return sum(b.quarantined for b in self.batches)


BatchHook = Callable[[Manifest, BatchResult], None]


def _stage_json(
    con: duckdb.DuckDBPyConnection, manifest: Manifest, path: str, layout: tuple[str, str], rule: KeyRule
) -> None:
    records_path, content_type = layout
    if records_path and not _PATH.match(records_path):
        raise LandingError(f"records_path {records_path!r} is not a plain dotted path")
    jp = "$." + records_path if records_path else "$"
    rec_problem = quarantine.record_problem_sql(
        "rec", "record_id", "version_ts", rule.id_field, rule.version_field
    )
    page_problem = quarantine.page_problem_sql("body", records_path or "$")
    con.execute(
        f"""INSERT INTO {STAGE}
        WITH pages AS (
            SELECT {_FILE_HASH} AS _file_hash, fetched_at_ms, is_deleted, meta, body,
                   try(json_extract(body, '{jp}[*]')) AS arr
            FROM {_read(manifest)} WHERE records_path = ? AND content_type = ?
        ),
        flagged AS (
            SELECT *, CASE WHEN arr IS NULL OR (len(arr) = 0
                                AND coalesce(try(json_type(body, '{jp}')), '') NOT IN ('ARRAY', 'OBJECT'))
                           THEN {page_problem} END AS page_problem
            FROM pages
        ),
        recs AS (
            SELECT _file_hash, fetched_at_ms, is_deleted, meta, page_problem,
                   CASE WHEN page_problem IS NOT NULL THEN body END AS page_body,
                   unnest(CASE WHEN page_problem IS NOT NULL THEN [NULL::JSON]
                               WHEN len(arr) > 0 THEN arr
                               WHEN try(json_type(body, '{jp}')) = 'OBJECT' THEN [json_extract(body, '{jp}')]
                               ELSE [] END) AS rec
            FROM flagged
        ),
        keyed AS (
            SELECT _file_hash, is_deleted, rec, page_problem, page_body,
                   {rule.record_id} AS record_id, {rule.version_ts} AS version_ts, {rule.payload} AS payload
            FROM recs
        ),
        checked AS (
            SELECT *, coalesce(page_problem, {rec_problem}) AS problem FROM keyed
        )
        SELECT record_id, version_ts, is_deleted, payload, md5(payload::VARCHAR), _file_hash, problem,
               CASE WHEN problem IS NOT NULL THEN coalesce(page_body, rec::VARCHAR) END
        FROM checked""",
        [path, records_path, content_type],
    )


def _csv_rows(body: str) -> list[tuple[str | None, str | None, str | None, str | None]]:
    """(record_id, payload, problem, record) per CSV row; record_id is the lower-cased email."""
    reader = csv.reader(io.StringIO(body))
    header = next(reader, None)
    if not header:
        return []
    email_col = next((i for i, h in enumerate(header) if h.strip().lower() == "email"), None)
    out: list[tuple[str | None, str | None, str | None, str | None]] = []
    for row in reader:
        if not row:
            continue
        line = orjson.dumps(row).decode()
        if len(row) != len(header):
            out.append((None, None, quarantine.CSV_BAD_ROW.format(got=len(row), want=len(header)), line))
            continue
        email = row[email_col].strip().lower() if email_col is not None else ""
        if not email:
            out.append((None, None, quarantine.RECORD_NO_ID.format(field="email"), line))
            continue
        out.append((email, orjson.dumps(dict(zip(header, row, strict=True))).decode(), None, None))
    return out


def _stage_csv(
    con: duckdb.DuckDBPyConnection, manifest: Manifest, path: str, layout: tuple[str, str]
) -> None:
    pages = con.execute(
        f"SELECT {_FILE_HASH}, fetched_at_ms, is_deleted, body FROM {_read(manifest)} WHERE records_path = ? AND content_type = ?",
        [path, *layout],
    ).fetchall()
    cols: dict[str, list[Any]] = {
        k: [] for k in ("record_id", "fetched_at_ms", "is_deleted", "payload", "file", "problem", "record")
    }
    for file_hash, fetched_at_ms, is_deleted, body in pages:
        for record_id, payload, problem, record in _csv_rows(body):
            for k, v in zip(
                cols, (record_id, fetched_at_ms, is_deleted, payload, file_hash, problem, record), strict=True
            ):
                cols[k].append(v)
    if not cols["file"]:
        return
    csv_rows = pa.table(cols)  # noqa: F841 - read by DuckDB's replacement scan below
    con.execute(
        f"""INSERT INTO {STAGE}
        SELECT record_id, to_timestamp(fetched_at_ms / 1000.0), is_deleted, payload::JSON,
               md5(payload::JSON::VARCHAR), file, problem, record
        FROM csv_rows"""
    )


def _stage_file(
    con: duckdb.DuckDBPyConnection, store: LandingStore, manifest: Manifest, sha: str, rule: KeyRule
) -> None:
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {STAGE} (record_id VARCHAR, version_ts TIMESTAMPTZ, is_deleted BOOLEAN,
            payload JSON, record_hash VARCHAR, _file_hash VARCHAR, problem VARCHAR, record VARCHAR)"""
    )
    path = str(store.segment_path(sha))
    for layout in manifest.layouts:
        if layout[1].split(";")[0].strip().lower() in {"text/csv", "application/csv"}:
            _stage_csv(con, manifest, path, layout)
        else:
            _stage_json(con, manifest, path, layout, rule)


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> int:
    rows = con.execute(sql, params or []).fetchall()
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def _insert_rows(con: duckdb.DuckDBPyConnection, table: str, batch_id: str, *, fetch_versioned: bool) -> int:
    """Insert the staged rows that are new versions; returns how many.

    Records with their own version time (HubSpot `updatedAt`, Calendly `updated_at`) are a new version
    when their payload hash was never seen for the record: a lookback or an indexing-lagged search
    that serves an older version again adds nothing. Records versioned by fetch time (sheet rows,
    associations) carry no time of their own, so there a payload is a new version when it differs
    from the record's *latest* row: a value that changes back (A -> B -> A) lands its third version.

    The raw side of that anti-join is cut to the staged record ids first (a semi-join that builds on
    the small stage), so a batch no longer hashes every (record_id, record_hash) of a table that
    grows with each batch: 1.0 -> 0.2 s per million records in a backfill (D44). The window that drops
    duplicates inside the batch runs only when the batch has some (it would sort every payload).
    """
    known = f"SELECT record_id FROM {STAGE} WHERE problem IS NULL"
    if fetch_versioned:
        # "latest" ranks as staging does (version, then tombstone, then the larger hash), so two payloads
        # of one record fetched together have one well-defined latest whatever their insertion order
        seen = f"""SELECT (record_id, arg_max(record_hash, (version_ts, is_deleted, record_hash))) FROM {table}
                   WHERE record_id IN ({known}) GROUP BY record_id"""
    else:
        seen = f"SELECT (record_id, record_hash) FROM {table} WHERE record_id IN ({known})"
    duplicated = _count(
        con, f"SELECT count(*) - count(DISTINCT (record_id, record_hash)) FROM {STAGE} WHERE problem IS NULL"
    )
    first = (
        "QUALIFY row_number() OVER (PARTITION BY record_id, record_hash ORDER BY version_ts) = 1"
        if duplicated
        else ""
    )
    # NOT IN over row values is exact here: neither side has a NULL key (raw columns are NOT NULL, and
    # a staged row without a record id has a problem).
    return _count(
        con,
        f"""INSERT INTO {table}
        SELECT s.record_id, s.version_ts, s.is_deleted, s.payload, s.record_hash, ?, s._file_hash, now()
        FROM (SELECT * FROM {STAGE} WHERE problem IS NULL {first}) s
        WHERE (s.record_id, s.record_hash) NOT IN ({seen})""",
        [batch_id],
    )


def _advance_cursor(con: duckdb.DuckDBPyConnection, manifest: Manifest) -> bool:
    """Set the (source, entity) cursor unless a later batch already set one; True when set."""
    if manifest.cursor is None:
        return False
    later = _count(
        con,
        f"SELECT count(*) FROM {SCHEMA}._cursors WHERE source = ? AND entity = ? AND batch_id > ?",
        [manifest.source, manifest.entity, manifest.batch_id],
    )
    if later:
        return False
    con.execute(
        f"DELETE FROM {SCHEMA}._cursors WHERE source = ? AND entity = ?", [manifest.source, manifest.entity]
    )
    con.execute(
        f"INSERT INTO {SCHEMA}._cursors VALUES (?, ?, ?::JSON, ?, now())",
        [manifest.source, manifest.entity, orjson.dumps(manifest.cursor).decode(), manifest.batch_id],
    )
    return True


def load_batch(con: duckdb.DuckDBPyConnection, store: LandingStore, manifest: Manifest) -> BatchResult:
    """Load one complete batch in one transaction (or skip it when the ledger has it)."""
    started = time.perf_counter()
    result = BatchResult(manifest.batch_id, manifest.source, manifest.entity, pages=manifest.pages)
    if _count(
        con,
        f"SELECT count(*) FROM {SCHEMA}._ledger WHERE kind = 'manifest' AND file_hash = ?",
        [manifest.sha256],
    ):
        result.skipped = True
        store.mark_loaded(manifest)
        return result
    store.check_files(manifest)
    rule = rule_for(manifest.source, manifest.entity)
    table = qualified(manifest.source, manifest.entity)
    # Shapes observed while landing (D28) stand for the SQL pass when records land as they are.
    observed = manifest.observed is not None and rule.payload == "rec"
    seen: drift.Observed = {k: set(v) for k, v in (manifest.observed or {}).items()} if observed else {}
    ledger: list[list[Any]] = []
    pause_at("load.begin")
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(raw_table_ddl(manifest.source, manifest.entity))
        for ref in manifest.files:
            if _count(
                con,
                f"SELECT count(*) FROM {SCHEMA}._ledger WHERE kind = 'segment' AND file_hash = ?",
                [ref.sha256],
            ):
                continue  # the same bytes were loaded with an earlier batch
            _stage_file(con, store, manifest, ref.sha256, rule)
            pause_at("load.staged")
            records = _count(con, f"SELECT count(*) FROM {STAGE}")
            q = quarantine.write_quarantine(con, STAGE, manifest.source, manifest.entity, manifest.batch_id)
            inserted = _insert_rows(
                con, table, manifest.batch_id, fetch_versioned=rule.version_ts == FETCH_TS
            )
            if records - q and not observed:
                drift.merge(seen, drift.observe(con, STAGE))
            result.records += records
            result.quarantined += q
            result.inserted += inserted
            ledger.append([ref.sha256, "segment", ref.pages, records, inserted, q])
            pause_at("load.rows")
        result.drift = drift.record_drift(
            con,
            manifest.source,
            manifest.entity,
            manifest.batch_id,
            seen,
            result.records - result.quarantined,
        )
        ledger.append(
            [manifest.sha256, "manifest", manifest.pages, result.records, result.inserted, result.quarantined]
        )
        for file_hash, kind, pages, records, inserted, q in ledger:
            con.execute(
                f"INSERT INTO {SCHEMA}._ledger VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
                [
                    file_hash,
                    kind,
                    manifest.batch_id,
                    manifest.source,
                    manifest.entity,
                    pages,
                    records,
                    inserted,
                    q,
                ],
            )
        result.cursor_advanced = _advance_cursor(con, manifest)
        pause_at("load.cursor")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute(f"DROP TABLE IF EXISTS {STAGE}")
    pause_at("load.committed", f"{manifest.source}/{manifest.entity}")
    store.mark_loaded(manifest)
    result.seconds = time.perf_counter() - started
    return result


def load_pending(
    con: duckdb.DuckDBPyConnection, store: LandingStore, *, on_batch: BatchHook | None = None
) -> LoadReport:
    """Load every pending batch, oldest first; one transaction per batch."""
    report = LoadReport()
    for manifest in store.pending():
        result = load_batch(con, store, manifest)
        report.batches.append(result)
        if on_batch is not None:
            on_batch(manifest, result)
    return report
