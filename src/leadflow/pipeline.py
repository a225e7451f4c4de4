"""The pipeline steps as plain functions: extract (network -> landing files), load (files -> DuckDB), sync, state.

The CLI calls them today and Airflow tasks will tomorrow; each takes a `Settings` and plain values.
`extract` may run in parallel (one thread per source in `sync`) because it only reads committed cursors
through a short read-only connection and writes immutable landing files; `load` is the single DuckDB
writer (`landing.warehouse.connect_writer` serialises writers with a lock file). A crash anywhere is
repaired by running the same step again: see docs/landing.md.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leadflow.errors import ConfigError
from leadflow.landing.files import LandingStore
from leadflow.landing.loader import BatchHook, LoadReport, load_pending
from leadflow.landing.state import CommittedCursors, WarehouseState, read_state
from leadflow.landing.warehouse import connect_writer, writer_lock
from leadflow.settings import Settings
from leadflow.sources.base import CursorLookup, ExtractResult

SOURCES = ("hubspot", "calendly", "sheet")
LOAD_MEMORY_LIMIT = "384MB"
"""DuckDB's memory limit for the loader; staging spills to disk beyond it (see docs/landing.md)."""

SYNC_LOAD_THREADS = max(1, (os.cpu_count() or 2) - 1)
"""DuckDB threads of the loader while `sync` extracts: one core stays with the network thread (D26)."""

SourceProgress = Callable[[str, str, int], None]
"""(source, entity, records in this page) -> None."""


@dataclass
class SyncReport:
    extracted: list[ExtractResult] = field(default_factory=list)
    loaded: LoadReport = field(default_factory=LoadReport)
    errors: dict[str, Exception] = field(default_factory=dict)


def configured_sources(settings: Settings) -> list[str]:
    """The sources with credentials or a URL configured, in the usual order."""
    out = []
    if settings.hubspot.token:
        out.append("hubspot")
    if settings.calendly.token:
        out.append("calendly")
    if settings.sheet.url:
        out.append("sheet")
    return out


def _connector(source: str) -> Any:
    if source not in SOURCES:
        raise ConfigError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)}")
    return importlib.import_module(f"leadflow.sources.{source}")


def _committed_cursors(settings: Settings) -> CommittedCursors:
    """The committed cursors, read between writers: DuckDB refuses a reader while a build or a sync
    holds the file, so this queues on the writer lock like they do (up to `writer_wait_s`)."""
    with writer_lock(settings.warehouse, wait_s=settings.writer_wait_s):
        return CommittedCursors.read(settings.warehouse)


def extract(
    settings: Settings,
    source: str,
    since: datetime | None = None,
    *,
    entities: Sequence[str] | None = None,
    progress: SourceProgress | None = None,
    cursors: CursorLookup | None = None,
    session: Any = None,
    store: LandingStore | None = None,
) -> list[ExtractResult]:
    """Pull one source into landing batches (one per entity); nothing touches DuckDB but a cursor read.

    On failure every batch this call opened and did not complete is aborted (its cursor never moves).
    `store` lets `sync` share one store object, to hear about completed batches and to cancel.
    """
    connector = _connector(source)
    from leadflow.sources.http import make_session

    store = store if store is not None else LandingStore(settings.landing_dir)
    lookup = cursors if cursors is not None else _committed_cursors(settings)
    own_session = session is None
    sess = make_session() if own_session else session
    hook = (lambda entity, n: progress(source, entity, n)) if progress is not None else None
    try:
        results: list[ExtractResult] = connector.extract(
            getattr(settings, source),
            settings.http,
            session=sess,
            cursors=lookup,
            open_batch=store.open_batch,
            entities=list(entities) if entities else None,
            since=since,
            progress=hook,
        )
        store.drain()  # every completed batch is in batches/pending before extract returns
        return results
    except BaseException:
        store.abort_open()
        raise
    finally:
        if own_session:
            sess.close()


