"""The hand-off between connectors (network) and landing (disk, then DuckDB).

Connectors only know `PageSink`: they pass every fetched page, untouched, and close the batch
with the cursor it advances to. Landing decides where bytes go. Tests can pass a list-backed sink.
"""

from __future__ import annotations

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


class PageSink(Protocol):
    """Where a connector run writes its pages; one sink per (source, entity) batch."""

    def write_page(self, page: Page) -> None:
        """Persist one page (durably, before returning)."""

    def complete(self, cursor: dict[str, Any] | None) -> None:
        """Close the batch; `cursor` is the watermark the batch advances to once loaded."""
