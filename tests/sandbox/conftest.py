"""Fixtures for the sandbox server tests: hand-built worlds, servers on ephemeral ports, HTTP clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from leadflow.sandbox.server import Faults, Limits, SandboxServer, ServerConfig
from leadflow.sandbox.server.testworld import make_world
from leadflow.sandbox.world import World


@dataclass
class Api:
    """A started server plus sessions that carry the right tokens."""

    server: SandboxServer
    hs: requests.Session
    cal: requests.Session

    @property
    def url(self) -> str:
        return self.server.url

    def hs_get(self, path: str, **params: Any) -> requests.Response:
        return self.hs.get(self.url + path, params=params, timeout=10)

    def hs_search(self, obj: str, body: dict[str, Any]) -> requests.Response:
        return self.hs.post(f"{self.url}/crm/v3/objects/{obj}/search", json=body, timeout=10)

    def cal_get(self, path: str, **params: Any) -> requests.Response:
        return self.cal.get(self.url + path, params=params, timeout=10)

    def list_all(self, obj: str, **params: Any) -> list[dict[str, Any]]:
        """Follow `paging.next.after` to the end; fails on a loop."""
        out: list[dict[str, Any]] = []
        after = None
        for _ in range(10_000):
            query = dict(params) | ({"after": after} if after else {})
            r = self.hs_get(f"/crm/v3/objects/{obj}", **query)
            assert r.status_code == 200, r.text
            body = r.json()
            out.extend(body["results"])
            nxt = body.get("paging", {}).get("next")
            if not nxt:
                return out
            after = nxt["after"]
        raise AssertionError("list paging did not terminate")

    def search_all(self, obj: str, body: dict[str, Any]) -> tuple[list[dict[str, Any]], list[int]]:
        """All search pages; returns results and the reported totals."""
        out: list[dict[str, Any]] = []
        totals: list[int] = []
        after = 0
        for _ in range(1000):
            r = self.hs_search(obj, {**body, "after": str(after)})
            assert r.status_code == 200, r.text
            page = r.json()
            out.extend(page["results"])
            totals.append(page["total"])
            nxt = page.get("paging", {}).get("next")
            if not nxt:
                return out, totals
            after = int(nxt["after"])
        raise AssertionError("search paging did not terminate")

    def cal_all(self, path: str, **params: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        token = None
        for _ in range(10_000):
            r = self.cal_get(path, **(dict(params) | ({"page_token": token} if token else {})))
            assert r.status_code == 200, r.text
            body = r.json()
            out.extend(body["collection"])
            token = body["pagination"]["next_page_token"]
            if token is None:
                return out
        raise AssertionError("calendly paging did not terminate")


@pytest.fixture(scope="session")
def hand_world() -> World:
    """The default hand-built world (40 contacts, every entity kind, deletes, a merge, Calendly outcomes)."""
    return make_world()


@pytest.fixture
def serve() -> Iterator[Callable[..., Api]]:
    """Factory: `serve(world, limits=..., faults=..., clock_ms=...)` -> Api; servers stop at teardown."""
    started: list[tuple[SandboxServer, list[requests.Session]]] = []

    def start(
        w: World,
        *,
        limits: Limits | None = None,
        faults: Faults | None = None,
        clock_ms: int | None = None,
        seed: int = 0,
    ) -> Api:
        cfg = ServerConfig(
            limits=limits or Limits.unlimited(), faults=faults or Faults(), clock_ms=clock_ms, seed=seed
        )
        server = SandboxServer(w, cfg).start()
        hs, cal = requests.Session(), requests.Session()
        hs.headers["Authorization"] = f"Bearer {cfg.hubspot_token.reveal()}"
        cal.headers["Authorization"] = f"Bearer {cfg.calendly_token.reveal()}"
        started.append((server, [hs, cal]))
        return Api(server, hs, cal)

    yield start
    for server, sessions in started:
        for s in sessions:
            s.close()
        server.stop()


@pytest.fixture
def api(serve: Callable[..., Api], hand_world: World) -> Api:
    """The hand-built world served unlimited, without faults, with the clock at the world end."""
    return serve(hand_world, clock_ms=hand_world.end_ms)
