"""`leadflow extract|load|sync|state` through click, with a fake connector (no network)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner
from rich.console import Console

from leadflow import pipeline
from leadflow.cli import cli
from leadflow.cli import pipeline as cli_pipeline
from leadflow.landing.files import LandingStore
from leadflow.landing.loader import load_batch
from leadflow.landing.schema import ensure_schema
from leadflow.landing.warehouse import writer_lock

from .conftest import contact, hs_page, land
from .test_pipeline import fake_connector


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setattr(cli_pipeline, "out", Console(width=250))  # rich would cut cells at 80 columns
    monkeypatch.setattr(
        pipeline, "_connector", lambda source: fake_connector({"contacts": [[contact(1), contact(2)]]})
    )
    return {
        "LEADFLOW_HOME": str(tmp_path / "var"),
        "LEADFLOW_HUBSPOT_TOKEN": "t",
        "LEADFLOW_CONFIG": str(tmp_path / "none.toml"),
    }


@pytest.mark.parametrize("cmd", ["extract", "load", "sync", "state"])
def test_every_command_has_help(cmd: str) -> None:
    result = CliRunner().invoke(cli, [cmd, "--help"])
    assert result.exit_code == 0 and "--config" in result.output


def test_extract_then_load_then_state(env: dict[str, str]) -> None:
    runner = CliRunner()
    out = runner.invoke(cli, ["extract", "--source", "hubspot"], env=env)
    assert out.exit_code == 0, out.output
    assert "contacts" in out.output
    out = runner.invoke(cli, ["load"], env=env)
    assert out.exit_code == 0, out.output
    assert "2 row(s) inserted" in out.output
    out = runner.invoke(cli, ["state"], env=env)
    assert out.exit_code == 0, out.output
    assert "raw.hubspot__contacts" in out.output and '{"pages":1}' in out.output


def test_sync_twice_inserts_nothing_the_second_time(env: dict[str, str]) -> None:
    runner = CliRunner()
    assert "2 row(s) inserted" in runner.invoke(cli, ["sync", "--source", "hubspot"], env=env).output
    assert "0 row(s) inserted" in runner.invoke(cli, ["sync", "--source", "hubspot"], env=env).output


def test_bad_since_is_a_usage_error(env: dict[str, str]) -> None:
    out = CliRunner().invoke(cli, ["extract", "--source", "hubspot", "--since", "last tuesday"], env=env)
    assert out.exit_code == 2 and "ISO-8601" in out.output


def _invoke_behind_another_writer(
    args: list[str], env: dict[str, str], warehouse: Path, work: Callable[[], None] = lambda: None
) -> Any:
    """Run the CLI while another writer holds the warehouse's lock (doing `work` first) for ~1 s."""
    holding, release = threading.Event(), threading.Event()

    def other_writer() -> None:
        with writer_lock(warehouse):
            work()
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=other_writer)
    thread.start()
    assert holding.wait(10)
    threading.Timer(1.0, release.set).start()
    try:
        return CliRunner().invoke(cli, args, env=env)
    finally:
        thread.join()


def test_sync_says_it_waits_for_another_writer_then_loads(env: dict[str, str], tmp_path: Path) -> None:
    warehouse = tmp_path / "var" / "leadflow.duckdb"
    out = _invoke_behind_another_writer(["sync", "--source", "hubspot"], env, warehouse)
    assert out.exit_code == 0, out.output
    said = f"waiting for another writer of {warehouse} (up to 600 s)"
    assert "".join(said.split()) in "".join(out.output.split())  # rich wraps the line anywhere
    assert "2 row(s) inserted" in out.output


def test_load_after_a_wait_counts_only_the_batches_left(env: dict[str, str], tmp_path: Path) -> None:
    store = LandingStore(tmp_path / "var" / "landing")
    for i in (1, 2):
        land(store, "hubspot", "contacts", [hs_page([contact(i)])], {"n": i})
    warehouse = tmp_path / "var" / "leadflow.duckdb"

    def load_the_first_batch() -> None:  # the other writer's work while `leadflow load` waits
        con = duckdb.connect(str(warehouse))
        ensure_schema(con)
        load_batch(con, store, store.pending()[0])
        con.close()

    out = _invoke_behind_another_writer(["load"], env, warehouse, load_the_first_batch)
    assert out.exit_code == 0, out.output
    assert "1/1 batches" in out.output and "2/2" not in out.output
    assert "1 batch(es), 1 row(s) inserted" in " ".join(out.output.split())
