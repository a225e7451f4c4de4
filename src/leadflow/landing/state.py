"""What the warehouse has committed: cursors for connectors, and the overview `leadflow state` prints.

`CommittedCursors` implements `leadflow.sources.base.CursorLookup`. It reads `raw._cursors` once and
answers from that snapshot: `leadflow extract` reads through a short read-only connection (taken under
the writer lock, so not in the middle of another writer's work) and holds none while its connectors
run; a sync reads through the writer connection it holds anyway. Cursors of
batches landed but not yet loaded are deliberately invisible (the next extract fetches that window
again; the loader's anti-join drops what it already has).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from leadflow.landing.files import LandingStore
from leadflow.landing.schema import SCHEMA, raw_tables
from leadflow.landing.warehouse import connect_reader, has_table


class CommittedCursors:
    """A snapshot of the committed cursors of the warehouse (a `CursorLookup`)."""

    def __init__(self, cursors: dict[tuple[str, str], dict[str, Any] | None]) -> None:
        self._cursors = dict(cursors)

    @classmethod
    def read(cls, warehouse: Path) -> CommittedCursors:
        """Read every committed cursor (none when the warehouse does not exist yet)."""
        with connect_reader(warehouse) as con:
            return cls({}) if con is None else cls.from_connection(con)

    @classmethod
    def from_connection(cls, con: Any) -> CommittedCursors:
        """Read every committed cursor through an open connection (the writer's, during a sync)."""
        if not has_table(con, SCHEMA, "_cursors"):
            return cls({})
        rows = con.execute(f"SELECT source, entity, cursor FROM {SCHEMA}._cursors").fetchall()
        return cls({(s, e): (orjson.loads(c) if c is not None else None) for s, e, c in rows})

    def get(self, source: str, entity: str) -> dict[str, Any] | None:
        return self._cursors.get((source, entity))

    def items(self) -> list[tuple[tuple[str, str], dict[str, Any] | None]]:
        return sorted(self._cursors.items())


@dataclass
class WarehouseState:
    """Cursors, recent loads and row counts, for `leadflow state`."""

    warehouse: Path
    exists: bool
    cursors: list[dict[str, Any]] = field(default_factory=list)
    last_loads: list[dict[str, Any]] = field(default_factory=list)
    tables: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    drift: int = 0
    pending_batches: list[str] = field(default_factory=list)


def _dicts(con: Any, sql: str) -> list[dict[str, Any]]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def read_state(warehouse: Path, landing_dir: Path) -> WarehouseState:
    """Everything `leadflow state` shows, read through a read-only connection."""
    state = WarehouseState(warehouse=warehouse, exists=warehouse.exists())
    if landing_dir.exists():
        state.pending_batches = [m.batch_id for m in LandingStore(landing_dir).pending()]
    with connect_reader(warehouse) as con:
        if con is None or not has_table(con, SCHEMA, "_cursors"):
            return state
        state.cursors = _dicts(
            con,
            f"SELECT source, entity, cursor::VARCHAR AS cursor, batch_id, updated_at FROM {SCHEMA}._cursors ORDER BY 1, 2",
        )
        state.last_loads = _dicts(
            con,
            f"""SELECT source, entity, arg_max(batch_id, loaded_at) AS batch_id, max(loaded_at) AS loaded_at,
                       count(*) AS batches, sum(rows_inserted) AS rows_inserted, sum(rows_quarantined) AS rows_quarantined
                FROM {SCHEMA}._ledger WHERE kind = 'manifest' GROUP BY 1, 2 ORDER BY 1, 2""",
        )
        for name in raw_tables(con):
            rows = con.execute(
                f"SELECT count(*), count(DISTINCT record_id), max(version_ts), max(_loaded_at) FROM {SCHEMA}.{name}"
            ).fetchall()[0]
            state.tables.append(
                {
                    "table": f"{SCHEMA}.{name}",
                    "rows": rows[0],
                    "records": rows[1],
                    "latest_version": rows[2],
                    "last_loaded": rows[3],
                }
            )
        state.quarantine = _dicts(
            con,
            f"SELECT source, entity, reason, count(*) AS rows FROM {SCHEMA}._quarantine GROUP BY ALL ORDER BY 1, 2, 3",
        )
        state.drift = int(con.execute(f"SELECT count(*) FROM {SCHEMA}._schema_drift").fetchall()[0][0])
    return state
