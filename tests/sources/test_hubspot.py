"""HubSpot connector against the real sandbox server over loopback HTTP.

Compares what landed in list-backed sinks with the World the sandbox serves: every live record exactly
once at its current version, archived records as tombstones, merges, associations, incremental runs
after the clock moves, the 10,000-result search cap, faults, and the client-side limiter.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime

import orjson
import pytest

from leadflow.errors import AuthError, ConfigError
from leadflow.sandbox.server import Faults, Limits
from leadflow.sandbox.server.testworld import DAY, HOUR, make_world
from leadflow.sandbox.world import LAST_MODIFIED_PROPERTY, World
from leadflow.settings import HttpSettings, HubSpotSettings, Secret
from leadflow.sources import hubspot
from leadflow.sources.hubspot_objects import OBJECTS, PROPERTIES, to_ms
from leadflow.sources.ratelimit import hubspot_limiter

from .conftest import Landing, ListSink, serving

FAST = HttpSettings(
    connect_timeout_s=2.0, read_timeout_s=5.0, max_retries=6, backoff_base_s=0.01, backoff_max_s=0.1
)


def settings(server, **kw) -> HubSpotSettings:  # type: ignore[no-untyped-def]
    return HubSpotSettings(base_url=server.url, token=server.config.hubspot_token, **kw)


def run(server, landing: Landing, http: HttpSettings = FAST, **kw) -> dict[str, object]:  # type: ignore[no-untyped-def]
    landing.new_run()
    # the sandbox runs with Limits.unlimited() in these tests, so the client may go faster too
    extra = {"burst_per_10s": 2000, "search_per_s": 100}
    extra |= {k: kw.pop(k) for k in ("burst_per_10s", "search_per_s", "search_lookback_s") if k in kw}
    results = hubspot.extract(
        settings(server, **extra), http, session=None, cursors=landing, open_batch=landing.open_batch, **kw
    )
    landing.commit()
    return {r.entity: r for r in results}


def live_at(world: World, obj: str, t: int) -> dict[str, int]:
    """id -> at_ms of the current version, for records live at t."""
    out = {}
    for r in world.hubspot[obj]:
        v = r.version_at(t)
        if v is not None and not r.is_archived_at(t):
            out[r.id] = v.at_ms
    return out


def archived_at(world: World, obj: str, t: int) -> set[str]:
    return {r.id for r in world.hubspot[obj] if r.created_ms <= t and r.is_archived_at(t)}


def versions(sink: ListSink, *, deleted: bool = False) -> Counter[tuple[str, int]]:
    return Counter((r["id"], to_ms(r["updatedAt"]) or 0) for r in sink.records(deleted=deleted))


@pytest.fixture(scope="module")
def world() -> World:
    return make_world(60, days=30)


def test_backfill_lands_every_record_once_at_its_current_version(world: World) -> None:
    t = world.end_ms
    landing = Landing()
    with serving(world, clock_ms=t, limits=Limits.unlimited()) as server:
        results = run(server, landing)
    sinks = landing.last
    assert all(s.completed for s in sinks.values())
    assert set(sinks) == {("hubspot", e) for e in hubspot.ENTITIES}
    for obj in OBJECTS:
        sink = sinks[("hubspot", obj)]
        got = versions(sink)
        expected = live_at(world, obj, t)
        assert got == Counter(expected.items()), obj  # each live record exactly once, current version
        assert results[obj].mode == "full"  # type: ignore[attr-defined]
        # properties are the current version's (as far as asked for)
        for rec in sink.records(deleted=False):
            current = next(r for r in world.hubspot[obj] if r.id == rec["id"]).version_at(t)
            assert current is not None
            wanted = {
                k: str(v)
                for k, v in current.properties.items()
                if k in PROPERTIES[obj] and v not in (None, "")
            }
            assert rec["properties"] == wanted
        # tombstones: archived records only in is_deleted pages
        deleted = sink.records(deleted=True)
        assert {r["id"] for r in deleted} == archived_at(world, obj, t)
        assert all(r["archived"] is True and r.get("archivedAt") for r in deleted)
        assert all(p.records_path == "results" and p.source == "hubspot" for p in sink.pages)
        cursor = sink.cursor
        assert cursor is not None
        lm = LAST_MODIFIED_PROPERTY[obj]
        newest = max(
            to_ms(v.properties[lm]) or 0
            for r in world.hubspot[obj]
            if not r.is_archived_at(t)
            for v in r.versions_until(t)
        )
        assert cursor["last_modified_ms"] == newest == cursor["max_seen_ms"]
    # a merge: the duplicate is a tombstone, the survivor names it in hs_merged_object_ids
    merged = [r for r in world.hubspot["contacts"] if r.merged_into]
    assert merged
    contacts = {r["id"]: r for r in sinks[("hubspot", "contacts")].records(deleted=False)}
    tombstones = {r["id"] for r in sinks[("hubspot", "contacts")].records(deleted=True)}
    for dup in merged:
        assert dup.id in tombstones and dup.id not in contacts
        assert dup.id in contacts[dup.merged_into]["properties"]["hs_merged_object_ids"].split(";")
    # owners and pipelines
    owners = sinks[("hubspot", "owners")].records()
    assert sorted(o["id"] for o in owners) == sorted(o.id for o in world.owners)
    assert [p["id"] for p in sinks[("hubspot", "pipelines")].records()] == [p["id"] for p in world.pipelines]


def test_backfill_associations_match_the_world(world: World) -> None:
    t = world.end_ms
    landing = Landing()
    with serving(world, clock_ms=t, limits=Limits.unlimited()) as server:
        run(server, landing, entities=["deals", "meetings", "calls", "emails", "associations"])
    sink = landing.last[("hubspot", "associations")]
    assert sink.completed and sink.pages
    got: set[tuple[str, str, str]] = set()
    for page in sink.pages:
        assert page.meta["to_type"] == "contacts" and page.records_path == "results"
        for rec in orjson.loads(page.body)["results"]:
            for to in rec["to"]:
                got.add((page.meta["from_type"], rec["from"]["id"], str(to["toObjectId"])))
    contacts_live = set(live_at(world, "contacts", t))
    expected = {
        (obj, r.id, c)
        for obj in ("deals", "meetings", "calls", "emails")
        for r in world.hubspot[obj]
        if r.id in live_at(world, obj, t)
        for c in r.associations.get("contacts", [])
        if c in contacts_live
    }
    assert got == expected and len(expected) > 20


def test_failed_associations_keep_the_cursors_of_the_objects_that_feed_them(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If associations cannot be read, deals/engagements must not complete: their cursors stay put."""
    from leadflow.errors import RequestRejected
    from leadflow.sources.hubspot_associations import AssociationReader

    def refuse(self: AssociationReader, obj: str, ids: list[str]) -> None:
        raise RequestRejected("associations refused", source="hubspot", status=400)

    monkeypatch.setattr(AssociationReader, "_read", refuse)
    landing = Landing()
    with (
        serving(world, clock_ms=world.end_ms, limits=Limits.unlimited()) as server,
        pytest.raises(RequestRejected),
    ):
        run(server, landing, entities=["contacts", "deals", "meetings", "associations"])
    done = {entity for (_, entity), sink in landing.last.items() if sink.completed}
    assert done == {"contacts"}  # contacts feed no association; the others stay open
    assert landing.last[("hubspot", "meetings")].pages  # pages were fetched, just not completed


