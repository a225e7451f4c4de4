"""Benchmark: HubSpot-shaped contacts from the sandbox into DuckDB, leadflow vs dlt's `rest_api` source.

    .venv/bin/python bench/landing_throughput.py --records 1000000          # full run (~10 minutes)
    .venv/bin/python bench/landing_throughput.py --records 100000 --no-dlt  # quick look
    .venv/bin/python bench/landing_throughput.py --no-dlt --repeat 3        # medians of 3 alternating runs

The sandbox serves a World of N contacts (one version each, limits off) from its own process; a
warm-up pass fills its fragment cache, so pages are served pre-rendered. Each contender then runs in
a fresh subprocess (clean peak RSS, read from `ru_maxrss`) against the same URL:

- `fetch`: leadflow's HubSpot connector with a sink that drops pages: fetching + parsing only;
- `leadflow`: `pipeline.sync` as a user runs it: the connector lands pages and completes a resumable
  batch every 50,000 records while this thread loads each one into `raw.hubspot__contacts` (raw JSON
  rows), then a typed staging table built from the raw JSON (`CREATE TABLE ... AS SELECT` with casts);
- `dlt-default` / `dlt-tuned`: dlt `rest_api` (json_link paginator on `paging.next.link`, data
  selector `results`) into DuckDB, with dlt's defaults and with the settings of dlt's performance
  guide (parallel normalize workers, larger writer buffers, file rotation). dlt flattens while it
  loads, so its one time counts for both columns.

Needs the `bench` extra (dlt[duckdb], psutil). Speed goals are shown, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _contacts_server import TOKEN, ContactsServer
from leadflow.sources.hubspot_objects import PROPERTIES

PROPS = ",".join(PROPERTIES["contacts"])  # what leadflow's connector asks for; dlt asks for the same
DLT_TUNED_ENV = {
    "NORMALIZE__WORKERS": "2",
    "EXTRACT__DATA_WRITER__BUFFER_MAX_ITEMS": "100000",
    "NORMALIZE__DATA_WRITER__BUFFER_MAX_ITEMS": "100000",
    "EXTRACT__DATA_WRITER__FILE_MAX_ITEMS": "100000",
    "NORMALIZE__DATA_WRITER__FILE_MAX_ITEMS": "100000",
    "LOAD__WORKERS": "2",
}
TYPED_SQL = """
CREATE OR REPLACE TABLE main.stg_hubspot__contacts AS
SELECT record_id::BIGINT AS contact_id,
       payload ->> '$.properties.email' AS email,
       payload ->> '$.properties.firstname' AS first_name,
       payload ->> '$.properties.lastname' AS last_name,
       payload ->> '$.properties.lead_channel' AS lead_channel,
       (payload ->> '$.properties.hubspot_owner_id')::BIGINT AS owner_id,
       (payload ->> '$.createdAt')::TIMESTAMPTZ AS created_at,
       version_ts AS updated_at,
       is_deleted
