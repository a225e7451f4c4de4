"""A small hand-built World for server tests and benchmarks, independent of the scenario generator.

`make_world()` builds a deterministic sales org (teams, owners, contacts with versions, deletes and
a merge, deals, meetings, calls, emails, Calendly events and invitees with a cancellation, a
reschedule and a no-show, lead sheet rows) in the record layout the generator uses (see
docs/sandbox.md (part 2) "World layout"), plus a `truth` with per-entity counts at the world end.
With `activity=False` only contacts are made: the cheap way to get 10,000+ records of one type.
"""

from __future__ import annotations

import random
from typing import Any

from leadflow.sandbox.server.render import iso_ms
from leadflow.sandbox.webhook_events import iso_us
from leadflow.sandbox.world import (
    CREATED_PROPERTY,
    HUBSPOT_OBJECTS,
    LAST_MODIFIED_PROPERTY,
    EventType,
    Owner,
    Record,
    SheetRow,
    Team,
    Version,
    World,
)

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DAY = 86_400_000
HOUR = 3_600_000
DEAL_STAGES = (
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
    "closedwon",
    "closedlost",
)
LADDER = (
    ("intro_15", "15 Minute Intro", 15),
    ("demo_30", "30 Minute Demo", 30),
    ("workshop_60", "60 Minute Workshop", 60),
)


def _uid(rng: random.Random) -> str:
    return "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(16))


def _hs_record(
    obj: str, rid: int, created: int, props: dict[str, Any], changes: list[tuple[int, dict[str, Any]]]
) -> Record:
    """A HubSpot record whose versions carry the whole property set plus the id/date properties."""
    base = {**props, "hs_object_id": str(rid), CREATED_PROPERTY[obj]: iso_ms(created)}
    versions = [Version(created, {**base, LAST_MODIFIED_PROPERTY[obj]: iso_ms(created)})]
    for at, change in changes:
        base = {**base, **change}
        versions.append(Version(at, {**base, LAST_MODIFIED_PROPERTY[obj]: iso_ms(at)}))
    return Record(obj[:-1], str(rid), created, versions)


def _pipelines() -> list[dict[str, Any]]:
    stamp = iso_ms(START_MS - 30 * DAY)
    stages = [
        {
            "id": s,
            "label": s,
            "displayOrder": i,
            "metadata": {"probability": "1.0" if s == "closedwon" else "0.0" if s == "closedlost" else "0.5"},
            "createdAt": stamp,
            "updatedAt": stamp,
            "archived": False,
        }
        for i, s in enumerate(DEAL_STAGES)
    ]
    return [
        {
            "id": "default",
            "label": "Sales Pipeline",
            "displayOrder": 0,
            "stages": stages,
            "createdAt": stamp,
            "updatedAt": stamp,
            "archived": False,
        }
    ]


