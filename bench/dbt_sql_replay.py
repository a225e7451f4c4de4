"""Replay a dbt build's SQL statements one by one in DuckDB, with DuckDB's profile of each.

Reads the last invocation in dbt's debug log (a leadflow dbt work directory, `$LEADFLOW_HOME/dbt`),
copies the warehouse as it was before that build (e.g. the bench's `pre-incremental.duckdb`) and
runs every statement the build sent, in the order the log shows them, each on its own (no dbt,
autocommit, one connection, so the temporary tables of the materializations are there when read).
Prints the SQL alone's wall and process CPU time, the time DuckDB spent optimizing (by optimizer
pass), the nodes by CPU and the slowest statements with their slowest operators: where the SQL of
a build goes, apart from dbt's own work (docs/benchmarks.md, D47). A logged entry holding several
statements (the materializations send `create temporary table ...; delete ...; insert ...` at once)
is timed as one, and its operators and optimizer time are those of the last of them that DuckDB
profiles (`drop table` writes none): profile a model's SELECT alone to see inside its first step.

    LEADFLOW_DBT_FILE_LOG_LEVEL=debug .venv/bin/python bench/dbt_build.py --dir W --replay-incremental 1
    .venv/bin/python bench/dbt_sql_replay.py W/home/dbt W/pre-incremental.duckdb [--top 25] [--repeat 3]

`--repeat N` replays N times, each on a fresh copy, and shows per node and per statement the run with
the median CPU time (one replay on a shared box varies by 10 % and more per statement); `--json FILE`
keeps the per-node medians, to compare two versions of the project node by node.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

from _dbt_log import LINE, last_invocation

SKIPPED = {"BEGIN", "COMMIT", "ROLLBACK", "Close"}


@dataclass
class Run:
    node: str
    sql: str
    wall: float = 0.0
    cpu: float = 0.0
    optimizer: dict[str, float] = field(default_factory=dict)
    operators: list[tuple[float, str, str]] = field(default_factory=list)


def statements(log: Path) -> list[tuple[str, str]]:
    """(node, SQL) of every statement of the log's last invocation, in logged order."""
    lines = last_invocation(log)
    found: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        m = LINE.match(lines[i])
        i += 1
        if not m or not m.group(3).startswith("On ") or ": " not in m.group(3):
            continue
        node, first = m.group(3)[3:].split(": ", 1)
        body = [first]
        while i < len(lines) and not LINE.match(lines[i]):
            body.append(lines[i])
            i += 1
        sql = "\n".join(body).strip()
        if sql in SKIPPED or node.startswith("list_") or not sql:
            continue
        found.append((node, sql))
    return found


def operators(profile: dict) -> list[tuple[float, str, str]]:
    """(seconds, operator, what it reads or joins on) of every operator in DuckDB's JSON profile."""
    out: list[tuple[float, str, str]] = []

    def walk(op: dict) -> None:
        extra = op.get("extra_info", {})
        what = extra.get("Table") or extra.get("Conditions") or extra.get("CTE Name") or ""
        out.append(
            (float(op.get("operator_timing", op.get("timing", 0.0)) or 0.0), str(op.get("name")), str(what))
        )
        for child in op.get("children", []):
            walk(child)

    for top in profile.get("operator") or profile.get("children") or []:  # the key moved between versions
        walk(top)
    return out


