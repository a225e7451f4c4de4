"""`leadflow demo`: the main job on the embedded default, end to end, against the sandbox.

Generates the example world, serves it on loopback, syncs it into a fresh DuckDB file while the
sandbox clock moves forward a week at a time (a backfill, then incremental syncs), builds the dbt
marts, and prints what landed, the funnel, the concession outcomes and a check against the truth.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.table import Table

from leadflow.cli.consoles import table_console

console = table_console()
WEEK_S = 7 * 24 * 3600


def _truth_table(warehouse: Path, truth: dict) -> tuple[Table, bool]:
    """Funnel counts (`marts.leads`) and per-condition target asks asked/accepted
    (`marts.concession_outcomes`, overall) against the scenario's truth file."""
    from leadflow.charts import read_outcomes
    from leadflow.transform.show import funnel_counts

    table = Table(title="marts vs sandbox truth")
    for col, justify in (("funnel stage", "left"), ("marts", "right"), ("truth", "right"), ("", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    all_equal = True
    for stage, _celra, n in funnel_counts(warehouse):
        expected = truth["funnel"].get(stage)
        ok = expected == n
        all_equal &= ok
        table.add_row(
            stage, f"{n:,}", f"{expected:,}" if expected is not None else "-", "ok" if ok else "DIFF"
        )
    for row in read_outcomes(warehouse):
        planted = truth["strategies"].get(row.condition, {})
        for label, got, want in (
            ("asked", row.n, planted.get("asked")),
            ("accepted", row.accepted, planted.get("accepted")),
        ):
            ok = got == want
            all_equal &= ok
            want_text = f"{want:,}" if want is not None else "-"
            table.add_row(f"{row.condition}: {label}", f"{got:,}", want_text, "ok" if ok else "DIFF")
    return table, all_equal


@click.command("demo")
@click.option(
    "--scenario",
    "scenario_path",
    default="scenarios/example.yaml",
    show_default=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option("--home", default="var/demo", show_default=True, type=click.Path(path_type=Path))
@click.option("--weeks", default=3, show_default=True, type=click.IntRange(1, 52), help="syncs, one per week")
@click.option(
    "--calendly-per-min",
    default=500,
    show_default=True,
    type=click.IntRange(0),
    help="Calendly rate limit for sandbox and client (free plan: 50; 500 keeps the demo short)",
)
@click.pass_context
def command(ctx: click.Context, scenario_path: Path, home: Path, weeks: int, calendly_per_min: int) -> None:
    """Run sandbox -> sync (backfill + incremental) -> dbt build and print the results."""
    from dataclasses import replace

    from leadflow.cli import build as build_cli
    from leadflow.cli import pipeline as pipeline_cli
    from leadflow.cli.sandbox_serve import summary
    from leadflow.sandbox.generate import generate_world
    from leadflow.sandbox.scenario import load_scenario
    from leadflow.sandbox.server import SandboxServer
    from leadflow.sandbox.server.config import config_from_scenario

    scenario = load_scenario(scenario_path)
    with console.status(f"generating the world of {scenario_path} ..."):
        world = generate_world(scenario)
    if home.exists():
        shutil.rmtree(home)
    first_clock = max(world.start_ms, world.end_ms - (weeks - 1) * WEEK_S * 1000)
    config = config_from_scenario(scenario, clock_ms=first_clock, no_faults=True)
    config = replace(config, limits=replace(config.limits, calendly_per_min=calendly_per_min))
    with SandboxServer(world, config) as server:
        os.environ.update(server.client_env())
        os.environ["LEADFLOW_HOME"] = str(home)
        os.environ["LEADFLOW_CALENDLY_REQUESTS_PER_MIN"] = str(calendly_per_min or 1_000_000)
        console.print(summary(server, world, getattr(scenario, "name", scenario_path.stem)))
        for week in range(weeks):
            if week:
                server.advance(WEEK_S)
            clock = datetime.fromtimestamp(server.clock_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
            kind = "backfill" if week == 0 else "incremental"
            console.rule(f"sync {week + 1}/{weeks} ({kind}) at sandbox clock {clock}")
            ctx.invoke(pipeline_cli.sync, sources=(), since=None, config_path=None)
        console.rule("what landed")
        ctx.invoke(pipeline_cli.state, config_path=None)
    console.rule("dbt build")
    ctx.invoke(
        build_cli.command, full_refresh=False, select=(), target=None, as_of=None, show=True, compact=False
    )
    table, all_equal = _truth_table(home / "leadflow.duckdb", world.truth)
    console.print(table)
    from leadflow.charts import outcomes_forest_svg, read_outcomes

    chart = home / "concession-outcomes.svg"
    title = "Compliance by sequence condition: planted (rings) vs recovered"
    chart.write_text(
        outcomes_forest_svg(
            read_outcomes(home / "leadflow.duckdb"), title, world.truth["planted"]["acceptance"]
        )
    )
    console.print(f"chart: {chart}")
    console.print(
        f"[green]funnel and per-condition counts equal the sandbox truth[/] - warehouse: {home / 'leadflow.duckdb'}"
        if all_equal
        else "[red]marts differ from the sandbox truth[/]"
    )
    if not all_equal:
        raise SystemExit(1)
