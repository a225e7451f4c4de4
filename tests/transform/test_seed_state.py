"""Unchanged seeds are not reloaded by a DuckDB build; a changed or missing one is (decision D45)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from leadflow.transform.runner import build, project_dir
from leadflow.transform.seed_state import STAMP_PREFIX, remember_seed_relations, seed_relations, seed_states

from .conftest import Built

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dbt")]

SEEDS = {"ask_ladder", "ask_ladder_aliases", "channel_mapping", "stage_mapping"}


def _names(summary: Any, kind: str) -> set[str]:
    return {uid.split(".")[2] for uid in summary.node_seconds if uid.startswith(kind + ".")}


def _marts(warehouse: Path) -> dict[str, list[tuple[Any, ...]]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {
            # `_built_at` names the build that wrote a row (D48): compared are the values
            t: sorted(con.execute(f"select {cols} from marts.{t}").fetchall(), key=repr)
            for t, cols in (
                ("leads", "* exclude (_built_at)"),
                ("asks", "* exclude (_built_at)"),
                ("concession_outcomes", "*"),
                ("funnel_weekly", "*"),
            )
        }
    finally:
        con.close()


def test_seed_states_change_with_the_file_and_the_seed_config(tmp_path: Path) -> None:
    project = tmp_path / "p"
    shutil.copytree(project_dir(), project, ignore=shutil.ignore_patterns("target", "logs"))
    before = seed_states(project)
    assert set(before) == SEEDS
    csv = project / "seeds" / "ask_ladder.csv"
    csv.write_text(csv.read_text() + "\n")
    after_csv = seed_states(project)
    assert after_csv["ask_ladder"] != before["ask_ladder"]
    assert after_csv["stage_mapping"] == before["stage_mapping"]
    spec = project / "seeds" / "_seeds.yml"
    spec.write_text(spec.read_text().replace("Larger level = bigger request.", "Bigger level, bigger ask."))
    assert all(seed_states(project)[s] != after_csv[s] for s in SEEDS)


def test_seed_relations_are_remembered_across_builds_that_load_only_some_seeds(tmp_path: Path) -> None:
    work = tmp_path / "dbt"
    (work / "target").mkdir(parents=True)
    # a work directory from before D48: only dbt's manifest knows where the seeds are
    (work / "target" / "manifest.json").write_text(
        '{"nodes": {"seed.leadflow.a": {"resource_type": "seed", "name": "a", "schema": "seeds", "alias": "a"},'
        ' "model.leadflow.m": {"resource_type": "model", "name": "m", "schema": "marts", "alias": "m"}}}'
    )
    assert seed_relations(work) == {"a": ("seeds", "a")}
    # a build that loaded seed b keeps a, and from then on the record wins over the (stale) manifest
    assert remember_seed_relations(work, {"b": ("seeds", "b_table")}) == {
        "a": ("seeds", "a"),
        "b": ("seeds", "b_table"),
    }
    (work / "target" / "manifest.json").unlink()
    assert remember_seed_relations(work, {"a": ("other", "a")}) == {
        "a": ("other", "a"),
        "b": ("seeds", "b_table"),
    }
    assert seed_relations(work) == {"a": ("other", "a"), "b": ("seeds", "b_table")}


def test_unchanged_seeds_are_left_out_changed_ones_reloaded(
    synced_tiny: Built, copy_of: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = copy_of(synced_tiny)
    # the session build loaded and stamped every seed; this home has no manifest yet: all load again
    first = build(built.settings, as_of=built.as_of)
    assert _names(first, "seed") == SEEDS and first.seeds_unchanged == []
    expected = _marts(built.settings.warehouse)

    second = build(built.settings, as_of=built.as_of)
    assert second.success and second.seeds_unchanged == sorted(SEEDS)
    assert _names(second, "seed") == set()
    tests = _names(second, "test")
    # the seeds' own tests go with them; tests of models that read a seed stay
    assert not {"row_checks_ask_ladder", "row_checks_stage_mapping"} & tests
    assert {"row_checks_leads", "row_checks_asks", "row_checks_appointments"} <= tests
    assert _marts(built.settings.warehouse) == expected

    # a changed seed file: that seed (and what reads it) is reloaded, the others are not
    project = tmp_path / "dbt_project"
    shutil.copytree(project_dir(), project, ignore=shutil.ignore_patterns("target", "logs"))
    ladder = project / "seeds" / "ask_ladder.csv"
    lines = ladder.read_text().splitlines()
    header = lines[0].split(",")
    label = header.index("ask_label")
    row = lines[1].split(",")
    row[label] = "Renamed ask"
    ladder.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n")
    monkeypatch.setenv("LEADFLOW_DBT_PROJECT_DIR", str(project))
    third = build(built.settings, as_of=built.as_of)
    assert third.success and _names(third, "seed") == {"ask_ladder"}
    assert "row_checks_ask_ladder" in _names(third, "test")
    con = duckdb.connect(str(built.settings.warehouse))
    try:
        labels = {r[0] for r in con.execute("select ask_label from seeds.ask_ladder").fetchall()}
        assert "Renamed ask" in labels
        # a seed table without its stamp (recreated by hand, an older warehouse) is reloaded
        con.execute("comment on table seeds.stage_mapping is null")
        stamps = dict(
            con.execute(
                "select table_name, comment from duckdb_tables() where comment like ?", [STAMP_PREFIX + "%"]
            ).fetchall()
        )
    finally:
        con.close()
    assert set(stamps) == SEEDS - {"stage_mapping"}
    assert stamps["ask_ladder"] == STAMP_PREFIX + seed_states(project)["ask_ladder"]
    fourth = build(built.settings, as_of=built.as_of)
    assert _names(fourth, "seed") == {"stage_mapping"}

    # --full-refresh and an explicit selection load what they are asked to
    assert _names(build(built.settings, as_of=built.as_of, select=["ask_ladder"]), "seed") == {"ask_ladder"}
    assert _names(build(built.settings, as_of=built.as_of, full_refresh=True), "seed") == SEEDS