def replay(found: list[tuple[str, str]], warehouse: Path, profile_file: Path) -> list[Run]:
    con = duckdb.connect(":memory:")
    con.execute(f"attach '{warehouse}' as leadflow")
    con.execute("use leadflow")
    con.execute("set max_vacuum_tasks = 0")  # as the runner sets it for incremental builds
    runs: list[Run] = []
    for node, sql in found:
        parts = node.split(".")  # model.leadflow.<name>, test.leadflow.<name>.<hash>, or a dbt connection
        run = Run(parts[2] if len(parts) > 2 else node, sql)
        profile_file.unlink(
            missing_ok=True
        )  # a statement that writes no profile must not show the last one's
        con.execute("pragma enable_profiling = 'json'")
        con.execute(f"pragma profiling_output = '{profile_file}'")
        wall, cpu = time.perf_counter(), time.process_time()
        con.execute(sql)
        run.wall, run.cpu = time.perf_counter() - wall, time.process_time() - cpu
        con.execute("pragma disable_profiling")
        profile = json.loads(profile_file.read_text()) if profile_file.exists() else {}
        run.optimizer = {k: v for k, v in profile.get("optimizer", {}).items() if k != "total_time"}
        run.operators = sorted(operators(profile), reverse=True)[:4]
        runs.append(run)
    con.close()
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dbt_dir", type=Path, help="leadflow's dbt work directory (holds logs/dbt.log)")
    parser.add_argument(
        "warehouse", type=Path, help="the warehouse as it was before that build (copied, not changed)"
    )
    parser.add_argument("--top", type=int, default=20, help="how many nodes and statements to list")
    parser.add_argument(
        "--repeat", type=int, default=1, help="replays; each statement's median-CPU run is shown"
    )
    parser.add_argument(
        "--json", type=Path, default=None, help="write {node: [wall s, CPU s]} (medians) here"
    )
    args = parser.parse_args()
    found = statements(args.dbt_dir / "logs" / "dbt.log")
    replays: list[list[Run]] = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="lf-sql-replay-") as tmp:
            copy = Path(tmp) / "warehouse.duckdb"
            shutil.copy(args.warehouse, copy)
            replays.append(replay(found, copy, Path(tmp) / "profile.json"))
    # per statement, the replay with the median CPU time (the same statements in the same order each time)
    runs = [sorted(same, key=lambda r: r.cpu)[len(same) // 2] for same in zip(*replays, strict=True)]
    console = Console(width=max(Console().width, 180))
    passes: Counter[str] = Counter()
    for run in runs:
        passes.update(run.optimizer)
    summary = Table(title=f"{len(runs)} statements replayed one by one")
    summary.add_column("measure")
    summary.add_column("value", justify="right")
    summary.add_row("wall s", f"{sum(r.wall for r in runs):.2f}")
    summary.add_row("process CPU s", f"{sum(r.cpu for r in runs):.2f}")
    summary.add_row("DuckDB optimizer s", f"{sum(passes.values()):.2f}")
    summary.add_row("top optimizer passes", ", ".join(f"{k} {v:.2f}" for k, v in passes.most_common(3)))
    console.print(summary)
    by_node: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for run in runs:
        acc = by_node[run.node]
        acc[0] += run.wall
        acc[1] += run.cpu
        acc[2] += 1
    nodes = Table(title="nodes by CPU")
    for col in ("node", "wall s", "CPU s", "statements"):
        nodes.add_column(col, justify="left" if col == "node" else "right")
    for node, (wall, cpu, n) in sorted(by_node.items(), key=lambda kv: -kv[1][1])[: args.top]:
        nodes.add_row(node, f"{wall:.3f}", f"{cpu:.3f}", f"{n:.0f}")
    console.print(nodes)
    if args.json:
        args.json.write_text(json.dumps({node: acc[:2] for node, acc in by_node.items()}, indent=1))
    slow = Table(title="slowest statements and their slowest operators")
    for col in ("wall s", "CPU s", "optimizer s", "node", "statement", "operators (s)"):
        slow.add_column(col, justify="right" if col.endswith(" s") else "left")
    for run in sorted(runs, key=lambda r: -r.wall)[: args.top]:
        text = run.sql.split("*/", 1)[-1].strip().replace("\n", " ")[:40]
        ops = "; ".join(f"{name} {what[:28]} {t:.3f}" for t, name, what in run.operators[:3])
        slow.add_row(
            f"{run.wall:.3f}", f"{run.cpu:.3f}", f"{sum(run.optimizer.values()):.3f}", run.node, text, ops
        )
    console.print(slow)


if __name__ == "__main__":
    main()
