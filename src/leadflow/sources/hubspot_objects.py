"""HubSpot CRM objects (contacts, deals, meetings, calls, emails): backfill, incremental, archived pass.

Follows `shared/reference/free-tool-apis.md` §1.2-1.4 (HubSpot "Using Object APIs", "CRM search"):

- **Backfill** (no cursor, no `since`): `GET /crm/v3/objects/{type}?limit=100&properties=...&archived=false`,
  following `paging.next.after` until it is absent.
- **Incremental**: `POST /crm/v3/objects/{type}/search`, 200 per page, filter
  `{last-modified property} GTE start` where start = cursor - `search_lookback_s` (indexing lag), sorted
  by `hs_object_id` ASCENDING. The last-modified property is `lastmodifieddate` for contacts and
  `hs_lastmodifieddate` for the rest. A query can page through 10,000 results only; before the next page
  would cross that, the search restarts with `hs_object_id GTE last_id + 1` and `after` reset to 0, so
  any number of changes is read (each record once, since the id order does not move when a record
  changes mid-sync).
- **Archived pass** (every run): `GET ...?archived=true` (search never returns archived records); its
  pages are marked `is_deleted=True` and become tombstones. A contact merged into another is archived
  too, and the survivor's `hs_merged_object_ids` records the merge.

Cursor (one per object type)::

    {"v": 1, "last_modified_ms": int | None, "max_seen_ms": int | None, "archived_max_ms": int | None,
     "resume": {...}}   # only while a long pass is under way, see below

`max_seen_ms` is the largest last-modified value on any page of this run. Before reading, the run asks
search for the current largest last-modified value (`probe_ms`: one search, sorted descending, limit
1). `last_modified_ms` = min(max_seen_ms, probe_ms), never below the previous cursor: a record changed
while the run was paging past its id has a last-modified time after the probe, so the next run, which
starts at last_modified_ms - lookback, reads it. No wall clock is involved; all times are the source's.

Long passes complete a batch every `HubSpotSettings.batch_records` records (decision D25). Such a batch's
cursor keeps `last_modified_ms` where it was and adds `resume`: `{"mode": "list", "after": token}` or
`{"mode": "search", "start_ms", "min_id"}`, with the pass's `probe_ms` and `max_seen_ms` so far. The
next run continues from there (a list token the server refuses restarts the backfill) and the pass's
last batch sets `last_modified_ms` from the probe taken when the pass began.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from leadflow.errors import RequestRejected
from leadflow.landing.sink import BatchChain, Page, PageSink
from leadflow.sources.base import ExtractResult, ProgressHook
from leadflow.sources.http import Fetched, SourceClient

SOURCE = "hubspot"
OBJECTS = ("contacts", "deals", "meetings", "calls", "emails")
LAST_MODIFIED = {"contacts": "lastmodifieddate"} | {o: "hs_lastmodifieddate" for o in OBJECTS[1:]}
LIST_LIMIT = 100
SEARCH_LIMIT = 200
SEARCH_GATES = ("burst", "search", "search_pace")
GATES = ("burst",)

_ASK = ("ask_type", "ask_alternative", "ask_outcome", "ask_outcome_at")
_COMMON = ("hs_object_id", "hubspot_owner_id")
PROPERTIES: dict[str, tuple[str, ...]] = {
    "contacts": (
        *_COMMON,
        "createdate",
        "lastmodifieddate",
        "email",
        "firstname",
        "lastname",
        "phone",
        "company",
        "lifecyclestage",
        "lead_channel",
        "lead_source",
        "hs_merged_object_ids",
    ),
    "deals": (
        *_COMMON,
        "createdate",
        "hs_lastmodifieddate",
        "dealname",
        "amount",
        "closedate",
        "pipeline",
        "dealstage",
    ),
    "meetings": (
        *_COMMON,
        "hs_createdate",
        "hs_lastmodifieddate",
        "hs_timestamp",
        "hs_meeting_title",
        "hs_meeting_start_time",
        "hs_meeting_end_time",
        "hs_meeting_outcome",
        "hs_activity_type",
    ),
    "calls": (
        *_COMMON,
        "hs_createdate",
        "hs_lastmodifieddate",
        "hs_timestamp",
        "hs_call_title",
        "hs_call_direction",
        "hs_call_disposition",
        "hs_call_status",
        "hs_call_duration",
        *_ASK,
    ),
    "emails": (
        *_COMMON,
        "hs_createdate",
        "hs_lastmodifieddate",
        "hs_timestamp",
        "hs_email_subject",
        "hs_email_direction",
        "hs_email_status",
        *_ASK,
    ),
}
"""The properties leadflow asks for (see docs/data-contract.md §1); unset ones are simply omitted."""

SCOPE_HINTS = {
    "contacts": "grant the private app the scope crm.objects.contacts.read",
    "deals": "grant the private app the scope crm.objects.deals.read",
}

PageHook = Callable[[str, Fetched], None]
"""(object type, a fetched page of live records) -> None; the associations pass hooks in here."""

ChunkHook = Callable[[str], None]
"""(object type) -> None; runs before a resumable batch of that type completes."""


def scope_hint(obj: str) -> str:
    return SCOPE_HINTS.get(
        obj,
        f"grant the private app the read scope HubSpot's {obj} API requires (the app's Scopes tab lists it)",
    )


def to_ms(value: Any) -> int | None:
    """Epoch ms from a HubSpot date value: epoch-ms digits or ISO-8601 (`...Z`)."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int((dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp() * 1000)


