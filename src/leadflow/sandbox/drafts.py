"""Drafts: records under construction, turned into `world.Record`s with ids and whole-state versions.

The journey planner appends changes to drafts in any order; `materialize_hubspot` then
- gives each HubSpot object type ascending numeric ids in creation order,
- replays the changes in time order into whole property sets (HubSpot style: every value a string,
  with `hs_object_id`, the created and the last-modified property set from the version time),
- makes version times strictly increasing (a collision moves the later change by 1 ms; a change that
  would land after the world end is folded into the version before it),
- keeps `lifecyclestage` moving forward only, as HubSpot does,
- resolves associations (stored in both directions) and draft references inside values.
Calendly drafts (`CalendlyDraft`) carry their uuid from the start and keep non-string values.
"""

from __future__ import annotations

from typing import Any

from leadflow.sandbox.world import (
    CREATED_PROPERTY,
    HUBSPOT_OBJECTS,
    LAST_MODIFIED_PROPERTY,
    Record,
    Version,
    hubspot_time,
)

ID_BASE = {
    "contacts": 100_000_000_000,
    "deals": 200_000_000_000,
    "meetings": 300_000_000_000,
    "calls": 400_000_000_000,
    "emails": 500_000_000_000,
}
LIFECYCLE_RANK = {
    s: i
    for i, s in enumerate(
        (
            "subscriber",
            "lead",
            "marketingqualifiedlead",
            "salesqualifiedlead",
            "opportunity",
            "customer",
            "evangelist",
        )
    )
}


class Draft:
    """A HubSpot object in the making: creation time, changes, archive/merge, associations."""

    __slots__ = ("archived_ms", "changes", "created_ms", "id", "links", "merged_into", "otype", "seq")

    def __init__(self, otype: str, created_ms: int, props: dict[str, Any], seq: int) -> None:
        self.otype = otype
        self.created_ms = created_ms
        self.changes: list[tuple[int, dict[str, Any]]] = [(created_ms, props)]
        self.archived_ms: int | None = None
        self.merged_into: Draft | None = None
        self.links: list[Draft] = []
        self.id = ""
        self.seq = seq

    def change(self, at_ms: int, props: dict[str, Any]) -> None:
        self.changes.append((at_ms, props))

    def link(self, other: Draft) -> None:
        """Associate both ways (stored once here, resolved in both directions)."""
        self.links.append(other)


class CalendlyDraft:
    """A Calendly scheduled event or invitee in the making (uuid known from the start)."""

    __slots__ = ("changes", "created_ms", "id", "kind", "static")

    def __init__(
        self, kind: str, uuid: str, created_ms: int, static: dict[str, Any], props: dict[str, Any]
    ) -> None:
        self.kind = kind
        self.id = uuid
        self.created_ms = created_ms
        self.static = static
        self.changes: list[tuple[int, dict[str, Any]]] = [(created_ms, props)]

    def change(self, at_ms: int, props: dict[str, Any]) -> None:
        self.changes.append((at_ms, props))


def _resolve(value: Any) -> str:
    if isinstance(value, Draft):
        return value.id
    if isinstance(value, list):
        return ";".join(_resolve(v) for v in value)
    return str(value)


def _versions_hubspot(d: Draft, end_ms: int) -> list[Version]:
    created_prop = CREATED_PROPERTY[d.otype]
    modified_prop = LAST_MODIFIED_PROPERTY[d.otype]
    is_contact = d.otype == "contacts"
    created_iso = hubspot_time(d.created_ms)
    state: dict[str, str] = {}
    versions: list[Version] = []
    for at, changes in sorted(d.changes, key=lambda c: c[0]):
        update = {k: (v if type(v) is str else _resolve(v)) for k, v in changes.items()}
        if (
            is_contact
            and "lifecyclestage" in update
            and state.get("lifecyclestage")
            and LIFECYCLE_RANK[update["lifecyclestage"]] <= LIFECYCLE_RANK[state["lifecyclestage"]]
        ):
            del update["lifecyclestage"]  # HubSpot only moves the lifecycle stage forward
        if versions and not update:
            continue
        if versions and at <= versions[-1].at_ms:
            at = versions[-1].at_ms + 1
        if versions and at > end_ms:
            versions[-1].properties.update(update)  # folded into the last version (never past the end)
            state.update(update)
            continue
        state.update(update)
        props = dict(state)
        props[created_prop] = created_iso
        props[modified_prop] = hubspot_time(at)
        props["hs_object_id"] = d.id
        versions.append(Version(at, props))
    return versions


def materialize_hubspot(drafts: dict[str, list[Draft]], end_ms: int) -> dict[str, list[Record]]:
    """Assign ids per object type in creation order and build the records with whole-state versions."""
    for otype in HUBSPOT_OBJECTS:
        ordered = sorted(drafts.get(otype, []), key=lambda d: (d.created_ms, d.seq))
        drafts[otype] = ordered
        base = ID_BASE[otype]
        for i, d in enumerate(ordered):
            d.id = str(base + i + 1)
    out: dict[str, list[Record]] = {}
    record_of: dict[int, Record] = {}
    for otype in HUBSPOT_OBJECTS:
        records = []
        for d in drafts[otype]:
            rec = Record(kind=otype, id=d.id, created_ms=d.created_ms, versions=_versions_hubspot(d, end_ms))
            rec.archived_ms = d.archived_ms
            rec.merged_into = d.merged_into.id if d.merged_into is not None else None
            records.append(rec)
            record_of[id(d)] = rec
        out[otype] = records
    for otype in HUBSPOT_OBJECTS:
        for d in drafts[otype]:
            rec = record_of[id(d)]
            for other in d.links:
                rec.associations.setdefault(other.otype, []).append(other.id)
                record_of[id(other)].associations.setdefault(otype, []).append(d.id)
    for records in out.values():
        for rec in records:
            for ids in rec.associations.values():
                ids.sort(key=int)
    return out


def materialize_calendly(drafts: list[CalendlyDraft], end_ms: int) -> list[Record]:
    """Calendly records in creation order; versions hold the whole mutable state."""
    out: list[Record] = []
    for d in sorted(drafts, key=lambda x: x.created_ms):
        state: dict[str, Any] = {}
        versions: list[Version] = []
        for at, changes in sorted(d.changes, key=lambda c: c[0]):
            if versions and at <= versions[-1].at_ms:
                at = versions[-1].at_ms + 1
            if versions and at > end_ms:
                versions[-1].properties.update(changes)
                state.update(changes)
                continue
            state.update(changes)
            versions.append(Version(at, dict(state)))
        out.append(Record(kind=d.kind, id=d.id, created_ms=d.created_ms, versions=versions, static=d.static))
    return out
