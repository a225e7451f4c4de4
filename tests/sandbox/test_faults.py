"""Every fault knob is observable on the wire, deterministic from the seed, and transient."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter
from typing import Any

import pytest
import requests

from leadflow.sandbox.server import Faults
from leadflow.sandbox.world import World

from .conftest import Api


@pytest.fixture
def world(hand_world: World) -> World:
    return hand_world


def served(serve: Any, world: World, **faults: Any) -> Api:
    return serve(world, clock_ms=world.end_ms, faults=Faults(**faults))


def test_synthetic_429_with_and_without_retry_after(serve: Any, world: World) -> None:
    with_ra = served(serve, world, rate_limit_429=1.0, retry_after_share=1.0)
    r = with_ra.hs_get("/crm/v3/objects/contacts")
    assert r.status_code == 429
    assert r.json()["errorType"] == "RATE_LIMIT" and r.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert int(r.headers["Retry-After"]) >= 1
    assert with_ra.hs_get("/crm/v3/objects/contacts").status_code == 200  # the retry succeeds
    without = served(serve, world, rate_limit_429=1.0, retry_after_share=0.0)
    r = without.cal_get("/users/me")
    assert r.status_code == 429 and "Retry-After" not in r.headers
    assert r.json()["title"] == "Too Many Requests"
    assert without.cal_get("/users/me").status_code == 200
    assert without.server.stats()["faults"] == {"rate_limit_429": 1}


def test_server_errors_are_transient(serve: Any, world: World) -> None:
    a = served(serve, world, server_errors=1.0)
    statuses = []
    for obj in ("contacts", "deals", "calls", "emails", "meetings", "0-1", "0-3", "0-48"):
        r = a.hs_get(f"/crm/v3/objects/{obj}")
        statuses.append(r.status_code)
        retry = a.hs_get(f"/crm/v3/objects/{obj}")
        assert retry.status_code == 200 and retry.json()["results"] is not None
    assert set(statuses) <= {500, 502, 503} and len(statuses) == 8
    sheet = f"{a.url}/spreadsheets/d/{a.server.config.sheet_key}/export?format=csv&gid=0"
    assert requests.get(sheet, timeout=10).status_code in (500, 502, 503)
    assert requests.get(sheet, timeout=10).status_code == 200


def test_slow_response_passes_client_timeout_without_blocking_others(serve: Any, world: World) -> None:
    a = served(serve, world, slow_responses=1.0, slow_delay_s=4.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        a.hs.get(f"{a.url}/crm/v3/objects/contacts", timeout=0.5)
    started = time.monotonic()
    assert a.hs_get("/crm/v3/objects/contacts").status_code == 200  # the retry is served at once
    assert time.monotonic() - started < 2.5  # far below the 4 s a slow answer takes
    # a slow response sleeps on the event loop: other connections are answered meanwhile
    slow: dict[str, Any] = {}

    def fetch() -> None:
        t0 = time.monotonic()
        slow["r"] = requests.get(f"{a.url}/crm/v3/objects/deals", headers=a.hs.headers, timeout=10)
        slow["s"] = time.monotonic() - t0

    thread = threading.Thread(target=fetch)
    thread.start()
    time.sleep(0.2)
    assert requests.get(f"{a.url}/_sandbox/clock", timeout=5).status_code == 200
    assert thread.is_alive()  # answered while the slow response was still sleeping
    thread.join()
    assert slow["r"].status_code == 200 and slow["s"] >= 3.9


def test_truncated_json(serve: Any, world: World) -> None:
    a = served(serve, world, truncated_json=1.0)
    r = a.hs_get("/crm/v3/objects/contacts", limit=20)
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.text)
    ok = a.hs_get("/crm/v3/objects/contacts", limit=20)
    assert len(ok.json()["results"]) == 20 and len(ok.content) > len(r.content)
    r = a.cal_get("/users/me")
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.text)


def test_duplicate_across_pages(serve: Any, world: World) -> None:
    a = served(serve, world, duplicate_across_pages=1.0)
    pages: list[list[str]] = []
    after = None
    while True:
        body = a.hs_get("/crm/v3/objects/contacts", limit=5, **({"after": after} if after else {})).json()
        pages.append([r["id"] for r in body["results"]])
        if "paging" not in body:
            break
        after = body["paging"]["next"]["after"]
    for prev, nxt in itertools.pairwise(pages):
        assert nxt[0] == prev[-1]  # each page starts with the previous page's last record
    flat = [i for p in pages for i in p]
    live = [r.id for r in world.hubspot["contacts"] if not r.is_archived_at(world.end_ms)]
    assert sorted(set(flat), key=int) == live  # nothing lost, only repeated
    assert len(flat) > len(live)
    org = a.cal_get("/users/me").json()["resource"]["current_organization"]
    events = a.cal_all("/scheduled_events", organization=org, count=2)
    counts = Counter(e["uri"] for e in events)
    assert set(counts.values()) == {1, 2} and len(counts) == len(world.events)


def _by_lastmodified(a: Api) -> list[str]:
    body = {"limit": 5, "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]}
    results, _ = a.search_all("contacts", body)
    return [r["id"] for r in results]


def test_update_between_pages_shifts_offset_paging(serve: Any, world: World) -> None:
    clean = _by_lastmodified(served(serve, world))
    assert len(clean) == len(set(clean))
    a = served(serve, world, update_between_pages=1.0)
    faulty = _by_lastmodified(a)
    counts = Counter(faulty)
    assert len(faulty) == len(clean)  # same number of rows (total unchanged) ...
    assert max(counts.values()) >= 2  # ... but records moved to the end show up twice
    assert set(clean) - set(faulty)  # and the records they displaced were skipped
    # the world is untouched: a list read shows every record once
    assert sorted(r["id"] for r in a.list_all("contacts", limit=100)) == sorted(clean)
    # lists (cursor by id) and id-sorted searches are not affected
    ids = a.search_all(
        "contacts", {"limit": 5, "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]}
    )[0]
    assert Counter(r["id"] for r in ids).most_common(1)[0][1] == 1


def test_faults_are_deterministic_per_seed(serve: Any, world: World) -> None:
    def pattern(seed: int) -> list[int]:
        a = serve(
            world, clock_ms=world.end_ms, seed=seed, faults=Faults(server_errors=0.3, rate_limit_429=0.2)
        )
        return [a.hs_get("/crm/v3/objects/contacts", limit=n).status_code for n in range(1, 41)]

    first, again, other = pattern(1), pattern(1), pattern(2)
    assert first == again
    assert first != other
    assert 200 in first and set(first) - {200}


def test_faults_off_by_default(api: Api) -> None:
    statuses = {api.hs_get("/crm/v3/objects/contacts", limit=n).status_code for n in range(1, 60)}
    assert statuses == {200}
    assert api.server.stats()["faults"] == {}


def test_invalid_fault_rate_is_rejected(world: World) -> None:
    from leadflow.errors import ConfigError
    from leadflow.sandbox.server import SandboxServer, ServerConfig

    with pytest.raises(ConfigError, match="server_errors"):
        SandboxServer(world, ServerConfig(faults=Faults(server_errors=1.5)))
