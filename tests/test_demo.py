"""`leadflow demo` end to end on a small scenario: sandbox -> weekly syncs -> dbt build -> truth check."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.xdist_group("dbt")
def test_demo_on_tiny_scenario_matches_the_truth(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "leadflow",
            "demo",
            "--scenario",
            str(ROOT / "scenarios" / "tiny.yaml"),
            "--home",
            str(tmp_path / "demo"),
            "--weeks",
            "2",
        ],
        cwd=tmp_path,
        env=env | {"COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "funnel and per-condition counts equal the sandbox truth" in proc.stdout
    assert "sync 2/2 (incremental)" in proc.stdout
    # the truth check covers the concession conditions too, not only the funnel
    assert "direct: asked" in proc.stdout and "door_in_the_face: accepted" in proc.stdout
    assert "DIFF" not in proc.stdout
    con = duckdb.connect(str(tmp_path / "demo" / "leadflow.duckdb"), read_only=True)
    try:
        loaded_batches = con.execute(
            "select count(distinct _batch_id) from raw.hubspot__contacts"
        ).fetchall()[0][0]
        leads = con.execute("select count(*) from marts.leads").fetchall()[0][0]
    finally:
        con.close()
    svg = (tmp_path / "demo" / "concession-outcomes.svg").read_text()
    # one line per condition: a dot (with a ring for its planted rate) or, on this tiny world, a notice
    dots = svg.count('r="6"')
    assert dots + svg.count("too little data") == 4 and "ring: planted rate" in svg
    assert loaded_batches >= 2  # the backfill and the incremental sync both landed contacts
    assert leads > 0
