"""The `leadflow` command line: one group, with subcommands registered from small modules."""

from __future__ import annotations

import importlib
import sys

import click
from rich.console import Console

from leadflow import __version__
from leadflow.errors import LeadflowError

console = Console(stderr=True)

# Each module defines a click command or group named `command`, added to the main group.
_SUBCOMMAND_MODULES = (
    "leadflow.cli.sandbox",
    "leadflow.cli.pipeline",
    "leadflow.cli.build",
    "leadflow.cli.freshness",
    "leadflow.cli.demo",
    "leadflow.cli.chart",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="leadflow")
def cli() -> None:
    """leadflow: free sales tools -> exactly-once DuckDB -> outreach marts."""


def _register() -> None:
    for name in _SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # module not written yet
                continue
            raise
        for command in getattr(module, "commands", [getattr(module, "command", None)]):
            if command is not None:
                cli.add_command(command)


_register()


def main() -> None:
    """Console-script entry point: turns LeadflowError into a clear message and exit code."""
    try:
        cli.main(standalone_mode=False)
    except LeadflowError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        console.print("[yellow]aborted[/]")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
