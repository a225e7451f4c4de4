"""Write raw tables straight from a sandbox `World`, bypassing HTTP, connectors and landing.

For benchmarks and dbt development only: the ground-truth tests go through the real sync. Rows follow
`docs/data-contract.md` section 3 (one row per record version, tombstones for archived HubSpot
records, `record_hash` over the payload). HubSpot payloads are `SimplePublicObject`s with every
property of the version (`leadflow.sandbox.server.render.HubSpotRenderer.record_dict`), Calendly
events and invitees come from the sandbox's `CalendlyRenderer` at each version time, so payloads
match what the sandbox serves. Versions in `(since_ms, until_ms]` are written, which lets a
benchmark load a world up to a cutoff and later append the rest as a "small sync".
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from leadflow.landing.schema import ensure_schema
from leadflow.sandbox.server.render import iso_ms
from leadflow.sandbox.webhook_events import CalendlyRenderer, iso_us
from leadflow.sandbox.world import HUBSPOT_OBJECTS, Record, World

CALENDLY_API = "https://api.calendly.com"
ASSOC_TYPE_IDS = {"calls": 194, "emails": 198, "meetings": 200, "deals": 3}
_CHUNK = 200_000

Row = tuple[str, int, bool, bytes]  # record_id, version ms, is_deleted, payload


def _hubspot_rows(world: World, obj: str, since: int, until: int) -> Iterator[Row]:
    for rec in world.hubspot[obj]:
        for v in rec.versions:
            if since < v.at_ms <= until:
                props = {
                    k: (x if isinstance(x, str) else str(x))
                    for k, x in v.properties.items()
                    if x not in (None, "")
                }
                body = {
                    "id": rec.id,
                    "properties": props,
                    "createdAt": iso_ms(rec.created_ms),
                    "updatedAt": iso_ms(v.at_ms),
                    "archived": False,
                }
                yield rec.id, v.at_ms, False, orjson.dumps(body)
        if rec.archived_ms is not None and since < rec.archived_ms <= until:
            last = rec.version_at(rec.archived_ms) or rec.versions[-1]
            at = max(last.at_ms, rec.archived_ms)
            body = {
                "id": rec.id,
                "properties": {k: str(x) for k, x in last.properties.items() if x not in (None, "")},
                "createdAt": iso_ms(rec.created_ms),
                "updatedAt": iso_ms(at),
                "archived": True,
                "archivedAt": iso_ms(rec.archived_ms),
            }
            yield rec.id, at, True, orjson.dumps(body)


def _association_rows(world: World, since: int, until: int) -> Iterator[Row]:
    """One association record per (object, contacts), versioned at the object's creation."""
    for obj, type_id in ASSOC_TYPE_IDS.items():
        for rec in world.hubspot[obj]:
            ids = rec.associations.get("contacts", [])
            if not ids or not since < rec.created_ms <= until:
                continue
            to = [
                {
                    "toObjectId": int(i),
                    "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}],
                }
                for i in ids
            ]
            body = {"from_type": obj, "from_id": rec.id, "to_type": "contacts", "to": to}
            yield f"{obj}:{rec.id}:contacts", rec.created_ms, False, orjson.dumps(body)


def _static_rows(world: World, since: int, until: int) -> dict[str, list[Row]]:
    """Owners, pipelines, Calendly users and event types (written with the first batch only)."""
    out: dict[str, list[Row]] = {
        "hubspot__owners": [],
        "hubspot__pipelines": [],
        "calendly__users": [],
        "calendly__event_types": [],
    }
    if since >= world.start_ms:
        return out
    tz = {t.id: t.timezone for t in world.teams}
    for o in world.owners:
        owner = {
            "id": o.id,
            "email": o.email,
            "firstName": o.first_name,
            "lastName": o.last_name,
            "userId": o.user_id,
            "createdAt": iso_ms(o.created_ms),
            "updatedAt": iso_ms(o.created_ms),
            "archived": False,
            "teams": [{"id": o.team_id, "name": o.team_name, "primary": True}],
        }
        out["hubspot__owners"].append((o.id, o.created_ms, False, orjson.dumps(owner)))
        user = {
            "uri": f"{CALENDLY_API}/users/{o.calendly_uuid}",
            "name": f"{o.first_name} {o.last_name}",
            "email": o.email,
            "timezone": tz.get(o.team_id, "UTC"),
            "created_at": iso_us(o.created_ms),
            "updated_at": iso_us(o.created_ms),
        }
        out["calendly__users"].append((str(user["uri"]), o.created_ms, False, orjson.dumps(user)))
    for p in world.pipelines:
        out["hubspot__pipelines"].append((str(p["id"]), world.start_ms, False, orjson.dumps(p)))
    for et in world.event_types:
        body: dict[str, Any] = {
            "uri": f"{CALENDLY_API}/event_types/{et.uuid}",
            "name": et.name,
            "slug": et.slug,
            "duration": et.duration_min,
            "profile": {"type": "User", "owner": f"{CALENDLY_API}/users/{et.owner_uuid}"},
            "created_at": iso_us(et.created_ms),
            "updated_at": iso_us(et.updated_ms),
        }
        out["calendly__event_types"].append((str(body["uri"]), et.updated_ms, False, orjson.dumps(body)))
    return out


