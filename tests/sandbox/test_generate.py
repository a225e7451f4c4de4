"""The world generator: determinism, world invariants, truth consistency, planted rates recovered."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import math
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest

from leadflow.sandbox.export import FILE_COUNT, truth_bytes, write_world
from leadflow.sandbox.generate import generate_world
from leadflow.sandbox.journeys import GAP_RANGES
from leadflow.sandbox.scenario import STRATEGIES, load_scenario, parse_scenario
from leadflow.sandbox.truth import FUNNEL
from leadflow.sandbox.world import (
    CREATED_PROPERTY,
    HUBSPOT_OBJECTS,
    LAST_MODIFIED_PROPERTY,
    Journey,
    Record,
    World,
    hubspot_time,
)

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "scenarios" / "tiny.yaml"
DAY = 86_400_000
HOUR = 3_600_000
CALENDLY_ID = re.compile(r"^[A-Z0-9]{16}$")

# A medium world for rate recovery: ~9k leads, even strategy mix, rates away from 0 and 1.
MEDIUM = {
    "seed": 4242,
    "start": "2025-01-06",
    "end": "2025-04-28",
    "leads_per_day": {"weekday": 90, "weekend": 30},
    "strategy_mix": {
        "direct": 0.2,
        "door_in_the_face": 0.2,
        "door_in_the_face_other_requester": 0.2,
        "exposure_control": 0.2,
        "direct_large": 0.2,
    },
    "acceptance": {
        "direct": 0.2,
        "door_in_the_face": 0.45,
        "door_in_the_face_other_requester": 0.25,
        "exposure_control": 0.3,
        "direct_large": 0.1,
    },
    "large_ask_acceptance": 0.15,
    "no_response_share": 0.35,
    "retreat_gap": {"same_day": 0.4, "within_week": 0.4, "later": 0.2},
    "booking_rate": 0.7,
    "cancellation_rate": 0.15,
    "reschedule_rate": 0.15,
    "no_show_rate": 0.2,
    "deal_rate": 0.5,
    "win_rate": 0.4,
    "contacts": {"delete_rate": 0.05, "merge_rate": 0.06, "update_rate": 0.3},
    "sheet": {"share": 0.6, "bad_rows": 0.08},
}


@pytest.fixture(scope="module")
def tiny() -> World:
    return generate_world(load_scenario(TINY))


@pytest.fixture(scope="module")
def edge() -> World:
    """Corner cases: a 30-hour world starting mid-day, heavy churn, zero delays, one-rep team."""
    return generate_world(
        parse_scenario(
            {
                "seed": 5,
                "start": "2025-01-10T13:30:00Z",
                "end": "2025-01-11T19:30:00Z",
                "leads_per_day": 400,
                "teams": [{"name": "Solo", "timezone": "Asia/Kolkata", "reps": 1}],
                "strategy_mix": {"direct": 0.5, "door_in_the_face": 0.5},
                "response_delay_hours": 0,
                "first_contact_delay_hours": 0,
                "retreat_gap": {"same_day": 1},
                "contacts": {"delete_rate": 0.3, "merge_rate": 0.5, "update_rate": 1},
                "sheet": {"share": 1, "bad_rows": 0.5},
            }
        )
    )


@pytest.fixture(scope="module")
def medium() -> World:
    return generate_world(parse_scenario(MEDIUM, source="medium"))


def _state(rec: Record, t: int) -> dict:
    v = rec.version_at(t)
    assert v is not None
    return v.properties


def _ms(iso: str) -> int:
    return int(dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def _within(hits: int, n: int, p: float, z: float = 4.0) -> bool:
    """Binomial check: the observed share is within z standard errors (+ one count) of p."""
    assert n > 50, f"too few trials ({n}) for a rate check"
    return abs(hits / n - p) <= z * math.sqrt(p * (1 - p) / n) + 1 / n


# -- determinism --------------------------------------------------------------------------------


def _run_cli(out: Path, hashseed: str) -> None:
    env = {**os.environ, "PYTHONHASHSEED": hashseed}
    subprocess.run(
        [sys.executable, "-m", "leadflow", "sandbox", "generate", "--scenario", str(TINY), "--out", str(out)],
        check=True,
        capture_output=True,
        env=env,
        timeout=120,
    )


def test_same_seed_gives_byte_identical_files_across_processes(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    _run_cli(a, "1")
    _run_cli(b, "2")  # a different hash seed must not change anything
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b and len(files_a) == FILE_COUNT
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    truth = orjson.loads((a / "truth.json").read_bytes())
    assert truth["scenario"]["name"] == "tiny"


def test_same_seed_same_truth_in_process_and_different_seed_differs() -> None:
    sc = load_scenario(ROOT / "scenarios" / "example.yaml")
    first, second = generate_world(sc), generate_world(sc)
    assert truth_bytes(first) == truth_bytes(second)
    other = generate_world(parse_scenario({**sc.to_dict(), "seed": sc.seed + 1}))
    assert truth_bytes(other) != truth_bytes(first)
    assert other.truth["funnel"] != first.truth["funnel"]


def test_changing_one_knob_keeps_the_arrivals() -> None:
    """Sub-streams: a different win rate leaves leads, emails and asks untouched."""
    base = parse_scenario({"seed": 9, "leads_per_day": 20})
    tweaked = parse_scenario({"seed": 9, "leads_per_day": 20, "win_rate": 0.9})
    a, b = generate_world(base), generate_world(tweaked)
    emails = lambda w: [_state(r, w.end_ms)["email"] for r in w.hubspot["contacts"]]  # noqa: E731
    assert emails(a) == emails(b)
    assert [r.created_ms for r in a.hubspot["emails"]] == [r.created_ms for r in b.hubspot["emails"]]


# -- the world's invariants ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tiny", "medium", "edge"])
def test_hubspot_records_are_well_formed(name: str, request: pytest.FixtureRequest) -> None:
    world: World = request.getfixturevalue(name)
    for otype in HUBSPOT_OBJECTS:
        records = world.hubspot[otype]
        ids = [int(r.id) for r in records]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        assert [r.created_ms for r in records] == sorted(r.created_ms for r in records)  # ids follow creation
        modified, created = LAST_MODIFIED_PROPERTY[otype], CREATED_PROPERTY[otype]
        for r in records:
            assert r.versions and r.versions[0].at_ms == r.created_ms
            times = [v.at_ms for v in r.versions]
            assert all(a < b for a, b in itertools.pairwise(times)), r.id
            assert times[-1] <= world.end_ms
            assert r.archived_ms is None or r.created_ms < r.archived_ms <= world.end_ms
            for v in r.versions:
                assert all(isinstance(x, str) for x in v.properties.values()), (otype, r.id)
                assert v.properties[modified] == hubspot_time(v.at_ms)
                assert v.properties[created] == hubspot_time(r.created_ms)
                assert v.properties["hs_object_id"] == r.id
            assert world.hubspot_record(otype, r.id) is r


def test_associations_exist_and_are_symmetric(medium: World) -> None:
    for otype in HUBSPOT_OBJECTS:
        for r in medium.hubspot[otype]:
            for other_type, ids in r.associations.items():
                for oid in ids:
                    other = medium.hubspot_record(other_type, oid)
                    assert other is not None, (otype, r.id, other_type, oid)
                    assert r.id in other.associations.get(otype, [])
    for otype in ("calls", "emails", "meetings", "deals"):
        for r in medium.hubspot[otype]:
            assert len(r.associations["contacts"]) == 1


@pytest.mark.parametrize("name", ["medium", "edge"])
def test_merged_duplicates_are_archived_and_listed_by_the_survivor(
    name: str, request: pytest.FixtureRequest
) -> None:
    medium: World = request.getfixturevalue(name)
    end = medium.end_ms
    merged = [r for r in medium.hubspot["contacts"] if r.merged_into is not None]
    assert merged
    for dup in merged:
        assert dup.is_archived_at(end) and not dup.associations
        survivor = medium.hubspot_record("contacts", dup.merged_into)
        assert survivor is not None and not survivor.is_archived_at(end)
        assert dup.id in _state(survivor, end)["hs_merged_object_ids"].split(";")
        assert survivor.created_ms < dup.created_ms
        # the survivor's merge version is at the duplicate's archive time
        assert any(
            v.at_ms == dup.archived_ms and dup.id in v.properties.get("hs_merged_object_ids", "")
            for v in survivor.versions
        )
    survivors = [r for r in medium.hubspot["contacts"] if "hs_merged_object_ids" in _state(r, end)]
    assert len(survivors) == len(merged)
    live_emails = [_state(r, end)["email"] for r in medium.hubspot["contacts"] if not r.is_archived_at(end)]
    assert len(live_emails) == len(set(live_emails))


@pytest.mark.parametrize("name", ["medium", "edge"])
def test_journeys_are_exactly_the_live_contacts(name: str, request: pytest.FixtureRequest) -> None:
    medium: World = request.getfixturevalue(name)
    live = [r.id for r in medium.hubspot["contacts"] if not r.is_archived_at(medium.end_ms)]
    assert [j.contact_id for j in medium.journeys] == live


def test_calendly_records_and_reschedule_links(medium: World) -> None:
    end = medium.end_ms
    owners = {o.calendly_uuid for o in medium.owners}
    types = {et.uuid: et for et in medium.event_types}
    all_ids = [medium.organization_uuid, *owners, *types, *(e.id for e in medium.events)]
    all_ids += [i.id for i in medium.invitees]
    assert all(CALENDLY_ID.match(u) for u in all_ids)
    assert len(all_ids) == len(set(all_ids))
    for rec in [*medium.events, *medium.invitees]:
        times = [v.at_ms for v in rec.versions]
        assert times[0] == rec.created_ms and all(a < b for a, b in itertools.pairwise(times))
        assert times[-1] <= end
    for ev in medium.events:
        et = types[ev.static["event_type_uuid"]]
        assert et.owner_uuid == ev.static["host_user_uuid"] in owners
        assert ev.static["end_ms"] - ev.static["start_ms"] == et.duration_min * 60_000
        assert len(medium.invitees_of(ev.id)) == 1
    rescheduled = 0
    for inv in medium.invitees:
        event = medium.calendly_event(inv.static["event_uuid"])
        assert event is not None and event.created_ms == inv.created_ms
        state = _state(inv, end)
        if state["rescheduled"]:
            rescheduled += 1
            new = medium.calendly_invitee(state["new_invitee"]["uuid"])
            assert new is not None and new.static["event_uuid"] == state["new_invitee"]["event_uuid"]
            assert new.static["old_invitee"] == {"event_uuid": inv.static["event_uuid"], "uuid": inv.id}
            moved_at = next(v.at_ms for v in inv.versions if v.properties["rescheduled"])
            assert new.created_ms == moved_at
            assert state["status"] == "canceled" and _state(event, end)["status"] == "canceled"
        if inv.static["old_invitee"] is not None:
            old = medium.calendly_invitee(inv.static["old_invitee"]["uuid"])
            assert old is not None and _state(old, end)["new_invitee"]["uuid"] == inv.id
        if state["no_show"]:
            assert state["no_show"]["created_at_ms"] > event.static["start_ms"]
    assert rescheduled > 0


@pytest.mark.parametrize("name", ["medium", "edge"])
def test_nothing_happens_after_the_end(name: str, request: pytest.FixtureRequest) -> None:
    medium: World = request.getfixturevalue(name)
    end = medium.end_ms
    assert all(row.added_ms <= end for row in medium.sheet_rows)
    for otype in HUBSPOT_OBJECTS:
        assert all(r.versions[-1].at_ms <= end for r in medium.hubspot[otype])


def _asks(world: World, j: Journey) -> list[tuple[str, dict, Record]]:
    out = []
    for a in j.asks:
        rec = world.hubspot_record(a.object_type, a.id)
        assert rec is not None
        out.append((a.role, _state(rec, world.end_ms), rec))
    return out


@pytest.mark.parametrize("name", ["medium", "edge"])
def test_asks_follow_the_strategy_semantics(name: str, request: pytest.FixtureRequest) -> None:
    medium: World = request.getfixturevalue(name)
    sc = medium.scenario
    tz = {t.id: ZoneInfo(t.timezone) for t in medium.teams}
    owner_team = {o.id: o.team_id for o in medium.owners}
    for j in medium.journeys:
        asks = _asks(medium, j)
        if not asks:
            continue
        first_role, first, first_rec = asks[0]
        local = dt.datetime.fromtimestamp(first_rec.created_ms / 1000, tz[j.team_id])
        assert local.weekday() < 5 and 9 <= local.hour < 17  # business hours of the lead's team
        channel_type = "emails" if j.channel == "web" else "calls"
        assert all(a.object_type == channel_type for a in j.asks)
        for _role, props, rec in asks:
            assert props["hs_timestamp"] == hubspot_time(rec.created_ms)
            if props["ask_outcome"]:
                answered = next(v for v in rec.versions if v.properties["ask_outcome"])
                assert props["ask_outcome_at"] == hubspot_time(answered.at_ms)
        if j.strategy in ("door_in_the_face", "door_in_the_face_other_requester"):
            assert first_role == "large" and first["ask_type"] == sc.large_ask
            same = first["hubspot_owner_id"] == j.owner_id
            assert same == (j.strategy == "door_in_the_face")
            assert owner_team[first["hubspot_owner_id"]] == j.team_id
            if len(asks) == 2:
                assert first["ask_outcome"] == "declined"
                role, target, _ = asks[1]
                assert role == "target" and target["ask_type"] == sc.target_ask
                assert target["hubspot_owner_id"] == j.owner_id
                gap = _ms(target["hs_timestamp"]) - _ms(first["ask_outcome_at"])
                assert j.retreat_gap is not None
                lo, hi = GAP_RANGES[j.retreat_gap]
                assert lo <= gap < hi
        elif j.strategy == "exposure_control":
            assert (first["ask_type"], first["ask_alternative"]) == (sc.target_ask, sc.large_ask)
        elif j.strategy == "direct_large":
            assert (first["ask_type"], first["ask_alternative"]) == (sc.large_ask, "")
        else:
            assert (first["ask_type"], first["ask_alternative"]) == (sc.target_ask, "")


@pytest.mark.parametrize("name", ["medium", "edge"])
def test_appointments_belong_to_the_latest_accepted_ask(name: str, request: pytest.FixtureRequest) -> None:
    medium: World = request.getfixturevalue(name)
    end = medium.end_ms
    for j in medium.journeys:
        contact = medium.hubspot_record("contacts", j.contact_id)
        assert contact is not None
        email = _state(contact, end)["email"]
        for a in j.appointments:
            ask = next(x for x in j.asks if x.id == a.ask_id)
            ask_rec = medium.hubspot_record(ask.object_type, ask.id)
            assert ask_rec is not None
            answer = next(v for v in ask_rec.versions if v.properties["ask_outcome"] == "accepted")
            if a.source == "meeting":
                rec = medium.hubspot_record("meetings", a.id)
                assert rec is not None and j.contact_id in rec.associations["contacts"]
                assert rec.versions[0].properties["hs_activity_type"] == a.ask_key
            else:
                rec = medium.calendly_invitee(a.id)
                assert rec is not None and rec.static["email"] == email
            assert rec.created_ms > answer.at_ms


@pytest.mark.parametrize("name", ["medium", "edge"])
def test_sheet_rows_match_form_leads(name: str, request: pytest.FixtureRequest) -> None:
    medium: World = request.getfixturevalue(name)
    end = medium.end_ms
    form_emails = {
        _state(medium.hubspot_record("contacts", j.contact_id), end)["email"]
        for j in medium.journeys
        if j.lead_source == "form"
    }
    good = [r for r in medium.sheet_rows if r.defect is None]
    good_emails = {r.values["email"] for r in good}
    assert form_emails <= good_emails
    for r in medium.sheet_rows:
        assert list(r.values) == medium.sheet_columns
        if r.defect == "missing_email":
            assert r.values["email"] == ""
        elif r.defect == "invalid_email":
            assert not re.match(r"^[^@\s()]+@[^@\s()]+\.[a-z]+$", r.values["email"])
        elif r.defect == "bad_date":
            with pytest.raises(ValueError):
                dt.datetime.strptime(r.values["submitted_at"], "%Y-%m-%dT%H:%M:%SZ")
        else:
            assert "@" in r.values["email"]
            assert dt.datetime.strptime(r.values["submitted_at"], "%Y-%m-%dT%H:%M:%SZ")


# -- the truth ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tiny", "medium", "edge"])
def test_truth_is_internally_consistent(name: str, request: pytest.FixtureRequest) -> None:
    world: World = request.getfixturevalue(name)
    t = world.truth
    funnel = [t["funnel"][s] for s in FUNNEL]
    assert all(a >= b for a, b in itertools.pairwise(funnel)), funnel
    for stage in FUNNEL:
        assert sum(c[stage] for c in t["funnel_by_channel"].values()) == t["funnel"][stage]
        assert sum(c[stage] for c in t["funnel_by_team"].values()) == t["funnel"][stage]
    for s, row in t["strategies"].items():
        assert row["accepted"] <= row["asked"], s
        assert row["held"] <= row["booked"] <= row["accepted"], s
        assert row["asked"] == row["accepted"] + row["declined"] + row["unanswered"], s
        assert row["asked"] <= row["leads"]
    assert sum(r["leads"] for r in t["strategies"].values()) == t["funnel"]["lead_created"]
    hs = t["entities"]["hubspot"]
    for otype in HUBSPOT_OBJECTS:
        recs = world.hubspot[otype]
        assert hs[otype]["records"] == len(recs)
        assert hs[otype]["versions"] == sum(len(r.versions) for r in recs)
        assert hs[otype]["live"] + hs[otype]["archived"] == len(recs)
    assert hs["contacts"]["live"] == t["funnel"]["lead_created"] == len(world.journeys)
    cal = t["entities"]["calendly"]
    assert cal["scheduled_events"]["records"] == len(world.events)
    assert cal["invitees"]["records"] == len(world.invitees)
    assert cal["invitees"]["versions"] == sum(len(r.versions) for r in world.invitees)
    assert t["sheet"]["good"] + t["sheet"]["bad"] == t["sheet"]["rows"] == len(world.sheet_rows)
    assert sum(t["sheet"]["bad_by_defect"].values()) == t["sheet"]["bad"]
    appts = t["appointments"]
    assert appts["booked"] == sum(len(j.appointments) for j in world.journeys)
    assert appts["booked"] == sum(
        appts[k] for k in ("scheduled", "held", "canceled", "rescheduled", "no_show")
    )
    assert appts["booked"] == hs["meetings"]["records"] + cal["invitees"]["records"]
    assert t["deals"]["created"] == t["funnel"]["active_prospect"] == hs["deals"]["records"]
    assert t["deals"]["won"] == t["funnel"]["won"]
    for s, buckets in t["retreat_gaps"].items():
        assert sum(b["asked"] for b in buckets.values()) == t["strategies"][s]["asked"]


def test_truth_counts_match_a_recount_from_records(medium: World) -> None:
    """Held and won recounted directly from record states (independent of the truth module)."""
    end = medium.end_ms
    held_meetings = sum(
        1 for m in medium.hubspot["meetings"] if _state(m, end)["hs_meeting_outcome"] == "COMPLETED"
    )
    held_calendly = 0
    for inv in medium.invitees:
        ev = medium.calendly_event(inv.static["event_uuid"])
        s = _state(inv, end)
        if s["status"] == "active" and not s["no_show"] and ev is not None and ev.static["start_ms"] <= end:
            held_calendly += 1
    assert medium.truth["appointments"]["held"] == held_meetings + held_calendly
    won = sum(1 for d in medium.hubspot["deals"] if _state(d, end)["dealstage"] == "closedwon")
    assert medium.truth["deals"]["won"] == won


def test_written_files_mirror_the_world(tiny: World, tmp_path: Path) -> None:
    written = write_world(tiny, tmp_path)
    assert len(written) == FILE_COUNT
    lines = (tmp_path / "hubspot" / "contacts.jsonl").read_bytes().splitlines()
    assert len(lines) == len(tiny.hubspot["contacts"])
    first = orjson.loads(lines[0])
    assert first["id"] == tiny.hubspot["contacts"][0].id
    assert len(first["versions"]) == len(tiny.hubspot["contacts"][0].versions)
    with (tmp_path / "sheet" / "leads.csv").open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == tiny.sheet_columns and len(rows) == len(tiny.sheet_rows) + 1
    assert orjson.loads((tmp_path / "truth.json").read_bytes()) == orjson.loads(truth_bytes(tiny))
    assert (tmp_path / "truth.json").read_bytes() == truth_bytes(tiny)


# -- planted rates recovered ----------------------------------------------------------------------


def test_mixes_recovered(medium: World) -> None:
    sc = medium.scenario
    n = len(medium.journeys)
    strategies = Counter(j.strategy for j in medium.journeys)
    for s in STRATEGIES:
        assert _within(strategies[s], n, sc.strategy_mix[s]), s
    web = sum(1 for j in medium.journeys if j.channel == "web")
    assert _within(web, n, sc.channel_mix["web"])
    web_form = sum(1 for j in medium.journeys if j.channel == "web" and j.lead_source == "form")
    assert _within(web_form, web, sc.sheet.share)


def test_acceptance_and_response_rates_recovered(medium: World) -> None:
    sc = medium.scenario
    settled_before = medium.end_ms - int(sc.response_delay_hours[1] * HOUR) - 1000
    accepted: Counter[str] = Counter()
    asked: Counter[str] = Counter()
    large_asked = large_accepted = 0
    unaccepted = silent = 0
    for j in medium.journeys:
        for role, props, rec in _asks(medium, j):
            if rec.created_ms > settled_before:
                continue
            if role == "large":
                large_asked += 1
                large_accepted += props["ask_outcome"] == "accepted"
                continue
            asked[j.strategy] += 1
            accepted[j.strategy] += props["ask_outcome"] == "accepted"
            if props["ask_outcome"] != "accepted":
                unaccepted += 1
                silent += props["ask_outcome"] == ""
    for s in STRATEGIES:
        assert _within(accepted[s], asked[s], sc.acceptance[s]), (s, accepted[s], asked[s])
    assert _within(large_accepted, large_asked, sc.large_ask_acceptance)
    assert _within(silent, unaccepted, sc.no_response_share)


def test_retreat_gap_shares_recovered(medium: World) -> None:
    sc = medium.scenario
    gaps = Counter(j.retreat_gap for j in medium.journeys if j.retreat_gap is not None)
    n = sum(gaps.values())
    for bucket, share in sc.retreat_gap.items():
        assert _within(gaps[bucket], n, share), bucket


def test_appointment_rates_recovered(medium: World) -> None:
    sc, end = medium.scenario, medium.end_ms
    # booking: accepted asks answered at least a day before the end
    accepted_early = booked = 0
    for j in medium.journeys:
        booked_asks = {a.ask_id for a in j.appointments}
        for ask in j.asks:
            rec = medium.hubspot_record(ask.object_type, ask.id)
            assert rec is not None
            answer = next((v for v in rec.versions if v.properties["ask_outcome"] == "accepted"), None)
            if answer is not None and answer.at_ms + DAY < end:
                accepted_early += 1
                booked += ask.id in booked_asks
    assert _within(booked, accepted_early, sc.booking_rate)
    # fates: appointments whose start is more than a day before the end are decided
    fates: Counter[str] = Counter()
    for j in medium.journeys:
        for a in j.appointments:
            if a.source == "meeting":
                rec = medium.hubspot_record("meetings", a.id)
                assert rec is not None
                start = _ms(rec.versions[0].properties["hs_meeting_start_time"])
                outcome = _state(rec, end)["hs_meeting_outcome"]
                fate = {"CANCELED": "canceled", "RESCHEDULED": "rescheduled", "NO_SHOW": "no_show"}.get(
                    outcome, "held"
                )
            else:
                inv = medium.calendly_invitee(a.id)
                ev = medium.calendly_event(a.event_uuid or "")
                assert inv is not None and ev is not None
                start, s = ev.static["start_ms"], _state(inv, end)
                fate = (
                    "rescheduled"
                    if s["rescheduled"]
                    else "canceled"
                    if s["status"] == "canceled"
                    else "no_show"
                    if s["no_show"]
                    else "held"
                )
            if start + DAY + 4 * HOUR < end:
                fates[fate] += 1
    n = sum(fates.values())
    assert _within(fates["canceled"], n, sc.cancellation_rate)
    assert _within(fates["rescheduled"], n, sc.reschedule_rate)
    assert _within(fates["no_show"], n, sc.no_show_rate)


def test_deal_and_win_rates_recovered(medium: World) -> None:
    sc, end = medium.scenario, medium.end_ms
    deals = {j.deal_id for j in medium.journeys if j.deal_id}
    held_early = with_deal = 0
    for j in medium.journeys:
        for a in j.appointments:
            if a.source != "meeting":
                continue
            rec = medium.hubspot_record("meetings", a.id)
            assert rec is not None
            done = next((v for v in rec.versions if v.properties["hs_meeting_outcome"] == "COMPLETED"), None)
            if done is not None and done.at_ms + 3 * DAY < end:
                held_early += 1
                with_deal += j.deal_id is not None
    assert _within(with_deal, held_early, sc.deal_rate)
    closed = [_state(medium.hubspot_record("deals", d), end)["dealstage"] for d in deals]
    closed = [s for s in closed if s in ("closedwon", "closedlost")]
    assert _within(closed.count("closedwon"), len(closed), sc.win_rate)


def test_contact_churn_rates_recovered(medium: World) -> None:
    c = medium.scenario.contacts
    contacts = medium.hubspot["contacts"]
    dups = [r for r in contacts if r.merged_into is not None]
    originals = [r for r in contacts if r.merged_into is None]
    deleted = [r for r in originals if r.archived_ms is not None]
    assert _within(len(deleted), len(originals), c.delete_rate)
    assert _within(len(dups), len(originals) - len(deleted), c.merge_rate, z=4.5)
    # the extra update always gives the contact a new phone number
    updated = sum(
        1 for r in originals if r.archived_ms is None and len({v.properties["phone"] for v in r.versions}) > 1
    )
    assert _within(updated, len(originals) - len(deleted), c.update_rate, z=4.5)


def test_sheet_bad_rows_at_the_planted_rate(medium: World) -> None:
    rows = medium.sheet_rows
    bad = [r for r in rows if r.defect]
    assert _within(len(bad), len(rows), medium.scenario.sheet.bad_rows, z=4.5)
    assert set(Counter(r.defect for r in bad)) == {"missing_email", "invalid_email", "bad_date"}
    assert medium.truth["sheet"]["bad"] == len(bad)


def test_contact_rate_recovered(medium: World) -> None:
    early = [j for j in medium.journeys if _created(medium, j) + 6 * DAY < medium.end_ms]
    contacted = sum(1 for j in early if j.asks)
    assert _within(contacted, len(early), medium.scenario.contact_rate)


def _created(world: World, j: Journey) -> int:
    rec = world.hubspot_record("contacts", j.contact_id)
    assert rec is not None
    return rec.created_ms


# -- contacts.activity_updates: tracked-activity versions (off by default) ----------------------

ACTIVITY = "hs_analytics_num_page_views"


def _without_versions(truth: object) -> object:
    """The truth with every `versions` count and the scenario echo left out."""
    if isinstance(truth, dict):
        return {k: _without_versions(v) for k, v in truth.items() if k not in ("versions", "scenario")}
    return truth


@pytest.fixture(scope="module")
def active_pair() -> tuple[World, World]:
    """The medium world without and with 3 activity versions per contact on average."""
    off = generate_world(parse_scenario(MEDIUM, source="medium"))
    on_data = {**MEDIUM, "contacts": {**MEDIUM["contacts"], "activity_updates": 3}}
    return off, generate_world(parse_scenario(on_data, source="medium"))


def test_activity_updates_default_off_adds_nothing(medium: World) -> None:
    assert medium.scenario.contacts.activity_updates == 0
    assert "activity_updates" not in medium.truth["scenario"]["contacts"]  # the echo stays as before
    for recs in medium.hubspot.values():
        for rec in recs:
            assert all(ACTIVITY not in v.properties for v in rec.versions)


def test_activity_updates_only_add_contact_versions(active_pair: tuple[World, World]) -> None:
    off, on = active_pair
    assert on.truth["scenario"]["contacts"]["activity_updates"] == 3
    # leads, journeys, funnel, asks and every other record are untouched
    assert on.journeys == off.journeys
    assert _without_versions(on.truth) == _without_versions(off.truth)
    for otype in HUBSPOT_OBJECTS:
        if otype != "contacts":
            assert on.hubspot[otype] == off.hubspot[otype]
    assert on.events == off.events and on.invitees == off.invitees and on.sheet_rows == off.sheet_rows
    versions = [w.truth["entities"]["hubspot"]["contacts"]["versions"] for w in (off, on)]
    extra = versions[1] - versions[0]
    assert extra > 2 * len(on.journeys)
    modified = LAST_MODIFIED_PROPERTY["contacts"]
    end = on.end_ms
    for rec_off, rec_on in zip(off.hubspot["contacts"], on.hubspot["contacts"], strict=True):
        assert rec_on.id == rec_off.id and rec_on.archived_ms == rec_off.archived_ms
        # the state at the world end is the same apart from the activity and the modification time
        strip = {ACTIVITY, modified}
        last_on = {k: v for k, v in _state(rec_on, end).items() if k not in strip}
        assert last_on == {k: v for k, v in _state(rec_off, end).items() if k not in strip}
        views = [int(v.properties.get(ACTIVITY, 0)) for v in rec_on.versions]
        assert views == sorted(views) and (not views or views[-1] == len(set(views) - {0}))
        if rec_on.archived_ms is not None:
            assert views[-1] == 0  # deleted and merged-away contacts have no activity
        for prev, cur in itertools.pairwise(rec_on.versions):
            assert cur.at_ms > prev.at_ms
            if int(cur.properties.get(ACTIVITY, 0)) > int(prev.properties.get(ACTIVITY, 0)):
                # an activity version changes the page views and the modification time, nothing else
                changed = {k for k in cur.properties if cur.properties[k] != prev.properties.get(k)}
                assert changed == {ACTIVITY, modified}


def test_activity_updates_mean_count_and_determinism(active_pair: tuple[World, World]) -> None:
    on = active_pair[1]
    end = on.end_ms
    # contacts created 30+ days before the end are not cut short (mean gap one day): Poisson(3)
    old = [r for r in on.hubspot["contacts"] if r.archived_ms is None and r.created_ms < end - 30 * DAY]
    assert len(old) > 1000
    counts = [len({v.properties.get(ACTIVITY) for v in r.versions} - {None}) for r in old]
    mean = sum(counts) / len(counts)
    assert abs(mean - 3) <= 4 * math.sqrt(3 / len(counts))
    again = generate_world(on.scenario)
    assert truth_bytes(again) == truth_bytes(on)
    assert again.hubspot["contacts"] == on.hubspot["contacts"]