def max_ms(values: Iterable[Any]) -> int | None:
    """The latest of many HubSpot date values, converting only a few of them.

    Values of one shape (epoch-ms digits of one length, or ISO-8601 of one length and one zone
    suffix) order as strings, so only the largest string of each shape is parsed.
    """
    texts = [str(v) for v in values if v is not None and v != ""]
    if texts and len(set(map(len, texts))) == 1 and all(map(str.isdigit, texts)):
        return int(max(texts))  # the usual page: epoch-ms digits of one length
    best: dict[tuple[int, str], str] = {}
    for text in texts:
        key = (len(text), "digits" if text.isdigit() else "Z" if text.endswith("Z") else text[-6:])
        if text > best.get(key, ""):
            best[key] = text
    parsed = [to_ms(text) for text in best.values()]
    if None in parsed:  # an unparseable value of some shape: fall back to parsing every value
        parsed = [to_ms(text) for text in texts]
    return max((ms for ms in parsed if ms is not None), default=None)


@dataclass
class _Run:
    obj: str
    sink: PageSink
    result: ExtractResult
    progress: ProgressHook | None
    max_seen_ms: int | None = None
    archived_max_ms: int | None = None
    chunk_records: int = 0

    def write(self, fetched: Fetched, *, deleted: bool = False) -> list[dict[str, Any]]:
        records = fetched.data.get("results") or []
        self.sink.write_page(
            Page(
                SOURCE,
                self.obj,
                fetched.body,
                "results",
                fetched.fetched_at_ms,
                is_deleted=deleted,
                request=fetched.request,
                parsed=fetched.data,
            )
        )
        self.result.pages += 1
        self.result.records += len(records)
        self.chunk_records += len(records)
        prop = LAST_MODIFIED[self.obj]
        if deleted:
            self.archived_max_ms = _max(self.archived_max_ms, max_ms(r.get("archivedAt") for r in records))
        else:
            seen = ((r.get("properties") or {}).get(prop) or r.get("updatedAt") for r in records)
            self.max_seen_ms = _max(self.max_seen_ms, max_ms(seen))
        if self.progress is not None:
            self.progress(self.obj, len(records))
        return records


