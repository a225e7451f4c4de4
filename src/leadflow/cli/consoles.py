"""Rich consoles for the CLI's tables: as wide as the terminal, and wide enough in a log or a pipe."""

from __future__ import annotations

import os

from rich.console import Console

# Without a terminal rich assumes 80 columns and squeezes the wide tables (concession outcomes, node
# lists) into cut cells; a log file or CI output does not wrap, so give it room unless COLUMNS says.
LOG_WIDTH = 160


def table_console(*, stderr: bool = False) -> Console:
    """A console for tables: the terminal's width, or LOG_WIDTH columns when output is not a terminal."""
    console = Console(stderr=stderr)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(stderr=stderr, width=LOG_WIDTH)
    return console
