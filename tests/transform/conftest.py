"""Warehouses for the dbt tests, built once per session (run with `--dist loadgroup`: group "dbt").

- `synced` obtains the raw tables the real way: a scenario's world served by the sandbox on an
  ephemeral loopback port, `leadflow.pipeline.sync` into a DuckDB file, then `leadflow build`.
- `world_loaded` writes the raw tables straight from a World (`leadflow.transform.world_raw`): only
  for tests of dbt mechanics (incremental vs full refresh, Postgres parity), never for ground truth.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import pytest

from leadflow import pipeline
from leadflow.sandbox.generate import generate_world
from leadflow.sandbox.scenario import load_scenario
from leadflow.sandbox.server import Limits, SandboxServer, ServerConfig
from leadflow.sandbox.world import World, hubspot_time
from leadflow.settings import Settings, load_settings
from leadflow.transform.runner import BuildSummary, build

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios"
MARTS = (
    "leads",
    "asks",
    "appointments",
    "concession_sequences",
    "concession_outcomes",
    "funnel_weekly",
    "process_capability",
)
"""The seven marts of issue 4, in build order."""

HTTP_ENV = {
    "LEADFLOW_HTTP_CONNECT_TIMEOUT_S": "2",
    "LEADFLOW_HTTP_READ_TIMEOUT_S": "10",
    "LEADFLOW_HTTP_MAX_RETRIES": "10",
    "LEADFLOW_HTTP_BACKOFF_BASE_S": "0.01",
    "LEADFLOW_HTTP_BACKOFF_MAX_S": "0.1",
    "LEADFLOW_HUBSPOT_BURST_PER_10S": "100000",
    "LEADFLOW_HUBSPOT_SEARCH_PER_S": "1000",
    "LEADFLOW_CALENDLY_REQUESTS_PER_MIN": "1000000",
}


@dataclass
class Built:
    """A warehouse with raw tables and built marts, plus where they came from."""

    settings: Settings
    world: World
    summary: BuildSummary

    @property
    def truth(self) -> dict[str, Any]:
        return self.world.truth

    @property
    def as_of(self) -> str:
        return hubspot_time(self.world.end_ms)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(self.settings.warehouse), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()


def settings_at(home: Path, env: dict[str, str] | None = None) -> Settings:
    return load_settings(home / "absent.toml", {"LEADFLOW_HOME": str(home), **HTTP_ENV, **(env or {})})


def sync_scenario(name: str, home: Path) -> tuple[Settings, World]:
    """Generate the scenario's world, serve it on loopback and sync it into `home`'s warehouse."""
    world = generate_world(load_scenario(SCENARIOS / f"{name}.yaml"))
    config = ServerConfig(limits=Limits.unlimited(), clock_ms=world.end_ms, seed=3)
    with SandboxServer(world, config) as server:
        env = {
            "LEADFLOW_HUBSPOT_BASE_URL": server.url,
            "LEADFLOW_HUBSPOT_TOKEN": server.config.hubspot_token.reveal(),
            "LEADFLOW_CALENDLY_BASE_URL": server.url,
            "LEADFLOW_CALENDLY_TOKEN": server.config.calendly_token.reveal(),
            "LEADFLOW_SHEET_URL": f"{server.url}/spreadsheets/d/{server.config.sheet_key}/export?format=csv&gid=0",
        }
        settings = settings_at(home, env)
        pipeline.sync(settings)
    return settings, world


def synced_build(name: str, home: Path) -> Built:
    settings, world = sync_scenario(name, home)
    summary = build(settings, as_of=hubspot_time(world.end_ms))
    return Built(settings, world, summary)


def world_build(name: str, home: Path) -> Built:
    """Raw tables written from the world (no HTTP), then a full build."""
    from leadflow.transform.world_raw import write_raw_from_world

    world = generate_world(load_scenario(SCENARIOS / f"{name}.yaml"))
    settings = settings_at(home)
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    write_raw_from_world(world, settings.warehouse, loaded_at_ms=world.end_ms)
    summary = build(settings, as_of=hubspot_time(world.end_ms))
    return Built(settings, world, summary)


@pytest.fixture(scope="session")
def synced_tiny(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return synced_build("tiny", tmp_path_factory.mktemp("synced-tiny"))


@pytest.fixture(scope="session")
def synced_cialdini(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return synced_build("cialdini-1975-large", tmp_path_factory.mktemp("synced-cialdini"))


@pytest.fixture(scope="session")
def world_example(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return world_build("example", tmp_path_factory.mktemp("world-example"))


@pytest.fixture
def copy_of(tmp_path: Path) -> Iterator[Any]:
    """Copy a built warehouse into this test's tmp dir (so a test may rebuild it)."""

    def _copy(built: Built) -> Built:
        home = tmp_path / "home"
        home.mkdir()
        shutil.copy(built.settings.warehouse, home / "leadflow.duckdb")
        return replace(built, settings=settings_at(home))

    yield _copy
