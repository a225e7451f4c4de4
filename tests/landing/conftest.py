"""Helpers for landing unit tests: HubSpot-/Calendly-shaped pages built in memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from leadflow.landing.files import LandingStore
from leadflow.landing.sink import Page


def contact(i: int, updated: str = "2024-01-02T00:00:00.000Z", **props: str) -> dict[str, Any]:
    return {
        "id": str(i),
        "properties": {"email": f"c{i}@example.com", "hs_object_id": str(i), **props},
        "createdAt": "2024-01-01T00:00:00.000Z",
        "updatedAt": updated,
        "archived": False,
    }


def hs_page(
    records: list[Any], *, entity: str = "contacts", fetched_at_ms: int = 1_700_000_000_000, **kw: Any
) -> Page:
    return Page("hubspot", entity, orjson.dumps({"results": records}), "results", fetched_at_ms, **kw)


def land(
    store: LandingStore, source: str, entity: str, pages: list[Page], cursor: dict[str, Any] | None
) -> str:
    batch = store.open_batch(source, entity)
    for p in pages:
        batch.write_page(p)
    batch.complete(cursor)
    store.drain()
    assert batch.manifest is not None
    return batch.manifest.batch_id


@pytest.fixture
def store(tmp_path: Path) -> LandingStore:
    return LandingStore(tmp_path / "landing")


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return tmp_path / "wh.duckdb"
