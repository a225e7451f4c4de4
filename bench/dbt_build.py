"""Benchmark: full `dbt build` vs the same SQL run directly in DuckDB, and an incremental build after a 1 % sync.

Steps (one run, one machine):
1. generate a sandbox world (`--leads`, default 1,000,000) and write its raw tables up to a cutoff
   chosen so that about 1 % of the raw rows come later (`leadflow.transform.world_raw`, no HTTP);
2. `leadflow build` (dbt build: models, seeds and data tests; unit tests are left out as in every
   production build, decision D30) on a fresh file -> full build time (`--raw-cache DIR` keeps the raw
   tables before and in the sync, so a rerun on the same arguments skips generating the world);
3. the compiled SQL of every model executed directly with DuckDB, in DAG order, on a copy of the
   raw-only file -> "DuckDB alone" time (no dbt, no tests);
4. append the remaining ~1 % of versions (a small sync) and run the same build again -> incremental time
   (with the summed node seconds of models vs tests, and how many leads the lead-grain models recomputed);
5. build once more with nothing new -> the floor of an incremental build (dbt's per-node overhead,
   the tests and the models rebuilt over all rows each time);
6. repeat step 4 from a snapshot of the warehouse before it (`--incremental-repeats`, default 3) and
   report the median wall and process CPU seconds (dbt's and DuckDB's threads, the runner's own
   seed check included): on a shared 2-core box single builds vary by 15 % and more, CPU time less.
   The node seconds and the leads recomputed are those of the first incremental build.
Goals (docs/benchmarks.md): incremental <= 10 % of full; full <= 3x DuckDB alone.

    .venv/bin/python bench/dbt_build.py --leads 1000000 [--raw-cache DIR] [--dir WORK]
    .venv/bin/python bench/dbt_build.py --dir WORK --replay-incremental 3   # step 4 only, from WORK's snapshot
    .venv/bin/python bench/dbt_build.py --raw-cache DIR --dir WORK --full-only  # steps 1-2 only
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
from rich.console import Console
from rich.table import Table

from leadflow.sandbox.generate import generate_world
from leadflow.sandbox.scenario import LeadsPerDay, load_scenario
from leadflow.sandbox.world import World, hubspot_time
from leadflow.settings import load_settings
from leadflow.transform.runner import build, dbt_args, project_dir
from leadflow.transform.world_raw import write_raw_from_world

REPO = Path(__file__).resolve().parents[1]
console = Console()


def make_world(leads: int, activity_updates: float) -> World:
    """The example scenario scaled to `leads`, with `contacts.activity_updates` tracked-activity
    versions per contact on average (the example itself has none)."""
    scenario = load_scenario(REPO / "scenarios" / "example.yaml")
    days = (scenario.end - scenario.start).days
    per_day = leads / days
    scenario = replace(
        scenario,
        leads_per_day=LeadsPerDay(weekday=per_day * 7 / 6.0, weekend=per_day * 7 / 6.0 / 2.5),
        contacts=replace(scenario.contacts, activity_updates=activity_updates),
    )
    return generate_world(scenario)


def cutoff_for(world: World, share: float) -> int:
    """The time before which (1 - share) of all versions happened."""
    times: list[int] = [v.at_ms for recs in world.hubspot.values() for r in recs for v in r.versions]
    times += [v.at_ms for r in world.events + world.invitees for v in r.versions]
    times.sort()
    return times[int(len(times) * (1 - share))]


def direct_sql_seconds(raw_only: Path, work: Path) -> float:
    """Compile with --full-refresh, then run every model's SQL straight in DuckDB in DAG order."""
    from dbt.cli.main import dbtRunner

    from leadflow.transform.runner import _environment, _release_duckdb

    with _environment({"LEADFLOW_WAREHOUSE": str(raw_only), "LEADFLOW_DBT_TARGET": "duckdb"}):
        try:
            res = dbtRunner().invoke(
                [*dbt_args("compile", full_refresh=True, target="duckdb", work_dir=work), "--quiet"]
            )
        finally:
            _release_duckdb()
    if not res.success:
        raise SystemExit("dbt compile failed")
    manifest = json.loads((work / "target" / "manifest.json").read_text())
    nodes = manifest["nodes"]
    order: list[str] = []
    seen: set[str] = set()

    def visit(uid: str) -> None:
        if uid in seen or uid not in nodes:
            return
        seen.add(uid)
        for dep in nodes[uid].get("depends_on", {}).get("nodes", []):
            visit(dep)
        if nodes[uid]["resource_type"] in {"model", "seed"}:
            order.append(uid)

    for uid in sorted(nodes):
        visit(uid)
    con = duckdb.connect(str(raw_only))
    started = time.perf_counter()
    for uid in order:
        node = nodes[uid]
        rel = f'"{node["schema"]}"."{node["alias"]}"'
        con.execute(f'create schema if not exists "{node["schema"]}"')
        if node["resource_type"] == "seed":
            path = project_dir() / node["original_file_path"]
            con.execute(
                f"create or replace table {rel} as select * from read_csv_auto('{path}', all_varchar=false)"
            )
            continue
        kind = "view" if node["config"]["materialized"] == "view" else "table"
        con.execute(f"create or replace {kind} {rel} as {node['compiled_code']}")
    elapsed = time.perf_counter() - started
    con.close()
    return elapsed


