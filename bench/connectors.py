"""Benchmark: full backfill of the example scenario through the connectors, against the sandbox.

Runs HubSpot at the real Free-tier limits (100 per 10 s, 5 searches per second, enforced by the
sandbox and kept by our limiter) and with limits lifted (our code's own speed). Calendly is run with
limits lifted; its time at the Free plan's 50 requests per minute is projected from the request count
(measuring it would take minutes). Pages go to an in-memory sink.

    .venv/bin/python bench/connectors.py [--scenario scenarios/example.yaml]

Reading: HubSpot at real limits is bound by 100 requests / 10 s; Calendly by one invitee request per
event in the re-read window.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from leadflow.landing.sink import Page
from leadflow.sandbox.generate import generate_world
from leadflow.sandbox.scenario import load_scenario
from leadflow.sandbox.server import Limits, SandboxServer, ServerConfig
from leadflow.settings import CalendlySettings, HttpSettings, HubSpotSettings
from leadflow.sources import calendly, hubspot


class _Sink:
    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts

    def write_page(self, page: Page) -> None:
        self.counts["pages"] += 1
        self.counts["bytes"] += len(page.body)

    def complete(self, cursor: dict[str, Any] | None) -> None:
        return None


class _NoCursors:
    def get(self, source: str, entity: str) -> dict[str, Any] | None:
        return None


def _run(label: str, server: SandboxServer, extract: Any) -> dict[str, Any]:
    counts = {"pages": 0, "bytes": 0}
    t0 = time.perf_counter()
    results = extract(lambda source, entity: _Sink(counts))
    seconds = time.perf_counter() - t0
    records = sum(r.records for r in results)
    return {
        "run": label,
        "seconds": seconds,
        "records": records,
        **counts,
        "requests": server.stats()["total"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", default="scenarios/example.yaml")
    args = parser.parse_args()
    world = generate_world(load_scenario(Path(args.scenario)))
    http = HttpSettings()
    nothing = _NoCursors()
    rows = []
    for limits, label, budget in (
        (Limits(), "hubspot backfill, Free-tier limits", {}),
        (Limits.unlimited(), "hubspot backfill, no limits", {"burst_per_10s": 100_000, "search_per_s": 1000}),
    ):
        with SandboxServer(world, ServerConfig(limits=limits, clock_ms=world.end_ms)) as server:
            hs = HubSpotSettings(base_url=server.url, token=server.config.hubspot_token, **budget)
            rows.append(
                _run(
                    label,
                    server,
                    lambda ob, hs=hs: hubspot.extract(hs, http, session=None, cursors=nothing, open_batch=ob),
                )
            )
    with SandboxServer(world, ServerConfig(limits=Limits.unlimited(), clock_ms=world.end_ms)) as server:
        cal = CalendlySettings(
            base_url=server.url, token=server.config.calendly_token, requests_per_min=10**6
        )
        rows.append(
            _run(
                "calendly backfill, no limits",
                server,
                lambda ob: calendly.extract(cal, http, session=None, cursors=nothing, open_batch=ob),
            )
        )
    table = Table(title=f"Connector backfill of {args.scenario}")
    for col in ("run", "records", "pages", "MB", "requests", "seconds", "records/s"):
        table.add_column(col, justify="left" if col == "run" else "right")
    for r in rows:
        table.add_row(
            r["run"],
            f"{r['records']:,}",
            f"{r['pages']:,}",
            f"{r['bytes'] / 1e6:.1f}",
            f"{r['requests']:,}",
            f"{r['seconds']:.1f}",
            f"{r['records'] / r['seconds']:,.0f}",
        )
    cal_requests = rows[-1]["requests"]
    table.add_row(
        "calendly at 50 requests/min (projected)",
        "",
        "",
        "",
        f"{cal_requests:,}",
        f"{cal_requests / 50 * 60:.0f}",
        "",
    )
    Console(width=130).print(table)


if __name__ == "__main__":
    main()
