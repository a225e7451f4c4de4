"""`leadflow sandbox serve`: generate a scenario's world and serve it over HTTP in the foreground.

Tokens come from `--hubspot-token`/`--calendly-token`, else `LEADFLOW_SANDBOX_HUBSPOT_TOKEN` /
`LEADFLOW_SANDBOX_CALENDLY_TOKEN`, else fresh random ones. Either way the connection settings
(`LEADFLOW_HUBSPOT_BASE_URL`, `LEADFLOW_HUBSPOT_TOKEN`, ... see `leadflow.settings`) are written to
`--env-file` (mode 0600) so clients can `source` it; tokens are never printed.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from leadflow.errors import ConfigError
from leadflow.sandbox.server import SandboxServer
from leadflow.sandbox.server.config import config_from_scenario
from leadflow.sandbox.server.search import to_ms
from leadflow.sandbox.world import World

console = Console(stderr=True)


def write_env_file(path: Path, server: SandboxServer) -> None:
    """Connection settings for clients, in `leadflow.settings` environment names (mode 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("".join(f"{k}={v}\n" for k, v in server.client_env().items()))


def summary(server: SandboxServer, world: World, scenario_name: str, env_file: Path | None = None) -> Table:
    cfg = server.config
    table = Table(title=f"leadflow sandbox: scenario {scenario_name!r} on {server.url}", show_lines=False)
    table.add_column("what")
    table.add_column("value", overflow="fold")
    t = server.clock_ms
    body = server.app.clock_body()
    table.add_row("clock", f"{body['now']} (world {body['start']} .. {body['end']})")
    for obj, recs in world.hubspot.items():
        live = sum(1 for r in recs if r.created_ms <= t and not r.is_archived_at(t))
        table.add_row(f"HubSpot {obj}", f"{live} live now / {len(recs)} by the end")
    table.add_row("HubSpot owners", str(len(world.owners)))
    table.add_row("Calendly events / invitees", f"{len(world.events)} / {len(world.invitees)} by the end")
    shown = sum(1 for r in world.sheet_rows if r.added_ms <= t)
    table.add_row("lead sheet rows", f"{shown} now / {len(world.sheet_rows)} by the end")
    table.add_row("HubSpot API", f"{server.url}/crm/v3/objects/<type>, /crm/v3/owners, /crm/v4/associations")
    table.add_row("Calendly API", f"{server.url}/users/me, /event_types, /scheduled_events")
    table.add_row("lead sheet", f"{server.url}/spreadsheets/d/{cfg.sheet_key}/export?format=csv&gid=0")
    lim = cfg.limits
    table.add_row(
        "limits",
        f"HubSpot {lim.hubspot_burst_per_10s}/10s, search {lim.hubspot_search_per_s}/s, daily {lim.daily}; "
        f"Calendly {lim.calendly_per_min}/min (0 = unlimited)",
    )
    active = {
        k: v for k, v in vars(cfg.faults).items() if v and k not in ("retry_after_share", "slow_delay_s")
    }
    table.add_row("faults", ", ".join(f"{k}={v}" for k, v in active.items()) or "off")
    table.add_row("clock/admin", f"{server.url}/_sandbox/clock  /_sandbox/stats  /_sandbox/truth")
    where = f"in {env_file} (source it; not printed)" if env_file else "held in memory (not printed)"
    table.add_row("tokens", where)
    return table


@click.command("serve")
@click.option("--scenario", "scenario_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=int, help="0 = any free port")
@click.option(
    "--clock",
    "clock",
    default=None,
    help="start the sandbox clock here (ISO-8601); default: the scenario's clock.initial",
)
@click.option(
    "--hubspot-token", envvar="LEADFLOW_SANDBOX_HUBSPOT_TOKEN", default=None, help="default: random"
)
@click.option(
    "--calendly-token", envvar="LEADFLOW_SANDBOX_CALENDLY_TOKEN", default=None, help="default: random"
)
@click.option(
    "--env-file",
    default=Path("var/sandbox.env"),
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
)
@click.option("--no-limits", is_flag=True, help="disable every rate limit")
@click.option("--no-faults", is_flag=True, help="disable every injected fault")
def command(
    scenario_path: Path,
    host: str,
    port: int,
    clock: str | None,
    hubspot_token: str | None,
    calendly_token: str | None,
    env_file: Path,
    no_limits: bool,
    no_faults: bool,
) -> None:
    """Serve a scenario's world as local HubSpot, Calendly and lead-sheet APIs until Ctrl-C."""
    from leadflow.sandbox.generate import generate_world
    from leadflow.sandbox.scenario import load_scenario

    scenario = load_scenario(scenario_path)
    with console.status(f"generating the world of {scenario_path} ..."):
        world = generate_world(scenario)
    clock_ms = None
    if clock is not None:
        clock_ms = to_ms(clock)
        if clock_ms is None:
            raise ConfigError(f"--clock {clock!r} is not an ISO-8601 time")
    cfg = config_from_scenario(
        scenario,
        host=host,
        port=port,
        clock_ms=clock_ms,
        hubspot_token=hubspot_token,
        calendly_token=calendly_token,
        no_limits=no_limits,
        no_faults=no_faults,
    )
    server = SandboxServer(world, cfg)

    def ready(srv: SandboxServer) -> None:
        write_env_file(env_file, srv)
        console.print(summary(srv, world, getattr(scenario, "name", scenario_path.stem), env_file))
        console.print(f"[green]serving on {srv.url}[/] (Ctrl-C to stop)")

    server.serve_forever(ready)
    stats = server.stats()
    console.print(f"stopped after {stats['total']} requests; faults injected: {stats['faults'] or 'none'}")