def test_associations_alone_list_ids_themselves(world: World) -> None:
    landing = Landing()
    with serving(world, clock_ms=world.end_ms, limits=Limits.unlimited()) as server:
        results = run(server, landing, entities=["associations"])
    assert set(landing.last) == {("hubspot", "associations")}
    assert results["associations"].cursor["from_types"] == ["calls", "deals", "emails", "meetings"]  # type: ignore[attr-defined]
    assert results["associations"].records > 20  # type: ignore[attr-defined]


def test_incremental_after_advance_returns_the_new_versions(world: World) -> None:
    t1 = world.start_ms + 12 * DAY
    landing = Landing()
    with serving(world, clock_ms=t1, limits=Limits.unlimited()) as server:
        first = run(server, landing, entities=list(OBJECTS))
        assert all(first[o].mode == "full" for o in OBJECTS)  # type: ignore[attr-defined]
        server.advance(6 * 86400)
        t2 = server.clock_ms
        second = run(server, landing, entities=list(OBJECTS))
    lookback_ms = HubSpotSettings().search_lookback_s * 1000
    for obj in OBJECTS:
        assert second[obj].mode == "incremental"  # type: ignore[attr-defined]
        sink = landing.last[("hubspot", obj)]
        got = versions(sink)
        assert max(got.values(), default=1) == 1  # exactly once within the run
        changed = {rid: at for rid, at in live_at(world, obj, t2).items() if at > t1}
        for rid, at in changed.items():
            assert got[(rid, at)] == 1, (obj, rid)  # every new version arrives
        # nothing older than the window comes back
        cursor1 = landing.runs[0][("hubspot", obj)].cursor
        assert cursor1 is not None
        start = cursor1["last_modified_ms"] - lookback_ms
        assert all(at >= start for _, at in got)
        # newly archived records show up as tombstones
        newly = {r.id for r in world.hubspot[obj] if r.archived_ms is not None and t1 < r.archived_ms <= t2}
        assert newly <= {r["id"] for r in sink.records(deleted=True)}
    # landing both runs leaves every record at its current version
    for obj in OBJECTS:
        latest: dict[str, int] = {}
        for r in landing.runs:
            for rid, at in versions(r[("hubspot", obj)]):
                latest[rid] = max(latest.get(rid, 0), at)
        assert {k: v for k, v in latest.items() if k in live_at(world, obj, t2)} == live_at(world, obj, t2)
    assert any(t1 < at for obj in OBJECTS for at in live_at(world, obj, t2).values())  # the test saw changes


