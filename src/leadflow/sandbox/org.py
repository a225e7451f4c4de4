"""The sales org of a sandbox world: teams, reps (HubSpot owners + Calendly users), event types, pipeline.

Follows `docs/data-contract.md` section 1: every rep is a HubSpot owner in exactly one team and a
Calendly user of one organization. Each rep owns one Calendly event type per ladder key
(`15 Minute Intro`, `30 Minute Demo`, `60 Minute Workshop`), as Calendly event types belong to users.
The deals pipeline is HubSpot's `default` pipeline with its standard stage ids.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from leadflow.sandbox.people import CalendlyIds, rep_email
from leadflow.sandbox.scenario import LADDER, Scenario
from leadflow.sandbox.world import EventType, Owner, Team, hubspot_time

DEAL_STAGES: tuple[tuple[str, str, str], ...] = (
    # (stage id, label, probability)
    ("appointmentscheduled", "Appointment Scheduled", "0.2"),
    ("qualifiedtobuy", "Qualified To Buy", "0.4"),
    ("presentationscheduled", "Presentation Scheduled", "0.6"),
    ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8"),
    ("contractsent", "Contract Sent", "0.9"),
    ("closedwon", "Closed Won", "1.0"),
    ("closedlost", "Closed Lost", "0.0"),
)
DAY_MS = 86_400_000
ORG_SETUP_DAYS = 120  # owners, event types and the pipeline exist this long before the world starts


@dataclass
class Org:
    """The generated org plus lookups the journey planner needs."""

    portal_id: int
    organization_uuid: str
    teams: list[Team]
    owners: list[Owner]
    team_owners: dict[str, list[Owner]]  # team id -> its reps
    team_tz: dict[str, str]  # team id -> IANA zone
    event_types: list[EventType]
    event_type_for: dict[tuple[str, str], EventType]  # (owner calendly uuid, ladder key) -> event type
    pipelines: list[dict[str, object]]


def build_org(scenario: Scenario, ids: CalendlyIds) -> Org:
    """Teams, owners, Calendly users and event types, and the deals pipeline (deterministic)."""
    rng = random.Random(f"{scenario.seed}:org")
    setup_ms = scenario.start_ms - ORG_SETUP_DAYS * DAY_MS
    organization_uuid = ids.next("organization")
    teams: list[Team] = []
    owners: list[Owner] = []
    team_owners: dict[str, list[Owner]] = {}
    for ti, spec in enumerate(scenario.teams):
        team = Team(id=str(4_100 + ti + 1), name=spec.name, timezone=spec.timezone)
        teams.append(team)
        team_owners[team.id] = []
        for name in spec.reps:
            n = len(owners)
            first, _, last = name.partition(" ")
            owner = Owner(
                id=str(31_000_000 + 17 * n + 1),
                user_id=7_500_000 + n + 1,
                email=rep_email(name),
                first_name=first,
                last_name=last or first,
                team_id=team.id,
                team_name=team.name,
                created_ms=setup_ms + rng.randrange(DAY_MS * 30),
                calendly_uuid=ids.next("user"),
            )
            owners.append(owner)
            team_owners[team.id].append(owner)
    event_types: list[EventType] = []
    event_type_for: dict[tuple[str, str], EventType] = {}
    for owner in owners:
        for key, (_level, minutes, label) in LADDER.items():
            created = owner.created_ms + rng.randrange(DAY_MS)
            et = EventType(
                uuid=ids.next("event_type"),
                name=label,
                slug=label.lower().replace(" ", "-"),
                duration_min=minutes,
                owner_uuid=owner.calendly_uuid,
                ask_key=key,
                created_ms=created,
                updated_ms=created,
            )
            event_types.append(et)
            event_type_for[(owner.calendly_uuid, key)] = et
    return Org(
        portal_id=rng.randrange(10_000_000, 99_999_999),
        organization_uuid=organization_uuid,
        teams=teams,
        owners=owners,
        team_owners=team_owners,
        team_tz={t.id: t.timezone for t in teams},
        event_types=event_types,
        event_type_for=event_type_for,
        pipelines=[_default_pipeline(setup_ms)],
    )


def _default_pipeline(created_ms: int) -> dict[str, object]:
    """HubSpot's `default` deals pipeline in the shape of `GET /crm/v3/pipelines/deals`."""
    at = hubspot_time(created_ms)
    stages = [
        {
            "id": sid,
            "label": label,
            "displayOrder": i,
            "metadata": {"isClosed": "true" if sid.startswith("closed") else "false", "probability": prob},
            "createdAt": at,
            "updatedAt": at,
            "archived": False,
        }
        for i, (sid, label, prob) in enumerate(DEAL_STAGES)
    ]
    return {
        "id": "default",
        "label": "Sales Pipeline",
        "displayOrder": 0,
        "createdAt": at,
        "updatedAt": at,
        "archived": False,
        "stages": stages,
    }
