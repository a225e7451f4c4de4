"""The sandbox webhook sender against a real local receiver that verifies every signature.

The World is built by hand from `world.py` dataclasses; expected events are computed here
independently from the World's versions.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest

from leadflow.errors import ConfigError
from leadflow.sandbox.webhook_events import calendly_events, hubspot_events
from leadflow.sandbox.webhooks import DeliveryConfig, Targets, deliver, reorder
from leadflow.sandbox.world import EventType, Owner, Record, Team, Version, World
from leadflow.settings import Secret
from leadflow.signatures import SignatureInvalid, verify_calendly, verify_hubspot

HS_SECRET = Secret("test-hubspot-client-secret")
CAL_KEY = Secret("test-calendly-signing-key")
T0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z
H = 3_600_000
ENGAGEMENT_TYPE_IDS = {"meetings": "0-47", "calls": "0-48", "emails": "0-49"}


# --- a small World by hand ------------------------------------------------------------------------


def _hs(kind: str, rid: str, versions: list[tuple[int, dict[str, str]]], **kw: Any) -> Record:
    lm = "lastmodifieddate" if kind == "contact" else "hs_lastmodifieddate"
    vs = [Version(t, {"hs_object_id": rid, lm: str(t), **props}) for t, props in versions]
    return Record(kind=kind, id=rid, created_ms=versions[0][0], versions=vs, **kw)


def _inv(iid: str, event: str, versions: list[tuple[int, dict[str, Any]]], email: str) -> Record:
    static = {
        "event_uuid": event,
        "email": email,
        "first_name": "Lee",
        "last_name": "Ford",
        "timezone": "UTC",
    }
    return Record("invitee", iid, versions[0][0], [Version(t, p) for t, p in versions], static=static)


def make_world(n_extra_contacts: int = 0) -> World:
    owners = [
        Owner("501", 9001, "avery@example.com", "Avery", "Stone", "t1", "East", T0 - 10 * H, "USERAAAA"),
        Owner("502", 9002, "blake@example.com", "Blake", "Rivera", "t1", "East", T0 - 10 * H, "USERBBBB"),
    ]
    c1 = {
        "email": "lee@example.com",
        "lead_channel": "web",
        "hubspot_owner_id": "501",
        "lifecyclestage": "lead",
    }
    contacts = [
        _hs("contact", "101", [(T0, c1), (T0 + 5 * H, {**c1, "lifecyclestage": "opportunity"}),
                               (T0 + 30 * H, {**c1, "lifecyclestage": "opportunity", "hs_merged_object_ids": "103"})]),
        _hs("contact", "102", [(T0 + 1 * H, {"email": "gone@example.com", "hubspot_owner_id": "502"})],
            archived_ms=T0 + 20 * H),
        _hs("contact", "103", [(T0 + 2 * H, {"email": "lee+dup@example.com", "firstname": "Lee"})],
            archived_ms=T0 + 30 * H, merged_into="101"),
    ]  # fmt: skip
    for k in range(n_extra_contacts):
        props = {"email": f"x{k}@example.com", "hubspot_owner_id": "501"}
        contacts.append(_hs("contact", str(200 + k), [(T0 + 3 * H + k * 1000, props),
                                                      (T0 + 40 * H + k * 1000, {**props, "phone": f"+1555{k:04d}"})]))  # fmt: skip
    deal = {
        "dealname": "Lee pilot",
        "dealstage": "appointmentscheduled",
        "pipeline": "default",
        "hubspot_owner_id": "501",
    }
    deals = [_hs("deal", "301", [(T0 + 10 * H, deal), (T0 + 50 * H, {**deal, "dealstage": "closedwon"})])]
    mt = {"hs_activity_type": "demo_30", "hs_meeting_outcome": "SCHEDULED", "hubspot_owner_id": "502"}
    meetings = [
        _hs("meeting", "401", [(T0 + 6 * H, mt), (T0 + 9 * H, {**mt, "hs_meeting_outcome": "COMPLETED"})])
    ]
    em = {"ask_type": "intro_15", "ask_outcome": "", "ask_outcome_at": "", "hubspot_owner_id": "501"}
    answered = {**em, "ask_outcome": "accepted", "ask_outcome_at": "2025-01-01T04:00:00.000Z"}
    emails = [_hs("email", "601", [(T0 + 2 * H, em), (T0 + 4 * H, answered)])]
    calls = [_hs("call", "701", [(T0 + 7 * H, {"ask_type": "demo_30", "hubspot_owner_id": "502"})],
                 archived_ms=T0 + 8 * H)]  # fmt: skip
    ev_type = EventType(
        "ETINTRO", "15 Minute Intro", "intro", 15, "USERAAAA", "intro_15", T0 - 10 * H, T0 - 10 * H
    )
    # fmt: off
    # Calendly records in the generator's layout (sandbox/journeys.py); EVNEW omits the host_* fields
    # to exercise the fallback through the event type's owner.
    cancel = {"canceled_by": "Lee Ford", "reason": "Rescheduled", "canceler_type": "invitee", "created_at_ms": T0 + 12 * H}
    host = {"host_user_uuid": "USERAAAA", "host_email": "avery@example.com", "host_name": "Avery Stone"}
    events = [
        Record("scheduled_event", "EVOLD", T0 + 4 * H,
               [Version(T0 + 4 * H, {"status": "active", "cancellation": None}),
                Version(T0 + 12 * H, {"status": "canceled", "cancellation": cancel})],
               static={"uuid": "EVOLD", "event_type_uuid": "ETINTRO", "name": "15 Minute Intro", **host,
                       "start_ms": T0 + 30 * H, "end_ms": T0 + 30 * H + 900_000,
                       "location": {"type": "google_conference", "join_url": "https://meet.example.com/evold"}}),
        Record("scheduled_event", "EVNEW", T0 + 12 * H, [Version(T0 + 12 * H, {"status": "active"})],
               static={"event_type_uuid": "ETINTRO", "start_ms": T0 + 40 * H, "end_ms": T0 + 40 * H + 900_000}),
    ]
    fresh = {"status": "active", "cancellation": None, "rescheduled": False, "new_invitee": None, "no_show": None}
    old_inv = _inv("INVOLD", "EVOLD", [(T0 + 4 * H, fresh),
                                       (T0 + 12 * H, {**fresh, "status": "canceled", "cancellation": cancel,
                                                      "rescheduled": True,
                                                      "new_invitee": {"event_uuid": "EVNEW", "uuid": "INVNEW"}})],
                   "lee@example.com")
    new_inv = _inv("INVNEW", "EVNEW", [(T0 + 12 * H, fresh),
                                       (T0 + 41 * H, {**fresh, "no_show": {"uuid": "NS1", "created_at_ms": T0 + 41 * H}})],
                   "lee@example.com")
    new_inv.static["old_invitee"] = {"event_uuid": "EVOLD", "uuid": "INVOLD"}
    invitees = [old_inv, new_inv]
    # fmt: on
    return World(
        seed=7,
        start_ms=T0,
        end_ms=T0 + 60 * H,
        portal_id=62515,
        organization_uuid="ORG1",
        teams=[Team("t1", "East", "America/New_York")],
        owners=owners,
        pipelines=[],
        hubspot={
            "contacts": contacts,
            "deals": deals,
            "meetings": meetings,
            "calls": calls,
            "emails": emails,
        },
        event_types=[ev_type],
        events=events,
        invitees=invitees,
        sheet_columns=[],
        sheet_rows=[],
    )  # fmt: skip


# --- an independent expectation ------------------------------------------------------------------


def expected_hubspot(world: World, a: int, b: int) -> set[tuple[str, int, str, int]]:
    """(subscriptionType, objectId, propertyName or '', occurredAt) implied by the World in (a, b]."""
    prefix = {"contacts": "contact", "deals": "deal"}
    out: set[tuple[str, int, str, int]] = set()
    for otype, records in world.hubspot.items():
        p = prefix.get(otype, "object")
        for rec in records:
            if a < rec.created_ms <= b:
                out.add((f"{p}.creation", int(rec.id), "", rec.created_ms))
            for v in rec.versions:
                if not (a < v.at_ms <= b) or v.at_ms == rec.created_ms:
                    continue
                before = rec.version_at(v.at_ms - 1)
                assert before is not None
                old, new = dict(before.properties), dict(v.properties)
                changed = {k for k in old.keys() | new.keys() if old.get(k, "") != new.get(k, "")}
                for k in changed - {"lastmodifieddate", "hs_lastmodifieddate"}:
                    out.add((f"{p}.propertyChange", int(rec.id), k, v.at_ms))
            if rec.archived_ms is not None and a < rec.archived_ms <= b:
                if rec.merged_into:
                    out.add((f"{p}.merge", int(rec.merged_into), "", rec.archived_ms))
                else:
                    out.add((f"{p}.deletion", int(rec.id), "", rec.archived_ms))
    return out


def expected_calendly(world: World, a: int, b: int) -> set[tuple[str, str, int]]:
    out = set()
    for inv in world.invitees:
        if a < inv.created_ms <= b:
            out.add(("invitee.created", inv.id, inv.created_ms))
        for i in range(1, len(inv.versions)):
            v, before = inv.versions[i], inv.versions[i - 1]
            if not a < v.at_ms <= b:
                continue
            if v.properties.get("status") == "canceled" != before.properties.get("status"):
                out.add(("invitee.canceled", inv.id, v.at_ms))
            if v.properties.get("no_show") and not before.properties.get("no_show"):
                out.add(("invitee_no_show.created", inv.id, v.at_ms))
    return out


def _key(ev: dict[str, Any]) -> tuple[str, int, str, int]:
    return (ev["subscriptionType"], ev["objectId"], ev.get("propertyName", ""), ev["occurredAt"])


# --- a real receiver -----------------------------------------------------------------------------


@dataclass
class Hit:
    path: str
    body: bytes
    data: Any
    status: int
    verified: str
    headers: dict[str, str]


Policy = Callable[[str, Any, int], int | float]
"""(path, parsed body, times this body's events were seen before) -> status, or a float = sleep seconds."""


@dataclass
class Receiver:
    policy: Policy = lambda path, data, seen: 200
    hits: list[Hit] = field(default_factory=list)
    seen: Counter[Any] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def received(self, prefix: str) -> list[Hit]:
        return [h for h in self.hits if h.path.startswith(prefix) and h.verified]


def _identity(path: str, data: Any) -> Any:
    if path.startswith("/hs"):
        return tuple(ev["eventId"] for ev in data)
    return (data["event"], data["payload"]["uri"], data["created_at"], path)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            url = f"http://{self.headers['Host']}{self.path}"
            verify = verify_hubspot if self.path.startswith("/hs") else verify_calendly
            secret = HS_SECRET if self.path.startswith("/hs") else CAL_KEY
            try:
                verified = verify("POST", url, body, dict(self.headers.items()), secret).scheme
            except SignatureInvalid:
                verified = ""
            data = orjson.loads(body)
            with state.lock:
                ident = _identity(self.path, data)
                seen = state.seen[ident]
                state.seen[ident] += 1
            action = state.policy(self.path, data, seen) if verified else 401
            with state.lock:  # recorded before any sleep: a timed-out request was still received
                state.hits.append(
                    Hit(
                        self.path,
                        body,
                        data,
                        -1 if isinstance(action, float) else action,
                        verified,
                        dict(self.headers.items()),
                    )
                )
            if isinstance(action, float):
                time.sleep(action)
                action = 200
            try:
                self.send_response(action)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:  # the sender gave up (timeout) and closed the connection
                pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128  # the default 5 drops SYNs under 10 concurrent senders (1 s retransmit)

    server = Server(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def fast_config(**kw: Any) -> DeliveryConfig:
    base = {"hubspot_secret": HS_SECRET, "calendly_key": CAL_KEY, "backoff_base_s": 0.002, "backoff_cap_s": 0.01,
            "hubspot_timeout_s": 2.0, "calendly_connect_timeout_s": 2.0, "calendly_read_timeout_s": 2.0,
            "deadline_s": 20.0}  # fmt: skip
    return DeliveryConfig(**{**base, **kw})


# --- derivation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b"), [(T0 - 1, T0 + 60 * H), (T0 + 3 * H, T0 + 12 * H), (T0 + 12 * H, T0 + 30 * H),
                                      (T0 + 30 * H - 1, T0 + 30 * H), (T0 + 30 * H, T0 + 60 * H)])  # fmt: skip
