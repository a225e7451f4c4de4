"""`leadflow freshness`: how recently each raw table was loaded or synced (dbt source freshness, D51)."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from leadflow.errors import TransformError
from leadflow.settings import load_settings

console = Console()

_STYLE = {"pass": "green", "warn": "yellow", "error": "red", "runtime error": "red"}


@click.command("freshness")
def command() -> None:
    """Check every raw table of the DuckDB warehouse against its freshness limits (warn after 24 h, error
    after 72 h). The raw tables and the sync cursors live where leadflow lands them: DuckDB."""
    from leadflow.transform.runner import build

    summary = build(load_settings(), command="source freshness", target="duckdb", raise_on_failure=False)
    errors = dict(summary.failures)
    table = Table(title=f"source freshness on {summary.target}")
    table.add_column("raw table")
    table.add_column("status")
    table.add_column("newest load")
    for node, status in sorted(summary.node_statuses.items()):
        name = node.removeprefix("source.leadflow.")
        detail = summary.node_details.get(node) or errors.get(node, "")
        table.add_row(name, f"[{_STYLE.get(status, 'white')}]{status}[/]", detail)
    console.print(table)
    if not summary.success:
        stale = sum(1 for status in summary.node_statuses.values() if status != "pass")
        raise TransformError(f"{stale} raw table(s) are stale or could not be checked; run `leadflow sync`")
