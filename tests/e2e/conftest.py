"""Helpers for end-to-end sync tests: a sandbox server on an ephemeral port and settings pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from leadflow.sandbox.server import Faults, Limits, SandboxServer, ServerConfig
from leadflow.sandbox.world import World
from leadflow.settings import Settings, load_settings

# Retry quickly: the sandbox's faults are frequent on purpose.
HTTP_ENV = {
    "LEADFLOW_HTTP_CONNECT_TIMEOUT_S": "2",
    "LEADFLOW_HTTP_READ_TIMEOUT_S": "5",
    "LEADFLOW_HTTP_MAX_RETRIES": "10",
    "LEADFLOW_HTTP_BACKOFF_BASE_S": "0.01",
    "LEADFLOW_HTTP_BACKOFF_MAX_S": "0.1",
    "LEADFLOW_HUBSPOT_BURST_PER_10S": "5000",
    "LEADFLOW_HUBSPOT_SEARCH_PER_S": "200",
    "LEADFLOW_CALENDLY_REQUESTS_PER_MIN": "100000",
    # small resumable batches, so the example worlds' backfills complete several (D25) while loading overlaps
    "LEADFLOW_HUBSPOT_BATCH_RECORDS": "500",
}

# Columns that identify a landed version; _batch_id, _file_hash and _loaded_at differ between runs,
# and associations/sheet rows are versioned by fetch time, so their version_ts differs too.
FETCH_TIME_TABLES = {"hubspot__associations", "sheet__leads"}


@contextmanager
def sandbox(
    world: World, *, faults: Faults | None = None, clock_ms: int | None = None
) -> Iterator[SandboxServer]:
    config = ServerConfig(limits=Limits.unlimited(), faults=faults or Faults(), clock_ms=clock_ms, seed=3)
    with SandboxServer(world, config) as server:
        yield server


def env_for(server: SandboxServer, home: Path) -> dict[str, str]:
    """LEADFLOW_* variables that point every source at the sandbox and the warehouse under `home`."""
    return HTTP_ENV | {
        "LEADFLOW_HOME": str(home),
        "LEADFLOW_HUBSPOT_BASE_URL": server.url,
        "LEADFLOW_HUBSPOT_TOKEN": server.config.hubspot_token.reveal(),
        "LEADFLOW_CALENDLY_BASE_URL": server.url,
        "LEADFLOW_CALENDLY_TOKEN": server.config.calendly_token.reveal(),
        "LEADFLOW_SHEET_URL": f"{server.url}/spreadsheets/d/{server.config.sheet_key}/export?format=csv&gid=0",
    }


def settings_for(server: SandboxServer, home: Path) -> Settings:
    return load_settings(home / "absent.toml", env_for(server, home))


def query(warehouse: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def raw_snapshot(warehouse: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every raw table as sorted (record_id, version_ts, is_deleted, record_hash) rows (version_ts None
    for tables versioned by fetch time)."""
    tables = [
        r[0]
        for r in query(
            warehouse,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw' AND table_name NOT LIKE '\\_%' ESCAPE '\\'",
        )
    ]
    out = {}
    for t in sorted(tables):
        ts = "NULL" if t in FETCH_TIME_TABLES else "epoch_ms(version_ts)"
        out[t] = query(
            warehouse, f"SELECT record_id, {ts}, is_deleted, record_hash FROM raw.{t} ORDER BY ALL"
        )
    return out
