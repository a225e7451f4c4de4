"""Deterministic world generation: `generate_world(scenario) -> World` (and `load_scenario(path)`).

Order of work: the org (`org.py`), the lead arrivals (Poisson per UTC day), then per lead its
contact, sheet rows, churn (delete / merge / update), journey and tracked activity (`journeys.py`),
then the drafts become records with ids and versions (`drafts.py`), and the truth is computed from
the finished world (`truth.py`). Semantics: `/work/team/world-semantics.md`; record shapes: `docs/data-contract.md`.

Randomness comes from separate `random.Random` streams per concern (org, arrivals, people, sheet)
and per lead (churn, journey), all derived from the seed, so changing one knob does not reshuffle
unrelated parts of the world. Same scenario -> same world, byte for byte.
"""

from __future__ import annotations

import bisect
import gc
import hashlib
import itertools
import math
import random
from collections.abc import Callable

from leadflow.sandbox.drafts import materialize_calendly, materialize_hubspot
from leadflow.sandbox.journeys import MINUTE_MS, JourneyPlanner, LeadPlan, link_reschedules
from leadflow.sandbox.org import DAY_MS, Org, build_org
from leadflow.sandbox.people import CalendlyIds, PersonFactory
from leadflow.sandbox.scenario import STRATEGIES, Scenario, load_scenario
from leadflow.sandbox.sheet import SHEET_COLUMNS, SheetWriter
from leadflow.sandbox.truth import compute_truth
from leadflow.sandbox.world import AppointmentLink, AskLink, Journey, World

__all__ = ["ProgressFn", "generate_world", "load_scenario"]

ProgressFn = Callable[[str, int, int], None]  # (phase, done, total)
FORM_TO_CRM_MS = (MINUTE_MS, 30 * MINUTE_MS)  # a form submission reaches the CRM this much later


