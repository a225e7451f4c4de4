"""Long HubSpot passes complete resumable batches (D25), against the real sandbox over loopback HTTP.

A backfill or a long search completes a batch every `batch_records` records with a cursor that holds
where to resume. These tests check that the batches of one run add up to exactly what one unchunked
run lands, that a run started from any such cursor lands exactly the rest, that a resume point the
server refuses restarts the pass, and that an object batch never completes before the associations
of its records (D22).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from leadflow.sandbox.server import Limits
from leadflow.sandbox.server.testworld import make_world
from leadflow.sandbox.world import World
from leadflow.settings import HubSpotSettings
from leadflow.sources import hubspot
from leadflow.sources.hubspot_associations import FROM_TYPES
from leadflow.sources.hubspot_objects import to_ms

from .conftest import ListSink, serving
from .test_hubspot import FAST, live_at

CHUNK = 100


@dataclass
class ChainLanding:
    """Every batch opened, in order, and the order in which batches completed (a `BatchOpener`)."""

    cursors: dict[tuple[str, str], dict[str, Any] | None] = field(default_factory=dict)
    batches: list[ListSink] = field(default_factory=list)
    completed: list[ListSink] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, source: str, entity: str) -> dict[str, Any] | None:
        return self.cursors.get((source, entity))

    def open_batch(self, source: str, entity: str) -> ListSink:
        landing = self

        class Recorded(ListSink):
            def complete(self, cursor: dict[str, Any] | None) -> None:
                super().complete(cursor)
                with landing._lock:
                    landing.completed.append(self)

        sink = Recorded(source, entity)
        with self._lock:
            self.batches.append(sink)
        return sink

    def of(self, entity: str) -> list[ListSink]:
        return [b for b in self.batches if b.entity == entity]


def extract(server: Any, landing: ChainLanding, **kw: Any) -> dict[str, Any]:
    batch_records = kw.pop("batch_records", CHUNK)
    s = HubSpotSettings(
        base_url=server.url,
        token=server.config.hubspot_token,
        burst_per_10s=5000,
        search_per_s=200,
        batch_records=batch_records,
    )
    results = hubspot.extract(s, FAST, session=None, cursors=landing, open_batch=landing.open_batch, **kw)
    return {r.entity: r for r in results}


def versions(sinks: list[ListSink], *, deleted: bool = False) -> Counter[tuple[str, int]]:
    return Counter((r["id"], to_ms(r["updatedAt"]) or 0) for s in sinks for r in s.records(deleted=deleted))


@pytest.fixture(scope="module")
def world() -> World:
    return make_world(900, days=30)


def test_a_backfill_completes_batches_that_add_up_to_one_unchunked_run(world: World) -> None:
    t = world.end_ms
    chunked, whole = ChainLanding(), ChainLanding()
    with serving(world, clock_ms=t, limits=Limits.unlimited()) as server:
        results = extract(server, chunked, entities=["contacts"])
        extract(server, whole, entities=["contacts"], batch_records=0)
    batches = chunked.of("contacts")
    assert len(whole.of("contacts")) == 1
    assert len(batches) == len(live_at(world, "contacts", t)) // CHUNK + 1 >= 9
    assert results["contacts"].batches == len(batches) - 1
    assert all(b.completed for b in batches)
    # together the batches land exactly what the unchunked run lands, each live version once
    assert (
        versions(batches) == versions(whole.of("contacts")) == Counter(live_at(world, "contacts", t).items())
    )
    assert versions(batches, deleted=True) == versions(whole.of("contacts"), deleted=True)
    # every batch but the last says where to resume and leaves last_modified_ms alone
    for b in batches[:-1]:
        assert b.cursor is not None
        assert b.cursor["last_modified_ms"] is None
        assert b.cursor["resume"]["mode"] == "list" and b.cursor["resume"]["after"]
        assert not any(p.is_deleted for p in b.pages)  # the archived pass belongs to the last batch
    final = batches[-1].cursor
    assert final is not None and "resume" not in final
    assert final["last_modified_ms"] == whole.of("contacts")[0].cursor["last_modified_ms"]  # type: ignore[index]


@pytest.mark.parametrize("crash_after", [1, 4])
def test_a_run_resumes_after_the_last_committed_batch(world: World, crash_after: int) -> None:
    t = world.end_ms
    first = ChainLanding()
    with serving(world, clock_ms=t, limits=Limits.unlimited()) as server:
        extract(server, first, entities=["contacts"])
        done = first.of("contacts")[:crash_after]  # these were loaded; the crash lost the rest
        resumed = ChainLanding(cursors={("hubspot", "contacts"): done[-1].cursor})
        results = extract(server, resumed, entities=["contacts"])
    assert any("backfill resumed" in n for n in results["contacts"].notes)
    rest = resumed.of("contacts")
    got = versions(done) + versions(rest)
    assert got == Counter(live_at(world, "contacts", t).items())  # nothing lost, nothing twice
    assert rest[-1].cursor == first.of("contacts")[-1].cursor  # the same end state as the whole pass


def test_a_refused_resume_point_restarts_the_backfill(world: World) -> None:
    t = world.end_ms
    stale = {
        "v": 1,
        "last_modified_ms": None,
        "resume": {"mode": "list", "after": "not-a-cursor", "probe_ms": t},
    }
    landing = ChainLanding(cursors={("hubspot", "contacts"): stale})
    with serving(world, clock_ms=t, limits=Limits.unlimited()) as server:
        results = extract(server, landing, entities=["contacts"])
    assert any("restarted from the start" in n for n in results["contacts"].notes)
    assert versions(landing.of("contacts")) == Counter(live_at(world, "contacts", t).items())


def test_object_batches_complete_only_after_their_associations(world: World) -> None:
    t = world.end_ms
    landing = ChainLanding()
    with serving(world, clock_ms=t, limits=Limits.unlimited()) as server:
        extract(server, landing)
    contacts_live = set(live_at(world, "contacts", t))
    linked = {
        (obj, r.id)
        for obj in FROM_TYPES
        for r in world.hubspot[obj]
        if any(c in contacts_live for c in r.associations.get("contacts", []))
    }
    landed: set[tuple[str, str]] = set()  # (type, id) whose associations sit in a completed batch
    checked = 0
    for batch in landing.completed:  # in completion order
        if batch.entity == "associations":
            for page in batch.pages:
                landed |= {
                    (page.meta["from_type"], r["from"]["id"]) for r in orjson.loads(page.body)["results"]
                }
        elif batch.entity in FROM_TYPES:
            ids = {(batch.entity, r["id"]) for r in batch.records(deleted=False)}
            assert ids & linked <= landed, f"a {batch.entity} batch completed before its associations"
            checked += 1
    assert checked > 2 * len(FROM_TYPES)  # chunked object batches, not just one per type
    assert sum(b.entity == "associations" for b in landing.completed) > len(FROM_TYPES)


def test_a_long_search_completes_batches_and_resumes_by_object_id() -> None:
    big = make_world(1_200, days=20, activity=False)
    since = datetime.fromtimestamp(big.start_ms / 1000, tz=UTC)
    chunked = ChainLanding()
    with serving(big, clock_ms=big.end_ms, limits=Limits.unlimited()) as server:
        extract(server, chunked, entities=["contacts"], since=since, batch_records=400)
        batches = chunked.of("contacts")
        pages = -(-len(live_at(big, "contacts", big.end_ms)) // 200)  # search pages of 200
        assert len(batches) == (pages - 1) // 2 + 1 >= 3  # a batch every 2 pages (400 records)
        middle = batches[1].cursor
        assert middle is not None and middle["resume"]["mode"] == "search"
        resumed = ChainLanding(cursors={("hubspot", "contacts"): middle})
        extract(server, resumed, entities=["contacts"], batch_records=400)
    live = Counter(live_at(big, "contacts", big.end_ms).items())
    assert versions(batches) == live
    assert versions(batches[:2]) + versions(resumed.of("contacts")) == live
    assert resumed.of("contacts")[-1].cursor == batches[-1].cursor