def _max(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


def _min(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def probe_last_modified(client: SourceClient, obj: str) -> int | None:
    """The largest last-modified value search knows right now (one search, sorted descending)."""
    prop = LAST_MODIFIED[obj]
    body = {
        "filterGroups": [],
        "sorts": [{"propertyName": prop, "direction": "DESCENDING"}],
        "properties": [prop],
        "limit": 1,
    }
    got = client.post(f"/crm/v3/objects/{obj}/search", body, gates=SEARCH_GATES, scope_hint=scope_hint(obj))
    results = got.data.get("results") or []
    if not results:
        return None
    return to_ms((results[0].get("properties") or {}).get(prop)) or to_ms(results[0].get("updatedAt"))


def next_after(got: Fetched) -> str | None:
    """The `paging.next.after` token of a list page (None on the last page)."""
    token = ((got.data.get("paging") or {}).get("next") or {}).get("after")
    return str(token) if token and got.data.get("results") else None


def list_pages(
    client: SourceClient, path: str, params: dict[str, Any], hint: str, after: str | None = None
) -> Any:
    """Yield each page of a v3 list endpoint, following `paging.next.after` (from `after` when given)."""
    while True:
        page_params = dict(params, after=after) if after else params
        got = client.get(path, page_params, gates=GATES, scope_hint=hint)
        yield got
        after = next_after(got)
        if after is None:
            return


def search_pages(client: SourceClient, obj: str, start_ms: int, min_id: int | None = None) -> Any:
    """Yield (page, pages so far, next min id or None) for records modified at or after `start_ms`.

    Every page is its own search: `hs_object_id GTE <last id + 1>`, ascending by id, no `after`
    offset. Offsets shift when a record of an earlier page is archived or merged mid-run (search
    never returns archived records), which would silently skip the record at the next offset; id
    keys do not shift, and the 10,000-result cap on one query's offsets never comes into play.
    `min_id` resumes a search that an earlier run completed batches of.
    """
    prop = LAST_MODIFIED[obj]
    pages = 0
    while True:
        filters: list[dict[str, Any]] = [{"propertyName": prop, "operator": "GTE", "value": str(start_ms)}]
        if min_id is not None:
            filters.append({"propertyName": "hs_object_id", "operator": "GTE", "value": str(min_id)})
        body: dict[str, Any] = {
            "filterGroups": [{"filters": filters}],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "properties": list(PROPERTIES[obj]),
            "limit": SEARCH_LIMIT,
        }
        got = client.post(
            f"/crm/v3/objects/{obj}/search", body, gates=SEARCH_GATES, scope_hint=scope_hint(obj)
        )
        pages += 1
        results = got.data.get("results") or []
        more = ((got.data.get("paging") or {}).get("next") or {}).get("after")
        if not results or not more:
            yield got, pages, None
            return
        ids = [int(r["id"]) for r in results if str(r.get("id", "")).isdigit()]
        if not ids:
            raise RequestRejected(
                f"hubspot {obj} search: a page of {len(results)} results carried no numeric ids",
                source=SOURCE,
            )
        min_id = max(ids) + 1
        yield got, pages, min_id


def _resumed_list_pages(
    client: SourceClient, obj: str, params: dict[str, Any], after: str | None, notes: list[str]
) -> Any:
    """`list_pages`, from a stored `after` when given; a token the server refuses (400) restarts the list."""
    path, hint = f"/crm/v3/objects/{obj}", scope_hint(obj)
    if after:
        try:
            first = client.get(path, dict(params, after=after), gates=GATES, scope_hint=hint)
        except RequestRejected as exc:
            if exc.status != 400:
                raise
            notes.append("the stored resume point was refused (400): backfill restarted from the start")
        else:
            yield first
            after = next_after(first)
            if after is not None:
                yield from list_pages(client, path, params, hint, after)
            return
    yield from list_pages(client, path, params, hint)


def sync_object(
    client: SourceClient,
    obj: str,
    sink: PageSink,
    *,
    cursor: dict[str, Any] | None,
    since_ms: int | None,
    lookback_s: int,
    on_live_page: PageHook | None = None,
    progress: ProgressHook | None = None,
    complete: bool = True,
    chunk_records: int = 0,
    on_chunk: ChunkHook | None = None,
) -> ExtractResult:
    """Pull one object type into `sink` (live pages, then the archived pass) and complete it.

    With `complete=False` the caller completes the sink with `result.cursor` later (after the
    associations read from these pages have landed, so a cursor never passes unread associations).

    When `sink` is a `BatchChain` and `chunk_records` > 0, the live pass completes a batch every
    `chunk_records` records with a cursor holding a resume point (`resume`: the list's next `after`
    token, or the search's next `hs_object_id`, plus the probe time of the pass's start), so the
    loader can load it while the pass goes on and a crashed pass resumes where its last batch ended.
    `on_chunk(obj)` runs before each such batch completes (the associations pass flushes there).
    """
    result = ExtractResult(SOURCE, obj)
    run = _Run(obj, sink, result, progress)
    previous_cursor = cursor or {}
    raw_previous = previous_cursor.get("last_modified_ms")
    previous = int(raw_previous) if raw_previous is not None else None
    resume: dict[str, Any] = dict(previous_cursor.get("resume") or {})
    if resume:
        probe_ms = resume.get("probe_ms")  # the pass's own start: changes since then are read next run
        run.max_seen_ms = resume.get("max_seen_ms")
    else:
        probe_ms = probe_last_modified(client, obj)

    def cut(point: dict[str, Any] | None) -> None:
        """Complete a resumable batch once the open one holds `chunk_records` records."""
        if point is None or not chunk_records or run.chunk_records < chunk_records:
            return
        if not isinstance(sink, BatchChain):
            return
        if on_chunk is not None:
            on_chunk(obj)
        state = {**point, "probe_ms": probe_ms, "max_seen_ms": run.max_seen_ms}
        sink.rotate(_cursor(previous_cursor, run, last_modified_ms=previous, resume=state))
        run.chunk_records = 0
        result.batches += 1

    def live(got: Fetched) -> None:
        run.write(got)
        if on_live_page is not None:
            on_live_page(obj, got)

    start: int | None = None  # a search from here; None: the list backfill (from `list_after`)
    min_id: int | None = None
    list_after: str | None = None
    if resume.get("mode") == "list":
        list_after = resume.get("after")
        result.notes.append(f"backfill resumed after {list_after!r}")
    elif resume.get("mode") == "search":
        start, min_id = int(resume["start_ms"]), resume.get("min_id")
        if since_ms is not None and since_ms < start:
            start, min_id = since_ms, None  # a wider window than the interrupted search: start over
    else:
        lookback_start = previous - lookback_s * 1000 if previous is not None else None
        # `since` widens the window, never narrows it: starting later than the cursor would let the new
        # cursor pass changes that were never read.
        start = (
            since_ms
            if lookback_start is None
            else min(x for x in (since_ms, lookback_start) if x is not None)
        )
    if start is not None:
        result.mode = "incremental"
        windows = 0
        for got, window, next_id in search_pages(client, obj, max(0, start), min_id):
            windows = window
            live(got)
            cut({"mode": "search", "start_ms": start, "min_id": next_id} if next_id else None)
        result.notes.append(f"search from {start} ms in {windows} page(s) keyed by hs_object_id")
    else:
        result.mode = "full"
        params = {"limit": LIST_LIMIT, "properties": ",".join(PROPERTIES[obj]), "archived": "false"}
        for got in _resumed_list_pages(client, obj, params, list_after, result.notes):
            live(got)
            after = next_after(got)
            cut({"mode": "list", "after": after} if after else None)
    live_records = result.records
    params = {"limit": LIST_LIMIT, "properties": ",".join(PROPERTIES[obj]), "archived": "true"}
    for got in list_pages(client, f"/crm/v3/objects/{obj}", params, scope_hint(obj)):
        run.write(got, deleted=True)
    result.notes.append(f"archived: {result.records - live_records}")
    new_ms = _min(run.max_seen_ms, probe_ms) if run.max_seen_ms is not None else None
    if previous is not None:
        new_ms = _max(previous, new_ms)
    result.cursor = _cursor(previous_cursor, run, last_modified_ms=new_ms)
    if complete:
        sink.complete(result.cursor)
    return result


def _cursor(
    previous_cursor: dict[str, Any],
    run: _Run,
    *,
    last_modified_ms: int | None,
    resume: dict[str, Any] | None = None,
) -> dict[str, Any]:
    cursor: dict[str, Any] = {
        "v": 1,
        "last_modified_ms": last_modified_ms,
        "max_seen_ms": _max(run.max_seen_ms, previous_cursor.get("max_seen_ms")),
        "archived_max_ms": _max(run.archived_max_ms, previous_cursor.get("archived_max_ms")),
    }
    if resume is not None:
        cursor["resume"] = resume
    return cursor
