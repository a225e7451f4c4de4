"""HubSpot associations the marts need: deals, meetings, calls and emails -> contacts (v4 batch read).

Follows `shared/reference/free-tool-apis.md` §1.5 (HubSpot "Associate records" v4):
`POST /crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read` with `{"inputs": [{"id": ...}]}`,
at most 1,000 inputs, no pagination. Each response body lands as one page of entity `associations` with
`Page.meta = {"from_type": ..., "to_type": "contacts"}` and records under `results`
(`{"from": {"id"}, "to": [{"toObjectId", "associationTypes"}]}`).

Ids come from the object pages fetched in the same run (the object threads hand them over; ids are
buffered and read 1,000 at a time). When `associations` is requested without its object types, the ids
come from a list pass of those types that asks only for `hs_object_id`.

Known limit: an association added without changing the object's last-modified time is only seen when
the object is read again (a backfill, or a later change of the object).

Cursor: `{"v": 1, "from_types": [...], "to_type": "contacts", "ids_read": int}` (informational: every
run reads the associations of the objects it fetched).
"""

from __future__ import annotations

import threading
from typing import Any

from leadflow.landing.sink import BatchChain, Page, PageSink
from leadflow.sources.base import ExtractResult, ProgressHook
from leadflow.sources.http import Fetched, SourceClient
from leadflow.sources.hubspot_objects import GATES, SOURCE, list_pages

FROM_TYPES = ("deals", "meetings", "calls", "emails")
TO_TYPE = "contacts"
BATCH_MAX = 1000
ENTITY = "associations"


class AssociationReader:
    """Collects object ids per type from any thread and writes batch-read pages to one sink."""

    def __init__(self, client: SourceClient, sink: PageSink, progress: ProgressHook | None = None) -> None:
        self.client = client
        self.sink = sink
        self.progress = progress
        self.result = ExtractResult(SOURCE, ENTITY, mode="full")
        self._lock = threading.Lock()
        self._pending: dict[str, dict[str, None]] = {}
        self._types: set[str] = set()
        self._ids = 0

    def on_page(self, obj: str, fetched: Fetched) -> None:
        """Hook for object pages: buffer their ids; read a batch once 1,000 are waiting."""
        if obj not in FROM_TYPES:
            return
        ids = [str(r["id"]) for r in fetched.data.get("results") or [] if "id" in r]
        with self._lock:
            pending = self._pending.setdefault(obj, {})
            pending.update(dict.fromkeys(ids))
            batch = list(pending)[:BATCH_MAX] if len(pending) >= BATCH_MAX else []
            for i in batch:
                del pending[i]
        if batch:
            self._read(obj, batch)

    def flush(self, obj: str) -> None:
        """Read whatever ids of `obj` are still waiting (call when the object's pass is done)."""
        with self._lock:
            batch = list(self._pending.pop(obj, {}))
        for start in range(0, len(batch), BATCH_MAX):
            self._read(obj, batch[start : start + BATCH_MAX])

    def read_all(self, obj: str) -> None:
        """List every live id of `obj` (only `hs_object_id`) and read their associations."""
        params = {"limit": 100, "properties": "hs_object_id", "archived": "false"}
        hint = f"grant the private app read access to {obj}"
        for got in list_pages(self.client, f"/crm/v3/objects/{obj}", params, hint):
            self.on_page(obj, got)
        self.flush(obj)

    def _read(self, obj: str, ids: list[str]) -> None:
        body: dict[str, Any] = {"inputs": [{"id": i} for i in ids]}
        got = self.client.post(
            f"/crm/v4/associations/{obj}/{TO_TYPE}/batch/read",
            body,
            gates=GATES,
            scope_hint=f"grant the private app read access to both {obj} and {TO_TYPE}",
        )
        records = got.data.get("results") or []
        page = Page(
            SOURCE,
            ENTITY,
            got.body,
            "results",
            got.fetched_at_ms,
            request=got.request,
            meta={"from_type": obj, "to_type": TO_TYPE},
            parsed=got.data,
        )
        with self._lock:
            self.sink.write_page(page)
            self.result.pages += 1
            self.result.records += len(records)
            self._types.add(obj)
            self._ids += len(ids)
        if self.progress is not None:
            self.progress(ENTITY, len(records))

    def checkpoint(self, obj: str) -> None:
        """Land every association of `obj` read so far: flush its ids, then complete the open batch.

        An object pass calls this before it completes a resumable batch of its own, so an object
        batch never commits ahead of its associations (D22). Needs a `BatchChain` sink.
        """
        self.flush(obj)
        with self._lock:
            if not isinstance(self.sink, BatchChain):
                raise TypeError("AssociationReader.checkpoint needs a BatchChain sink")
            self.sink.rotate(self._cursor())

    def complete(self) -> ExtractResult:
        """Close the batch with an informational cursor."""
        with self._lock:
            self.result.cursor = self._cursor()
            self.sink.complete(self.result.cursor)
        return self.result

    def _cursor(self) -> dict[str, Any]:
        return {"v": 1, "from_types": sorted(self._types), "to_type": TO_TYPE, "ids_read": self._ids}