def raw_rows(path: Path) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'raw' and table_name not like '\\_%' escape '\\'"
            ).fetchall()
        ]
        return sum(con.execute(f"select count(*) from raw.{t}").fetchall()[0][0] for t in tables)
    finally:
        con.close()


@dataclass
class SyncRows:
    """The sync's raw rows, kept in their own DuckDB file until they are appended."""

    path: Path
    meta: dict[str, Any]

    def append_to(self, warehouse: Path) -> int:
        con = duckdb.connect(str(warehouse))
        try:
            con.execute(f"attach '{self.path}' as sync_rows (read_only)")
            tables = [
                r[0]
                for r in con.execute(
                    "select table_name from information_schema.tables where table_catalog = 'sync_rows'"
                    " and table_schema = 'raw' and table_name not like '\\_%' escape '\\'"
                ).fetchall()
            ]
            added = 0
            for table in tables:
                added += con.execute(f"select count(*) from sync_rows.raw.{table}").fetchall()[0][0]
                con.execute(f"insert into raw.{table} select * from sync_rows.raw.{table}")
            return added
        finally:
            con.close()


def raw_tables(warehouse: Path, work: Path, args: argparse.Namespace) -> SyncRows:
    """Write the raw tables up to the cutoff into `warehouse` and the sync's rows into a side file,
    from the world or from `--raw-cache` when it holds them for the same arguments."""
    key = {"leads_requested": args.leads, "share": args.share, "activity_updates": args.activity_updates}
    cache: Path | None = args.raw_cache
    if cache is not None and (cache / "meta.json").exists():
        meta = json.loads((cache / "meta.json").read_text())
        if all(meta.get(k) == v for k, v in key.items()):
            shutil.copy(cache / "raw-before.duckdb", warehouse)
            return SyncRows(cache / "raw-sync.duckdb", {**meta, "generate_s": 0.0, "write_raw_s": 0.0})
    t = time.perf_counter()
    world = make_world(args.leads, args.activity_updates)
    meta: dict[str, Any] = {**key, "generate_s": time.perf_counter() - t, "leads": len(world.journeys)}
    cut = cutoff_for(world, args.share)
    meta["as_of"] = hubspot_time(world.end_ms)
    t = time.perf_counter()
    write_raw_from_world(world, warehouse, until_ms=cut, loaded_at_ms=cut)
    meta["write_raw_s"] = time.perf_counter() - t
    target = cache or work
    target.mkdir(parents=True, exist_ok=True)
    sync_path = target / "raw-sync.duckdb"
    sync_path.unlink(missing_ok=True)
    write_raw_from_world(world, sync_path, since_ms=cut, loaded_at_ms=world.end_ms)
    if cache is not None:
        shutil.copy(warehouse, cache / "raw-before.duckdb")
        (cache / "meta.json").write_text(json.dumps(meta, indent=2))
    return SyncRows(sync_path, meta)


SNAPSHOT = "pre-incremental.duckdb"


def timed_build(settings: Any, as_of: str) -> tuple[Any, float]:
    """`build` and the CPU seconds this process spent in it (dbt's threads and DuckDB's together)."""
    cpu = time.process_time()
    summary = build(settings, as_of=as_of)
    return summary, time.process_time() - cpu


