"""Bench helper: a sandbox server over a synthetic World of N HubSpot contacts, run in its own process.

The World holds only contacts, one version each (enough for throughput: every record is a
`SimplePublicObject` rendered by the real sandbox HubSpot API, limits off). Each distinct request is
rendered by the sandbox once and its response kept (a warm-up pass renders every page), so the timed
runs read pre-rendered pages, as in the reference measurement of the issue. The server runs in a child
process so that serving does not share the GIL with the client being measured.
"""

from __future__ import annotations

import multiprocessing as mp
from multiprocessing.connection import Connection
from typing import Any

from leadflow.sandbox.world import Record, Version, World

START_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z
TOKEN = "bench-hubspot-token"
CHANNELS = ("web", "mobile")


def contacts_world(n: int) -> World:
    """A World with `n` live contacts, ids 1..n, one version each."""
    records = []
    for i in range(1, n + 1):
        created = START_MS + i * 1000
        props: dict[str, Any] = {
            "hs_object_id": str(i),
            "createdate": str(created),
            "lastmodifieddate": str(created + 500),
            "email": f"lead{i}@example.com",
            "firstname": f"First{i % 997}",
            "lastname": f"Last{i % 991}",
            "lead_channel": CHANNELS[i % 2],
            "hubspot_owner_id": str(100 + i % 7),
            "lifecyclestage": "lead",
        }
        records.append(Record("contact", str(i), created, [Version(created + 500, props)]))
    end = START_MS + (n + 10) * 1000
    return World(
        seed=0,
        start_ms=START_MS,
        end_ms=end,
        portal_id=1,
        organization_uuid="bench-org",
        teams=[],
        owners=[],
        pipelines=[],
        hubspot={"contacts": records, "deals": [], "meetings": [], "calls": [], "emails": []},
        event_types=[],
        events=[],
        invitees=[],
        sheet_columns=["email"],
        sheet_rows=[],
    )


def _serve(n: int, conn: Connection) -> None:
    from urllib.parse import parse_qsl

    from leadflow.sandbox.server import Limits, SandboxServer, ServerConfig
    from leadflow.sandbox.server.http import Request, Response
    from leadflow.settings import Secret

    world = contacts_world(n)
    config = ServerConfig(hubspot_token=Secret(TOKEN), limits=Limits.unlimited(), clock_ms=world.end_ms)
    server = SandboxServer(world, config)
    render = server.app.handle
    rendered: dict[tuple[str, str, tuple[tuple[str, str], ...], bytes], Response] = {}

    def prerendered(req: Request) -> Response:
        """The sandbox's own answer, rendered once per request (the world does not move in the bench)."""
        key = (req.method, req.path, tuple(sorted(parse_qsl(req.query, keep_blank_values=True))), req.body)
        resp = rendered.get(key)
        if resp is None:
            resp = render(req)
            if resp.status == 200:
                rendered[key] = resp
        return resp

    server.app.handle = prerendered  # type: ignore[method-assign]

    def ready(s: SandboxServer) -> None:
        conn.send(s.url)

    server.serve_forever(on_ready=ready)


class ContactsServer:
    """Context manager: start the server process, expose `.url`, terminate on exit."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.url = ""
        self._proc: mp.process.BaseProcess | None = None

    def __enter__(self) -> ContactsServer:
        ctx = mp.get_context("fork")
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(self.n, child), daemon=True)
        self._proc.start()
        if not parent.poll(600):
            raise RuntimeError("bench server did not start")
        self.url = parent.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.join(10)
