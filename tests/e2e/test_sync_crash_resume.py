"""Crash-resume: SIGKILL `python -m leadflow sync` at random points, rerun, compare with an uninterrupted run.

The sandbox runs in this test process; each sync is a real subprocess writing a real DuckDB file.
`LEADFLOW_TEST_PAUSE_AT` makes the child sleep at a named step (it never skips one) so that kills land
inside the load transaction, between the rows and the cursor, and between commit and bookkeeping
as well as during fetch and landing. The child announces each pause on stderr, so every trial knows
the last step it reached.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from leadflow.sandbox.generate import generate_world
from leadflow.sandbox.scenario import parse_scenario

from .conftest import env_for, query, raw_snapshot, sandbox

SCENARIO = {
    "name": "crash",
    "seed": 5,
    "start": "2025-03-03",
    "end": "2025-03-12",
    "leads_per_day": {"weekday": 6, "weekend": 2},
    "teams": [{"name": "Solo", "timezone": "Europe/London", "reps": 2}],
    "booking_rate": 0.9,
    "cancellation_rate": 0.3,
    "no_show_rate": 0.3,
    "contacts": {"delete_rate": 0.1, "merge_rate": 0.1, "update_rate": 0.4},
}
PHASES = [
    "extract.page",
    "extract.complete",
    "load.begin",
    "load.staged",
    "load.rows",
    "load.cursor",
    "load.committed",
]
KILLS = 20
MAX_TRIALS = 30


def run_sync(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leadflow", "sync"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def child_env(base: dict[str, str]) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}
    return keep | base


def kill_when(proc: subprocess.Popen[str], phase: str | None, rng: random.Random) -> str:
    """SIGKILL `proc` shortly after it announces `phase` (None: after a random delay); return the last
    phase it announced, or "finished" when it ended before the kill."""
    assert proc.stderr is not None
    seen: list[str] = []
    done = threading.Event()

    def read() -> None:
        for line in proc.stderr:  # type: ignore[union-attr]
            if line.startswith("leadflow-pause "):
                seen.append(line.split()[1])
                if phase is not None and seen[-1] == phase:
                    done.set()
        done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if phase is None:
        done.wait(rng.uniform(0.7, 2.5))
    else:
        done.wait(60)
        time.sleep(rng.uniform(0.0, 0.3))  # inside the 0.4 s pause
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    reader.join(timeout=5)
    killed = proc.returncode == -signal.SIGKILL
    return seen[-1] if killed and seen else ("killed-early" if killed else "finished")


@pytest.mark.slow
def test_killed_syncs_resume_to_the_same_raw_tables(tmp_path: Path) -> None:
    world = generate_world(parse_scenario(SCENARIO))
    rng = random.Random(20250303)
    with sandbox(world) as server:
        ref_home = tmp_path / "ref"
        ref = run_sync(child_env(env_for(server, ref_home)), tmp_path)
        assert ref.returncode == 0, ref.stderr[-3000:]
        expected = raw_snapshot(ref_home / "leadflow.duckdb")
        assert sum(len(rows) for rows in expected.values()) > 100
        reached: list[str] = []
        trial = 0
        while sum(p != "finished" for p in reached) < KILLS and trial < MAX_TRIALS:
            trial += 1
            home = tmp_path / f"t{trial}"
            phase = PHASES[trial % len(PHASES)]
            env = child_env(
                env_for(server, home) | {"LEADFLOW_TEST_PAUSE_AT": phase, "LEADFLOW_TEST_PAUSE_S": "0.4"}
            )
            proc = subprocess.Popen(
                [sys.executable, "-m", "leadflow", "sync"],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            # Kill at a random moment inside the phase's pause window (or, for a few trials, at a random
            # wall-clock moment), so kills do not depend on how fast the machine starts Python.
            at_phase = trial % 4 != 0
            reached.append(kill_when(proc, phase if at_phase else None, rng))
            resumed = run_sync(child_env(env_for(server, home)), tmp_path)
            assert resumed.returncode == 0, resumed.stderr[-3000:]
            got = raw_snapshot(home / "leadflow.duckdb")
            assert got == expected, f"trial {trial} killed at {reached[-1]}"
            assert (
                query(home / "leadflow.duckdb", "SELECT count(*) FROM raw._cursors")[0][0]
                == query(ref_home / "leadflow.duckdb", "SELECT count(*) FROM raw._cursors")[0][0]
            )
            assert not list((home / "landing" / "batches" / "pending").glob("*.json"))
    killed = [p for p in reached if p != "finished"]
    assert len(killed) >= KILLS, reached
    # the kills covered fetch, landing, the load transaction and the step after its commit
    assert {"extract.page", "load.rows", "load.cursor", "load.committed"} <= set(killed), reached


@pytest.mark.slow
def test_a_backfill_killed_between_its_batches_resumes_where_the_last_one_ended(tmp_path: Path) -> None:
    """With resumable batches (D25), a killed backfill continues from the last committed batch."""
    from leadflow.sandbox.server.testworld import make_world

    world = make_world(700, days=30)
    chunked = {"LEADFLOW_HUBSPOT_BATCH_RECORDS": "100"}
    with sandbox(world, clock_ms=world.end_ms) as server:
        ref_home = tmp_path / "ref"
        ref = run_sync(child_env(env_for(server, ref_home) | chunked), tmp_path)
        assert ref.returncode == 0, ref.stderr[-3000:]
        expected = raw_snapshot(ref_home / "leadflow.duckdb")
        home = tmp_path / "killed"
        env = env_for(server, home) | chunked | {"LEADFLOW_TEST_PAUSE_AT": "load.committed"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "leadflow", "sync"],
            env=child_env(env | {"LEADFLOW_TEST_PAUSE_S": "0.3"}),
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stderr is not None
        contacts_loaded = 0
        for line in proc.stderr:
            if line.strip() == "leadflow-pause load.committed hubspot/contacts":
                contacts_loaded += 1
                if contacts_loaded == 3:
                    proc.send_signal(signal.SIGKILL)
                    break
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        (cursor,) = query(
            home / "leadflow.duckdb", "SELECT cursor FROM raw._cursors WHERE entity = 'contacts'"
        )[0]
        assert '"resume"' in cursor  # the kill left a backfill half done, with its resume point
        resumed = run_sync(child_env(env_for(server, home) | chunked | {"COLUMNS": "400"}), tmp_path)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert "backfill resumed" in resumed.stdout  # the extract table's notes
        assert raw_snapshot(home / "leadflow.duckdb") == expected
        assert not list((home / "landing" / "batches" / "pending").glob("*.json"))