def test_index_lag_is_covered_by_the_lookback(world: World) -> None:
    """Search sees changes 4 minutes late; later runs still get every version (the cursor is the source's
    own last-modified values, never a clock, so a lagging index cannot make it skip changes)."""
    t1 = world.start_ms + 10 * DAY
    landing = Landing()
    faults = Faults(search_index_lag_s=240)
    with serving(world, clock_ms=t1, limits=Limits.unlimited(), faults=faults) as server:
        run(server, landing, entities=["calls", "emails"])
        for _ in range(6):  # several incremental runs, hours apart
            server.advance(3 * 3600 + 17)
            run(server, landing, entities=["calls", "emails"])
        server.advance(600)  # let the index catch up, then one more run
        run(server, landing, entities=["calls", "emails"])
        t_end = server.clock_ms
    for obj in ("calls", "emails"):
        seen = {v for r in landing.runs for v in versions(r[("hubspot", obj)])}
        expected = {
            (r.id, v.at_ms)
            for r in world.hubspot[obj]
            for v in r.versions_until(t_end - 240_000)
            if v.at_ms >= t1 and not r.is_archived_at(t_end)
        }
        assert expected and expected <= seen, obj


def test_changes_made_while_a_run_pages_are_read_by_the_next_run() -> None:
    """The clock jumps 3 days after the first backfill page: changes to records on that page are
    behind the largest last-modified value the run sees later, yet the next run must still read them
    (the cursor is capped by the value probed before paging)."""
    world = make_world(400, days=30)
    by_id = sorted(world.hubspot["contacts"], key=lambda r: int(r.id))
    t1 = by_id[119].created_ms + HOUR  # at t1 the backfill needs two list pages
    landing = Landing()
    with serving(world, clock_ms=t1, limits=Limits.unlimited()) as server:
        jumped: list[int] = []

        def jump(entity: str, n: int) -> None:
            if not jumped:
                jumped.append(server.advance(3 * 86400))

        run(server, landing, entities=["contacts"], progress=jump)
        t2 = server.clock_ms
        sink = landing.last[("hubspot", "contacts")]
        page1 = {r["id"] for r in orjson.loads(sink.pages[0].body)["results"]}
        recs = {r.id: r for r in by_id}
        missed = {rid for rid in page1 if any(t1 < v.at_ms <= t2 for v in recs[rid].versions)}
        assert missed, "the world must change records of the first page during the run"
        first = {rid: at for rid, at in versions(sink)}
        assert all(first[rid] < recs[rid].versions_until(t2)[-1].at_ms for rid in missed)  # stale in run 1
        assert sink.cursor is not None and sink.cursor["max_seen_ms"] > t1  # the second page was read at t2
        run(server, landing, entities=["contacts"])
    latest: dict[str, int] = {}
    for r in landing.runs:
        for rid, at in versions(r[("hubspot", "contacts")]):
            latest[rid] = max(latest.get(rid, 0), at)
    live = live_at(world, "contacts", t2)
    assert {k: latest.get(k) for k in live} == live


