"""dbt unit tests: off in production builds (decision D30), run here, and a failing one fails the run.

`leadflow build` (and `transform.runner.build`) excludes `resource_type unit_test` unless asked
(`--unit-tests` / `unit_tests=True`), following dbt's advice to run unit tests in development and CI.
This module is the CI side: it runs every unit test the project defines and checks that a broken
expectation makes the run fail.
"""

from __future__ import annotations

import math
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


# Independent statistics (Wilson 1927; Newcombe 1998 method 10; pooled two-proportion z-test with the
# Abramowitz & Stegun 7.1.26 tail) in plain Python floats, to check the doubles that the unit tests expect.
_Z95 = 1.959963984540054


def _wilson(x: int, n: int, sign: float) -> float:
    p = x / n
    centre, spread = p + _Z95**2 / (2 * n), _Z95 * math.sqrt(p * (1 - p) / n + _Z95**2 / (4 * n * n))
    return (centre + sign * spread) / (1 + _Z95**2 / n)


def _newcombe(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float, float]:
    p1, p2 = x1 / n1, x2 / n2
    low = (p1 - p2) - math.hypot(p1 - _wilson(x1, n1, -1), _wilson(x2, n2, 1) - p2)
    high = (p1 - p2) + math.hypot(_wilson(x1, n1, 1) - p1, p2 - _wilson(x2, n2, -1))
    return p1 - p2, low, high


def _two_sided_p(x1: int, n1: int, x2: int, n2: int) -> float:
    pooled = (x1 + x2) / (n1 + n2)
    z = abs(x1 / n1 - x2 / n2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    t = 1 / (1 + 0.3275911 * z / math.sqrt(2))
    poly = sum(
        a * t**k for k, a in enumerate([0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429], 1)
    )
    return poly * math.exp(-z * z / 2)


def _unit_test(name: str) -> dict[str, Any]:
    for path in (project_dir() / "models").rglob("*.yml"):
        doc: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
        for test in doc.get("unit_tests") or []:
            if test["name"] == name:
                return test
    raise AssertionError(f"no unit test {name}")


def test_expected_statistics_agree_with_an_independent_computation() -> None:
    rows = _unit_test("concession_outcomes_wilson_lift_and_p_value")["expect"]["rows"]
    direct = [r for r in rows if r["sequence_condition"] == "direct"]
    target = [r for r in rows if r["sequence_condition"] == "door_in_the_face"]
    assert len(direct) == 4 and len(target) == 5  # four segments, and the gap bucket for the target only
    for row in direct + target:
        x, n = row["n_accepted"], row["n_asks"]
        assert row["compliance_ci_low"] == pytest.approx(_wilson(x, n, -1), abs=1e-15)
        assert row["compliance_ci_high"] == pytest.approx(_wilson(x, n, 1), abs=1e-15)
    for row in target:
        lift, low, high = _newcombe(row["n_accepted"], row["n_asks"], 2, 10)
        assert (row["lift_vs_direct"], row["lift_ci_low"], row["lift_ci_high"]) == pytest.approx(
            (lift, low, high), abs=1e-15
        )
        assert row["p_value"] == pytest.approx(
            _two_sided_p(row["n_accepted"], row["n_asks"], 2, 10), abs=1e-15
        )
    # the A&S tail is within its stated 1.5e-7 of the exact normal tail
    assert target[0]["p_value"] == pytest.approx(math.erfc(1.8257418583505536 / math.sqrt(2)), abs=1.5e-7)

    p_chart = _unit_test("p_chart_limits_and_flags")["expect"]["rows"]
    for row in p_chart:
        sigma = math.sqrt(0.6 * 0.4 / row["n_contacted"])
        assert (row["centre_line"], row["lower_control_limit"], row["upper_control_limit"]) == pytest.approx(
            (180 / 300, 0.6 - 3 * sigma, 0.6 + 3 * sigma), abs=1e-15
        )