def replay_incremental(work: Path | None, times: int) -> None:
    """Copy the pre-incremental snapshot of an earlier run over its warehouse and time the incremental build."""
    if work is None or not (work / SNAPSHOT).exists():
        raise SystemExit(
            f"--replay-incremental needs --dir of an earlier run with --dir (no {SNAPSHOT} there)"
        )
    settings = load_settings(work / "absent.toml", {"LEADFLOW_HOME": str(work / "home")})
    as_of = (work / "as_of.txt").read_text()
    walls: list[float] = []
    cpus: list[float] = []
    for i in range(times):
        shutil.copy(work / SNAPSHOT, settings.warehouse)
        os.sync()  # the copy's dirty pages written back before the build, not during it
        inc, cpu = timed_build(settings, as_of)
        walls.append(inc.elapsed_s)
        cpus.append(cpu)
        slowest = sorted(inc.node_seconds.items(), key=lambda kv: -kv[1])[:3]
        console.print(
            f"incremental build {i + 1}/{times}: {inc.elapsed_s:.2f} s, CPU {cpu:.2f} s; slowest nodes: "
            + ", ".join(f"{n.split('.')[-1]} {t:.2f} s" for n, t in slowest)
        )
    if times > 2:  # the first build of a process also imports and warms up: left out of the median
        console.print(
            f"median of builds 2-{times}: {statistics.median(walls[1:]):.2f} s, "
            f"CPU {statistics.median(cpus[1:]):.2f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument(
        "--share", type=float, default=0.01, help="share of raw versions that arrive in the small sync"
    )
    parser.add_argument(
        "--activity-updates",
        type=float,
        default=4.0,
        help="mean tracked-activity versions per contact (contacts.activity_updates); 4 gives about "
        "10 raw rows per lead, the issue's size; 0 is the world of earlier benchmark runs",
    )
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: a temporary one)")
    parser.add_argument(
        "--raw-cache",
        type=Path,
        default=None,
        help="directory keeping the raw tables before and in the sync; reused when it holds them for the "
        "same --leads/--share/--activity-updates (the world takes minutes to generate at 1M leads)",
    )
    parser.add_argument(
        "--incremental-repeats",
        type=int,
        default=3,
        metavar="N",
        help="run the incremental build N times, each from the same pre-sync snapshot, and report the "
        "median (a single build on a shared box varies by 15 %% and more)",
    )
    parser.add_argument(
        "--replay-incremental",
        type=int,
        default=0,
        metavar="N",
        help="only rerun the incremental build N times from the snapshot an earlier run left in --dir "
        "(pre-incremental.duckdb), to iterate on the dbt project in seconds; prints each time",
    )
    parser.add_argument(
        "--full-only",
        action="store_true",
        help="only write the raw tables (from --raw-cache), parse and time one full build: for "
        "alternating runs of two projects (LEADFLOW_DBT_PROJECT_DIR) on the same data",
    )
    args = parser.parse_args()
    if args.replay_incremental:
        replay_incremental(args.dir, args.replay_incremental)
        return
    work = args.dir or Path(tempfile.mkdtemp(prefix="lf-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"leads_requested": args.leads}

    settings = load_settings(work / "absent.toml", {"LEADFLOW_HOME": str(work / "home")})
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    sync_rows = raw_tables(settings.warehouse, work, args)
    results.update(sync_rows.meta)
    as_of = sync_rows.meta["as_of"]
    results["raw_rows_before"] = raw_rows(settings.warehouse)
    results["activity_updates"] = args.activity_updates
    raw_only = work / "raw-only.duckdb"
    shutil.copy(settings.warehouse, raw_only)

    # dbt parses the project in full on its first run in a work directory (~3 s here), then reuses
    # the parse: it is done first so that the full build, like the incremental one, is a build only
    build(settings, as_of=as_of, command="parse")
    os.sync()  # the raw copy's dirty pages written back before the build, not during it
    full, results["full_cpu_s"] = timed_build(settings, as_of)
    results["full_build_s"] = full.elapsed_s
    if args.full_only:
        console.print(f"full build: {full.elapsed_s:.1f} s, CPU {results['full_cpu_s']:.1f} s")
        return
    results["dbt_nodes"] = ", ".join(
        f"{n} {kind}s" for kind, n in sorted(Counter(uid.split(".")[0] for uid in full.node_seconds).items())
    )
    results["full_models_s"] = sum(s for n, s in full.node_seconds.items() if n.startswith("model."))
    console.print(results)
    results["duckdb_direct_s"] = direct_sql_seconds(raw_only, work / "compile")

    results["raw_rows_added"] = sync_rows.append_to(settings.warehouse)
    results["raw_rows_per_lead"] = (results["raw_rows_before"] + results["raw_rows_added"]) / results["leads"]
    # the state before the incremental build: for the repeats here and for --replay-incremental
    shutil.copy(settings.warehouse, work / SNAPSHOT)
    (work / "as_of.txt").write_text(as_of)
    os.sync()  # the append's (and the snapshot's) dirty pages written back before the build, not during it
    inc, inc_cpu = timed_build(settings, as_of)
    incremental_s, incremental_cpu = [inc.elapsed_s], [inc_cpu]
    results["incremental_models_s"] = sum(s for n, s in inc.node_seconds.items() if n.startswith("model."))
    results["incremental_tests_s"] = sum(s for n, s in inc.node_seconds.items() if not n.startswith("model."))
    # per node, slowest first (results.json only): where the incremental build's time goes
    results["incremental_node_s"] = dict(sorted(inc.node_seconds.items(), key=lambda kv: -kv[1]))
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        # projects before D37 list every lead with an `is_affected` flag; since, only the affected ones
        flagged = con.execute(
            "select count(*) from information_schema.columns where table_schema = 'intermediate'"
            " and table_name = 'int_affected_leads' and column_name = 'is_affected'"
        ).fetchall()[0][0]
        affected, total = con.execute(
            "select (select count(*) from intermediate.int_affected_leads"
            + (" where is_affected" if flagged else "")
            + "), (select count(*) from marts.leads)"
        ).fetchall()[0]
    finally:
        con.close()
    results["leads_recomputed"] = f"{affected:,} of {total:,}"
    # the floor: the same build again with nothing new (dbt's per-node work and the full-table models)
    results["no_change_build_s"] = build(settings, as_of=as_of).elapsed_s
    for _ in range(args.incremental_repeats - 1):
        shutil.copy(work / SNAPSHOT, settings.warehouse)
        os.sync()
        again, cpu = timed_build(settings, as_of)
        incremental_s.append(again.elapsed_s)
        incremental_cpu.append(cpu)
    results["incremental_builds_s"] = " ".join(f"{t:.1f}" for t in incremental_s)
    results["incremental_build_s"] = statistics.median(incremental_s)
    results["incremental_cpu_s"] = statistics.median(incremental_cpu)

    table = Table(
        title=f"dbt build benchmark: {results['leads']:,} leads, {results['raw_rows_before']:,} raw rows"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key in (
        "generate_s",
        "write_raw_s",
        "activity_updates",
        "raw_rows_added",
        "raw_rows_per_lead",
        "dbt_nodes",
        "full_build_s",
        "full_models_s",
        "duckdb_direct_s",
        "full_cpu_s",
        "incremental_builds_s",
        "incremental_build_s",
        "incremental_cpu_s",
        "incremental_models_s",
        "incremental_tests_s",
        "leads_recomputed",
        "no_change_build_s",
    ):
        value = results[key]
        shown = (
            value if isinstance(value, str) else f"{value:,.1f}" if isinstance(value, float) else f"{value:,}"
        )
        table.add_row(key, shown)
    table.add_row(
        "incremental / full (goal <= 10 %)", f"{results['incremental_build_s'] / results['full_build_s']:.1%}"
    )
    table.add_row(
        "incremental / full, process CPU", f"{results['incremental_cpu_s'] / results['full_cpu_s']:.1%}"
    )
    table.add_row(
        "full / DuckDB alone (goal <= 3x)", f"{results['full_build_s'] / results['duckdb_direct_s']:.2f}x"
    )
    console.print(table)
    (work / "results.json").write_text(json.dumps(results, indent=2))
    if not args.dir:  # a temporary work directory: keep results.json, not the ~5 GB of warehouse copies at 1M
        for file in work.rglob("*.duckdb*"):
            file.unlink()
        console.print(f"results: {work / 'results.json'}")


if __name__ == "__main__":
    main()
