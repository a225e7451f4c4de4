"""Write a generated world to a directory: `truth.json` plus the data as JSON Lines and CSV.

Layout (documented in `docs/sandbox.md (part 1)`, "Generated directory"):

    truth.json                       the truth document (sorted keys, 2-space indent)
    journeys.jsonl                   one ground-truth journey per lead
    hubspot/{contacts,deals,meetings,calls,emails}.jsonl   one record per line, every version
    hubspot/{owners,teams,pipelines}.jsonl
    calendly/{users,event_types,scheduled_events,invitees}.jsonl
    sheet/leads.csv                  the sheet as published (header + rows in order of appearance)
    sheet/rows.jsonl                 the same rows with `added_ms` and the planted `defect`

Every file is deterministic for a given world: JSON with sorted keys, records in id/creation order.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson

from leadflow.sandbox.world import HUBSPOT_OBJECTS, Record, World

_OPTS = orjson.OPT_SORT_KEYS
FILE_COUNT = 16  # files `write_world` writes (for progress bars)


def truth_bytes(world: World) -> bytes:
    """The truth document exactly as `truth.json` holds it."""
    return orjson.dumps(world.truth, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


def record_dict(rec: Record) -> dict[str, Any]:
    """A record with its whole history as plain JSON values."""
    return {
        "kind": rec.kind,
        "id": rec.id,
        "created_ms": rec.created_ms,
        "archived_ms": rec.archived_ms,
        "merged_into": rec.merged_into,
        "associations": rec.associations,
        "static": rec.static,
        "versions": [{"at_ms": v.at_ms, "properties": v.properties} for v in rec.versions],
    }


def _write_jsonl(path: Path, rows: Iterable[Any]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("wb") as fh:
        for row in rows:
            fh.write(orjson.dumps(row, option=_OPTS))
            fh.write(b"\n")
            n += 1
    return n


def write_world(
    world: World, out: str | Path, *, step: Callable[[str], None] | None = None
) -> dict[str, int]:
    """Write every file of the layout above; returns rows written per file (relative path -> count)."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}

    def emit(rel: str, rows: Iterable[Any]) -> None:
        if step is not None:
            step(rel)
        written[rel] = _write_jsonl(root / rel, rows)

    for otype in HUBSPOT_OBJECTS:
        emit(f"hubspot/{otype}.jsonl", (record_dict(r) for r in world.hubspot[otype]))
    emit("hubspot/owners.jsonl", (asdict(o) for o in world.owners))
    emit("hubspot/teams.jsonl", (asdict(t) for t in world.teams))
    emit("hubspot/pipelines.jsonl", world.pipelines)
    emit(
        "calendly/users.jsonl",
        (
            {
                "uuid": o.calendly_uuid,
                "name": f"{o.first_name} {o.last_name}",
                "email": o.email,
                "created_ms": o.created_ms,
                "organization_uuid": world.organization_uuid,
                "hubspot_owner_id": o.id,
            }
            for o in world.owners
        ),
    )
    emit("calendly/event_types.jsonl", (asdict(e) for e in world.event_types))
    emit("calendly/scheduled_events.jsonl", (record_dict(r) for r in world.events))
    emit("calendly/invitees.jsonl", (record_dict(r) for r in world.invitees))
    emit(
        "sheet/rows.jsonl",
        ({"added_ms": r.added_ms, "values": r.values, "defect": r.defect} for r in world.sheet_rows),
    )
    emit("journeys.jsonl", (asdict(j) for j in world.journeys))
    if step is not None:
        step("sheet/leads.csv")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(world.sheet_columns)
    for row in world.sheet_rows:
        writer.writerow([row.values.get(c, "") for c in world.sheet_columns])
    (root / "sheet").mkdir(parents=True, exist_ok=True)
    (root / "sheet" / "leads.csv").write_text(buf.getvalue(), encoding="utf-8")
    written["sheet/leads.csv"] = len(world.sheet_rows)
    if step is not None:
        step("truth.json")
    (root / "truth.json").write_bytes(truth_bytes(world))
    written["truth.json"] = 1
    return written