def make_world(contacts: int = 40, *, days: int = 30, seed: int = 7, activity: bool = True) -> World:
    """A deterministic World spanning `days` days from 2026-01-01 with `contacts` contacts."""
    rng = random.Random(seed)
    end = START_MS + days * DAY
    teams = [Team("t1", "Berlin", "Europe/Berlin"), Team("t2", "Austin", "America/Chicago")]
    owners = [
        Owner(
            str(100 + i),
            9000 + i,
            f"rep{i}@example.com",
            f"Rep{i}",
            "Seller",
            teams[i % 2].id,
            teams[i % 2].name,
            START_MS - DAY,
            _uid(rng),
        )
        for i in range(4)
    ]
    event_types = [
        EventType(
            _uid(rng),
            name,
            f"rep0-{key}",
            minutes,
            owners[0].calendly_uuid,
            key,
            START_MS - DAY,
            START_MS - DAY,
        )
        for key, name, minutes in LADDER
    ]
    hs: dict[str, list[Record]] = {obj: [] for obj in HUBSPOT_OBJECTS}
    events: list[Record] = []
    invitees: list[Record] = []
    rows: list[SheetRow] = []
    span = int((end - START_MS) * 0.8)
    next_id = {obj: 1000 * (k + 1) for k, obj in enumerate(HUBSPOT_OBJECTS)}
    for i in range(contacts):
        created = START_MS + (span * i) // max(1, contacts) + rng.randrange(HOUR)
        owner = owners[i % len(owners)]
        channel = "web" if i % 2 == 0 else "mobile"
        email = f"lead{i}@example.org"
        props = {
            "email": email,
            "firstname": f"Lead{i}",
            "lastname": "Example",
            "lead_channel": channel,
            "hubspot_owner_id": owner.id,
            "lifecyclestage": "lead",
        }
        changes = (
            [(created + 2 * DAY, {"lifecyclestage": "salesqualifiedlead"})] if activity and i % 3 == 0 else []
        )
        cid = next_id["contacts"] = next_id["contacts"] + 1
        contact = _hs_record("contacts", cid, created, props, changes)
        if activity and i % 10 == 9:
            contact.archived_ms = created + 3 * DAY  # deleted lead
        hs["contacts"].append(contact)
        if channel == "web":
            rows.append(
                SheetRow(
                    created,
                    {"email": email, "first_name": f"Lead{i}", "last_name": "Example", "source": "web-form"},
                )
            )
        if not activity:
            continue
        kind = "emails" if channel == "web" else "calls"
        aid = next_id[kind] = next_id[kind] + 1
        ask = {
            "hubspot_owner_id": owner.id,
            "ask_type": "intro_15",
            "ask_alternative": "",
            "ask_outcome": "",
            "hs_timestamp": iso_ms(created + HOUR),
        }
        answer = (
            [(created + 6 * HOUR, {"ask_outcome": "accepted", "ask_outcome_at": iso_ms(created + 6 * HOUR)})]
            if i % 3 != 2
            else []
        )
        rec = _hs_record(kind, aid, created + HOUR, ask, answer)
        rec.associations = {"contacts": [str(cid)]}
        hs[kind].append(rec)
        if i % 5 == 1:
            mid = next_id["meetings"] = next_id["meetings"] + 1
            start = created + DAY
            mprops = {
                "hubspot_owner_id": owner.id,
                "hs_activity_type": "intro_15",
                "hs_meeting_outcome": "SCHEDULED",
                "hs_meeting_start_time": iso_ms(start),
                "hs_meeting_end_time": iso_ms(start + HOUR // 4),
                "hs_timestamp": iso_ms(start),
            }
            meeting = _hs_record(
                "meetings",
                mid,
                created + 7 * HOUR,
                mprops,
                [(start + HOUR, {"hs_meeting_outcome": "COMPLETED"})],
            )
            meeting.associations = {"contacts": [str(cid)]}
            hs["meetings"].append(meeting)
        if i % 4 == 0:
            did = next_id["deals"] = next_id["deals"] + 1
            dprops = {
                "dealname": f"Deal {i}",
                "dealstage": "appointmentscheduled",
                "pipeline": "default",
                "amount": str(1000 + 10 * i),
                "closedate": iso_ms(created + 20 * DAY),
                "hubspot_owner_id": owner.id,
            }
            deal = _hs_record(
                "deals",
                did,
                created + 2 * DAY,
                dprops,
                [(created + 4 * DAY, {"dealstage": "closedwon" if i % 8 == 0 else "qualifiedtobuy"})],
            )
            deal.associations = {"contacts": [str(cid)]}
            hs["deals"].append(deal)
        if channel == "web" and i % 3 == 0:
            _calendly(rng, i, created, email, owners[0], event_types[0], events, invitees)
    if activity and len(hs["contacts"]) > 4:  # one merge: the last contact is a duplicate of the first
        dup, survivor = hs["contacts"][-1], hs["contacts"][0]
        dup.archived_ms = max(dup.created_ms, survivor.created_ms) + DAY
        dup.merged_into = survivor.id
        at = dup.archived_ms
        last = survivor.versions[-1].properties
        survivor.versions.append(
            Version(at, {**last, "hs_merged_object_ids": dup.id, "lastmodifieddate": iso_ms(at)})
        )
        survivor.versions.sort(key=lambda v: v.at_ms)
    world = World(
        seed=seed,
        start_ms=START_MS,
        end_ms=end,
        portal_id=4242,
        organization_uuid=_uid(rng),
        teams=teams,
        owners=owners,
        pipelines=_pipelines(),
        hubspot=hs,
        event_types=event_types,
        events=events,
        invitees=invitees,
        sheet_columns=["email", "first_name", "last_name", "source"],
        sheet_rows=rows,
    )
    world.truth = {"entities": entity_counts(world)}
    return world


def _calendly(
    rng: random.Random,
    i: int,
    created: int,
    email: str,
    host: Owner,
    et: EventType,
    events: list[Record],
    invitees: list[Record],
) -> None:
    booked = created + 8 * HOUR
    start = created + 3 * DAY
    ev_uuid, inv_uuid = _uid(rng), _uid(rng)
    static_ev = {
        "event_type_uuid": et.uuid,
        "start_ms": start,
        "end_ms": start + 15 * 60_000,
        "host_user_uuid": host.calendly_uuid,
        "host_email": host.email,
        "name": et.name,
    }
    static_inv = {
        "event_uuid": ev_uuid,
        "email": email,
        "first_name": f"Lead{i}",
        "last_name": "Example",
        "timezone": "Europe/Berlin",
    }
    ev_versions = [Version(booked, {"status": "active"})]
    inv_versions = [Version(booked, {"status": "active", "rescheduled": False, "no_show": None})]
    outcome = (i // 6) % 4  # 0 held, 1 canceled, 2 no-show, 3 rescheduled
    if outcome == 1:
        cancel_at = booked + DAY
        cancellation = {
            "canceled_by": f"Lead{i} Example",
            "reason": "Conflict",
            "canceler_type": "invitee",
            "created_at": iso_us(cancel_at),
        }
        ev_versions.append(Version(cancel_at, {"status": "canceled", "cancellation": cancellation}))
        inv_versions.append(
            Version(
                cancel_at,
                {"status": "canceled", "rescheduled": False, "no_show": None, "cancellation": cancellation},
            )
        )
    elif outcome == 2:
        inv_versions.append(
            Version(start + HOUR, {"status": "active", "rescheduled": False, "no_show": start + HOUR})
        )
    elif outcome == 3:
        moved_at = booked + DAY
        new_ev, new_inv = _uid(rng), _uid(rng)
        cancellation = {
            "canceled_by": f"Lead{i} Example",
            "reason": "Rescheduled",
            "canceler_type": "invitee",
        }
        ev_versions.append(Version(moved_at, {"status": "canceled", "cancellation": cancellation}))
        inv_versions.append(
            Version(
                moved_at,
                {
                    "status": "canceled",
                    "rescheduled": True,
                    "new_invitee": new_inv,
                    "no_show": None,
                    "cancellation": cancellation,
                },
            )
        )
        later = start + 2 * DAY
        events.append(
            Record(
                "scheduled_event",
                new_ev,
                moved_at,
                [Version(moved_at, {"status": "active"})],
                static={**static_ev, "start_ms": later, "end_ms": later + 15 * 60_000},
            )
        )
        invitees.append(
            Record(
                "invitee",
                new_inv,
                moved_at,
                [Version(moved_at, {"status": "active", "old_invitee": inv_uuid, "no_show": None})],
                static={**static_inv, "event_uuid": new_ev},
            )
        )
    events.append(Record("scheduled_event", ev_uuid, booked, ev_versions, static=static_ev))
    invitees.append(Record("invitee", inv_uuid, booked, inv_versions, static=static_inv))


def entity_counts(world: World, t_ms: int | None = None) -> dict[str, dict[str, int]]:
    """Per entity at `t_ms` (default the world end): live, archived and versions that became current."""
    t = world.end_ms if t_ms is None else t_ms
    out: dict[str, dict[str, int]] = {}
    groups: list[tuple[str, list[Record]]] = [(f"hubspot.{obj}", recs) for obj, recs in world.hubspot.items()]
    groups += [("calendly.scheduled_events", world.events), ("calendly.invitees", world.invitees)]
    for name, recs in groups:
        seen = [r for r in recs if r.created_ms <= t]
        out[name] = {
            "live": sum(1 for r in seen if not r.is_archived_at(t)),
            "archived": sum(1 for r in seen if r.is_archived_at(t)),
            "versions": sum(len(r.versions_until(t)) for r in seen),
        }
    out["hubspot.owners"] = {
        "live": sum(1 for o in world.owners if o.created_ms <= t),
        "archived": 0,
        "versions": 0,
    }
    out["calendly.event_types"] = {
        "live": sum(1 for e in world.event_types if e.created_ms <= t),
        "archived": 0,
        "versions": 0,
    }
    out["sheet.rows"] = {
        "live": sum(1 for r in world.sheet_rows if r.added_ms <= t),
        "archived": 0,
        "versions": 0,
    }
    return out