def load(
    settings: Settings,
    *,
    on_batch: BatchHook | None = None,
    memory_limit: str = LOAD_MEMORY_LIMIT,
    on_wait: Callable[[], None] | None = None,
) -> LoadReport:
    """Load every complete landing batch into the raw tables (one transaction per batch).

    Queues behind another writer for up to `writer_wait_s`; `on_wait` is called once if it has to."""
    store = LandingStore(settings.landing_dir)
    store.clean_tmp()
    with connect_writer(
        settings.warehouse, wait_s=settings.writer_wait_s, memory_limit=memory_limit, on_wait=on_wait
    ) as con:
        return load_pending(con, store, on_batch=on_batch)


def sync(
    settings: Settings,
    sources: Sequence[str] | None = None,
    *,
    since: datetime | None = None,
    progress: SourceProgress | None = None,
    on_batch: BatchHook | None = None,
    raise_errors: bool = True,
    entities: Mapping[str, Sequence[str]] | None = None,
    on_wait: Callable[[], None] | None = None,
) -> SyncReport:
    """Extract the sources in parallel threads while this thread loads every batch as soon as it completes.

    The writer connection is held for the whole sync (one writer); extraction never touches DuckDB.
    A long pass completes resumable batches as it goes (D25), so loading overlaps fetching (D26).
    A source that fails does not stop the others; whatever completed is loaded, then the first error
    is raised (unless `raise_errors` is false: then it is in `SyncReport.errors`). A failing load
    stops the extractors at their next page and is raised. `entities` limits what a source pulls.
    Behind another writer (a build, a sync) it waits up to `writer_wait_s`, calling `on_wait` once.
    """
    chosen = list(sources) if sources else configured_sources(settings)
    if not chosen:
        raise ConfigError(
            "no source configured: set LEADFLOW_HUBSPOT_TOKEN, LEADFLOW_CALENDLY_TOKEN or LEADFLOW_SHEET_URL "
            "(or the same keys in leadflow.toml)"
        )
    for s in chosen:
        _connector(s)
    store = LandingStore(settings.landing_dir)
    store.clean_tmp()
    report = SyncReport()
    # The writer first: a sync started during a build or another sync queues here (up to
    # writer_wait_s) and then reads the cursors that writer committed.
    with (
        connect_writer(
            settings.warehouse,
            wait_s=settings.writer_wait_s,
            memory_limit=LOAD_MEMORY_LIMIT,
            threads=SYNC_LOAD_THREADS,
            on_wait=on_wait,
        ) as con,
        ThreadPoolExecutor(max_workers=len(chosen), thread_name_prefix="extract") as pool,
    ):
        cursors = CommittedCursors.from_connection(con)
        futures = {
            s: pool.submit(
                extract,
                settings,
                s,
                since,
                entities=(entities or {}).get(s),
                progress=progress,
                cursors=cursors,
                store=store,
            )
            for s in chosen
        }
        for fut in futures.values():
            fut.add_done_callback(lambda _: store.notify())
        try:
            _load_while_extracting(con, store, list(futures.values()), report.loaded, on_batch)
        except BaseException:
            store.cancel("the loader failed")
            raise
    for s, fut in futures.items():
        try:
            report.extracted.extend(fut.result())
        except Exception as exc:  # any failure stays with its source; the others still load
            report.errors[s] = exc
    if report.errors and raise_errors:
        raise next(iter(report.errors.values()))
    return report


def _load_while_extracting(
    con: Any, store: LandingStore, producers: list[Future[Any]], into: LoadReport, on_batch: BatchHook | None
) -> None:
    """Load pending batches until every producer is done and nothing is pending.

    The loader leaves a core to the network while extraction runs; the backlog left when the last
    producer finishes is loaded with every core (D36).
    """
    widened = False
    while True:
        seen = store.events  # before looking: an event from here on ends the wait below at once
        running = any(not f.done() for f in producers)
        if not running and not widened:
            con.execute(f"SET threads = {os.cpu_count() or 1}")
            widened = True
        into.batches.extend(load_pending(con, store, on_batch=on_batch).batches)
        if not running:
            return
        store.wait_for_event(seen, timeout=5.0)


def state(settings: Settings) -> WarehouseState:
    """Cursors, last loads, row counts per raw table, quarantine and pending batches (read-only)."""
    return read_state(settings.warehouse, settings.landing_dir)