def test_since_forces_an_incremental_window(world: World) -> None:
    landing = Landing()
    since = datetime.fromtimestamp((world.end_ms - 5 * DAY) / 1000, tz=UTC)
    with serving(world, clock_ms=world.end_ms, limits=Limits.unlimited()) as server:
        results = run(server, landing, entities=["contacts"], since=since)
    assert results["contacts"].mode == "incremental"  # type: ignore[attr-defined]
    got = {rid for rid, _ in versions(landing.last[("hubspot", "contacts")])}
    expected = {
        rid for rid, at in live_at(world, "contacts", world.end_ms).items() if at >= world.end_ms - 5 * DAY
    }
    assert got == expected


def test_search_gets_past_the_10k_cap_by_id_windows() -> None:
    big = make_world(10_450, days=20, activity=False)
    landing = Landing()
    since = datetime.fromtimestamp(big.start_ms / 1000, tz=UTC)
    with serving(big, clock_ms=big.end_ms, limits=Limits.unlimited()) as server:
        results = run(server, landing, entities=["contacts"], since=since)
        stats = server.stats()
    sink = landing.last[("hubspot", "contacts")]
    got = versions(sink)
    assert got == Counter(live_at(big, "contacts", big.end_ms).items())
    assert len(got) > 10_000
    assert f"in {len(got) // 200 + 1} page(s) keyed by hs_object_id" in results["contacts"].notes[0]  # type: ignore[attr-defined]
    assert set(stats["requests"]["hubspot.search"]) == {"200"}  # never paged into a 400


def test_a_record_archived_mid_search_does_not_hide_the_next_page() -> None:
    """Search drops archived records; offset paging would then skip one record. Id keys must not."""
    big = make_world(450, days=20, activity=False)
    t0 = big.end_ms - 2 * DAY
    live = sorted(
        (r for r in big.hubspot["contacts"] if r.version_at(t0) and not r.is_archived_at(t0)),
        key=lambda r: int(r.id),
    )
    live[10].archived_ms = t0 + 5_000  # on the first search page; archived right after it is read
    landing = Landing()
    since = datetime.fromtimestamp(big.start_ms / 1000, tz=UTC)
    with serving(big, clock_ms=t0, limits=Limits.unlimited()) as server:
        pages: list[int] = []

        def progress(entity: str, n: int) -> None:
            pages.append(n)
            if len(pages) == 1:
                server.advance(10)  # the archive becomes visible between page 1 and page 2

        run(server, landing, entities=["contacts"], since=since, progress=progress)
    got = {r["id"] for r in landing.last[("hubspot", "contacts")].records(deleted=False)}
    assert len(pages) >= 3
    assert {r.id for r in live} <= got  # nobody after the archived record was skipped


