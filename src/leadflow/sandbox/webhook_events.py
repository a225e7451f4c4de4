"""Derive the webhook events a World implies between two clock values (HubSpot and Calendly shapes).

A change counts when it happened in `(from_ms, to_ms]`. HubSpot events follow the Webhooks API v3
payload (`shared/reference/free-tool-apis.md` §1.8, HubSpot changelog "New subscription types for
webhooks" for the merge fields); Calendly envelopes follow §2.5 and the invitee/event rendering of §2.2-2.3.

HubSpot (one dict per event, integer `objectId`, epoch-ms `occurredAt`):
- record created -> `contact.creation` / `deal.creation` / `object.creation` (+ `objectTypeId` for
  meetings 0-47, calls 0-48, emails 0-49), `changeFlag: "NEW"`. Initial values send no propertyChange.
- each later version -> one `*.propertyChange` per property whose value differs from the previous
  version (`propertyName`, `propertyValue`; a removed property has value ""). The last-modified
  properties (`lastmodifieddate`, `hs_lastmodifieddate`) change with every version and are skipped.
- archived and not merged -> `*.deletion`.
- archived because merged into another record -> `contact.merge` (or `deal.merge`/`object.merge`) with
  `objectId` = `primaryObjectId` = `newObjectId` = the survivor, `mergedObjectIds` = [the duplicate],
  `numberOfPropertiesMoved` = properties set on the duplicate but empty on the survivor at that time.
  No deletion event for the duplicate. The survivor's `hs_merged_object_ids` change comes as a
  propertyChange from its own versions.
`eventId` = 52 bits of SHA-256 over (portal, type, object, time, property): deterministic.
`attemptNumber` is set by the sender per attempt.

Calendly (one envelope per event; `created_at` = when the change happened):
- invitee created -> `invitee.created`; status turning `canceled` -> `invitee.canceled` (a reschedule
  shows as the old invitee with `rescheduled: true` and `new_invitee`, plus `invitee.created` of the
  new invitee with `old_invitee`); `no_show` set -> `invitee_no_show.created`, unset ->
  `invitee_no_show.deleted` (both names UNCONFIRMED in the reference; payload = the invitee).

Rendering: `CalendlyRenderer` is shared with the HTTP imitation (`sandbox/server/render.py` uses it),
so webhook payloads and API payloads are identical. Record layout it reads (the generator's,
`sandbox/journeys.py`; properties are looked up first, then static): invitee `static`: `event_uuid`,
`email`, `first_name`, `last_name`, `name`, `timezone`, `old_invitee`; invitee `properties`: `status`,
`cancellation`, `rescheduled`, `new_invitee`, `no_show`. Event `static`: `event_type_uuid`,
`host_user_uuid`, `host_email`, `host_name`, `name`, `start_ms`, `end_ms`, `location`; event
`properties`: `status`, `cancellation`. References (`old_invitee`, `new_invitee`) may be a
`{"event_uuid", "uuid"}` dict, a bare invitee uuid or a URI; `no_show` None or `{"uuid", "created_at_ms"}`;
nested `*_ms` integers render as `*` ISO strings with 6 fractional digits.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from leadflow.sandbox.world import HUBSPOT_OBJECT_TYPE_IDS, HUBSPOT_OBJECTS, EventType, Record, World

CALENDLY_API = "https://api.calendly.com"
SKIPPED_PROPERTIES = frozenset({"lastmodifieddate", "hs_lastmodifieddate"})
_PREFIX = {"contacts": "contact", "deals": "deal"}
_KIND_ORDER = {"creation": 0, "propertyChange": 1, "merge": 2, "deletion": 3}
_OBJECT_ORDER = {name: i for i, name in enumerate(HUBSPOT_OBJECTS)}
# Stable subscription ids per subscription type (an app has one subscription per type).
_SUBSCRIPTION_BASE = 610_000


def iso_us(ms: int) -> str:
    """Epoch ms -> Calendly's ISO-8601 with 6 fractional digits and `Z`."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _digest_int(*parts: object, bits: int = 52) -> int:
    h = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:8], "big") >> (64 - bits)


def subscription_type(object_type: str, kind: str) -> str:
    return f"{_PREFIX.get(object_type, 'object')}.{kind}"


def subscription_id(portal_id: int, app_id: int, stype: str, object_type: str) -> int:
    return _SUBSCRIPTION_BASE + _digest_int(portal_id, app_id, stype, object_type, bits=20)