FROM raw.hubspot__contacts
"""


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _settings(url: str, work: Path, *, unlimited: bool = False) -> Any:
    from leadflow.settings import load_settings

    env = {"LEADFLOW_HOME": str(work), "LEADFLOW_HUBSPOT_BASE_URL": url, "LEADFLOW_HUBSPOT_TOKEN": TOKEN}
    if unlimited:  # the bench measures throughput, not HubSpot's rate limits (the sandbox has them off)
        env |= {"LEADFLOW_HUBSPOT_BURST_PER_10S": "100000000", "LEADFLOW_HUBSPOT_SEARCH_PER_S": "1000000"}
    if os.environ.get("BENCH_BATCH_RECORDS"):
        env["LEADFLOW_HUBSPOT_BATCH_RECORDS"] = os.environ["BENCH_BATCH_RECORDS"]
    return load_settings(work / "none.toml", env)


def _extract_contacts(url: str, work: Path, open_batch: Any) -> int:
    from leadflow.sources import hubspot
    from leadflow.sources.ratelimit import Limiter

    settings = _settings(url, work)
    results = hubspot.extract(
        settings.hubspot,
        settings.http,
        session=None,
        cursors=_NoCursors(),
        open_batch=open_batch,
        entities=["contacts"],
        limiter=Limiter({}),  # the bench measures throughput, not rate limits
    )
    return sum(r.records for r in results)


class _NoCursors:
    def get(self, source: str, entity: str) -> None:
        return None


class _NullSink:
    def write_page(self, page: Any) -> None:
        pass

    def complete(self, cursor: Any) -> None:
        pass


def run_fetch(url: str, work: Path) -> dict[str, Any]:
    t = time.perf_counter()
    n = _extract_contacts(url, work, lambda s, e: _NullSink())
    return {"records": n, "seconds": time.perf_counter() - t}


def run_leadflow(url: str, work: Path) -> dict[str, Any]:
    """`pipeline.sync` as a user runs it: resumable batches loaded while the backfill goes on."""
    from leadflow import pipeline
    from leadflow.landing.warehouse import connect_writer

    settings = _settings(url, work, unlimited=True)
    t0 = time.perf_counter()
    report = pipeline.sync(settings, ["hubspot"], entities={"hubspot": ["contacts"]})
    t1 = time.perf_counter()
    with connect_writer(settings.warehouse) as con:
        con.execute(TYPED_SQL)
        typed = con.execute("SELECT count(*) FROM main.stg_hubspot__contacts").fetchall()[0][0]
    t2 = time.perf_counter()
    landing_mb = sum(p.stat().st_size for p in settings.landing_dir.rglob("*.jsonl")) / 1e6
    return {
        "records": sum(r.records for r in report.extracted),
        "rows": report.loaded.inserted,
        "typed_rows": typed,
        "batches": len(report.loaded.batches),
        "load_busy_s": sum(b.seconds for b in report.loaded.batches),
        "last_load_s": report.loaded.batches[-1].seconds if report.loaded.batches else 0.0,
        "typed_s": t2 - t1,
        "seconds": t1 - t0,
        "seconds_typed": t2 - t0,
        "landing_mb": landing_mb,
        "warehouse_mb": settings.warehouse.stat().st_size / 1e6,
    }


def run_dlt(url: str, work: Path) -> dict[str, Any]:
    import dlt
    from dlt.sources.rest_api import rest_api_source

    source = rest_api_source(
        {
            "client": {
                "base_url": url + "/",
                "auth": {"type": "bearer", "token": TOKEN},
                "paginator": {"type": "json_link", "next_url_path": "paging.next.link"},
            },
            "resources": [
                {
                    "name": "contacts",
                    "primary_key": "id",
                    "write_disposition": "append",
                    "endpoint": {
                        "path": "crm/v3/objects/contacts",
                        "params": {"limit": 100, "properties": PROPS, "archived": "false"},
                        "data_selector": "results",
                    },
                }
            ],
        }
    )
    pipe = dlt.pipeline(
        pipeline_name="bench_contacts",
        destination=dlt.destinations.duckdb(str(work / "dlt.duckdb")),
        dataset_name="raw",
        pipelines_dir=str(work / "dlt_pipelines"),
    )
    t = time.perf_counter()
    pipe.run(source)
    seconds = time.perf_counter() - t
    import duckdb

    con = duckdb.connect(str(work / "dlt.duckdb"), read_only=True)
    rows = con.execute("SELECT count(*) FROM raw.contacts").fetchall()[0][0]
    con.close()
    return {"records": rows, "rows": rows, "seconds": seconds, "seconds_typed": seconds}


RUNNERS = {"fetch": run_fetch, "leadflow": run_leadflow, "dlt-default": run_dlt, "dlt-tuned": run_dlt}


def _child(name: str, url: str, work: Path) -> None:
    result = RUNNERS[name](url, work)
    result["peak_mb"] = _peak_mb()
    print("RESULT " + json.dumps(result))


def _run_child(name: str, url: str, root: Path, batch_records: int = 0) -> dict[str, Any]:
    work = root / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = dict(os.environ)
    env = {k: v for k, v in env.items() if not k.startswith("LEADFLOW_")}
    if name == "dlt-tuned":
        env.update(DLT_TUNED_ENV)
    if batch_records:
        env["BENCH_BATCH_RECORDS"] = str(batch_records)
    proc = subprocess.run(
        [sys.executable, __file__, "_child", name, url, str(work)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            out: dict[str, Any] = json.loads(line[7:])
            shutil.rmtree(work, ignore_errors=True)
            return out
    raise RuntimeError(f"{name} failed:\n{proc.stderr[-4000:]}")


def _warm(url: str) -> float:
    """One pass of leadflow's connector (probe search, every list page, the archived pass), so that
    every contender is served pre-rendered responses (dlt asks for the same list pages)."""
    t = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="leadflow-warm-") as tmp:
        _extract_contacts(url, Path(tmp), lambda s, e: _NullSink())
    return time.perf_counter() - t


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        _child(sys.argv[2], sys.argv[3], Path(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--no-dlt", action="store_true", help="skip the dlt runs")
    ap.add_argument(
        "--batch-records",
        type=int,
        default=0,
        help="leadflow's [hubspot] batch_records (default: its default)",
    )
    ap.add_argument("--repeat", type=int, default=1, help="run every contender N times (median shown)")
    ap.add_argument("--only", nargs="*", default=None, help="run only these contenders (e.g. leadflow)")
    ap.add_argument("--workdir", type=Path, default=None, help="scratch directory (default: a temp dir)")
    ap.add_argument("--markdown", type=Path, default=None, help="also write the table as Markdown here")
    args = ap.parse_args()

    from rich.console import Console
    from rich.table import Table

    from leadflow.sandbox.server import render

    render._FRAGMENT_CACHE_MAX = max(render._FRAGMENT_CACHE_MAX, args.records + 1000)  # pre-render every page
    console = Console(width=150)
    root = args.workdir or Path(tempfile.mkdtemp(prefix="leadflow-bench-"))
    results: dict[str, dict[str, Any]] = {}
    with ContactsServer(args.records) as server:
        console.print(f"sandbox with {args.records:,} contacts at {server.url}; warming up ...")
        console.print(f"warm-up pass (rendering every page): {_warm(server.url):.1f} s")
        names = ["fetch", "leadflow"] + ([] if args.no_dlt else ["dlt-default", "dlt-tuned"])
        names = [n for n in names if not args.only or n in args.only]
        runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
        for round_ in range(args.repeat):  # contenders alternate, so drift on the box hits them alike
            for name in names:
                console.print(f"running {name} ({round_ + 1}/{args.repeat}) ...")
                runs[name].append(_run_child(name, server.url, root, args.batch_records))
                console.print(f"  {runs[name][-1]}")
        for name, done in runs.items():  # the table shows each contender's median run
            results[name] = sorted(done, key=lambda r: r["seconds"])[len(done) // 2]
            if len(done) > 1:
                console.print(f"{name}: " + ", ".join(f"{r['seconds']:.1f}" for r in done) + " s")
    rows = _table_rows(results)
    table = Table(title=f"{args.records:,} HubSpot contacts, sandbox -> DuckDB ({os.cpu_count()} cores)")
    for col in ("run", "landed (s)", "records/s", "landed + typed (s)", "records/s ", "peak MB", "notes"):
        table.add_column(col, justify="left" if col in {"run", "notes"} else "right")
    for r in rows:
        table.add_row(*r)
    console.print(table)
    for line in _goals(results):
        console.print(line)
    if args.markdown:
        args.markdown.write_text(_markdown(rows, _goals(results), args.records))


def _table_rows(results: dict[str, dict[str, Any]]) -> list[list[str]]:
    rows = []
    for name, r in results.items():
        n = r["records"]
        typed = r.get("seconds_typed")
        note = ""
        if name == "leadflow":
            note = (
                f"sync: {r['batches']} batches loaded while fetching (loader busy {r['load_busy_s']:.1f} s, "
                f"last batch {r['last_load_s']:.1f} s); typed +{r['typed_s']:.1f} s"
            )
        elif name == "fetch":
            note = "fetch + parse only (no landing)"
        rows.append(
            [
                name,
                f"{r['seconds']:.1f}",
                f"{n / r['seconds']:,.0f}",
                f"{typed:.1f}" if typed else "-",
                f"{n / typed:,.0f}" if typed else "-",
                f"{r['peak_mb']:,.0f}",
                note,
            ]
        )
    return rows


def _goals(results: dict[str, dict[str, Any]]) -> list[str]:
    lf = results.get("leadflow")
    if not lf:
        return []
    out = []
    rate = lf["records"] / lf["seconds"]
    fetch = results.get("fetch")
    if fetch:
        overhead = lf["seconds"] / fetch["seconds"] - 1
        out.append(f"landing overhead over fetch-only: {overhead:+.0%} (goal <= +50%)")
    for name, goal in (("dlt-default", 20), ("dlt-tuned", 12)):
        if name in results:
            d = results[name]
            x = rate / (d["records"] / d["seconds"])
            xt = (lf["records"] / lf["seconds_typed"]) / (d["records"] / d["seconds"])
            out.append(f"vs {name}: {x:.1f}x landed, {xt:.1f}x landed+typed (goal >= {goal}x)")
    out.append(f"leadflow peak memory: {lf['peak_mb']:,.0f} MB (goal < 500 MB)")
    return out


def _markdown(rows: list[list[str]], goals: list[str], n: int) -> str:
    head = "| run | landed (s) | records/s | landed + typed (s) | records/s | peak MB | notes |\n"
    head += "| --- | ---: | ---: | ---: | ---: | ---: | --- |\n"
    body = "".join("| " + " | ".join(r) + " |\n" for r in rows)
    return f"{n:,} HubSpot contacts, sandbox -> DuckDB\n\n{head}{body}\n" + "".join(f"- {g}\n" for g in goals)


if __name__ == "__main__":
    main()