def test_since_later_than_the_cursor_never_moves_it_past_unread_changes(world: World) -> None:
    landing = Landing()
    t_mid = world.start_ms + 10 * DAY
    with serving(world, clock_ms=t_mid, limits=Limits.unlimited()) as server:
        run(server, landing, entities=["contacts"])
        before = landing.cursors[("hubspot", "contacts")]["last_modified_ms"]  # type: ignore[index]
        server.set_clock(world.end_ms)
        late = datetime.fromtimestamp((world.end_ms - DAY) / 1000, tz=UTC)
        run(server, landing, entities=["contacts"], since=late)
    after_run = landing.last[("hubspot", "contacts")]
    changed_between = {
        r.id for r in world.hubspot["contacts"] for v in r.versions if before < v.at_ms <= world.end_ms - DAY
    }
    got = {rec["id"] for rec in after_run.records(deleted=False)}
    assert changed_between and changed_between - archived_at(world, "contacts", world.end_ms) <= got


def test_faults_still_land_exactly_once(world: World) -> None:
    faults = Faults(
        rate_limit_429=0.1,
        retry_after_share=0.5,
        server_errors=0.2,
        truncated_json=0.3,
        duplicate_across_pages=0.3,
    )
    t = world.end_ms
    since = datetime.fromtimestamp(world.start_ms / 1000, tz=UTC)
    with serving(world, clock_ms=t, limits=Limits.unlimited(), faults=faults, seed=3) as server:
        full, searched = Landing(), Landing()
        run(server, full)  # list endpoints
        run(server, searched, entities=list(OBJECTS), since=since)  # search endpoints
        server_faults = server.stats()["faults"]
    # which requests get faults depends on thread timing; with these rates some always do
    assert server_faults.get("truncated_json", 0) + server_faults.get("server_error", 0) > 0
    for landing in (full, searched):
        for obj in OBJECTS:
            sink = landing.last[("hubspot", obj)]
            ids = {rid for rid, _ in versions(sink)}
            assert ids == set(live_at(world, obj, t))  # duplicates across pages are fine: landing dedups
            for page in sink.pages:
                orjson.loads(page.body)  # no truncated body ever reached a sink


def test_401_says_which_token_to_fix_and_hides_it(world: World) -> None:
    landing = Landing()
    wrong = "pat-na1-not-the-right-one-0000"
    with serving(world, limits=Limits.unlimited()) as server:
        landing.new_run()
        with pytest.raises(AuthError) as err:
            hubspot.extract(
                HubSpotSettings(base_url=server.url, token=Secret(wrong)),
                FAST,
                session=None,
                cursors=landing,
                open_batch=landing.open_batch,
                entities=["contacts", "owners"],
            )
    msg = str(err.value)
    assert "LEADFLOW_HUBSPOT_TOKEN" in msg and "401" in msg and wrong not in msg
    assert not any(s.completed for s in landing.last.values())  # nothing of a failed run loads


def test_missing_token_and_unknown_entity_are_config_errors() -> None:
    landing = Landing()
    with pytest.raises(ConfigError, match="LEADFLOW_HUBSPOT_TOKEN"):
        hubspot.extract(
            HubSpotSettings(base_url="http://127.0.0.1:9"),
            FAST,
            session=None,
            cursors=landing,
            open_batch=landing.open_batch,
        )
    with pytest.raises(ConfigError, match="unknown entity"):
        hubspot.extract(
            HubSpotSettings(base_url="http://127.0.0.1:9", token=Secret("x")),
            FAST,
            session=None,
            cursors=landing,
            open_batch=landing.open_batch,
            entities=["tickets"],
        )


