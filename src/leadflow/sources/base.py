"""What every connector shares: the cursor look-up it reads, the batch opener it writes to, its result.

A connector's `extract(...)` pulls pages for one source and hands each page to a `PageSink` opened per
entity with `open_batch(source, entity)`; it never touches DuckDB. It reads the last committed cursor
of each entity through `CursorLookup` and passes the cursor the batch advances to when it completes
the sink. The cursor becomes current only when landing loads the batch (same DuckDB transaction as the
rows), so a crash anywhere before that makes the next run fetch the same window again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from leadflow.landing.sink import PageSink


class CursorLookup(Protocol):
    def get(self, source: str, entity: str) -> dict[str, Any] | None:
        """The committed cursor of (source, entity), or None before the first load."""


BatchOpener = Callable[[str, str], PageSink]
"""(source, entity) -> a fresh PageSink for one batch of that entity."""

ProgressHook = Callable[[str, int], None]
"""(entity, records_in_this_page) -> None; called after each page is handed to the sink."""


@dataclass
class ExtractResult:
    """What one entity's extract did."""

    source: str
    entity: str
    pages: int = 0
    records: int = 0
    mode: str = "full"  # full | incremental | archived | unchanged
    cursor: dict[str, Any] | None = None
    batches: int = 0  # resumable batches completed before the last one (long passes, see hubspot_objects)
    notes: list[str] = field(default_factory=list)
