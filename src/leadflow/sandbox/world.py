"""The sandbox world: every record of a synthetic sales organisation with its whole version history.

The generator (`leadflow.sandbox.generate`) builds a `World` from a scenario; the HTTP imitations
(`leadflow.sandbox.server`) serve it as it stands at the sandbox clock; the webhook sender replays
its changes. Nothing here knows about HTTP.

Time is epoch milliseconds (UTC) everywhere. A record is visible at clock `t` when
`created_ms <= t`; its current version is the last one with `at_ms <= t`; it is archived at `t`
when `archived_ms <= t` (then only `archived=true` lists show it). Versions hold the *whole*
property set of the record at that moment, HubSpot-style: every value a string.
"""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field
from typing import Any

HUBSPOT_OBJECTS = ("contacts", "deals", "meetings", "calls", "emails")
HUBSPOT_OBJECT_TYPE_IDS = {
    "contacts": "0-1",
    "deals": "0-3",
    "meetings": "0-47",
    "calls": "0-48",
    "emails": "0-49",
}
# The search endpoint filters/sorts contacts on `lastmodifieddate`, everything else on `hs_lastmodifieddate`.
LAST_MODIFIED_PROPERTY = {
    "contacts": "lastmodifieddate",
    "deals": "hs_lastmodifieddate",
    "meetings": "hs_lastmodifieddate",
    "calls": "hs_lastmodifieddate",
    "emails": "hs_lastmodifieddate",
}
CREATED_PROPERTY = {
    "contacts": "createdate",
    "deals": "createdate",
    "meetings": "hs_createdate",
    "calls": "hs_createdate",
    "emails": "hs_createdate",
}


def hubspot_time(ms: int) -> str:
    """Epoch ms -> HubSpot's ISO-8601 form with milliseconds and `Z` (`2025-01-06T09:30:00.123Z`)."""
    t = time.gmtime(ms // 1000)
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
        f".{ms % 1000:03d}Z"
    )


def calendly_time(ms: int) -> str:
    """Epoch ms -> Calendly's ISO-8601 form with six fractional digits (`…T09:30:00.123000Z`)."""
    return hubspot_time(ms)[:-1] + "000Z"


@dataclass(slots=True)
class Version:
    """One state of a record, current from `at_ms` until the next version."""

    at_ms: int
    properties: dict[str, Any]


@dataclass(slots=True)
class Record:
    """A record with history. Used for HubSpot objects and for Calendly events and invitees.

    For HubSpot, `properties` values are strings and include `hs_object_id`, the created and the
    last-modified property. For Calendly, `properties` holds the mutable fields of the resource
    (status, cancellation, no_show, rescheduled, ...); immutable fields live in `static`.
    """

    kind: str
    id: str
    created_ms: int
    versions: list[Version]
    archived_ms: int | None = None
    merged_into: str | None = None
    associations: dict[str, list[str]] = field(default_factory=dict)
    static: dict[str, Any] = field(default_factory=dict)

    def version_at(self, t_ms: int) -> Version | None:
        """The version current at `t_ms`, or None when the record does not exist yet."""
        if t_ms < self.created_ms:
            return None
        keys = [v.at_ms for v in self.versions]
        i = bisect.bisect_right(keys, t_ms) - 1
        return self.versions[i] if i >= 0 else None

    def versions_until(self, t_ms: int) -> list[Version]:
        """All versions that have become current by `t_ms` (oldest first)."""
        return [v for v in self.versions if v.at_ms <= t_ms]

    def is_archived_at(self, t_ms: int) -> bool:
        return self.archived_ms is not None and self.archived_ms <= t_ms

    def last_change_ms(self, t_ms: int) -> int | None:
        """Time of the latest change visible at `t_ms` (a version or the archive), or None."""
        v = self.version_at(t_ms)
        if v is None:
            return None
        return max(v.at_ms, self.archived_ms) if self.is_archived_at(t_ms) else v.at_ms  # type: ignore[type-var]


@dataclass(slots=True)
class Owner:
    """A HubSpot owner (a rep). Teams carry the time zone of the distributed team."""

    id: str
    user_id: int
    email: str
    first_name: str
    last_name: str
    team_id: str
    team_name: str
    created_ms: int
    calendly_uuid: str


@dataclass(slots=True)
class Team:
    id: str
    name: str
    timezone: str


@dataclass(slots=True)
class EventType:
    """A Calendly event type; `ask_key` is the ladder key its name maps to (a seed in dbt)."""

    uuid: str
    name: str
    slug: str
    duration_min: int
    owner_uuid: str
    ask_key: str
    created_ms: int
    updated_ms: int