def _stream_base(seed: int, concern: str) -> int:
    """A 64-bit integer seed for per-lead streams of one concern."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{concern}".encode()).digest()[:8], "big")


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam < 30:
        limit, k, p = math.exp(-lam), 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    return max(0, round(rng.gauss(lam, math.sqrt(lam))))


def draw_arrivals(scenario: Scenario, org: Org) -> tuple[list[LeadPlan], PersonFactory]:
    """When leads arrive, on which channel, from which source, with which owner and strategy."""
    sc = scenario
    rng = random.Random(f"{sc.seed}:arrivals")
    people = PersonFactory(random.Random(f"{sc.seed}:people"))
    cumulative = list(itertools.accumulate(sc.strategy_mix[s] for s in STRATEGIES))
    leads: list[LeadPlan] = []
    day = sc.start_ms
    while day < sc.end_ms:
        length = min(DAY_MS, sc.end_ms - day)
        weekday = ((day // DAY_MS) + 3) % 7 < 5  # 1970-01-01 was a Thursday
        rate = (sc.leads_per_day.weekday if weekday else sc.leads_per_day.weekend) * length / DAY_MS
        for t in sorted(day + rng.randrange(length) for _ in range(_poisson(rng, rate))):
            channel = "web" if rng.random() < sc.channel_mix["web"] else "mobile"
            owner = org.owners[rng.randrange(len(org.owners))]
            u_strategy, u_source, delay = rng.random(), rng.random(), rng.randrange(*FORM_TO_CRM_MS)
            strategy = STRATEGIES[min(bisect.bisect_right(cumulative, u_strategy * cumulative[-1]), 4)]
            if channel == "web":
                source = "form" if u_source < sc.sheet.share else "inbound"
            else:
                source = "outbound_list" if u_source < sc.mobile_outbound_share else "inbound"
            created = t + delay if source == "form" else t
            if created >= sc.end_ms:
                created = t + (sc.end_ms - t) // 2
            first, last = people.person()
            leads.append(
                LeadPlan(
                    index=len(leads),
                    arrival_ms=t,
                    created_ms=created,
                    channel=channel,
                    lead_source=source,
                    owner=owner,
                    strategy=strategy,
                    first=first,
                    last=last,
                    email=people.email(first, last),
                    phone=people.phone(),
                )
            )
        day += length
    return leads, people


def generate_world(scenario: Scenario, *, progress: ProgressFn | None = None) -> World:
    """Build the whole world of a scenario, with its truth in `World.truth` (deterministic).

    `progress(phase, done, total)` is called now and then with phase `leads`, `records` or `truth`.
    """
    # Millions of small, long-lived objects: the cyclic GC would rescan them over and over.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _generate(scenario, progress)
    finally:
        if was_enabled:
            gc.enable()


def _generate(scenario: Scenario, progress: ProgressFn | None) -> World:
    sc = scenario
    ids = CalendlyIds(sc.seed)
    org = build_org(sc, ids)
    leads, people = draw_arrivals(sc, org)
    planner = JourneyPlanner(sc, org, ids)
    sheet = SheetWriter(sc, people)
    churn_base, journey_base = _stream_base(sc.seed, "churn"), _stream_base(sc.seed, "journey")
    activity_base, activity_mean = _stream_base(sc.seed, "activity"), sc.contacts.activity_updates
    total = len(leads)
    for lead in leads:
        planner.contact(lead)
        if lead.lead_source == "form":
            sheet.add_lead(lead)
        churn_rng = random.Random(churn_base + lead.index)
        planner.churn(lead, churn_rng, people)
        if not lead.deleted and churn_rng.random() < sc.contact_rate:
            planner.plan(lead, random.Random(journey_base + lead.index))
        if not lead.deleted and activity_mean > 0:
            # its own stream, drawn only when the knob is set: worlds without it stay byte-identical
            activity_rng = random.Random(activity_base + lead.index)
            planner.activity(lead, _poisson(activity_rng, activity_mean), activity_rng)
        if progress is not None and (lead.index % 1000 == 999 or lead.index == total - 1):
            progress("leads", lead.index + 1, total)
    link_reschedules(planner.invitees)
    if progress is not None:
        progress("records", 0, 1)
    hubspot = materialize_hubspot(planner.drafts, sc.end_ms)
    events = materialize_calendly(planner.events, sc.end_ms)
    invitees = materialize_calendly(planner.invitees, sc.end_ms)
    if progress is not None:
        progress("records", 1, 1)
    world = World(
        seed=sc.seed,
        start_ms=sc.start_ms,
        end_ms=sc.end_ms,
        portal_id=org.portal_id,
        organization_uuid=org.organization_uuid,
        teams=org.teams,
        owners=org.owners,
        pipelines=org.pipelines,
        hubspot=hubspot,
        event_types=org.event_types,
        events=events,
        invitees=invitees,
        sheet_columns=list(SHEET_COLUMNS),
        sheet_rows=sheet.rows(),
        clock_initial_ms=sc.clock_initial_ms,
        scenario=sc,
        journeys=_journeys(leads),
    )
    world.truth = compute_truth(world, sc)
    if progress is not None:
        progress("truth", 1, 1)
    return world


def _journeys(leads: list[LeadPlan]) -> list[Journey]:
    """Ground-truth journeys of the leads (live contacts), ascending by contact id."""
    out: list[Journey] = []
    for lead in leads:
        if lead.deleted or lead.contact is None:
            continue
        j = Journey(
            contact_id=lead.contact.id,
            channel=lead.channel,
            lead_source=lead.lead_source,
            team_id=lead.owner.team_id,
            owner_id=lead.owner.id,
            strategy=lead.strategy,
            retreat_gap=lead.retreat_gap,
            asks=[AskLink(d.otype, d.id, role, key) for d, role, key in lead.asks],
            deal_id=lead.deal.id if lead.deal is not None else None,
        )
        for source, appt, event, ask, key, replaces in lead.appointments:
            j.appointments.append(
                AppointmentLink(
                    source=source,
                    id=appt.id,
                    event_uuid=event.id if event is not None else None,
                    ask_id=ask.id,
                    ask_key=key,
                    replaces=replaces.id if replaces is not None else None,
                )
            )
        out.append(j)
    out.sort(key=lambda j: int(j.contact_id))
    return out