@pytest.mark.slow
def test_limiter_keeps_under_the_real_hubspot_limits() -> None:
    """100 calls plus 20 searches from 7 threads against the sandbox's real Free-tier limits: no 429."""
    small = make_world(20, days=10)
    with serving(small, clock_ms=small.end_ms, limits=Limits()) as server:
        cfg = settings(server)
        limiter = hubspot_limiter(cfg.burst_per_10s, cfg.search_per_s)
        client = hubspot.make_client(cfg, FAST, None, limiter)
        stamps: list[tuple[str, float]] = []
        lock = threading.Lock()

        def plain() -> None:
            for _ in range(20):
                client.get("/crm/v3/owners", {"limit": 100}, gates=("burst",))
                with lock:
                    stamps.append(("plain", time.monotonic()))

        def search() -> None:
            body = {
                "filterGroups": [],
                "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                "limit": 10,
            }
            for _ in range(10):
                client.post("/crm/v3/objects/calls/search", body, gates=("burst", "search", "search_pace"))
                with lock:
                    stamps.append(("search", time.monotonic()))

        threads = [threading.Thread(target=plain) for _ in range(5)] + [
            threading.Thread(target=search) for _ in range(2)
        ]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        stats = server.stats()["requests"]
    assert stats["hubspot.owners"] == {"200": 100}
    assert stats["hubspot.search"] == {"200": 20}
    assert client.stats.retries == 0
    # the client spread the calls: 120 calls at <=100 per 10 s need more than one window
    span = max(s for _, s in stamps) - min(s for _, s in stamps)
    assert span >= 8.0


def test_generated_world_under_faults_lands_every_record_once() -> None:
    """The example scenario's world with the faults of scenarios/faults.yaml (limits lifted for speed)."""
    from pathlib import Path

    from leadflow.sandbox.generate import generate_world
    from leadflow.sandbox.scenario import load_scenario

    example = generate_world(load_scenario(Path(__file__).parents[2] / "scenarios" / "example.yaml"))
    faults = Faults(
        rate_limit_429=0.05,
        retry_after_share=0.5,
        server_errors=0.03,
        slow_responses=0.02,
        slow_delay_s=0.2,
        truncated_json=0.02,
        duplicate_across_pages=0.05,
        search_index_lag_s=30,
    )
    t = example.end_ms
    landing = Landing()
    with serving(example, clock_ms=t, limits=Limits.unlimited(), faults=faults, seed=11) as server:
        run(server, landing)
        injected = server.stats()["faults"]
    assert sum(injected.values()) >= 5
    for obj in OBJECTS:
        sink = landing.last[("hubspot", obj)]
        assert {rid for rid, _ in versions(sink)} == set(live_at(example, obj, t)), obj
        assert dict(versions(sink).keys()) == live_at(example, obj, t)  # current versions only
        assert {r["id"] for r in sink.records(deleted=True)} == archived_at(example, obj, t)
    merged = [r for r in example.hubspot["contacts"] if r.merged_into and r.is_archived_at(t)]
    contacts = {r["id"]: r for r in landing.last[("hubspot", "contacts")].records(deleted=False)}
    assert merged and all(
        r.id in contacts[r.merged_into]["properties"].get("hs_merged_object_ids", "").split(";")
        for r in merged
    )


def test_max_ms_equals_parsing_every_value() -> None:
    from leadflow.sources.hubspot_objects import max_ms

    values = [
        "2025-01-06T09:30:00.123Z",
        "2025-01-06T09:30:00Z",  # another length: its own shape
        "2025-01-07T00:00:00.000Z",
        "1736208000000",  # epoch ms
        "2025-01-06T23:30:00.000-05:00",  # later than every Z value once converted
        None,
        "",
    ]
    assert max_ms(values) == max(to_ms(v) for v in values if v)  # type: ignore[type-var]
    assert max_ms(["not a date", "2025-01-07T00:00:00.000Z"]) == to_ms("2025-01-07T00:00:00.000Z")
    assert max_ms([None, ""]) is None
