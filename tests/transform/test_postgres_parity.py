"""Portability: the same dbt project on PostgreSQL gives the same marts as on DuckDB, row by row.

The DuckDB raw tables are copied into a per-run Postgres schema (payload JSON -> jsonb) with psycopg
COPY; the models build into schemas prefixed by a per-run name, all dropped afterwards. Needs the
machine's PostgreSQL on 127.0.0.1:5432: the test fails (does not skip) when it is not there.
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Iterator
from typing import Any

import duckdb
import psycopg
import pytest

from leadflow.errors import TransformError
from leadflow.transform.runner import build

from .conftest import MARTS, Built, world_build

pytestmark = [pytest.mark.slow, pytest.mark.services, pytest.mark.xdist_group("dbt")]

PG = {
    "host": os.environ.get("LEADFLOW_PG_HOST", "127.0.0.1"),
    "port": int(os.environ.get("LEADFLOW_PG_PORT", "5432")),
    "user": os.environ.get("LEADFLOW_PG_USER", "postgres"),
    "dbname": os.environ.get("LEADFLOW_PG_DATABASE", "test"),
}


@pytest.fixture
def pg_prefix() -> Iterator[str]:
    prefix = f"lf_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(**PG, autocommit=True) as con:
        yield prefix
        rows = con.execute(
            "select schema_name from information_schema.schemata where schema_name like %s", [prefix + "%"]
        ).fetchall()
        for (schema,) in rows:
            con.execute(f'drop schema "{schema}" cascade')


def copy_raw_to_postgres(warehouse: Any, schema: str) -> int:
    """Copy every raw table (JSON payload as jsonb); returns the rows copied."""
    src = duckdb.connect(str(warehouse), read_only=True)
    total = 0
    try:
        tables = [
            r[0]
            for r in src.execute(
                "select table_name from information_schema.tables where table_schema = 'raw'"
                " and table_name not like '\\_%' escape '\\'"
            ).fetchall()
        ]
        with psycopg.connect(**PG, autocommit=True) as pg:
            pg.execute(f'create schema "{schema}"')
            for table in tables:
                pg.execute(
                    f'create table "{schema}".{table} (record_id varchar not null, version_ts timestamptz not null,'
                    " is_deleted boolean not null, payload jsonb not null, record_hash varchar not null,"
                    " _batch_id varchar not null, _file_hash varchar not null, _loaded_at timestamptz not null)"
                )
                rows = src.execute(
                    "select record_id, version_ts, is_deleted, payload::varchar, record_hash, _batch_id, _file_hash,"
                    f" _loaded_at from raw.{table}"
                ).fetchall()
                with pg.cursor() as cur, cur.copy(f'copy "{schema}".{table} from stdin') as copy:
                    for row in rows:
                        copy.write_row(row)
                total += len(rows)
    finally:
        src.close()
    return total


def _sorted(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    def key(row: tuple[Any, ...]) -> tuple[str, ...]:
        return tuple("" if v is None or isinstance(v, float) else str(v) for v in row)

    return sorted(rows, key=key)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return (
            a is not None and b is not None and math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
        )
    return bool(a == b)


def test_postgres_marts_equal_duckdb_marts(tmp_path_factory: pytest.TempPathFactory, pg_prefix: str) -> None:
    built: Built = world_build("tiny", tmp_path_factory.mktemp("pg-parity"))
    raw_schema = f"{pg_prefix}_raw"
    assert copy_raw_to_postgres(built.settings.warehouse, raw_schema) > 100
    env = {"LEADFLOW_PG_SCHEMA": pg_prefix, "LEADFLOW_RAW_SCHEMA": raw_schema, "LEADFLOW_PG_USER": PG["user"]}
    summary = build(built.settings, target="postgres", as_of=built.as_of, env=env)
    # every data test passes on Postgres as on DuckDB (34 nodes since D45, row_checks included)
    assert summary.success and summary.statuses.get("pass", 0) == built.summary.statuses["pass"] > 30
    # a second build takes the incremental path on Postgres too (record tables find nothing new, D37)
    again = build(built.settings, target="postgres", as_of=built.as_of, env=env)
    assert again.success
    with psycopg.connect(**PG) as pg:
        flagged = pg.execute(
            f'select count(*) from "{pg_prefix}_intermediate".int_affected_leads'
        ).fetchall()[0][0]
        runs = pg.execute(
            f'select kind, count(*) from "{pg_prefix}_intermediate"._record_changes group by kind'
        ).fetchall()
    assert flagged == 0
    # the second build's record tables ran their increments (`done`) and logged no change
    assert dict(runs).get("done") == 6 and "change" not in dict(runs)
    duck = duckdb.connect(str(built.settings.warehouse), read_only=True)
    try:
        with psycopg.connect(**PG) as pg:
            for mart in MARTS:
                # `_built_at` names the build that wrote a row (D48): the two builds differ in it
                every = [c[0] for c in duck.execute(f"select * from marts.{mart} limit 0").description]
                cols = [c for c in every if c != "_built_at"]
                d_rows = duck.execute(f"select {', '.join(cols)} from marts.{mart}").fetchall()
                p_rows = pg.execute(f'select {", ".join(cols)} from "{pg_prefix}_marts".{mart}').fetchall()
                assert len(d_rows) == len(p_rows) > 0, mart
                for d, p in zip(_sorted(d_rows), _sorted(p_rows), strict=True):
                    mismatched = [c for c, x, y in zip(cols, d, p, strict=True) if not _same(x, y)]
                    assert not mismatched, (mart, mismatched, d, p)
    finally:
        duck.close()


def test_postgres_table_built_before_a_new_column_fails_with_the_mending_command(
    tmp_path_factory: pytest.TempPathFactory, pg_prefix: str
) -> None:
    built: Built = world_build("tiny", tmp_path_factory.mktemp("pg-new-column"))
    raw_schema = f"{pg_prefix}_raw"
    copy_raw_to_postgres(built.settings.warehouse, raw_schema)
    env = {"LEADFLOW_PG_SCHEMA": pg_prefix, "LEADFLOW_RAW_SCHEMA": raw_schema, "LEADFLOW_PG_USER": PG["user"]}
    build(built.settings, target="postgres", as_of=built.as_of, env=env)
    # a warehouse built before `leads` had `contacted_local_date` (D47)
    with psycopg.connect(**PG, autocommit=True) as pg:
        pg.execute(f'alter table "{pg_prefix}_marts".leads drop column contacted_local_date')
    with pytest.raises(TransformError) as failed:
        build(built.settings, target="postgres", as_of=built.as_of, env=env)
    message = str(failed.value)
    assert "contacted_local_date" in message
    assert "leadflow build --full-refresh --select leads+" in message
    build(built.settings, target="postgres", as_of=built.as_of, env=env, full_refresh=True, select=["leads+"])
    assert build(built.settings, target="postgres", as_of=built.as_of, env=env).success
    with psycopg.connect(**PG) as pg:
        missing = pg.execute(
            f'select count(*) from "{pg_prefix}_marts".leads'
            " where contacted_at is not null and contacted_local_date is null"
        ).fetchall()[0][0]
    assert missing == 0
