"""Payload rendering with pre-serialised JSON fragments (orjson), cached per record version.

HubSpot `SimplePublicObject`s follow `shared/reference/free-tool-apis.md` §1.2: every property value
a string, unset properties omitted, ISO-8601 timestamps with milliseconds and `Z`. A fragment is
cached per (object type, id, version, archived, property selection); a page is the cached fragments
joined with commas, so serving a page costs dictionary look-ups. Calendly resources (§2.2-2.3) are
rendered by `leadflow.sandbox.webhook_events.CalendlyRenderer` (so webhook payloads and API payloads
are identical) and cached per clock value.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from leadflow.sandbox.server.snapshot import HubSpotIndex
from leadflow.sandbox.webhook_events import CalendlyRenderer
from leadflow.sandbox.world import LAST_MODIFIED_PROPERTY, Record, World

DEFAULT_PROPERTIES: dict[str, tuple[str, ...]] = {
    "contacts": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    "deals": (
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
    "meetings": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
    "calls": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
    "emails": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
}
SINGULAR = {
    "contacts": "contact",
    "deals": "deal",
    "meetings": "meeting_event",
    "calls": "call",
    "emails": "email",
}
_FRAGMENT_CACHE_MAX = 400_000


def iso_ms(ms: int) -> str:
    """Epoch ms -> HubSpot's ISO-8601 with milliseconds and `Z`."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def select_properties(props: dict[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    """The requested properties that are set (None and "" count as unset), values as strings."""
    out: dict[str, str] = {}
    for name in names:
        value = props.get(name)
        if value is None or value == "":
            continue
        out[name] = value if isinstance(value, str) else str(value)
    return out


class HubSpotRenderer:
    """Renders HubSpot records as cached JSON fragments."""

    def __init__(self, index: HubSpotIndex) -> None:
        self.index = index
        self._fragments: dict[tuple[str, str, int, bool, tuple[str, ...]], bytes] = {}

    def record_dict(
        self, obj: str, rec: Record, vi: int, archived: bool, names: tuple[str, ...]
    ) -> dict[str, Any]:
        version = rec.versions[vi]
        updated = version.at_ms
        out: dict[str, Any] = {
            "id": rec.id,
            "properties": select_properties(version.properties, names),
            "createdAt": iso_ms(rec.created_ms),
            "updatedAt": iso_ms(updated),
            "archived": archived,
        }
        if archived and rec.archived_ms is not None:
            out["updatedAt"] = iso_ms(max(updated, rec.archived_ms))
            out["archivedAt"] = iso_ms(rec.archived_ms)
        return out

    def fragment(self, obj: str, rec: Record, vi: int, archived: bool, names: tuple[str, ...]) -> bytes:
        """The record's JSON bytes for this version and property selection (cached)."""
        key = (obj, rec.id, vi, archived, names)
        frag = self._fragments.get(key)
        if frag is None:
            if len(self._fragments) >= _FRAGMENT_CACHE_MAX:
                self._fragments.clear()
            frag = orjson.dumps(self.record_dict(obj, rec, vi, archived, names))
            self._fragments[key] = frag
        return frag

    def with_associations(
        self, obj: str, rec: Record, frag: bytes, to_types: tuple[str, ...], t_ms: int
    ) -> bytes:
        """Append the v3 `associations` block (only types with at least one live association)."""
        block: dict[str, Any] = {}
        for to_type in to_types:
            ids = self.index.associated(obj, rec.id, to_type, t_ms)
            if ids:
                label = f"{SINGULAR[obj]}_to_{SINGULAR[to_type]}"
                block[to_type] = {"results": [{"id": i, "type": label} for i in ids]}
        if not block:
            return frag
        return frag[:-1] + b',"associations":' + orjson.dumps(block) + b"}"

    @staticmethod
    def last_modified_property(obj: str) -> str:
        return LAST_MODIFIED_PROPERTY[obj]


class CalendlyCache:
    """Calendly resources as JSON bytes, cached for the current clock value only."""

    def __init__(self, world: World, uri_base: str) -> None:
        self.renderer = CalendlyRenderer(world, uri_base)
        self._t: int | None = None
        self._events: dict[str, bytes] = {}
        self._invitees: dict[str, bytes] = {}

    def _at(self, t_ms: int) -> None:
        if self._t != t_ms:
            self._t = t_ms
            self._events.clear()
            self._invitees.clear()

    def event(self, rec: Record, t_ms: int) -> bytes:
        self._at(t_ms)
        frag = self._events.get(rec.id)
        if frag is None:
            frag = self._events[rec.id] = orjson.dumps(self.renderer.render_scheduled_event(rec, t_ms))
        return frag

    def invitee(self, rec: Record, t_ms: int) -> bytes:
        self._at(t_ms)
        frag = self._invitees.get(rec.id)
        if frag is None:
            frag = self._invitees[rec.id] = orjson.dumps(self.renderer.render_invitee(rec, t_ms))
        return frag
