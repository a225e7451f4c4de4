"""`leadflow sandbox ...`: generate a scenario's world, serve it over HTTP, deliver its webhooks."""

from __future__ import annotations

import importlib

import click


@click.group("sandbox")
def command() -> None:
    """The sandbox: local imitations of HubSpot, Calendly and a lead sheet, driven by a scenario."""


# One module per subcommand, each defining `command`.
for _name in ("sandbox_generate", "sandbox_serve", "sandbox_webhooks"):
    try:
        _module = importlib.import_module(f"leadflow.cli.{_name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"leadflow.cli.{_name}":
            raise
        continue
    command.add_command(_module.command)
