"""The marts' enforced contracts really reject bad rows, on DuckDB and PostgreSQL (decision D31).

The marts declare `not_null` and `check` constraints (accepted values, ranges) instead of separate
`not_null` / `accepted_values` / `between` test nodes. That is only sound if the warehouse enforces
them for every materialization the marts use: a table (`funnel_weekly`) and an incremental model that
only appends its affected leads (`leads`). Each case builds a copy of the project whose model emits a
bad value and checks that the build fails at that model and the mart keeps its previous rows.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from leadflow.transform.runner import BuildSummary, build, project_dir

from .conftest import Built, world_build
from .test_postgres_parity import PG, copy_raw_to_postgres

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dbt")]

LEAD_SOURCE = "cast(reached.lead_source as varchar) as lead_source"
STAGE_ORDER = "cast(stages.stage_order as integer) as furthest_stage_order"
LEADS_CREATED = "cast(leads_created as bigint) as leads_created"
# a changed lead-model var makes every lead "affected", so the incremental run re-appends them all
WINDOW_VAR = "concession_window_days: 30"
PROJECT = project_dir()  # the tests below point LEADFLOW_DBT_PROJECT_DIR at patched copies of it


def _project(tmp: Path, patches: dict[str, tuple[str, str]]) -> Path:
    """A copy of the dbt project with `{relative file: (old, new)}` replaced (each old text must exist)."""
    project = tmp / "dbt_project"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("target", "logs"))
    for rel, (old, new) in patches.items():
        path = project / rel
        text = path.read_text()
        assert old in text, (rel, old)
        path.write_text(text.replace(old, new))
    return project


def _leads_patch(new: str, old: str = LEAD_SOURCE) -> dict[str, tuple[str, str]]:
    return {
        "models/marts/leads.sql": (old, new),
        "dbt_project.yml": (WINDOW_VAR, "concession_window_days: 31"),
    }


def _duck_rows(built: Built, sql: str) -> list[tuple[Any, ...]]:
    return built.query(sql)


def _assert_rejected(summary: BuildSummary, model: str, error: str) -> None:
    """The build failed at `model` with a constraint error matching `error`."""
    assert not summary.success
    messages = dict(summary.failures)
    assert f"model.leadflow.{model}" in messages, summary.failures
    assert re.search(error, messages[f"model.leadflow.{model}"], re.IGNORECASE), messages


def test_duckdb_table_mart_rejects_null_and_out_of_range(
    synced_tiny: Built, copy_of: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = copy_of(synced_tiny)
    before = _duck_rows(built, "select * from marts.funnel_weekly order by all")
    assert before
    cases = {
        "null": (LEADS_CREATED, "cast(nullif(leads_created, leads_created) as bigint) as leads_created"),
        "check": (
            "then cast(leads_{{ next }} as double precision)",
            "then 1.5 + cast(leads_{{ next }} as double precision)",
        ),
    }
    for name, (old, new) in cases.items():
        project = _project(tmp_path / name, {"models/marts/funnel_weekly.sql": (old, new)})
        monkeypatch.setenv("LEADFLOW_DBT_PROJECT_DIR", str(project))
        summary = build(built.settings, as_of=built.as_of, select=["funnel_weekly"], raise_on_failure=False)
        _assert_rejected(summary, "funnel_weekly", r"NOT NULL constraint|CHECK constraint")
        assert _duck_rows(built, "select * from marts.funnel_weekly order by all") == before, name


def test_duckdb_incremental_mart_rejects_null_and_out_of_range(
    synced_tiny: Built, copy_of: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = copy_of(synced_tiny)
    before = _duck_rows(built, "select * from marts.leads order by all")
    assert before
    cases = {
        "null": _leads_patch(
            "cast(nullif(reached.lead_source, reached.lead_source) as varchar) as lead_source"
        ),
        "check": _leads_patch(
            "cast(stages.stage_order + 10 as integer) as furthest_stage_order", STAGE_ORDER
        ),
    }
    for name, patches in cases.items():
        project = _project(tmp_path / name, patches)
        monkeypatch.setenv("LEADFLOW_DBT_PROJECT_DIR", str(project))
        summary = build(
            built.settings, as_of=built.as_of, select=["int_affected_leads", "leads"], raise_on_failure=False
        )
        _assert_rejected(summary, "leads", r"NOT NULL constraint|CHECK constraint")
        # every lead was re-appended and none was kept: the failed run left the mart as it was
        affected = _duck_rows(built, "select count(*) from intermediate.int_affected_leads")
        assert affected[0][0] >= len(before), name
        assert _duck_rows(built, "select * from marts.leads order by all") == before, name


@pytest.fixture
def pg_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Built, dict[str, str]]]:
    prefix = f"lf_{uuid.uuid4().hex[:10]}"
    built = world_build("tiny", tmp_path_factory.mktemp("pg-constraints"))
    copy_raw_to_postgres(built.settings.warehouse, f"{prefix}_raw")
    env = {
        "LEADFLOW_PG_SCHEMA": prefix,
        "LEADFLOW_RAW_SCHEMA": f"{prefix}_raw",
        "LEADFLOW_PG_USER": PG["user"],
    }
    try:
        yield built, env
    finally:
        with psycopg.connect(**PG, autocommit=True) as con:
            rows = con.execute(
                "select schema_name from information_schema.schemata where schema_name like %s",
                [prefix + "%"],
            ).fetchall()
            for (schema,) in rows:
                con.execute(f'drop schema "{schema}" cascade')


@pytest.mark.services
def test_postgres_marts_reject_null_and_out_of_range(
    pg_schema: tuple[Built, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built, env = pg_schema
    assert build(built.settings, target="postgres", as_of=built.as_of, env=env).success
    marts = f'"{env["LEADFLOW_PG_SCHEMA"]}_marts"'

    def rows(table: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(**PG) as pg:
            return sorted(pg.execute(f"select * from {marts}.{table}").fetchall(), key=repr)

    leads, funnel = rows("leads"), rows("funnel_weekly")
    assert leads and funnel
    cases: dict[str, tuple[dict[str, tuple[str, str]], list[str], str]] = {
        "incremental-null": (
            _leads_patch("cast(nullif(reached.lead_source, reached.lead_source) as varchar) as lead_source"),
            ["int_affected_leads", "leads"],
            "leads",
        ),
        "incremental-check": (
            _leads_patch("cast(stages.stage_order + 10 as integer) as furthest_stage_order", STAGE_ORDER),
            ["int_affected_leads", "leads"],
            "leads",
        ),
        "table-null": (
            {
                "models/marts/funnel_weekly.sql": (
                    LEADS_CREATED,
                    "cast(nullif(leads_created, leads_created) as bigint) as leads_created",
                )
            },
            ["funnel_weekly"],
            "funnel_weekly",
        ),
    }
    for name, (patches, select, model) in cases.items():
        project = _project(tmp_path / name, patches)
        monkeypatch.setenv("LEADFLOW_DBT_PROJECT_DIR", str(project))
        summary = build(
            built.settings,
            target="postgres",
            as_of=built.as_of,
            env=env,
            select=select,
            raise_on_failure=False,
        )
        _assert_rejected(summary, model, r"violates not-null constraint|violates check constraint")
        assert rows("leads") == leads and rows("funnel_weekly") == funnel, name
