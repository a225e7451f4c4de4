"""DDL of the DuckDB `raw` schema: one table per source entity plus the control tables.

Follows section 3 of `docs/data-contract.md`: every raw table has the same columns (record_id,
version_ts, is_deleted, payload, record_hash, _batch_id, _file_hash, _loaded_at). Raw tables carry no
primary key and no index: uniqueness of (record_id, record_hash) is kept by the loader's anti-join,
because DuckDB's ART indexes slow bulk inserts and cannot be dropped while referenced. The control
tables are small: `_ledger` (every loaded landing file and manifest by SHA-256), `_cursors` (the
committed watermark per source/entity), `_schema` (the observed JSON shape), `_schema_drift` and
`_quarantine`.
"""

from __future__ import annotations

import re

import duckdb

from leadflow.errors import LandingError

SCHEMA = "raw"

# Every entity the connectors land, per source (data-contract.md section 3).
ENTITIES: dict[str, tuple[str, ...]] = {
    "hubspot": ("contacts", "deals", "meetings", "calls", "emails", "owners", "pipelines", "associations"),
    "calendly": ("users", "event_types", "scheduled_events", "invitees"),
    "sheet": ("leads",),
}

_IDENT = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

RAW_COLUMNS = (
    "record_id VARCHAR NOT NULL",
    "version_ts TIMESTAMPTZ NOT NULL",
    "is_deleted BOOLEAN NOT NULL",
    "payload JSON NOT NULL USING COMPRESSION zstd",  # D44: checkpoints faster than FSST, half the file
    "record_hash VARCHAR NOT NULL",
    "_batch_id VARCHAR NOT NULL",
    "_file_hash VARCHAR NOT NULL",
    "_loaded_at TIMESTAMPTZ NOT NULL",
)

CONTROL_DDL = (
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}._ledger (
        file_hash VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,            -- 'segment' | 'manifest'
        batch_id VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        entity VARCHAR NOT NULL,
        pages BIGINT NOT NULL,
        records BIGINT NOT NULL,
        rows_inserted BIGINT NOT NULL,
        rows_quarantined BIGINT NOT NULL,
        loaded_at TIMESTAMPTZ NOT NULL
    )""",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}._cursors (
        source VARCHAR NOT NULL,
        entity VARCHAR NOT NULL,
        cursor JSON,
        batch_id VARCHAR NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL
    )""",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}._schema (
        source VARCHAR NOT NULL,
        entity VARCHAR NOT NULL,
        path VARCHAR NOT NULL,
        json_type VARCHAR,
        first_batch_id VARCHAR NOT NULL,
        last_seen_batch_id VARCHAR NOT NULL
    )""",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}._schema_drift (
        source VARCHAR NOT NULL,
        entity VARCHAR NOT NULL,
        path VARCHAR NOT NULL,
        change VARCHAR NOT NULL,          -- 'added' | 'missing' | 'type_changed'
        old_type VARCHAR,
        new_type VARCHAR,
        batch_id VARCHAR NOT NULL,
        detected_at TIMESTAMPTZ NOT NULL
    )""",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}._quarantine (
        source VARCHAR NOT NULL,
        entity VARCHAR NOT NULL,
        record VARCHAR,
        reason VARCHAR NOT NULL,
        batch_id VARCHAR NOT NULL,
        _file_hash VARCHAR NOT NULL,
        _loaded_at TIMESTAMPTZ NOT NULL
    )""",
)


def check_identifier(name: str, what: str) -> str:
    """Return `name` if it is a safe lower-case SQL identifier, else raise LandingError."""
    if not _IDENT.match(name):
        raise LandingError(f"{what} {name!r} is not a valid name (lower-case letters, digits, underscores)")
    return name


def raw_table(source: str, entity: str) -> str:
    """The unqualified raw table name of a source entity, `<source>__<entity>`."""
    return f"{check_identifier(source, 'source')}__{check_identifier(entity, 'entity')}"


def qualified(source: str, entity: str) -> str:
    return f"{SCHEMA}.{raw_table(source, entity)}"


def raw_table_ddl(source: str, entity: str) -> str:
    cols = ",\n    ".join(RAW_COLUMNS)
    return f"CREATE TABLE IF NOT EXISTS {qualified(source, entity)} (\n    {cols}\n)"


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the `raw` schema, every known raw table and the control tables (idempotent)."""
    execute = con.execute
    execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    for ddl in CONTROL_DDL:
        execute(ddl)
    for source, entities in ENTITIES.items():
        for entity in entities:
            execute(raw_table_ddl(source, entity))


def raw_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Names of the raw data tables present (control tables excluded), sorted."""
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY 1",
        [SCHEMA],
    ).fetchall()
    return [r[0] for r in rows]
