"""`leadflow freshness`: how recently each raw table was loaded or synced (dbt source freshness, D51)."""

from __future__ import annotations

from dataclasses import replace

import click
from rich.table import Table

from leadflow.cli.consoles import table_console
from leadflow.errors import ConfigError, TransformError, WarehouseBusy
from leadflow.pipeline import configured_sources
from leadflow.settings import load_settings

console = table_console()

_STYLE = {"pass": "green", "warn": "yellow", "error": "red", "runtime error": "red", "not configured": "dim"}
# Freshness only reads; behind a sync or a build it says so instead of queueing for writer_wait_s.
BUSY_WAIT_S = 5.0


def _source_of(node: str) -> str:
    """`source.leadflow.hubspot.contacts` -> `hubspot`."""
    return node.split(".")[2]


@click.command("freshness")
def command() -> None:
    """Check the raw tables of the DuckDB warehouse against their freshness limits (warn after 24 h,
    error after 72 h). Sources that are neither configured nor ever synced are listed, not judged."""
    from leadflow.transform.runner import NEVER_LOADED, build

    settings = load_settings()
    if not settings.warehouse.exists():
        raise ConfigError(f"no warehouse at {settings.warehouse} yet: run `leadflow sync` first")
    try:
        summary = build(
            replace(settings, writer_wait_s=BUSY_WAIT_S),
            command="source freshness",
            target="duckdb",
            raise_on_failure=False,
        )
    except WarehouseBusy:
        raise WarehouseBusy(
            f"a sync or a build is writing {settings.warehouse} right now (waited {BUSY_WAIT_S:g} s): "
            "freshness is known when it ends; run `leadflow freshness` again then"
        ) from None
    details = dict(summary.failures) | summary.node_details
    if "dbt" in details or not summary.node_statuses:
        # dbt itself failed (profile, project, the file): nothing was judged
        raise TransformError(
            f"dbt source freshness could not run: {details.get('dbt', 'no source was checked')}"
        )
    # a source counts as synced when any of its tables has a newest load (not a missing table's error)
    synced = {_source_of(n) for n, d in summary.node_details.items() if d != NEVER_LOADED}
    judged = set(configured_sources(settings)) | synced
    if not judged:
        raise ConfigError(
            "no source is configured and none was ever synced into this warehouse: run `leadflow sync`"
        )
    table = Table(title=f"source freshness on {summary.target}")
    table.add_column("raw table")
    table.add_column("status")
    table.add_column("newest load")
    failing = 0
    for node, status in sorted(summary.node_statuses.items()):
        if _source_of(node) not in judged:
            status = "not configured"
        elif status in {"error", "runtime error"}:
            failing += 1
        table.add_row(
            node.removeprefix("source.leadflow."),
            f"[{_STYLE.get(status, 'white')}]{status}[/]",
            details.get(node, ""),
        )
    console.print(table)
    if failing:
        raise TransformError(f"{failing} raw table(s) are stale or could not be checked; run `leadflow sync`")
