"""Lead journeys: asks, answers, appointments and deals planted per lead, as drafts.

Implements the strategy semantics of `/work/team/world-semantics.md` on the record shapes of
`docs/data-contract.md`:
- asks are e-mails (web) or calls (mobile) with `ask_type` / `ask_alternative` / `ask_outcome` /
  `ask_outcome_at`, sent in the team's local business hours (Mon-Fri 09:00-17:00);
- an answer is a later version of the engagement, after a response delay;
- an accepted ask may be booked: a HubSpot meeting (mobile) or a Calendly event + invitee (web),
  then cancelled, rescheduled (a new appointment, itself drawn again), a no-show, or held;
- a held appointment may become a deal that moves through the `default` pipeline.
Nothing planned here happens after the world end: such changes are simply not recorded, so the
world at its end shows e.g. unanswered asks and scheduled appointments in the future.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from leadflow.sandbox.drafts import CalendlyDraft, Draft
from leadflow.sandbox.org import DAY_MS, DEAL_STAGES, Org
from leadflow.sandbox.people import CalendlyIds
from leadflow.sandbox.scenario import LADDER, Scenario
from leadflow.sandbox.world import Owner, hubspot_time

HOUR_MS = 3_600_000
MINUTE_MS = 60_000
ACTIVITY_GAP_MS = DAY_MS  # mean gap between two tracked-activity versions of a contact
CALL_CONNECTED = "f240bbac-87c9-4f6e-bf70-924b57d47db7"  # HubSpot's "Connected" call disposition
SUBJECTS = {
    "intro_15": "Quick 15-minute intro call?",
    "demo_30": "A 30-minute demo for your team",
    "workshop_60": "Invitation: 60-minute on-site workshop",
}
# Retreat gap buckets (ms ranges drawn uniformly). Kept clear of the bucket borders used by the marts:
# same_day < 24 h, within_week 1-7 days, later > 7 days (and within the 30-day DITF window).
GAP_RANGES = {
    "same_day": (15 * MINUTE_MS, 23 * HOUR_MS),
    "within_week": (25 * HOUR_MS, 7 * DAY_MS - HOUR_MS),
    "later": (8 * DAY_MS, 29 * DAY_MS),
}
CANCEL_REASONS = ("Schedule conflict", "No longer interested", "Found another solution", "")


@dataclass
class LeadPlan:
    """One contact's plan while it is being drafted (ids are resolved after materialization)."""

    index: int
    arrival_ms: int
    created_ms: int
    channel: str
    lead_source: str
    owner: Owner
    strategy: str
    first: str
    last: str
    email: str
    phone: str
    contact: Draft | None = None
    deleted: bool = False
    retreat_gap: str | None = None
    asks: list[tuple[Draft, str, str]] = field(default_factory=list)  # (ask draft, role, ladder key)
    # (source, meeting draft or invitee draft, event draft or None, ask draft, key, replaced appointment)
    appointments: list[tuple[str, Any, Any, Draft, str, Any]] = field(default_factory=list)
    deal: Draft | None = None


