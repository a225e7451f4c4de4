"""Ground truth of a generated world, computed from the world as it stands at its end.

Definitions follow `/work/team/world-semantics.md` ("Truth definitions") and the held/no-show rules
of `docs/data-contract.md`: a meeting is held when its outcome is `COMPLETED`; a Calendly
appointment is held when event and invitee are active, the start time has passed and no no-show is
marked. Counts read record states at `World.end_ms`, so the truth agrees with what a pipeline that
synced everything up to the end should compute. The layout is documented in
`docs/sandbox.md (part 1)` ("The truth file").
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from leadflow.sandbox.scenario import CHANNELS, GAP_BUCKETS, STRATEGIES, Scenario
from leadflow.sandbox.world import HUBSPOT_OBJECTS, AppointmentLink, Journey, Record, World, hubspot_time

FUNNEL = (
    "lead_created",
    "contacted",
    "engaged",
    "appointment_booked",
    "appointment_held",
    "active_prospect",
    "won",
)
DAY_MS = 86_400_000
TRUTH_FORMAT = 1


def _state(rec: Record, t: int) -> dict[str, Any]:
    v = rec.version_at(t)
    return v.properties if v is not None else {}


class _Reader:
    """Looks records up and classifies their state at the world end."""

    def __init__(self, world: World) -> None:
        self.w = world
        self.end = world.end_ms

    def hs(self, otype: str, rid: str) -> dict[str, Any]:
        rec = self.w.hubspot_record(otype, rid)
        return _state(rec, self.end) if rec is not None else {}

    def appointment_state(self, a: AppointmentLink) -> str:
        """scheduled | held | canceled | rescheduled | no_show, at the world end."""
        if a.source == "meeting":
            outcome = self.hs("meetings", a.id).get("hs_meeting_outcome", "SCHEDULED")
            return {
                "COMPLETED": "held",
                "CANCELED": "canceled",
                "RESCHEDULED": "rescheduled",
                "NO_SHOW": "no_show",
            }.get(outcome, "scheduled")
        invitee = self.w.calendly_invitee(a.id)
        event = self.w.calendly_event(a.event_uuid or "")
        assert invitee is not None and event is not None
        inv, ev = _state(invitee, self.end), _state(event, self.end)
        if inv.get("rescheduled"):
            return "rescheduled"
        if inv.get("status") == "canceled" or ev.get("status") == "canceled":
            return "canceled"
        if inv.get("no_show"):
            return "no_show"
        return "held" if event.static["start_ms"] <= self.end else "scheduled"


def _entity_counts(world: World) -> dict[str, Any]:
    end = world.end_ms
    hubspot: dict[str, Any] = {}
    for otype in HUBSPOT_OBJECTS:
        recs = world.hubspot[otype]
        archived = sum(1 for r in recs if r.is_archived_at(end))
        hubspot[otype] = {
            "records": len(recs),
            "live": len(recs) - archived,
            "archived": archived,
            "merged": sum(1 for r in recs if r.merged_into is not None),
            "versions": sum(len(r.versions) for r in recs),
        }
    hubspot["owners"] = {"records": len(world.owners)}
    hubspot["teams"] = {"records": len(world.teams)}
    hubspot["pipelines"] = {
        "records": len(world.pipelines),
        "stages": sum(len(p["stages"]) for p in world.pipelines),
    }
    calendly: dict[str, Any] = {
        "users": {"records": len(world.owners)},
        "event_types": {"records": len(world.event_types)},
    }
    for name, recs in (("scheduled_events", world.events), ("invitees", world.invitees)):
        statuses = Counter(_state(r, end).get("status") for r in recs)
        calendly[name] = {
            "records": len(recs),
            "active": statuses.get("active", 0),
            "canceled": statuses.get("canceled", 0),
            "versions": sum(len(r.versions) for r in recs),
        }
    calendly["invitees"]["no_show"] = sum(1 for r in world.invitees if _state(r, end).get("no_show"))
    calendly["invitees"]["rescheduled"] = sum(1 for r in world.invitees if _state(r, end).get("rescheduled"))
    return {"hubspot": hubspot, "calendly": calendly}


def _lead_flags(r: _Reader, j: Journey) -> dict[str, bool]:
    outcomes = [r.hs(a.object_type, a.id).get("ask_outcome", "") for a in j.asks]
    states = [r.appointment_state(a) for a in j.appointments]
    deal_stage = r.hs("deals", j.deal_id).get("dealstage") if j.deal_id else None
    return {
        "lead_created": True,
        "contacted": bool(j.asks),
        "engaged": "accepted" in outcomes,
        "appointment_booked": bool(j.appointments),
        "appointment_held": "held" in states,
        "active_prospect": j.deal_id is not None,
        "won": deal_stage == "closedwon",
    }


def _gap_bucket(gap_ms: int) -> str:
    if gap_ms < DAY_MS:
        return "same_day"
    return "within_week" if gap_ms <= 7 * DAY_MS else "later"


def _strategies(r: _Reader, journeys: list[Journey]) -> tuple[dict[str, Any], dict[str, Any]]:
    per: dict[str, dict[str, int]] = {
        s: dict.fromkeys(("leads", "asked", "accepted", "declined", "unanswered", "booked", "held"), 0)
        for s in STRATEGIES
    }
    gaps: dict[str, dict[str, dict[str, int]]] = {
        s: {b: {"asked": 0, "accepted": 0} for b in GAP_BUCKETS}
        for s in ("door_in_the_face", "door_in_the_face_other_requester")
    }
    for j in journeys:
        row = per[j.strategy]
        row["leads"] += 1
        large_declined_at: str | None = None
        for ask in j.asks:
            props = r.hs(ask.object_type, ask.id)
            if ask.role == "large":
                if props.get("ask_outcome") == "declined":
                    large_declined_at = props["ask_outcome_at"]
                continue
            outcome = props.get("ask_outcome") or "unanswered"
            row["asked"] += 1
            row[outcome] += 1
            chain = [a for a in j.appointments if a.ask_id == ask.id]
            if chain:
                row["booked"] += 1
                replaced = {a.replaces for a in chain}
                if any(r.appointment_state(a) == "held" for a in chain if a.id not in replaced):
                    row["held"] += 1
            if j.strategy in gaps and large_declined_at is not None:
                gap = _iso_ms(props["hs_timestamp"]) - _iso_ms(large_declined_at)
                cell = gaps[j.strategy][_gap_bucket(gap)]
                cell["asked"] += 1
                cell["accepted"] += outcome == "accepted"
    return per, gaps


def _iso_ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def compute_truth(world: World, scenario: Scenario) -> dict[str, Any]:
    """The truth document (plain JSON values) for a finished world."""
    r = _Reader(world)
    funnel = dict.fromkeys(FUNNEL, 0)
    by_channel = {c: dict.fromkeys(FUNNEL, 0) for c in CHANNELS}
    by_team = {t.id: dict.fromkeys(FUNNEL, 0) for t in world.teams}
    appointments: Counter[str] = Counter()
    for j in world.journeys:
        flags = _lead_flags(r, j)
        for stage, hit in flags.items():
            funnel[stage] += hit
            by_channel[j.channel][stage] += hit
            by_team[j.team_id][stage] += hit
        for a in j.appointments:
            appointments[r.appointment_state(a)] += 1
    deals = Counter(_state(d, world.end_ms).get("dealstage") for d in world.hubspot["deals"])
    per_strategy, by_gap = _strategies(r, world.journeys)
    defects = Counter(row.defect for row in world.sheet_rows if row.defect)
    lead_emails = {
        r.hs("contacts", j.contact_id).get("email") for j in world.journeys if j.lead_source == "form"
    }
    good_rows = [row for row in world.sheet_rows if row.defect is None]
    return {
        "format": TRUTH_FORMAT,
        "world": {
            "seed": world.seed,
            "start": hubspot_time(world.start_ms),
            "end": hubspot_time(world.end_ms),
            "start_ms": world.start_ms,
            "end_ms": world.end_ms,
            "clock_initial_ms": world.clock_start_ms,
            "portal_id": world.portal_id,
            "organization_uuid": world.organization_uuid,
            "teams": {t.id: {"name": t.name, "timezone": t.timezone} for t in world.teams},
        },
        "entities": _entity_counts(world),
        "funnel": funnel,
        "funnel_by_channel": by_channel,
        "funnel_by_team": by_team,
        "strategies": per_strategy,
        "retreat_gaps": by_gap,
        "appointments": {
            "booked": sum(appointments.values()),
            **{
                k: appointments.get(k, 0) for k in ("scheduled", "held", "canceled", "rescheduled", "no_show")
            },
        },
        "deals": {
            "created": len(world.hubspot["deals"]),
            "won": deals.get("closedwon", 0),
            "lost": deals.get("closedlost", 0),
            "open": len(world.hubspot["deals"]) - deals.get("closedwon", 0) - deals.get("closedlost", 0),
        },
        "sheet": {
            "rows": len(world.sheet_rows),
            "good": len(good_rows),
            "bad": sum(defects.values()),
            "bad_by_defect": {d: defects.get(d, 0) for d in ("missing_email", "invalid_email", "bad_date")},
            "good_of_leads": sum(1 for row in good_rows if row.values["email"] in lead_emails),
            "good_of_deleted_contacts": sum(1 for row in good_rows if row.values["email"] not in lead_emails),
        },
        "planted": _planted(scenario),
        "scenario": scenario.to_dict(),
    }


def _planted(sc: Scenario) -> dict[str, Any]:
    return {
        "strategy_mix": sc.strategy_mix,
        "acceptance": sc.acceptance,
        "large_ask_acceptance": sc.large_ask_acceptance,
        "no_response_share": sc.no_response_share,
        "retreat_gap": sc.retreat_gap,
        "channel_mix": sc.channel_mix,
        "contact_rate": sc.contact_rate,
        "booking_rate": sc.booking_rate,
        "cancellation_rate": sc.cancellation_rate,
        "reschedule_rate": sc.reschedule_rate,
        "no_show_rate": sc.no_show_rate,
        "deal_rate": sc.deal_rate,
        "win_rate": sc.win_rate,
        "delete_rate": sc.contacts.delete_rate,
        "merge_rate": sc.contacts.merge_rate,
        "update_rate": sc.contacts.update_rate,
        "sheet_share": sc.sheet.share,
        "sheet_bad_rows": sc.sheet.bad_rows,
    }
