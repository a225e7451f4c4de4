"""`leadflow extract|load|sync|state`: the landing pipeline from the command line, with rich progress.

Each command reads `Settings` (leadflow.toml, then `LEADFLOW_*` variables; `--config` names another
file) and calls the plain function of the same name in `leadflow.pipeline`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from leadflow import pipeline
from leadflow.cli.consoles import table_console
from leadflow.landing.files import LandingStore, Manifest
from leadflow.landing.loader import BatchHook, BatchResult, LoadReport
from leadflow.settings import Settings, load_settings
from leadflow.sources.base import ExtractResult

console = Console(stderr=True)
out = table_console()

_config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="leadflow.toml to read (default: ./leadflow.toml or $LEADFLOW_CONFIG).",
)


def _settings(config_path: Path | None) -> Settings:
    return load_settings(config_path)


def _waiting_for_writer(settings: Settings) -> Callable[[], None]:
    """Tell the user once that another process holds the warehouse and for how long we wait."""
    return lambda: console.print(
        f"[yellow]waiting for another writer of {settings.warehouse} (up to {settings.writer_wait_s:g} s)"
    )


def _parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(
            f"{value!r} is not an ISO-8601 date or time (e.g. 2024-05-01T00:00:00Z)"
        ) from exc
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@contextmanager
def _extract_progress() -> Iterator[pipeline.SourceProgress]:
    """A rich progress display with one counting row per (source, entity)."""
    lock = threading.Lock()
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TextColumn("{task.completed:>10,.0f} records"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        tasks: dict[tuple[str, str], object] = {}

        def hook(source: str, entity: str, n: int) -> None:
            with lock:
                key = (source, entity)
                if key not in tasks:
                    tasks[key] = progress.add_task(f"{source}/{entity}", total=None)
                progress.advance(tasks[key], n)  # type: ignore[arg-type]

        yield hook


@contextmanager
def _load_progress(settings: Settings) -> Iterator[BatchHook]:
    """A rich progress bar over the pending batches (recounted at the first batch: a load that
    waited for another writer may find fewer left)."""
    store = LandingStore(settings.landing_dir)
    total = len(store.pending())
    with Progress(
        TextColumn("[bold]load"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} batches"),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("", total=total)

        recounted = False

        def hook(manifest: Manifest, result: BatchResult) -> None:
            nonlocal recounted
            progress.update(task, advance=1, description=f"{manifest.source}/{manifest.entity}")
            if not recounted:  # this batch is loaded now; what is still pending is the rest
                recounted = True
                progress.update(task, total=1 + len(store.pending()))

        yield hook


def _print_extract(results: list[ExtractResult]) -> None:
    table = Table(title="extract")
    for col in ("source", "entity", "mode", "pages", "records", "notes"):
        table.add_column(col, justify="right" if col in {"pages", "records"} else "left")
    for r in results:
        table.add_row(r.source, r.entity, r.mode, f"{r.pages:,}", f"{r.records:,}", "; ".join(r.notes))
    out.print(table)


def _print_load(report: LoadReport) -> None:
    table = Table(title="load")
    for col in ("source", "entity", "records", "inserted", "duplicates", "quarantined", "drift", "cursor"):
        table.add_column(col, justify="left" if col in {"source", "entity", "cursor"} else "right")
    for b in report.batches:
        table.add_row(
            b.source,
            b.entity,
            f"{b.records:,}",
            f"{b.inserted:,}",
            f"{b.duplicates:,}",
            f"{b.quarantined:,}",
            str(len(b.drift)),
            "already loaded" if b.skipped else ("advanced" if b.cursor_advanced else "-"),
        )
    out.print(table)
    out.print(
        f"{len(report.batches)} batch(es), {report.inserted:,} row(s) inserted, {report.quarantined:,} quarantined"
    )


@click.command("extract")
@click.option(
    "--source", "source", type=click.Choice(pipeline.SOURCES), required=True, help="Which source to pull."
)
@click.option("--since", default=None, help="Re-read changes since this ISO-8601 time instead of the cursor.")
@click.option("--entity", "entities", multiple=True, help="Only these entities (repeatable); default all.")
@_config_option
def extract(source: str, since: str | None, entities: tuple[str, ...], config_path: Path | None) -> None:
    """Fetch a source's pages into landing files (no DuckDB writes; run `leadflow load` next)."""
    settings = _settings(config_path)
    with _extract_progress() as hook:
        results = pipeline.extract(
            settings, source, _parse_since(since), entities=entities or None, progress=hook
        )
    _print_extract(results)


@click.command("load")
@_config_option
def load(config_path: Path | None) -> None:
    """Load every complete landing batch into DuckDB's raw tables, exactly once."""
    settings = _settings(config_path)
    with _load_progress(settings) as hook:
        report = pipeline.load(settings, on_batch=hook, on_wait=_waiting_for_writer(settings))
    _print_load(report)


@click.command("sync")
@click.option(
    "--source",
    "sources",
    type=click.Choice(pipeline.SOURCES),
    multiple=True,
    help="Sources to sync (repeatable); default: every configured source.",
)
@click.option(
    "--since", default=None, help="Re-read changes since this ISO-8601 time instead of the cursors."
)
@_config_option
def sync(sources: tuple[str, ...], since: str | None, config_path: Path | None) -> None:
    """Extract the sources in parallel, then load what landed (extract + load)."""
    settings = _settings(config_path)
    with _extract_progress() as hook:
        report = pipeline.sync(
            settings,
            sources or None,
            since=_parse_since(since),
            progress=hook,
            raise_errors=False,
            on_wait=_waiting_for_writer(settings),
        )
    _print_extract(report.extracted)
    _print_load(report.loaded)
    if report.errors:
        raise next(iter(report.errors.values()))


@click.command("state")
@_config_option
def state(config_path: Path | None) -> None:
    """Show cursors, last loads, row counts per raw table, quarantine and pending batches."""
    settings = _settings(config_path)
    st = pipeline.state(settings)
    if not st.exists:
        out.print(f"no warehouse at {st.warehouse} yet: run `leadflow sync`")
    tables = Table(title=f"raw tables in {st.warehouse}")
    for col in ("table", "rows", "records", "latest version", "last loaded"):
        tables.add_column(col)
    for t in st.tables:
        tables.add_row(
            t["table"],
            f"{t['rows']:,}",
            f"{t['records']:,}",
            str(t["latest_version"] or "-"),
            str(t["last_loaded"] or "-"),
        )
    out.print(tables)
    cursors = Table(title="cursors")
    for col in ("source", "entity", "cursor", "batch", "updated"):
        cursors.add_column(col)
    for c in st.cursors:
        cursors.add_row(c["source"], c["entity"], c["cursor"], c["batch_id"], str(c["updated_at"]))
    out.print(cursors)
    loads = Table(title="loads")
    for col in ("source", "entity", "batches", "rows inserted", "quarantined", "last batch", "at"):
        loads.add_column(col)
    for x in st.last_loads:
        loads.add_row(
            x["source"],
            x["entity"],
            str(x["batches"]),
            f"{x['rows_inserted']:,}",
            f"{x['rows_quarantined']:,}",
            x["batch_id"],
            str(x["loaded_at"]),
        )
    out.print(loads)
    for q in st.quarantine:
        out.print(f"quarantine {q['source']}/{q['entity']}: {q['rows']:,} x {q['reason']}")
    out.print(f"schema drift events: {st.drift}; pending batches: {len(st.pending_batches)}")


commands = [extract, load, sync, state]