class JourneyPlanner:
    """Drafts every lead's records; holds the draft lists the world is materialized from."""

    def __init__(self, scenario: Scenario, org: Org, ids: CalendlyIds) -> None:
        self.sc = scenario
        self.org = org
        self.ids = ids
        self.end_ms = scenario.end_ms
        self.drafts: dict[str, list[Draft]] = {
            k: [] for k in ("contacts", "deals", "meetings", "calls", "emails")
        }
        self.events: list[CalendlyDraft] = []
        self.invitees: list[CalendlyDraft] = []
        self._seq = 0
        self._tz = {tid: ZoneInfo(name) for tid, name in org.team_tz.items()}
        self._owners = {o.id: o for o in org.owners}

    # -- building blocks -------------------------------------------------------------------------
    def new(self, otype: str, created_ms: int, props: dict[str, Any]) -> Draft:
        self._seq += 1
        d = Draft(otype, created_ms, props, self._seq)
        self.drafts[otype].append(d)
        return d

    def business_time(self, t_ms: int, team_id: str, rng: random.Random) -> int:
        """The first moment at or after `t_ms` inside the team's business hours (jittered at 09:00)."""
        tz = self._tz[team_id]
        local = dt.datetime.fromtimestamp(t_ms / 1000, tz)
        if local.weekday() < 5 and 9 <= local.hour < 17:
            return t_ms
        day = local.date()
        if not (local.weekday() < 5 and local.hour < 9):
            day += dt.timedelta(days=1)
        while day.weekday() >= 5:
            day += dt.timedelta(days=1)
        opening = dt.datetime(day.year, day.month, day.day, 9, tzinfo=tz)
        return int(opening.timestamp() * 1000) + rng.randrange(150 * MINUTE_MS)

    def hours(self, rng: random.Random, span: tuple[float, float]) -> int:
        return int(rng.uniform(span[0], span[1]) * HOUR_MS)

    # -- contacts --------------------------------------------------------------------------------
    def contact(self, lead: LeadPlan) -> Draft:
        props = {
            "email": lead.email,
            "firstname": lead.first,
            "lastname": lead.last,
            "phone": lead.phone,
            "lead_channel": lead.channel,
            "lead_source": lead.lead_source,
            "lifecyclestage": "lead",
            "hubspot_owner_id": lead.owner.id,
        }
        lead.contact = self.new("contacts", lead.created_ms, props)
        return lead.contact

    def churn(self, lead: LeadPlan, rng: random.Random, people: Any) -> None:
        """Deletes, merged-away duplicates and extra updates of one contact (contacts.* knobs)."""
        c = self.sc.contacts
        contact = lead.contact
        assert contact is not None
        deleted, merged, updated = rng.random(), rng.random(), rng.random()
        room = self.end_ms - lead.created_ms
        if deleted < c.delete_rate:
            lead.deleted = True
            contact.archived_ms = lead.created_ms + min(rng.randrange(10 * MINUTE_MS, 72 * HOUR_MS), room)
            return
        if merged < c.merge_rate and room > 10:
            dup_at = lead.created_ms + min(rng.randrange(HOUR_MS, 10 * DAY_MS), room // 3)
            merge_at = dup_at + min(rng.randrange(HOUR_MS, 7 * DAY_MS), room // 3)
            dup = self.new(
                "contacts",
                dup_at,
                {
                    "email": people.email(lead.first, lead.last, rng),
                    "firstname": lead.first,
                    "lastname": lead.last,
                    "phone": lead.phone,
                    "lead_channel": lead.channel,
                    "lead_source": "inbound",
                    "lifecyclestage": "lead",
                    "hubspot_owner_id": lead.owner.id,
                },
            )
            dup.archived_ms = merge_at
            dup.merged_into = contact
            contact.change(merge_at, {"hs_merged_object_ids": [dup]})
        if updated < c.update_rate and room > 1:
            at = lead.created_ms + 1 + rng.randrange(room)
            contact.change(at, {"phone": people.phone(rng), "lifecyclestage": "marketingqualifiedlead"})

    def activity(self, lead: LeadPlan, count: int, rng: random.Random) -> None:
        """`count` tracked-activity versions of a live contact (contacts.activity_updates).

        Like HubSpot's analytics properties, each one raises `hs_analytics_num_page_views` by one
        (a new version with a new `lastmodifieddate`, nothing else changes). The gaps are exponential
        with a mean of ACTIVITY_GAP_MS, so a lead is active while it is fresh; activity that would
        fall after the world end does not happen.
        """
        contact = lead.contact
        assert contact is not None
        t = lead.created_ms
        for views in range(1, count + 1):
            t += 1 + int(rng.expovariate(1.0 / ACTIVITY_GAP_MS))
            if t >= self.end_ms:
                return
            contact.change(t, {"hs_analytics_num_page_views": str(views)})

    # -- asks ------------------------------------------------------------------------------------
    def ask(self, lead: LeadPlan, key: str, alt: str, requester: Owner, t: int, role: str) -> Draft:
        props: dict[str, Any] = {
            "hs_timestamp": hubspot_time(t),
            "hubspot_owner_id": requester.id,
            "ask_type": key,
            "ask_alternative": alt,
            "ask_outcome": "",
            "ask_outcome_at": "",
        }
        if lead.channel == "web":
            otype = "emails"
            subject = SUBJECTS[key] if not alt else f"{SUBJECTS[key]} Or: {SUBJECTS[alt]}"
            props.update(hs_email_direction="EMAIL", hs_email_status="SENT", hs_email_subject=subject)
        else:
            otype = "calls"
            props.update(
                hs_call_direction="OUTBOUND",
                hs_call_status="COMPLETED",
                hs_call_disposition=CALL_CONNECTED,
                hs_call_title=f"Call with {lead.first} {lead.last}",
                hs_call_duration=str((3 + (t // 1000) % 9) * 60_000),
            )
        draft = self.new(otype, t, props)
        assert lead.contact is not None
        draft.link(lead.contact)
        lead.asks.append((draft, role, key))
        return draft

    def answer(self, ask: Draft, outcome: str, t: int) -> None:
        ask.change(t, {"ask_outcome": outcome, "ask_outcome_at": hubspot_time(t)})

    def respond(self, lead: LeadPlan, ask: Draft, key: str, p_accept: float, rng: random.Random) -> None:
        """Accepted with `p_accept`; else no answer (share `no_response_share`) or declined."""
        accepted = rng.random() < p_accept
        silent = rng.random() < self.sc.no_response_share
        t = max(ask.created_ms + 1000, ask.created_ms + self.hours(rng, self.sc.response_delay_hours))
        if not accepted and silent:
            return
        if t > self.end_ms:
            return
        self.answer(ask, "accepted" if accepted else "declined", t)
        if accepted:
            self.accepted(lead, ask, key, t, rng)

    def accepted(self, lead: LeadPlan, ask: Draft, key: str, t: int, rng: random.Random) -> None:
        assert lead.contact is not None
        lead.contact.change(t, {"lifecyclestage": "salesqualifiedlead"})
        if rng.random() >= self.sc.booking_rate:
            return
        booked = t + rng.randrange(3 * MINUTE_MS, 24 * HOUR_MS)
        if booked <= self.end_ms:
            host = self._owners[ask.changes[0][1]["hubspot_owner_id"]]
            self.appointment(lead, ask, key, host, booked, None, rng)

    # -- strategies ------------------------------------------------------------------------------
    def plan(self, lead: LeadPlan, rng: random.Random) -> None:
        """All asks of one contacted lead, per its strategy."""
        sc = self.sc
        team = lead.owner.team_id
        t0 = self.business_time(lead.created_ms + self.hours(rng, sc.first_contact_delay_hours), team, rng)
        if t0 > self.end_ms:
            return
        target, large = sc.target_ask, sc.large_ask
        s = lead.strategy
        if s == "direct":
            self.respond(
                lead, self.ask(lead, target, "", lead.owner, t0, "target"), target, sc.acceptance[s], rng
            )
        elif s == "exposure_control":
            ask = self.ask(lead, target, large, lead.owner, t0, "target")
            self.respond(lead, ask, target, sc.acceptance[s], rng)
        elif s == "direct_large":
            self.respond(
                lead, self.ask(lead, large, "", lead.owner, t0, "target"), large, sc.acceptance[s], rng
            )
        else:
            requester = lead.owner
            if s == "door_in_the_face_other_requester":
                requester = rng.choice([o for o in self.org.team_owners[team] if o is not lead.owner])
            big = self.ask(lead, large, "", requester, t0, "large")
            t_ans = t0 + max(1000, self.hours(rng, sc.response_delay_hours))
            if t_ans > self.end_ms:
                return
            if rng.random() < sc.large_ask_acceptance:
                self.answer(big, "accepted", t_ans)
                self.accepted(lead, big, large, t_ans, rng)
                return
            self.answer(big, "declined", t_ans)
            bucket = rng.choices(list(sc.retreat_gap), weights=list(sc.retreat_gap.values()))[0]
            lead.retreat_gap = bucket
            t1 = self.retreat_time(t_ans, bucket, team, rng)
            if t1 > self.end_ms:
                return
            self.respond(
                lead, self.ask(lead, target, "", lead.owner, t1, "target"), target, sc.acceptance[s], rng
            )

    def retreat_time(self, declined_ms: int, bucket: str, team: str, rng: random.Random) -> int:
        """Declined + a gap from the bucket; moved into business hours only if it stays in the bucket."""
        lo, hi = GAP_RANGES[bucket]
        t = declined_ms + rng.randrange(lo, hi)
        snapped = self.business_time(t, team, rng)
        return snapped if lo <= snapped - declined_ms < hi else t

    # -- appointments ----------------------------------------------------------------------------
    def appointment(
        self,
        lead: LeadPlan,
        ask: Draft,
        key: str,
        host: Owner,
        booked: int,
        replaces: Any,
        rng: random.Random,
    ) -> None:
        """Book one appointment and draw its fate; a reschedule books the next one recursively."""
        sc = self.sc
        minutes = LADDER[key][1]
        start = self.business_time(booked + rng.randrange(DAY_MS, 10 * DAY_MS), lead.owner.team_id, rng)
        start -= start % (5 * MINUTE_MS)
        end = start + minutes * MINUTE_MS
        appt: Any
        event: CalendlyDraft | None
        if lead.channel == "mobile":
            appt, event = self._meeting(lead, key, host, booked, start, end), None
        else:
            appt, event = self._calendly(lead, key, host, booked, start, end, replaces)
        lead.appointments.append(
            ("meeting" if event is None else "calendly", appt, event, ask, key, replaces)
        )
        u = rng.random()
        before_start = booked + 1 + rng.randrange(max(1, start - booked - 1))
        if u < sc.cancellation_rate:
            if before_start <= self.end_ms:
                self._cancel(lead, appt, event, before_start, rng)
        elif u < sc.cancellation_rate + sc.reschedule_rate:
            if before_start <= self.end_ms:
                self._reschedule_mark(appt, event, before_start, lead)
                self.appointment(lead, ask, key, host, before_start, appt, rng)
        elif u < sc.cancellation_rate + sc.reschedule_rate + sc.no_show_rate:
            t = start + rng.randrange(15 * MINUTE_MS, 24 * HOUR_MS)
            if t <= self.end_ms:
                if event is None:
                    appt.change(t, {"hs_meeting_outcome": "NO_SHOW"})
                else:
                    appt.change(
                        t, {"no_show": {"uuid": self.ids.next("invitee_no_show"), "created_at_ms": t}}
                    )
        else:
            held_at = end
            if event is None:
                held_at = end + rng.randrange(5 * MINUTE_MS, 3 * HOUR_MS)
                if held_at > self.end_ms:
                    return
                appt.change(held_at, {"hs_meeting_outcome": "COMPLETED"})
            if rng.random() < sc.deal_rate:
                created = held_at + rng.randrange(HOUR_MS, 72 * HOUR_MS)
                if created <= self.end_ms and lead.deal is None:
                    self.deal(lead, key, created, rng)

    def _meeting(self, lead: LeadPlan, key: str, host: Owner, booked: int, start: int, end: int) -> Draft:
        d = self.new(
            "meetings",
            booked,
            {
                "hs_timestamp": hubspot_time(start),
                "hs_meeting_title": f"{LADDER[key][2]} with {lead.first} {lead.last}",
                "hs_activity_type": key,
                "hs_meeting_start_time": hubspot_time(start),
                "hs_meeting_end_time": hubspot_time(end),
                "hs_meeting_outcome": "SCHEDULED",
                "hubspot_owner_id": host.id,
            },
        )
        assert lead.contact is not None
        d.link(lead.contact)
        return d

    def _calendly(
        self, lead: LeadPlan, key: str, host: Owner, booked: int, start: int, end: int, replaces: Any
    ) -> tuple[CalendlyDraft, CalendlyDraft]:
        et = self.org.event_type_for[(host.calendly_uuid, key)]
        ev_uuid, inv_uuid = self.ids.next("scheduled_event"), self.ids.next("invitee")
        event = CalendlyDraft(
            "scheduled_event",
            ev_uuid,
            booked,
            {
                "uuid": ev_uuid,
                "event_type_uuid": et.uuid,
                "host_user_uuid": host.calendly_uuid,
                "host_email": host.email,
                "host_name": f"{host.first_name} {host.last_name}",
                "name": et.name,
                "start_ms": start,
                "end_ms": end,
                "location": {
                    "type": "google_conference",
                    "join_url": f"https://meet.example.com/{ev_uuid.lower()}",
                },
            },
            {"status": "active", "cancellation": None},
        )
        invitee = CalendlyDraft(
            "invitee",
            inv_uuid,
            booked,
            {
                "uuid": inv_uuid,
                "event_uuid": ev_uuid,
                "email": lead.email,
                "first_name": lead.first,
                "last_name": lead.last,
                "name": f"{lead.first} {lead.last}",
                "timezone": self.org.team_tz[lead.owner.team_id],
                "old_invitee": None
                if replaces is None
                else {"event_uuid": replaces.static["event_uuid"], "uuid": replaces.id},
            },
            {
                "status": "active",
                "cancellation": None,
                "rescheduled": False,
                "new_invitee": None,
                "no_show": None,
            },
        )
        self.events.append(event)
        self.invitees.append(invitee)
        return invitee, event

    def _cancel(self, lead: LeadPlan, appt: Any, event: Any, t: int, rng: random.Random) -> None:
        if event is None:
            appt.change(t, {"hs_meeting_outcome": "CANCELED"})
            return
        by_invitee = rng.random() < 0.7
        cancellation = {
            "canceled_by": f"{lead.first} {lead.last}" if by_invitee else event.static["host_name"],
            "reason": rng.choice(CANCEL_REASONS) or None,
            "canceler_type": "invitee" if by_invitee else "host",
            "created_at_ms": t,
        }
        event.change(t, {"status": "canceled", "cancellation": cancellation})
        appt.change(t, {"status": "canceled", "cancellation": cancellation})

    def _reschedule_mark(self, appt: Any, event: Any, t: int, lead: LeadPlan) -> None:
        if event is None:
            appt.change(t, {"hs_meeting_outcome": "RESCHEDULED"})
            return
        cancellation = {
            "canceled_by": f"{lead.first} {lead.last}",
            "reason": "Rescheduled",
            "canceler_type": "invitee",
            "created_at_ms": t,
        }
        event.change(t, {"status": "canceled", "cancellation": cancellation})
        # `new_invitee` is filled in by the replacement (see `link_reschedules`).
        appt.change(t, {"status": "canceled", "cancellation": cancellation, "rescheduled": True})

    # -- deals -----------------------------------------------------------------------------------
    def deal(self, lead: LeadPlan, key: str, created: int, rng: random.Random) -> None:
        close = created + rng.randrange(7 * DAY_MS, 60 * DAY_MS)
        won = rng.random() < self.sc.win_rate
        middle = [s[0] for s in DEAL_STAGES[1:5]]
        path = middle if won else middle[: rng.randrange(0, 5)]
        amount = {"intro_15": 2_500, "demo_30": 6_000, "workshop_60": 15_000}[key]
        d = self.new(
            "deals",
            created,
            {
                "dealname": f"{lead.last} ({lead.first}) - {LADDER[key][2]}",
                "amount": str(amount + 50 * rng.randrange(0, 100)),
                "pipeline": "default",
                "dealstage": "appointmentscheduled",
                "closedate": hubspot_time(close),
                "hubspot_owner_id": lead.owner.id,
            },
        )
        assert lead.contact is not None
        d.link(lead.contact)
        lead.deal = d
        lead.contact.change(created, {"lifecyclestage": "opportunity"})
        times = sorted(created + 1 + rng.randrange(close - created - 1) for _ in path)
        for stage, t in zip([*path, "closedwon" if won else "closedlost"], [*times, close], strict=True):
            if t > self.end_ms:
                break
            d.change(t, {"dealstage": stage})
            if stage == "closedwon":
                lead.contact.change(t, {"lifecyclestage": "customer"})


def link_reschedules(invitees: list[CalendlyDraft]) -> None:
    """Point each rescheduled invitee's `new_invitee` at its replacement (same version time)."""
    by_uuid = {d.id: d for d in invitees}
    for d in invitees:
        old = d.static.get("old_invitee")
        if old is None:
            continue
        previous = by_uuid[old["uuid"]]
        for _at, change in previous.changes:
            if change.get("rescheduled"):
                change["new_invitee"] = {"event_uuid": d.static["event_uuid"], "uuid": d.id}