def _in(t: int | None, from_ms: int, to_ms: int) -> bool:
    return t is not None and from_ms < t <= to_ms


def _value(v: Any) -> str:
    return "" if v is None else str(v)


# --- HubSpot -------------------------------------------------------------------------------------


def hubspot_events(world: World, from_ms: int, to_ms: int, *, app_id: int) -> list[dict[str, Any]]:
    """All HubSpot webhook events in `(from_ms, to_ms]`, in occurrence order, `attemptNumber` 0."""
    users = {o.id: o.user_id for o in world.owners}
    out: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def add(
        object_type: str, rec: Record, kind: str, at: int, extra: dict[str, Any], owner: str | None
    ) -> None:
        stype = subscription_type(object_type, kind)
        object_id = int(rec.id if kind != "merge" else rec.merged_into or rec.id)
        prop = extra.get("propertyName", "")
        ev: dict[str, Any] = {
            "eventId": _digest_int(world.portal_id, stype, object_type, rec.id, at, prop),
            "subscriptionId": subscription_id(world.portal_id, app_id, stype, object_type),
            "portalId": world.portal_id,
            "appId": app_id,
            "occurredAt": at,
            "subscriptionType": stype,
            "attemptNumber": 0,
            "objectId": object_id,
        }
        if stype.startswith("object."):
            ev["objectTypeId"] = HUBSPOT_OBJECT_TYPE_IDS[object_type]
        ev.update(extra)
        ev["changeSource"] = "CRM" if kind == "creation" else "CRM_UI"
        if kind == "creation":
            ev["changeFlag"] = "NEW"
        if owner and owner in users:
            ev["sourceId"] = f"userId:{users[owner]}"
        key = (at, _OBJECT_ORDER[object_type], object_id, _KIND_ORDER[kind], prop, int(rec.id))
        out.append((key, ev))

    for object_type in HUBSPOT_OBJECTS:
        for rec in world.hubspot.get(object_type, []):
            first = rec.versions[0].properties if rec.versions else {}
            if _in(rec.created_ms, from_ms, to_ms):
                add(object_type, rec, "creation", rec.created_ms, {}, first.get("hubspot_owner_id"))
            for prev, cur in zip(rec.versions, rec.versions[1:], strict=False):
                if not _in(cur.at_ms, from_ms, to_ms):
                    continue
                owner = cur.properties.get("hubspot_owner_id")
                for name in sorted(set(prev.properties) | set(cur.properties)):
                    if name in SKIPPED_PROPERTIES:
                        continue
                    new = _value(cur.properties.get(name))
                    if new != _value(prev.properties.get(name)):
                        extra = {"propertyName": name, "propertyValue": new}
                        add(object_type, rec, "propertyChange", cur.at_ms, extra, owner)
            if _in(rec.archived_ms, from_ms, to_ms):
                at = rec.archived_ms or 0
                if rec.merged_into:
                    extra = _merge_fields(world, object_type, rec, at)
                    add(object_type, rec, "merge", at, extra, None)
                else:
                    add(object_type, rec, "deletion", at, {}, None)
    out.sort(key=lambda kv: kv[0])
    return [ev for _, ev in out]


def _merge_fields(world: World, object_type: str, dup: Record, at: int) -> dict[str, Any]:
    survivor = world.hubspot_record(object_type, dup.merged_into or "")
    dup_v = dup.version_at(at)
    sur_v = survivor.version_at(at) if survivor else None
    moved = 0
    if dup_v and sur_v:
        moved = sum(
            1
            for k, v in dup_v.properties.items()
            if _value(v) and not _value(sur_v.properties.get(k)) and k not in SKIPPED_PROPERTIES
        )
    primary = int(dup.merged_into or 0)
    return {
        "primaryObjectId": primary,
        "mergedObjectIds": [int(dup.id)],
        "newObjectId": primary,
        "numberOfPropertiesMoved": moved,
    }


# --- Calendly rendering (stand-in for server/render.py) ------------------------------------------