@dataclass(slots=True)
class SheetRow:
    """One row of the published lead sheet, appearing at `added_ms`."""

    added_ms: int
    values: dict[str, str]
    defect: str | None = (
        None  # ground truth for malformed rows (missing_email|invalid_email|bad_date); not served
    )


@dataclass(slots=True)
class AskLink:
    """Ground truth about one ask of a lead (never served): which engagement, and its role.

    `role` is `target` for the ask a strategy is measured on (for `direct_large` the large ask) and
    `large` for the large ask that precedes the retreat in the door-in-the-face strategies.
    """

    object_type: str  # "calls" | "emails"
    id: str
    role: str
    ask_key: str


@dataclass(slots=True)
class AppointmentLink:
    """Ground truth about one appointment: where it lives and which ask produced it.

    `source` is `meeting` (HubSpot meeting id in `id`) or `calendly` (invitee uuid in `id`, event
    uuid in `event_uuid`). `replaces` is the `id` of the appointment this one reschedules.
    """

    source: str
    id: str
    event_uuid: str | None
    ask_id: str
    ask_key: str
    replaces: str | None = None


@dataclass(slots=True)
class Journey:
    """Ground truth for one lead (a live contact at the world end); used for the truth file and tests."""

    contact_id: str
    channel: str
    lead_source: str
    team_id: str
    owner_id: str
    strategy: str
    retreat_gap: str | None = None  # planted bucket for the door-in-the-face strategies
    asks: list[AskLink] = field(default_factory=list)
    appointments: list[AppointmentLink] = field(default_factory=list)
    deal_id: str | None = None


@dataclass
class World:
    """Everything the sandbox serves, plus the clock range it was generated for."""

    seed: int
    start_ms: int
    end_ms: int
    portal_id: int
    organization_uuid: str
    teams: list[Team]
    owners: list[Owner]
    pipelines: list[dict[str, Any]]
    hubspot: dict[str, list[Record]]  # object type -> records, ascending by int(id)
    event_types: list[EventType]
    events: list[Record]  # Calendly scheduled events (kind "scheduled_event")
    invitees: list[Record]  # Calendly invitees (kind "invitee"); static["event_uuid"] links them
    sheet_columns: list[str]
    sheet_rows: list[SheetRow]
    truth: dict[str, Any] = field(default_factory=dict)
    # Added by the generator (defaults keep hand-built worlds working):
    clock_initial_ms: int | None = None  # where the sandbox clock starts; None = end_ms
    scenario: Any = None  # the `leadflow.sandbox.scenario.Scenario` it came from (limits, faults)
    journeys: list[Journey] = field(default_factory=list)  # one per lead, ground truth only
    _index: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def hubspot_record(self, object_type: str, record_id: str) -> Record | None:
        """Look a HubSpot record up by id (cached binary-search index over the ascending list)."""
        records = self.hubspot[object_type]
        key = f"hubspot:{object_type}"
        cached = self._index.get(key)
        if cached is None or cached[0] != len(records):
            cached = (len(records), [int(r.id) for r in records])
            self._index[key] = cached
        ids = cached[1]
        try:
            wanted = int(record_id)
        except ValueError:
            return None
        i = bisect.bisect_left(ids, wanted)
        return records[i] if i < len(records) and records[i].id == record_id else None

    def calendly_event(self, uuid: str) -> Record | None:
        """A Calendly scheduled event by uuid."""
        return self._by_uuid("events", self.events).get(uuid)

    def calendly_invitee(self, uuid: str) -> Record | None:
        """A Calendly invitee by uuid."""
        return self._by_uuid("invitees", self.invitees).get(uuid)

    def invitees_of(self, event_uuid: str) -> list[Record]:
        """The invitees of one scheduled event (oldest first)."""
        key = "invitees_of"
        cached = self._index.get(key)
        if cached is None or cached[0] != len(self.invitees):
            grouped: dict[str, list[Record]] = {}
            for r in self.invitees:
                grouped.setdefault(r.static["event_uuid"], []).append(r)
            cached = (len(self.invitees), grouped)
            self._index[key] = cached
        return list(cached[1].get(event_uuid, []))

    @property
    def clock_start_ms(self) -> int:
        """The sandbox clock's starting point (`clock.initial` of the scenario; default the end)."""
        return self.end_ms if self.clock_initial_ms is None else self.clock_initial_ms

    def _by_uuid(self, name: str, records: list[Record]) -> dict[str, Record]:
        cached = self._index.get(name)
        if cached is None or cached[0] != len(records):
            cached = (len(records), {r.id: r for r in records})
            self._index[name] = cached
        return cached[1]
