"""Lead sheet connector: the published CSV export of a Google Sheet, loaded only when it changed.

Follows `shared/reference/free-tool-apis.md` §3.4: a shared/published sheet exports without auth as
`https://docs.google.com/spreadsheets/d/{KEY}/export?format=csv&gid={GID}`; there is no paging, the whole
sheet comes in one response. `SheetSettings.url` is that URL (or the sandbox's).

One entity, `leads`: the body is validated as CSV (UTF-8, closed quotes, every row as wide as the
header; a malformed body is retried like a truncated one) and written as one page
(`content_type="text/csv"`, `records_path=""`). The run is skipped when the sheet did not change:
a `304` to `If-None-Match` with the last ETag, or the same SHA-256 as last time. Then the batch
completes with the old cursor and no page (mode `unchanged`).

Cursor: `{"v": 1, "sha256": hex, "etag": str | None, "rows": int, "bytes": int}`. `since` forces a load.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import parse_qsl, urlsplit

import requests

from leadflow.errors import ConfigError
from leadflow.landing.sink import Page
from leadflow.settings import HttpSettings, SheetSettings
from leadflow.sources.base import BatchOpener, CursorLookup, ExtractResult, ProgressHook
from leadflow.sources.entities import check_entities
from leadflow.sources.http import SourceClient, SourceHints

SOURCE = "sheet"
ENTITIES = ("leads",)
HINTS = SourceHints(
    token_setting="LEADFLOW_SHEET_URL (or `url` under [sheet] in leadflow.toml) to the sheet's published CSV link; "
    "the sheet needs no token",
    token_kind="link of a sheet published to the web",
    scope_advice="publish the sheet to the web (File > Share > Publish to web, CSV) or share it with anyone with the link",
)


def published_sheet_keys(url: str) -> tuple[str, ...]:
    """The parts of a published sheet's link that grant access: `/d/<key>/` and `key=` values."""
    parts = urlsplit(url)
    segments = parts.path.split("/")
    keys = [segments[i + 1] for i, seg in enumerate(segments[:-1]) if seg in {"d", "e"} and segments[i + 1]]
    keys += [v for k, v in parse_qsl(parts.query) if k == "key" and v]
    return tuple(keys)


def extract(
    settings: SheetSettings,
    http: HttpSettings,
    *,
    session: requests.Session | None,
    cursors: CursorLookup,
    open_batch: BatchOpener,
    entities: Sequence[str] | None = None,
    since: datetime | None = None,
    progress: ProgressHook | None = None,
) -> list[ExtractResult]:
    """Fetch the sheet once; land it unless it is unchanged since the last loaded batch."""
    if not check_entities(entities, ENTITIES, SOURCE):
        return []
    if not settings.url:
        raise ConfigError(
            "sheet: no URL configured; set LEADFLOW_SHEET_URL (or `url` under [sheet] in leadflow.toml)"
        )
    parts = urlsplit(settings.url)
    client = SourceClient(
        SOURCE,
        f"{parts.scheme}://{parts.netloc}",
        None,
        http,
        session=session,
        hints=HINTS,
        redact=published_sheet_keys(settings.url),
    )
    previous = cursors.get(SOURCE, "leads") or {}
    sink = open_batch(SOURCE, "leads")
    result = ExtractResult(SOURCE, "leads")
    headers = {"If-None-Match": previous["etag"]} if previous.get("etag") and since is None else {}
    got = client.get(settings.url, expect="csv", headers=headers)
    if got.status == 304:
        result.mode, result.cursor = "unchanged", previous
        result.notes.append("304 Not Modified")
        sink.complete(previous)
        return [result]
    digest = hashlib.sha256(got.body).hexdigest()
    if digest == previous.get("sha256") and since is None:
        result.mode, result.cursor = "unchanged", previous
        result.notes.append("same SHA-256 as the last loaded sheet")
        sink.complete(previous)
        return [result]
    rows = len(got.data) - 1
    sink.write_page(
        Page(SOURCE, "leads", got.body, "", got.fetched_at_ms, content_type="text/csv", request=got.request)
    )
    result.pages, result.records = 1, rows
    if progress is not None:
        progress("leads", rows)
    result.cursor = {
        "v": 1,
        "sha256": digest,
        "etag": got.headers.get("ETag"),
        "rows": rows,
        "bytes": len(got.body),
    }
    sink.complete(result.cursor)
    return [result]
