"""Run every benchmark in turn (`make bench`); each prints its own table.

    .venv/bin/python bench/run_all.py [--quick] [--only NAME ...]

`--quick` runs each at a small size (minutes, not the full targets); without it the sizes are the
ones quoted in docs/benchmarks.md. The dlt comparison needs the `bench` extra (`make bench` installs it).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent

# name -> (full-size arguments, quick arguments)
BENCHES: dict[str, tuple[list[str], list[str]]] = {
    "sandbox_generate": ([], ["--leads-per-day", "45"]),
    "sandbox_serve": (["--duration", "10"], ["--duration", "3"]),
    "landing_throughput": ([], ["--records", "100000", "--no-dlt"]),
    "dbt_build": ([], ["--leads", "20000"]),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    ap.add_argument("--only", nargs="*", choices=sorted(BENCHES), help="run just these")
    args = ap.parse_args()
    console = Console()
    summary = Table(title="benchmarks run")
    summary.add_column("benchmark")
    summary.add_column("exit", justify="right")
    summary.add_column("wall s", justify="right")
    failed = 0
    for name, (full, quick) in BENCHES.items():
        if args.only and name not in args.only:
            continue
        console.rule(name)
        started = time.perf_counter()
        rc = subprocess.call([sys.executable, str(HERE / f"{name}.py"), *(quick if args.quick else full)])
        summary.add_row(name, str(rc), f"{time.perf_counter() - started:.1f}")
        failed += rc != 0
    console.print(summary)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
