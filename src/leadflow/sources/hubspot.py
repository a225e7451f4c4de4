"""HubSpot connector: CRM objects, owners, deal pipelines and contact associations into page sinks.

Follows `shared/reference/free-tool-apis.md` §1 (HubSpot CRM v3 objects and search, v4 associations,
owners, pipelines, rate limits). Entities and what they read:

| entity | endpoint(s) | mode |
| --- | --- | --- |
| contacts, deals, meetings, calls, emails | list (backfill) / search (incremental) + `archived=true` list | see `hubspot_objects` |
| owners | `GET /crm/v3/owners` (+ `archived=true`) | full every run |
| pipelines | `GET /crm/v3/pipelines/deals` | full every run |
| associations | `POST /crm/v4/associations/{deals,meetings,calls,emails}/contacts/batch/read` | ids of the run's pages |

Entities run in parallel threads (each with its own sink, opened up front) behind one process-wide
limiter per (base URL, budget): 100 requests per rolling 10 s and 5 searches per second by default
(`HubSpotSettings.burst_per_10s`, `search_per_s`), adapting to `X-HubSpot-RateLimit-Remaining`.
The same code runs against the sandbox and api.hubapi.com: only `base_url`, `token` and the session differ.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from typing import Any

import requests

from leadflow.errors import ConfigError
from leadflow.landing.sink import BatchChain, Page, PageSink
from leadflow.settings import HttpSettings, HubSpotSettings
from leadflow.sources.base import BatchOpener, CursorLookup, ExtractResult, ProgressHook
from leadflow.sources.entities import check_entities, since_to_ms
from leadflow.sources.http import SourceClient, SourceHints, hubspot_budget
from leadflow.sources.hubspot_associations import FROM_TYPES, AssociationReader
from leadflow.sources.hubspot_objects import GATES, OBJECTS, SOURCE, list_pages, sync_object
from leadflow.sources.ratelimit import Limiter, hubspot_limiter, shared_limiter

ENTITIES = (*OBJECTS, "owners", "pipelines", "associations")
WORKERS = 3
HINTS = SourceHints(
    token_setting="LEADFLOW_HUBSPOT_TOKEN (or `token` under [hubspot] in leadflow.toml)",
    token_kind="HubSpot private-app access token",
    scope_advice="grant the private app the read scope of the object it asks for",
)


def make_client(
    settings: HubSpotSettings,
    http: HttpSettings,
    session: requests.Session | None,
    limiter: Limiter | None = None,
) -> SourceClient:
    """A `SourceClient` for HubSpot sharing the process-wide limiter of this base URL and budget."""
    if not settings.token:
        raise ConfigError(f"hubspot: no token configured; set {HINTS.token_setting}")
    if limiter is None:
        key = ("hubspot", settings.base_url, settings.burst_per_10s, settings.search_per_s)
        limiter = shared_limiter(key, lambda: hubspot_limiter(settings.burst_per_10s, settings.search_per_s))
    return SourceClient(
        SOURCE,
        settings.base_url,
        settings.token,
        http,
        session=session,
        limiter=limiter,
        budget=hubspot_budget,
        hints=HINTS,
    )


def _sync_simple(
    client: SourceClient, entity: str, sink: PageSink, progress: ProgressHook | None
) -> ExtractResult:
    """Owners (live + archived pass) or deal pipelines: read in full every run."""
    result = ExtractResult(SOURCE, entity, mode="full")
    if entity == "owners":
        passes = [({"limit": 100, "archived": "false"}, False), ({"limit": 100, "archived": "true"}, True)]
        path, hint = "/crm/v3/owners", "grant the private app the scope crm.objects.owners.read"
    else:
        passes = [({}, False)]
        path, hint = "/crm/v3/pipelines/deals", "grant the private app the scope crm.objects.deals.read"
    counts = [0, 0]
    for params, deleted in passes:
        pages = (
            list_pages(client, path, params, hint)
            if params
            else [client.get(path, gates=GATES, scope_hint=hint)]
        )
        for got in pages:
            records = got.data.get("results") or []
            sink.write_page(
                Page(
                    SOURCE,
                    entity,
                    got.body,
                    "results",
                    got.fetched_at_ms,
                    is_deleted=deleted,
                    request=got.request,
                    parsed=got.data,
                )
            )
            result.pages += 1
            result.records += len(records)
            counts[deleted] += len(records)
            if progress is not None:
                progress(entity, len(records))
    result.cursor = {"v": 1, "count": counts[0], "archived": counts[1]}
    sink.complete(result.cursor)
    return result


def extract(
    settings: HubSpotSettings,
    http: HttpSettings,
    *,
    session: requests.Session | None,
    cursors: CursorLookup,
    open_batch: BatchOpener,
    entities: Sequence[str] | None = None,
    since: datetime | None = None,
    progress: ProgressHook | None = None,
    limiter: Limiter | None = None,
) -> list[ExtractResult]:
    """Pull the requested HubSpot entities; one batch per entity, completed with its new cursor.

    `since` forces an incremental search from that time for the object types (no lookback applied).
    Entities whose pass failed leave their batch open (nothing of it loads) and the first error is
    raised after the other entities finished.
    """
    wanted = check_entities(entities, ENTITIES, SOURCE)

    def feeds_associations(obj: str) -> bool:
        return "associations" in wanted and obj in FROM_TYPES

    client = make_client(settings, http, session, limiter)
    since_ms = since_to_ms(since)
    # Opened here, on the caller's thread; object passes may complete resumable batches as they go.
    sinks: dict[str, PageSink] = {e: BatchChain(partial(open_batch, SOURCE, e)) for e in wanted}
    assoc = AssociationReader(client, sinks["associations"], progress) if "associations" in wanted else None

    def object_task(obj: str) -> Callable[[], ExtractResult | None]:
        def run() -> ExtractResult:
            result = sync_object(
                client,
                obj,
                sinks[obj],
                cursor=cursors.get(SOURCE, obj),
                since_ms=since_ms,
                lookback_s=settings.search_lookback_s,
                on_live_page=assoc.on_page if assoc else None,
                progress=progress,
                complete=not feeds_associations(obj),
                chunk_records=settings.batch_records,
                on_chunk=assoc.checkpoint if assoc and feeds_associations(obj) else None,
            )
            if assoc is not None:
                assoc.flush(obj)
            return result

        return run

    tasks: list[tuple[str, Callable[[], ExtractResult | None]]] = []
    for entity in wanted:
        if entity in OBJECTS:
            tasks.append((entity, object_task(entity)))
        elif entity in ("owners", "pipelines"):
            tasks.append((entity, lambda e=entity: _sync_simple(client, e, sinks[e], progress)))  # type: ignore[misc]
    if assoc is not None:
        for obj in FROM_TYPES:
            if obj not in wanted:
                tasks.append((f"associations:{obj}", lambda o=obj: assoc.read_all(o)))  # type: ignore[misc]
    results, error = _run_parallel(tasks)
    # Objects whose pages feed the associations batch complete only after it: a crash or failure in
    # between leaves their cursors where they were, so their associations are read again next run.
    if assoc is not None and error is None:
        results["associations"] = assoc.complete()
    if error is None:
        for obj in wanted:
            if feeds_associations(obj) and obj in results:
                sinks[obj].complete(results[obj].cursor)
    if error is not None:
        raise error
    return [results[e] for e in wanted if e in results]


def _run_parallel(
    tasks: list[tuple[str, Callable[[], Any]]],
) -> tuple[dict[str, ExtractResult], BaseException | None]:
    """Run tasks on a small pool; every task runs to its end; the first error is returned."""
    results: dict[str, ExtractResult] = {}
    first_error: BaseException | None = None
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="hubspot") as pool:
        futures = [(name, pool.submit(fn)) for name, fn in tasks]
        for name, future in futures:  # collected on this thread only
            try:
                value = future.result()
            except BaseException as exc:  # re-raised by the caller
                first_error = first_error or exc
                continue
            if isinstance(value, ExtractResult):
                results[name] = value
    return results, first_error