def test_events_between_two_clocks_match_the_world(a: int, b: int) -> None:
    world = make_world(n_extra_contacts=3)
    events = hubspot_events(world, a, b, app_id=11)
    keys = [_key(e) for e in events]
    assert len(keys) == len(set(keys))
    assert set(keys) == expected_hubspot(world, a, b)
    assert [e["occurredAt"] for e in events] == sorted(e["occurredAt"] for e in events)
    cal = calendly_events(world, a, b)
    assert {(e["event"], e["payload"]["uri"].rsplit("/", 1)[1], _ms(e["created_at"])) for e in cal} == (
        expected_calendly(world, a, b)
    )


def _ms(iso: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def test_hubspot_event_fields() -> None:
    world = make_world()
    events = hubspot_events(world, T0 - 1, T0 + 60 * H, app_id=11)
    again = hubspot_events(world, T0 - 1, T0 + 60 * H, app_id=11)
    assert [e["eventId"] for e in events] == [e["eventId"] for e in again]
    assert len({e["eventId"] for e in events}) == len(events)
    for e in events:
        assert e["portalId"] == 62515 and e["appId"] == 11 and e["attemptNumber"] == 0
        assert isinstance(e["objectId"], int) and isinstance(e["eventId"], int)
        assert isinstance(e["subscriptionId"], int)
    by_type = {e["subscriptionType"] for e in events}
    assert {"contact.creation", "contact.propertyChange", "contact.deletion", "contact.merge", "deal.creation",
            "deal.propertyChange", "object.creation", "object.propertyChange", "object.deletion"} <= by_type  # fmt: skip
    creation = next(e for e in events if e["subscriptionType"] == "contact.creation" and e["objectId"] == 101)
    assert (
        creation["changeFlag"] == "NEW"
        and creation["changeSource"] == "CRM"
        and creation["sourceId"] == "userId:9001"
    )
    change = next(e for e in events if e["subscriptionType"] == "deal.propertyChange")
    assert (change["propertyName"], change["propertyValue"], change["occurredAt"]) == (
        "dealstage",
        "closedwon",
        T0 + 50 * H,
    )
    merge = next(e for e in events if e["subscriptionType"] == "contact.merge")
    assert merge["objectId"] == merge["primaryObjectId"] == merge["newObjectId"] == 101
    assert merge["mergedObjectIds"] == [103] and merge["numberOfPropertiesMoved"] == 1  # firstname
    for e in events:
        if e["subscriptionType"].startswith("object."):
            otype = {401: "meetings", 601: "emails", 701: "calls"}[e["objectId"]]
            assert e["objectTypeId"] == ENGAGEMENT_TYPE_IDS[otype]
        else:
            assert "objectTypeId" not in e


def test_calendly_envelopes() -> None:
    cal = calendly_events(make_world(), T0 - 1, T0 + 60 * H)
    assert [e["event"] for e in cal] == [
        "invitee.created",
        "invitee.canceled",
        "invitee.created",
        "invitee_no_show.created",
    ]
    for env in cal:
        assert set(env) == {"event", "created_at", "created_by", "payload"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", env["created_at"])
        assert env["created_by"] == "https://api.calendly.com/users/USERAAAA"
        se = env["payload"]["scheduled_event"]
        assert se["event_type"] == "https://api.calendly.com/event_types/ETINTRO"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", se["start_time"])
    canceled, created_new = cal[1]["payload"], cal[2]["payload"]
    assert canceled["status"] == "canceled" and canceled["rescheduled"] is True
    assert canceled["new_invitee"] == "https://api.calendly.com/scheduled_events/EVNEW/invitees/INVNEW"
    assert cal[1]["payload"]["scheduled_event"]["status"] == "canceled"
    assert created_new["old_invitee"] == "https://api.calendly.com/scheduled_events/EVOLD/invitees/INVOLD"
    assert created_new["no_show"] is None and cal[3]["payload"]["no_show"]["created_at"].startswith(
        "2025-01-02T17:00"
    )


# --- delivery ------------------------------------------------------------------------------------


def test_every_event_arrives_signed_with_retries_and_timeouts(receiver: Receiver) -> None:
    world = make_world(n_extra_contacts=10)

    def policy(path: str, data: Any, seen: int) -> int | float:
        if path.startswith("/hs"):
            first_id = data[0]["eventId"]
            if first_id % 3 == 0 and seen == 0:
                return 1.0  # longer than the sender's timeout below
            return 503 if seen < 2 else 200  # every batch fails twice more
        return 500 if seen == 0 else 200

    receiver.policy = policy
    cfg = fast_config(batch_size=4, hubspot_timeout_s=0.3, calendly_read_timeout_s=0.3, hubspot_concurrency=3)
    report = deliver(
        world, Targets(receiver.url("/hs/in?app=11"), (receiver.url("/cal/a"),)), T0 - 1, T0 + 60 * H, cfg
    )
    hs, cal = report.channels
    expected = expected_hubspot(world, T0 - 1, T0 + 60 * H)
    got = receiver.received("/hs")
    assert all(h.verified == "hubspot-v3" for h in got) and len(got) == len(receiver.hits) - len(
        receiver.received("/cal")
    )
    arrived = {_key(ev) for h in got if h.status == 200 for ev in h.data}
    assert arrived == expected
    assert hs.events == len(expected) and hs.deliveries == -(-len(expected) // 4)
    assert hs.failed == 0 and hs.acknowledged == hs.deliveries
    assert hs.sent == len(got) and hs.retried == hs.sent - hs.deliveries and hs.retried >= 2 * hs.deliveries
    assert hs.statuses.get("timeout", 0) >= 1
    # attemptNumber counts attempts per batch: 0, 1, 2, ... in the order they were sent
    attempts: dict[tuple[int, ...], list[int]] = {}
    for h in got:
        nums = {ev["attemptNumber"] for ev in h.data}
        assert len(nums) == 1
        attempts.setdefault(tuple(ev["eventId"] for ev in h.data), []).append(nums.pop())
    for seq in attempts.values():
        assert seq == list(range(len(seq))) and len(seq) >= 3
    # v1 rides along and is valid too
    h0 = got[0]
    assert h0.body.startswith(b"[") and len(h0.data) <= 4
    assert {(e, i.rsplit("/", 1)[1], _ms(t)) for e, i, t in
            {(h.data["event"], h.data["payload"]["uri"], h.data["created_at"]) for h in receiver.received("/cal")
             if h.status == 200}} == expected_calendly(world, T0 - 1, T0 + 60 * H)  # fmt: skip
    assert cal.failed == 0 and cal.retried == cal.deliveries and report.ok


def test_both_hubspot_signatures_verify(receiver: Receiver) -> None:
    """v3 verifies (over a URL with escapes HubSpot decodes) and the v1 header is sha256(secret + body)."""
    deliver(make_world(), Targets(receiver.url("/hs/x%3Ay?a=%2C")), T0 - 1, T0 + 60 * H, fast_config())
    hits = receiver.received("/hs")
    assert hits and len(hits) == len(receiver.hits)
    for h in hits:
        assert h.verified == "hubspot-v3"
        assert h.headers["X-HubSpot-Signature-Version"] == "v1"
        assert (
            h.headers["X-HubSpot-Signature"]
            == hashlib.sha256(HS_SECRET.reveal().encode() + h.body).hexdigest()
        )
        assert abs(int(h.headers["X-HubSpot-Request-Timestamp"]) - time.time() * 1000) < 60_000
        assert verify_hubspot(
            "POST", "http://x/other", h.body, h.headers, HS_SECRET, accept=("v1",)
        ).scheme == ("hubspot-v1")


def test_wrong_secret_is_rejected_by_receiver_and_counted_failed(receiver: Receiver) -> None:
    cfg = fast_config(hubspot_secret=Secret("not-the-receivers-secret"), hubspot_max_attempts=2)
    report = deliver(make_world(), Targets(receiver.url("/hs")), T0 - 1, T0 + 60 * H, cfg)
    (hs,) = report.channels
    assert not report.ok and hs.failed == hs.deliveries and hs.statuses == {"401": 2 * hs.deliveries}
    assert all(h.verified == "" for h in receiver.hits)


def test_duplicates_when_enabled_and_not_when_disabled(receiver: Receiver) -> None:
    world = make_world(n_extra_contacts=6)
    targets = Targets(receiver.url("/hs"), (receiver.url("/cal"),))
    deliver(world, targets, T0 - 1, T0 + 60 * H, fast_config(batch_size=5, duplicates=0.0))
    counts = Counter(ev["eventId"] for h in receiver.received("/hs") for ev in h.data)
    assert counts and set(counts.values()) == {1}
    cal_counts = Counter(_identity(h.path, h.data) for h in receiver.received("/cal"))
    assert set(cal_counts.values()) == {1}

    receiver.hits.clear()
    report = deliver(world, targets, T0 - 1, T0 + 60 * H, fast_config(batch_size=5, duplicates=1.0))
    hs, cal = report.channels
    per_event: dict[int, list[int]] = {}
    for h in receiver.received("/hs"):
        for ev in h.data:
            per_event.setdefault(ev["eventId"], []).append(ev["attemptNumber"])
    assert all(sorted(v) == [0, 1] for v in per_event.values())
    assert hs.duplicates == hs.deliveries and hs.acknowledged == 2 * hs.deliveries
    cal_counts = Counter(_identity(h.path, h.data) for h in receiver.received("/cal"))
    assert set(cal_counts.values()) == {2} and cal.duplicates == cal.deliveries


def test_partial_duplicates_are_deterministic_from_the_seed(receiver: Receiver) -> None:
    world = make_world(n_extra_contacts=20)

    def duplicated_batches(seed: int) -> set[tuple[int, ...]]:
        receiver.hits.clear()
        report = deliver(world, Targets(receiver.url("/hs")), T0 - 1, T0 + 60 * H,
                         fast_config(batch_size=3, duplicates=0.4, seed=seed))  # fmt: skip
        batches = Counter(tuple(ev["eventId"] for ev in h.data) for h in receiver.received("/hs"))
        dup = {b for b, n in batches.items() if n == 2}
        assert len(dup) == report.channels[0].duplicates and set(batches.values()) <= {1, 2}
        return dup

    first = duplicated_batches(5)
    assert 0 < len(first) < 20
    assert duplicated_batches(5) == first
    assert duplicated_batches(6) != first


def test_reorder_when_enabled_and_not_when_disabled(receiver: Receiver) -> None:
    world = make_world(n_extra_contacts=10)
    a, b = T0 - 1, T0 + 60 * H
    in_order = [e["eventId"] for e in hubspot_events(world, a, b, app_id=DeliveryConfig().app_id)]

    def arrival(**kw: Any) -> list[int]:
        receiver.hits.clear()
        deliver(
            world, Targets(receiver.url("/hs")), a, b, fast_config(hubspot_concurrency=1, batch_size=7, **kw)
        )
        return [ev["eventId"] for h in receiver.received("/hs") for ev in h.data]

    assert arrival(reorder=0.0) == in_order
    shuffled = arrival(reorder=0.5, seed=3)
    assert shuffled != in_order and sorted(shuffled) == sorted(in_order)
    assert arrival(reorder=0.5, seed=3) == shuffled
    # displacement stays within the window (default 10 positions per swap chain is bounded by len)
    assert arrival(reorder=0.5, seed=4) != shuffled


def test_reorder_helper_keeps_items_and_window() -> None:
    import random

    items = list(range(200))
    out = reorder(items, 1.0, 3, random.Random(1))
    assert sorted(out) == items and out != items
    assert reorder(items, 0.0, 3, random.Random(1)) == items


def test_410_stops_calendly_subscription_only(receiver: Receiver) -> None:
    receiver.policy = lambda path, data, seen: 410 if path == "/cal/gone" else 200
    world = make_world()
    cfg = fast_config(calendly_concurrency=1)
    report = deliver(
        world, Targets(None, (receiver.url("/cal/gone"), receiver.url("/cal/ok"))), T0 - 1, T0 + 60 * H, cfg
    )
    gone, ok = report.channels
    assert len([h for h in receiver.hits if h.path == "/cal/gone"]) == 1
    assert gone.gone and gone.sent == 1 and gone.dropped == gone.deliveries == 4 and gone.failed == 0
    assert not ok.gone and ok.acknowledged == ok.deliveries == 4
    assert len([h for h in receiver.hits if h.path == "/cal/ok"]) == 4


def test_loops_are_bounded_by_attempts_and_deadline(receiver: Receiver) -> None:
    receiver.policy = lambda path, data, seen: 500
    world = make_world()
    n_batches = -(-len(hubspot_events(world, T0 - 1, T0 + 60 * H, app_id=1)) // 100)
    report = deliver(
        world, Targets(receiver.url("/hs")), T0 - 1, T0 + 60 * H, fast_config(hubspot_max_attempts=4)
    )
    assert report.channels[0].sent == 4 * n_batches and report.channels[0].failed == n_batches
    started = time.monotonic()
    cfg = fast_config(
        backoff_base_s=0.2, backoff_cap_s=0.2, deadline_s=0.5, batch_size=2, hubspot_concurrency=2
    )
    report = deliver(world, Targets(receiver.url("/hs")), T0 - 1, T0 + 60 * H, cfg)
    assert time.monotonic() - started < 5.0  # the 0.5 s deadline stops it long before 10 attempts x 0.2 s
    hs = report.channels[0]
    assert hs.failed == hs.deliveries and hs.sent < 10 * hs.deliveries


def test_missing_secret_and_bad_config_are_clear_errors() -> None:
    world = make_world()
    with pytest.raises(ConfigError, match="LEADFLOW_SANDBOX_HUBSPOT_CLIENT_SECRET"):
        deliver(
            world,
            Targets("http://127.0.0.1:9/hs"),
            T0,
            T0 + H,
            replace(fast_config(), hubspot_secret=Secret("")),
        )
    with pytest.raises(ConfigError, match="LEADFLOW_SANDBOX_CALENDLY_SIGNING_KEY"):
        deliver(
            world,
            Targets(None, ("http://127.0.0.1:9/c",)),
            T0,
            T0 + H,
            replace(fast_config(), calendly_key=Secret("")),
        )
    with pytest.raises(ConfigError):
        fast_config(duplicates=1.5)
    with pytest.raises(ConfigError):
        fast_config(batch_size=101)


# --- CLI -----------------------------------------------------------------------------------------


def test_cli_delivers_and_prints_summary_without_secrets(
    receiver: Receiver, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The click command end to end over real HTTP; only the world generator is replaced by the hand world."""
    import sys
    import types

    from click.testing import CliRunner

    from leadflow.cli.sandbox import command as sandbox_group

    fake = types.ModuleType("leadflow.sandbox.generate")
    fake.generate_world = lambda scenario: make_world(n_extra_contacts=2)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "leadflow.sandbox.generate", fake)
    scenario = tmp_path / "s.yaml"
    scenario.write_text("seed: 3\nfaults:\n  webhook_duplicates: 1.0\n")
    env = {"LEADFLOW_SANDBOX_HUBSPOT_CLIENT_SECRET": HS_SECRET.reveal(),
           "LEADFLOW_SANDBOX_CALENDLY_SIGNING_KEY": CAL_KEY.reveal(), "COLUMNS": "160"}  # fmt: skip
    args = ["webhooks", "--scenario", str(scenario), "--to", receiver.url("/hs"), "--calendly-to",
            receiver.url("/cal"), "--from", "2025-01-01T00:00:00Z", "--until", "2025-01-02T00:00:00Z",
            "--backoff-base", "0.001"]  # fmt: skip
    result = CliRunner().invoke(sandbox_group, args, env=env)
    assert result.exit_code == 0, result.output
    for word in ("hubspot", "calendly#0", "acknowledged", "duplicates"):
        assert word in result.output
    assert HS_SECRET.reveal() not in result.output and CAL_KEY.reveal() not in result.output
    window = expected_hubspot(make_world(n_extra_contacts=2), T0, T0 + 24 * H)
    hs_hits = receiver.received("/hs")
    assert {_key(ev) for h in hs_hits for ev in h.data} == window
    assert (
        Counter(ev["eventId"] for h in hs_hits for ev in h.data).most_common()[-1][1] == 2
    )  # duplicates from faults
    assert len(receiver.received("/cal")) == 2 * len(expected_calendly(make_world(), T0, T0 + 24 * H))

    result = CliRunner().invoke(sandbox_group, ["webhooks", "--scenario", str(scenario), "--to", receiver.url("/hs")],
                                env={"LEADFLOW_SANDBOX_HUBSPOT_CLIENT_SECRET": ""})  # fmt: skip
    assert isinstance(result.exception, ConfigError) and "LEADFLOW_SANDBOX_HUBSPOT_CLIENT_SECRET" in str(
        result.exception
    )