def _calendly_rows(
    renderer: CalendlyRenderer, records: list[Record], kind: str, since: int, until: int
) -> Iterator[Row]:
    render = renderer.render_scheduled_event if kind == "event" else renderer.render_invitee
    for rec in records:
        for v in rec.versions:
            if since < v.at_ms <= until:
                body = render(rec, v.at_ms)
                yield str(body["uri"]), v.at_ms, False, orjson.dumps(body)


def _sheet_rows(world: World, since: int, until: int) -> Iterator[Row]:
    for row in world.sheet_rows:
        email = row.values.get("email", "").strip().lower()
        if row.defect is None and email and since < row.added_ms <= until:
            yield email, until, False, orjson.dumps(row.values)


def _write(
    con: duckdb.DuckDBPyConnection, table: str, rows: Iterator[Row] | list[Row], batch: str, loaded_ms: int
) -> int:
    total = 0
    buf: list[Row] = []

    def flush() -> None:
        if not buf:
            return
        payloads = [r[3].decode() for r in buf]
        arrow = pa.table(
            {
                "record_id": [r[0] for r in buf],
                "version_ms": pa.array([r[1] for r in buf], pa.int64()),
                "is_deleted": [r[2] for r in buf],
                "payload": payloads,
                "record_hash": [hashlib.sha256(r[3]).hexdigest() for r in buf],
            }
        )
        con.register("_world_rows", arrow)
        con.execute(
            f"""INSERT INTO raw.{table}
            SELECT record_id, make_timestamptz(version_ms * 1000), is_deleted, payload::JSON, record_hash,
                   ?, 'world', make_timestamptz(? * 1000)
            FROM _world_rows""",
            [batch, loaded_ms],
        )
        con.unregister("_world_rows")
        buf.clear()

    for row in rows:
        buf.append(row)
        total += 1
        if len(buf) >= _CHUNK:
            flush()
    flush()
    return total


def write_raw_from_world(
    world: World,
    warehouse: Path,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    loaded_at_ms: int,
) -> dict[str, int]:
    """Append the world's versions in `(since_ms, until_ms]` to the raw tables; returns rows per table."""
    since = world.start_ms - 1 if since_ms is None else since_ms
    until = world.end_ms if until_ms is None else until_ms
    batch = f"world-{since}-{until}"
    counts: dict[str, int] = {}
    renderer = CalendlyRenderer(world, CALENDLY_API)
    con = duckdb.connect(str(warehouse))
    try:
        ensure_schema(con)
        for obj in HUBSPOT_OBJECTS:
            counts[f"hubspot__{obj}"] = _write(
                con, f"hubspot__{obj}", _hubspot_rows(world, obj, since, until), batch, loaded_at_ms
            )
        counts["hubspot__associations"] = _write(
            con, "hubspot__associations", _association_rows(world, since, until), batch, loaded_at_ms
        )
        for table, rows in _static_rows(world, since, until).items():
            counts[table] = _write(con, table, rows, batch, loaded_at_ms)
        counts["calendly__scheduled_events"] = _write(
            con,
            "calendly__scheduled_events",
            _calendly_rows(renderer, world.events, "event", since, until),
            batch,
            loaded_at_ms,
        )
        counts["calendly__invitees"] = _write(
            con,
            "calendly__invitees",
            _calendly_rows(renderer, world.invitees, "invitee", since, until),
            batch,
            loaded_at_ms,
        )
        counts["sheet__leads"] = _write(
            con, "sheet__leads", _sheet_rows(world, since, until), batch, loaded_at_ms
        )
    finally:
        con.close()
    return counts
