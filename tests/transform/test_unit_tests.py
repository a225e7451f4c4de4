"""dbt unit tests: off in production builds (decision D30), run here, and a failing one fails the run.

`leadflow build` (and `transform.runner.build`) excludes `resource_type unit_test` unless asked
(`--unit-tests` / `unit_tests=True`), following dbt's advice to run unit tests in development and CI.
This module is the CI side: it runs every unit test the project defines and checks that a broken
expectation makes the run fail.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from leadflow.errors import TransformError
from leadflow.transform.runner import build, dbt_args, project_dir

from .conftest import Built

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dbt")]


def _defined_unit_tests(project: Path) -> set[str]:
    names: set[str] = set()
    for path in (project / "models").rglob("*.yml"):
        doc: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
        names.update(t["name"] for t in doc.get("unit_tests") or [])
    return names


def _unit_test_nodes(node_seconds: dict[str, float]) -> set[str]:
    return {n.rsplit(".", 1)[-1] for n in node_seconds if n.startswith("unit_test.")}


def test_dbt_args_exclude_unit_tests_only_when_asked(tmp_path: Path) -> None:
    with_units = dbt_args("test", target="duckdb", work_dir=tmp_path)
    without = dbt_args("test", target="duckdb", work_dir=tmp_path, unit_tests=False)
    assert "--exclude-resource-type" not in with_units and "--exclude" not in with_units
    # unit tests and the singular checks of the statistics macros on fixed values (tag `reference`)
    assert without[-4:] == ["--exclude", "tag:reference", "--exclude-resource-type", "unit_test"]
    # a build leaves out the exposures too (no-op nodes), and takes extra exclusions
    build_args = dbt_args("build", target="duckdb", work_dir=tmp_path, unit_tests=False, exclude=["x"])
    assert build_args[-7:] == [
        "--exclude",
        "x",
        "tag:reference",
        "--exclude-resource-type",
        "unit_test",
        "--exclude-resource-type",
        "exposure",
    ]


def test_builds_write_no_dbt_artifacts_unless_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEADFLOW_DBT_WRITE_JSON", raising=False)
    assert "--no-write-json" in dbt_args("build", target="duckdb", work_dir=tmp_path)
    # parse and compile write the manifest (bench/dbt_build.py reads the compiled SQL from it)
    assert "--no-write-json" not in dbt_args("compile", target="duckdb", work_dir=tmp_path)
    monkeypatch.setenv("LEADFLOW_DBT_WRITE_JSON", "1")
    assert "--no-write-json" not in dbt_args("build", target="duckdb", work_dir=tmp_path)


def test_every_unit_test_runs_and_passes(synced_tiny: Built, copy_of: Any) -> None:
    built = copy_of(synced_tiny)
    defined = _defined_unit_tests(project_dir())
    assert len(defined) >= 3
    # the production build of the session fixture ran none of them
    assert _unit_test_nodes(synced_tiny.summary.node_seconds) == set()
    summary = build(
        built.settings, as_of=built.as_of, command="test", select=["test_type:unit"], unit_tests=True
    )
    assert summary.success and summary.failures == []
    assert _unit_test_nodes(summary.node_seconds) == defined
    assert summary.statuses == {"pass": len(defined)}


def test_reference_checks_of_the_statistics_macros_run_in_ci_only(synced_tiny: Built, copy_of: Any) -> None:
    built = copy_of(synced_tiny)
    tagged = {
        p.stem for p in (project_dir() / "tests").glob("*.sql") if "tags=['reference']" in p.read_text()
    }
    assert {"assert_wilson_interval_matches_reference", "assert_p_chart_limits_match_reference"} <= tagged
    assert not {n.split(".")[2] for n in synced_tiny.summary.node_seconds} & tagged
    summary = build(
        built.settings, as_of=built.as_of, command="test", select=["tag:reference"], unit_tests=True
    )
    assert {n.split(".")[2] for n in summary.node_seconds} == tagged
    assert summary.statuses == {"pass": len(tagged)}


def test_a_failing_unit_test_fails_the_run(
    synced_tiny: Built, copy_of: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = copy_of(synced_tiny)
    project = tmp_path / "dbt_project"
    shutil.copytree(project_dir(), project, ignore=shutil.ignore_patterns("target", "logs"))
    spec = project / "models" / "intermediate" / "_intermediate__models.yml"
    text = spec.read_text()
    expected = '- {ask_id: "e:2", is_target_ask: true, sequence_condition: door_in_the_face,'
    assert expected in text
    spec.write_text(text.replace(expected, expected.replace("door_in_the_face", "direct")))
    monkeypatch.setenv("LEADFLOW_DBT_PROJECT_DIR", str(project))
    with pytest.raises(TransformError, match=r"sequence_classification_and_gap_buckets"):
        build(built.settings, as_of=built.as_of, command="test", select=["test_type:unit"], unit_tests=True)
    # the same broken project builds in production mode: unit tests are not part of it
    summary = build(built.settings, as_of=built.as_of, select=["int_asks_sequenced"])
    assert summary.success and _unit_test_nodes(summary.node_seconds) == set()


def test_cli_runs_unit_tests_only_when_asked(synced_tiny: Built, copy_of: Any) -> None:
    from click.testing import CliRunner

    from leadflow.cli import cli

    built = copy_of(synced_tiny)
    env = {
        "LEADFLOW_HOME": str(built.settings.home),
        "LEADFLOW_CONFIG": str(built.settings.home / "none.toml"),
    }
    # one model with one unit test: the flag adds exactly that unit test to what passes
    args = ["build", "--as-of", built.as_of, "--select", "int_asks_sequenced"]

    def passed(extra: list[str]) -> int:
        result = CliRunner().invoke(cli, [*args, *extra], env=env)
        assert result.exit_code == 0, result.output
        found = re.search(r"│ pass\s+│\s+(\d+) │", result.output)
        assert found, result.output
        return int(found.group(1))

    assert passed(["--unit-tests"]) == passed([]) + 1
