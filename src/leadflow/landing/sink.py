"""The hand-off between connectors (network) and landing (disk, then DuckDB).

Connectors only know `PageSink`: they pass every fetched page, untouched, and close the batch
with the cursor it advances to. Landing decides where bytes go. Tests can pass a list-backed sink.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Page:
    """One response body as received from a source.

    `records_path` names where the records sit in a JSON body (`results` for HubSpot, `collection`
    for Calendly, `resource` for a single Calendly resource, `` for a CSV body). `is_deleted` marks
    pages of an archived/tombstone pass. `meta` carries what the loader needs to key records that do
    not carry their own id (for associations: `from_type`, `to_type`). `request` describes the call
    for lineage, never with a token in it.
    """

    source: str
    entity: str
    body: bytes
    records_path: str
    fetched_at_ms: int
    is_deleted: bool = False
    content_type: str = "application/json"
    request: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    parsed: Any = field(default=None, compare=False, repr=False)
    """The body as the connector parsed it, when it did: landing observes the records' shape from it
    (schema drift, D28) instead of the loader parsing every payload again."""


class PageSink(Protocol):
    """Where a connector run writes its pages; one sink per (source, entity) batch."""

    def write_page(self, page: Page) -> None:
        """Hand one page to landing (durable once its batch is complete)."""

    def complete(self, cursor: dict[str, Any] | None) -> None:
        """Close the batch; `cursor` is the watermark the batch advances to once loaded."""


class BatchChain:
    """The open batch of one (source, entity), and the means to complete it and open the next.

    A long pass (a backfill of a million contacts) completes a batch every so often with a cursor
    that says where to resume, so the loader can load it while the pass goes on and a crashed pass
    resumes instead of restarting. `BatchChain` is itself a `PageSink`: code that never rotates
    cannot tell it from a single batch. Not thread-safe across `rotate` (callers serialise it).
    """

    def __init__(self, open_batch: Callable[[], PageSink]) -> None:
        self._open = open_batch
        self.current = open_batch()

    def write_page(self, page: Page) -> None:
        self.current.write_page(page)

    def complete(self, cursor: dict[str, Any] | None) -> None:
        self.current.complete(cursor)

    def rotate(self, cursor: dict[str, Any] | None) -> None:
        """Complete the open batch with `cursor` (a resume point) and open the next one."""
        self.complete(cursor)
        self.current = self._open()
