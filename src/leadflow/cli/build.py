"""`leadflow build`: run the dbt project (staging -> intermediate -> marts) with progress and a summary."""

from __future__ import annotations

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from leadflow.cli.consoles import table_console
from leadflow.settings import load_settings

console = Console(stderr=True)


@click.command("build")
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental models from scratch.")
@click.option(
    "--select", "-s", "select", multiple=True, help="dbt selection (repeatable), e.g. marts or leads+."
)
@click.option(
    "--target",
    type=click.Choice(["duckdb", "postgres"]),
    default=None,
    help="dbt target (default: settings).",
)
@click.option(
    "--as-of", "as_of", default=None, help="ISO-8601 UTC point the marts describe (default: newest data)."
)
@click.option("--show/--no-show", default=False, help="Print the funnel and concession outcomes afterwards.")
@click.option(
    "--compact",
    is_flag=True,
    help="Let DuckDB reclaim the space of deleted rows (on by default with --full-refresh; run weekly).",
)
@click.option(
    "--unit-tests",
    "unit_tests",
    is_flag=True,
    help="Also run dbt's unit tests (static inputs; off in production builds, on in development and CI).",
)
def command(
    full_refresh: bool,
    select: tuple[str, ...],
    target: str | None,
    as_of: str | None,
    show: bool,
    compact: bool,
    unit_tests: bool,
) -> None:
    """Build the marts with dbt (models, seeds and tests)."""
    from leadflow.transform.runner import build

    settings = load_settings()
    columns = (
        TextColumn("[bold]dbt build"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("", total=None)

        def progress(done: int, total: int, node: str) -> None:
            bar.update(task, completed=done, total=total or None, description=node.split(".")[-1][:40])

        summary = build(
            settings,
            full_refresh=full_refresh,
            select=list(select) or None,
            target=target,
            progress=progress,
            as_of=as_of,
            compact=True if compact else None,
            unit_tests=unit_tests,
        )
    table = Table(title=f"dbt build on {summary.target} in {summary.elapsed_s:.1f} s")
    table.add_column("status")
    table.add_column("nodes", justify="right")
    for status, n in sorted(summary.statuses.items()):
        table.add_row(status, str(n))
    slowest = sorted(summary.node_seconds.items(), key=lambda kv: -kv[1])[:3]
    console.print(table)
    if slowest:
        console.print("slowest: " + ", ".join(f"{node.split('.')[-1]} {s:.1f}s" for node, s in slowest))
    if show and summary.target == "duckdb":
        from leadflow.transform.show import funnel_table, outcomes_table

        out = table_console()
        out.print(funnel_table(settings.warehouse))
        out.print(outcomes_table(settings.warehouse))
