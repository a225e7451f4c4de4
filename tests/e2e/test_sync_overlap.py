"""`pipeline.sync` loads each completed batch while extraction goes on (D26), over real HTTP into DuckDB.

The extractor is held at a page until the loader reports a batch loaded: a sync that only loaded after
extraction ended would leave it waiting, so these tests fail unless loading really overlaps fetching.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from leadflow import pipeline
from leadflow.landing.files import Manifest
from leadflow.landing.loader import BatchResult
from leadflow.sandbox.server.testworld import make_world
from leadflow.settings import Settings, load_settings

from .conftest import env_for, query, sandbox

CONTACTS = {"hubspot": ["contacts"]}


def chunked_settings(server: object, home: Path, batch_records: int = 100) -> Settings:
    env = env_for(server, home) | {"LEADFLOW_HUBSPOT_BATCH_RECORDS": str(batch_records)}  # type: ignore[arg-type]
    return load_settings(home / "absent.toml", env)


def test_sync_loads_batches_while_the_extractor_is_still_fetching(tmp_path: Path) -> None:
    world = make_world(900, days=30)
    loaded = threading.Event()
    waits: list[bool] = []
    seen = {"records": 0}

    def progress(source: str, entity: str, n: int) -> None:
        seen["records"] += n
        if entity == "contacts" and seen["records"] >= 300 and not waits:
            waits.append(loaded.wait(30))  # hold the extractor until the loader has loaded a batch

    def on_batch(manifest: Manifest, result: BatchResult) -> None:
        if manifest.entity == "contacts" and result.inserted:
            loaded.set()

    with sandbox(world, clock_ms=world.end_ms) as server:
        settings = chunked_settings(server, tmp_path)
        report = pipeline.sync(settings, ["hubspot"], entities=CONTACTS, progress=progress, on_batch=on_batch)
    assert waits == [True], "no batch was loaded while the extractor waited"
    contacts = [b for b in report.loaded.batches if b.entity == "contacts"]
    assert len(contacts) >= 9 and all(b.cursor_advanced for b in contacts)
    warehouse = settings.warehouse
    assert query(warehouse, "SELECT count(*) FROM raw.hubspot__contacts")[0][0] == seen["records"]
    (cursor,) = query(warehouse, "SELECT cursor FROM raw._cursors WHERE entity = 'contacts'")[0]
    assert '"resume"' not in cursor  # the last batch ended the backfill


def test_a_failing_load_stops_the_extractors(tmp_path: Path) -> None:
    world = make_world(900, days=30)
    failed = threading.Event()
    seen = {"records": 0}

    def progress(source: str, entity: str, n: int) -> None:
        seen["records"] += n
        if seen["records"] >= 200:
            failed.wait(30)  # let the loader fail before fetching on

    def on_batch(manifest: Manifest, result: BatchResult) -> None:
        failed.set()
        raise OSError("disk full")

    with sandbox(world, clock_ms=world.end_ms) as server:
        settings = chunked_settings(server, tmp_path)
        with pytest.raises(OSError, match="disk full"):
            pipeline.sync(settings, ["hubspot"], entities=CONTACTS, progress=progress, on_batch=on_batch)
    assert failed.is_set()
    assert seen["records"] < 400  # the extractor stopped at its next page instead of fetching all 900
