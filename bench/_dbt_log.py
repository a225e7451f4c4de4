"""dbt's debug log, as the dbt bench tools read it (`dbt_timeline.py`, `dbt_sql_replay.py`)."""

from __future__ import annotations

import re
from pathlib import Path

# `HH:MM:SS.ffffff [level] [thread]: message`; a statement's SQL follows on lines without this prefix
LINE = re.compile(r"^(\d\d:\d\d:\d\d\.\d+) \[\w+ *\] \[([^\]]+)\]: (.*)$")


def last_invocation(log: Path) -> list[str]:
    """The lines of the last dbt invocation in `log` (dbt appends every run to one file)."""
    lines = log.read_text().splitlines()
    start = max(i for i, line in enumerate(lines) if "Running with dbt" in line)
    return lines[start:]
