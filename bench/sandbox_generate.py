"""Benchmark: how long the sandbox world generator takes and how much memory it holds, by size.

    .venv/bin/python bench/sandbox_generate.py                       # 3.5k, 35k, 105k leads
    .venv/bin/python bench/sandbox_generate.py --leads-per-day 45 450

Each size runs in a fresh subprocess (clean peak RSS from `ru_maxrss`) over the default 12-week
scenario with `leads_per_day` set; the table shows leads, records, versions, seconds and MB, and
microseconds per lead, so linear scaling shows as a flat last column.
"""

from __future__ import annotations

import json
import subprocess
import sys

import click
from rich.console import Console
from rich.table import Table

_CHILD = """
import json, resource, sys, time
from leadflow.sandbox.generate import generate_world
from leadflow.sandbox.scenario import parse_scenario
sc = parse_scenario({"seed": 3, "leads_per_day": float(sys.argv[1])})
t = time.perf_counter()
w = generate_world(sc)
seconds = time.perf_counter() - t
hs = w.truth["entities"]["hubspot"]
kinds = ("contacts", "deals", "meetings", "calls", "emails")
print(json.dumps({
    "leads": w.truth["funnel"]["lead_created"],
    "records": sum(hs[k]["records"] for k in kinds) + len(w.events) + len(w.invitees),
    "versions": sum(hs[k]["versions"] for k in kinds) + sum(len(r.versions) for r in w.events + w.invitees),
    "seconds": seconds,
    "mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


@click.command()
@click.option("--leads-per-day", "sizes", multiple=True, type=float, default=(45.0, 450.0, 1300.0))
def main(sizes: tuple[float, ...]) -> None:
    """Time `generate_world` at several sizes (each in its own process)."""
    table = Table(title="sandbox world generation (12 weeks, default scenario)")
    for col in ("leads/day", "leads", "records", "versions", "seconds", "peak MB", "µs per lead"):
        table.add_column(col, justify="right")
    for size in sizes:
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(size)], check=True, capture_output=True, text=True
        ).stdout
        r = json.loads(out)
        table.add_row(
            f"{size:g}",
            f"{r['leads']:,}",
            f"{r['records']:,}",
            f"{r['versions']:,}",
            f"{r['seconds']:.2f}",
            f"{r['mb']:.0f}",
            f"{r['seconds'] / max(1, r['leads']) * 1e6:.0f}",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