def _field(rec: Record, props: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in props:
            return props[name]
        if name in rec.static:
            return rec.static[name]
    return None


def _times(d: dict[str, Any]) -> dict[str, Any]:
    """A copy with `<name>_ms` integer keys rendered as `<name>` ISO strings (Calendly style)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if k.endswith("_ms") and isinstance(v, int) and not isinstance(v, bool):
            out[k[:-3]] = iso_us(v)
        else:
            out[k] = v
    return out


def _ms_or_iso(v: Any) -> str | None:
    if v is None:
        return None
    return iso_us(int(v)) if isinstance(v, int | float) else str(v)


class CalendlyRenderer:
    """Renders Calendly invitees and scheduled events of a World as the API would at a given time."""

    def __init__(self, world: World, api_base: str = CALENDLY_API) -> None:
        self.world = world
        self.api = api_base.rstrip("/")
        self.events = {e.id: e for e in world.events}
        self.invitees = {i.id: i for i in world.invitees}
        self.event_types: dict[str, EventType] = {t.uuid: t for t in world.event_types}
        self.owners = {o.calendly_uuid: o for o in world.owners}
        self.by_event: dict[str, list[Record]] = {}
        for inv in world.invitees:
            self.by_event.setdefault(str(inv.static.get("event_uuid", "")), []).append(inv)

    def invitee_uri(self, ref: Any) -> str | None:
        """An invitee reference ({"event_uuid", "uuid"} dict, bare uuid or URI) as a URI."""
        if not ref:
            return None
        if isinstance(ref, dict):
            if ref.get("uri"):
                return str(ref["uri"])
            return f"{self.api}/scheduled_events/{ref.get('event_uuid', '')}/invitees/{ref.get('uuid', '')}"
        ref = str(ref)
        if ref.startswith("http"):
            return ref
        inv = self.invitees.get(ref)
        event_uuid = inv.static.get("event_uuid", "") if inv else ""
        return f"{self.api}/scheduled_events/{event_uuid}/invitees/{ref}"

    def host_uuid(self, event: Record) -> str:
        host = _field(event, {}, "host_user_uuid", "owner_uuid", "user_uuid")
        if host:
            return str(host)
        et = self.event_types.get(str(_field(event, {}, "event_type_uuid", "event_type") or ""))
        return et.owner_uuid if et else ""

    def render_scheduled_event(self, event: Record, t_ms: int) -> dict[str, Any]:
        version = event.version_at(t_ms) or event.versions[0]
        p = version.properties
        et_ref = str(_field(event, p, "event_type_uuid", "event_type") or "")
        et = self.event_types.get(et_ref)
        host = self.host_uuid(event)
        owner = self.owners.get(host)
        status = _field(event, p, "status") or "active"
        invitees = [i for i in self.by_event.get(event.id, []) if i.created_ms <= t_ms]
        active = [
            i
            for i in invitees
            if ((i.version_at(t_ms) or i.versions[0]).properties.get("status")) != "canceled"
        ]
        membership: dict[str, Any] = {"user": f"{self.api}/users/{host}"}
        email = _field(event, p, "host_email") or (owner.email if owner else None)
        name = _field(event, p, "host_name") or (f"{owner.first_name} {owner.last_name}" if owner else None)
        if email:
            membership |= {"user_email": email, "user_name": name}
        out: dict[str, Any] = {
            "uri": f"{self.api}/scheduled_events/{event.id}",
            "name": _field(event, p, "name") or (et.name if et else ""),
            "status": status,
            "start_time": _ms_or_iso(_field(event, p, "start_ms", "start_time")),
            "end_time": _ms_or_iso(_field(event, p, "end_ms", "end_time")),
            "event_type": et_ref if et_ref.startswith("http") else f"{self.api}/event_types/{et_ref}",
            "location": _field(event, p, "location") or {"type": "google_conference", "status": "pushed"},
            "invitees_counter": {"total": len(invitees), "active": len(active), "limit": 1},
            "created_at": iso_us(event.created_ms),
            "updated_at": iso_us(version.at_ms),
            "event_memberships": [membership],
            "event_guests": [],
            "calendar_event": {"kind": "google", "external_id": f"{_digest_int('cal', event.id):x}"},
        }
        cancellation = _field(event, p, "cancellation")
        if status == "canceled" and cancellation:
            out["cancellation"] = _times(cancellation)
        return out

    def render_invitee(self, inv: Record, t_ms: int) -> dict[str, Any]:
        version = inv.version_at(t_ms) or inv.versions[0]
        p = version.properties
        event_uuid = str(inv.static.get("event_uuid", ""))
        first, last = _field(inv, p, "first_name") or "", _field(inv, p, "last_name") or ""
        status = _field(inv, p, "status") or "active"
        out: dict[str, Any] = {
            "uri": f"{self.api}/scheduled_events/{event_uuid}/invitees/{inv.id}",
            "email": _field(inv, p, "email"),
            "first_name": first,
            "last_name": last,
            "name": _field(inv, p, "name") or f"{first} {last}".strip(),
            "status": status,
            "timezone": _field(inv, p, "timezone"),
            "event": f"{self.api}/scheduled_events/{event_uuid}",
            "created_at": iso_us(inv.created_ms),
            "updated_at": iso_us(version.at_ms),
            "questions_and_answers": _field(inv, p, "questions_and_answers") or [],
            "tracking": {
                k: None
                for k in (
                    "utm_campaign",
                    "utm_source",
                    "utm_medium",
                    "utm_content",
                    "utm_term",
                    "salesforce_uuid",
                )
            },
            "text_reminder_number": None,
            "rescheduled": bool(_field(inv, p, "rescheduled")),
            "old_invitee": self.invitee_uri(_field(inv, p, "old_invitee")),
            "new_invitee": self.invitee_uri(_field(inv, p, "new_invitee")),
            "cancel_url": f"https://calendly.com/cancellations/{inv.id}",
            "reschedule_url": f"https://calendly.com/reschedulings/{inv.id}",
            "routing_form_submission": None,
            "payment": None,
            "no_show": self._no_show(inv, _field(inv, p, "no_show"), version.at_ms),
            "reconfirmation": None,
            "canceled": status == "canceled",
            "scheduling_method": None,
        }
        cancellation = _field(inv, p, "cancellation")
        if status == "canceled":
            out["cancellation"] = (
                _times(cancellation)
                if cancellation
                else {
                    "canceled_by": out["name"],
                    "reason": None,
                    "canceler_type": "invitee",
                }
            )
        return out

    def _no_show(self, inv: Record, value: Any, at_ms: int) -> dict[str, Any] | None:
        if not value:
            return None
        if isinstance(value, dict):
            out = _times(value)
            uuid = out.pop("uuid", None) or f"{_digest_int('noshow', inv.id):x}"
            out.setdefault("uri", f"{self.api}/invitee_no_shows/{uuid}")
            out.setdefault("created_at", iso_us(at_ms))
            return {"uri": out.pop("uri"), **out}
        created = int(value) if isinstance(value, int | float) and not isinstance(value, bool) else at_ms
        return {
            "uri": f"{self.api}/invitee_no_shows/{_digest_int('noshow', inv.id):x}",
            "created_at": iso_us(created),
        }


# --- Calendly events -----------------------------------------------------------------------------


def _status(rec: Record, props: dict[str, Any]) -> str:
    return str(_field(rec, props, "status") or "active")


def calendly_events(
    world: World, from_ms: int, to_ms: int, *, api_base: str = CALENDLY_API
) -> list[dict[str, Any]]:
    """All Calendly webhook envelopes in `(from_ms, to_ms]`, in occurrence order."""
    r = CalendlyRenderer(world, api_base)
    # (at, order, invitee id, event name); at equal times a cancellation goes first (reschedule order)
    found: list[tuple[int, int, str, str]] = []
    for inv in world.invitees:
        if _in(inv.created_ms, from_ms, to_ms):
            found.append((inv.created_ms, 1, inv.id, "invitee.created"))
        for prev, cur in zip(inv.versions, inv.versions[1:], strict=False):
            if not _in(cur.at_ms, from_ms, to_ms):
                continue
            if _status(inv, cur.properties) == "canceled" and _status(inv, prev.properties) != "canceled":
                found.append((cur.at_ms, 0, inv.id, "invitee.canceled"))
            was, now = bool(prev.properties.get("no_show")), bool(cur.properties.get("no_show"))
            if now and not was:
                found.append((cur.at_ms, 2, inv.id, "invitee_no_show.created"))
            elif was and not now:
                found.append((cur.at_ms, 3, inv.id, "invitee_no_show.deleted"))
    found.sort()
    out = []
    for at, _, inv_id, name in found:
        inv = r.invitees[inv_id]
        event = r.events.get(str(inv.static.get("event_uuid", "")))
        payload = r.render_invitee(inv, at)
        host = ""
        if event is not None:
            payload["scheduled_event"] = r.render_scheduled_event(event, at)
            host = r.host_uuid(event)
        out.append(
            {
                "event": name,
                "created_at": iso_us(at),
                "created_by": f"{r.api}/users/{host}",
                "payload": payload,
            }
        )
    return out


def calendly_event_key(envelope: dict[str, Any]) -> tuple[str, str, str]:
    """(event name, invitee URI, created_at): identifies one Calendly webhook event."""
    return (envelope["event"], envelope["payload"]["uri"], envelope["created_at"])
