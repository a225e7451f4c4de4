"""`leadflow sandbox webhooks`: deliver a scenario world's changes as signed HubSpot/Calendly webhooks.

Builds the World from the scenario (`leadflow.sandbox.generate`), derives the events between
`--from` (exclusive) and `--until` (inclusive) and POSTs them with `leadflow.sandbox.webhooks.deliver`,
showing a progress bar per channel and a summary table. Secrets come from the options or the
environment and are never printed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from leadflow.errors import ConfigError
from leadflow.sandbox.webhooks import DeliveryConfig, DeliveryReport, Targets, deliver, plan_sizes
from leadflow.settings import Secret


def parse_iso_ms(value: str, name: str) -> int:
    """ISO-8601 (a naive value is read as UTC) -> epoch ms."""
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"{name}: not an ISO-8601 time: {value!r}") from exc
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return int(t.timestamp() * 1000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def summary_table(report: DeliveryReport) -> Table:
    table = Table(title=f"webhooks {_iso(report.from_ms)} .. {_iso(report.to_ms)} ({report.elapsed_s:.1f} s)")
    for col in (
        "channel",
        "events",
        "posts",
        "sent",
        "acknowledged",
        "retried",
        "failed",
        "duplicates",
        "dropped",
    ):
        table.add_column(col, justify="left" if col == "channel" else "right")
    for c in report.channels:
        name = c.channel + (" (410 gone)" if c.gone else "")
        row = (c.events, c.deliveries, c.sent, c.acknowledged, c.retried, c.failed, c.duplicates, c.dropped)
        table.add_row(name, *(str(v) for v in row))
    return table


@click.command("webhooks")
@click.option(
    "--scenario", "scenario_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--to", "hubspot_url", help="HubSpot webhook target URL (one per app).")
@click.option("--calendly-to", "calendly_urls", multiple=True, help="Calendly subscription URL (repeatable).")
@click.option("--from", "from_iso", help="Deliver changes after this time (ISO-8601; default: world start).")
@click.option("--until", "until_iso", help="...up to and including this time (default: the sandbox clock).")
@click.option("--hubspot-secret", envvar="LEADFLOW_SANDBOX_HUBSPOT_CLIENT_SECRET", help="App client secret.")
@click.option("--calendly-key", envvar="LEADFLOW_SANDBOX_CALENDLY_SIGNING_KEY", help="Webhook signing key.")
@click.option("--concurrency", type=click.IntRange(1, 100), default=10, show_default=True)
@click.option("--max-attempts", type=click.IntRange(1, 50), default=10, show_default=True)
@click.option("--backoff-base", type=click.FloatRange(0), default=1.0, show_default=True, help="Seconds.")
@click.option("--backoff-cap", type=click.FloatRange(0), default=60.0, show_default=True, help="Seconds.")
@click.option(
    "--deadline", type=click.FloatRange(0.1), default=3600.0, show_default=True, help="Whole run, seconds."
)
@click.option(
    "--duplicates", type=click.FloatRange(0, 1), help="Override the scenario's faults.webhook_duplicates."
)
@click.option(
    "--reorder", type=click.FloatRange(0, 1), help="Override the scenario's faults.webhook_reorder."
)
def command(
    scenario_path: Path,
    hubspot_url: str | None,
    calendly_urls: tuple[str, ...],
    from_iso: str | None,
    until_iso: str | None,
    hubspot_secret: str | None,
    calendly_key: str | None,
    concurrency: int,
    max_attempts: int,
    backoff_base: float,
    backoff_cap: float,
    deadline: float,
    duplicates: float | None,
    reorder: float | None,
) -> None:
    """Deliver the scenario world's changes as signed webhooks (HubSpot v3+v1, Calendly v1)."""
    console = Console(stderr=True)
    if not hubspot_url and not calendly_urls:
        raise ConfigError("nothing to deliver to: give --to (HubSpot) and/or --calendly-to (Calendly)")
    from leadflow.sandbox.generate import generate_world
    from leadflow.sandbox.scenario import load_scenario

    scenario = load_scenario(scenario_path)
    with console.status("generating the world"):
        world = generate_world(scenario)
    faults = scenario.faults
    from_ms = parse_iso_ms(from_iso, "--from") if from_iso else world.start_ms - 1
    to_ms = parse_iso_ms(until_iso, "--until") if until_iso else world.clock_start_ms
    config = DeliveryConfig(
        hubspot_secret=Secret(hubspot_secret or ""),
        calendly_key=Secret(calendly_key or ""),
        seed=scenario.seed,
        duplicates=faults.webhook_duplicates if duplicates is None else duplicates,
        reorder=faults.webhook_reorder if reorder is None else reorder,
        hubspot_concurrency=concurrency,
        calendly_concurrency=min(concurrency, 4),
        hubspot_max_attempts=max_attempts,
        calendly_max_attempts=max_attempts,
        backoff_base_s=backoff_base,
        backoff_cap_s=backoff_cap,
        deadline_s=deadline,
    )
    targets = Targets(hubspot_url, tuple(calendly_urls))
    sizes = plan_sizes(world, from_ms, to_ms, config)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        tasks = {}
        if hubspot_url:
            tasks["hubspot"] = progress.add_task("hubspot", total=sizes["hubspot"])
        for n in range(len(calendly_urls)):
            tasks[f"calendly#{n}"] = progress.add_task(f"calendly#{n}", total=sizes["calendly"])

        def on_progress(channel: str, done: int) -> None:
            progress.update(tasks[channel], completed=done)

        report = deliver(world, targets, from_ms, to_ms, config, progress=on_progress)
    console.print(summary_table(report))
    if not report.ok:
        raise click.exceptions.Exit(1)
