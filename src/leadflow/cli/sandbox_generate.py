"""`leadflow sandbox generate`: build a scenario's world and write it (data + truth.json) to a directory."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from leadflow.sandbox.export import FILE_COUNT, write_world
from leadflow.sandbox.generate import generate_world
from leadflow.sandbox.scenario import load_scenario

console = Console(stderr=True)


@click.command("generate")
@click.option(
    "--scenario",
    "scenario_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Scenario YAML file (see docs/sandbox.md (part 1)).",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write truth.json, hubspot/, calendly/, sheet/ into (created if missing).",
)
def command(scenario_path: Path, out_dir: Path) -> None:
    """Generate the sandbox world of a scenario, deterministically from its seed.

    Writes DIR/truth.json (ground truth: entity counts, funnel, per-strategy outcomes, sheet rows,
    planted rates, scenario echo) and the data with every version: DIR/hubspot/*.jsonl,
    DIR/calendly/*.jsonl, DIR/sheet/leads.csv, DIR/journeys.jsonl. The same scenario always gives
    byte-identical files. A scenario that does not validate exits with code 2 and names the key.
    """
    scenario = load_scenario(scenario_path)
    started = time.perf_counter()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        leads_task = progress.add_task("leads", total=None)
        build_task = progress.add_task("records + truth", total=2)

        def on_progress(phase: str, done: int, total: int) -> None:
            if phase == "leads":
                progress.update(leads_task, completed=done, total=total)
            elif phase == "records" and done:
                progress.update(build_task, completed=1)
            elif phase == "truth":
                progress.update(build_task, completed=2)

        world = generate_world(scenario, progress=on_progress)
        progress.update(leads_task, total=progress.tasks[leads_task].completed or 1)
        write_task = progress.add_task("write files", total=FILE_COUNT)

        def on_step(name: str) -> None:
            progress.update(write_task, advance=1, description=f"write {name}")

        written = write_world(world, out_dir, step=on_step)
        progress.update(write_task, completed=FILE_COUNT, description="write files")
    elapsed = time.perf_counter() - started
    truth = world.truth
    table = Table(title=f"scenario {scenario.name!r} (seed {scenario.seed}) -> {out_dir}")
    table.add_column("what")
    table.add_column("count", justify="right")
    for stage, n in truth["funnel"].items():
        table.add_row(f"funnel.{stage}", str(n))
    for otype, counts in truth["entities"]["hubspot"].items():
        if "versions" in counts:
            table.add_row(
                f"hubspot.{otype} (records / versions)", f"{counts['records']} / {counts['versions']}"
            )
    for name in ("scheduled_events", "invitees"):
        counts = truth["entities"]["calendly"][name]
        table.add_row(f"calendly.{name} (records / versions)", f"{counts['records']} / {counts['versions']}")
    table.add_row("sheet rows (good / bad)", f"{truth['sheet']['good']} / {truth['sheet']['bad']}")
    table.add_row("files written", str(len(written)))
    table.add_row("seconds", f"{elapsed:.2f}")
    console.print(table)
